"""SFD's frame inputs and distillation targets: shapes, conventions, normalisation, guards."""

from __future__ import annotations

import pytest
import torch

from spatialrep.features.distillation import (
    ILD_SCALE_DB,
    TARGETS,
    DistillationTarget,
    FrameInput,
    instance_normalize,
    target_dim,
)

FRONT = FrameInput()


def noise(batch: int = 2, time: int = 4000, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 2, time, generator=torch.Generator().manual_seed(seed))


def delayed_pair(delay: int, time: int = 4000) -> torch.Tensor:
    """Channel 1 = channel 0 delayed by ``delay`` samples (source on the left for delay > 0)."""
    src = torch.randn(time + 64, generator=torch.Generator().manual_seed(1))
    left = src[32 : 32 + time]
    right = src[32 - delay : 32 - delay + time]
    return torch.stack((left, right))[None]


def targets(
    x: torch.Tensor, name: str = "gcc_phat", max_lag: int = 8, normalization: str = "frame"
) -> torch.Tensor:
    return DistillationTarget(name, max_lag, normalization)(x, FRONT)


def test_defaults_match_the_paper_setup():
    assert (FRONT.sample_rate, FRONT.n_fft, FRONT.win_length, FRONT.hop_length, FRONT.center) == (
        16000,
        512,
        400,
        160,
        False,
    )
    assert FRONT.dim == 1028 and DistillationTarget().dim(FRONT) == 31  # ±15 lags: KEMAR's ITD + 2
    assert FRONT.hop_s == 0.01 and FRONT.frame_s == 0.032


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"n_fft": 0}, "frontend.n_fft"),
        ({"win_length": 600}, "win_length=600"),
        ({"kind": "mfcc"}, "kind='mfcc'"),
        ({"max_lag": 300}, "max_lag=300"),
        ({"window": "kaiser"}, "window='kaiser'"),
        ({"hop_length": True}, "hop_length"),
    ],
)
def test_frame_input_guards_name_the_culprit(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        FrameInput(**kwargs)


def test_target_guards_name_the_culprit():
    with pytest.raises(ValueError, match=r"target\.name='mfcc'"):
        DistillationTarget("mfcc")
    with pytest.raises(ValueError, match="max_lag=-1"):
        DistillationTarget(max_lag=-1)
    with pytest.raises(ValueError, match="max_lag=256"):
        DistillationTarget(max_lag=256).check(FRONT)
    with pytest.raises(ValueError, match="normalization='clip'"):
        DistillationTarget(normalization="clip")


@pytest.mark.parametrize("time", [512, 4000, 8000, 8159])
def test_input_and_targets_are_frame_aligned(time):
    x = noise(time=time)
    frames = 1 + (time - 512) // 160
    assert FRONT.num_frames(time) == frames
    assert FRONT(x).shape == (2, frames, 4 * 257)
    for name in TARGETS:
        assert targets(x, name).shape == (2, frames, target_dim(name, 512, 8))


def test_target_dims_documented():
    assert [target_dim(t, 512, 8) for t in TARGETS] == [17, 17, 514, 771]
    with pytest.raises(ValueError, match="unknown SFD target 'x'; valid: gcc, gcc_phat, cps_phat, ipd_ild"):
        target_dim("x", 512, 8)


@pytest.mark.parametrize("normalization", ["frame", "instance"])
@pytest.mark.parametrize("name", TARGETS)
def test_targets_finite_on_silence(name, normalization):
    out = targets(torch.zeros(2, 2, 4000), name, normalization=normalization)
    assert torch.isfinite(out).all()
    assert (out == 0).all()  # silence: zero GCC (and variance), cos/sin (0, 0), ILD 0 dB


def test_input_guards():
    with pytest.raises(ValueError, match=r"\(batch, 2, time\).*\(2, 1, 4000\)"):
        FRONT(torch.zeros(2, 1, 4000))
    with pytest.raises(ValueError, match=r"clean_direct.*\(2, 4000\)"):
        targets(torch.zeros(2, 4000))
    with pytest.raises(TypeError, match="floating"):
        FRONT(torch.zeros(1, 2, 4000, dtype=torch.int16))
    with pytest.raises(ValueError, match="n_fft=512"):
        FRONT(torch.zeros(1, 2, 300))


@pytest.mark.parametrize(("delay", "sign"), [(4, -1), (-4, 1)])
def test_gcc_phat_peak_side(delay, sign):
    """Left source (right ear delayed): peak at a negative lag (t_left - t_right < 0); mirrored for right."""
    x = delayed_pair(delay)
    for name in ("gcc_phat", "gcc"):
        t = targets(x, name)[0]  # (frames, 17), lags -8..8
        peaks = t.argmax(dim=-1) - 8
        assert (peaks == sign * abs(delay)).all(), (name, peaks)


def test_instance_normalisation_per_example():
    x = noise(batch=3) * torch.tensor([1.0, 10.0, 0.01])[:, None, None]
    out = targets(x, "gcc", normalization="instance")
    assert torch.allclose(out.mean(dim=(1, 2)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(out.std(dim=(1, 2), unbiased=False), torch.ones(3), atol=1e-3)
    single = torch.cat([targets(x[i : i + 1], "gcc", normalization="instance") for i in range(3)])
    assert torch.allclose(out, single, atol=1e-5)
    z = instance_normalize(torch.full((2, 3, 4), 5.0))
    assert (z == 0).all()


def test_ipd_ild_layout_and_scale():
    x = noise(batch=1)
    x[:, 0] *= 10.0  # left 20 dB louder, same phase
    x[:, 1] = x[:, 0] / 10.0
    out = targets(x, "ipd_ild")[0]
    cos, sin, ild = out[:, :257], out[:, 257:514], out[:, 514:]
    assert torch.allclose(ild, torch.full_like(ild, 20.0 / ILD_SCALE_DB), atol=1e-4)
    assert torch.allclose(cos, torch.ones_like(cos), atol=1e-4) and sin.abs().max() < 1e-4
    x[:, 1] = x[:, 0] / 1e4  # 80 dB: clipped at 2
    assert targets(x, "ipd_ild")[0, :, 514:].max() == 2.0


def test_cps_phat_is_unit_phasor():
    out = targets(noise(), "cps_phat")
    power = out[..., :257] ** 2 + out[..., 257:] ** 2
    assert torch.allclose(power, torch.ones_like(power), atol=1e-4)


def test_gcc_phat_input_for_the_gccphat_dnn_baseline():
    front = FrameInput(kind="gcc_phat", max_lag=12)
    assert front.dim == 25
    x = delayed_pair(4)  # left source: right ear delayed by 4 samples
    frames = front(x)
    assert frames.shape[-1] == 25 and frames.abs().max() <= 1.0 + 1e-5
    assert (frames[0].argmax(dim=-1) - 12 == -4).all()
    # Frame-wise values, no statistics over the clip: a prefix gives the same first frames (causal input).
    prefix = front(x[..., :2000])
    torch.testing.assert_close(prefix, frames[:, : prefix.shape[1]])


@pytest.mark.parametrize("name", TARGETS)
def test_frame_targets_are_causal_bit_for_bit(name):
    """A frame's target depends on samples up to its end only: changing later audio leaves it unchanged."""
    x = noise(batch=1, time=8000)
    later = x.clone()
    later[..., 4000:] = 10.0 * torch.randn(1, 2, 4000, generator=torch.Generator().manual_seed(5))
    done = FRONT.num_frames(4000)  # frames that end before sample 4000
    a, b = targets(x, name, max_lag=15), targets(later, name, max_lag=15)
    assert torch.equal(a[:, :done], b[:, :done])
    assert not torch.equal(a[:, done:], b[:, done:])


def test_instance_normalisation_is_not_causal():
    """Why "frame" is the default: with per-clip statistics, later audio changes earlier frames' targets."""
    x = noise(batch=1, time=8000)
    later = x.clone()
    later[..., 4000:] *= 20.0
    done = FRONT.num_frames(4000)
    a = targets(x, "gcc", normalization="instance")
    b = targets(later, "gcc", normalization="instance")
    assert not torch.allclose(a[:, :done], b[:, :done])


def test_frame_normalised_gcc_is_level_free_and_bounded():
    x = noise(batch=1)
    quiet, loud = targets(x * 1e-3, "gcc"), targets(x * 1e3, "gcc")
    torch.testing.assert_close(quiet, loud, rtol=1e-4, atol=1e-6)
    assert loud.abs().max() <= 1.0 + 1e-5
    same = torch.stack((x[0, 0], x[0, 0]))[None]  # identical channels: a perfect correlation at lag 0
    assert targets(same, "gcc")[0, :, 8].min() > 0.999


def test_the_lag_range_covers_kemar_up_to_90_degrees():
    """The target's peak tracks KEMAR's interaural delay at every frontal direction, ±90° included."""
    import numpy as np
    from scipy.signal import fftconvolve

    from spatialrep.features.functional import default_max_lag
    from spatialrep.simulate.receiver_factory import make_receiver

    kemar = make_receiver("kemar", 16000)
    max_lag = default_max_lag(kemar.max_delay, 16000)
    assert max_lag == 15 == DistillationTarget().max_lag == FRONT.max_lag
    azimuth = np.radians(np.arange(-90.0, 91.0, 15.0))
    itd = kemar.itd(azimuth, np.zeros_like(azimuth), method="xcorr") * 16000  # samples, + = left leads
    hrirs = kemar.impulse_responses(azimuth, np.zeros_like(azimuth))
    mono = np.random.default_rng(0).standard_normal(8000 + hrirs.shape[-1])
    clips = np.stack([[fftconvolve(mono, h[c], mode="valid")[:8000] for c in range(2)] for h in hrirs])
    gcc = DistillationTarget("gcc_phat", max_lag)(torch.from_numpy(clips).float(), FRONT)
    peak = gcc.mean(dim=1).argmax(dim=-1).numpy() - max_lag  # lag of the left relative to the right
    np.testing.assert_allclose(peak, -itd, atol=1.0)
    assert np.abs(peak).max() >= 11 and np.all(np.abs(peak) < max_lag)  # ±90° sits inside, not on the edge
