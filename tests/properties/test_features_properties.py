"""Physical and algebraic properties of the spatial features (signs, symmetries, robustness, gradients)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spatialrep.features import functional as F
from spatialrep.geometry import SPEED_OF_SOUND, mic_pair, spherical_to_cartesian

SR = 16000
N_FFT = 256
HOP = 128

FAST = settings(max_examples=12, deadline=None)


def delayed_noise(delays: list[float], length: int = 8192, seed: int = 0) -> torch.Tensor:
    """White noise delayed by ``delays[c]`` samples per channel (fractional, circular, band-limited)."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(length))
    spectrum[-1] = 0.0  # a fractional delay has no real-valued Nyquist bin
    k = np.arange(spectrum.size)
    chans = [np.fft.irfft(spectrum * np.exp(-2j * np.pi * k * d / length), n=length) for d in delays]
    return torch.from_numpy(np.stack(chans))


def peak_lag(corr: torch.Tensor, lags: torch.Tensor) -> float:
    """Lag of the maximum of the frame-averaged correlation of the first pair."""
    return float(lags[corr[0].mean(dim=-1).argmax()])


# --- delays and signs


@FAST
@given(delay=st.integers(-12, 12), phat=st.booleans())
def test_gcc_peak_at_integer_delay_with_documented_sign(delay, phat):
    # Channel 0 delayed by `delay` relative to channel 1 -> peak at lag +delay for pair (0, 1).
    x = delayed_noise([float(delay), 0.0], seed=abs(delay))
    corr = F.gcc(x, N_FFT, HOP, max_lag=16, phat=phat)
    assert peak_lag(corr, F.gcc_lags(N_FFT, 16)) == delay
    # the mirrored pair peaks at the mirrored lag
    corr_swapped = F.gcc(x, N_FFT, HOP, max_lag=16, pairs=[(1, 0)], phat=phat)
    assert peak_lag(corr_swapped, F.gcc_lags(N_FFT, 16)) == -delay


@FAST
@given(delay=st.floats(-10.0, 10.0))
def test_gcc_phat_peak_at_fractional_delay(delay):
    x = delayed_noise([delay, 0.0], seed=7)
    for upsample in (8, 32):
        corr = F.gcc_phat(x, 512, 256, max_lag=12, upsample=upsample)
        lags = F.gcc_lags(512, 12, upsample=upsample)
        assert corr.shape[-2] == lags.numel() == 2 * 12 * upsample + 1
        # the interpolated peak is within half a grid step (plus a little for near-ties between two steps)
        assert abs(peak_lag(corr, lags) - delay) <= 0.5 / upsample + 0.005
    # without interpolation the peak is one of the two integer lags around the delay
    assert peak_lag(F.gcc_phat(x, 512, 256, max_lag=12), F.gcc_lags(512, 12)) in {
        np.floor(delay),
        np.ceil(delay),
    }


@FAST
@given(delay=st.floats(-3.0, 3.0).filter(lambda d: abs(d) > 0.2))
def test_ipd_follows_minus_two_pi_f_tau(delay):
    x = delayed_noise([delay, 0.0], seed=3)
    phase = F.ipd(x, 512, 256)[0]  # (freq, frames)
    freqs = torch.arange(phase.shape[0], dtype=torch.float64) / 512  # cycles per sample
    expected = -2 * torch.pi * freqs * delay
    error = torch.angle(torch.exp(1j * (phase - expected[:, None])))
    # windowing spreads energy between bins, so single bins scatter; the mean phasor is tight
    assert float(torch.cos(error[1:-1]).mean()) > 0.97


def test_binaural_plane_wave_from_the_left():
    """Geometry -> features: a source at azimuth +90 deg (left) hits mic 0 (left, +y) first and louder."""
    array = mic_pair(0.18)
    direction = spherical_to_cartesian(np.pi / 2, 0.0)
    arrival = -(array.positions @ direction) / SPEED_OF_SOUND  # seconds, relative to the centre
    x = delayed_noise(list(arrival * SR + 20.0), seed=11)
    x[1] *= 0.5  # head shadow: the right ear gets half the amplitude
    tdoa = (arrival[0] - arrival[1]) * SR  # about -8.4 samples: left first
    assert tdoa < 0

    corr = F.gcc_phat(x, 512, 256, max_lag=F.default_max_lag(array.max_delay(), SR), upsample=4)
    lags = F.gcc_lags(512, F.default_max_lag(array.max_delay(), SR), upsample=4)
    assert abs(peak_lag(corr, lags) - tdoa) <= 0.25

    freqs = torch.arange(257) * SR / 512
    low = (freqs > 100) & (freqs < 700)
    assert float(F.ipd(x, 512, 256)[0, low].median()) > 0  # left leads: positive IPD at low frequencies
    # per-bin ILD scatters a little (the channels window slightly different stretches of the noise)
    level = F.ild(x, 512, 256)[0, 1:-1]
    assert abs(float(level.median()) - 20 * np.log10(2.0)) < 0.05

    # SALSA-Lite NIPD of mic 1 relative to mic 0 is the path difference c (t_1 - t_0) = +0.18 m
    salsa = F.salsa_lite(x, SR, 512, 256, mic_positions=array)
    nipd = salsa[2]
    assert abs(float(nipd[low].median()) - 0.18) < 0.01
    assert torch.all(nipd[freqs > SPEED_OF_SOUND / (2 * 0.18)] == 0)


# --- symmetries


@FAST
@given(seed=st.integers(0, 10_000), channels=st.integers(2, 4))
def test_swapping_channels_negates_ipd_ild_and_mirrors_gcc(seed, channels):
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal((channels, 2048)))
    pairs = F.channel_pairs(channels)
    swapped = [(j, i) for i, j in pairs]
    phase, phase_sw = F.ipd(x, N_FFT, HOP, pairs), F.ipd(x, N_FFT, HOP, swapped)
    torch.testing.assert_close(torch.sin(phase_sw), -torch.sin(phase))
    torch.testing.assert_close(torch.cos(phase_sw), torch.cos(phase))
    torch.testing.assert_close(
        F.ild(x, N_FFT, HOP, swapped), -F.ild(x, N_FFT, HOP, pairs), rtol=0, atol=1e-12
    )
    cs, cs_sw = F.ipd_cos_sin(x, N_FFT, HOP, pairs), F.ipd_cos_sin(x, N_FFT, HOP, swapped)
    torch.testing.assert_close(cs_sw[..., 0, :, :], cs[..., 0, :, :])
    torch.testing.assert_close(cs_sw[..., 1, :, :], -cs[..., 1, :, :])
    for phat in (False, True):
        corr, corr_sw = F.gcc(x, N_FFT, HOP, 20, pairs, phat), F.gcc(x, N_FFT, HOP, 20, swapped, phat)
        torch.testing.assert_close(corr_sw, corr.flip(-2))


@FAST
@given(seed=st.integers(0, 10_000))
def test_identical_channels_give_zero_ipd_ild_and_a_zero_lag_peak(seed):
    s = torch.from_numpy(np.random.default_rng(seed).standard_normal(2048))
    x = torch.stack([s, s])
    assert float(F.ipd(x, N_FFT, HOP).abs().max()) < 1e-12
    assert torch.all(F.ild(x, N_FFT, HOP) == 0)
    cs = F.ipd_cos_sin(x, N_FFT, HOP)
    # cos IPD is 1 up to the documented eps shrinkage |Z| / (|Z| + eps) of near-silent bins
    power = F.stft(x, N_FFT, HOP)[0].abs().square()
    torch.testing.assert_close(cs[0, 0], power / (power + F.DEFAULT_EPS))
    assert float((cs[0, 0] - 1).abs().max()) < 1e-4
    assert float(cs[0, 1].abs().max()) < 1e-12
    corr = F.gcc_phat(x, N_FFT, HOP, 10)[0]
    assert torch.all(corr.argmax(dim=0) == 10)  # lag 0 sits at index max_lag
    # 1 up to the eps shrinkage of weak bins (|Z| ~ 1e-6 loses 1e-6 of its unit weight)
    torch.testing.assert_close(corr[10], torch.ones_like(corr[10]), atol=1e-6, rtol=0)
    norm_corr = F.gcc(x, N_FFT, HOP, 10, normalize=True)[0]
    torch.testing.assert_close(norm_corr[10], torch.ones_like(norm_corr[10]), atol=1e-9, rtol=0)


@FAST
@given(gain_db=st.floats(-40.0, 40.0), seed=st.integers(0, 1000))
def test_gains_leave_phase_features_unchanged_and_shift_ild(gain_db, seed):
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal((2, 2048)))
    g = 10 ** (gain_db / 20)
    y = x * torch.tensor([[g], [1.0]], dtype=x.dtype)
    # equal up to the eps shrinkage of weak bins, which the gain moves a little
    torch.testing.assert_close(
        F.gcc_phat(y, N_FFT, HOP, 10), F.gcc_phat(x, N_FFT, HOP, 10), atol=1e-6, rtol=0
    )
    torch.testing.assert_close(F.ipd_cos_sin(y, N_FFT, HOP), F.ipd_cos_sin(x, N_FFT, HOP), atol=1e-6, rtol=0)
    torch.testing.assert_close(
        F.gcc(y, N_FFT, HOP, 10, normalize=True), F.gcc(x, N_FFT, HOP, 10, normalize=True)
    )
    shift = F.ild(y, N_FFT, HOP) - F.ild(x, N_FFT, HOP)
    torch.testing.assert_close(shift.median(), torch.tensor(gain_db, dtype=shift.dtype), atol=1e-6, rtol=0)


def test_normalized_gcc_is_a_correlation_coefficient():
    x = torch.from_numpy(np.random.default_rng(5).standard_normal((3, 4096)))
    corr = F.gcc(x, N_FFT, HOP, 60, normalize=True)
    assert float(corr.abs().max()) <= 1.0 + 1e-12


# --- robustness


def _all_features() -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    return {
        "stft": lambda x: torch.view_as_real(F.stft(x, N_FFT, HOP)),
        "stft_real_imag": lambda x: F.stft_real_imag(x, N_FFT, HOP),
        "log_power_phase": lambda x: F.log_power_phase(x, N_FFT, HOP),
        "log_mel": lambda x: F.log_mel(x, SR, N_FFT, HOP, 32, top_db=80.0),
        "log_mel_magnitude": lambda x: F.log_mel(x, SR, N_FFT, HOP, 32, power=1.0),
        "ipd": lambda x: F.ipd(x, N_FFT, HOP),
        "ipd_cos_sin": lambda x: F.ipd_cos_sin(x, N_FFT, HOP),
        "cps_phat_phase": lambda x: F.cps_phat_phase(x, N_FFT, HOP, output="cos_sin"),
        "mel_projected_ipd": lambda x: F.mel_projected_ipd(x, SR, N_FFT, HOP, 32),
        "ild": lambda x: F.ild(x, N_FFT, HOP, ref=0),
        "gcc": lambda x: F.gcc(x, N_FFT, HOP, 16),
        "gcc_normalized": lambda x: F.gcc(x, N_FFT, HOP, 16, normalize=True),
        "gcc_phat": lambda x: F.gcc_phat(x, N_FFT, HOP, num_lags=64, upsample=2),
        "salsa_lite": lambda x: F.salsa_lite(x, SR, N_FFT, HOP, mic_spacing=0.05, f_max=6000.0),
    }


FEATURES = _all_features()


def _degenerate(kind: str, dtype: torch.dtype) -> torch.Tensor:
    rng = np.random.default_rng(0)
    length = 1500
    if kind == "silence":
        x = np.zeros((3, length))
    elif kind == "dc":
        x = np.full((3, length), 0.7)
    elif kind == "clipped":
        x = np.clip(20 * rng.standard_normal((3, length)), -1, 1)
    elif kind == "impulse":
        x = np.zeros((3, length))
        x[:, 700] = 1.0
    elif kind == "one_silent_channel":
        x = rng.standard_normal((3, length))
        x[1] = 0.0
    else:  # loud, as unnormalised int16-scale audio
        x = 32767 * np.clip(rng.standard_normal((3, length)), -1, 1)
    return torch.from_numpy(x).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["silence", "dc", "clipped", "impulse", "one_silent_channel", "loud"])
def test_degenerate_inputs_give_finite_features(kind, dtype):
    x = _degenerate(kind, dtype)
    for name, fn in FEATURES.items():
        out = fn(x)
        assert out.dtype == dtype, name
        assert torch.isfinite(out).all(), f"{name} not finite on {kind} ({dtype})"


def test_silence_gives_neutral_values():
    x = torch.zeros(2, 1000, dtype=torch.float64)
    assert torch.all(F.ipd(x, N_FFT, HOP) == 0)
    assert torch.all(F.ild(x, N_FFT, HOP) == 0)
    assert torch.all(F.ipd_cos_sin(x, N_FFT, HOP) == 0)
    assert torch.all(F.gcc_phat(x, N_FFT, HOP, 8) == 0)
    torch.testing.assert_close(
        F.log_mel(x, SR, N_FFT, HOP, 16), torch.full((2, 16, 8), -100.0, dtype=x.dtype)
    )


# --- batching, dtypes


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_batched_equals_per_item(name):
    fn = FEATURES[name]
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((2, 3, 3, 1024)))
    batched = fn(x)
    for a in range(2):
        for b in range(3):
            torch.testing.assert_close(batched[a, b], fn(x[a, b]), atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_float32_agrees_with_float64(name):
    fn = FEATURES[name]
    x = torch.from_numpy(np.random.default_rng(2).standard_normal((3, 1024)))
    out64, out32 = fn(x), fn(x.float())
    assert out32.dtype == torch.float32
    if name in {"ipd", "salsa_lite", "log_power_phase"}:
        # wrapped angles may flip between -pi and pi; compare on the circle
        diff = torch.angle(torch.exp(1j * (out32.double() - out64)))
        assert float(diff.abs().quantile(0.999)) < 1e-3
    else:
        scale = float(out64.abs().max())
        torch.testing.assert_close(out32.double(), out64, atol=1e-4 * max(scale, 1.0), rtol=1e-3)


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_features_stay_on_the_input_device(name):
    """No CUDA here: the meta device stands in (elementwise ops mixing it with a CPU buffer raise)."""
    x = torch.zeros(2, 3, 1024)
    out = FEATURES[name](x.to("meta"))
    assert out.device.type == "meta"
    assert out.shape == FEATURES[name](x).shape


# --- gradients


GRAD_FNS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "log_mel": lambda x: F.log_mel(x, 8000, 32, 16, 8),
    "ild": lambda x: F.ild(x, 32, 16),
    "gcc_phat": lambda x: F.gcc_phat(x, 32, 16, 4),
    "gcc_normalized": lambda x: F.gcc(x, 32, 16, 4, normalize=True),
    "ipd_cos_sin": lambda x: F.ipd_cos_sin(x, 32, 16),
    "mel_projected_ipd": lambda x: F.mel_projected_ipd(x, 8000, 32, 16, 6),
    "stft_real_imag": lambda x: F.stft_real_imag(x, 32, 16),
}


@pytest.mark.parametrize("name", sorted(GRAD_FNS))
def test_gradcheck(name):
    x = torch.from_numpy(np.random.default_rng(3).standard_normal((2, 64))).requires_grad_(True)
    assert torch.autograd.gradcheck(GRAD_FNS[name], (x,), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_gradients_finite_on_silence():
    x = torch.zeros(2, 256, dtype=torch.float64, requires_grad=True)
    for name in ("log_mel", "ild", "gcc_phat", "ipd_cos_sin"):
        (grad,) = torch.autograd.grad(GRAD_FNS[name](x).sum(), x)
        assert torch.isfinite(grad).all(), name
