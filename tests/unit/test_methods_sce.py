"""SCE / WSCE: config guards, network structure, training step, k-NN references in checkpoints, protocols."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from scipy.signal import fftconvolve
from torch import nn

from spatialrep.config import ConfigError
from spatialrep.features.measurement import MeasurementConfig
from spatialrep.losses import PairContrastiveLoss, supervised_label_distances, supervised_neighbours
from spatialrep.methods import Embedder, Localizer, StreamingLocalizer, load_model
from spatialrep.methods.sce import PairLossConfig, SceConfig, SceEmbedding, make_step, mlp_encoder, train_sce
from spatialrep.simulate.receiver_factory import make_receiver
from spatialrep.train import TrainConfig, load_checkpoint, save_checkpoint

FS = 16000


def config(dropout: float = 0.2, **loss: Any) -> SceConfig:
    return SceConfig(encoder=mlp_encoder(3, dropout=dropout), loss=PairLossConfig(**loss))


def _clip(kemar: object, az_deg: float, el_deg: float, seed: int, seconds: float = 0.25) -> torch.Tensor:
    hrir = kemar.impulse_responses(np.radians([az_deg]), np.radians([el_deg]))[0]  # type: ignore[attr-defined]
    noise = np.random.default_rng(seed).standard_normal(round(seconds * FS) + hrir.shape[1] - 1)
    return torch.from_numpy(np.stack([fftconvolve(noise, hrir[c], mode="valid") for c in range(2)])).float()


@pytest.fixture(scope="module")
def kemar() -> object:
    return make_receiver("kemar", FS)


@pytest.fixture(scope="module")
def trained(kemar: object, tmp_path_factory: pytest.TempPathFactory) -> tuple[SceEmbedding, Path]:
    """An azimuth SCE trained on anechoic KEMAR white-noise clips, azimuth -90..90° every 15°, elevation 0."""
    azimuths = np.arange(-90, 91, 15.0)
    clips, az = [], []
    for repeat in range(6):
        for a in azimuths:
            clips.append(_clip(kemar, a, 0.0, seed=100 * repeat + int(a) + 90))
            az.append(math.radians(a))
    features = MeasurementConfig()(torch.stack(clips))
    az_arr, el_arr = np.array(az), np.zeros(len(az))
    train = (features[:52].numpy(), az_arr[:52], el_arr[:52])
    val = (features[52:].numpy(), az_arr[52:], el_arr[52:])
    settings = TrainConfig(
        max_steps=120, batch_size=26, lr=3e-3, optimizer="adam", accelerator="cpu", devices=1,
        val_every_n_steps=40, log_every_n_steps=20, checkpoint_every_n_steps=1000,
    )  # fmt: skip
    out = tmp_path_factory.mktemp("sce") / "run"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a small MLP trains faster on one thread than on two shared cores
    try:
        trained = train_sce(train, val, out, config(dropout=0.0, epsilon_deg=10.0), settings)
    finally:
        torch.set_num_threads(threads)
    assert isinstance(trained.model, SceEmbedding) and trained.checkpoint == out / "model"
    return trained.model, out


def test_config_guards_name_the_field() -> None:
    for data, field in [
        ({"loss": {"mode": "xyz"}}, "mode"), ({"loss": {"target": "distance"}}, "target"),
        ({"loss": {"epsilon_deg": 0.0}}, "epsilon_deg"), ({"loss": {"margin": "big"}}, "margin"),
        ({"loss": {"margin": -1.0}}, "margin"), ({"loss": {"margin_unit": "grad"}}, "margin_unit"),
        ({"encoder": {"name": "mlp", "kwargs": {"dropout": 1.0}}}, "dropout"),
        ({"frontend": {"window": "kaiser"}}, "window"), ({"head": {"k": 0}}, "k"),
        ({"bogus": 1}, "unknown key"),
    ]:  # fmt: skip
        with pytest.raises(ConfigError, match=field):
            SceConfig.from_dict(data)
    wsce = config(mode="wsce")
    assert SceConfig.from_dict(wsce.to_dict()) == wsce
    assert SceConfig().frontend.dim == 729
    assert config(mode="wsce", epsilon_deg=15).name == "wsce_eps15"


def test_network_structure_matches_the_paper() -> None:
    model = SceEmbedding(config(dropout=0.2))
    layers = list(model.encoder.net)
    kinds = [type(layer) for layer in layers]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.Sigmoid, nn.Dropout] * 2 + [nn.Linear]
    assert [(m.in_features, m.out_features) for m in layers if isinstance(m, nn.Linear)] == [
        (729, 729), (729, 729), (729, 3),
    ]  # fmt: skip
    assert all(m.p == 0.2 for m in layers if isinstance(m, nn.Dropout))
    out = model(torch.randn(5, 729))
    assert out.shape == (5, 3)
    assert SceEmbedding(config(dropout=0.0)).encoder.net.__len__() == 7  # no dropout layers at p = 0


def test_step_equals_the_loss_on_supervised_neighbourhoods() -> None:
    torch.manual_seed(0)
    model = SceEmbedding(config(epsilon_deg=15.0, margin_unit="radians")).eval()
    x, az, el = torch.randn(8, 729), torch.linspace(-1.5, 1.5, 8), torch.zeros(8)
    out = make_step(model.config)(model, (x, az, el))
    y = supervised_neighbours(az, math.radians(15.0))
    expected = PairContrastiveLoss()(model(x), y, supervised_label_distances(az))
    assert torch.allclose(out["loss"], expected)
    degrees = make_step(config(epsilon_deg=15.0))(model, (x, az, el))["loss"]
    assert not torch.allclose(degrees, expected)  # the margin unit changes the loss
    constant = make_step(config(epsilon_deg=15.0, margin=1.0))(model, (x, az, el))["loss"]
    assert torch.allclose(constant, PairContrastiveLoss(margin=1.0)(model(x), y))


def test_trained_model_localizes_kemar_clips(trained: tuple[SceEmbedding, Path], kemar: object) -> None:
    model, _ = trained
    assert isinstance(model, Localizer) and isinstance(model, Embedder)
    assert not isinstance(model, StreamingLocalizer)
    assert model.sample_rate == FS and model.num_references == 52 and model.embedding_dim == 3
    truth = (-60.0, -15.0, 30.0, 75.0)
    clips = torch.stack([_clip(kemar, a, 0.0, seed=9999 + int(a)) for a in truth])
    found = model.localize(clips, FS)
    assert found.elevation is not None and found.track is None
    errors = np.abs(np.degrees(found.azimuth) - np.array(truth))
    assert errors.max() < 12.0, errors
    far = model.localize(_clip(kemar, -60.0, 0.0, seed=1), FS).azimuth[0]
    assert abs(math.degrees(far) - 60.0) > 60.0  # left and right are not confused
    assert model.embed(clips, FS).shape == (4, 3)


def test_checkpoint_round_trip_keeps_references(trained: tuple[SceEmbedding, Path], kemar: object) -> None:
    model, run = trained
    for path in (run, run / "model"):
        loaded = load_model(path)
        assert isinstance(loaded, SceEmbedding)
        assert torch.equal(loaded.ref_embeddings, model.ref_embeddings)
        assert torch.equal(loaded.ref_azimuth, model.ref_azimuth)
    clip = _clip(kemar, 20.0, 0.0, seed=5)
    np.testing.assert_array_equal(
        load_model(run).localize(clip, FS).azimuth, model.localize(clip, FS).azimuth
    )
    _, meta = load_checkpoint(run / "model")
    assert meta.model_kwargs["num_references"] == 52
    with pytest.raises(FileNotFoundError, match="no model checkpoint"):
        load_model(run / "nowhere")


def test_references_survive_a_checkpoint(tmp_path: Path) -> None:
    model = SceEmbedding(config(dropout=0.0, mode="wsce"))
    model.set_references(torch.randn(7, 729), np.linspace(-1, 1, 7), np.zeros(7))
    kwargs = {"config": model.config.to_dict(), "num_references": 7}
    save_checkpoint(tmp_path / "m", model, model_name="sce_embedding", model_kwargs=kwargs)
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, SceEmbedding) and loaded.config.loss.mode == "wsce"
    x = torch.randn(3, 729)
    a1, e1 = loaded.localize_features(x)
    a2, e2 = model.localize_features(x)
    np.testing.assert_allclose(a1, a2, atol=1e-6)
    np.testing.assert_allclose(e1, e2, atol=1e-6)


def test_bad_audio_raises_clear_errors(trained: tuple[SceEmbedding, Path]) -> None:
    model, _ = trained
    with pytest.raises(ValueError, match="binaural"):
        model.localize(torch.zeros(1, 4000), FS)
    with pytest.raises(ValueError, match="shorter than the model's 1024"):
        model.localize(torch.zeros(2, 500), FS)
    bad = torch.randn(2, 4000)
    bad[0, 7] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model.localize(bad, FS)
    with pytest.raises(TypeError, match="floating"):
        model.localize(torch.zeros(2, 4000, dtype=torch.int64), FS)
    with pytest.raises(ValueError, match="44100 Hz"):
        model.localize(torch.zeros(2, 4000), 44100)
    with pytest.raises(RuntimeError, match="references"):
        SceEmbedding(SceConfig()).localize_features(torch.randn(2, 729))
    with pytest.raises(ValueError, match="num_references"):
        SceEmbedding(SceConfig(), num_references=-1)


def test_one_localize_command_serves_sce_models(
    trained: tuple[SceEmbedding, Path], kemar: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from spatialrep.cli.main import main
    from spatialrep.io.audio import read_audio, write_audio

    model, run = trained
    clip = _clip(kemar, 45.0, 0.0, seed=4242, seconds=1.2)
    wav = tmp_path / "left45.wav"
    write_audio(wav, clip.numpy(), FS)
    assert main(["localize", str(wav), "--model", str(run), "--json", "--segment", "0.5"]) == 0
    result = json.loads(capsys.readouterr().out)
    written = torch.from_numpy(read_audio(wav)[0]).float()  # what was written (24-bit)
    expected = model.localize(written, FS)
    assert result["model_type"] == "SceEmbedding" and "frame_logits" not in result
    assert result["clip"]["azimuth_deg"] == pytest.approx(math.degrees(expected.azimuth[0]), abs=1e-3)
    assert result["clip"]["elevation_deg"] == pytest.approx(math.degrees(expected.elevation[0]), abs=1e-3)  # type: ignore[index]
    assert abs(result["clip"]["azimuth_deg"] - 45.0) < 12.0
    # 1.2 s in 0.5 s segments: 0-0.5, 0.5-1.0, and the 0.2 s rest is its own segment (longer than one frame)
    assert [(s["start_s"], s["end_s"]) for s in result["segments"]] == [(0.0, 0.5), (0.5, 1.0), (1.0, 1.2)]
    assert all("elevation_deg" in s for s in result["segments"])
    # A last piece shorter than one analysis frame (1024 samples) merges into the segment before it.
    assert main(["localize", str(wav), "--model", str(run), "--json", "--segment", "0.58"]) == 0
    merged = json.loads(capsys.readouterr().out)["segments"]
    assert [(s["start_s"], s["end_s"]) for s in merged] == [(0.0, 0.58), (0.58, 1.2)]

    assert main(["localize", str(wav), "--model", str(run)]) == 0
    text = capsys.readouterr().out
    assert "elevation" in text and "SceEmbedding" in text
    assert main(["localize", str(wav), "--model", str(run), "--stream"]) == 2
    assert "--stream needs a streaming model" in capsys.readouterr().err
