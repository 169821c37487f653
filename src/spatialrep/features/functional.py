"""Spatial audio features as pure tensor functions.

Every function takes a real waveform tensor ``x`` of shape ``(..., channel, time)`` (any number of leading
batch dimensions), float32 or float64, on any device, and returns a tensor on the same device with the
matching real (or complex) dtype. Buffers (windows, filterbanks, index tensors) are created on the input's
device.

Conventions (see ``docs/features.md`` for the full table):

* **STFT**: ``X[f, t] = sum_n w[n] x[n + t * hop - pad] exp(-2j pi f n / n_fft)``, one-sided, unnormalised;
  with ``center=True`` the signal is zero-padded by ``n_fft // 2`` on both sides so frame ``t`` is centred on
  sample ``t * hop``; ``frames = 1 + time // hop``.
* **Pairs**: a pair ``(i, j)`` always means "channel ``i`` relative to channel ``j``", through the cross-power
  spectrum ``Z_ij = X_i * conj(X_j)``. ``channel_pairs(C)`` gives all ``i < j`` pairs, so for binaural input
  (channel 0 = left, 1 = right) the default pair is ``(0, 1)``: left relative to right.
* **IPD** ``= angle(Z_ij)`` in ``(-pi, pi]``: if channel ``i`` lags ``j`` by ``tau`` seconds,
  ``IPD = -2 pi f tau``. A source on the left reaches the left ear first, so the binaural IPD is positive at
  low frequencies.
* **ILD** ``= 10 log10((|X_i|^2 + floor) / (|X_j|^2 + floor))`` dB: positive when ``i`` is louder.
* **GCC lag** ``k`` (samples) ``= t_i - t_j``, the arrival time at ``i`` minus the arrival time at ``j``: a
  peak at a positive lag means channel ``i`` is delayed relative to ``j`` (the sound reached ``j`` first).
  Lags are ordered from most negative to most positive.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from spatialrep.geometry import SPEED_OF_SOUND, MicArray

__all__ = [
    "DEFAULT_EPS",
    "DEFAULT_FLOOR",
    "MEL_NORMS",
    "PAD_MODES",
    "WINDOWS",
    "channel_pairs",
    "check_spatial_aliasing",
    "cps_phat_phase",
    "cross_spectrum",
    "default_max_lag",
    "frame_waveform",
    "gcc",
    "gcc_from_stft",
    "gcc_lags",
    "gcc_phat",
    "hz_to_mel",
    "iacc",
    "ild",
    "ild_from_stft",
    "ipd",
    "ipd_cos_sin",
    "ipd_cos_sin_from_stft",
    "ipd_from_stft",
    "log_mel",
    "log_mel_from_stft",
    "log_power_phase",
    "make_window",
    "mel_filterbank",
    "mel_projected_ipd",
    "mel_projected_ipd_from_stft",
    "mel_to_hz",
    "salsa_lite",
    "salsa_lite_from_stft",
    "salsa_nipd_scale",
    "spatial_aliasing_frequency",
    "stft",
    "stft_frames_to_sequence",
    "stft_real_imag",
]

WINDOWS = ("hann", "hamming", "blackman", "rectangular", "sqrt_hann")
"""Window names accepted by :func:`make_window` (all periodic, as for spectral analysis)."""

PAD_MODES = ("constant", "reflect")
"""Padding modes for ``center=True``: zeros (as librosa >= 0.10) or mirror."""

MEL_NORMS = ("slaney", None)
"""Filterbank normalisations: ``"slaney"`` (unit area per triangle) or ``None`` (unit peak)."""

DEFAULT_FLOOR = 1e-10
"""Power floor added before every logarithm (power units, i.e. -100 dB re 1)."""

DEFAULT_EPS = 1e-12
"""Magnitude added before dividing by ``|Z|`` (PHAT weighting, unit phasors); silent bins map to 0."""

Pairs = Sequence[tuple[int, int]]

_FLOAT_DTYPES = (torch.float32, torch.float64)


# ----------------------------------------------------------------------------------------------------
# validation helpers


def check_signal(x: Tensor, name: str = "x", min_channels: int = 1) -> None:
    """Validate a float32/float64 waveform ``(..., channel, time)`` with ``min_channels`` channels."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be float32 or float64 (shape (..., channel, time)), got dtype {x.dtype}"
        )
    if x.ndim < 2:
        raise ValueError(
            f"{name} must have shape (..., channel, time) with ndim >= 2, got shape {tuple(x.shape)}"
        )
    if x.shape[-2] < min_channels:
        raise ValueError(
            f"{name} needs at least {min_channels} channels on axis -2, got shape {tuple(x.shape)}"
        )
    if x.shape[-1] < 1:
        raise ValueError(f"{name} has no samples (shape {tuple(x.shape)})")


def check_spec(spec: Tensor, name: str = "spec") -> None:
    """Validate a complex STFT ``(..., channel, freq, frames)``."""
    if not isinstance(spec, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(spec).__name__}")
    if not spec.is_complex():
        raise TypeError(f"{name} must be a complex STFT (..., channel, freq, frames), got dtype {spec.dtype}")
    if spec.ndim < 3:
        raise ValueError(
            f"{name} must have shape (..., channel, freq, frames), got shape {tuple(spec.shape)}"
        )


def check_positive_int(value: int, name: str) -> int:
    """``value`` as an ``int`` if it is a positive integer (not a bool); else ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_n_freq(spec: Tensor, n_fft: int) -> None:
    """Check that ``spec`` has ``n_fft // 2 + 1`` frequency bins."""
    if spec.shape[-2] != n_fft // 2 + 1:
        raise ValueError(
            f"spec has {spec.shape[-2]} frequency bins but n_fft={n_fft} implies {n_fft // 2 + 1}"
        )


def resolve_pairs(num_channels: int, pairs: Pairs | None, ref: int | None) -> list[tuple[int, int]]:
    """Validated channel pairs: ``pairs`` as given, or :func:`channel_pairs` (``num_channels``, ``ref``)."""
    if pairs is not None and ref is not None:
        raise ValueError(f"give either pairs or ref, not both (pairs={pairs!r}, ref={ref!r})")
    if pairs is None:
        return channel_pairs(num_channels, ref=ref)
    if num_channels < 2:
        raise ValueError(f"pairwise features need at least 2 channels, got {num_channels}")
    out: list[tuple[int, int]] = []
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"each pair must be (i, j), got {pair!r}")
        i, j = int(pair[0]), int(pair[1])
        if not (0 <= i < num_channels and 0 <= j < num_channels) or i == j:
            raise ValueError(
                f"invalid pair {pair!r} for {num_channels} channels: need 0 <= i, j < C and i != j"
            )
        out.append((i, j))
    if not out:
        raise ValueError("pairs must not be empty")
    return out


def pair_index(pairs: Pairs, device: torch.device) -> tuple[Tensor, Tensor]:
    """Index tensors ``(i, j)`` of the pairs, on ``device``."""
    idx = torch.tensor(list(pairs), dtype=torch.long, device=device)
    return idx[:, 0], idx[:, 1]


def channel_pairs(num_channels: int, ref: int | None = None) -> list[tuple[int, int]]:
    """Channel pairs for pairwise features.

    Args:
        num_channels: number of channels ``C`` (>= 2).
        ref: ``None`` for all pairs ``(i, j)`` with ``i < j`` in lexicographic order; otherwise the
            reference channel, giving ``(c, ref)`` for every other channel ``c`` in ascending order (each
            channel relative to the reference).

    Returns:
        List of ``(i, j)`` tuples; a pair means "``i`` relative to ``j``" (see the module docstring).

    Raises:
        ValueError: fewer than 2 channels, or ``ref`` out of range.

    Examples:
        ``channel_pairs(2) == [(0, 1)]`` (binaural: left relative to right);
        ``channel_pairs(4, ref=0) == [(1, 0), (2, 0), (3, 0)]``.
    """
    if isinstance(num_channels, bool) or not isinstance(num_channels, int | np.integer) or num_channels < 2:
        raise ValueError(f"pairwise features need at least 2 channels, got {num_channels!r}")
    if ref is None:
        return [(i, j) for i in range(num_channels) for j in range(i + 1, num_channels)]
    if not 0 <= ref < num_channels:
        raise ValueError(f"ref must be in [0, {num_channels}), got {ref!r}")
    return [(c, int(ref)) for c in range(num_channels) if c != ref]


# ----------------------------------------------------------------------------------------------------
# STFT


def make_window(
    window: str | Tensor,
    win_length: int,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Build an analysis window (periodic, as ``scipy.signal.get_window`` with ``fftbins=True``).

    Args:
        window: one of :data:`WINDOWS` or a 1-D tensor of length ``win_length`` (cast to ``dtype`` and
            ``device``).
        win_length: window length in samples.
        dtype: floating dtype of the result.
        device: device of the result.

    Returns:
        Window, shape ``(win_length,)``.

    Raises:
        ValueError: unknown window name or a tensor of the wrong shape.
    """
    win_length = check_positive_int(win_length, "win_length")
    if isinstance(window, Tensor):
        if window.ndim != 1 or window.shape[0] != win_length:
            raise ValueError(f"window tensor must have shape ({win_length},), got {tuple(window.shape)}")
        return window.to(device=device, dtype=dtype)
    # Always built in float64 and then rounded, so a module's float64 buffer cast to float32 at call time
    # gives bit-identical results to the functional path.
    f64 = torch.float64
    if window == "hann":
        w = torch.hann_window(win_length, True, dtype=f64)
    elif window == "sqrt_hann":
        w = torch.hann_window(win_length, True, dtype=f64).sqrt()
    elif window == "hamming":
        w = torch.hamming_window(win_length, True, dtype=f64)
    elif window == "blackman":
        w = torch.blackman_window(win_length, True, dtype=f64)
    elif window == "rectangular":
        w = torch.ones(win_length, dtype=f64)
    else:
        raise ValueError(f"unknown window {window!r}; valid: {', '.join(WINDOWS)} or a 1-D tensor")
    return w.to(device=device, dtype=dtype)


def check_stft_params(n_fft: int, hop_length: int, win_length: int | None, pad_mode: str) -> int:
    """Validate STFT parameters; returns the window length (``n_fft`` when ``win_length`` is ``None``)."""
    n_fft = check_positive_int(n_fft, "n_fft")
    check_positive_int(hop_length, "hop_length")
    win_length = n_fft if win_length is None else check_positive_int(win_length, "win_length")
    if win_length > n_fft:
        raise ValueError(f"win_length ({win_length}) must be <= n_fft ({n_fft})")
    if pad_mode not in PAD_MODES:
        raise ValueError(f"unknown pad_mode {pad_mode!r}; valid: {', '.join(PAD_MODES)}")
    return win_length


def stft(
    x: Tensor,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    window: str | Tensor = "hann",
    center: bool = True,
    pad_mode: str = "constant",
) -> Tensor:
    """Short-time Fourier transform of every channel.

    ``X[f, t] = sum_n w[n] x[t * hop - p + n] exp(-2j pi f n / n_fft)`` with ``p = n_fft // 2`` when
    ``center=True`` (frame ``t`` centred on sample ``t * hop``) and ``p = 0`` otherwise (frame ``t`` starts at
    sample ``t * hop``). A window shorter than ``n_fft`` is zero-padded on both sides (centred). No scaling.

    Args:
        x: waveform, shape ``(..., channel, time)``, float32 or float64.
        n_fft: FFT size.
        hop_length: frame shift in samples.
        win_length: window length (``<= n_fft``); defaults to ``n_fft``.
        window: window name (:data:`WINDOWS`) or a tensor of shape ``(win_length,)``.
        center: pad so frames are centred on ``t * hop``.
        pad_mode: padding for ``center=True``: ``"constant"`` (zeros) or ``"reflect"``.

    Returns:
        Complex spectrogram (complex64 for float32 input, complex128 for float64).

    Shape:
        ``(..., channel, time)`` -> ``(..., channel, n_fft // 2 + 1, frames)`` with
        ``frames = 1 + time // hop`` (``center=True``) or ``1 + (time - n_fft) // hop`` (``center=False``).

    Raises:
        TypeError: non-tensor or non-float input.
        ValueError: ndim < 2, bad sizes, unknown window or pad mode, input too short.
    """
    check_signal(x)
    win_length = check_stft_params(n_fft, hop_length, win_length, pad_mode)
    w = make_window(window, win_length, dtype=x.dtype, device=x.device)
    length = x.shape[-1]
    if not center and length < n_fft:
        raise ValueError(f"center=False needs at least n_fft={n_fft} samples, got {length}")
    if center and pad_mode == "reflect" and length <= n_fft // 2:
        raise ValueError(
            f"pad_mode='reflect' needs more than n_fft // 2 = {n_fft // 2} samples, got {length}"
        )
    flat = x.reshape(-1, length)
    spec = torch.stft(
        flat,
        n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=w,
        center=center,
        pad_mode=pad_mode,
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    return spec.reshape(*x.shape[:-1], *spec.shape[-2:])


def stft_real_imag(
    x: Tensor,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    window: str | Tensor = "hann",
    center: bool = True,
    pad_mode: str = "constant",
) -> Tensor:
    """Real and imaginary parts of :func:`stft` stacked on a new axis after the channel axis.

    Returns:
        Real tensor; index 0 of axis -3 is the real part, 1 the imaginary part.

    Shape:
        ``(..., channel, time)`` -> ``(..., channel, 2, freq, frames)``.
    """
    return real_imag_from_stft(stft(x, n_fft, hop_length, win_length, window, center, pad_mode))


def stft_frames_to_sequence(x: Tensor) -> Tensor:
    """Flatten stacked real/imaginary STFT frames into one feature vector per frame.

    The feature index is ``(channel * 2 + part) * freq + bin`` (channel-major, then real (0) / imaginary (1),
    then frequency), the order of :func:`spatialrep.features.stft_real_imag`'s axes.

    Args:
        x: output of :func:`spatialrep.features.stft_real_imag` for a batch of clips.

    Returns:
        The frame sequence.

    Raises:
        ValueError: ``x`` is not 5-D or its real/imaginary axis does not have size 2.

    Shape:
        ``(batch, channel, 2, freq, frames) -> (batch, frames, channel * 2 * freq)``.
    """
    if x.dim() != 5 or x.shape[2] != 2:
        raise ValueError(f"expected shape (batch, channel, 2, freq, frames), got {tuple(x.shape)}")
    batch, channels, parts, freq, frames = x.shape
    return x.reshape(batch, channels * parts * freq, frames).transpose(1, 2)


def real_imag_from_stft(spec: Tensor) -> Tensor:
    """Real and imaginary parts stacked on a new axis ``-3``: ``(..., F, T) -> (..., 2, F, T)``."""
    return torch.stack((spec.real, spec.imag), dim=-3)


def log_power_phase_from_stft(spec: Tensor, floor: float) -> Tensor:
    """Log power (dB, ``floor`` added to the power) and phase stacked on axis ``-3``."""
    check_floor(floor)
    return torch.stack((10.0 * torch.log10(power_from_stft(spec) + floor), torch.angle(spec)), dim=-3)


def power_from_stft(spec: Tensor) -> Tensor:
    """``|spec|^2`` computed as ``real^2 + imag^2``."""
    # real**2 + imag**2 rather than abs()**2: smooth (and exactly 0 with a 0 gradient) at silent bins.
    return spec.real.square() + spec.imag.square()


def log_power_phase(
    x: Tensor,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    window: str | Tensor = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    floor: float = DEFAULT_FLOOR,
) -> Tensor:
    """Log power (dB) and phase (radians) of every channel, stacked after the channel axis.

    Log power is ``10 log10(|X|^2 + floor)``; phase is ``angle(X)`` in ``(-pi, pi]`` (0 for silent bins).

    Shape:
        ``(..., channel, time)`` -> ``(..., channel, 2, freq, frames)``; index 0 = log power, 1 = phase.

    Raises:
        ValueError: ``floor <= 0`` (plus the errors of :func:`stft`).
    """
    check_floor(floor)
    return log_power_phase_from_stft(stft(x, n_fft, hop_length, win_length, window, center, pad_mode), floor)


def check_floor(floor: float, name: str = "floor") -> None:
    """Check that a numerical floor is > 0."""
    if not floor > 0:
        raise ValueError(f"{name} must be > 0, got {floor!r}")


# ----------------------------------------------------------------------------------------------------
# mel


def hz_to_mel(freq: Tensor, htk: bool = False) -> Tensor:
    """Hertz to mel: HTK (``2595 log10(1 + f / 700)``) or Slaney (linear below 1 kHz, log above)."""
    if htk:
        return 2595.0 * torch.log10(1.0 + freq / 700.0)
    f_sp = 200.0 / 3.0
    min_log_hz = 1000.0
    logstep = math.log(6.4) / 27.0
    linear = freq / f_sp
    log_part = min_log_hz / f_sp + torch.log(torch.clamp(freq, min=min_log_hz) / min_log_hz) / logstep
    return torch.where(freq >= min_log_hz, log_part, linear)


def mel_to_hz(mel: Tensor, htk: bool = False) -> Tensor:
    """Inverse of :func:`hz_to_mel`."""
    if htk:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    f_sp = 200.0 / 3.0
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    log_part = min_log_hz * torch.exp(logstep * (torch.clamp(mel, min=min_log_mel) - min_log_mel))
    return torch.where(mel >= min_log_mel, log_part, f_sp * mel)


def mel_filterbank(
    sample_rate: float,
    n_fft: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    norm: str | None = "slaney",
    htk: bool = False,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Triangular mel filterbank (the construction of Slaney's Auditory Toolbox, as ``librosa.filters.mel``).

    ``n_mels + 2`` edge frequencies are spaced uniformly on the mel scale between ``f_min`` and ``f_max``;
    filter ``m`` rises linearly from edge ``m`` to ``m + 1`` and falls to edge ``m + 2`` (evaluated at the FFT
    bin frequencies ``k * sample_rate / n_fft``). ``norm="slaney"`` scales each triangle by
    ``2 / (f_{m+2} - f_m)`` (constant energy per band); ``None`` leaves unit peaks. Built in float64, then
    cast.

    Args:
        sample_rate: Hz.
        n_fft: FFT size; the filterbank covers ``n_fft // 2 + 1`` bins.
        n_mels: number of bands.
        f_min: lowest edge, Hz (>= 0).
        f_max: highest edge, Hz (<= sample_rate / 2); defaults to ``sample_rate / 2``.
        norm: ``"slaney"`` or ``None``.
        htk: HTK mel formula instead of Slaney's.
        dtype: result dtype.
        device: result device.

    Returns:
        Filterbank, shape ``(n_mels, n_fft // 2 + 1)``.

    Raises:
        ValueError: unknown norm, non-positive sizes, or a frequency range outside ``[0, sample_rate / 2]``.

    Warns:
        UserWarning: some filters fall between FFT bins and are all zero (too many mels for ``n_fft``).
    """
    if norm not in MEL_NORMS:
        raise ValueError(f"unknown mel norm {norm!r}; valid: 'slaney', None")
    n_fft = check_positive_int(n_fft, "n_fft")
    n_mels = check_positive_int(n_mels, "n_mels")
    if not sample_rate > 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate!r}")
    nyquist = sample_rate / 2.0
    f_max = nyquist if f_max is None else float(f_max)
    if not 0.0 <= f_min < f_max <= nyquist:
        raise ValueError(
            f"need 0 <= f_min < f_max <= sample_rate / 2 = {nyquist}; got f_min={f_min}, f_max={f_max}"
        )
    f64 = torch.float64
    fft_freqs = torch.arange(n_fft // 2 + 1, dtype=f64) * (sample_rate / n_fft)
    mel_edges = torch.linspace(
        float(hz_to_mel(torch.tensor(f_min, dtype=f64), htk)),
        float(hz_to_mel(torch.tensor(f_max, dtype=f64), htk)),
        n_mels + 2,
        dtype=f64,
    )
    edges = mel_to_hz(mel_edges, htk)
    widths = edges[1:] - edges[:-1]
    offsets = edges[:, None] - fft_freqs[None, :]
    rising = -offsets[:-2] / widths[:-1, None]
    falling = offsets[2:] / widths[1:, None]
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    if norm == "slaney":
        weights = weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    empty = int((weights.amax(dim=1) == 0).sum())
    if empty:
        warnings.warn(
            f"{empty} of {n_mels} mel filters are empty (n_mels={n_mels} too large for n_fft={n_fft}?)",
            UserWarning,
            stacklevel=2,
        )
    return weights.to(dtype=dtype, device=device)


def log_mel_from_stft(
    spec: Tensor,
    filterbank: Tensor,
    power: float = 2.0,
    amin: float | None = None,
    top_db: float | None = None,
) -> Tensor:
    """Log-mel spectrogram from a complex STFT (see :func:`log_mel`).

    Args:
        spec: complex STFT, shape ``(..., channel, freq, frames)``.
        filterbank: shape ``(n_mels, freq)`` (e.g. :func:`mel_filterbank`).
        power: exponent of the magnitude (2 = power, 1 = magnitude).
        amin: floor added to the mel energies before the log; default ``1e-10 ** (power / 2)``.
        top_db: if given, clamp to ``max - top_db`` with the max taken per item over channels, mels and frames
            (one max for all channels keeps their level differences).

    Returns:
        ``(20 / power) log10(mel + amin)`` in dB (``10 log10`` for power spectra).

    Shape:
        ``(..., channel, freq, frames)`` -> ``(..., channel, n_mels, frames)``.
    """
    check_spec(spec)
    if not power > 0:
        raise ValueError(f"power must be > 0, got {power!r}")
    if filterbank.ndim != 2 or filterbank.shape[1] != spec.shape[-2]:
        raise ValueError(
            f"filterbank must have shape (n_mels, {spec.shape[-2]}), got {tuple(filterbank.shape)}"
        )
    amin = DEFAULT_FLOOR ** (power / 2.0) if amin is None else amin
    check_floor(amin, "amin")
    if top_db is not None and not top_db >= 0:
        raise ValueError(f"top_db must be >= 0 or None, got {top_db!r}")
    magnitude = power_from_stft(spec) if power == 2.0 else spec.abs() ** power
    fb = filterbank.to(device=magnitude.device, dtype=magnitude.dtype)
    mel = torch.matmul(fb, magnitude)
    db = (20.0 / power) * torch.log10(mel + amin)
    if top_db is not None:
        peak = db.amax(dim=(-3, -2, -1), keepdim=True)
        db = torch.maximum(db, peak - top_db)
    return db


def log_mel(
    x: Tensor,
    sample_rate: float,
    n_fft: int,
    hop_length: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    *,
    win_length: int | None = None,
    window: str | Tensor = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    power: float = 2.0,
    norm: str | None = "slaney",
    htk: bool = False,
    amin: float | None = None,
    top_db: float | None = None,
) -> Tensor:
    """Log-mel spectrogram of every channel, in dB.

    ``10 log10(M |X|^2 + amin)`` (``power=2``, default ``amin = 1e-10``, i.e. a -100 dB floor relative to 1),
    where ``M`` is :func:`mel_filterbank`; no reference scaling (``ref = 1``). ``power=1`` gives
    ``20 log10(M |X| + amin)`` with default ``amin = 1e-5``. Matches ``librosa.power_to_db(melspectrogram)``
    wherever the mel energy is well above ``amin`` (librosa clamps at ``amin`` instead of adding it; adding
    keeps ours smooth and differentiable).

    Args:
        x: waveform, shape ``(..., channel, time)``.
        sample_rate: Hz.
        n_fft, hop_length, win_length, window, center, pad_mode: see :func:`stft`.
        n_mels, f_min, f_max, norm, htk: see :func:`mel_filterbank`.
        power, amin, top_db: see :func:`log_mel_from_stft`.

    Returns:
        Log-mel spectrogram in dB.

    Shape:
        ``(..., channel, time)`` -> ``(..., channel, n_mels, frames)``.
    """
    spec = stft(x, n_fft, hop_length, win_length, window, center, pad_mode)
    fb = mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max, norm, htk, dtype=x.dtype, device=x.device)
    return log_mel_from_stft(spec, fb, power=power, amin=amin, top_db=top_db)


# ----------------------------------------------------------------------------------------------------
# pairwise spectral features


def cross_spectrum(spec: Tensor, pairs: Pairs | None = None, *, ref: int | None = None) -> Tensor:
    """Cross-power spectrum ``Z_ij = X_i * conj(X_j)`` of every pair.

    Args:
        spec: complex STFT, shape ``(..., channel, freq, frames)``.
        pairs: list of ``(i, j)``; default :func:`channel_pairs` (all ``i < j``).
        ref: instead of ``pairs``: every other channel relative to ``ref`` (pairs ``(c, ref)``).

    Returns:
        Complex tensor, shape ``(..., pairs, freq, frames)``.

    Raises:
        ValueError: fewer than 2 channels, invalid pairs, or both ``pairs`` and ``ref``.
    """
    check_spec(spec)
    resolved = resolve_pairs(spec.shape[-3], pairs, ref)
    i, j = pair_index(resolved, spec.device)
    return spec.index_select(-3, i) * spec.index_select(-3, j).conj()


def _unit_phasor(z: Tensor, eps: float) -> Tensor:
    check_floor(eps, "eps")
    return z / (z.abs() + eps)


def ipd_from_stft(spec: Tensor, pairs: Pairs | None = None, *, ref: int | None = None) -> Tensor:
    """Interaural/inter-channel phase difference ``angle(X_i conj(X_j))`` from an STFT; see :func:`ipd`."""
    return torch.angle(cross_spectrum(spec, pairs, ref=ref))


def ipd_cos_sin_from_stft(
    spec: Tensor, pairs: Pairs | None = None, *, ref: int | None = None, eps: float = DEFAULT_EPS
) -> Tensor:
    """``(cos IPD, sin IPD)`` from an STFT, stacked on axis -3; see :func:`ipd_cos_sin`."""
    unit = _unit_phasor(cross_spectrum(spec, pairs, ref=ref), eps)
    return torch.stack((unit.real, unit.imag), dim=-3)


def ild_from_stft(
    spec: Tensor, pairs: Pairs | None = None, *, ref: int | None = None, floor: float = DEFAULT_FLOOR
) -> Tensor:
    """Level difference ``10 log10((|X_i|^2 + floor) / (|X_j|^2 + floor))`` (dB) from an STFT; see ild()."""
    check_spec(spec)
    check_floor(floor)
    resolved = resolve_pairs(spec.shape[-3], pairs, ref)
    i, j = pair_index(resolved, spec.device)
    level = 10.0 * torch.log10(power_from_stft(spec) + floor)
    return level.index_select(-3, i) - level.index_select(-3, j)


def ipd(
    x: Tensor,
    n_fft: int,
    hop_length: int,
    pairs: Pairs | None = None,
    *,
    ref: int | None = None,
    win_length: int | None = None,
    window: str | Tensor = "hann",
    center: bool = True,
    pad_mode: str = "constant",
) -> Tensor:
    """Wrapped phase difference of every channel pair, radians in ``(-pi, pi]``.

    ``IPD_ij[f, t] = angle(X_i[f, t] * conj(X_j[f, t]))``. If channel ``i`` lags channel ``j`` by ``tau``
    seconds, ``IPD_ij(f) = -2 pi f tau`` (wrapped). For binaural input the default pair ``(0, 1)`` is left
    relative to right: positive at low frequencies for a source on the left. Silent bins give 0. IPD is
    ambiguous above the spatial Nyquist frequency of the pair (see :func:`check_spatial_aliasing`).

    Args:
        x: waveform, shape ``(..., channel, time)``, ``channel >= 2``.
        n_fft, hop_length, win_length, window, center, pad_mode: see :func:`stft`.
        pairs: ``(i, j)`` pairs; default all ``i < j`` (:func:`channel_pairs`).
        ref: instead of ``pairs``: every other channel ``c`` relative to ``ref``, pairs ``(c, ref)``.

    Returns:
        IPD in radians.

    Shape:
        ``(..., channel, time)`` -> ``(..., pairs, n_fft // 2 + 1, frames)``.
    """
    check_signal(x, min_channels=2)
    return ipd_from_stft(stft(x, n_fft, hop_length, win_length, window, center, pad_mode), pairs, ref=ref)


def ipd_cos_sin(
    x: Tensor,
    n_fft: int,
    hop_length: int,
    pairs: Pairs | None = None,
    *,
    ref: int | None = None,
    win_length: int | None = None,
    window: str | Tensor = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    eps: float = DEFAULT_EPS,
) -> Tensor:
    """Cosine and sine of the IPD (the unit phasor of the cross spectrum), differentiable.

    Computed as ``Z / (|Z| + eps)`` with ``Z = X_i conj(X_j)`` instead of through ``atan2``: smooth, and
    silent bins give ``(0, 0)`` rather than an arbitrary phase.

    Args:
        x: waveform, shape ``(..., channel, time)``, ``channel >= 2``.
        eps: magnitude floor in cross-power units.
        Others: see :func:`ipd`.

    Returns:
        Index 0 of axis -3 is ``cos IPD``, index 1 ``sin IPD``.

    Shape:
        ``(..., channel, time)`` -> ``(..., pairs, 2, n_fft // 2 + 1, frames)``.
    """
    check_signal(x, min_channels=2)
    spec = stft(x, n_fft, hop_length, win_length, window, center, pad_mode)
    return ipd_cos_sin_from_stft(spec, pairs, ref=ref, eps=eps)


def ild(
    x: Tensor,
    n_fft: int,
    hop_length: int,
    pairs: Pairs | None = None,
    *,
    ref: int | None = None,
    win_length: int | None = None,
    window: str | Tensor = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    floor: float = DEFAULT_FLOOR,
) -> Tensor:
    """Level difference of every channel pair in dB (power-ratio form with a floor).

    ``ILD_ij = 10 log10(|X_i|^2 + floor) - 10 log10(|X_j|^2 + floor)``: positive when channel ``i`` is louder
    (for binaural ``(0, 1)``: a source on the left). Exactly antisymmetric in the pair, 0 for identical
    channels and for silence; bins quieter than ``floor`` are pulled towards 0 dB.

    Args:
        x: waveform, shape ``(..., channel, time)``, ``channel >= 2``.
        floor: power floor (default 1e-10, i.e. -100 dB).
        Others: see :func:`ipd`.

    Shape:
        ``(..., channel, time)`` -> ``(..., pairs, n_fft // 2 + 1, frames)``.
    """
    check_signal(x, min_channels=2)
    spec = stft(x, n_fft, hop_length, win_length, window, center, pad_mode)
    return ild_from_stft(spec, pairs, ref=ref, floor=floor)


def cps_phat_phase(
    x: Tensor,
    n_fft: int,
    hop_length: int,
    pairs: Pairs | None = None,
    *,
    output: str = "angle",
    ref: int | None = None,
    win_length: int | None = None,
    window: str | Tensor = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    eps: float = DEFAULT_EPS,
) -> Tensor:
    """Phase of the PHAT-weighted cross-power spectrum ``Z_ij / |Z_ij|``, per bin and frame.

    PHAT weighting is positive, so the phase is the IPD itself: ``output="angle"`` equals :func:`ipd` and
    ``output="cos_sin"`` equals :func:`ipd_cos_sin` (the real and imaginary parts of the whitened spectrum,
    the continuous form usually preferred as a regression target).

    Args:
        output: ``"angle"`` (radians) or ``"cos_sin"``.
        Others: see :func:`ipd_cos_sin`.

    Shape:
        ``"angle"``: ``(..., pairs, freq, frames)``; ``"cos_sin"``: ``(..., pairs, 2, freq, frames)``.

    Raises:
        ValueError: unknown ``output``.
    """
    if output not in ("angle", "cos_sin"):
        raise ValueError(f"unknown output {output!r}; valid: 'angle', 'cos_sin'")
    check_signal(x, min_channels=2)
    spec = stft(x, n_fft, hop_length, win_length, window, center, pad_mode)
    if output == "angle":
        return ipd_from_stft(spec, pairs, ref=ref)
    return ipd_cos_sin_from_stft(spec, pairs, ref=ref, eps=eps)


def mel_projected_ipd_from_stft(
    spec: Tensor,
    filterbank: Tensor,
    pairs: Pairs | None = None,
    *,
    ref: int | None = None,
    normalize: bool = True,
    eps: float = DEFAULT_EPS,
) -> Tensor:
    """``cos``/``sin`` of the IPD projected onto mel bands; see :func:`mel_projected_ipd`.

    Args:
        spec: complex STFT, shape ``(..., channel, freq, frames)``.
        filterbank: shape ``(n_mels, freq)``.
        normalize: divide each filter row by its sum, so each band is a weighted mean of ``cos``/``sin``.

    Shape:
        ``(..., channel, freq, frames)`` -> ``(..., pairs, 2, n_mels, frames)``.
    """
    check_spec(spec)
    if filterbank.ndim != 2 or filterbank.shape[1] != spec.shape[-2]:
        raise ValueError(
            f"filterbank must have shape (n_mels, {spec.shape[-2]}), got {tuple(filterbank.shape)}"
        )
    cos_sin = ipd_cos_sin_from_stft(spec, pairs, ref=ref, eps=eps)
    fb = filterbank.to(device=cos_sin.device, dtype=cos_sin.dtype)
    if normalize:
        sums = fb.sum(dim=1, keepdim=True)
        fb = fb / torch.where(sums > 0, sums, torch.ones_like(sums))
    return torch.matmul(fb, cos_sin)


def mel_projected_ipd(
    x: Tensor,
    sample_rate: float,
    n_fft: int,
    hop_length: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    pairs: Pairs | None = None,
    *,
    ref: int | None = None,
    normalize: bool = True,
    win_length: int | None = None,
    window: str | Tensor = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    norm: str | None = "slaney",
    htk: bool = False,
    eps: float = DEFAULT_EPS,
) -> Tensor:
    """``cos IPD`` and ``sin IPD`` projected through the mel filterbank (the SpatialAST front-end's IPD).

    Each band value is ``sum_f W[m, f] cos IPD[f, t]`` (and likewise ``sin``), so the IPD shares the time-mel
    grid of :func:`log_mel`. With ``normalize=True`` (default) the rows of ``W`` are scaled to sum to 1,
    making each value a weighted mean in ``[-1, 1]`` independent of ``norm``; ``normalize=False`` applies the
    very filterbank of :func:`log_mel` (``norm="slaney"`` weights are of order ``1 / bandwidth``).

    Args:
        x: waveform, shape ``(..., channel, time)``, ``channel >= 2``.
        sample_rate, n_mels, f_min, f_max, norm, htk: see :func:`mel_filterbank`.
        pairs, ref, eps: see :func:`ipd_cos_sin`.
        normalize: normalise filterbank rows to unit sum.
        n_fft, hop_length, win_length, window, center, pad_mode: see :func:`stft`.

    Shape:
        ``(..., channel, time)`` -> ``(..., pairs, 2, n_mels, frames)``; index 0 of axis -3 = cos, 1 = sin.
    """
    check_signal(x, min_channels=2)
    spec = stft(x, n_fft, hop_length, win_length, window, center, pad_mode)
    fb = mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max, norm, htk, dtype=x.dtype, device=x.device)
    return mel_projected_ipd_from_stft(spec, fb, pairs, ref=ref, normalize=normalize, eps=eps)


# ----------------------------------------------------------------------------------------------------
# GCC


def default_max_lag(max_delay_s: float, sample_rate: float, margin: int = 2) -> int:
    """Lag range for GCC features covering a physical maximum delay.

    Args:
        max_delay_s: largest possible time difference of arrival, seconds (e.g. about 0.8e-3 for a human head,
            ``MicArray.max_delay()`` for an array).
        sample_rate: Hz.
        margin: extra lags (samples) beyond ``ceil(max_delay_s * sample_rate)``, for fractional peaks, head
            diffraction and a little room on either side of the extreme lags.

    Returns:
        ``ceil(max_delay_s * sample_rate) + margin``.

    Raises:
        ValueError: negative delay or margin, non-positive sample rate.
    """
    if not max_delay_s >= 0:
        raise ValueError(f"max_delay_s must be >= 0, got {max_delay_s!r}")
    if not sample_rate > 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate!r}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin!r}")
    # The small tolerance keeps e.g. 0.5e-3 * 16000 = 8.000000000000002 at 8.
    return math.ceil(max_delay_s * sample_rate - 1e-9) + int(margin)


def _lag_indices(n_fft: int, max_lag: int | None, num_lags: int | None, upsample: int) -> Tensor:
    """Integer lags in units of ``1 / upsample`` samples, ascending."""
    n_fft = check_positive_int(n_fft, "n_fft")
    upsample = check_positive_int(upsample, "upsample")
    if (max_lag is None) == (num_lags is None):
        raise ValueError(
            f"give exactly one of max_lag or num_lags (got max_lag={max_lag!r}, num_lags={num_lags!r}); "
            "see default_max_lag()"
        )
    if max_lag is not None:
        if isinstance(max_lag, bool) or not isinstance(max_lag, int | np.integer) or max_lag < 0:
            raise ValueError(f"max_lag must be a non-negative integer, got {max_lag!r}")
        half = int(max_lag) * upsample
        lags = torch.arange(-half, half + 1)
    else:
        count = check_positive_int(num_lags, "num_lags")  # type: ignore[arg-type]
        lags = torch.arange(count) - count // 2
    largest = int(lags.abs().max())
    if 2 * largest >= n_fft * upsample:
        raise ValueError(
            f"lags up to {largest / upsample:g} samples need n_fft > {2 * largest / upsample:g} "
            f"(max lag must stay below n_fft / 2 = {n_fft / 2:g} to avoid circular wrap-around); "
            f"got n_fft={n_fft}"
        )
    return lags


def gcc_lags(
    n_fft: int, max_lag: int | None = None, *, num_lags: int | None = None, upsample: int = 1
) -> Tensor:
    """Lag values (in samples) of the lag axis of :func:`gcc`.

    ``max_lag=K`` gives ``2 K upsample + 1`` lags ``-K, ..., K`` in steps of ``1 / upsample`` samples.
    ``num_lags=N`` gives ``N`` lags starting at ``-(N // 2) / upsample`` (for even ``N``, e.g. DCASE's 64:
    ``-32, ..., 31``; one more negative lag than positive ones).

    Returns:
        float64 tensor, shape ``(lags,)``.

    Raises:
        ValueError: both or neither of ``max_lag``/``num_lags``, or a lag at or beyond ``n_fft / 2``.
    """
    return _lag_indices(n_fft, max_lag, num_lags, upsample).to(torch.float64) / upsample


def gcc_from_stft(
    spec: Tensor,
    n_fft: int,
    max_lag: int | None = None,
    pairs: Pairs | None = None,
    phat: bool = False,
    *,
    num_lags: int | None = None,
    upsample: int = 1,
    ref: int | None = None,
    normalize: bool = False,
    eps: float = DEFAULT_EPS,
) -> Tensor:
    """Generalised cross-correlation of every pair from an STFT; see :func:`gcc`."""
    check_spec(spec)
    check_n_freq(spec, n_fft)
    check_floor(eps, "eps")
    if phat and normalize:
        raise ValueError("normalize=True applies to the unweighted GCC only (PHAT is already scale-free)")
    lags = _lag_indices(n_fft, max_lag, num_lags, upsample).to(spec.device)
    resolved = resolve_pairs(spec.shape[-3], pairs, ref)
    cross = cross_spectrum(spec, resolved)
    if phat:
        cross = _unit_phasor(cross, eps)
    n_out = n_fft * upsample
    if upsample > 1 and n_fft % 2 == 0:
        # Zero-padding the spectrum interpolates; the old Nyquist bin becomes an ordinary bin counted twice by
        # irfft, so halve it to keep the values at integer lags identical to upsample=1.
        scale = torch.ones(cross.shape[-2], 1, dtype=cross.real.dtype, device=cross.device)
        scale[-1] = 0.5
        cross = cross * scale
    corr = torch.fft.irfft(cross, n=n_out, dim=-2) * upsample
    corr = corr.index_select(-2, torch.remainder(lags, n_out))
    if normalize:
        energy = torch.fft.irfft(power_from_stft(spec), n=n_fft, dim=-2)[..., 0, :]
        i, j = pair_index(resolved, spec.device)
        norm = torch.sqrt(energy.index_select(-2, i) * energy.index_select(-2, j)) + eps
        corr = corr / norm.unsqueeze(-2)
    return corr


def gcc(
    x: Tensor,
    n_fft: int,
    hop_length: int,
    max_lag: int | None = None,
    pairs: Pairs | None = None,
    phat: bool = False,
    *,
    num_lags: int | None = None,
    upsample: int = 1,
    ref: int | None = None,
    normalize: bool = False,
    win_length: int | None = None,
    window: str | Tensor = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    eps: float = DEFAULT_EPS,
) -> Tensor:
    """Frame-wise generalised cross-correlation of every channel pair over a range of lags.

    ``r_ij[k, t] = IDFT_{n_fft}(W(Z_ij))[k]`` with ``Z_ij = X_i conj(X_j)``, i.e. the circular
    cross-correlation ``sum_n y_i[n] y_j[n - k]`` of the windowed frames ``y`` (linear when
    ``n_fft >= 2 * win_length - 1``). ``W`` is 1 (plain GCC) or ``1 / (|Z| + eps)`` (PHAT: peak about 1 for a
    pure delay, silence gives 0).

    **Sign**: a peak at lag ``k > 0`` means channel ``i`` is delayed by ``k`` samples relative to channel
    ``j`` (``k = t_i - t_j``, the sound reached ``j`` first). For binaural ``(0, 1)`` = (left, right), a
    source on the left gives a negative lag.

    Args:
        x: waveform, shape ``(..., channel, time)``, ``channel >= 2``.
        n_fft, hop_length, win_length, window, center, pad_mode: see :func:`stft`.
        max_lag: largest lag in samples (``2 max_lag upsample + 1`` lags, must be ``< n_fft / 2``); see
            :func:`default_max_lag`.
        pairs, ref: see :func:`ipd`.
        phat: PHAT weighting.
        num_lags: instead of ``max_lag``, an exact number of lags (e.g. 64); see :func:`gcc_lags`.
        upsample: lag resolution ``1 / upsample`` samples by zero-padding the cross spectrum (band-limited
            interpolation); integer lags keep the ``upsample=1`` values.
        normalize: (plain GCC only) divide by ``sqrt(E_i E_j) + eps`` with the frame energies ``E``, giving
            correlation coefficients in ``[-1, 1]``.
        eps: PHAT / normalisation floor.

    Returns:
        Correlation per pair, lag and frame; lag values from :func:`gcc_lags`.

    Shape:
        ``(..., channel, time)`` -> ``(..., pairs, lags, frames)``.

    Raises:
        ValueError: fewer than 2 channels, lag range not below ``n_fft / 2``, both or neither of
            ``max_lag``/``num_lags``, ``normalize`` with ``phat`` (plus the errors of :func:`stft`).
    """
    check_signal(x, min_channels=2)
    _lag_indices(n_fft, max_lag, num_lags, upsample)  # fail before the STFT
    spec = stft(x, n_fft, hop_length, win_length, window, center, pad_mode)
    return gcc_from_stft(
        spec,
        n_fft,
        max_lag,
        pairs,
        phat,
        num_lags=num_lags,
        upsample=upsample,
        ref=ref,
        normalize=normalize,
        eps=eps,
    )


def gcc_phat(
    x: Tensor,
    n_fft: int,
    hop_length: int,
    max_lag: int | None = None,
    pairs: Pairs | None = None,
    *,
    num_lags: int | None = None,
    upsample: int = 1,
    ref: int | None = None,
    win_length: int | None = None,
    window: str | Tensor = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    eps: float = DEFAULT_EPS,
) -> Tensor:
    """GCC with PHAT weighting: :func:`gcc` with ``phat=True`` (same sign convention and shapes).

    Shape:
        ``(..., channel, time)`` -> ``(..., pairs, lags, frames)``.
    """
    return gcc(
        x,
        n_fft,
        hop_length,
        max_lag,
        pairs,
        True,
        num_lags=num_lags,
        upsample=upsample,
        ref=ref,
        win_length=win_length,
        window=window,
        center=center,
        pad_mode=pad_mode,
        eps=eps,
    )


# ----------------------------------------------------------------------------------------------------
# spatial aliasing and SALSA-Lite


def spatial_aliasing_frequency(spacing: float, speed_of_sound: float = SPEED_OF_SOUND) -> float:
    """Spatial Nyquist frequency ``c / (2 d)`` of two microphones ``d`` metres apart, Hz.

    Above it the IPD of the pair wraps for some directions, so a phase no longer maps to one delay.

    Raises:
        ValueError: non-positive spacing or speed of sound.
    """
    if not spacing > 0:
        raise ValueError(f"spacing must be > 0 metres, got {spacing!r}")
    if not speed_of_sound > 0:
        raise ValueError(f"speed_of_sound must be > 0, got {speed_of_sound!r}")
    return float(speed_of_sound / (2.0 * spacing))


def check_spatial_aliasing(mic_spacing: float, f_max: float, speed_of_sound: float = SPEED_OF_SOUND) -> float:
    """Warn when phase features up to ``f_max`` exceed the pair's spatial Nyquist frequency.

    Returns:
        The spatial aliasing frequency, Hz.

    Warns:
        UserWarning: ``f_max`` is above :func:`spatial_aliasing_frequency`.
    """
    f_alias = spatial_aliasing_frequency(mic_spacing, speed_of_sound)
    if f_max > f_alias:
        warnings.warn(
            f"IPD up to {f_max:g} Hz exceeds the spatial Nyquist frequency {f_alias:.0f} Hz of a "
            f"{mic_spacing:g} m spacing: phases above it are ambiguous",
            UserWarning,
            stacklevel=2,
        )
    return f_alias


def salsa_nipd_scale(
    sample_rate: float,
    n_fft: int,
    num_channels: int,
    *,
    mic_positions: MicArray | npt.ArrayLike | None = None,
    mic_spacing: float | None = None,
    aliasing_freq: float | None = None,
    ref: int = 0,
    f_max: float | None = None,
    speed_of_sound: float = SPEED_OF_SOUND,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Factor turning IPD into SALSA-Lite's normalised IPD, zero above each pair's aliasing frequency.

    Exactly one of ``mic_positions`` (shape ``(num_channels, 3)`` metres, or a :class:`MicArray`; each pair's
    limit is ``c / (2 |p_c - p_ref|)``), ``mic_spacing`` (one distance for every pair) or ``aliasing_freq``
    (one frequency, Hz) sets the limit. The factor is ``-c / (2 pi f)`` for ``0 < f <= limit`` and 0
    elsewhere.

    Returns:
        Shape ``(num_channels - 1, n_bins)`` for the pairs ``(c, ref)``, ``c != ref`` ascending, and the
        ``n_bins`` bins at or below ``f_max`` (all ``n_fft // 2 + 1`` bins by default).

    Raises:
        ValueError: not exactly one geometry argument, wrong positions shape, or coincident microphones.
    """
    given = sum(v is not None for v in (mic_positions, mic_spacing, aliasing_freq))
    if given != 1:
        raise ValueError("give exactly one of mic_positions, mic_spacing or aliasing_freq")
    pairs = channel_pairs(num_channels, ref=ref)
    if mic_positions is not None:
        pos = (
            mic_positions.positions
            if isinstance(mic_positions, MicArray)
            else np.asarray(mic_positions, float)
        )
        if pos.shape != (num_channels, 3):
            raise ValueError(f"mic_positions must have shape ({num_channels}, 3), got {pos.shape}")
        limits = [
            spatial_aliasing_frequency(float(np.linalg.norm(pos[c] - pos[ref])), speed_of_sound)
            for c, _ in pairs
        ]
    elif mic_spacing is not None:
        limits = [spatial_aliasing_frequency(mic_spacing, speed_of_sound)] * len(pairs)
    else:
        if not aliasing_freq > 0:  # type: ignore[operator]
            raise ValueError(f"aliasing_freq must be > 0 Hz, got {aliasing_freq!r}")
        limits = [float(aliasing_freq)] * len(pairs)  # type: ignore[arg-type]
    n_bins = _salsa_bins(sample_rate, n_fft, f_max)
    freqs = torch.arange(n_bins, dtype=torch.float64) * (sample_rate / n_fft)
    limit = torch.tensor(limits, dtype=torch.float64)[:, None]
    valid = (freqs > 0) & (freqs <= limit)
    safe = torch.where(freqs > 0, freqs, torch.ones_like(freqs))
    scale = torch.where(valid, -speed_of_sound / (2.0 * math.pi * safe), torch.zeros(()))
    return scale.to(dtype=dtype, device=device)


def _salsa_bins(sample_rate: float, n_fft: int, f_max: float | None) -> int:
    n_fft = check_positive_int(n_fft, "n_fft")
    if not sample_rate > 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate!r}")
    n_freq = n_fft // 2 + 1
    if f_max is None:
        return n_freq
    if not 0 < f_max <= sample_rate / 2:
        raise ValueError(f"f_max must be in (0, sample_rate / 2 = {sample_rate / 2}], got {f_max!r}")
    return min(n_freq, math.floor(f_max * n_fft / sample_rate + 1e-9) + 1)


def salsa_lite_from_stft(
    spec: Tensor, nipd_scale: Tensor, ref: int = 0, floor: float = DEFAULT_FLOOR
) -> Tensor:
    """SALSA-Lite from an STFT and :func:`salsa_nipd_scale`; see :func:`salsa_lite`."""
    check_spec(spec)
    check_floor(floor)
    num_channels = spec.shape[-3]
    if (
        nipd_scale.ndim != 2
        or nipd_scale.shape[0] != num_channels - 1
        or nipd_scale.shape[1] > spec.shape[-2]
    ):
        raise ValueError(
            f"nipd_scale must have shape ({num_channels - 1}, n_bins <= {spec.shape[-2]}), "
            f"got {tuple(nipd_scale.shape)}"
        )
    spec = spec[..., : nipd_scale.shape[1], :]
    log_power = 10.0 * torch.log10(power_from_stft(spec) + floor)
    phase = ipd_from_stft(spec, ref=ref)
    nipd = phase * nipd_scale.to(device=phase.device, dtype=phase.dtype)[:, :, None]
    return torch.cat((log_power, nipd), dim=-3)


def salsa_lite(
    x: Tensor,
    sample_rate: float,
    n_fft: int,
    hop_length: int,
    *,
    mic_positions: MicArray | npt.ArrayLike | None = None,
    mic_spacing: float | None = None,
    aliasing_freq: float | None = None,
    ref: int = 0,
    f_max: float | None = None,
    speed_of_sound: float = SPEED_OF_SOUND,
    win_length: int | None = None,
    window: str | Tensor = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    floor: float = DEFAULT_FLOOR,
) -> Tensor:
    """SALSA-Lite: log power spectra of all channels stacked with the normalised IPD to a reference.

    Channels ``0 .. C-1`` of the output are ``10 log10(|X_c|^2 + floor)`` (dB). Channels ``C .. 2C-2`` are,
    for each ``c != ref`` in ascending order, the normalised IPD

        ``NIPD_c[f, t] = -c_sound * angle(X_c conj(X_ref)) / (2 pi f)``  (metres),

    an estimate of the path-length difference ``c_sound (t_c - t_ref)`` (positive when the sound reaches ``c``
    after ``ref``), for ``0 < f <=`` the pair's spatial aliasing frequency and 0 above it and at DC. The
    frequency axis is cropped to bins ``<= f_max`` (all by default).

    Args:
        x: waveform, shape ``(..., channel, time)``, ``channel >= 2``.
        sample_rate: Hz.
        mic_positions, mic_spacing, aliasing_freq, speed_of_sound: geometry; see :func:`salsa_nipd_scale`.
        ref: reference channel.
        f_max: highest frequency kept, Hz.
        floor: power floor of the log spectra.
        n_fft, hop_length, win_length, window, center, pad_mode: see :func:`stft`.

    Shape:
        ``(..., channel, time)`` -> ``(..., 2 * channel - 1, n_bins, frames)``.

    References:
        T. N. T. Nguyen et al., "SALSA-Lite: a fast and effective feature for polyphonic sound event
        localization and detection with microphone arrays", ICASSP 2022.
    """
    check_signal(x, min_channels=2)
    scale = salsa_nipd_scale(
        sample_rate,
        n_fft,
        x.shape[-2],
        mic_positions=mic_positions,
        mic_spacing=mic_spacing,
        aliasing_freq=aliasing_freq,
        ref=ref,
        f_max=f_max,
        speed_of_sound=speed_of_sound,
        dtype=x.dtype,
        device=x.device,
    )
    spec = stft(x, n_fft, hop_length, win_length, window, center, pad_mode)
    return salsa_lite_from_stft(spec, scale, ref=ref, floor=floor)


# ----------------------------------------------------------------------------------------------------
# waveform framing and interaural coherence (SQM-BS)


def frame_waveform(x: Tensor, frame_length: int) -> Tensor:
    """Lossless space-to-depth framing: non-overlapping frames of ``frame_length`` samples as channels.

    The end is zero-padded to a whole frame, so nothing is dropped: output channel ``c * frame_length + k`` of
    frame ``t`` is sample ``t * frame_length + k`` of input channel ``c``.

    Shape:
        ``(..., channel, time)`` -> ``(..., channel * frame_length, ceil(time / frame_length))``.

    Raises:
        ValueError: ``frame_length < 1``, or an input that is not a real ``(..., channel, time)`` tensor.
    """
    check_signal(x)
    frame_length = check_positive_int(frame_length, "frame_length")
    time = x.shape[-1]
    frames = -(-time // frame_length)
    padded = torch.nn.functional.pad(x, (0, frames * frame_length - time))
    shaped = padded.reshape(*x.shape[:-1], frames, frame_length)  # (..., C, T', F)
    return shaped.transpose(-1, -2).reshape(*x.shape[:-2], x.shape[-2] * frame_length, frames)


def iacc(x: Tensor, sample_rate: float, max_lag_s: float = 1e-3, eps: float = DEFAULT_EPS) -> Tensor:
    """Interaural cross-correlation coefficient: the largest normalised cross-correlation of the two
    channels over lags ``|k| <= max_lag_s``.

    ``IACC = max_k |sum_n x_0[n] x_1[n + k]| / sqrt(E_0 E_1)``, in ``[0, 1]``: 1 for a delayed (or scaled)
    copy, near 0 for independent noises. Computed with a zero-padded FFT (no circular wrap).

    Shape:
        ``(..., 2, time)`` -> ``(...)``.

    Raises:
        ValueError: not two channels, a non-positive rate or a negative ``max_lag_s``.
    """
    check_signal(x, min_channels=2)
    if x.shape[-2] != 2:
        raise ValueError(f"iacc needs two channels (left, right), got {x.shape[-2]}")
    if not sample_rate > 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate!r}")
    if not max_lag_s >= 0:
        raise ValueError(f"max_lag_s must be >= 0, got {max_lag_s!r}")
    time = x.shape[-1]
    max_lag = min(round(max_lag_s * sample_rate), time - 1)
    n = 1 << (2 * time - 1).bit_length()
    spec = torch.fft.rfft(x, n=n)
    corr = torch.fft.irfft(torch.conj(spec[..., 0, :]) * spec[..., 1, :], n=n)  # corr[k] = sum x0[m] x1[m+k]
    lags = (
        torch.cat([corr[..., : max_lag + 1], corr[..., n - max_lag :]], dim=-1) if max_lag else corr[..., :1]
    )
    energy = torch.sqrt((x[..., 0, :] ** 2).sum(-1) * (x[..., 1, :] ** 2).sum(-1))
    return lags.abs().amax(dim=-1) / energy.clamp_min(eps)
