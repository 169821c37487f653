"""Shapes, dtypes, guards and nn.Module wrappers of spatialrep.features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import spatialrep.features as features
from spatialrep.features import functional as F
from spatialrep.features import transforms as T
from spatialrep.geometry import tetrahedral_array

SR = 16000


def _x(*shape: int, dtype: torch.dtype = torch.float64, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape)).to(dtype)


# --- shapes


@pytest.mark.parametrize(
    ("length", "center", "frames"), [(1600, True, 11), (1601, True, 11), (1600, False, 9)]
)
def test_stft_shape_dtype_and_frame_count(length, center, frames):
    for dtype, cdtype in [(torch.float32, torch.complex64), (torch.float64, torch.complex128)]:
        spec = F.stft(_x(2, 3, length, dtype=dtype), 256, 160, center=center)
        assert spec.shape == (2, 3, 129, frames)
        assert spec.dtype == cdtype


def test_center_frame_t_is_centred_on_sample_t_times_hop():
    # An impulse at sample 5 * hop gives the largest frame energy in frame 5 and a linear phase that is zero
    # at the window centre (n_fft // 2 into the frame), i.e. X[f, 5] is real and positive.
    hop, n_fft = 64, 256
    x = torch.zeros(1, 1024, dtype=torch.float64)
    x[0, 5 * hop] = 1.0
    spec = F.stft(x, n_fft, hop)[0]
    assert int(spec.abs().sum(0).argmax()) == 5
    shifted = spec[:, 5] * torch.exp(
        2j * torch.pi * torch.arange(129, dtype=torch.float64) * (n_fft // 2) / n_fft
    )
    torch.testing.assert_close(shifted.imag, torch.zeros(129, dtype=torch.float64), atol=1e-12, rtol=0)
    assert torch.all(shifted.real > 0)


def test_output_shapes_table():
    x = _x(4, 3, 3200)
    assert F.stft_real_imag(x, 512, 160).shape == (4, 3, 2, 257, 21)
    assert F.log_power_phase(x, 512, 160).shape == (4, 3, 2, 257, 21)
    assert F.log_mel(x, SR, 512, 160, 64).shape == (4, 3, 64, 21)
    assert F.ipd(x, 512, 160).shape == (4, 3, 257, 21)  # 3 pairs
    assert F.ipd(x, 512, 160, ref=2).shape == (4, 2, 257, 21)
    assert F.ipd_cos_sin(x, 512, 160).shape == (4, 3, 2, 257, 21)
    assert F.cps_phat_phase(x, 512, 160).shape == (4, 3, 257, 21)
    assert F.mel_projected_ipd(x, SR, 512, 160, 40).shape == (4, 3, 2, 40, 21)
    assert F.ild(x, 512, 160, [(0, 1)]).shape == (4, 1, 257, 21)
    assert F.gcc(x, 512, 160, 20).shape == (4, 3, 41, 21)
    assert F.gcc_phat(x, 512, 160, num_lags=64).shape == (4, 3, 64, 21)
    assert F.gcc_phat(x, 512, 160, 10, upsample=4).shape == (4, 3, 81, 21)
    assert F.salsa_lite(x, SR, 512, 160, aliasing_freq=2000.0, f_max=4000.0).shape == (4, 5, 129, 21)


def test_channel_pairs():
    assert F.channel_pairs(2) == [(0, 1)]
    assert F.channel_pairs(4) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert F.channel_pairs(4, ref=0) == [(1, 0), (2, 0), (3, 0)]
    assert F.channel_pairs(2, ref=1) == [(0, 1)]


def test_ref_pairs_match_explicit_pairs():
    x = _x(4, 2048)
    torch.testing.assert_close(F.ipd(x, 256, 128, ref=2), F.ipd(x, 256, 128, [(0, 2), (1, 2), (3, 2)]))
    torch.testing.assert_close(F.ild(x, 256, 128, ref=0), F.ild(x, 256, 128, [(1, 0), (2, 0), (3, 0)]))


def test_default_max_lag_and_gcc_lags():
    assert F.default_max_lag(0.8e-3, 16000) == 13 + 2
    assert F.default_max_lag(0.5e-3, 16000, margin=0) == 8  # exactly 8 samples, no rounding up
    assert F.default_max_lag(tetrahedral_array().max_delay(), 24000, margin=1) == 5 + 1  # 4.8 samples
    np.testing.assert_array_equal(F.gcc_lags(512, 3).numpy(), np.arange(-3, 4))
    np.testing.assert_array_equal(F.gcc_lags(512, num_lags=5).numpy(), np.arange(-2, 3))
    np.testing.assert_array_equal(F.gcc_lags(512, 1, upsample=2).numpy(), [-1, -0.5, 0, 0.5, 1])


def test_gcc_upsampling_keeps_integer_lag_values():
    x = _x(2, 4096)
    for n_fft in (256, 255):
        for phat in (False, True):
            plain = F.gcc(x, n_fft, 128, 20, phat=phat)
            fine = F.gcc(x, n_fft, 128, 20, phat=phat, upsample=4)
            torch.testing.assert_close(fine[..., ::4, :], plain)


def test_cps_phat_phase_is_ipd():
    x = _x(2, 2048)
    torch.testing.assert_close(F.cps_phat_phase(x, 256, 128), F.ipd(x, 256, 128))
    torch.testing.assert_close(F.cps_phat_phase(x, 256, 128, output="cos_sin"), F.ipd_cos_sin(x, 256, 128))


def test_mel_projected_ipd_normalized_stays_in_unit_range():
    out = F.mel_projected_ipd(_x(2, 8000), 32000, 1024, 320, 128, 50.0, 14000.0)
    assert float(out.abs().max()) <= 1.0 + 1e-12


def test_top_db_clamps_per_item_across_channels():
    x = _x(2, 2, 2048)
    x[1, 1] *= 1e-4  # item 1: channel 1 is 80 dB quieter; one shared max keeps the level difference
    out = F.log_mel(x, SR, 256, 128, 16, top_db=60.0)
    for b in range(2):
        assert float(out[b].min()) >= float(out[b].max()) - 60.0 - 1e-9
    assert float(out[1, 1].max()) < float(out[1, 0].max()) - 50.0


def test_salsa_lite_zeroes_above_aliasing_and_at_dc():
    x = _x(4, 4096)
    array = tetrahedral_array()
    out = F.salsa_lite(x, 24000, 512, 256, mic_positions=array)
    freqs = torch.arange(257) * 24000 / 512
    f_alias = F.spatial_aliasing_frequency(float(np.linalg.norm(array.positions[1] - array.positions[0])))
    assert torch.all(out[4:, 0] == 0)
    assert torch.all(out[4, freqs > f_alias] == 0)
    assert torch.any(out[4, (freqs > 0) & (freqs <= f_alias)] != 0)


# --- guards


def test_input_guards():
    with pytest.raises(ValueError, match="ndim >= 2"):
        F.stft(_x(1000), 256, 128)
    with pytest.raises(TypeError, match="float32 or float64"):
        F.stft(torch.zeros(2, 1000, dtype=torch.int16), 256, 128)
    with pytest.raises(TypeError, match="float32 or float64"):
        F.log_mel(torch.zeros(2, 1000, dtype=torch.float16), SR, 256, 128, 16)
    with pytest.raises(TypeError, match="float32 or float64"):
        F.stft(torch.zeros(2, 1000, dtype=torch.complex64), 256, 128)
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        F.stft(np.zeros((2, 1000)), 256, 128)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no samples"):
        F.stft(torch.zeros(2, 0), 256, 128)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: F.ipd(x, 256, 128),
        lambda x: F.ipd_cos_sin(x, 256, 128),
        lambda x: F.ild(x, 256, 128),
        lambda x: F.gcc(x, 256, 128, 10),
        lambda x: F.gcc_phat(x, 256, 128, 10),
        lambda x: F.cps_phat_phase(x, 256, 128),
        lambda x: F.mel_projected_ipd(x, SR, 256, 128, 16),
        lambda x: F.salsa_lite(x, SR, 256, 128, mic_spacing=0.1),
        lambda x: F.cross_spectrum(F.stft(x, 256, 128)),
    ],
)
def test_pairwise_features_need_two_channels(fn):
    with pytest.raises(ValueError, match="at least 2 channels"):
        fn(_x(1, 1000))


def test_pair_guards():
    x = _x(3, 1000)
    with pytest.raises(ValueError, match="invalid pair"):
        F.ipd(x, 256, 128, [(0, 3)])
    with pytest.raises(ValueError, match="invalid pair"):
        F.ild(x, 256, 128, [(1, 1)])
    with pytest.raises(ValueError, match="must be"):
        F.ild(x, 256, 128, [(0, 1, 2)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="must not be empty"):
        F.gcc(x, 256, 128, 5, [])
    with pytest.raises(ValueError, match="not both"):
        F.ipd(x, 256, 128, [(0, 1)], ref=0)
    with pytest.raises(ValueError, match="ref must be"):
        F.channel_pairs(3, ref=3)
    with pytest.raises(ValueError, match="at least 2 channels"):
        F.channel_pairs(1)


def test_stft_parameter_guards():
    x = _x(2, 1000)
    with pytest.raises(ValueError, match=r"unknown window 'hanning'.*hann, hamming"):
        F.stft(x, 256, 128, window="hanning")
    with pytest.raises(ValueError, match="window tensor must have shape"):
        F.stft(x, 256, 128, window=torch.ones(100))
    with pytest.raises(ValueError, match="unknown pad_mode 'edge'"):
        F.stft(x, 256, 128, pad_mode="edge")
    with pytest.raises(ValueError, match="win_length"):
        F.stft(x, 256, 128, win_length=300)
    with pytest.raises(ValueError, match="n_fft must be a positive integer"):
        F.stft(x, 0, 128)
    with pytest.raises(ValueError, match="hop_length must be a positive integer"):
        F.stft(x, 256, 12.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="center=False needs at least"):
        F.stft(_x(2, 100), 256, 128, center=False)
    with pytest.raises(ValueError, match="reflect"):
        F.stft(_x(2, 100), 256, 128, pad_mode="reflect")


def test_mel_guards():
    with pytest.raises(ValueError, match="unknown mel norm 'area'"):
        F.mel_filterbank(SR, 512, 40, norm="area")
    with pytest.raises(ValueError, match="f_max"):
        F.mel_filterbank(SR, 512, 40, f_max=9000.0)
    with pytest.raises(ValueError, match="f_min"):
        F.mel_filterbank(SR, 512, 40, f_min=5000.0, f_max=4000.0)
    with pytest.raises(ValueError, match="sample_rate"):
        F.mel_filterbank(0, 512, 40)
    with pytest.warns(UserWarning, match="mel filters are empty"):
        F.mel_filterbank(SR, 64, 128)
    with pytest.raises(ValueError, match="unknown mel norm"):
        F.log_mel(_x(1, 1000), SR, 256, 128, 16, norm="slany")
    with pytest.raises(ValueError, match="power must be > 0"):
        F.log_mel(_x(1, 1000), SR, 256, 128, 16, power=0.0)
    with pytest.raises(ValueError, match="amin must be > 0"):
        F.log_mel(_x(1, 1000), SR, 256, 128, 16, amin=0.0)
    with pytest.raises(ValueError, match="top_db"):
        F.log_mel(_x(1, 1000), SR, 256, 128, 16, top_db=-1.0)
    spec = F.stft(_x(2, 1000), 256, 128)
    with pytest.raises(ValueError, match="filterbank must have shape"):
        F.log_mel_from_stft(spec, torch.ones(16, 100))
    with pytest.raises(ValueError, match="filterbank must have shape"):
        F.mel_projected_ipd_from_stft(spec, torch.ones(16, 100))
    with pytest.raises(TypeError, match="complex STFT"):
        F.log_mel_from_stft(spec.real, torch.ones(16, 129))
    with pytest.raises(ValueError, match=r"\(..., channel, freq, frames\)"):
        F.ipd_from_stft(spec[0])
    with pytest.raises(TypeError, match="spec must be a torch"):
        F.ild_from_stft(spec.numpy())  # type: ignore[arg-type]


def test_floor_and_output_guards():
    x = _x(2, 1000)
    with pytest.raises(ValueError, match="floor must be > 0"):
        F.ild(x, 256, 128, floor=0.0)
    with pytest.raises(ValueError, match="floor must be > 0"):
        F.log_power_phase(x, 256, 128, floor=-1.0)
    with pytest.raises(ValueError, match="eps must be > 0"):
        F.ipd_cos_sin(x, 256, 128, eps=0.0)
    with pytest.raises(ValueError, match="unknown output 'phase'"):
        F.cps_phat_phase(x, 256, 128, output="phase")


def test_gcc_lag_guards():
    x = _x(2, 1000)
    with pytest.raises(ValueError, match="below n_fft / 2"):
        F.gcc_phat(x, 256, 128, 128)
    with pytest.raises(ValueError, match="below n_fft / 2"):
        F.gcc(x, 256, 128, num_lags=256)
    with pytest.raises(ValueError, match="below n_fft / 2"):
        F.gcc_lags(64, 32)
    F.gcc_lags(64, 31)  # the largest valid range
    with pytest.raises(ValueError, match="exactly one of max_lag or num_lags"):
        F.gcc(x, 256, 128)
    with pytest.raises(ValueError, match="exactly one of max_lag or num_lags"):
        F.gcc(x, 256, 128, 10, num_lags=20)
    with pytest.raises(ValueError, match="max_lag must be a non-negative integer"):
        F.gcc(x, 256, 128, -1)
    with pytest.raises(ValueError, match="num_lags must be a positive integer"):
        F.gcc(x, 256, 128, num_lags=0)
    with pytest.raises(ValueError, match="upsample"):
        F.gcc(x, 256, 128, 10, upsample=0)
    with pytest.raises(ValueError, match="unweighted GCC only"):
        F.gcc(x, 256, 128, 10, phat=True, normalize=True)
    with pytest.raises(ValueError, match="frequency bins"):
        F.gcc_from_stft(F.stft(x, 256, 128), 512, 10)
    with pytest.raises(ValueError, match="max_delay_s"):
        F.default_max_lag(-1e-3, SR)
    with pytest.raises(ValueError, match="sample_rate"):
        F.default_max_lag(1e-3, 0)
    with pytest.raises(ValueError, match="margin"):
        F.default_max_lag(1e-3, SR, margin=-1)


def test_salsa_and_aliasing_guards():
    x = _x(4, 1000)
    with pytest.raises(ValueError, match="exactly one of mic_positions"):
        F.salsa_lite(x, SR, 256, 128)
    with pytest.raises(ValueError, match="exactly one of mic_positions"):
        F.salsa_lite(x, SR, 256, 128, mic_spacing=0.1, aliasing_freq=1000.0)
    with pytest.raises(ValueError, match=r"mic_positions must have shape \(4, 3\)"):
        F.salsa_lite(x, SR, 256, 128, mic_positions=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="spacing must be > 0"):
        F.salsa_lite(x, SR, 256, 128, mic_positions=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="aliasing_freq must be > 0"):
        F.salsa_lite(x, SR, 256, 128, aliasing_freq=-5.0)
    with pytest.raises(ValueError, match="sample_rate must be > 0"):
        F.salsa_lite(x, 0, 256, 128, mic_spacing=0.1)
    with pytest.raises(ValueError, match="f_max must be in"):
        F.salsa_lite(x, SR, 256, 128, mic_spacing=0.1, f_max=9000.0)
    with pytest.raises(ValueError, match="nipd_scale must have shape"):
        F.salsa_lite_from_stft(F.stft(x, 256, 128), torch.zeros(2, 129))
    with pytest.raises(ValueError, match="speed_of_sound"):
        F.spatial_aliasing_frequency(0.1, speed_of_sound=0.0)
    assert F.spatial_aliasing_frequency(0.18) == pytest.approx(343.0 / 0.36)
    with pytest.warns(UserWarning, match="spatial Nyquist"):
        assert F.check_spatial_aliasing(0.18, 4000.0) == pytest.approx(343.0 / 0.36)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.check_spatial_aliasing(0.02, 4000.0)  # 8.6 kHz limit: no warning


# --- modules


def _module_cases():
    return [
        (T.STFT(256, 128), lambda x: F.stft(x, 256, 128)),
        (T.STFT(256, 128, output="real_imag"), lambda x: F.stft_real_imag(x, 256, 128)),
        (T.STFT(256, 128, window="hamming", output="log_power_phase"),
         lambda x: F.log_power_phase(x, 256, 128, window="hamming")),
        (T.LogMel(SR, 256, 128, 32, 20.0, 7000.0, top_db=80.0),
         lambda x: F.log_mel(x, SR, 256, 128, 32, 20.0, 7000.0, top_db=80.0)),
        (T.IPD(256, 128), lambda x: F.ipd(x, 256, 128)),
        (T.IPD(256, 128, ref=1, output="cos_sin"), lambda x: F.ipd_cos_sin(x, 256, 128, ref=1)),
        (T.CPSPhat(256, 128, [(2, 0)]), lambda x: F.cps_phat_phase(x, 256, 128, [(2, 0)], output="cos_sin")),
        (T.ILD(256, 128, win_length=200), lambda x: F.ild(x, 256, 128, win_length=200)),
        (T.MelIPD(SR, 256, 128, 24, normalize=False),
         lambda x: F.mel_projected_ipd(x, SR, 256, 128, 24, normalize=False)),
        (T.GCC(256, 128, 12, normalize=True), lambda x: F.gcc(x, 256, 128, 12, normalize=True)),
        (T.GCCPhat(256, 128, num_lags=32, upsample=2),
         lambda x: F.gcc_phat(x, 256, 128, num_lags=32, upsample=2)),
        (T.SalsaLite(SR, 256, 128, num_channels=3, mic_spacing=0.04, f_max=5000.0),
         lambda x: F.salsa_lite(x, SR, 256, 128, mic_spacing=0.04, f_max=5000.0)),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(len(_module_cases())))
def test_modules_equal_functional(index):
    module, fn = _module_cases()[index]
    for dtype in (torch.float32, torch.float64):
        x = _x(2, 3, 2048, dtype=dtype)
        torch.testing.assert_close(module(x), fn(x))
    assert module.state_dict() == {}  # buffers are derived from the constructor arguments


@pytest.mark.parametrize("index", range(len(_module_cases())))
def test_modules_move_buffers(index):
    module, _ = _module_cases()[index]
    buffers = dict(module.named_buffers())
    assert buffers, "every wrapper holds its window as a buffer"
    assert all(b.dtype == torch.float64 for b in module.buffers())  # exact, cast per call
    module.float()
    assert all(b.dtype == torch.float32 for b in module.buffers())
    moved = module.to("meta")
    assert all(b.device.type == "meta" for b in moved.buffers())
    assert moved(torch.zeros(2, 3, 1024, device="meta")).device.type == "meta"


def test_modules_and_functions_on_each_device(device):
    x = _x(2, 3, 2048, dtype=torch.float32)
    for module, fn in _module_cases():
        out = module.to(device)(x.to(device))
        assert out.device.type == device.type
        torch.testing.assert_close(out.cpu(), fn(x), atol=1e-3, rtol=1e-3)
        torch.testing.assert_close(fn(x.to(device)).cpu(), fn(x), atol=1e-3, rtol=1e-3)


def test_module_guards():
    with pytest.raises(ValueError, match="unknown output 'polar'"):
        T.STFT(256, 128, output="polar")
    with pytest.raises(ValueError, match="unknown window"):
        T.LogMel(SR, 256, 128, 32, window="kaiser")
    with pytest.raises(ValueError, match="unknown output"):
        T.IPD(256, 128, output="degrees")
    with pytest.raises(ValueError, match="not both"):
        T.ILD(256, 128, [(0, 1)], ref=0)
    with pytest.raises(ValueError, match="below n_fft / 2"):
        T.GCCPhat(256, 128, 200)
    with pytest.raises(ValueError, match="unweighted GCC only"):
        T.GCC(256, 128, 10, phat=True, normalize=True)
    with pytest.raises(ValueError, match="num_channels"):
        T.SalsaLite(SR, 256, 128, mic_spacing=0.05)
    salsa = T.SalsaLite(SR, 256, 128, mic_positions=tetrahedral_array())
    assert salsa.num_channels == 4
    with pytest.raises(ValueError, match="built for 4 channels"):
        salsa(_x(3, 1000))
    with pytest.raises(ValueError, match="at least 2 channels"):
        T.IPD(256, 128)(_x(1, 1000))


def test_public_api_exports():
    for name in features.__all__:
        assert hasattr(features, name), name
    assert features.gcc_phat is F.gcc_phat
    assert features.GCCPhat is T.GCCPhat
    assert set(F.__all__) <= set(features.__all__)


def test_stft_frames_to_sequence_order_and_guard() -> None:
    x = torch.randn(2, 2, 2, 5, 7)
    seq = F.stft_frames_to_sequence(x)
    assert seq.shape == (2, 7, 20)
    # channel 1, imaginary part, bin 3, frame 4
    assert seq[0, 4, (1 * 2 + 1) * 5 + 3] == x[0, 1, 1, 3, 4]
    with pytest.raises(ValueError, match="batch, channel, 2"):
        F.stft_frames_to_sequence(torch.randn(2, 2, 3, 5, 7))
    with pytest.raises(ValueError, match="batch, channel, 2"):
        F.stft_frames_to_sequence(torch.randn(2, 2, 5, 7))
