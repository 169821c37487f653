"""Background noise of the scene simulator: mono noise generators, diffuse noise fields and SNR mixing.

Mono generators return ``(num_samples,)`` float64 signals scaled to unit power (mean square 1 over the clip):

* ``white``: Gaussian white noise;
* ``pink``: Gaussian noise with an exact 1/f power spectrum (-3.01 dB per octave);
* ``speech_shaped``: Gaussian noise with the long-term average speech spectrum (LTASS), by default the
  standard speech spectrum of ANSI S3.5-1997 (see :data:`LTASS_FREQUENCIES_HZ`), or the measured average
  spectrum of a speech source bank (:func:`speech_spectrum`);
* ``babble``: the sum of several independent talkers drawn from a speech source bank.

:func:`make_noise_signal_factory` binds a type to a sample rate and returns ``(rng, num_samples) -> signal``,
the ``make_signal`` of :func:`~spatialrep.simulate.diffuse.diffuse_field`. :func:`diffuse_noise` builds a
spherically diffuse field of a noise type for any receiver, :func:`directional_interferer` an anechoic point
source, and :func:`mix_at_snr` scales noise to a signal-to-noise ratio.

Coloured noise is made by shaping the spectrum of white Gaussian noise in the FFT domain (one FFT of the whole
clip), so the wanted power spectrum holds exactly in expectation at every frequency bin. The result is
circular (its end joins its start smoothly), which does no harm to fields built by linear convolution.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal as sps

from spatialrep import seeding
from spatialrep.dsp import rms
from spatialrep.simulate.diffuse import SignalFactory, coherent_diffuse_field, diffuse_field
from spatialrep.simulate.receivers import Receiver
from spatialrep.simulate.sources.base import SILENCE_RMS, SourceBank, fit_length

NOISE_TYPES = ("white", "pink", "speech_shaped", "babble")
"""Valid noise types of :func:`make_noise_signal_factory` and :func:`diffuse_noise`."""

DEFAULT_NUM_TALKERS = 6
"""Talkers in one mono babble signal (:func:`babble`)."""

DIFFUSE_METHODS = ("coherence", "directions")
"""Constructions of :func:`diffuse_noise`."""

LTASS_FREQUENCIES_HZ = np.array(
    [160, 200, 250, 315, 400, 500, 630, 800, 1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000],
    dtype=np.float64,
)
"""Centre frequencies of the one-third-octave bands of :data:`LTASS_SPECTRUM_LEVEL_DB`, Hz."""

LTASS_SPECTRUM_LEVEL_DB = np.array(
    [32.41, 34.48, 34.75, 33.98, 34.59, 34.27, 32.06, 28.30, 25.01, 23.00, 20.15, 17.32, 13.18, 11.55, 9.33,
     5.31, 2.59, 1.13],
    dtype=np.float64,
)  # fmt: skip
"""Standard speech spectrum level at normal vocal effort, dB SPL per Hz, at :data:`LTASS_FREQUENCIES_HZ`.

Reference: ANSI S3.5-1997 (R2017), *Methods for Calculation of the Speech Intelligibility Index*, Table 3
(one-third-octave band procedure). The shape agrees within a few dB with the
international long-term average speech spectrum of Byrne et al. (1994), *J. Acoust. Soc. Am.* 96(4),
2108-2120: flat to about 500 Hz, then falling by roughly 6-9 dB per octave. Only the shape is used here.
Between table points the level is interpolated linearly in log-frequency; outside 160 Hz-8 kHz each end
segment's slope is continued (about +6 dB per octave below 160 Hz, -8 dB per octave above 8 kHz).
"""


def _check_num_samples(num_samples: int, minimum: int = 1) -> int:
    if isinstance(num_samples, bool) or not isinstance(num_samples, int | np.integer):
        raise TypeError(f"num_samples must be an integer, got {num_samples!r}")
    if num_samples < minimum:
        raise ValueError(f"num_samples must be >= {minimum}, got {num_samples}")
    return int(num_samples)


def _check_sample_rate(sample_rate: int) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer):
        raise TypeError(f"sample_rate must be an integer number of Hz, got {sample_rate!r}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    return int(sample_rate)


def _unit_power(x: np.ndarray, what: str) -> np.ndarray:
    level = rms(x)
    if not level > 0:  # also catches NaN
        raise ValueError(f"{what}: generated signal is silent; cannot scale it to unit power")
    return x / level


def _shaped_noise(rng: np.random.Generator, num_samples: int, amplitude: np.ndarray, what: str) -> np.ndarray:
    """White Gaussian noise, its rFFT bins multiplied by ``amplitude`` (shape ``(num_samples // 2 + 1,)``)."""
    spectrum = np.fft.rfft(rng.standard_normal(num_samples)) * amplitude
    return _unit_power(np.fft.irfft(spectrum, num_samples), what)


def white(rng: np.random.Generator, num_samples: int) -> np.ndarray:
    """Gaussian white noise.

    Args:
        rng: random generator.
        num_samples: length, ≥ 1.

    Returns:
        ``(num_samples,)`` float64, unit power (mean square exactly 1).

    Raises:
        ValueError: ``num_samples < 1``.
    """
    n = _check_num_samples(num_samples)
    return _unit_power(rng.standard_normal(n), "white noise")


def pink(rng: np.random.Generator, num_samples: int) -> np.ndarray:
    """Pink noise: power spectral density exactly proportional to 1/f (-3.01 dB per octave), zero mean.

    The 1/f law holds from the lowest FFT bin (``sample_rate / num_samples``) up to Nyquist, so the result
    does not depend on the sample rate.

    Args:
        rng: random generator.
        num_samples: length, ≥ 2.

    Returns:
        ``(num_samples,)`` float64, unit power.

    Raises:
        ValueError: ``num_samples < 2``.
    """
    n = _check_num_samples(num_samples, minimum=2)
    k = np.arange(n // 2 + 1, dtype=np.float64)
    amplitude = np.zeros_like(k)
    amplitude[1:] = k[1:] ** -0.5  # amplitude ∝ f^-1/2, i.e. power ∝ 1/f; no DC
    return _shaped_noise(rng, n, amplitude, "pink noise")


def _interp_db(frequency: np.ndarray, table_hz: np.ndarray, table_db: np.ndarray) -> np.ndarray:
    """Level at ``frequency`` > 0: linear in log-frequency, end slopes continued, capped at the table max."""
    logf, log_table = np.log2(frequency), np.log2(table_hz)
    level = np.interp(logf, log_table, table_db)
    low_slope = (table_db[1] - table_db[0]) / (log_table[1] - log_table[0])
    high_slope = (table_db[-1] - table_db[-2]) / (log_table[-1] - log_table[-2])
    level = np.where(logf < log_table[0], table_db[0] + low_slope * (logf - log_table[0]), level)
    level = np.where(logf > log_table[-1], table_db[-1] + high_slope * (logf - log_table[-1]), level)
    # Extrapolation may only fall away from the table, never rise above it.
    return np.minimum(level, table_db.max())


def _check_spectrum(spectrum: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(frequencies_hz, power_density)`` and return it as ``(frequencies, level_db)``."""
    try:
        freqs, power = (np.asarray(a, dtype=np.float64) for a in spectrum)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"spectrum must be a pair (frequencies_hz, power_density) of 1-D arrays: {err}"
        ) from err
    if freqs.ndim != 1 or freqs.shape != power.shape or freqs.size < 2:
        raise ValueError(
            f"spectrum must be two 1-D arrays of equal length >= 2, got shapes {freqs.shape}, {power.shape}"
        )
    keep = freqs > 0  # a 0 Hz point has no place on a log-frequency axis
    freqs, power = freqs[keep], power[keep]
    if freqs.size < 2 or np.any(np.diff(freqs) <= 0):
        raise ValueError("spectrum frequencies must be strictly increasing with at least two positive values")
    if not (np.all(np.isfinite(power)) and np.all(power > 0)):
        raise ValueError("spectrum power densities must be finite and positive")
    return freqs, 10.0 * np.log10(power)


def ltass_level_db(frequency_hz: np.ndarray) -> np.ndarray:
    """The long-term average speech spectrum level at any frequency, dB per Hz (ANSI S3.5-1997 shape).

    Args:
        frequency_hz: frequencies, any shape, Hz, > 0.

    Returns:
        Spectrum level, same shape, dB SPL per Hz at normal vocal effort (see :data:`LTASS_SPECTRUM_LEVEL_DB`
        for the source and the interpolation).

    Raises:
        ValueError: a frequency that is not positive and finite.
    """
    f = np.asarray(frequency_hz, dtype=np.float64)
    if not (np.all(np.isfinite(f)) and np.all(f > 0)):
        raise ValueError("ltass_level_db needs positive, finite frequencies")
    return _interp_db(f, LTASS_FREQUENCIES_HZ, LTASS_SPECTRUM_LEVEL_DB)


def speech_shaped(
    rng: np.random.Generator,
    num_samples: int,
    sample_rate: int,
    *,
    spectrum: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Gaussian noise with the long-term average spectrum of speech.

    Args:
        rng: random generator.
        num_samples: length, ≥ 2.
        sample_rate: Hz.
        spectrum: ``(frequencies_hz, power_density)`` to follow instead of the standard LTASS, e.g. from
            :func:`speech_spectrum`; interpolated like :func:`ltass_level_db` (in dB, linear in
            log-frequency, end slopes continued). ``None``: the ANSI S3.5-1997 standard speech spectrum.

    Returns:
        ``(num_samples,)`` float64, unit power, zero mean.

    Raises:
        ValueError: ``num_samples < 2``, a non-positive sample rate or a malformed ``spectrum``.
    """
    n = _check_num_samples(num_samples, minimum=2)
    fs = _check_sample_rate(sample_rate)
    table_hz, table_db = (
        (LTASS_FREQUENCIES_HZ, LTASS_SPECTRUM_LEVEL_DB) if spectrum is None else _check_spectrum(spectrum)
    )
    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    amplitude = np.zeros_like(freqs)
    level = _interp_db(freqs[1:], table_hz, table_db)
    amplitude[1:] = 10.0 ** ((level - level.max()) / 20.0)
    return _shaped_noise(rng, n, amplitude, "speech-shaped noise")


def _check_bank(speech_bank: object, what: str) -> SourceBank:
    if speech_bank is None:
        raise ValueError(
            f"{what} needs a speech source bank (speech_bank=...), e.g. "
            "spatialrep.simulate.sources.make_source_bank('speech')"
        )
    if not isinstance(speech_bank, SourceBank):
        raise TypeError(f"speech_bank must be a SourceBank, got {type(speech_bank).__name__}")
    return speech_bank


def _talker(rng: np.random.Generator, bank: SourceBank, num_samples: int, sample_rate: int) -> np.ndarray:
    """One clip of exactly ``num_samples`` samples at unit power."""
    clip = bank.sample(rng, num_samples / sample_rate, sample_rate)
    if clip.sample_rate != sample_rate:
        raise ValueError(
            f"speech bank {bank.name!r} returned {clip.sample_rate} Hz audio, asked for {sample_rate}"
        )
    x = clip.signal if clip.signal.size == num_samples else fit_length(clip.signal, num_samples)
    level = rms(x)
    if level < SILENCE_RMS:
        raise ValueError(f"speech bank {bank.name!r} returned a silent clip ({clip.source_id})")
    return x / level


def babble(
    rng: np.random.Generator,
    num_samples: int,
    sample_rate: int,
    speech_bank: SourceBank,
    *,
    num_talkers: int = DEFAULT_NUM_TALKERS,
) -> np.ndarray:
    """Babble: the sum of ``num_talkers`` independent clips of a speech bank, each at the same power.

    Args:
        rng: random generator; all clip draws (voices, sentences, offsets) come from it.
        num_samples: length, ≥ 1.
        sample_rate: Hz.
        speech_bank: where the talkers come from, e.g. ``make_source_bank("speech")``.
        num_talkers: talkers summed, ≥ 1 (4-8 sounds like a busy cafeteria table; more tends to stationary
            speech-shaped noise).

    Returns:
        ``(num_samples,)`` float64, unit power.

    Raises:
        ValueError: no bank, ``num_talkers < 1``, ``num_samples < 1``, or clips at another sample rate.
        TypeError: ``speech_bank`` is not a :class:`~spatialrep.simulate.sources.SourceBank`.
    """
    n = _check_num_samples(num_samples)
    fs = _check_sample_rate(sample_rate)
    bank = _check_bank(speech_bank, "babble")
    talkers = _check_num_talkers(num_talkers)
    total = np.zeros(n)
    for _ in range(talkers):
        total += _talker(rng, bank, n, fs)
    return _unit_power(total, "babble")


def _check_num_talkers(num_talkers: int) -> int:
    if isinstance(num_talkers, bool) or not isinstance(num_talkers, int | np.integer) or num_talkers < 1:
        raise ValueError(f"num_talkers must be an integer >= 1, got {num_talkers!r}")
    return int(num_talkers)


def speech_spectrum(
    speech_bank: SourceBank,
    sample_rate: int,
    rng: np.random.Generator,
    *,
    num_clips: int = 8,
    duration_s: float = 2.0,
    nperseg: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """Average power spectrum of a few clips of a speech bank (Welch, Hann window, 50 % overlap).

    Each clip is scaled to unit power first, so every talker counts equally.

    Args:
        speech_bank: speech source bank.
        sample_rate: Hz.
        rng: draws the clips.
        num_clips: clips averaged, ≥ 1.
        duration_s: length of each clip, seconds.
        nperseg: Welch segment length, samples (frequency resolution ``sample_rate / nperseg``).

    Returns:
        ``(frequencies_hz, power_density)``, each shape ``(nperseg // 2,)``: positive frequencies up to
        Nyquist and the mean one-sided power spectral density (1/Hz, unit-power clips). Pass it as
        ``spectrum`` to :func:`speech_shaped`.

    Raises:
        ValueError: no bank, ``num_clips < 1``, clips shorter than ``nperseg`` or a silent spectrum.
    """
    bank = _check_bank(speech_bank, "speech_spectrum")
    fs = _check_sample_rate(sample_rate)
    if num_clips < 1:
        raise ValueError(f"num_clips must be >= 1, got {num_clips}")
    n = round(duration_s * fs)
    if n < nperseg:
        raise ValueError(f"clips of {duration_s} s at {fs} Hz are shorter than nperseg={nperseg}")
    psd = np.zeros(nperseg // 2 + 1)
    for _ in range(num_clips):
        freqs, p = sps.welch(_talker(rng, bank, n, fs), fs=fs, nperseg=nperseg)
        psd += p / num_clips
    # Floor empty bins (e.g. above a band-limited bank's Nyquist) so the spectrum stays usable in dB.
    psd = np.maximum(psd[1:], psd[1:].max() * 1e-10)
    if not psd.max() > 0:
        raise ValueError(f"speech bank {bank.name!r} gave a silent spectrum")
    return freqs[1:], psd


def make_noise_signal_factory(
    noise_type: str,
    sample_rate: int,
    speech_bank: SourceBank | None = None,
    *,
    num_talkers: int = DEFAULT_NUM_TALKERS,
    spectrum: tuple[np.ndarray, np.ndarray] | None = None,
    spectrum_clips: int = 8,
    spectrum_seed: int = 0,
) -> SignalFactory:
    """Bind a noise type to a sample rate: ``(rng, num_samples) -> (num_samples,)`` unit-power signals.

    Building a factory is cheap except for ``speech_shaped`` with a ``speech_bank``, which measures the
    bank's average spectrum once (:func:`speech_spectrum` on ``spectrum_clips`` clips drawn with
    ``spectrum_seed``, so the same arguments always give the same spectrum).

    Args:
        noise_type: one of :data:`NOISE_TYPES`.
        sample_rate: Hz.
        speech_bank: required for ``babble``; for ``speech_shaped`` it replaces the standard LTASS by the
            bank's measured spectrum (unless ``spectrum`` is given); ignored by ``white`` and ``pink``.
        num_talkers: talkers per ``babble`` signal.
        spectrum: explicit ``(frequencies_hz, power_density)`` for ``speech_shaped``.
        spectrum_clips: clips measured for a bank's spectrum.
        spectrum_seed: seed of those clip draws.

    Returns:
        The signal factory; use it as ``make_signal`` of :func:`~spatialrep.simulate.diffuse.diffuse_field`.

    Raises:
        ValueError: an unknown noise type (the message lists the valid ones), ``babble`` without a speech
            bank, a non-positive sample rate or ``num_talkers < 1``.
        TypeError: ``speech_bank`` is not a source bank.
    """
    if noise_type not in NOISE_TYPES:
        raise ValueError(f"unknown noise type {noise_type!r}; valid: {', '.join(NOISE_TYPES)}")
    fs = _check_sample_rate(sample_rate)
    talkers = _check_num_talkers(num_talkers)
    if noise_type == "white":
        return white
    if noise_type == "pink":
        return pink
    if noise_type == "speech_shaped":
        if spectrum is not None:
            shape: tuple[np.ndarray, np.ndarray] | None = spectrum
            _check_spectrum(spectrum)
        elif speech_bank is not None:
            bank = _check_bank(speech_bank, "speech_shaped")
            shape = speech_spectrum(bank, fs, seeding.rng(spectrum_seed), num_clips=spectrum_clips)
        else:
            shape = None

        def make_speech_shaped(rng: np.random.Generator, num_samples: int) -> np.ndarray:
            return speech_shaped(rng, num_samples, fs, spectrum=shape)

        return make_speech_shaped
    bank = _check_bank(speech_bank, "babble noise")

    def make_babble(rng: np.random.Generator, num_samples: int) -> np.ndarray:
        return babble(rng, num_samples, fs, bank, num_talkers=talkers)

    return make_babble


def diffuse_noise(
    receiver: Receiver,
    noise_type: str,
    num_samples: int,
    rng: np.random.Generator,
    *,
    num_directions: int | None = None,
    speech_bank: SourceBank | None = None,
    num_talkers: int | None = None,
    spectrum: tuple[np.ndarray, np.ndarray] | None = None,
    method: str = "coherence",
) -> np.ndarray:
    """A spherically diffuse noise field at the receiver: independent noise from every direction.

    ``method="coherence"`` (default) draws one independent signal of ``noise_type`` per channel and mixes them
    with :func:`~spatialrep.simulate.diffuse.coherent_diffuse_field` so the channels have the receiver's
    diffuse-field cross-spectra; ``method="directions"`` is the reference construction
    :func:`~spatialrep.simulate.diffuse.diffuse_field` (each of about ``num_directions`` directions plays its
    own unit-power signal through the receiver), about 50-100× slower. Either way the interchannel
    coherence is that of a diffuse field for this receiver: ``sinc(2π f d / c)`` between free-field
    microphones ``d`` apart; between the ears of a KEMAR head it falls from about 0.9 at 60 Hz through 0.5
    near 230 Hz to its first zero near 500 Hz and stays below 0.05 above 1.5 kHz.

    For ``babble`` with ``method="directions"`` every direction needs its own speech, so the cost grows with
    ``num_directions × num_talkers`` clip draws (about 0.5 s for 2 s at 16 kHz with 64 directions of one
    talker); there each direction carries a single talker by default, a crowd of ``num_directions`` talkers.
    With ``method="coherence"`` each channel's signal is a babble of ``num_talkers`` (default
    :data:`DEFAULT_NUM_TALKERS`) talkers.

    Args:
        receiver: the listener.
        noise_type: one of :data:`NOISE_TYPES`.
        num_samples: length, samples.
        rng: random generator (the only source of randomness).
        num_directions: directions of the field (``None``: 256 for ``coherence``, 64 for ``directions``).
        speech_bank: speech source bank (required for ``babble``; see :func:`make_noise_signal_factory`).
        num_talkers: talkers per signal for ``babble``; ``None``: 1 per direction (``directions``) or
            :data:`DEFAULT_NUM_TALKERS` per channel (``coherence``).
        spectrum: explicit spectrum for ``speech_shaped``.
        method: ``coherence`` or ``directions`` (see above).

    Returns:
        ``(receiver.num_channels, num_samples)`` float64. Its power is not normalised: it is the mean power of
        the receiver's responses over directions (about 1 per channel for free-field microphones); scale it
        with :func:`mix_at_snr`.

    Raises:
        ValueError: an unknown noise type or method, ``babble`` without a speech bank, ``num_samples < 1``.
    """
    if method not in DIFFUSE_METHODS:
        raise ValueError(f"unknown diffuse-noise method {method!r}; valid: {', '.join(DIFFUSE_METHODS)}")
    coherence = method == "coherence"
    if num_talkers is None:
        num_talkers = DEFAULT_NUM_TALKERS if coherence else 1
    factory = make_noise_signal_factory(
        noise_type, receiver.sample_rate, speech_bank, num_talkers=num_talkers, spectrum=spectrum
    )
    n = _check_num_samples(num_samples)
    if coherence:
        return coherent_diffuse_field(
            receiver, n, rng, num_directions=num_directions or 256, make_signal=factory
        )
    return diffuse_field(receiver, n, rng, num_directions=num_directions or 64, make_signal=factory)


def directional_interferer(
    receiver: Receiver,
    noise_type: str,
    azimuth: float,
    elevation: float,
    num_samples: int,
    rng: np.random.Generator,
    *,
    speech_bank: SourceBank | None = None,
    num_talkers: int = DEFAULT_NUM_TALKERS,
    spectrum: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """An anechoic far-field point source of noise: one unit-power noise signal through the receiver.

    Anechoic only: interferers inside a room are rendered by the scene renderer, which convolves a noise
    signal from :func:`make_noise_signal_factory` with the room response of the interferer's position.

    Args:
        receiver: the listener.
        noise_type: one of :data:`NOISE_TYPES`.
        azimuth: direction in the receiver frame, radians (0 front, +π/2 left).
        elevation: radians (+π/2 up).
        num_samples: length, samples.
        rng: random generator.
        speech_bank: speech source bank (required for ``babble``).
        num_talkers: talkers of a ``babble`` interferer.
        spectrum: explicit spectrum for ``speech_shaped``.

    Returns:
        ``(receiver.num_channels, num_samples)`` float64, free of filter start-up or fade-out; the channels
        keep their relative delays (the receiver centre hears the source at the same sample in all of them).

    Raises:
        ValueError: an unknown noise type, a non-finite direction, ``babble`` without a speech bank,
            ``num_samples < 1``.
    """
    if not (math.isfinite(azimuth) and math.isfinite(elevation)):
        raise ValueError(f"direction must be finite, got azimuth={azimuth}, elevation={elevation}")
    factory = make_noise_signal_factory(
        noise_type, receiver.sample_rate, speech_bank, num_talkers=num_talkers, spectrum=spectrum
    )
    n = _check_num_samples(num_samples)
    ir = receiver.impulse_responses(np.array([azimuth], dtype=np.float64), np.array([elevation], np.float64))[
        0
    ]
    taps = ir.shape[-1]
    source = factory(rng, n + 2 * taps)
    wet = sps.fftconvolve(source[None, :], ir, axes=-1)
    start = taps + receiver.onset  # output sample i is source sample taps + i at the receiver centre
    return wet[:, start : start + n]


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> tuple[np.ndarray, np.ndarray]:
    """Add noise to a signal at a given signal-to-noise ratio.

    The noise is scaled so that ``10 log10(P_signal / P_noise) = snr_db``, where each power is the mean square
    over **all channels and samples**. In the scene renderer the signal is the reverberant target mixture at
    the receiver (ears or microphones), so the SNR is the reverberant-signal-to-noise ratio at the receiver,
    averaged over channels (not per channel, and not relative to the dry or direct-path signal).

    Args:
        signal: any shape, e.g. ``(channels, samples)``.
        noise: same shape as ``signal``.
        snr_db: wanted SNR, dB, finite.

    Returns:
        ``(mixture, scaled_noise)``, both float64 of the input shape; ``mixture = signal + scaled_noise``.

    Raises:
        ValueError: a non-finite SNR, shapes that differ, non-finite samples, or a silent signal (the SNR is
            then undefined) or silent noise (it cannot be scaled); silent means RMS below
            :data:`~spatialrep.simulate.sources.base.SILENCE_RMS`.
    """
    if not math.isfinite(snr_db):
        raise ValueError(f"snr_db must be finite, got {snr_db}")
    s = np.asarray(signal, dtype=np.float64)
    v = np.asarray(noise, dtype=np.float64)
    if s.shape != v.shape:
        raise ValueError(f"signal and noise shapes differ: {s.shape} vs {v.shape}")
    for name, x in (("signal", s), ("noise", v)):
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{name} has NaN or inf samples")
        if rms(x) < SILENCE_RMS:
            raise ValueError(f"{name} is silent (RMS {rms(x):.3g}); the SNR is undefined")
    signal_power = float(np.mean(s**2))
    noise_power = float(np.mean(v**2))
    scaled = v * math.sqrt(signal_power / (noise_power * 10.0 ** (snr_db / 10.0)))
    return s + scaled, scaled


__all__ = [
    "DEFAULT_NUM_TALKERS",
    "LTASS_FREQUENCIES_HZ",
    "LTASS_SPECTRUM_LEVEL_DB",
    "NOISE_TYPES",
    "babble",
    "diffuse_noise",
    "directional_interferer",
    "ltass_level_db",
    "make_noise_signal_factory",
    "mix_at_snr",
    "pink",
    "speech_shaped",
    "speech_spectrum",
    "white",
]
