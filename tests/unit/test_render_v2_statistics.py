"""Render version v2 renders what v1 renders, statistically: the same direct path (ITD), decay (RT60, EDC,
DRR), late interaural level and coherence, diffuse-noise coherence and spectra, SNR, and babble that is still
babble; and its building blocks (noise spectra, matrix roots, clip pools) are right."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import fft as sfft
from scipy import signal as sps

from spatialrep import seeding
from spatialrep.geometry.arrays import tetrahedral_array
from spatialrep.simulate.clip_pool import MAX_POOL_SEEDS, ClipPool, pooled_babble
from spatialrep.simulate.hrtf import load_default_hrtf
from spatialrep.simulate.interpolated_tail import hat_weights, interpolated_tail
from spatialrep.simulate.noise import babble, diffuse_noise, white
from spatialrep.simulate.receivers import FreeFieldArray
from spatialrep.simulate.render import SceneRenderer
from spatialrep.simulate.room_analysis import edc_deviation, estimate_rt60
from spatialrep.simulate.room_response import room_response
from spatialrep.simulate.rooms import ShoeboxRoom
from spatialrep.simulate.sampling import sample_scene
from spatialrep.simulate.scene_config import SceneConfig
from spatialrep.simulate.sources import make_source_bank
from spatialrep.simulate.spectral_diffuse import (
    complex_white,
    hermitian_sqrt,
    root_filters,
    spectral_diffuse_noise,
)

FS = 16000
RECEIVER = np.array([2.0, 1.6, 1.5])
BANDS = ((50, 300), (300, 800), (800, 1500), (1500, 8000))


@pytest.fixture(scope="module")
def kemar():  # type: ignore[no-untyped-def]
    return load_default_hrtf(FS)


@pytest.fixture(scope="module")
def speech():  # type: ignore[no-untyped-def]
    return make_source_bank("speech")


def _band_coherence(x: np.ndarray, y: np.ndarray) -> list[float]:
    f, coherence = sps.coherence(x, y, fs=FS, nperseg=256)
    return [float(coherence[(f >= a) & (f < b)].mean()) for a, b in BANDS]


def _octave_levels(x: np.ndarray) -> np.ndarray:
    f, psd = sps.welch(x, fs=FS, nperseg=512)
    edges = 125 * 2.0 ** np.arange(7)  # 125 Hz .. 8 kHz
    return np.array([10 * np.log10(psd[(f >= a) & (f < b)].mean()) for a, b in itertools.pairwise(edges)])


# ----------------------------------------------------------------------------- late tail


ROOMS = [((5.0, 4.0, 3.0), 0.3, (3.6, 2.7, 1.3), 0.4), ((8.0, 5.0, 3.0), 0.7, (6.0, 3.5, 1.4), 1.0)]


@pytest.mark.parametrize(("size", "rt60", "source", "yaw"), ROOMS)
def test_v2_tail_matches_v1_binaural(kemar, size, rt60, source, yaw) -> None:  # type: ignore[no-untyped-def]
    room = ShoeboxRoom("r", size, rt60)
    renders = {
        tail: [
            room_response(
                room, kemar, RECEIVER, np.array(source), np.random.default_rng(k), receiver_yaw=yaw, tail=tail
            )
            for k in range(8)
        ]
        for tail in ("directions", "knots")
    }
    v1, v2 = renders["directions"], renders["knots"]
    for a, b in zip(v1, v2):
        np.testing.assert_array_equal(a.direct, b.direct)  # the direct path (ITD, ILD, delay) is v1's
        start = int((a.transition_time - 0.0025) * FS)  # type: ignore[operator]
        np.testing.assert_allclose(b.full[:, :start], a.full[:, :start], atol=1e-12)  # early reflections
    energy = {k: np.mean([r.full**2 for r in rs], axis=0) for k, rs in renders.items()}  # (C, T)
    rt = {k: estimate_rt60(np.sqrt(e.sum(0)), FS) for k, e in energy.items()}
    assert rt["knots"] == pytest.approx(rt60, rel=0.1) and rt["knots"] == pytest.approx(
        rt["directions"], rel=0.03
    )
    assert edc_deviation(np.sqrt(energy["directions"].sum(0)), np.sqrt(energy["knots"].sum(0))) < 0.5
    assert np.mean([r.drr_db for r in v2]) == pytest.approx(np.mean([r.drr_db for r in v1]), abs=0.3)
    for lo, hi in ((0.1, 0.2), (0.2, 0.3)):  # late interaural level difference, and its drift with time
        window = slice(int(lo * FS), int(hi * FS))
        ild = {k: 10 * np.log10(e[0, window].sum() / e[1, window].sum()) for k, e in energy.items()}
        assert ild["knots"] == pytest.approx(ild["directions"], abs=0.6)
    late = slice(int(0.12 * FS), int(0.3 * FS))
    coherence = {
        k: np.mean([_band_coherence(r.full[0, late], r.full[1, late]) for r in rs], 0)
        for k, rs in renders.items()
    }
    np.testing.assert_allclose(coherence["knots"], coherence["directions"], atol=0.06)
    assert coherence["knots"][0] > coherence["knots"][-1] + 0.2  # high below 300 Hz, low above 1.5 kHz


def test_v2_tail_on_a_four_microphone_array() -> None:
    array = FreeFieldArray(tetrahedral_array(), FS)  # C = 4: the general matrix square root
    room = ShoeboxRoom("r", (6.0, 4.0, 3.0), 0.5)
    source = np.array([4.5, 2.5, 1.2])
    renders = {
        tail: [
            room_response(room, array, RECEIVER, source, np.random.default_rng(k), tail=tail)
            for k in range(6)
        ]
        for tail in ("directions", "knots")
    }
    late = slice(int(0.12 * FS), int(0.4 * FS))
    for k, rs in renders.items():
        assert all(r.full.shape[0] == 4 for r in rs), k
    energy = {k: np.mean([np.sum(r.full[:, late] ** 2, -1) for r in rs], 0) for k, rs in renders.items()}
    np.testing.assert_allclose(energy["knots"], energy["directions"], rtol=0.15)
    corr = {
        k: np.mean([np.corrcoef(sps.sosfilt(sps.butter(4, 400, fs=FS, output="sos"), r.full[:, late]))
                    for r in rs], 0)
        for k, rs in renders.items()
    }  # fmt: skip
    np.testing.assert_allclose(corr["knots"], corr["directions"], atol=0.12)  # low-frequency coherence


def test_interpolated_tail_guards_and_weights(kemar) -> None:  # type: ignore[no-untyped-def]
    weights = hat_weights(np.linspace(0, 1, 11), np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(weights.sum(0), 1.0)
    np.testing.assert_allclose(weights[:, 5], [0, 1, 0])
    room = ShoeboxRoom("r", (5.0, 4.0, 3.0), 0.3)
    time = np.arange(1000) / FS + 0.1
    with pytest.raises(ValueError, match="num_knots must be >= 1"):
        interpolated_tail(room, kemar, 0.0, np.random.default_rng(0), time, np.ones(1000), num_knots=0)


# ----------------------------------------------------------------------------- building blocks


def test_complex_white_is_white_unit_variance_gaussian() -> None:
    n = 4096
    spectra = complex_white(np.random.default_rng(1), (64,), n)
    assert spectra.shape == (64, n // 2 + 1) and np.all(spectra[:, [0, -1]].imag == 0)
    x = sfft.irfft(spectra, n, axis=-1)
    assert np.var(x) == pytest.approx(1.0, rel=0.02)
    kurtosis = np.mean((x - x.mean()) ** 4) / np.var(x) ** 2
    assert kurtosis == pytest.approx(3.0, abs=0.05)
    psd = np.mean(np.abs(spectra[:, 1:-1]) ** 2, 0) / n
    assert psd[: psd.size // 2].mean() == pytest.approx(psd[psd.size // 2 :].mean(), rel=0.03)
    np.testing.assert_array_equal(complex_white(np.random.default_rng(1), (64,), n), spectra)


@pytest.mark.parametrize("channels", [2, 3])
def test_hermitian_sqrt_squares_back(channels: int) -> None:
    rng = np.random.default_rng(channels)
    a = rng.standard_normal((50, channels, 5)) + 1j * rng.standard_normal((50, channels, 5))
    psd = a @ np.conj(np.swapaxes(a, -1, -2))
    root = hermitian_sqrt(psd)
    np.testing.assert_allclose(root, np.conj(np.swapaxes(root, -1, -2)), atol=1e-10)
    np.testing.assert_allclose(root @ root, psd, atol=1e-9)
    with pytest.raises(ValueError, match="shorter than the filters"):
        root_filters(psd[:3], 8, 4)


@pytest.mark.parametrize("noise_type", ["white", "pink", "speech_shaped"])
def test_spectral_diffuse_noise_matches_v1(kemar, noise_type: str) -> None:  # type: ignore[no-untyped-def]
    n = 2 * FS
    v1 = [diffuse_noise(kemar, noise_type, n, np.random.default_rng(k)) for k in range(3)]
    v2 = [spectral_diffuse_noise(kemar, noise_type, n, np.random.default_rng(k)) for k in range(3)]
    assert v2[0].shape == (2, n)
    np.testing.assert_allclose(
        np.mean([_band_coherence(*x) for x in v2], 0),
        np.mean([_band_coherence(*x) for x in v1], 0),
        atol=0.04,
    )
    for ear in (0, 1):  # the same spectral shape at each ear (levels are set later by the SNR)
        shape = {k: np.mean([_octave_levels(x[ear]) for x in xs], 0) for k, xs in (("v1", v1), ("v2", v2))}
        np.testing.assert_allclose(
            shape["v2"] - shape["v2"].mean(), shape["v1"] - shape["v1"].mean(), atol=1.0
        )


def test_spectral_diffuse_noise_guards(kemar) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="unknown noise type 'brown'"):
        spectral_diffuse_noise(kemar, "brown", 100, np.random.default_rng(0))
    with pytest.raises(ValueError, match="babble diffuse noise needs make_signal"):
        spectral_diffuse_noise(kemar, "babble", 100, np.random.default_rng(0))
    with pytest.raises(ValueError, match="num_samples must be >= 1"):
        spectral_diffuse_noise(kemar, "white", 0, np.random.default_rng(0))


def test_clip_pool_is_a_pure_function_of_seed_and_index(speech) -> None:  # type: ignore[no-untyped-def]
    pool = ClipPool(speech, 4, 0.5, FS, "targets")
    later = pool.clip(11, 3)
    first = ClipPool(speech, 4, 0.5, FS, "targets").clip(11, 3)  # another worker, another order
    np.testing.assert_array_equal(later.signal, first.signal)
    direct = speech.sample(seeding.rng(11, "targets", 3), 0.5, FS)
    np.testing.assert_array_equal(later.signal, direct.signal.astype(np.float32))
    assert later.source_id == direct.source_id and not later.signal.flags.writeable
    assert pool.clip(11, 3) is later and pool.syntheses == 1  # kept, not synthesised again
    assert pool.clip(12, 3).source_id != later.source_id  # another split, other clips
    for seed in range(20, 20 + MAX_POOL_SEEDS):
        pool.clip(seed, 0)
    assert pool.clip(11, 3) is not later  # the least recently used split was dropped
    with pytest.raises(IndexError, match=r"pool index 4 outside \[0, 4\)"):
        pool.clip(11, 4)
    with pytest.raises(ValueError, match="size >= 1"):
        ClipPool(speech, 0, 0.5, FS, "targets")
    with pytest.raises(ValueError, match="4000 requested"):
        pooled_babble(ClipPool(speech, 2, 0.2, FS, "b"), 0, np.random.default_rng(0), 4000, 2)


def test_pooled_babble_is_babble_like(speech) -> None:  # type: ignore[no-untyped-def]
    n = FS  # 1 s
    pool = ClipPool(speech, 24, 2.0, FS, "babble")
    frame = 400  # 25 ms

    def modulation(x: np.ndarray) -> float:  # coefficient of variation of the frame RMS
        levels = np.sqrt(np.mean(x[: x.size // frame * frame].reshape(-1, frame) ** 2, axis=1))
        return float(levels.std() / levels.mean())

    v1 = [babble(np.random.default_rng(k), n, FS, speech) for k in range(6)]
    v2 = [pooled_babble(pool, 5, np.random.default_rng(k), n, 6) for k in range(6)]
    one_talker = [pooled_babble(pool, 5, np.random.default_rng(k), n, 1) for k in range(6)]
    noise = modulation(white(np.random.default_rng(0), n))
    m1, m2 = np.mean([modulation(x) for x in v1]), np.mean([modulation(x) for x in v2])
    assert all(np.mean(x**2) == pytest.approx(1.0) for x in v2)
    assert 2 * noise < m2 < np.mean([modulation(x) for x in one_talker])  # fluctuates, less than one talker
    assert m2 == pytest.approx(m1, rel=0.35)
    levels = {k: np.mean([_octave_levels(x) for x in xs], 0) for k, xs in (("v1", v1), ("v2", v2))}
    # The speech bands agree; the edge octaves (125 Hz, 4-8 kHz) vary by voice and drawn talkers.
    np.testing.assert_allclose(levels["v2"][1:5], levels["v1"][1:5], atol=3.0)
    assert levels["v2"][-1] < levels["v2"][1] - 15 and levels["v1"][-1] < levels["v1"][1] - 15


# ----------------------------------------------------------------------------- scenes


def _gcc_lag(x: np.ndarray, max_lag: int = 20) -> int:
    spectrum = np.fft.rfft(x[0], 2 * x.shape[-1]) * np.conj(np.fft.rfft(x[1], 2 * x.shape[-1]))
    cc = np.fft.irfft(spectrum / np.maximum(np.abs(spectrum), 1e-12))
    lags = np.r_[cc[-max_lag:], cc[: max_lag + 1]]
    return int(np.argmax(lags)) - max_lag


def test_v2_scenes_keep_direction_snr_rt60_and_drr() -> None:
    common = {"duration_s": 1.0, "noise_types": ("white", "pink", "speech_shaped", "babble")}
    v1, v2 = (
        SceneRenderer(SceneConfig(render_version=v, source_pool_size=4, **common)) for v in ("v1", "v2")
    )
    drr = []
    for index in range(6):
        spec = sample_scene(v2.config, 2, index)
        source = spec.targets[0]
        new, old = v2.render(spec), v1.render(spec)
        assert new.labels["noise_type"] == old.labels["noise_type"] == spec.noise_type
        target = new.clean_reverb.sum(0)
        snr = 10 * np.log10(np.mean(target**2) / np.mean(new.noise**2))
        assert snr == pytest.approx(spec.snr_db, abs=1e-6)
        np.testing.assert_allclose(new.noisy, target + new.noise, atol=1e-12)
        # The same direct response, so the same interaural delay, whatever the (pooled) dry signal.
        np.testing.assert_array_equal(v2._response(spec, source).direct, v1._response(spec, source).direct)
        lag = _gcc_lag(new.clean_direct[0])
        assert lag == _gcc_lag(old.clean_direct[0])
        if abs(source.azimuth) > np.radians(30):  # a source on the left leads at the left ear
            assert np.sign(lag) == -np.sign(source.azimuth)
        response = v2._response(spec, source)
        assert estimate_rt60(response.full, FS) == pytest.approx(spec.room.rt60, rel=0.2)  # type: ignore[union-attr]
        drr.append(new.labels["drr_db"][0] - old.labels["drr_db"][0])
    assert abs(np.mean(drr)) < 0.3 and np.max(np.abs(drr)) < 1.0
