"""SRP-PHAT: steering vectors, plane-wave and HRTF localization, map properties and guards."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from spatialrep.features import functional as F
from spatialrep.features.srp import (
    SRPPhat,
    srp_bins,
    srp_localize,
    srp_phat,
    srp_phat_from_stft,
    steering_from_array,
    steering_from_hrirs,
)
from spatialrep.geometry import SPEED_OF_SOUND, circular_array, spherical_to_cartesian

FS = 16000
N_FFT = 512
HOP = 256
GRID = np.deg2rad(np.arange(0.0, 360.0, 1.0))


def plane_wave(
    positions: np.ndarray,
    azimuth: float,
    elevation: float = 0.0,
    n: int = 16000,
    seed: int = 0,
    snr_db: float | None = None,
) -> np.ndarray:
    """White noise arriving as a plane wave: fractional delays applied exactly in the frequency domain."""
    rng = np.random.default_rng(seed)
    tau = -(positions @ spherical_to_cartesian(azimuth, elevation)) / SPEED_OF_SOUND
    spectrum = np.fft.rfft(rng.standard_normal(2 * n))
    freqs = np.fft.rfftfreq(2 * n, 1 / FS)
    x = np.stack([np.fft.irfft(spectrum * np.exp(-2j * np.pi * freqs * t))[:n] for t in tau])
    if snr_db is not None:
        x += 10 ** (-snr_db / 20) * rng.standard_normal(x.shape)
    return x


def test_steering_from_array_is_plane_wave_phase():
    array = circular_array(4, 0.10)
    st = steering_from_array(array, GRID[:10], 0.0, FS, N_FFT)
    assert st.shape == (10, 4, N_FFT // 2 + 1) and st.dtype == torch.complex128
    torch.testing.assert_close(st.abs(), torch.ones_like(st.abs()))
    # Mic 0 sits at +x (front): a wave from the front reaches it r / c early, so A = exp(+2j pi f r / c).
    f = np.arange(N_FFT // 2 + 1) * FS / N_FFT
    expected = np.exp(2j * np.pi * f * 0.05 / SPEED_OF_SOUND)
    np.testing.assert_allclose(st[0, 0].numpy(), expected, atol=1e-12)
    # Broadcasting a scalar elevation and a plain (M, 3) array give the same result.
    st2 = steering_from_array(array.positions.tolist(), GRID[:10], np.zeros(10), FS, N_FFT)
    torch.testing.assert_close(st, st2)


@pytest.mark.parametrize("azimuth_deg", [0.0, 47.0, 133.0, 200.0, 301.0])
def test_plane_wave_on_circular_array_is_localized(azimuth_deg):
    array = circular_array(4, 0.10)
    x = torch.from_numpy(plane_wave(array.positions, np.deg2rad(azimuth_deg), snr_db=10.0))
    st = steering_from_array(array, GRID, 0.0, FS, N_FFT)
    idx = int(srp_localize(x, st, FS, N_FFT, HOP, freq_range=(300.0, 4000.0)))
    assert abs((np.rad2deg(GRID[idx]) - azimuth_deg + 180) % 360 - 180) <= 1.0
    # Off-grid fractional directions land on the nearest grid point.
    x = torch.from_numpy(plane_wave(array.positions, np.deg2rad(azimuth_deg + 0.3)))
    idx = int(srp_localize(x.float(), st, FS, N_FFT, HOP, freq_range=(300.0, 4000.0)))
    assert abs((np.rad2deg(GRID[idx]) - azimuth_deg + 180) % 360 - 180) <= 1.0


def test_map_properties_average_batch_and_module():
    array = circular_array(4, 0.10)
    st = steering_from_array(array, GRID[::10], 0.0, FS, N_FFT)
    x = torch.from_numpy(
        np.stack([plane_wave(array.positions, a, n=8000, seed=s) for s, a in enumerate([0.5, 2.0])])
    )
    per_frame = srp_phat(x, st, FS, N_FFT, HOP)
    frames = 1 + 8000 // HOP
    assert per_frame.shape == (2, 36, frames) and per_frame.dtype == torch.float64
    assert float(per_frame.abs().max()) <= 1.0 + 1e-12
    averaged = srp_phat(x, st, FS, N_FFT, HOP, average=True)
    torch.testing.assert_close(averaged, per_frame.mean(dim=-1))
    torch.testing.assert_close(srp_phat(x[1], st, FS, N_FFT, HOP), per_frame[1])
    module = SRPPhat(st, FS, N_FFT, HOP)
    torch.testing.assert_close(module(x), per_frame)
    torch.testing.assert_close(module(x.float()), per_frame.float(), atol=1e-5, rtol=0)
    torch.testing.assert_close(module.localize(x), srp_localize(x, st, FS, N_FFT, HOP))
    spec = F.stft(x, N_FFT, HOP)
    torch.testing.assert_close(srp_phat_from_stft(spec, st), per_frame)
    # A perfectly matching pair of channels (identical signals, a broadside-free pair) scores 1.
    two = steering_from_array(np.zeros((2, 3)), GRID[:3], 0.0, FS, N_FFT)
    same = torch.from_numpy(np.random.default_rng(1).standard_normal(4000)).repeat(2, 1)
    torch.testing.assert_close(
        srp_phat(same, two, FS, N_FFT, HOP, average=True), torch.ones(3, dtype=torch.float64)
    )


def test_frequency_range_bins():
    assert srp_bins(FS, N_FFT) == (1, 257)
    assert srp_bins(FS, N_FFT, (300.0, 4000.0)) == (10, 129)  # 9.6 -> 10 .. 128 inclusive
    assert srp_bins(FS, N_FFT, (0.0, 8000.0)) == (0, 257)
    with pytest.raises(ValueError, match="freq_range"):
        srp_bins(FS, N_FFT, (4000.0, 300.0))
    with pytest.raises(ValueError, match="freq_range"):
        srp_bins(FS, N_FFT, (300.0, 9000.0))


def test_hrir_steering_localizes_binaural_noise():
    """Noise rendered through a measured KEMAR HRIR is found at that HRIR's direction."""
    from spatialrep.simulate.hrtf import load_default_hrtf

    hrtf = load_default_hrtf(FS)
    _, el = hrtf.directions
    horizontal = np.nonzero(np.abs(el) < 1e-6)[0]
    hrirs = hrtf.hrirs[horizontal]
    steering = steering_from_hrirs(torch.from_numpy(hrirs), N_FFT)
    assert steering.shape == (len(horizontal), 2, N_FFT // 2 + 1)
    torch.testing.assert_close(steering, torch.fft.rfft(torch.from_numpy(hrirs), n=N_FFT))
    rng = np.random.default_rng(2)
    src = rng.standard_normal(16000)
    for d in (0, 10, 30, 55):
        x = np.stack([scipy.signal.fftconvolve(src, hrirs[d, c])[:16000] for c in range(2)])
        x += 0.01 * rng.standard_normal(x.shape)
        assert int(srp_localize(torch.from_numpy(x), steering, FS, N_FFT, HOP)) == d


def test_synthetic_hrirs_delay_and_numpy_input():
    # Ideal "heads": ear 1 delayed by d samples relative to ear 0, for d = -6 .. 6.
    delays = np.arange(-6, 7)
    hrirs = np.zeros((len(delays), 2, 32))
    hrirs[:, 0, 10] = 1.0
    hrirs[np.arange(len(delays)), 1, 10 + delays] = 1.0
    steering = steering_from_hrirs(hrirs, N_FFT)
    src = np.random.default_rng(3).standard_normal(8000)
    for k, d in enumerate(delays):
        x = np.stack([src[20:7020], src[20 - d : 7020 - d]])
        assert int(srp_localize(torch.from_numpy(x), steering, FS, N_FFT, HOP)) == k


def test_guards():
    array = circular_array(4, 0.10)
    st = steering_from_array(array, GRID[:5], 0.0, FS, N_FFT)
    x = torch.zeros(4, 4000)
    with pytest.raises(ValueError, match=r"positions must have shape \(channels, 3\)"):
        steering_from_array(np.zeros((4, 2)), GRID, 0.0, FS, N_FFT)
    with pytest.raises(ValueError, match="1-D"):
        steering_from_array(array, np.zeros((2, 2)), 0.0, FS, N_FFT)
    with pytest.raises(ValueError, match="finite"):
        steering_from_array(array, [np.nan], 0.0, FS, N_FFT)
    with pytest.raises(ValueError, match="sample_rate"):
        steering_from_array(array, GRID, 0.0, 0, N_FFT)
    with pytest.raises(ValueError, match="speed_of_sound"):
        steering_from_array(array, GRID, 0.0, FS, N_FFT, speed_of_sound=0.0)
    with pytest.raises(ValueError, match=r"steering must have shape \(directions, 4, 257\)"):
        srp_phat(x, st[:, :3], FS, N_FFT, HOP)
    with pytest.raises(ValueError, match=r"steering must have shape \(directions, 4, 513\)"):
        srp_phat(x, st, FS, 1024, HOP)
    with pytest.raises(TypeError, match="complex"):
        srp_phat(x, st.real, FS, N_FFT, HOP)
    with pytest.raises(TypeError, match="complex"):
        SRPPhat(st.real, FS, N_FFT, HOP)
    with pytest.raises(ValueError, match="at least 2 channels"):
        srp_phat(torch.zeros(1, 4000), st[:, :1], FS, N_FFT, HOP)
    with pytest.raises(ValueError, match="expected 4 channels"):
        SRPPhat(st, FS, N_FFT, HOP)(torch.zeros(3, 4000))
    with pytest.raises(ValueError, match="bins="):
        srp_phat_from_stft(F.stft(x, N_FFT, HOP), st, bins=(10, 5))
    with pytest.raises(ValueError, match="invalid pair"):
        srp_phat(x, st, FS, N_FFT, HOP, pairs=[(0, 4)])
    with pytest.raises(ValueError, match="taps but n_fft"):
        steering_from_hrirs(np.zeros((3, 2, 600)), N_FFT)
    with pytest.raises(TypeError, match="real impulse responses"):
        steering_from_hrirs(torch.zeros(3, 2, 10, dtype=torch.complex64), N_FFT)
    with pytest.raises(ValueError, match=r"\(directions, channels, taps\)"):
        steering_from_hrirs(np.zeros((2, 10)), N_FFT)
    with pytest.raises(ValueError, match="NaN"):
        steering_from_hrirs(np.full((1, 2, 10), np.nan), N_FFT)
    # Silence is finite (PHAT of zero is zero).
    assert torch.isfinite(srp_phat(x, st, FS, N_FFT, HOP)).all()
