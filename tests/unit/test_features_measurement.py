"""SCE's time-averaged ILD/IPD measurement vector: size, bin ranges, a numpy reference and its properties."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from spatialrep.features.measurement import (
    MeasurementVector,
    cosine_window,
    measurement_bin_ranges,
    measurement_vector_dim,
    sce_measurement_vector,
)


def _noise(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def np_measurement(x: np.ndarray, fs: float, n_fft: int, hop: int, floor: float = 1e-10) -> np.ndarray:
    """The paper's eqs. (1)-(3), written out per frame: full frames only, cosine window, half-open ranges."""
    win = scipy.signal.windows.cosine(n_fft)
    count = 1 + (x.shape[-1] - n_fft) // hop
    spec = np.stack(
        [np.fft.rfft(x[:, t * hop : t * hop + n_fft] * win, axis=-1) for t in range(count)], axis=-1
    )  # (2, freq, frames)
    k1, k2 = round(200 * n_fft / fs + 1e-9), round(7000 * n_fft / fs + 1e-9)
    k3, k4 = round(200 * n_fft / fs + 1e-9), round(2500 * n_fft / fs + 1e-9)
    left, right = spec[0], spec[1]
    ild = 10 * np.log10((np.abs(left) ** 2 + floor) / (np.abs(right) ** 2 + floor))
    a = ild[k1:k2].mean(axis=-1)
    phase = np.angle(left / right)
    p = np.exp(1j * phase)[k3:k4].mean(axis=-1)
    ipd = np.empty(2 * (k4 - k3))
    ipd[0::2], ipd[1::2] = p.real, p.imag
    return np.concatenate([a, ipd])


def test_dimension_is_729_at_16k_with_1024_point_dft():
    assert measurement_vector_dim(16000, 1024) == 729
    assert measurement_vector_dim() == 729
    # f * K / fs: 200 -> 12.8 -> 13, 7000 -> 448, 2500 -> 160; D = (448 - 13) + 2 (160 - 13).
    assert measurement_bin_ranges(16000, 1024) == ((13, 448), (13, 160))
    x = torch.from_numpy(_noise(2, 16000))
    assert sce_measurement_vector(x).shape == (729,)


def test_bin_ranges_follow_rounding_at_other_settings():
    # 8 kHz, 512: 200 -> 12.8 -> 13, 4000 (clipped range) -> 256, 2500 -> 160.
    assert measurement_bin_ranges(8000, 512, ild_range=(200.0, 4000.0)) == ((13, 256), (13, 160))
    assert measurement_vector_dim(8000, 512, ild_range=(200.0, 4000.0)) == 243 + 2 * 147
    # Ties round up (the paper's "closest integer"): at 250 Hz per bin, 125 Hz -> 1 and 375 Hz -> 2.
    assert measurement_bin_ranges(16000, 64, ild_range=(125.0, 375.0), ipd_range=(0.0, 250.0)) == (
        (1, 2),
        (0, 1),
    )


def test_cosine_window_is_scipys():
    np.testing.assert_allclose(
        cosine_window(1024, dtype=torch.float64).numpy(), scipy.signal.windows.cosine(1024)
    )


@pytest.mark.parametrize(("fs", "n_fft"), [(16000, 1024), (16000, 512)])
def test_matches_numpy_reference(fs, n_fft):
    rng = np.random.default_rng(3)
    src = rng.standard_normal(20000)
    # A level difference and a delay between the ears, plus independent noise so every bin is non-trivial.
    x = np.stack([src[5:19005], 0.5 * src[:19000]]) + 0.05 * rng.standard_normal((2, 19000))
    ours = sce_measurement_vector(torch.from_numpy(x), fs, n_fft).numpy()
    ref = np_measurement(x, fs, n_fft, n_fft // 4)
    assert ours.shape == ref.shape == (measurement_vector_dim(fs, n_fft),)
    np.testing.assert_allclose(ours, ref, atol=1e-9)
    # float32 agrees with the float64 reference to single precision.
    ours32 = sce_measurement_vector(torch.from_numpy(x).float(), fs, n_fft).numpy()
    np.testing.assert_allclose(ours32, ref, atol=2e-4)


def test_layout_ild_then_interleaved_phasor_and_signs():
    (k1, k2), (k3, k4) = measurement_bin_ranges()
    n_ild = k2 - k1
    src = _noise(20000, seed=1)
    # Left louder by 6 dB and earlier by 2 samples (a source on the left).
    x = torch.from_numpy(np.stack([src[2:18002], 0.5 * src[:18000]]))
    v = sce_measurement_vector(x)
    ild = v[:n_ild]
    re, im = v[n_ild::2], v[n_ild + 1 :: 2]
    # Windowing a shifted frame blurs single bins a little; the average is the 6.02 dB gain.
    np.testing.assert_allclose(ild.numpy(), 20 * np.log10(2.0), atol=0.4)
    assert abs(float(ild.mean()) - 20 * np.log10(2.0)) < 0.02
    # Left leads by tau = 2 samples: IPD = +2 pi f tau, so the phasor is exp(+j 2 pi k 2 / K).
    k = np.arange(k3, k4)
    np.testing.assert_allclose(re.numpy(), np.cos(2 * np.pi * k * 2 / 1024), atol=0.02)
    np.testing.assert_allclose(im.numpy(), np.sin(2 * np.pi * k * 2 / 1024), atol=0.02)
    assert float(im[:20].mean()) > 0


def test_swapping_ears_negates_ild_and_conjugates_phasor():
    x = torch.from_numpy(_noise(2, 12000, seed=4))
    n_ild = 435
    v, w = sce_measurement_vector(x), sce_measurement_vector(x.flip(0))
    torch.testing.assert_close(w[:n_ild], -v[:n_ild])
    torch.testing.assert_close(w[n_ild::2], v[n_ild::2])
    torch.testing.assert_close(w[n_ild + 1 :: 2], -v[n_ild + 1 :: 2])


def test_identical_ears_and_silence():
    mono = torch.from_numpy(_noise(1, 8000, seed=5))
    v = sce_measurement_vector(mono.repeat(2, 1))
    zeros, ones = torch.zeros(435, dtype=v.dtype), torch.ones(147, dtype=v.dtype)
    torch.testing.assert_close(v[:435], zeros, atol=1e-9, rtol=0)
    torch.testing.assert_close(v[435::2], ones, atol=1e-9, rtol=0)
    torch.testing.assert_close(v[436::2], zeros[:147], atol=1e-9, rtol=0)
    silent = sce_measurement_vector(torch.zeros(2, 4000))
    assert torch.isfinite(silent).all() and float(silent.abs().max()) == 0.0


def test_batch_module_and_dtype_consistency():
    x = torch.from_numpy(_noise(3, 2, 6000, seed=6))
    batched = sce_measurement_vector(x)
    assert batched.shape == (3, 729) and batched.dtype == torch.float64
    for b in range(3):
        torch.testing.assert_close(batched[b], sce_measurement_vector(x[b]))
    module = MeasurementVector()
    assert module.dim == 729
    torch.testing.assert_close(module(x), batched)
    assert module(x.float()).dtype == torch.float32
    # center=True pads, so it differs but keeps the size; an explicit hop changes the frames only.
    assert sce_measurement_vector(x, center=True).shape == (3, 729)
    assert sce_measurement_vector(x, hop_length=512).shape == (3, 729)
    assert sce_measurement_vector(x, window="hann").shape == (3, 729)


def test_guards():
    x = torch.from_numpy(_noise(2, 4000))
    with pytest.raises(ValueError, match="2 channels"):
        sce_measurement_vector(torch.zeros(3, 4000))
    with pytest.raises(ValueError, match="2 channels"):
        MeasurementVector()(torch.zeros(1, 4000))
    with pytest.raises(ValueError, match="n_fft=1024 samples"):
        sce_measurement_vector(torch.zeros(2, 1000))
    with pytest.raises(TypeError, match="float32 or float64"):
        sce_measurement_vector(torch.zeros(2, 4000, dtype=torch.int16))
    with pytest.raises(ValueError, match=r"unknown window 'kaiser'.*cosine"):
        sce_measurement_vector(x, window="kaiser")
    with pytest.raises(ValueError, match="ild_range"):
        sce_measurement_vector(x, ild_range=(7000.0, 200.0))
    with pytest.raises(ValueError, match="ipd_range"):
        measurement_bin_ranges(16000, 1024, ipd_range=(200.0, 9000.0))
    with pytest.raises(ValueError, match="covers no FFT bin"):
        measurement_bin_ranges(16000, 64, ipd_range=(200.0, 210.0))
    with pytest.raises(ValueError, match="sample_rate"):
        measurement_vector_dim(0, 1024)
    with pytest.raises(ValueError, match="give hop_length"):
        sce_measurement_vector(x, n_fft=2)
    with pytest.raises(ValueError, match="give hop_length"):
        MeasurementVector(n_fft=2)
    with pytest.raises(ValueError, match="n_fft"):
        measurement_bin_ranges(16000, 0)
