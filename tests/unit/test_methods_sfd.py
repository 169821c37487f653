"""SFD: config guards, input/target shapes and conventions, model steps, streaming, checkpoints."""

from __future__ import annotations

import math

import pytest
import torch

from spatialrep.config import ConfigError
from spatialrep.methods.sfd import (
    MODEL_FACTORIES,
    NoiseAugmentation,
    SfdConfig,
    SfdLocalizer,
    SfdPretrainer,
    finetune_step,
    load_sfd,
    pretrain_step,
)
from spatialrep.methods.sfd_targets import (
    ILD_SCALE_DB,
    TARGETS,
    distillation_targets,
    input_frames,
    instance_normalize,
    target_dim,
)
from spatialrep.train import load_checkpoint, save_checkpoint

TINY = dict(d_model=16, num_heads=2, num_layers=1, conv_kernel=3, dropout=0.0)


def tiny(**kw: object) -> SfdConfig:
    return SfdConfig(**{**TINY, **kw})  # type: ignore[arg-type]


def noise(batch: int = 2, time: int = 4000, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 2, time, generator=torch.Generator().manual_seed(seed))


def seeded(cls: type, config: SfdConfig, seed: int = 0):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(config)


def delayed_pair(delay: int, time: int = 4000) -> torch.Tensor:
    """Channel 1 = channel 0 delayed by ``delay`` samples (source on the left for delay > 0)."""
    src = torch.randn(time + 64, generator=torch.Generator().manual_seed(1))
    left = src[32 : 32 + time]
    right = src[32 - delay : 32 - delay + time]
    return torch.stack((left, right))[None]


# ---------------------------------------------------------------------------------------------- config


def test_defaults_match_the_paper_setup():
    cfg = SfdConfig()
    assert (cfg.sample_rate, cfg.n_fft, cfg.win_length, cfg.hop_length, cfg.center) == (
        16000,
        512,
        400,
        160,
        False,
    )
    assert cfg.target_dim == 17  # ±8 lags
    assert cfg.input_dim == 1028
    assert cfg.grid().num_classes == 37  # 5° over [-90°, 90°]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"target": "mfcc"}, "target='mfcc'"),
        ({"n_fft": 0}, "n_fft=0"),
        ({"win_length": 600}, "win_length=600"),
        ({"max_lag": 256}, "max_lag=256"),
        ({"max_lag": -1}, "max_lag=-1"),
        ({"d_model": 30, "num_heads": 4}, "d_model=30"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"grid_region": "rear"}, "grid_region='rear'"),
        ({"grid_step_deg": 7.0}, "grid_step_deg=7.0"),
        ({"hop_length": True}, "hop_length=True"),
    ],
)
def test_config_guards_name_the_culprit(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[")):
        SfdConfig(**kwargs)


def test_config_dict_round_trip_and_unknown_key():
    cfg = tiny(target="ipd_ild", max_lag=5)
    assert SfdConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="bogus"):
        SfdConfig.from_dict({**cfg.to_dict(), "bogus": 1})
    with pytest.raises(TypeError, match="SfdConfig or a dict"):
        SfdPretrainer(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- features


@pytest.mark.parametrize("time", [512, 4000, 8000, 8159])
def test_input_and_targets_are_frame_aligned(time):
    cfg = tiny()
    x = noise(time=time)
    frames = 1 + (time - cfg.n_fft) // cfg.hop_length
    assert input_frames(x, cfg).shape == (2, frames, 4 * 257)
    for target in TARGETS:
        assert distillation_targets(x, cfg, target).shape == (2, frames, target_dim(target, 512, 8))


def test_target_dims_documented():
    assert [target_dim(t, 512, 8) for t in TARGETS] == [17, 17, 514, 771]
    with pytest.raises(ValueError, match="unknown SFD target 'x'; valid: gcc, gcc_phat, cps_phat, ipd_ild"):
        target_dim("x", 512, 8)
    with pytest.raises(ValueError, match="unknown SFD target"):
        distillation_targets(noise(), tiny(), "x")


@pytest.mark.parametrize("target", TARGETS)
def test_targets_finite_on_silence(target):
    out = distillation_targets(torch.zeros(2, 2, 4000), tiny(), target)
    assert torch.isfinite(out).all()
    assert (out == 0).all()  # silence: zero GCC variance, cos/sin (0, 0), ILD 0 dB


def test_input_guards():
    cfg = tiny()
    with pytest.raises(ValueError, match=r"\(batch, 2, time\).*\(2, 1, 4000\)"):
        input_frames(torch.zeros(2, 1, 4000), cfg)
    with pytest.raises(ValueError, match=r"clean_direct.*\(2, 4000\)"):
        distillation_targets(torch.zeros(2, 4000), cfg)
    with pytest.raises(TypeError, match="floating"):
        input_frames(torch.zeros(1, 2, 4000, dtype=torch.int16), cfg)
    with pytest.raises(ValueError, match="n_fft=512"):
        input_frames(torch.zeros(1, 2, 300), cfg)


@pytest.mark.parametrize(("delay", "sign"), [(4, -1), (-4, 1)])
def test_gcc_phat_peak_side(delay, sign):
    """Left source (right ear delayed): peak at a negative lag (t_left - t_right < 0); mirrored for right."""
    cfg = tiny(max_lag=8)
    x = delayed_pair(delay)
    for target in ("gcc_phat", "gcc"):
        t = distillation_targets(x, cfg, target)[0]  # (frames, 17), lags -8..8
        peaks = t.argmax(dim=-1) - cfg.max_lag
        assert (peaks == sign * abs(delay)).all(), (target, peaks)


def test_instance_normalisation_per_example():
    cfg = tiny()
    x = noise(batch=3) * torch.tensor([1.0, 10.0, 0.01])[:, None, None]
    out = distillation_targets(x, cfg, "gcc")
    assert torch.allclose(out.mean(dim=(1, 2)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(out.std(dim=(1, 2), unbiased=False), torch.ones(3), atol=1e-3)
    single = torch.cat([distillation_targets(x[i : i + 1], cfg, "gcc") for i in range(3)])
    assert torch.allclose(out, single, atol=1e-5)
    z = instance_normalize(torch.full((2, 3, 4), 5.0))
    assert (z == 0).all()


def test_ipd_ild_layout_and_scale():
    cfg = tiny()
    x = noise(batch=1)
    x[:, 0] *= 10.0  # left 20 dB louder, same phase
    x[:, 1] = x[:, 0] / 10.0
    out = distillation_targets(x, cfg, "ipd_ild")[0]
    cos, sin, ild = out[:, :257], out[:, 257:514], out[:, 514:]
    assert torch.allclose(ild, torch.full_like(ild, 20.0 / ILD_SCALE_DB), atol=1e-4)
    assert torch.allclose(cos, torch.ones_like(cos), atol=1e-4) and sin.abs().max() < 1e-4
    x[:, 1] = x[:, 0] / 1e4  # 80 dB: clipped at 2
    assert distillation_targets(x, cfg, "ipd_ild")[0, :, 514:].max() == 2.0


def test_cps_phat_is_unit_phasor():
    out = distillation_targets(noise(), tiny(), "cps_phat")
    power = out[..., :257] ** 2 + out[..., 257:] ** 2
    assert torch.allclose(power, torch.ones_like(power), atol=1e-4)


# ---------------------------------------------------------------------------------------------- models


def test_pretrain_step_is_mse_and_learns():
    cfg = tiny()
    model = seeded(SfdPretrainer, cfg)
    batch = {"noisy": noise(), "clean_direct": noise(seed=3)}
    out = pretrain_step(model, batch)
    pred = model(input_frames(batch["noisy"], cfg))
    ref = ((pred - distillation_targets(batch["clean_direct"], cfg)) ** 2).mean()
    assert torch.allclose(out["loss"], ref)
    out["loss"].backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(TypeError, match="SfdPretrainer"):
        pretrain_step(seeded(SfdLocalizer, cfg), batch)


def _batch(azimuth_deg: list[list[float]], seed: int = 0) -> dict:
    az = torch.tensor(azimuth_deg) * math.pi / 180
    return {"noisy": noise(batch=len(azimuth_deg), seed=seed), "labels": {"azimuth": az}}


def test_finetune_step_frame_cross_entropy():
    cfg = tiny()
    model = seeded(SfdLocalizer, cfg)
    batch = _batch([[30.0], [-90.0]])
    out = finetune_step(model, batch)
    frame_logits, clip_logits = model(input_frames(batch["noisy"], cfg))
    classes = torch.tensor([24, 0])  # (30 + 90) / 5, (-90 + 90) / 5
    ref = torch.nn.functional.cross_entropy(frame_logits.transpose(1, 2), classes[:, None].expand(2, 22))
    assert torch.allclose(out["loss"], ref)
    assert out["accuracy"] == (clip_logits.argmax(-1) == classes).float().mean()
    padded = _batch([[30.0, math.nan], [-90.0, math.nan]])  # collate pads single sources with NaN
    assert torch.allclose(finetune_step(model, padded)["loss"], ref)


def test_finetune_step_guards():
    model = seeded(SfdLocalizer, tiny())
    with pytest.raises(ValueError, match="one source per clip"):
        finetune_step(model, _batch([[30.0, 10.0], [-90.0, 0.0]]))
    with pytest.raises(ValueError, match="outside the frontal grid"):
        finetune_step(model, _batch([[150.0], [0.0]]))
    with pytest.raises(TypeError, match="SfdLocalizer"):
        finetune_step(seeded(SfdPretrainer, tiny()), _batch([[0.0]]))


def test_freeze_encoder_is_a_linear_probe():
    model = seeded(SfdLocalizer, tiny(dropout=0.5))
    model.freeze_encoder()
    model.train()
    assert not model.encoder.training and model.classifier.training
    finetune_step(model, _batch([[0.0], [45.0]]))["loss"].backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert all(p.grad is not None for p in model.classifier.parameters())


def test_load_encoder_copies_weights_and_checks_architecture():
    cfg = tiny()
    pre = seeded(SfdPretrainer, cfg, seed=1)
    loc = seeded(SfdLocalizer, cfg, seed=2)
    loc.load_encoder(pre)
    for name, value in pre.encoder.state_dict().items():
        assert torch.equal(loc.encoder.state_dict()[name], value)
    with pytest.raises(ValueError, match=r"d_model=16.*needs 32"):
        seeded(SfdLocalizer, tiny(d_model=32)).load_encoder(pre)


def test_predict_shapes_and_grid():
    cfg = tiny()
    model = seeded(SfdLocalizer, cfg).train()
    out = model.predict(noise(batch=2, time=8000))
    assert out["frame_logits"].shape == (2, 47, 37) and out["clip_logits"].shape == (2, 37)
    assert out["frame_azimuth"].shape == (2, 47) and out["clip_azimuth"].shape == (2,)
    grid = cfg.grid().azimuths
    assert all(min(abs(a - grid)) < 1e-9 for a in out["clip_azimuth"].tolist())
    assert model.training  # mode restored
    single = model.predict(noise(batch=2, time=8000)[0])
    assert torch.allclose(single["frame_logits"], out["frame_logits"][:1], atol=1e-5)


@pytest.mark.parametrize("chunk", [1, 160, 999, 1600, 100_000])
def test_streaming_equals_offline(chunk):
    model = seeded(SfdLocalizer, tiny(num_layers=2))
    x = noise(batch=1, time=7777)
    offline = model.predict(x)
    streamed = model.predict_streaming(x, chunk_samples=chunk)
    assert (streamed["frame_logits"] - offline["frame_logits"]).abs().max() <= 1e-5
    assert torch.equal(streamed["clip_azimuth"], offline["clip_azimuth"])


def test_predict_guards():
    model = seeded(SfdLocalizer, tiny())
    with pytest.raises(ValueError, match=r"\(2, time\).*\(1, 4000\)"):
        model.predict(torch.zeros(1, 4000))
    with pytest.raises(ValueError, match="300 samples is shorter than one frame"):
        model.predict(torch.zeros(2, 300))
    with pytest.raises(ValueError, match="chunk_samples must be >= 1"):
        model.predict_streaming(torch.zeros(2, 4000), chunk_samples=0)


def test_checkpoint_round_trip_without_pickle(tmp_path):
    cfg = tiny(target="cps_phat")
    model = seeded(SfdLocalizer, cfg).eval()
    save_checkpoint(
        tmp_path / "best", model, model_name="sfd_localizer", model_kwargs={"config": cfg.to_dict()}
    )
    loaded = load_sfd(tmp_path)  # finds best/
    assert isinstance(loaded, SfdLocalizer) and loaded.config == cfg
    x = noise(batch=1)
    assert torch.equal(loaded.predict(x)["frame_logits"], model.predict(x)["frame_logits"])
    again, _ = load_checkpoint(tmp_path / "best", MODEL_FACTORIES)
    assert isinstance(again, SfdLocalizer)
    with pytest.raises(FileNotFoundError, match="no model checkpoint"):
        load_sfd(tmp_path / "absent")


# ------------------------------------------------------------------------------ GCC-PHAT input, augmentation


def test_gcc_phat_input_for_the_gccphat_dnn_baseline():
    cfg = tiny(input="gcc_phat", input_max_lag=12)
    assert cfg.input_dim == 25
    x = delayed_pair(4)  # left source: right ear delayed by 4 samples
    frames = input_frames(x, cfg)
    assert frames.shape[-1] == 25 and frames.abs().max() <= 1.0 + 1e-5
    assert (frames[0].argmax(dim=-1) - 12 == -4).all()
    # Frame-wise values, no statistics over the clip: a prefix gives the same first frames (causal input).
    prefix = input_frames(x[..., :2000], cfg)
    torch.testing.assert_close(prefix, frames[:, : prefix.shape[1]])
    model = seeded(SfdLocalizer, cfg)
    logits, _ = model(frames)
    assert logits.shape == (x.shape[0], frames.shape[1], 37)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"input": "mfcc"}, "input='mfcc'"), ({"input_max_lag": 300}, "input_max_lag=300")],
)
def test_input_guards_name_the_culprit(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        SfdConfig(**kwargs)


def test_noise_augmentation_level_probability_and_guards():
    x = noise(batch=64, time=16000)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        y = NoiseAugmentation((10.0, 10.0), probability=1.0)(x)
    added = (y - x).square().mean(dim=(1, 2))
    snr_db = 10 * torch.log10(x.square().mean(dim=(1, 2)) / added)
    assert torch.allclose(snr_db, torch.full_like(snr_db, 10.0), atol=0.2)
    left_right = torch.corrcoef((y - x)[0])[0, 1]
    assert abs(left_right) < 0.05  # independent per ear
    assert torch.equal(NoiseAugmentation(probability=0.0)(x), x)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        changed = (NoiseAugmentation(probability=0.5)(x) != x).flatten(1).any(dim=1).float().mean()
    assert 0.25 < changed < 0.75
    with pytest.raises(ConfigError, match="snr_range_db"):
        NoiseAugmentation((20.0, 0.0))
    with pytest.raises(ConfigError, match="probability"):
        NoiseAugmentation(probability=1.5)


def test_finetune_step_augments_only_in_training():
    model = seeded(SfdLocalizer, tiny(dropout=0.0))
    batch = {"noisy": noise(batch=2, time=4000), "labels": {"azimuth": torch.tensor([0.0, 0.5])}}
    loud = NoiseAugmentation((-30.0, -30.0), probability=1.0)
    model.eval()
    assert torch.equal(finetune_step(model, batch, loud)["loss"], finetune_step(model, batch)["loss"])
    model.train()
    assert not torch.equal(finetune_step(model, batch, loud)["loss"], finetune_step(model, batch)["loss"])
