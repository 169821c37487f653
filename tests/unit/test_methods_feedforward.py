"""Feed-forward baseline: own config, label scaling, tanh outputs, step, training, checkpoint, protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from spatialrep.config import ConfigError
from spatialrep.methods import Localizer, load_model
from spatialrep.methods.feedforward import (
    FeedForwardConfig,
    FeedForwardRegressor,
    LabelScaler,
    ff_step,
    train_feedforward,
)
from spatialrep.methods.sce import SceConfig, SceEmbedding
from spatialrep.models import EncoderConfig
from spatialrep.train import TrainConfig

RANGES = [[-np.pi / 2, np.pi / 2], [-0.7, 0.7]]


def config(dropout: float = 0.2) -> FeedForwardConfig:
    kwargs = {"hidden_sizes": [729, 729], "output_dim": 2, "dropout": dropout, "activation": "sigmoid"}
    return FeedForwardConfig(encoder=EncoderConfig("mlp", kwargs))


def test_label_scaler_round_trip_and_range() -> None:
    labels = np.stack([np.linspace(-1.2, 1.4, 9), np.linspace(-0.5, 0.6, 9)], axis=1)
    scaler = LabelScaler.from_labels(labels[:, 0], labels[:, 1])
    scaled = scaler.scale(labels)
    np.testing.assert_allclose(scaled.min(axis=0), [-1.0, -1.0])
    np.testing.assert_allclose(scaled.max(axis=0), [1.0, 1.0])
    np.testing.assert_allclose(scaler.unscale(scaled), labels, atol=1e-12)
    assert LabelScaler(scaler.ranges).ranges == scaler.ranges
    constant = LabelScaler.from_labels(np.zeros(4), np.ones(4))  # a constant label still gets a range
    assert constant.high[0] > constant.low[0]
    with pytest.raises(ValueError, match="low < high"):
        LabelScaler([[1.0, 0.0]])
    with pytest.raises(ValueError, match="two ranges"):
        FeedForwardRegressor(FeedForwardConfig(), [[0.0, 1.0]])


def test_config_guards() -> None:
    with pytest.raises(ConfigError, match="2 outputs"):
        FeedForwardConfig(encoder=EncoderConfig("mlp", {"hidden_sizes": [8], "output_dim": 3}))
    with pytest.raises(ConfigError, match="unknown key"):
        FeedForwardConfig.from_dict({"loss": {}})
    assert FeedForwardConfig.from_dict(config().to_dict()) == config()


def test_outputs_in_open_interval_and_step_is_mse() -> None:
    torch.manual_seed(0)
    model = FeedForwardRegressor(config(dropout=0.0), RANGES).eval()
    x = torch.randn(6, 729) * 50
    out = model(x)
    assert out.shape == (6, 2) and bool((out.abs() < 1).all())
    az, el = torch.linspace(-1.5, 1.5, 6), torch.linspace(-0.7, 0.7, 6)
    target = torch.from_numpy(model.scaler.scale(torch.stack((az, el), 1).double().numpy())).float()
    assert torch.allclose(ff_step(model, (x, az, el))["loss"], torch.nn.functional.mse_loss(out, target))
    with pytest.raises(TypeError, match="FeedForwardRegressor"):
        ff_step(SceEmbedding(SceConfig()), (x, az, el))


def test_training_learns_a_linear_map_and_reloads(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    az, el = rng.uniform(-1.4, 1.4, 160), rng.uniform(-0.6, 0.6, 160)
    x = rng.normal(size=(160, 729)).astype(np.float32) * 0.05
    x[:, 0], x[:, 1] = az, el
    settings = TrainConfig(
        max_steps=150, batch_size=32, lr=3e-3, optimizer="adam", accelerator="cpu", devices=1,
        val_every_n_steps=50, log_every_n_steps=50, checkpoint_every_n_steps=1000,
    )  # fmt: skip
    trained = train_feedforward(
        (x[:120], az[:120], el[:120]), (x[120:], az[120:], el[120:]), tmp_path / "ff", config(0.0), settings
    )
    model = trained.model
    assert isinstance(model, FeedForwardRegressor) and isinstance(model, Localizer)
    pred_az, _ = model.predict_features(torch.from_numpy(x[120:]))
    assert np.median(np.abs(pred_az - az[120:])) < np.median(np.abs(az[120:])) / 3
    loaded = load_model(tmp_path / "ff")
    assert isinstance(loaded, FeedForwardRegressor)
    np.testing.assert_allclose(loaded.predict_features(torch.from_numpy(x[120:]))[0], pred_az, atol=1e-6)
    found = loaded.localize(torch.randn(2, 2, 3000), 16000)
    assert found.azimuth.shape == (2,) and found.elevation is not None
    with pytest.raises(ValueError, match="binaural"):
        loaded.localize(torch.randn(3, 3000), 16000)
    assert trained.fit.global_step == 150
