"""TrainConfig.sync_batchnorm: validated, and handed to Lightning's Trainer as it is."""

from __future__ import annotations

from typing import Any

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from spatialrep.config import ConfigError
from spatialrep.train import MethodModule, TrainConfig, fit, make_loader
from spatialrep.train import loop as loop_module


def _step(model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
    inputs, targets = batch
    return {"loss": nn.functional.mse_loss(model(inputs), targets)}


@pytest.mark.parametrize("sync", [False, True])
def test_sync_batchnorm_reaches_the_trainer(sync, tmp_path, monkeypatch):
    seen: dict[str, Any] = {}

    class RecordingTrainer(L.Trainer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            seen.update(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(loop_module.L, "Trainer", RecordingTrainer)
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    loader = make_loader(TensorDataset(x, x[:, :1]), batch_size=4, seed=0)
    module = MethodModule(
        nn.Linear(3, 1), _step, model_name="linear", model_kwargs={"in_features": 3, "out_features": 1}
    )
    config = TrainConfig(
        max_steps=1, accelerator="cpu", devices=1, loggers=(), log_every_n_steps=1, sync_batchnorm=sync
    )
    fit(module, loader, None, config, tmp_path / "run", progress=False)
    assert seen["sync_batchnorm"] is sync  # the guard can fail: each value is checked, not just presence


def test_sync_batchnorm_must_be_a_boolean():
    assert TrainConfig().sync_batchnorm is False
    with pytest.raises(ConfigError, match="sync_batchnorm='yes'"):
        TrainConfig(sync_batchnorm="yes")  # type: ignore[arg-type]
