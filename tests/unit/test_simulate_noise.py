"""Noise generators, diffuse noise fields and SNR mixing (spatialrep.simulate.noise)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable

import numpy as np
import pytest
from scipy import signal as sps

from spatialrep.geometry.arrays import mic_pair
from spatialrep.geometry.coordinates import SPEED_OF_SOUND
from spatialrep.simulate import noise
from spatialrep.simulate.diffuse import diffuse_field
from spatialrep.simulate.receivers import FreeFieldArray
from spatialrep.simulate.sources import EspeakSpeech, SourceClip

FS = 16000


class ListBank:
    """A deterministic fake speech bank: clip k is ``clips[k % len(clips)]``; one rng draw per clip."""

    name = "list"
    classes = ("speech",)

    def __init__(self, clips: list[np.ndarray], sample_rate: int = FS) -> None:
        self.clips = clips
        self.rate = sample_rate
        self.calls = 0

    def units(self, label: str | None = None) -> tuple[str, ...]:
        return ("u",)

    def partition(self, units: Iterable[str]) -> ListBank:
        return self

    def sample(
        self, rng: np.random.Generator, duration_s: float, sample_rate: int, *, label: str | None = None
    ) -> SourceClip:
        rng.integers(2)
        clip = self.clips[self.calls % len(self.clips)]
        self.calls += 1
        n = round(duration_s * sample_rate)
        return SourceClip(np.resize(clip, n), self.rate, "speech", f"clip{self.calls}")


@pytest.fixture(scope="module")
def speech_bank() -> EspeakSpeech:
    return EspeakSpeech()


def band_levels_db(
    x: np.ndarray, centres: np.ndarray, fraction: float = 3.0, nperseg: int = 4096
) -> np.ndarray:
    """Mean Welch PSD (dB) in 1/fraction-octave bands around ``centres``."""
    f, p = sps.welch(x, fs=FS, nperseg=nperseg)
    half = 2 ** (1 / (2 * fraction))
    return np.array([10 * np.log10(p[(f >= c / half) & (f < c * half)].mean()) for c in centres])


# --- mono generators ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("noise_type", ["white", "pink", "speech_shaped"])
def test_generators_unit_power_and_deterministic(noise_type: str) -> None:
    make = noise.make_noise_signal_factory(noise_type, FS)
    x = make(np.random.default_rng(3), 5001)
    assert x.shape == (5001,) and x.dtype == np.float64
    assert np.mean(x**2) == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_array_equal(x, make(np.random.default_rng(3), 5001))
    assert not np.allclose(x, make(np.random.default_rng(4), 5001))


def test_white_is_flat() -> None:
    x = noise.white(np.random.default_rng(0), 8 * FS)
    levels = band_levels_db(x, np.array([125, 250, 500, 1000, 2000, 4000]), fraction=1)
    assert np.ptp(levels) < 0.5


def test_pink_slope_is_minus_3_db_per_octave() -> None:
    x = noise.pink(np.random.default_rng(0), 16 * FS)
    f, p = sps.welch(x, fs=FS, nperseg=4096)
    band = (f >= 50) & (f <= 6000)
    slope = np.polyfit(np.log2(f[band]), 10 * np.log10(p[band]), 1)[0]  # dB per octave
    assert slope == pytest.approx(-10 * np.log10(2), abs=0.1)
    assert abs(np.mean(x)) < 1e-12  # no DC component


def test_speech_shaped_follows_ltass_table() -> None:
    x = noise.speech_shaped(np.random.default_rng(0), 8 * FS, FS)
    deviation = band_levels_db(x, noise.LTASS_FREQUENCIES_HZ) - noise.LTASS_SPECTRUM_LEVEL_DB
    assert np.max(np.abs(deviation - deviation.mean())) < 1.0
    # Flat-ish below 500 Hz, then rolling off: 4 kHz is > 20 dB below 500 Hz.
    low, mid, high = band_levels_db(x, np.array([250.0, 500.0, 4000.0]), fraction=1)
    assert abs(low - mid) < 2.0
    assert mid - high > 20.0


def test_ltass_extrapolates_with_end_slopes() -> None:
    table_f, table_db = noise.LTASS_FREQUENCIES_HZ, noise.LTASS_SPECTRUM_LEVEL_DB
    np.testing.assert_allclose(noise.ltass_level_db(table_f), table_db)
    low_slope = (table_db[1] - table_db[0]) / np.log2(table_f[1] / table_f[0])
    high_slope = (table_db[-1] - table_db[-2]) / np.log2(table_f[-1] / table_f[-2])
    assert noise.ltass_level_db(np.array([80.0]))[0] == pytest.approx(table_db[0] - low_slope)
    assert noise.ltass_level_db(np.array([16000.0]))[0] == pytest.approx(table_db[-1] + high_slope)
    with pytest.raises(ValueError, match="positive"):
        noise.ltass_level_db(np.array([0.0, 100.0]))


def test_speech_shaped_with_explicit_spectrum() -> None:
    # A 1/f table makes pink noise, so the explicit spectrum is really followed.
    freqs = np.array([10.0, 100.0, 1000.0, 10000.0])
    x = noise.speech_shaped(np.random.default_rng(1), 16 * FS, FS, spectrum=(freqs, 1 / freqs))
    f, p = sps.welch(x, fs=FS, nperseg=4096)
    band = (f >= 50) & (f <= 6000)
    assert np.polyfit(np.log2(f[band]), 10 * np.log10(p[band]), 1)[0] == pytest.approx(-3.01, abs=0.1)


@pytest.mark.parametrize(
    ("spectrum", "match"),
    [
        ((np.array([1.0, 2.0]), np.array([1.0])), "equal length"),
        ((np.array([100.0, 50.0]), np.array([1.0, 1.0])), "strictly increasing"),
        ((np.array([100.0, 200.0]), np.array([1.0, 0.0])), "positive"),
        ((np.array([0.0, 200.0]), np.array([1.0, 1.0])), "two positive"),
        ("nonsense", "pair"),
    ],
)
def test_speech_shaped_rejects_bad_spectrum(spectrum: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        noise.speech_shaped(np.random.default_rng(0), 100, FS, spectrum=spectrum)  # type: ignore[arg-type]


def test_length_and_rate_guards() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="num_samples"):
        noise.white(rng, 0)
    with pytest.raises(ValueError, match="num_samples must be >= 2"):
        noise.pink(rng, 1)
    with pytest.raises(TypeError, match="num_samples"):
        noise.white(rng, 10.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sample_rate"):
        noise.speech_shaped(rng, 100, 0)
    with pytest.raises(TypeError, match="sample_rate"):
        noise.make_noise_signal_factory("white", 16000.0)  # type: ignore[arg-type]
    assert noise.white(rng, 1).shape == (1,)
    assert noise.pink(rng, 2).shape == (2,)


# --- babble and speech banks --------------------------------------------------------------------------------


def test_babble_is_normalised_sum_of_equal_level_talkers() -> None:
    t = np.arange(FS) / FS
    clips = [
        np.sin(2 * np.pi * 200 * t),
        3 * np.sin(2 * np.pi * 310 * t),
        0.5 * np.sign(np.sin(2 * np.pi * 7 * t)),
    ]
    x = noise.babble(np.random.default_rng(0), 8000, FS, ListBank(clips), num_talkers=3)
    expected = sum(c[:8000] / np.sqrt(np.mean(c[:8000] ** 2)) for c in clips)
    np.testing.assert_allclose(x, expected / np.sqrt(np.mean(expected**2)))


def test_babble_guards() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="speech source bank"):
        noise.make_noise_signal_factory("babble", FS)
    with pytest.raises(TypeError, match="SourceBank"):
        noise.make_noise_signal_factory("babble", FS, speech_bank="speech")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_talkers"):
        noise.make_noise_signal_factory("babble", FS, ListBank([np.ones(10)]), num_talkers=0)
    with pytest.raises(ValueError, match="22050 Hz"):
        noise.babble(rng, 100, FS, ListBank([np.ones(10)], sample_rate=22050))
    with pytest.raises(ValueError, match="silent clip"):
        noise.babble(rng, 100, FS, ListBank([np.full(10, 1e-9)]))


def frame_power_cv(x: np.ndarray, frame: int = 320) -> float:
    power = np.mean(x[: x.size // frame * frame].reshape(-1, frame) ** 2, axis=1)
    return float(np.std(power) / np.mean(power))


def test_babble_of_speech_bank(speech_bank: EspeakSpeech) -> None:
    make = noise.make_noise_signal_factory("babble", FS, speech_bank, num_talkers=8)
    x = make(np.random.default_rng(5), 2 * FS)
    assert x.shape == (2 * FS,)
    assert np.mean(x**2) == pytest.approx(1.0)
    np.testing.assert_array_equal(x, make(np.random.default_rng(5), 2 * FS))
    # Many talkers fill each other's pauses: the short-term power fluctuates far less than one talker's.
    single = noise.babble(np.random.default_rng(5), 2 * FS, FS, speech_bank, num_talkers=1)
    assert frame_power_cv(x) < 0.5 * frame_power_cv(single)


def test_speech_shaped_from_speech_bank(speech_bank: EspeakSpeech) -> None:
    freqs, psd = noise.speech_spectrum(speech_bank, FS, np.random.default_rng(0), num_clips=4)
    assert freqs[0] > 0 and freqs[-1] == FS / 2 and np.all(psd > 0)
    make = noise.make_noise_signal_factory("speech_shaped", FS, speech_bank, spectrum_clips=4)
    x = make(np.random.default_rng(1), 8 * FS)
    centres = np.array([250.0, 500.0, 1000.0, 2000.0, 4000.0])
    measured = band_levels_db(x, centres, fraction=1)
    wanted = np.array(
        [10 * np.log10(psd[(freqs >= c / 2**0.5) & (freqs < c * 2**0.5)].mean()) for c in centres]
    )
    deviation = measured - wanted
    assert np.max(np.abs(deviation - deviation.mean())) < 1.5  # the bank's spectrum, seed 0, is followed
    assert measured[1] - measured[4] > 10.0  # and speech rolls off above 500 Hz
    with pytest.raises(ValueError, match="num_clips"):
        noise.speech_spectrum(speech_bank, FS, np.random.default_rng(0), num_clips=0)
    with pytest.raises(ValueError, match="shorter than nperseg"):
        noise.speech_spectrum(speech_bank, FS, np.random.default_rng(0), duration_s=0.01)


def test_unknown_noise_type_lists_valid_ones() -> None:
    with pytest.raises(
        ValueError, match="unknown noise type 'brown'; valid: white, pink, speech_shaped, babble"
    ):
        noise.make_noise_signal_factory("brown", FS)
    with pytest.raises(ValueError, match="unknown noise type"):
        noise.diffuse_noise(FreeFieldArray(mic_pair(), FS), "brown", 100, np.random.default_rng(0))


# --- SNR mixing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("snr_db", [-10.0, -0.5, 0.0, 7.3, 30.0])
def test_mix_at_snr_is_exact(snr_db: float) -> None:
    rng = np.random.default_rng(0)
    signal = rng.standard_normal((2, 4000)) * np.array([[1.0], [0.3]])  # unequal channel powers
    noise_in = 5 * rng.standard_normal((2, 4000))
    mixture, scaled = noise.mix_at_snr(signal, noise_in, snr_db)
    measured = 10 * np.log10(np.mean(signal**2) / np.mean(scaled**2))  # mean over all channels and samples
    assert abs(measured - snr_db) < 0.01
    np.testing.assert_allclose(mixture, signal + scaled)
    np.testing.assert_allclose(scaled / noise_in, (scaled / noise_in)[0, 0])  # one gain for every channel


@pytest.mark.parametrize("snr_db", [float("nan"), float("inf"), -float("inf")])
def test_mix_at_snr_rejects_non_finite_snr(snr_db: float) -> None:
    with pytest.raises(ValueError, match="snr_db must be finite"):
        noise.mix_at_snr(np.ones(10), np.ones(10), snr_db)


def test_mix_at_snr_guards() -> None:
    ones = np.ones((2, 10))
    with pytest.raises(ValueError, match="shapes differ"):
        noise.mix_at_snr(ones, np.ones((1, 10)), 0.0)
    with pytest.raises(ValueError, match="signal is silent"):
        noise.mix_at_snr(np.zeros((2, 10)), ones, 0.0)
    with pytest.raises(ValueError, match="noise is silent"):
        noise.mix_at_snr(ones, np.zeros((2, 10)), 0.0)
    bad = ones.copy()
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="noise has NaN"):
        noise.mix_at_snr(ones, bad, 0.0)


# --- diffuse and directional fields -------------------------------------------------------------------------


def test_diffuse_field_has_no_fade_out() -> None:
    # A constant signal from every direction gives a constant field only if every sample is steady state.
    receiver = FreeFieldArray(mic_pair(), FS)
    x = diffuse_field(
        receiver, 300, np.random.default_rng(0), num_directions=8, make_signal=lambda r, n: np.ones(n)
    )
    np.testing.assert_allclose(x, x[:, :1] * np.ones((1, 300)), rtol=1e-9)


@pytest.mark.parametrize("noise_type", ["white", "pink", "speech_shaped", "babble"])
def test_diffuse_noise_coherence_on_free_field_pair(noise_type: str, speech_bank: EspeakSpeech) -> None:
    spacing = 0.2
    receiver = FreeFieldArray(mic_pair(spacing), FS)
    seconds = 2 if noise_type == "babble" else 4
    x = noise.diffuse_noise(
        receiver, noise_type, seconds * FS, np.random.default_rng(1), speech_bank=speech_bank
    )
    assert x.shape == (2, seconds * FS)
    f, msc = sps.coherence(x[0], x[1], fs=FS, nperseg=512)
    theory = np.sinc(2 * f * spacing / SPEED_OF_SOUND) ** 2  # np.sinc(x) = sin(pi x) / (pi x)
    band = (f > 100) & (f < 6000)
    # Each babble direction has its own voice and spectrum, so fewer directions count at each frequency.
    tolerance, floor = (0.1, 0.2) if noise_type == "babble" else (0.03, 0.1)
    assert np.mean(np.abs(msc[band] - theory[band])) < tolerance
    assert np.mean(msc[f > 3000]) < floor
    if noise_type != "babble":
        # Unit-power directions through unit-gain microphones: about unit power per channel.
        np.testing.assert_allclose(np.mean(x**2, axis=1), 1.0, atol=0.1)
    again = noise.diffuse_noise(
        receiver, noise_type, seconds * FS, np.random.default_rng(1), speech_bank=speech_bank
    )
    np.testing.assert_array_equal(x, again)


def test_diffuse_babble_needs_a_bank() -> None:
    with pytest.raises(ValueError, match="speech source bank"):
        noise.diffuse_noise(FreeFieldArray(mic_pair(), FS), "babble", 100, np.random.default_rng(0))


@pytest.mark.skipif(
    importlib.util.find_spec("spatialrep.simulate.hrtf") is None,
    reason="spatialrep.simulate.hrtf not written yet",
)
def test_diffuse_noise_interaural_coherence_on_kemar() -> None:
    from spatialrep.simulate.hrtf import load_default_hrtf

    head = load_default_hrtf(FS)
    x = noise.diffuse_noise(head, "white", 4 * FS, np.random.default_rng(2))
    f, msc = sps.coherence(x[0], x[1], fs=FS, nperseg=1024)
    # The head's effective ear distance is about twice its width: coherence falls from ~0.9 at 60 Hz through
    # ~0.5 near 230 Hz to its first zero near 500 Hz, and stays low above 1.5 kHz.
    assert np.mean(msc[(f >= 50) & (f <= 150)]) > 0.8
    assert 0.3 < np.mean(msc[(f >= 200) & (f <= 260)]) < 0.7
    assert np.mean(msc[(f >= 450) & (f <= 600)]) < 0.1
    assert np.mean(msc[(f >= 1500) & (f <= 6000)]) < 0.1


def test_directional_interferer_alignment_and_delay() -> None:
    spacing = 0.2
    receiver = FreeFieldArray(mic_pair(spacing), FS)
    n = 4000
    # From the front both microphones are a whole-sample delay of `onset`: the output is the source itself.
    front = noise.directional_interferer(receiver, "pink", 0.0, 0.0, n, np.random.default_rng(0))
    taps = receiver.impulse_responses(np.zeros(1), np.zeros(1)).shape[-1]
    source = noise.pink(np.random.default_rng(0), n + 2 * taps)
    np.testing.assert_allclose(front, np.stack([source[taps : taps + n]] * 2), atol=1e-12)
    # From the left (+y, channel 0) the left microphone leads by spacing / c.
    left = noise.directional_interferer(receiver, "white", np.pi / 2, 0.0, n, np.random.default_rng(1))
    xcorr = sps.correlate(left[1], left[0], mode="full")
    lag = int(np.argmax(xcorr)) - (n - 1)
    assert lag == round(spacing / SPEED_OF_SOUND * FS)
    with pytest.raises(ValueError, match="finite"):
        noise.directional_interferer(receiver, "white", np.nan, 0.0, n, np.random.default_rng(1))


def test_coherence_method_matches_the_direction_sum_reference():
    """The fast mixing construction has the reference construction's coherence and spectrum on KEMAR."""
    from spatialrep.simulate.hrtf import load_default_hrtf

    fs = 16000
    receiver = load_default_hrtf(fs)
    fast = noise.diffuse_noise(receiver, "pink", 4 * fs, np.random.default_rng(0), method="coherence")
    ref = noise.diffuse_noise(
        receiver, "pink", 4 * fs, np.random.default_rng(1), method="directions", num_directions=256
    )
    f, msc_fast = sps.coherence(fast[0], fast[1], fs=fs, nperseg=512)
    _, msc_ref = sps.coherence(ref[0], ref[1], fs=fs, nperseg=512)
    assert np.mean(np.abs(msc_fast - msc_ref)) < 0.03
    band = (f > 100) & (f < 7000)
    _, p_fast = sps.welch(fast, fs=fs, nperseg=512)
    _, p_ref = sps.welch(ref, fs=fs, nperseg=512)
    level_diff = 10 * np.log10(p_fast[:, band] / p_ref[:, band])
    assert np.median(np.abs(level_diff)) < 1.0


def test_unknown_diffuse_method_raises():
    with pytest.raises(ValueError, match="unknown diffuse-noise method 'fast'; valid: coherence, directions"):
        noise.diffuse_noise(
            FreeFieldArray(mic_pair(), 16000), "white", 100, np.random.default_rng(0), method="fast"
        )
