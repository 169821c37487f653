"""Feed-forward baseline: one network per angle, labels u/180, step, training, checkpoint, protocol."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from spatialrep.config import ConfigError
from spatialrep.methods import Localizer, load_model
from spatialrep.methods.feedforward import (
    LABEL_SCALE_DEG,
    FeedForwardConfig,
    FeedForwardRegressor,
    ff_step,
    train_feedforward,
)
from spatialrep.methods.sce import SceConfig, SceEmbedding
from spatialrep.models import EncoderConfig
from spatialrep.train import TrainConfig


def config(dropout: float = 0.2) -> FeedForwardConfig:
    kwargs = {"hidden_sizes": [729, 729], "output_dim": 1, "dropout": dropout, "activation": "sigmoid"}
    return FeedForwardConfig(encoder=EncoderConfig("mlp", kwargs))


def test_one_network_per_angle_sharing_nothing() -> None:
    model = FeedForwardRegressor(config())
    assert set(model.networks) == {"azimuth", "elevation"}
    az_params = {id(p) for p in model.networks["azimuth"].parameters()}
    assert az_params.isdisjoint(id(p) for p in model.networks["elevation"].parameters())
    x = torch.randn(5, 729, requires_grad=False)
    out = model(x)
    out[:, 0].sum().backward()  # the azimuth output moves only the azimuth network
    assert all(p.grad is None or not p.grad.any() for p in model.networks["elevation"].parameters())


def test_config_guards() -> None:
    with pytest.raises(ConfigError, match="1 output"):
        FeedForwardConfig(encoder=EncoderConfig("mlp", {"hidden_sizes": [8], "output_dim": 2}))
    with pytest.raises(ConfigError, match="unknown key"):
        FeedForwardConfig.from_dict({"loss": {}})
    assert FeedForwardConfig.from_dict(config().to_dict()) == config()


def test_outputs_in_open_interval_and_step_is_mse_of_degrees_over_180() -> None:
    torch.manual_seed(0)
    model = FeedForwardRegressor(config(dropout=0.0)).eval()
    x = torch.randn(6, 729) * 50
    out = model(x)
    assert out.shape == (6, 2) and bool((out.abs() < 1).all())
    az, el = torch.linspace(-1.5, 1.5, 6), torch.linspace(-0.7, 0.7, 6)
    target = torch.rad2deg(torch.stack((az, el), 1)) / 180.0
    result = ff_step(model, (x, az, el))
    per_angle = (out - target).square().mean(dim=0)
    torch.testing.assert_close(result["loss"], per_angle.sum())
    torch.testing.assert_close(result["loss_azimuth"], per_angle[0])
    assert LABEL_SCALE_DEG == 180.0 and abs(float(target[0, 0]) + 1.5 * 180 / math.pi / 180) < 1e-6
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
