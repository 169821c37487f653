"""Classic localization baselines on KEMAR (binaural) and a free-field circular array."""

import math

import numpy as np
import pytest
import scipy.signal
import torch

from spatialrep.evaluate import (
    GccPhatItdLocalizer,
    MusicLocalizer,
    SrpPhatLocalizer,
    angular_errors,
    frontal_azimuths,
    localization_metrics,
)
from spatialrep.geometry import circular_array
from spatialrep.simulate.hrtf import load_default_hrtf
from spatialrep.simulate.receivers import FreeFieldArray

FS = 16000
N = 16000  # 1 s clips


@pytest.fixture(scope="module")
def kemar():
    return load_default_hrtf(FS)


@pytest.fixture(scope="module")
def binaural_clips(kemar):
    """White noise through KEMAR's measured horizontal HRIRs at -90..90 deg (5 deg), SNR 40 dB."""
    az = frontal_azimuths(5.0)
    irs = kemar.impulse_responses(az, np.zeros_like(az))
    rng = np.random.default_rng(0)
    src = rng.standard_normal(N + irs.shape[-1])
    x = np.stack(
        [
            [scipy.signal.fftconvolve(src, irs[d, c], mode="valid")[:N] for c in range(2)]
            for d in range(len(az))
        ]
    )
    x += 0.01 * x.std() * rng.standard_normal(x.shape)
    return az, x


def plane_waves(array, az_deg, seed=1, noise=0.01):
    receiver = FreeFieldArray(array, FS)
    az = np.radians(np.asarray(az_deg, dtype=np.float64))
    irs = receiver.impulse_responses(az, np.zeros_like(az))
    rng = np.random.default_rng(seed)
    src = rng.standard_normal(N + irs.shape[-1])
    x = np.stack(
        [
            [scipy.signal.fftconvolve(src, irs[d, c], mode="valid")[:N] for c in range(irs.shape[1])]
            for d in range(len(az))
        ]
    )
    return az, x + noise * rng.standard_normal(x.shape)


def test_gcc_phat_itd_on_kemar(kemar, binaural_clips):
    az, x = binaural_clips
    loc = GccPhatItdLocalizer.from_hrtf(kemar)  # table: xcorr ITDs at the same 5 deg frontal grid
    est = loc.localize(torch.from_numpy(x))
    m = localization_metrics(est, az)
    # Measured: MAE 0.27 deg, 35 / 37 exact, the misses are one 5 deg step next to +-90 deg (flat ITD there).
    assert m["acc10"] == 1.0 and m["mae_deg"] < 1.0
    onset = GccPhatItdLocalizer.from_hrtf(kemar, method="onset").localize(x)
    m_onset = localization_metrics(onset, az)
    assert m_onset["acc10"] >= 0.9 and m_onset["mae_deg"] < 5.0  # measured: 2.97 deg, all within 10 deg
    # Sign: a source on the left (+az) has the left ear leading, positive ITD, as HRTFSet.itd.
    itd = loc.estimate_itd(x)
    assert itd[az > 0.3].min() > 0 and itd[az < -0.3].max() < 0
    assert np.all(np.diff(itd[5:-5]) > 0)


def test_gcc_phat_itd_subsample_delay_and_single_clip():
    # An ideal pair "head": right ear delayed by 2.5 samples (source on the left, ITD = +2.5 / FS).
    table_az = np.radians(np.arange(-90.0, 91.0, 1.0))
    table_itd = 8.0 / FS * np.sin(table_az)
    loc = GccPhatItdLocalizer(table_az, table_itd, FS, n_fft=512, upsample=1)
    spec = np.fft.rfft(np.random.default_rng(3).standard_normal(8192))
    delayed = np.fft.irfft(spec * np.exp(-2j * np.pi * np.fft.rfftfreq(8192) * 2.5), 8192)
    x = np.stack([np.fft.irfft(spec, 8192), delayed])
    itd = loc.estimate_itd(x)
    assert itd.shape == (1,)
    assert itd[0] * FS == pytest.approx(2.5, abs=0.1)  # parabolic refinement between integer lags
    expected = np.arcsin(2.5 / 8.0)
    assert abs(loc.localize(x)[0] - expected) <= math.radians(1.0)


def test_srp_phat_with_hrir_steering_on_kemar(kemar, binaural_clips):
    az, x = binaural_clips
    loc = SrpPhatLocalizer.from_hrtf(kemar, n_fft=512)
    est = loc.localize(x)
    assert est.shape == az.shape
    err = np.degrees(angular_errors(est, az))
    assert err.max() <= 5.0  # measured: all 37 exact
    est_az, est_el = loc.localize_direction(x[:3])
    assert np.allclose(est_el, 0.0) and np.array_equal(est_az, est[:3])
    assert loc.localize(x[4])[0] == est[4]  # single (C, T) clip == batch item


def test_music_binaural_on_kemar(kemar, binaural_clips):
    az, x = binaural_clips
    est = MusicLocalizer.from_hrtf(kemar, n_fft=512, freq_range=(200.0, 6000.0)).localize(x)
    assert np.degrees(angular_errors(est, az)).max() <= 5.0  # measured: all 37 exact


MUSIC_AZ = [0.0, 37.0, 90.0, 133.0, 179.0, -62.0, -150.0]


def test_music_and_srp_on_circular_array_plane_waves():
    array = circular_array(4, 0.10)
    grid = np.radians(np.arange(-180.0, 180.0, 1.0))
    az, x = plane_waves(array, MUSIC_AZ)
    music = MusicLocalizer.from_array(array, grid, 0.0, FS, n_fft=512, freq_range=(300.0, 3500.0))
    srp = SrpPhatLocalizer.from_array(array, grid, 0.0, FS, n_fft=512, freq_range=(300.0, 3500.0))
    for loc in (music, srp):
        err = np.degrees(angular_errors(loc.localize(x), az))
        assert err.max() <= 5.0, err


def test_guards(kemar):
    with pytest.raises(ValueError, match="same non-zero length"):
        GccPhatItdLocalizer([0.0, 0.1], [0.0], FS)
    with pytest.raises(ValueError, match="frontal half-plane"):
        GccPhatItdLocalizer([0.0, math.radians(120.0)], [0.0, 1e-4], FS)
    with pytest.raises(ValueError, match="finite"):
        GccPhatItdLocalizer([0.0], [math.nan], FS)
    with pytest.raises(ValueError, match="sample_rate"):
        GccPhatItdLocalizer([0.0], [0.0], 0.0)
    loc = GccPhatItdLocalizer.from_hrtf(kemar)
    with pytest.raises(ValueError, match="expected 2 channels"):
        loc.localize(np.zeros((3, 4000)))
    with pytest.raises(ValueError, match="shape"):
        loc.localize(np.zeros(4000))
    with pytest.raises(TypeError, match="float"):
        loc.localize(np.zeros((2, 4000), dtype=np.int16))
    with pytest.raises(ValueError, match="step_deg"):
        frontal_azimuths(0.0)
    array = circular_array(4, 0.10)
    grid = np.radians(np.arange(0.0, 360.0, 10.0))
    with pytest.raises(ValueError, match="num_sources"):
        MusicLocalizer.from_array(array, grid, 0.0, FS, num_sources=4)
    with pytest.raises(ValueError, match="candidate directions"):
        MusicLocalizer(torch.zeros(5, 4, 257, dtype=torch.complex128), grid, 0.0, FS, 512)
    with pytest.raises(TypeError, match="complex"):
        SrpPhatLocalizer(torch.zeros(36, 4, 257), grid, 0.0, FS, 512)
    with pytest.raises(ValueError, match="bins"):
        MusicLocalizer(torch.zeros(36, 4, 129, dtype=torch.complex128), grid, 0.0, FS, 512)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        MusicLocalizer.from_array(array, [], 0.0, FS)
    with pytest.raises(ValueError, match="finite"):
        SrpPhatLocalizer.from_array(array, [math.nan], 0.0, FS)
    music = MusicLocalizer.from_array(array, grid, 0.0, FS)
    with pytest.raises(ValueError, match="expected 4 channels"):
        music.localize(np.zeros((2, 4000)))
    with pytest.raises(ValueError, match="shape"):
        music.localize(np.zeros((1, 1, 4, 4000)))
