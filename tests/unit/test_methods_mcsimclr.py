"""MC-SimCLR's models and training functions on a few rendered array clips (seconds of training)."""

from __future__ import annotations

import json

import pytest
import torch

from spatialrep.config import ConfigError
from spatialrep.data.presets import load_dataset_config
from spatialrep.data.writer import render_dataset
from spatialrep.features.augment import channel_swap
from spatialrep.methods import Embedder, Localizer, load_model
from spatialrep.methods.mcsimclr import (
    FinetuneOptions,
    McSimclrConfig,
    McSimclrFeatureProbe,
    McSimclrModel,
    McSimclrPretrainer,
    dataset_classes,
    finetune,
    finetune_step,
    linear_probe,
    load_mcsimclr,
    pretrain,
    pretrain_step,
)
from spatialrep.models import EncoderConfig
from spatialrep.train import StepContext, TrainConfig, build_seeded

SMALL = McSimclrConfig(
    encoder=EncoderConfig("crnn", {"conv_channels": 4, "gru_hidden": 6, "gru_layers": 1}),
    projector=EncoderConfig("mlp", {"hidden_sizes": [8], "output_dim": 4}),
    crop_s=0.25,
)
TRAIN = {"batch_size": 4, "accelerator": "cpu", "devices": 1, "log_every_n_steps": 1, "loggers": ()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("array") / "data"
    config = load_dataset_config("array4-events-tiny", ["scene.num_sources=[1, 1]", "num_examples=16"])
    render_dataset(config, folder, workers=1)
    return folder


@pytest.fixture(scope="module")
def pretrained(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("pretrain")
    pretrain(dataset, out, SMALL, TrainConfig(max_steps=2, val_every_n_steps=2, **TRAIN))
    return out


def _audio(batch: int = 3, channels: int = 4, samples: int = 4000) -> torch.Tensor:
    return 0.1 * torch.randn(batch, channels, samples, generator=torch.Generator().manual_seed(0))


def test_config_guards():
    with pytest.raises(ConfigError, match="logmel, gcc_phat"):
        McSimclrConfig(frontend={"num_channels": 4, "features": ["gcc_phat", "logmel"], "num_lags": 64})
    with pytest.raises(ConfigError, match="2 microphones"):
        McSimclrConfig(array="pair")
    with pytest.raises(ConfigError, match="crop_s"):
        McSimclrConfig(crop_s=0.0)
    with pytest.raises(ConfigError, match="leave no bin"):
        McSimclrConfig(encoder=EncoderConfig("crnn", {"pool_sizes": [64, 2]}))
    with pytest.raises(ConfigError, match="probability"):
        McSimclrConfig(augment={"channel_drop": 2.0})
    with pytest.raises(ConfigError, match="channel_swap"):
        FinetuneOptions(channel_swap=-0.1)
    config = McSimclrConfig.from_dict(SMALL.to_dict())
    assert config == SMALL and config.mel_maps() == [True] * 4 + [False] * 6 and len(config.symmetries()) == 8
    assert config.input_dim == 640 and config.encoder_section().kwargs["in_channels"] == 10


def test_models_answer_the_protocols_and_refuse_other_channel_counts():
    model = build_seeded(McSimclrModel, {"config": SMALL, "class_names": ["a", "b", "c"]}, 0)
    assert isinstance(model, Localizer) and isinstance(model, Embedder) and model.num_channels == 4
    found = model.localize(_audio(), 16000)
    assert found.azimuth.shape == (3,) and found.class_scores is not None
    assert found.class_scores.shape == (3, 3) and found.class_names == ("a", "b", "c")
    assert found.best_class(0) in ("a", "b", "c")
    assert model.embed(_audio(), 16000).shape == (3, 12)
    with pytest.raises(ValueError, match=r"\(batch, 4, time\)"):
        model.localize(_audio(channels=2), 16000)
    with pytest.raises(ValueError, match="16000 Hz"):
        model.localize(_audio(), 8000)
    probe = build_seeded(McSimclrFeatureProbe, {"config": SMALL, "class_names": ["a", "b"]}, 0)
    assert probe.embed(_audio(), 16000).shape == (3, 640)
    with pytest.raises(ValueError, match="distinct"):
        McSimclrModel(SMALL, ["a", "a"])


def test_pretrain_step_is_deterministic_per_step_and_validation_is_not_random():
    model = build_seeded(McSimclrPretrainer, {"config": SMALL}, 0)
    batch = {"noisy": _audio(batch=4)}

    def train(seed: int) -> torch.Tensor:
        context = StepContext("train", 0, torch.Generator().manual_seed(seed))
        return pretrain_step(model.eval(), batch, context)["loss"]

    assert torch.equal(train(1), train(1)) and not torch.equal(train(1), train(2))
    val = pretrain_step(model.eval(), batch, StepContext("val", 0, None))
    assert torch.equal(val["loss"], pretrain_step(model, batch, StepContext("val", 0, None))["loss"])
    with pytest.raises(ValueError, match="shorter than the 4000-sample views"):
        pretrain_step(model, {"noisy": _audio(samples=100)}, None)


def test_finetune_step_relabels_swapped_clips():
    model = build_seeded(McSimclrModel, {"config": SMALL, "class_names": ["x"]}, 0).eval()
    batch = {"noisy": _audio(batch=8), "labels": {"azimuth": torch.zeros(8, 1), "class": [["x"]] * 8}}
    context = StepContext("train", 0, torch.Generator().manual_seed(0))
    swapped = finetune_step(model, batch, context, channel_swap_p=1.0)
    plain = finetune_step(model, batch, context, channel_swap_p=0.0)
    # The same clips under an array symmetry with the azimuth mapped: the targets differ, so do the errors.
    assert not torch.isclose(swapped["azimuth_loss"], plain["azimuth_loss"])
    # The target is the azimuth mapped by the clip's own symmetry: the swapped step equals a plain step on the
    # same draws (the swap is the generator's first draw) with mapped labels, and not one with the originals.
    azimuth = torch.linspace(-3.0, 3.0, 8)
    labelled = {"noisy": batch["noisy"], "labels": {"azimuth": azimuth[:, None], "class": [["x"]] * 8}}
    swapped = finetune_step(model, labelled, StepContext("train", 0, torch.Generator().manual_seed(4)))
    audio, mapped, choice = channel_swap(
        batch["noisy"], SMALL.symmetries(), torch.Generator().manual_seed(4), probability=0.5, azimuth=azimuth
    )
    assert bool((choice != 0).any()) and mapped is not None
    relabelled = finetune_step(model, {"noisy": audio, "labels": {"azimuth": mapped, "class": ["x"] * 8}})
    torch.testing.assert_close(swapped["azimuth_loss"], relabelled["azimuth_loss"], rtol=1e-6, atol=0)
    unmapped = finetune_step(model, {"noisy": audio, "labels": {"azimuth": azimuth, "class": ["x"] * 8}})
    assert not torch.isclose(swapped["azimuth_loss"], unmapped["azimuth_loss"])
    with pytest.raises(ValueError, match="not one of the model's classes"):
        finetune_step(model, {**batch, "labels": {"azimuth": torch.zeros(8), "class": ["y"] * 8}})
    with pytest.raises(ValueError, match="one source"):
        finetune_step(model, {**batch, "labels": {"azimuth": torch.zeros(8, 2), "class": [["x"]] * 8}})


def test_linear_probe_leaves_the_encoder_and_its_statistics_unchanged(dataset, pretrained, tmp_path):
    encoder = load_mcsimclr(pretrained).encoder
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    trained = linear_probe(dataset, tmp_path, TrainConfig(max_steps=3, **TRAIN), init_from=pretrained)
    after = trained.model.encoder.state_dict()
    assert before.keys() == after.keys()
    for key, value in before.items():
        assert torch.equal(value, after[key]), key
    # The guard can fail: one forward pass in training mode moves the batch-norm statistics.
    encoder.train()(torch.randn(2, 5, encoder.input_dim))
    assert not all(torch.equal(v, encoder.state_dict()[k]) for k, v in before.items())
    assert trained.checkpoint == tmp_path / "model"
    assert json.loads((tmp_path / "model" / "model.json").read_text())["model_name"] == "mcsimclr_model"


def test_checkpoints_round_trip_through_load_model(dataset, pretrained, tmp_path):
    trained = linear_probe(dataset, tmp_path / "lp", TrainConfig(max_steps=2, **TRAIN), init_from=pretrained)
    loaded = load_model(tmp_path / "lp" / "model")
    assert isinstance(loaded, McSimclrModel) and loaded.class_names == dataset_classes(dataset)
    for key, value in trained.model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    audio = _audio()
    a, b = trained.model.localize(audio, 16000), loaded.localize(audio, 16000)
    assert (a.azimuth == b.azimuth).all() and (a.class_scores == b.class_scores).all()
    features = linear_probe(
        dataset, tmp_path / "fp", TrainConfig(max_steps=2, **TRAIN), config=SMALL, source="features"
    )
    assert (
        isinstance(load_mcsimclr(tmp_path / "fp"), McSimclrFeatureProbe)
        and features.model.heads.std.min() > 0
    )
    assert isinstance(load_model(pretrained), McSimclrPretrainer)
    with pytest.raises(ValueError, match="source"):
        linear_probe(dataset, tmp_path / "x", source="mfcc")
    with pytest.raises(ValueError, match="no encoder"):
        linear_probe(dataset, tmp_path / "x", init_from=pretrained, source="features")


def test_finetune_from_a_pretrained_encoder(dataset, pretrained, tmp_path):
    trained = finetune(
        dataset, tmp_path, TrainConfig(max_steps=2, **TRAIN), init_from=pretrained,
        options=FinetuneOptions(encoder_lr_scale=0.5),
    )  # fmt: skip
    assert isinstance(trained.model, McSimclrModel) and (tmp_path / "best" / "model.json").is_file()
    other = McSimclrConfig(encoder=EncoderConfig("crnn", {"conv_channels": 8, "gru_hidden": 6}))
    with pytest.raises(ValueError, match="does not fit"):
        finetune(
            dataset, tmp_path / "x", TrainConfig(max_steps=1, **TRAIN), init_from=pretrained, config=other
        )
    probe_dir = tmp_path / "probe"
    linear_probe(dataset, probe_dir, TrainConfig(max_steps=1, **TRAIN), config=SMALL)
    with pytest.raises(ValueError, match="not a McSimclrPretrainer"):
        finetune(dataset, tmp_path / "y", TrainConfig(max_steps=1, **TRAIN), init_from=probe_dir / "model")


def test_the_pretrainer_is_an_embedder_equal_to_its_encoder_on_the_front_end():
    model = build_seeded(McSimclrPretrainer, {"config": SMALL}, 0)
    assert isinstance(model, Embedder)
    audio = _audio()
    embeddings = model.embed(audio, 16000)
    assert embeddings.shape == (audio.shape[0], model.embedding_dim) and model.training
    with torch.no_grad():
        expected = model.eval().embed_maps(model.frontend(audio))
    torch.testing.assert_close(embeddings, expected)
    with pytest.raises(ValueError, match="channels"):
        model.embed(audio[:, :2], 16000)
