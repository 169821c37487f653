import warnings

import numpy as np
import pytest
from scipy import signal as sps

from spatialrep.dsp import resample
from spatialrep.geometry.coordinates import angular_distance
from spatialrep.io.sofa import HRIRData
from spatialrep.simulate.diffuse import diffuse_field
from spatialrep.simulate.hrtf import (
    HRTFGridWarning,
    HRTFSet,
    arrival_times,
    itd_xcorr,
    load_default_hrtf,
)
from spatialrep.simulate.receivers import Receiver
from spatialrep.simulate.spherical_head import SphericalHead

FS = 16000


@pytest.fixture(scope="module")
def kemar() -> HRTFSet:
    return load_default_hrtf(FS)


@pytest.fixture(scope="module")
def kemar_native() -> HRTFSet:
    return load_default_hrtf(44100)


def xcorr_lead(irs: np.ndarray, fs: int, upsample: int = 16) -> np.ndarray:
    """Time by which the left ear leads the right, from the peak of their cross-correlation (test's own)."""
    up = sps.resample_poly(irs, upsample, 1, axis=-1)
    left, right = up[..., 0, :], up[..., 1, :]
    n = up.shape[-1]
    lags = np.arange(-n + 1, n)
    out = []
    for lft, rgt in zip(left.reshape(-1, n), right.reshape(-1, n)):
        corr = np.correlate(rgt, lft, mode="full")  # peak at the delay of the right ear
        out.append(lags[np.argmax(corr)])
    return np.array(out).reshape(left.shape[:-1]) / (upsample * fs)


def horizontal(deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    az = np.deg2rad(np.asarray(deg, dtype=np.float64))
    return az, np.zeros_like(az)


def test_is_a_binaural_receiver(kemar):
    assert isinstance(kemar, Receiver)
    assert kemar.kind == "binaural" and kemar.num_channels == 2
    assert kemar.name == "mit_kemar_normal_pinna"
    assert kemar.sample_rate == FS
    assert kemar.num_directions == 710
    assert kemar.taps == 186  # 512 taps at 44.1 kHz
    irs = kemar.impulse_responses(*horizontal([0.0, 45.0, -120.0]))
    assert irs.shape == (3, 2, 186) and irs.dtype == np.float64


def test_nearest_returns_the_measured_response_exactly(kemar, kemar_native):
    data = kemar_native.data
    idx = np.array([0, 17, 301, 709])
    np.testing.assert_array_equal(
        kemar_native.impulse_responses(data.azimuth[idx], data.elevation[idx]), data.hrirs[idx]
    )
    # At another rate: the resampled measurement, and a direction 1° away still maps to it.
    expected = resample(data.hrirs[idx], 44100, FS)
    np.testing.assert_array_equal(kemar.impulse_responses(data.azimuth[idx], data.elevation[idx]), expected)
    off = kemar.impulse_responses(data.azimuth[idx] + np.deg2rad(1.0), data.elevation[idx])
    np.testing.assert_array_equal(off, expected)


def test_interpolation_is_exact_on_the_grid_and_continuous(kemar):
    az, el = kemar.directions
    idx = np.arange(0, 710, 7)
    got = kemar.impulse_responses(az[idx], el[idx], interpolation="interpolated")
    np.testing.assert_allclose(got, kemar.hrirs[idx], atol=1e-12)
    # Approaching a measured direction, the interpolated response approaches the measured one.
    near = kemar.impulse_responses(*horizontal([30.01]), interpolation="interpolated")
    node = kemar.impulse_responses(*horizontal([30.0]))
    assert np.linalg.norm(near - node) < 1e-3 * np.linalg.norm(node)
    # Half-way between two measured azimuths: ITD half-way too, and the response differs from both.
    itd = kemar.itd(*horizontal([20.0, 22.5, 25.0]), interpolation="interpolated")
    assert itd[1] == pytest.approx(0.5 * (itd[0] + itd[2]), abs=2e-6)
    mid = kemar.impulse_responses(*horizontal([22.5]), interpolation="interpolated")
    for ends in kemar.impulse_responses(*horizontal([20.0, 25.0])):
        assert np.linalg.norm(mid[0] - ends) > 0.05 * np.linalg.norm(ends)


def test_interpolation_beats_nearest_on_a_known_head():
    """A coarse (10°) grid sampled from the analytic sphere: interpolating recovers the sphere better."""
    fs = 48000
    sphere = SphericalHead(fs, ear_azimuth_deg=(90.0, -90.0))
    grid_el, grid_az = np.meshgrid(np.arange(-80.0, 81.0, 10.0), np.arange(-180.0, 180.0, 10.0))
    az, el = np.deg2rad(grid_az.ravel()), np.deg2rad(grid_el.ravel())
    data = HRIRData("coarse", fs, az, el, np.ones(az.size), sphere.impulse_responses(az, el))
    grid = HRTFSet(data, fs, max_grid_distance_deg=None)
    rng = np.random.default_rng(0)
    qaz, qel = rng.uniform(-np.pi, np.pi, 200), np.arcsin(rng.uniform(-0.9, 0.9, 200))
    truth = sphere.impulse_responses(qaz, qel)
    errors = {}
    for mode in ("nearest", "interpolated"):
        got = grid.impulse_responses(qaz, qel, interpolation=mode)
        errors[mode] = np.sum((got - truth) ** 2) / np.sum(truth**2)
    assert errors["interpolated"] < 0.01
    assert errors["interpolated"] < 0.02 * errors["nearest"]
    itd_error = np.abs(grid.itd(qaz, qel, interpolation="interpolated") - sphere.itd(qaz, qel))
    assert itd_error.max() < 10e-6  # ITD interpolated between 10° samples within 10 µs
    assert np.abs(grid.itd(qaz, qel) - sphere.itd(qaz, qel)).max() > 30e-6  # nearest: up to a 5° error

    # A grid that does not surround the head (upper hemisphere only) falls back to Shepard weights:
    # still exact on the grid and better than nearest.
    upper = el >= 0
    half = HRTFSet(
        HRIRData("upper", fs, az[upper], el[upper], np.ones(upper.sum()), data.hrirs[upper]),
        fs,
        max_grid_distance_deg=None,
    )
    np.testing.assert_allclose(
        half.impulse_responses(az[upper], el[upper], interpolation="interpolated"),
        data.hrirs[upper],
        atol=1e-12,
    )
    above = qel > 0.1
    errors = {
        mode: np.sum((half.impulse_responses(qaz[above], qel[above], interpolation=mode) - truth[above]) ** 2)
        for mode in ("nearest", "interpolated")
    }
    assert errors["interpolated"] < 0.6 * errors["nearest"]


@pytest.mark.parametrize("fs", [FS, 44100])
def test_source_on_the_left_is_louder_and_earlier_on_the_left(fs, kemar, kemar_native):
    hrtf = kemar if fs == FS else kemar_native
    irs = hrtf.impulse_responses(*horizontal([90.0, -90.0]))
    energy = np.sum(irs**2, axis=-1)
    assert energy[0, 0] > 4 * energy[0, 1]  # +90°: left louder by more than 6 dB
    assert energy[1, 1] > 4 * energy[1, 0]  # -90°: right louder
    lead = xcorr_lead(irs, fs)
    assert lead[0] > 0.4e-3 and lead[1] < -0.4e-3
    assert hrtf.itd(*horizontal([90.0]))[0] > 0.4e-3


def test_itd_grows_with_lateral_angle(kemar):
    degrees = np.arange(0.0, 91.0, 5.0)
    lead = xcorr_lead(kemar.impulse_responses(*horizontal(degrees)), FS)
    assert lead[0] == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.diff(lead) >= 0) and lead[-1] > lead[9] > 0.3e-3
    onset_itd = kemar.itd(*horizontal(degrees))
    # Onset ITD: strictly growing to 85°, then within one 44.1 kHz sample of its peak (pinna, ears set back).
    assert np.all(np.diff(onset_itd[:18]) > 0)
    assert onset_itd[-1] > onset_itd.max() - 1 / 44100
    assert 0.55e-3 < onset_itd.max() < 0.8e-3
    az, el = kemar.directions
    assert np.max(np.abs(kemar.itd(az, el))) < 0.8e-3
    assert np.max(np.abs(kemar.itd(az, el, method="xcorr"))) < 0.85e-3
    # Left/right mirror: the set is symmetric.
    np.testing.assert_allclose(kemar.itd(*horizontal(-degrees)), -onset_itd, atol=1e-9)


def test_max_delay_bounds_both_itds(kemar):
    az, el = kemar.directions
    assert 0.6e-3 < kemar.max_delay < 0.85e-3
    for method in ("onset", "xcorr"):
        assert np.max(np.abs(kemar.itd(az, el, method=method))) <= kemar.max_delay
    with pytest.raises(ValueError, match="unknown ITD method 'phase'; valid: onset, xcorr"):
        kemar.itd(az, el, method="phase")


def test_resampling_preserves_itd_within_a_sample(kemar, kemar_native):
    degrees = np.array([-150.0, -90.0, -45.0, -10.0, 0.0, 20.0, 60.0, 90.0, 135.0])
    az, el = horizontal(degrees)
    low = xcorr_lead(kemar.impulse_responses(az, el), FS)
    high = xcorr_lead(kemar_native.impulse_responses(az, el), 44100)
    assert np.max(np.abs(low - high)) < 1 / FS
    # The onset is one time, whatever the rate.
    assert abs(kemar.onset / FS - kemar_native.onset / 44100) <= 0.5 / FS + 0.5 / 44100


def test_onset_is_the_frontal_arrival(kemar_native):
    # Independent estimate: the frontal responses are silent before the onset and start right after it.
    front = kemar_native.impulse_responses(*horizontal([0.0]))[0]
    onset = kemar_native.onset
    assert kemar_native.onset_time == pytest.approx(0.85e-3, abs=0.05e-3)
    energy = np.sum(front**2)
    assert np.sum(front[:, : onset - 2] ** 2) < 1e-3 * energy
    assert np.max(np.abs(front[:, onset : onset + 3])) > 0.2 * np.max(np.abs(front))
    np.testing.assert_allclose(
        arrival_times(front, 44100), kemar_native.onset_time, atol=1e-9
    )  # symmetric head: both ears at the centre arrival


def test_coarse_grid_warns_once_per_call(kemar):
    with pytest.warns(HRTFGridWarning) as record:
        kemar.impulse_responses(np.deg2rad([0.0, 30.0, 60.0]), np.deg2rad([-80.0, -60.0, 0.0]))
    assert len(record) == 1
    message = str(record[0].message)
    assert "2 of 3 requested directions" in message
    assert "elevation -80.0°" in message and "40.0° from the nearest measurement" in message
    assert "elevation -40.0°" in message
    with pytest.warns(HRTFGridWarning, match="elevation -80.0°"):
        kemar.impulse_responses(np.zeros(1), np.deg2rad([-80.0]), interpolation="interpolated")


def test_no_warning_on_the_measured_region(kemar):
    az, el = kemar.directions
    rng = np.random.default_rng(3)
    qaz, qel = rng.uniform(-np.pi, np.pi, 500), np.deg2rad(rng.uniform(-40.0, 90.0, 500))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kemar.impulse_responses(az, el)
        kemar.impulse_responses(qaz, qel)  # between the measured rings: ≤ 5.6° from a measurement
        kemar.impulse_responses(qaz, qel, interpolation="interpolated")
        kemar.itd(np.zeros(1), np.deg2rad([-80.0]))  # ITD lookups never warn
        silent = HRTFSet(kemar.data, FS, max_grid_distance_deg=None)
        silent.impulse_responses(np.zeros(1), np.deg2rad([-80.0]))
    assert np.degrees(kemar.grid_distance(np.zeros(1), np.deg2rad([-80.0])))[0] == pytest.approx(40.0)


def test_warning_threshold_is_configurable(kemar):
    strict = HRTFSet(kemar.data, FS, max_grid_distance_deg=1.0)
    with pytest.warns(HRTFGridWarning, match="more than 1°"):
        strict.impulse_responses(*horizontal([2.5]))


def test_diffuse_directions_cover_the_measured_grid(kemar):
    az, el = kemar.diffuse_directions(500)
    assert az.shape == el.shape == (500,)
    np.testing.assert_allclose(kemar.grid_distance(az, el), 0.0, atol=1e-7)
    # Equal solid angle per direction: the upper hemisphere holds about half of them.
    assert 0.45 < np.mean(el > 0) < 0.55
    assert len(np.unique(np.round(np.column_stack([az, el]), 9), axis=0)) > 300
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        field = diffuse_field(kemar, 8000, np.random.default_rng(0), num_directions=128)
    assert field.shape == (2, 8000) and np.all(np.isfinite(field))
    # Interaural coherence of a diffuse field: high at low frequencies, low at high ones.
    f, cxy = sps.coherence(field[0], field[1], fs=FS, nperseg=512)
    assert np.mean(cxy[(f > 50) & (f < 300)]) > 0.6
    assert np.mean(cxy[(f > 3000) & (f < 7000)]) < 0.2


def test_itd_xcorr_sign_and_resolution():
    fs = 16000
    irs = np.zeros((2, 2, 64))
    irs[0, 0, 10], irs[0, 1, 15] = 1.0, 1.0  # left leads by 5 samples
    irs[1, 0, 20], irs[1, 1, 12] = 1.0, 1.0  # right leads by 8 samples
    np.testing.assert_allclose(itd_xcorr(irs, fs), [5 / fs, -8 / fs])


def test_arrival_times_of_delayed_impulses():
    fs = 48000
    delays = np.array([10.0, 10.25, 31.5])
    n = np.arange(128)
    pulses = np.sinc(n[None, :] - delays[:, None]) * np.hanning(128)[None, :] ** 0.1
    # A band-limited impulse crosses -20 dB of its peak a fixed fraction of a sample before its centre.
    times = arrival_times(pulses, fs) * fs
    np.testing.assert_allclose(np.diff(times), np.diff(delays), atol=0.01)
    with pytest.raises(ValueError, match="all zeros"):
        arrival_times(np.zeros((1, 16)), fs)


def test_bad_requests(kemar):
    with pytest.raises(ValueError, match="unknown interpolation 'cubic'; valid: nearest, interpolated"):
        kemar.impulse_responses(np.zeros(1), np.zeros(1), interpolation="cubic")
    with pytest.raises(ValueError, match="unknown interpolation"):
        HRTFSet(kemar.data, FS, interpolation="cubic")
    with pytest.raises(ValueError, match="equal length"):
        kemar.impulse_responses(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        kemar.impulse_responses(np.array([np.nan]), np.zeros(1))
    with pytest.raises(ValueError, match="sample_rate"):
        HRTFSet(kemar.data, 0)
    with pytest.raises(ValueError, match="max_grid_distance_deg"):
        HRTFSet(kemar.data, FS, max_grid_distance_deg=0.0)


def test_batch_equals_single_requests(kemar):
    rng = np.random.default_rng(5)
    az, el = rng.uniform(-np.pi, np.pi, 6), np.deg2rad(rng.uniform(-30.0, 80.0, 6))
    for mode in ("nearest", "interpolated"):
        batch = kemar.impulse_responses(az, el, interpolation=mode)
        for i in range(6):
            single = kemar.impulse_responses(az[i : i + 1], el[i : i + 1], interpolation=mode)
            np.testing.assert_allclose(single[0], batch[i], atol=1e-12)


def test_nearest_is_the_nearest_measured_direction(kemar):
    rng = np.random.default_rng(9)
    qaz, qel = rng.uniform(-np.pi, np.pi, 50), np.deg2rad(rng.uniform(-40.0, 90.0, 50))
    az, el = kemar.directions
    brute = np.argmin(angular_distance(qaz[:, None], qel[:, None], az[None, :], el[None, :]), axis=1)
    np.testing.assert_array_equal(kemar.impulse_responses(qaz, qel), kemar.hrirs[brute])
