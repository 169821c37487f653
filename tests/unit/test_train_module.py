"""MethodModule: the step contract, its errors, the optimiser and schedule it builds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from spatialrep.train import MethodModule, TrainConfig, lr_factor

BATCH = (torch.randn(4, 3), torch.randn(4, 1))


def test_model_must_be_a_module():
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module, got function"):
        MethodModule(lambda x: x)


def test_no_step_and_no_compute_override():
    module = MethodModule(nn.Linear(3, 1))
    with pytest.raises(TypeError, match=r"MethodModule: pass step=\.\.\. or override compute\(\)"):
        module.training_step(BATCH, 0)


def test_step_without_loss_names_the_keys():
    module = MethodModule(nn.Linear(3, 1), lambda model, batch: {"mae": torch.tensor(1.0)})
    with pytest.raises(ValueError, match=r"step returned no 'loss' \(keys: mae\)"):
        module.training_step(BATCH, 0)
    empty = MethodModule(nn.Linear(3, 1), lambda model, batch: {})
    with pytest.raises(ValueError, match=r"\(keys: none\)"):
        empty.validation_step(BATCH, 0)


@pytest.mark.parametrize("loss", [torch.ones(4), torch.ones(2, 2), 1.0])
def test_loss_must_be_a_scalar_tensor(loss):
    module = MethodModule(nn.Linear(3, 1), lambda model, batch: {"loss": loss})
    with pytest.raises(ValueError, match="step's 'loss' must be a scalar tensor"):
        module.training_step(BATCH, 0)


def test_one_element_loss_is_reshaped_to_a_scalar():
    module = MethodModule(
        nn.Linear(3, 1), lambda model, batch: {"loss": model(batch[0]).mean().reshape(1, 1)}
    )
    module.log = lambda *args, **kwargs: None  # no trainer attached
    loss = module.training_step(BATCH, 0)
    assert loss.shape == () and loss.requires_grad


class Subclassed(MethodModule):
    def compute(self, batch: Any, stage: str) -> Mapping[str, Tensor]:
        x, y = batch
        return {"loss": nn.functional.l1_loss(self.model(x), y), "stage_is_val": torch.tensor(stage == "val")}


def test_compute_override_receives_the_stage():
    module = Subclassed(nn.Linear(3, 1))
    logged: dict[str, Any] = {}
    module.log = lambda name, value, **kwargs: logged.update({name: (value, kwargs)})
    module.validation_step(BATCH, 0)
    assert logged["val/stage_is_val"][0].item() is True
    assert logged["val/loss"][1]["on_epoch"] is True and logged["val/loss"][1]["batch_size"] == 4
    module.training_step(BATCH, 0)
    assert logged["train/stage_is_val"][0].item() is False
    assert logged["train/loss"][1]["on_step"] is True and logged["train/loss"][1]["prog_bar"] is True


def test_names_and_kwargs_default():
    module = MethodModule(nn.Linear(3, 1), lambda m, b: {"loss": torch.tensor(0.0)})
    assert module.model_name == "Linear" and module.model_kwargs == {} and module.feature_config is None
    assert module.train_config == TrainConfig()


@pytest.mark.parametrize(("name", "cls"), [("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam)])
def test_configure_optimizers(name, cls):
    cfg = TrainConfig(
        optimizer=name, lr=0.1, weight_decay=0.01, scheduler="cosine", max_steps=10, min_lr_ratio=0.5
    )
    module = MethodModule(nn.Linear(3, 1), train_config=cfg)
    out = module.configure_optimizers()
    optimizer, scheduler = out["optimizer"], out["lr_scheduler"]["scheduler"]
    assert type(optimizer) is cls
    assert optimizer.param_groups[0]["weight_decay"] == 0.01
    assert out["lr_scheduler"]["interval"] == "step"
    for step in range(10):
        expected = 0.1 * lr_factor(step, scheduler="cosine", total_steps=10, min_lr_ratio=0.5)
        assert optimizer.param_groups[0]["lr"] == pytest.approx(expected)
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


def test_frozen_model_has_no_trainable_parameter():
    model = nn.Linear(3, 1).requires_grad_(False)
    with pytest.raises(ValueError, match="the model has no trainable parameter"):
        MethodModule(model).configure_optimizers()
