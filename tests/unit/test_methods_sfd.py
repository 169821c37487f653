"""SFD: sectioned config guards, model steps, the Localizer protocol, streaming, checkpoints."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
import torch

from spatialrep.config import ConfigError
from spatialrep.data.augment import NoiseAugmentation
from spatialrep.features.distillation import DistillationTarget, FrameInput
from spatialrep.methods import Directions, Embedder, Localizer, StreamingLocalizer, load_model
from spatialrep.methods.sfd import (
    AzimuthHead,
    FinetuneOptions,
    SfdConfig,
    SfdLocalizer,
    SfdPretrainer,
    finetune_step,
    pretrain_step,
)
from spatialrep.models import EncoderConfig
from spatialrep.train import StepContext, build_seeded, load_checkpoint, save_checkpoint

ENCODER = {"d_model": 16, "num_heads": 2, "num_layers": 1, "conv_kernel": 3, "dropout": 0.0}
FS = 16000


def tiny(
    frontend: dict[str, Any] | None = None, target: dict[str, Any] | None = None, **encoder: Any
) -> SfdConfig:
    return SfdConfig(
        frontend=FrameInput(**(frontend or {})),
        encoder=EncoderConfig("causal_conformer", {**ENCODER, **encoder}),
        target=DistillationTarget(**(target or {})),
    )


def noise(batch: int = 2, time: int = 4000, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 2, time, generator=torch.Generator().manual_seed(seed))


def seeded(cls: type, config: SfdConfig, seed: int = 0) -> Any:
    return build_seeded(cls, {"config": config}, seed)


def context() -> StepContext:
    return StepContext(stage="train", global_step=0, generator=torch.Generator().manual_seed(0))


# ---------------------------------------------------------------------------------------------- config


def test_defaults_match_the_paper_setup():
    cfg = SfdConfig()
    assert cfg.frontend == FrameInput() and cfg.target == DistillationTarget("gcc_phat", 15, "frame")
    assert cfg.encoder.name == "causal_conformer" and cfg.encoder.kwargs["d_model"] == 256
    assert cfg.grid().num_classes == 37  # 5° over [-90°, 90°]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"target": {"name": "mfcc"}}, "name='mfcc'"),
        ({"frontend": {"n_fft": 0}}, "n_fft"),
        ({"frontend": {"win_length": 600}}, "win_length=600"),
        ({"target": {"max_lag": 256}}, "max_lag=256"),
        ({"target": {"max_lag": -1}}, "max_lag=-1"),
        ({"encoder": {"name": "causal_conformer", "kwargs": {"d_model": 30, "num_heads": 4}}}, "d_model"),
        ({"encoder": {"name": "causal_conformer", "kwargs": {"dropout": 1.0}}}, "dropout"),
        ({"encoder": {"name": "transformerxl"}}, "unknown encoder 'transformerxl'"),
        ({"encoder": {"name": "mlp", "kwargs": {"input_dim": 3}}}, "input_dim"),
        ({"head": {"region": "rear"}}, "region='rear'"),
        ({"head": {"step_deg": 7.0}}, "step_deg=7.0"),
        ({"frontend": {"hop_length": True}}, "hop_length"),
        ({"frontend": {"kind": "mfcc"}}, "kind='mfcc'"),
        ({"bogus": 1}, "unknown key.*bogus"),
    ],
)
def test_config_guards_name_the_culprit(data, fragment):
    with pytest.raises(ConfigError, match=fragment):
        SfdConfig.from_dict(data)


def test_config_dict_round_trip_and_replace():
    cfg = tiny(target={"name": "ipd_ild", "max_lag": 5})
    assert SfdConfig.from_dict(cfg.to_dict()) == cfg
    changed = cfg.replace(frontend={"kind": "gcc_phat"}, target={"name": "gcc"})
    assert changed.frontend.kind == "gcc_phat" and changed.target == DistillationTarget("gcc", 5)
    assert changed.encoder == cfg.encoder and cfg.frontend.kind == "stft"
    with pytest.raises(TypeError, match="SfdConfig or a dict"):
        SfdPretrainer(42)  # type: ignore[arg-type]


def test_any_registered_encoder_fits_the_method():
    """The method composes an encoder by name: an MLP over the frames works as well (it does not stream)."""
    cfg = SfdConfig(encoder=EncoderConfig("mlp", {"hidden_sizes": [8], "batch_norm": False}))
    model = seeded(SfdLocalizer, cfg)
    out = model.localize(noise(batch=1), FS)
    assert out.track is not None and out.track.probabilities.shape == (1, 22, 37)
    with pytest.raises(ValueError, match="cannot stream"):
        model.localize_stream(noise(batch=1), FS, 160)


# ---------------------------------------------------------------------------------------------- steps


def test_pretrain_step_is_mse_and_learns():
    cfg = tiny()
    model = seeded(SfdPretrainer, cfg)
    batch = {"noisy": noise(), "clean_direct": noise(seed=3)}
    out = pretrain_step(model, batch)
    pred = model(cfg.frontend(batch["noisy"]))
    ref = ((pred - cfg.target(batch["clean_direct"], cfg.frontend)) ** 2).mean()
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
    frame_logits, clip_logits = model(cfg.frontend(batch["noisy"]))
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
    with pytest.raises(ValueError, match="generator"):
        finetune_step(model.train(), _batch([[0.0]]), augment=NoiseAugmentation())


def test_finetune_step_augments_only_in_training_and_from_the_step_generator():
    model = seeded(SfdLocalizer, tiny())
    batch = {"noisy": noise(batch=2, time=4000), "labels": {"azimuth": torch.tensor([0.0, 0.5])}}
    loud = NoiseAugmentation((-30.0, -30.0), probability=1.0)
    model.eval()
    plain = finetune_step(model, batch)["loss"]
    assert torch.equal(finetune_step(model, batch, context(), augment=loud)["loss"], plain)
    model.train()
    augmented = finetune_step(model, batch, context(), augment=loud)["loss"]
    assert not torch.equal(augmented, plain)
    assert torch.equal(finetune_step(model, batch, context(), augment=loud)["loss"], augmented)


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
    with pytest.raises(ValueError, match="features per frame"):
        seeded(SfdLocalizer, tiny(frontend={"kind": "gcc_phat"})).load_encoder(pre)
    seeded(SfdLocalizer, tiny(dropout=0.3)).load_encoder(pre)  # dropout may differ


# ---------------------------------------------------------------------------------------------- protocols


def test_localizer_implements_the_protocols():
    model = seeded(SfdLocalizer, tiny())
    assert (
        isinstance(model, Localizer) and isinstance(model, StreamingLocalizer) and isinstance(model, Embedder)
    )
    assert not isinstance(seeded(SfdPretrainer, tiny()), Localizer)
    assert (model.sample_rate, model.num_channels, model.min_samples, model.embedding_dim) == (FS, 2, 512, 16)


def test_localize_shapes_and_grid():
    cfg = tiny()
    model = seeded(SfdLocalizer, cfg).train()
    out = model.localize(noise(batch=2, time=8000), FS)
    assert isinstance(out, Directions) and out.elevation is None and len(out) == 2
    track = out.track
    assert track is not None and track.probabilities.shape == (2, 47, 37) and track.logits is not None
    np.testing.assert_allclose(track.probabilities.sum(axis=-1), 1.0, atol=1e-6)
    assert track.frame_azimuth().shape == (2, 47) and (track.hop_s, track.frame_s) == (0.01, 0.032)
    grid = cfg.grid().azimuths
    assert all(min(abs(a - grid)) < 1e-9 for a in out.azimuth.tolist())
    np.testing.assert_array_equal(out.azimuth, track.pooled_azimuth())
    assert model.training  # mode restored
    single = model.localize(noise(batch=2, time=8000)[0], FS)
    np.testing.assert_allclose(single.track.logits, track.logits[:1], atol=1e-5)  # type: ignore[union-attr]
    embedding = model.embed(noise(batch=2, time=8000), FS)
    assert embedding.shape == (2, 16)


@pytest.mark.parametrize("chunk", [1, 160, 999, 1600, 100_000])
def test_streaming_equals_offline(chunk):
    model = seeded(SfdLocalizer, tiny(num_layers=2))
    x = noise(batch=1, time=7777)
    offline = model.localize(x, FS)
    streamed = model.localize_stream(x, FS, chunk_samples=chunk)
    assert np.abs(streamed.track.logits - offline.track.logits).max() <= 1e-5  # type: ignore[union-attr,operator]
    np.testing.assert_array_equal(streamed.azimuth, offline.azimuth)


def test_localize_guards():
    model = seeded(SfdLocalizer, tiny())
    with pytest.raises(ValueError, match=r"\(batch, 2, time\).*\(1, 1, 4000\)"):
        model.localize(torch.zeros(1, 4000), FS)
    with pytest.raises(ValueError, match="300 samples, shorter than the model's 512"):
        model.localize(torch.zeros(2, 300), FS)
    with pytest.raises(ValueError, match="8000 Hz but the model expects 16000 Hz"):
        model.localize(torch.zeros(2, 4000), 8000)
    with pytest.raises(ValueError, match="NaN"):
        model.localize(torch.full((2, 4000), float("nan")), FS)
    with pytest.raises(ValueError, match="chunk_samples must be a positive integer"):
        model.localize_stream(torch.zeros(2, 4000), FS, chunk_samples=0)


def test_checkpoint_round_trip_without_pickle(tmp_path):
    cfg = tiny(target={"name": "cps_phat"})
    model = seeded(SfdLocalizer, cfg).eval()
    save_checkpoint(
        tmp_path / "best", model, model_name="sfd_localizer", model_kwargs={"config": cfg.to_dict()}
    )
    loaded = load_model(tmp_path)  # finds best/
    assert isinstance(loaded, SfdLocalizer) and loaded.config == cfg
    x = noise(batch=1)
    np.testing.assert_array_equal(loaded.localize(x, FS).track.logits, model.localize(x, FS).track.logits)  # type: ignore[union-attr]
    again, meta = load_checkpoint(tmp_path / "best")  # the model registry
    assert isinstance(again, SfdLocalizer) and meta.model_name == "sfd_localizer"
    with pytest.raises(FileNotFoundError, match="no model checkpoint"):
        load_model(tmp_path / "absent")


def test_head_guards():
    with pytest.raises(ValueError, match="region='rear'"):
        AzimuthHead(region="rear")
    assert dataclasses.replace(AzimuthHead(), region="full").grid().num_classes == 72


def test_soft_targets_and_encoder_learning_rate():
    model = seeded(SfdLocalizer, tiny())
    batch = _batch([[30.0], [-90.0]])
    hard = finetune_step(model, batch)["loss"]
    soft = finetune_step(model, batch, soft_targets_deg=5.0)
    frame_logits, _ = model(model.config.frontend(batch["noisy"]))
    target = torch.from_numpy(model.grid.soft_targets(np.radians([30.0, -90.0]), 5.0)).float()
    expected = -(target[:, None] * torch.log_softmax(frame_logits, -1)).sum(-1).mean()
    torch.testing.assert_close(soft["loss"], expected)
    assert not torch.equal(soft["loss"], hard) and soft["accuracy"] == finetune_step(model, batch)["accuracy"]
    model.encoder_lr_scale = 0.1
    from spatialrep.train import MethodModule, TrainConfig

    groups = MethodModule(model, finetune_step, train_config=TrainConfig(lr=1e-3))._parameter_groups()
    assert [g["lr"] for g in groups] == pytest.approx([1e-4, 1e-3])
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    with pytest.raises(ConfigError, match="encoder_lr_scale"):
        FinetuneOptions(encoder_lr_scale=0.0)
    with pytest.raises(ConfigError, match="soft_targets_deg"):
        FinetuneOptions(soft_targets_deg=-1.0)
