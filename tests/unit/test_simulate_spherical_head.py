import time

import numpy as np
import pytest
from scipy import signal as sps

from spatialrep.geometry.coordinates import SPEED_OF_SOUND
from spatialrep.simulate.diffuse import diffuse_field
from spatialrep.simulate.hrtf import arrival_times
from spatialrep.simulate.receivers import Receiver
from spatialrep.simulate.spherical_head import SphericalHead, make_synthetic_subjects, sphere_spec

FS = 16000
A = 0.0875


def xcorr_lead(irs: np.ndarray, fs: int, upsample: int = 16) -> np.ndarray:
    """Time by which the left ear leads the right, from the peak of their cross-correlation (test's own)."""
    up = sps.resample_poly(irs, upsample, 1, axis=-1)
    n = up.shape[-1]
    lags = np.arange(-n + 1, n)
    leads = [lags[np.argmax(np.correlate(pair[1], pair[0], mode="full"))] for pair in up.reshape(-1, 2, n)]
    return np.array(leads).reshape(up.shape[:-2]) / (upsample * fs)


def horizontal(deg) -> tuple[np.ndarray, np.ndarray]:
    az = np.deg2rad(np.asarray(deg, dtype=np.float64))
    return az, np.zeros_like(az)


def spectrum_at(irs: np.ndarray, fs: int, freq: float, nfft: int = 1 << 14) -> np.ndarray:
    """Complex response at ``freq`` Hz."""
    k = round(freq * nfft / fs)
    return np.fft.rfft(irs, nfft, axis=-1)[..., k]


def test_is_a_binaural_receiver():
    head = SphericalHead(FS)
    assert isinstance(head, Receiver)
    assert head.kind == "binaural" and head.num_channels == 2 and head.sample_rate == FS
    assert head.name == "sphere"
    irs = head.impulse_responses(*horizontal([0.0, 90.0, 200.0]))
    assert irs.shape == (3, 2, head.taps) and irs.dtype == np.float64
    az, el = head.diffuse_directions(50)
    assert az.shape == el.shape == (50,)


def test_low_frequency_limits():
    """Far below ka = 1 the sphere is transparent, and the ITD is Kuhn's 3 (a/c) sin(azimuth)."""
    head = SphericalHead(48000, ear_azimuth_deg=(90.0, -90.0))
    rng = np.random.default_rng(0)
    irs = head.impulse_responses(rng.uniform(-np.pi, np.pi, 20), rng.uniform(-1.5, 1.5, 20))
    np.testing.assert_allclose(irs.sum(axis=-1), 1.0, atol=2e-3)  # DC gain 1
    az = np.deg2rad([10.0, 30.0, 60.0, 90.0])
    h = spectrum_at(head.impulse_responses(az, np.zeros(4)), 48000, 100.0)
    phase_itd = -np.angle(h[:, 1] * np.conj(h[:, 0])) / (2 * np.pi * 100.0)
    np.testing.assert_allclose(phase_itd, 3 * A / SPEED_OF_SOUND * np.sin(az), rtol=0.02)


def test_high_frequency_pressure_doubling_and_bright_spot():
    head = SphericalHead(FS)  # ears at ±100°
    irs = head.impulse_responses(*horizontal([100.0, -35.0, -80.0]))
    gain_db = 20 * np.log10(np.abs(spectrum_at(irs, FS, 6000.0)))  # ka ≈ 9.6
    assert 5.0 < gain_db[0, 0] < 6.5  # facing the source: about +6 dB
    assert gain_db[1, 0] < -3.0  # 135° from the source: shadowed
    assert gain_db[2, 0] > gain_db[1, 0] + 3.0  # 180°: the bright spot behind the sphere


def test_source_on_the_left_is_louder_and_earlier_on_the_left():
    head = SphericalHead(FS)
    irs = head.impulse_responses(*horizontal([90.0, -90.0, 45.0, 135.0]))
    energy = np.sum(irs**2, axis=-1)
    assert np.all(energy[[0, 2, 3], 0] > 2 * energy[[0, 2, 3], 1])
    assert energy[1, 1] > 2 * energy[1, 0]
    lead = xcorr_lead(irs, FS)
    assert lead[0] > 0.5e-3 and lead[1] < -0.5e-3 and lead[2] > 0.2e-3 and lead[3] > 0.2e-3
    np.testing.assert_array_less(0.2e-3, head.itd(*horizontal([90.0, 45.0, 135.0])))


def test_itd_grows_with_lateral_angle_and_is_front_back_symmetric():
    head = SphericalHead(FS, ear_azimuth_deg=(90.0, -90.0))
    degrees = np.arange(0.0, 91.0, 5.0)
    for itd in (head.itd(*horizontal(degrees)), xcorr_lead(head.impulse_responses(*horizontal(degrees)), FS)):
        assert itd[0] == pytest.approx(0.0, abs=1e-9)
        assert np.all(np.diff(itd) > 0)
        assert 0.62e-3 < itd[-1] < 0.8e-3
    # Woodworth: (a / c) (θ + sin θ) for a source at lateral angle θ.
    theta = np.deg2rad(degrees)
    np.testing.assert_allclose(head.itd(*horizontal(degrees)), A / SPEED_OF_SOUND * (theta + np.sin(theta)))
    # Front/back symmetry of the whole response, hence of every ITD.
    front, back = (
        head.impulse_responses(*horizontal(degrees)),
        head.impulse_responses(*horizontal(180 - degrees)),
    )
    np.testing.assert_allclose(front, back, atol=1e-12)
    np.testing.assert_allclose(
        head.itd(*horizontal(degrees)), head.itd(*horizontal(180 - degrees)), atol=1e-15
    )


def test_default_ears_are_set_back():
    """Ears at ±100°: the ITD peaks near 80° (far ear in the bright spot) and is front/back asymmetric."""
    head = SphericalHead(FS)
    degrees = np.arange(0.0, 181.0, 5.0)
    itd = head.itd(*horizontal(degrees))
    assert np.all(np.diff(itd[:17]) > 0)  # 0° … 80°
    assert degrees[np.argmax(itd)] == 80.0 and 0.6e-3 < itd.max() < 0.7e-3
    assert abs(itd[6] - itd[30]) > 10e-6  # 30° vs 150°: the ears sit behind the centre
    lead = xcorr_lead(head.impulse_responses(*horizontal(degrees)), FS)
    assert abs(degrees[np.argmax(lead)] - 80.0) <= 10.0
    # Every direction stays within ±0.8 ms; max_delay bounds both estimates.
    rng = np.random.default_rng(1)
    az, el = rng.uniform(-np.pi, np.pi, 400), np.arcsin(rng.uniform(-1, 1, 400))
    assert np.max(np.abs(head.itd(az, el))) < 0.8e-3
    assert 0.6e-3 < head.max_delay < 0.8e-3
    assert np.max(np.abs(head.itd(az, el, method="xcorr"))) <= head.max_delay


def test_left_right_mirror():
    head = SphericalHead(FS)
    rng = np.random.default_rng(2)
    az, el = rng.uniform(-np.pi, np.pi, 30), rng.uniform(-1.2, 1.2, 30)
    np.testing.assert_allclose(
        head.impulse_responses(az, el), head.impulse_responses(-az, el)[:, ::-1], atol=1e-12
    )
    np.testing.assert_allclose(head.itd(az, el), -head.itd(-az, el), atol=1e-15)


def test_itd_scales_with_head_radius():
    az, el = horizontal([20.0, 60.0, 90.0, 150.0])
    small, large = SphericalHead(FS, 0.06), SphericalHead(FS, 0.12)
    np.testing.assert_allclose(large.itd(az, el), 2 * small.itd(az, el))
    ratio = xcorr_lead(large.impulse_responses(az, el), FS) / xcorr_lead(small.impulse_responses(az, el), FS)
    np.testing.assert_allclose(ratio, 2.0, rtol=0.15)


def test_onset_is_the_centre_arrival():
    fs = 48000
    head = SphericalHead(fs, ear_azimuth_deg=(90.0, -90.0))
    irs = head.impulse_responses(*horizontal([0.0, 90.0]))
    arrival = arrival_times(irs, fs) * fs  # samples
    # Frontal source: both ears lie on the wavefront through the centre.
    np.testing.assert_allclose(arrival[0], head.onset, atol=0.5)
    # Lateral source: the near ear hears it a / c earlier than the centre.
    assert arrival[1, 0] == pytest.approx(head.onset - A / SPEED_OF_SOUND * fs, abs=0.5)
    # Nothing before the earliest possible arrival, little after the stored tail.
    early = head.onset - int(np.ceil(A / SPEED_OF_SOUND * fs)) - 8
    energy = np.sum(irs**2, axis=-1)
    assert np.all(np.sum(irs[..., :early] ** 2, axis=-1) < 1e-3 * energy)


def test_resampling_preserves_itd_within_a_sample():
    degrees = [-150.0, -90.0, -30.0, 0.0, 15.0, 70.0, 90.0, 120.0]
    low = xcorr_lead(SphericalHead(FS).impulse_responses(*horizontal(degrees)), FS)
    high = xcorr_lead(SphericalHead(48000).impulse_responses(*horizontal(degrees)), 48000)
    assert np.max(np.abs(low - high)) < 1 / FS


def test_batch_equals_single_and_is_fast():
    head = SphericalHead(FS)
    rng = np.random.default_rng(3)
    az, el = rng.uniform(-np.pi, np.pi, 5000), np.arcsin(rng.uniform(-1, 1, 5000))
    start = time.perf_counter()
    batch = head.impulse_responses(az, el)
    assert time.perf_counter() - start < 2.0  # thousands of directions per room response
    for i in (0, 1234, 4999):
        np.testing.assert_allclose(
            head.impulse_responses(az[i : i + 1], el[i : i + 1])[0], batch[i], atol=1e-12
        )
    assert np.all(np.isfinite(batch))


def test_diffuse_field_coherence():
    head = SphericalHead(FS)
    field = diffuse_field(head, 16000, np.random.default_rng(0), num_directions=256)
    f, cxy = sps.coherence(field[0], field[1], fs=FS, nperseg=512)
    assert np.mean(cxy[(f > 50) & (f < 250)]) > 0.7  # ~ sinc²(k d) with d the ear distance
    assert np.mean(cxy[(f > 3000) & (f < 6000)]) < 0.15


def test_invalid_heads():
    for kwargs, match in [
        ({"head_radius": 0.0}, "head_radius"),
        ({"ear_azimuth_deg": (-100.0, 100.0)}, "left ear"),
        ({"ear_azimuth_deg": (100.0,)}, "pairs"),
        ({"ear_elevation_deg": (0.0, 95.0)}, "ear_elevation_deg"),
        ({"taps": 5}, "taps must exceed onset"),
        ({"speed_of_sound": -1.0}, "speed_of_sound"),
    ]:
        with pytest.raises(ValueError, match=match):
            SphericalHead(FS, **kwargs)
    with pytest.raises(ValueError, match="sample_rate"):
        SphericalHead(0)
    head = SphericalHead(FS)
    with pytest.raises(ValueError, match="equal length"):
        head.impulse_responses(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        head.impulse_responses(np.array([np.inf]), np.zeros(1))
    with pytest.raises(ValueError, match="unknown ITD method 'gcc'"):
        head.itd(np.zeros(1), np.zeros(1), method="gcc")


def test_spec_round_trip():
    assert sphere_spec() == "sphere"
    head = SphericalHead(FS, 0.09, (95.0, -101.5), (-5.0, 0.0))
    assert head.name == "sphere:radius=0.09,left_azimuth=95,right_azimuth=-101.5,left_elevation=-5"
    rebuilt = SphericalHead.from_spec(head.name, FS)
    assert rebuilt.name == head.name
    np.testing.assert_array_equal(
        rebuilt.impulse_responses(*horizontal([33.0])), head.impulse_responses(*horizontal([33.0]))
    )
    assert SphericalHead(FS, name="alice").name == "alice"
    with pytest.raises(ValueError, match="valid keys: radius, left_azimuth"):
        SphericalHead.from_spec("sphere:size=3", FS)
    with pytest.raises(ValueError, match="needs a number"):
        SphericalHead.from_spec("sphere:radius=big", FS)
    with pytest.raises(ValueError, match="twice"):
        SphericalHead.from_spec("sphere:radius=0.1,radius=0.09", FS)


def test_synthetic_subjects():
    subjects = make_synthetic_subjects(20, np.random.default_rng(7), radius_range=(0.08, 0.09))
    again = make_synthetic_subjects(20, np.random.default_rng(7), radius_range=(0.08, 0.09))
    other = make_synthetic_subjects(20, np.random.default_rng(8), radius_range=(0.08, 0.09))
    assert [s.name for s in subjects] == [s.name for s in again]
    assert [s.name for s in subjects] != [s.name for s in other]
    assert len({s.name for s in subjects}) == 20
    assert len({s.taps for s in subjects}) == 1
    radii = np.array([s.head_radius for s in subjects])
    assert np.all((radii >= 0.08) & (radii <= 0.09)) and np.ptp(radii) > 0.005
    ears = np.array([s.ear_azimuth_deg for s in subjects])
    assert np.all(np.abs(ears - [100.0, -100.0]) <= 5.0) and np.std(ears[:, 0]) > 1.0
    az, el = horizontal([30.0, 90.0])
    np.testing.assert_array_equal(subjects[3].impulse_responses(az, el), again[3].impulse_responses(az, el))
    # Each name rebuilds its subject.
    rebuilt = SphericalHead.from_spec(subjects[5].name, FS)
    taps = min(rebuilt.taps, subjects[5].taps)
    np.testing.assert_allclose(
        rebuilt.impulse_responses(az, el)[..., :taps],
        subjects[5].impulse_responses(az, el)[..., :taps],
        atol=1e-12,
    )
    # The ITD follows each subject's size.
    itd = np.array([s.itd(*horizontal([80.0]))[0] for s in subjects])
    assert np.corrcoef(itd, radii)[0, 1] > 0.9
    assert make_synthetic_subjects(0, np.random.default_rng(0)) == []
    with pytest.raises(ValueError, match="radius_range"):
        make_synthetic_subjects(2, np.random.default_rng(0), radius_range=(0.1, 0.05))
    with pytest.raises(ValueError, match="ear_angle_jitter_deg"):
        make_synthetic_subjects(2, np.random.default_rng(0), ear_angle_jitter_deg=-1.0)
    with pytest.raises(ValueError, match="num"):
        make_synthetic_subjects(-1, np.random.default_rng(0))
