"""A generic LightningModule: a model plus a step function, optimised as a :class:`TrainConfig` says."""

from __future__ import annotations

import dataclasses
import inspect
import math
import random
from collections.abc import Callable, Mapping
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn

from spatialrep import seeding
from spatialrep.train.config import TrainConfig

StepFn = Callable[..., Mapping[str, Tensor]]
"""``step(model, batch) -> {"loss": scalar, other scalars...}``, or ``step(model, batch, context)`` with a
:class:`StepContext` for steps that draw random numbers (augmentation)."""


@dataclasses.dataclass(frozen=True)
class StepContext:
    """What a step may need beyond the model and the batch.

    Attributes:
        stage: ``"train"`` or ``"val"``.
        global_step: optimiser steps taken so far.
        generator: training only: a generator on the model's device seeded from ``(TrainConfig.seed,
            global_step)``; draws from it are the same after a resume, whatever ran before. ``None`` in
            validation (which must not be random).
    """

    stage: str
    global_step: int
    generator: torch.Generator | None


def _takes_context(step: StepFn) -> bool:
    """Whether ``step`` accepts a third positional argument (the :class:`StepContext`)."""
    try:
        parameters = list(inspect.signature(step).parameters.values())
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    variadic = any(p.kind is p.VAR_POSITIONAL for p in parameters)
    return variadic or len(positional) >= 3


def lr_factor(
    step: int, *, scheduler: str, total_steps: int, warmup_steps: int = 0, min_lr_ratio: float = 0.0
) -> float:
    """Learning-rate multiplier at optimiser step ``step`` (0-based).

    Args:
        step: optimiser steps taken so far.
        scheduler: ``constant``, ``cosine`` or ``linear_warmup_cosine``.
        total_steps: length of the run in optimiser steps.
        warmup_steps: linear warm-up length (``linear_warmup_cosine`` only).
        min_lr_ratio: multiplier reached at the end of the cosine decay.

    Returns:
        The factor in ``[0, 1]``: warm-up rises as ``(step + 1) / warmup_steps``; cosine falls from 1 to
        ``min_lr_ratio``.

    Raises:
        ValueError: an unknown scheduler.
    """
    if scheduler == "constant":
        return 1.0
    if scheduler not in ("cosine", "linear_warmup_cosine"):
        raise ValueError(f"unknown scheduler {scheduler!r}; valid: constant, cosine, linear_warmup_cosine")
    warmup = warmup_steps if scheduler == "linear_warmup_cosine" else 0
    if step < warmup:
        return (step + 1) / warmup
    span = max(1, total_steps - warmup)
    progress = min(1.0, (step - warmup) / span)
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _batch_size(batch: Any) -> int | None:
    if isinstance(batch, Tensor):
        return int(batch.shape[0]) if batch.ndim else None
    if isinstance(batch, Mapping):
        batch = list(batch.values())
    if isinstance(batch, list | tuple):
        for item in batch:
            size = _batch_size(item)
            if size is not None:
                return size
    return None


class MethodModule(L.LightningModule):
    """Train ``model`` with ``step``, logging every returned scalar as ``train/<name>``/``val/<name>``.

    A method either passes a ``step`` function (composition) or subclasses and overrides :meth:`compute`.
    The optimiser and learning-rate schedule come from ``train_config`` (``fit`` sets it).

    Args:
        model: the module holding every trained parameter; it is what gets exported.
        step: ``step(model, batch) -> dict`` with a scalar ``"loss"``, or ``step(model, batch, context)``
            to receive a :class:`StepContext` (optional when overriding ``compute``).
        train_config: optimisation settings (default ``TrainConfig()``; ``fit`` replaces it by its own).
        model_name: registry name of ``model``, written into exported checkpoints.
        model_kwargs: constructor arguments of ``model`` (JSON-serialisable), written into checkpoints.
        feature_config: feature front-end configuration (a dict or an object with ``to_dict()``).
    """

    def __init__(
        self,
        model: nn.Module,
        step: StepFn | None = None,
        *,
        train_config: TrainConfig | None = None,
        model_name: str | None = None,
        model_kwargs: Mapping[str, Any] | None = None,
        feature_config: Any = None,
    ) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"MethodModule: model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self._step = step
        self._step_takes_context = step is not None and _takes_context(step)
        self.train_config = train_config or TrainConfig()
        self.model_name = model_name or type(model).__name__
        self.model_kwargs = dict(model_kwargs or {})
        self.feature_config = feature_config

    def compute(self, batch: Any, stage: str) -> Mapping[str, Tensor]:
        """Losses and metrics of one batch; override in a subclass or pass ``step``.

        Args:
            batch: what the loader yields.
            stage: ``"train"`` or ``"val"``.

        Returns:
            Scalars by name, including ``"loss"`` (the one optimised).
        """
        if self._step is None:
            raise TypeError(f"{type(self).__name__}: pass step=... or override compute()")
        if self._step_takes_context:
            return self._step(self.model, batch, self.step_context(stage))
        return self._step(self.model, batch)

    def step_context(self, stage: str) -> StepContext:
        """The :class:`StepContext` of the current step (a fresh generator per training step)."""
        generator = None
        if stage == "train":
            generator = torch.Generator(device=self.device)
            keys: tuple[seeding.Key, ...] = ("step", int(self.global_step))
            if self.global_rank:  # other processes draw other augmentations; rank 0 keeps one-device draws
                keys += ("rank", int(self.global_rank))
            generator.manual_seed(seeding.derive_seed(self.train_config.seed, *keys))
        return StepContext(stage=stage, global_step=int(self.global_step), generator=generator)

    def _shared(self, batch: Any, stage: str) -> Tensor:
        outputs = self.compute(batch, stage)
        if "loss" not in outputs:
            raise ValueError(f"step returned no 'loss' (keys: {', '.join(sorted(outputs)) or 'none'})")
        loss = outputs["loss"]
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            raise ValueError(f"step's 'loss' must be a scalar tensor, got {getattr(loss, 'shape', loss)!r}")
        size = _batch_size(batch)
        for name, value in outputs.items():
            if isinstance(value, Tensor) and value.numel() != 1:
                continue  # only scalars are logged
            value = value.detach() if isinstance(value, Tensor) else float(value)
            self.log(
                f"{stage}/{name}",
                value,
                on_step=stage == "train",
                on_epoch=stage != "train",
                prog_bar=name == "loss",
                batch_size=size,
                sync_dist=stage != "train",
            )
        return loss.reshape(())

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Dropout and augmentations draw from the global generators; keeping their state makes a resumed
        # run continue the same random stream as an uninterrupted one.
        # Plain tensors and numbers only: checkpoints are read with weights_only=True.
        kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 (the legacy global generator)
        numpy_state: dict[str, Any] = {"kind": str(kind), "pos": int(pos), "has_gauss": int(has_gauss)}
        numpy_state.update(keys=torch.from_numpy(np.asarray(keys, np.int64)), cached=float(cached))
        version, internal, gauss_next = random.getstate()
        state: dict[str, Any] = {"torch": torch.get_rng_state(), "numpy": numpy_state}
        state["python"] = {"version": version, "internal": list(internal), "gauss_next": gauss_next}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        checkpoint["spatialrep_rng"] = state

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("spatialrep_rng")
        if not state:
            return
        torch.set_rng_state(state["torch"])
        n = state["numpy"]
        keys = n["keys"].numpy().astype(np.uint32)
        np.random.set_state((n["kind"], keys, n["pos"], n["has_gauss"], n["cached"]))  # noqa: NPY002
        p = state["python"]
        random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        return self._shared(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> Tensor:
        return self._shared(batch, "val")

    def _parameter_groups(self) -> list[dict[str, Any]]:
        """Trainable parameters in groups with their learning rates.

        A model may define ``optimizer_groups() -> [{"params": [...], "lr_scale": s}, ...]`` (e.g. a smaller
        rate for a pretrained encoder); its groups get ``lr = TrainConfig.lr * lr_scale``. Otherwise every
        trainable parameter is one group at ``TrainConfig.lr``.

        Raises:
            ValueError: no trainable parameter, or a non-positive ``lr_scale``.
        """
        lr = self.train_config.lr
        declared = getattr(self.model, "optimizer_groups", None)
        raw: list[dict[str, Any]] = (
            declared() if callable(declared) else [{"params": list(self.parameters()), "lr_scale": 1.0}]
        )
        if self.train_config.layer_decay != 1.0 and not callable(declared):
            raw = self._layer_decay_groups(self.train_config.layer_decay)
        groups = []
        for group in raw:
            scale = float(group.get("lr_scale", 1.0))
            if not (math.isfinite(scale) and scale > 0):
                raise ValueError(f"{type(self.model).__name__}: lr_scale must be > 0, got {scale!r}")
            params = [p for p in group["params"] if p.requires_grad]
            if params:
                groups.append({"params": params, "lr": lr * scale})
        if not groups:
            raise ValueError(f"{type(self).__name__}: the model has no trainable parameter")
        return groups

    def _layer_decay_groups(self, decay: float) -> list[dict[str, Any]]:
        """One group per depth ``l`` at ``lr_scale = decay ** (num_layers - l)`` (``TrainConfig.layer_decay``)

        Raises:
            ValueError: the model does not define ``num_layers`` and ``layer_id(name)``.
        """
        layer_id = getattr(self.model, "layer_id", None)
        num_layers = getattr(self.model, "num_layers", None)
        if not callable(layer_id) or not isinstance(num_layers, int):
            raise ValueError(
                f"TrainConfig.layer_decay={decay} needs a model with num_layers and layer_id(name); "
                f"{type(self.model).__name__} has none"
            )
        by_layer: dict[int, list[nn.Parameter]] = {}
        for name, parameter in self.model.named_parameters():
            by_layer.setdefault(int(layer_id(name)), []).append(parameter)
        return [
            {"params": params, "lr_scale": decay ** (num_layers - layer)}
            for layer, params in sorted(by_layer.items())
        ]

    def configure_optimizers(self) -> Any:
        config = self.train_config
        groups = self._parameter_groups()
        optimizer: torch.optim.Optimizer
        if config.optimizer == "adamw":
            optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
        else:
            optimizer = torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay)
        if config.scheduler == "plateau":
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer,
                mode=config.early_stopping_mode,  # type: ignore[arg-type]
                factor=config.plateau_factor,
                patience=config.plateau_patience,
            )
            return {
                "optimizer": optimizer,
                "lr_scheduler": {
                    "scheduler": plateau,
                    "interval": "epoch",
                    "monitor": config.early_stopping_metric,
                    "name": "lr",
                    "strict": False,  # epochs that end without a validation leave the rate as it is
                },
            }
        total = config.max_steps
        if total is None:
            total = int(self.trainer.estimated_stepping_batches)

        def factor(step: int) -> float:
            return lr_factor(
                step,
                scheduler=config.scheduler,
                total_steps=total,
                warmup_steps=config.warmup_steps,
                min_lr_ratio=config.min_lr_ratio,
            )

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step", "name": "lr"},
        }
