"""Training configuration shared by every method (a frozen, validated dataclass)."""

from __future__ import annotations

import dataclasses
import math
import warnings

import torch

from spatialrep.config import ConfigError

OPTIMIZERS = ("adamw", "adam")
SCHEDULERS = ("constant", "cosine", "linear_warmup_cosine", "plateau")
PRECISIONS = ("32", "16-mixed", "bf16-mixed")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")
LOGGERS = ("csv", "tensorboard")
MODES = ("min", "max")


def _choice(name: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ConfigError(f"TrainConfig.{name}={value!r} is not one of {', '.join(map(repr, valid))}")


def _positive(name: str, value: float | int | None, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"TrainConfig.{name}={value!r} must be a number")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"TrainConfig.{name}={value!r} must be {bound}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How to train: budget, optimisation, validation, checkpoints, devices and logging.

    Attributes:
        max_steps: optimiser steps to run (``None``: bounded by ``max_epochs`` only).
        max_epochs: epochs to run (``None``: bounded by ``max_steps`` only). At least one must be set.
        batch_size: examples per batch, for whoever builds the loaders (see ``make_loader``).
        lr: peak learning rate.
        weight_decay: decoupled weight decay (``adamw``) or L2 penalty (``adam``).
        optimizer: one of ``OPTIMIZERS``.
        scheduler: ``constant``, ``cosine`` (decay to ``min_lr_ratio * lr`` over the run),
            ``linear_warmup_cosine`` (linear warm-up over ``warmup_steps``, then cosine) or ``plateau``
            (multiply the rate by ``plateau_factor`` after ``plateau_patience`` epochs without improvement of
            ``early_stopping_metric``; validate once per epoch with it).
        plateau_patience: epochs without improvement before ``plateau`` lowers the rate.
        plateau_factor: the ``plateau`` multiplier, in (0, 1).
        warmup_steps: warm-up length in optimiser steps; only with ``linear_warmup_cosine``.
        min_lr_ratio: final learning rate of the cosine schedules, as a fraction of ``lr``.
        grad_clip: clip the global gradient norm to this value (``None``: off).
        precision: ``"32"``, ``"16-mixed"`` or ``"bf16-mixed"``; mixed precision needs a GPU (on CPU training
            falls back to 32-bit with a warning, see :func:`resolve_precision`).
        seed: seed of Lightning's global seeding and of the explicit data-order generators.
        val_every_n_steps: validate every this many training batches (``None``: once per
            ``val_every_n_epochs`` epochs).
        val_every_n_epochs: validation period in epochs when ``val_every_n_steps`` is ``None``.
        early_stopping_patience: validations without improvement before stopping (``None``: off).
        early_stopping_metric: logged metric watched by early stopping and the best checkpoint.
        early_stopping_mode: ``"min"`` or ``"max"``: whether smaller or larger values are
            better.
        checkpoint_every_n_steps: period of the resumable Lightning checkpoint ``lightning/last.ckpt``.
        num_workers: data-loading worker processes, for whoever builds the loaders.
        accelerator: Lightning accelerator (``auto``, ``cpu``, ``gpu``, ``cuda``, ``mps``).
        devices: number of devices or ``"auto"`` (``-1``: all).
        strategy: Lightning strategy (``auto``, ``ddp``, ...); several GPUs with ``ddp`` work
            through Lightning.
        sync_batchnorm: with several processes, batch norm layers use the statistics of the whole global
            batch instead of each process's share (Lightning's ``sync_batchnorm``; no effect on one device).
        deterministic: ask torch for deterministic algorithms (slower on GPU).
        log_every_n_steps: logging period of training metrics.
        loggers: any of ``csv`` and ``tensorboard`` (the latter needs the ``tensorboard`` extra; without it
            training warns and logs CSV only).
        layer_decay: layer-wise learning-rate decay in ``(0, 1]``: a parameter at depth ``l`` of a model that
            defines ``num_layers`` and ``layer_id(name)`` trains at ``lr * layer_decay ** (num_layers - l)``
            (1: off).
    """

    max_steps: int | None = 1000
    max_epochs: int | None = None
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adamw"
    scheduler: str = "constant"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    plateau_patience: int = 20
    plateau_factor: float = 0.5
    grad_clip: float | None = None
    precision: str = "32"
    seed: int = 0
    val_every_n_steps: int | None = None
    val_every_n_epochs: int = 1
    early_stopping_patience: int | None = None
    early_stopping_metric: str = "val/loss"
    early_stopping_mode: str = "min"
    checkpoint_every_n_steps: int = 500
    num_workers: int = 0
    accelerator: str = "auto"
    devices: int | str = "auto"
    strategy: str = "auto"
    sync_batchnorm: bool = False
    deterministic: bool = False
    log_every_n_steps: int = 50
    loggers: tuple[str, ...] = ("csv",)
    layer_decay: float = 1.0

    def __post_init__(self) -> None:
        if self.max_steps is None and self.max_epochs is None:
            raise ConfigError("TrainConfig: set max_steps, max_epochs or both (both are None)")
        for name in ("max_steps", "max_epochs", "batch_size", "lr", "grad_clip", "val_every_n_steps",
                     "val_every_n_epochs", "early_stopping_patience", "checkpoint_every_n_steps",
                     "log_every_n_steps"):  # fmt: skip
            _positive(name, getattr(self, name))
        for name in ("weight_decay", "warmup_steps", "num_workers", "min_lr_ratio"):
            _positive(name, getattr(self, name), allow_zero=True)
        if self.min_lr_ratio > 1:
            raise ConfigError(f"TrainConfig.min_lr_ratio={self.min_lr_ratio!r} must be <= 1")
        _positive("plateau_patience", self.plateau_patience, allow_zero=True)
        if not (math.isfinite(self.plateau_factor) and 0 < self.plateau_factor < 1):
            raise ConfigError(f"TrainConfig.plateau_factor={self.plateau_factor!r} must be in (0, 1)")
        if self.scheduler == "plateau" and self.val_every_n_steps is not None:
            raise ConfigError(
                "TrainConfig.scheduler='plateau' counts epochs: validate once per epoch "
                f"(val_every_n_steps=None, got {self.val_every_n_steps})"
            )
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("scheduler", self.scheduler, SCHEDULERS)
        _choice("precision", self.precision, PRECISIONS)
        _choice("accelerator", self.accelerator, ACCELERATORS)
        _choice("early_stopping_mode", self.early_stopping_mode, MODES)
        if self.warmup_steps and self.scheduler != "linear_warmup_cosine":
            raise ConfigError(
                f"TrainConfig.warmup_steps={self.warmup_steps} needs scheduler='linear_warmup_cosine' "
                f"(got {self.scheduler!r})"
            )
        if self.max_steps is not None and self.warmup_steps >= self.max_steps:
            raise ConfigError(
                f"TrainConfig.warmup_steps={self.warmup_steps} must be < max_steps={self.max_steps}"
            )
        if isinstance(self.devices, str) and self.devices != "auto":
            raise ConfigError(f"TrainConfig.devices={self.devices!r} must be 'auto' or an integer")
        if isinstance(self.devices, int) and (self.devices == 0 or self.devices < -1):
            raise ConfigError(f"TrainConfig.devices={self.devices!r} must be >= 1, -1 (all) or 'auto'")
        if not self.strategy:
            raise ConfigError("TrainConfig.strategy must not be empty (use 'auto')")
        if not isinstance(self.sync_batchnorm, bool):
            raise ConfigError(f"TrainConfig.sync_batchnorm={self.sync_batchnorm!r} must be true or false")
        if not self.early_stopping_metric:
            raise ConfigError("TrainConfig.early_stopping_metric must not be empty")
        if not (_is_real(self.layer_decay) and 0 < self.layer_decay <= 1):
            raise ConfigError(f"TrainConfig.layer_decay={self.layer_decay!r} must be in (0, 1]")
        for logger in self.loggers:
            _choice("loggers", logger, LOGGERS)
        if len(set(self.loggers)) != len(self.loggers):
            raise ConfigError(f"TrainConfig.loggers={self.loggers!r} lists a logger twice")


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def resolve_precision(precision: str, accelerator: str) -> str:
    """Precision Lightning will use: mixed precision falls back to ``"32"`` (with a warning) without a GPU.

    Args:
        precision: the requested precision (one of ``PRECISIONS``).
        accelerator: the requested accelerator (``auto`` counts as GPU when CUDA is available).

    Returns:
        ``precision``, or ``"32"`` when mixed precision was asked for on CPU.
    """
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    if precision != "32" and not on_gpu:
        warnings.warn(
            f"precision={precision!r} needs a GPU; accelerator={accelerator!r} runs on CPU, so training uses "
            "32-bit precision",
            UserWarning,
            stacklevel=2,
        )
        return "32"
    return precision
