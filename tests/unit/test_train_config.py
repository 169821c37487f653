"""TrainConfig guards, resolve_precision and the learning-rate schedules."""

from __future__ import annotations

import itertools
import math
from unittest import mock

import pytest

from spatialrep.config import ConfigError
from spatialrep.train import TrainConfig, lr_factor, resolve_precision
from spatialrep.train.config import OPTIMIZERS, PRECISIONS, SCHEDULERS


def test_defaults_are_valid_and_frozen():
    cfg = TrainConfig()
    assert cfg.max_steps == 1000 and cfg.scheduler == "constant"
    with pytest.raises(AttributeError):
        cfg.lr = 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_steps": None, "max_epochs": None}, "max_steps, max_epochs"),
        ({"max_steps": 0}, r"max_steps=0 must be > 0"),
        ({"max_epochs": -1}, r"max_epochs=-1 must be > 0"),
        ({"batch_size": 0}, r"batch_size=0 must be > 0"),
        ({"lr": -1e-3}, r"lr=-0.001 must be > 0"),
        ({"lr": 0.0}, r"lr=0.0 must be > 0"),
        ({"grad_clip": 0.0}, r"grad_clip=0.0 must be > 0"),
        ({"val_every_n_steps": 0}, r"val_every_n_steps=0 must be > 0"),
        ({"val_every_n_epochs": 0}, r"val_every_n_epochs=0 must be > 0"),
        ({"early_stopping_patience": 0}, r"early_stopping_patience=0 must be > 0"),
        ({"checkpoint_every_n_steps": 0}, r"checkpoint_every_n_steps=0 must be > 0"),
        ({"log_every_n_steps": -5}, r"log_every_n_steps=-5 must be > 0"),
        ({"weight_decay": -0.1}, r"weight_decay=-0.1 must be >= 0"),
        ({"warmup_steps": -1}, r"warmup_steps=-1 must be >= 0"),
        ({"num_workers": -1}, r"num_workers=-1 must be >= 0"),
        ({"min_lr_ratio": -0.5}, r"min_lr_ratio=-0.5 must be >= 0"),
        ({"min_lr_ratio": 1.5}, r"min_lr_ratio=1.5 must be <= 1"),
        ({"optimizer": "sgd"}, r"optimizer='sgd' is not one of 'adamw', 'adam'"),
        (
            {"scheduler": "step"},
            r"scheduler='step' is not one of 'constant', 'cosine', 'linear_warmup_cosine'",
        ),
        ({"precision": "16"}, r"precision='16' is not one of '32', '16-mixed', 'bf16-mixed'"),
        ({"accelerator": "tpu"}, r"accelerator='tpu' is not one of 'auto', 'cpu'"),
        ({"early_stopping_mode": "lowest"}, r"early_stopping_mode='lowest' is not one of 'min', 'max'"),
        ({"warmup_steps": 5}, r"warmup_steps=5 needs scheduler='linear_warmup_cosine' \(got 'constant'\)"),
        (
            {"scheduler": "linear_warmup_cosine", "warmup_steps": 10, "max_steps": 10},
            r"warmup_steps=10 must be < max_steps=10",
        ),
        ({"devices": "all"}, r"devices='all' must be 'auto' or an integer"),
        ({"devices": 0}, r"devices=0 must be >= 1, -1"),
        ({"devices": -2}, r"devices=-2 must be >= 1, -1"),
        ({"strategy": ""}, r"strategy must not be empty"),
        ({"early_stopping_metric": ""}, r"early_stopping_metric must not be empty"),
        ({"loggers": ("csv", "wandb")}, r"loggers='wandb' is not one of 'csv', 'tensorboard'"),
        ({"loggers": ("csv", "csv")}, r"loggers=\('csv', 'csv'\) lists a logger twice"),
    ],
)
def test_each_guard_raises_config_error_naming_the_field(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kwargs)


def test_config_error_is_a_value_error():
    with pytest.raises(ValueError, match=r"TrainConfig\.lr"):
        TrainConfig(lr=-1.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_steps": None, "max_epochs": 3},
        {"scheduler": "linear_warmup_cosine", "warmup_steps": 9, "max_steps": 10},
        {"max_steps": None, "max_epochs": 1, "scheduler": "linear_warmup_cosine", "warmup_steps": 50},
        {"devices": -1},
        {"devices": 2},
        {"weight_decay": 0.0, "num_workers": 0, "min_lr_ratio": 1.0},
        {"loggers": ()},
        {"loggers": ("csv", "tensorboard")},
    ],
)
def test_boundary_values_are_accepted(kwargs):
    cfg = TrainConfig(**kwargs)
    for name, value in kwargs.items():
        assert getattr(cfg, name) == value


def test_valid_option_lists():
    assert OPTIMIZERS == ("adamw", "adam")
    assert SCHEDULERS == ("constant", "cosine", "linear_warmup_cosine", "plateau")
    assert PRECISIONS == ("32", "16-mixed", "bf16-mixed")


@pytest.mark.parametrize("precision", ["16-mixed", "bf16-mixed"])
def test_mixed_precision_on_cpu_warns_and_falls_back(precision):
    with pytest.warns(UserWarning, match=rf"precision='{precision}' needs a GPU"):
        assert resolve_precision(precision, "cpu") == "32"


def test_mixed_precision_auto_without_cuda_falls_back():
    with mock.patch("torch.cuda.is_available", return_value=False):
        with pytest.warns(UserWarning, match="32-bit"):
            assert resolve_precision("16-mixed", "auto") == "32"


def test_precision_kept_on_gpu_and_for_32(recwarn):
    assert resolve_precision("16-mixed", "gpu") == "16-mixed"
    assert resolve_precision("bf16-mixed", "cuda") == "bf16-mixed"
    with mock.patch("torch.cuda.is_available", return_value=True):
        assert resolve_precision("bf16-mixed", "auto") == "bf16-mixed"
    assert resolve_precision("32", "cpu") == "32"
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_lr_factor_constant():
    assert {lr_factor(s, scheduler="constant", total_steps=10) for s in range(0, 20)} == {1.0}


def test_lr_factor_warmup_is_linear_then_cosine():
    kw = dict(scheduler="linear_warmup_cosine", total_steps=14, warmup_steps=4, min_lr_ratio=0.1)
    factors = [lr_factor(s, **kw) for s in range(15)]
    assert factors[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert factors[4] == pytest.approx(1.0)
    # Strictly decreasing after the peak, half-way at the cosine's middle, min_lr_ratio at the end.
    assert all(a > b for a, b in itertools.pairwise(factors[4:]))
    assert factors[9] == pytest.approx(0.1 + 0.9 * 0.5)
    assert factors[14] == pytest.approx(0.1)


def test_lr_factor_cosine_ends_at_min_lr_ratio_and_stays():
    kw = dict(scheduler="cosine", total_steps=100, min_lr_ratio=0.2)
    assert lr_factor(0, **kw) == pytest.approx(1.0)
    assert lr_factor(25, **kw) == pytest.approx(0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_factor(100, **kw) == pytest.approx(0.2)
    assert lr_factor(150, **kw) == pytest.approx(0.2)
    # cosine ignores warmup_steps: no warm-up outside linear_warmup_cosine.
    assert lr_factor(0, warmup_steps=10, **kw) == pytest.approx(1.0)


def test_lr_factor_unknown_scheduler_lists_valid():
    with pytest.raises(ValueError, match=r"unknown scheduler 'step'; valid: constant, cosine"):
        lr_factor(0, scheduler="step", total_steps=10)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"lr": float("nan")}, "lr=nan"),
        ({"lr": float("inf")}, "lr=inf"),
        ({"grad_clip": float("nan")}, "grad_clip=nan"),
        ({"plateau_factor": 1.0}, "plateau_factor"),
        ({"scheduler": "plateau", "val_every_n_steps": 10}, "once per epoch"),
    ],
)
def test_non_finite_numbers_and_plateau_settings_are_refused(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        TrainConfig(**kwargs)


def test_plateau_halves_the_rate_after_patience_epochs_without_improvement(tmp_path):
    """ReduceLROnPlateau on the selection metric, stepped once per epoch after validation."""
    import torch
    from torch import nn
    from torch.utils.data import TensorDataset

    from spatialrep.train import MethodModule, fit, make_loader

    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(0))
    y = torch.randn(32, 1, generator=torch.Generator().manual_seed(1))  # noise: the loss stops improving

    def step(model, batch):
        return {"loss": nn.functional.mse_loss(model(batch[0]), batch[1])}

    config = TrainConfig(
        max_epochs=30, max_steps=None, batch_size=32, lr=0.5, scheduler="plateau", plateau_patience=2,
        accelerator="cpu", devices=1, log_every_n_steps=1,
    )  # fmt: skip
    module = MethodModule(nn.Linear(3, 1), step)
    loader = make_loader(TensorDataset(x, y), batch_size=32, seed=0)
    result = fit(
        module, loader, make_loader(TensorDataset(x, y), batch_size=32, shuffle=False), config, tmp_path
    )
    assert result.metrics["lr"] < 0.5  # lowered at least once
    assert any(abs(result.metrics["lr"] - 0.5 * 0.5**k) < 1e-9 for k in range(1, 12))  # by halves
