"""Curricula: successive training stages (DSpAST's three), each a :func:`fit` run that starts from the
previous stage's weights.

A :class:`Stage` carries its own :class:`TrainConfig` (learning rate, length, warm-up, layer decay), the loss
weights the method's step reads, the share of the training set one epoch draws (``epoch_fraction``) and how
it draws it (``uniform`` without replacement, or ``balanced``: with replacement, clip ``n`` weighted by
``Σ_{c ∈ classes(n)} 1 / n_c``). :func:`run_curriculum` runs the stages in folders ``stage<k>-<name>``; a
stage is done when its ``stage.json`` exists, a stage cut short resumes from its Lightning checkpoint (the
data order included: :class:`FractionSampler` is a :class:`ResumableSampler`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from spatialrep.config import ConfigError
from spatialrep.io.atomic import atomic_write_text
from spatialrep.train.checkpoint import checkpoint_name, load_checkpoint
from spatialrep.train.config import TrainConfig
from spatialrep.train.data import ResumableSampler
from spatialrep.train.loop import FitResult, fit
from spatialrep.train.module import MethodModule, StepFn
from spatialrep.train.trainer import build_seeded

__all__ = [
    "SAMPLERS",
    "FractionSampler",
    "Stage",
    "StageResult",
    "class_balanced_weights",
    "run_curriculum",
    "stage_dir",
    "stage_loader",
]

SAMPLERS = ("uniform", "balanced")
STAGE_MARKER = "stage.json"
_EPOCH_STRIDE = 1_000_003


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of a curriculum.

    Attributes:
        name: a short name (folder ``stage<k>-<name>``).
        train: its optimisation (lr, ``max_steps`` or ``max_epochs``, warm-up, layer decay...).
        loss_weights: the weights the method's step reads (DSpAST: ``{"sed", "distance", "direction"}``).
        epoch_fraction: share of the training set one epoch draws, in ``(0, 1]``.
        sampler: ``uniform`` or ``balanced`` (see the module docstring).
    """

    name: str
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    loss_weights: Mapping[str, float] = dataclasses.field(default_factory=dict)
    epoch_fraction: float = 1.0
    sampler: str = "uniform"

    def __post_init__(self) -> None:
        if not self.name or not str(self.name).replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"stage name {self.name!r} must be a non-empty word (letters, digits, - or _)")
        if isinstance(self.train, Mapping):
            object.__setattr__(self, "train", TrainConfig(**self.train))
        if not (isinstance(self.epoch_fraction, int | float) and 0 < self.epoch_fraction <= 1):
            raise ConfigError(f"stage {self.name}: epoch_fraction={self.epoch_fraction!r} must be in (0, 1]")
        if self.sampler not in SAMPLERS:
            raise ConfigError(
                f"stage {self.name}: sampler={self.sampler!r} is not one of {', '.join(SAMPLERS)}"
            )
        weights = dict(self.loss_weights)
        for key, value in weights.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ConfigError(f"stage {self.name}: loss_weights.{key}={value!r} must be a number >= 0")
        if weights and not any(weights.values()):
            raise ConfigError(f"stage {self.name}: every loss weight is 0")
        object.__setattr__(self, "loss_weights", {k: float(v) for k, v in weights.items()})


def class_balanced_weights(classes: Sequence[Sequence[str]]) -> torch.Tensor:
    """Sampling weight of every clip, ``w_n = Σ_{c ∈ classes_n} 1 / n_c`` (``n_c``: clips holding class
    ``c``; a class counted once per clip): rare classes are drawn as often as common ones.

    Raises:
        ValueError: a clip without a class.
    """
    counts: dict[str, int] = {}
    for n, names in enumerate(classes):
        if not names:
            raise ValueError(f"clip {n} has no class to balance on")
        for name in set(names):
            counts[name] = counts.get(name, 0) + 1
    return torch.tensor([sum(1.0 / counts[c] for c in set(names)) for names in classes], dtype=torch.float64)


class FractionSampler(ResumableSampler):
    """``epoch_fraction`` of a dataset per epoch: a fresh uniform subset, or a weighted draw with
    replacement; each epoch's order depends only on ``(seed, epoch)``, and a run can resume mid-epoch.

    Args:
        dataset_size: clips in the dataset.
        epoch_fraction: share drawn per epoch (at least one clip).
        weights: ``(dataset_size,)`` non-negative weights (``None``: uniform, without replacement).
        seed: base seed.
        minimum: draw at least this many clips per epoch (a full batch; at most ``dataset_size`` without
            weights).
    """

    def __init__(
        self,
        dataset_size: int,
        epoch_fraction: float = 1.0,
        *,
        weights: torch.Tensor | None = None,
        seed: int = 0,
        minimum: int = 1,
    ) -> None:
        per_epoch = max(1, minimum, math.ceil(epoch_fraction * dataset_size - 1e-9))
        if weights is None:
            per_epoch = min(per_epoch, dataset_size)
        super().__init__(per_epoch, seed=seed, shuffle=True)
        self.dataset_size = dataset_size
        if weights is not None:
            weights = torch.as_tensor(weights, dtype=torch.float64)
            if weights.shape != (dataset_size,) or not bool((weights >= 0).all()) or not weights.sum() > 0:
                raise ValueError(f"weights must be {dataset_size} non-negative numbers, not all 0")
        self.weights = weights

    def order(self, epoch: int) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed * _EPOCH_STRIDE + epoch)
        if self.weights is None:
            return torch.randperm(self.dataset_size, generator=generator)[: self.num_examples].tolist()
        drawn = torch.multinomial(self.weights, self.num_examples, replacement=True, generator=generator)
        return drawn.tolist()

    def __iter__(self) -> Iterator[int]:
        skip, self._skip = self._skip, 0
        return iter(self.order(self.epoch)[skip:])


def stage_loader(
    dataset: Dataset[Any],
    stage: Stage,
    *,
    seed: int,
    class_lists: Sequence[Sequence[str]] | None = None,
    collate_fn: Callable[[list[Any]], Any] | None = None,
) -> DataLoader[Any]:
    """The training loader of ``stage``: :class:`FractionSampler` over ``dataset``, at least one full batch
    per epoch and no incomplete batch (batch norm needs more than one clip).

    Raises:
        ValueError: a ``balanced`` stage without ``class_lists``; fewer clips than a batch.
    """
    size = len(dataset)  # type: ignore[arg-type]
    weights = None
    if stage.sampler == "balanced":
        if class_lists is None or len(class_lists) != size:
            raise ValueError(f"stage {stage.name}: the balanced sampler needs the classes of every clip")
        weights = class_balanced_weights(class_lists)
    batch = stage.train.batch_size
    if size < batch:
        raise ValueError(f"stage {stage.name}: {size} training clips do not fill one batch of {batch}")
    sampler = FractionSampler(size, stage.epoch_fraction, weights=weights, seed=seed, minimum=batch)
    return DataLoader(
        dataset,
        batch_size=batch,
        drop_last=True,
        sampler=sampler,
        num_workers=stage.train.num_workers,
        collate_fn=collate_fn,
        generator=torch.Generator().manual_seed(seed),
    )


def stage_dir(out_dir: str | os.PathLike[str], index: int, stage: Stage) -> Path:
    """``out_dir/stage<index+1>-<name>``."""
    return Path(out_dir) / f"stage{index + 1}-{stage.name}"


@dataclasses.dataclass(frozen=True)
class StageResult:
    """A finished stage: its folder, exported weights (``last``), the metrics it ended with and the wall time
    of the run that finished it (a resumed stage: of the resumed part only)."""

    stage: Stage
    folder: Path
    checkpoint: Path
    global_step: int
    metrics: dict[str, float]
    wall_time_s: float


def _load_weights(model: nn.Module, checkpoint: Path, factory: type[nn.Module]) -> None:
    previous, _ = load_checkpoint(checkpoint, {checkpoint_name(factory): factory})
    model.load_state_dict(previous.state_dict())


def run_curriculum(
    factory: type[nn.Module],
    kwargs: Mapping[str, Any],
    step_for: Callable[[Stage], StepFn],
    train_set: Dataset[Any],
    stages: Sequence[Stage],
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    class_lists: Sequence[Sequence[str]] | None = None,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    feature_config: Any = None,
    until: int | None = None,
    progress: bool = False,
) -> list[StageResult]:
    """Train a registered model through ``stages``; stage ``k + 1`` starts from stage ``k``'s last weights.

    Args:
        factory, kwargs: the registered model class and its constructor arguments.
        step_for: the training step of a stage (it reads ``stage.loss_weights``).
        train_set: the training clips.
        stages: the curriculum.
        out_dir: one folder per stage (:func:`stage_dir`), each :func:`fit`'s layout plus ``stage.json``.
        seed: initial weights and data order (stage ``k`` draws with ``seed + k``).
        class_lists: classes of every clip (for ``balanced`` stages).
        collate_fn: batch builder.
        feature_config: stored in the checkpoints.
        until: run only the first ``until`` stages (``None``: all).
        progress: Lightning's progress bar.

    Returns:
        One :class:`StageResult` per stage run (finished earlier or now), in order.
    """
    if not stages:
        raise ValueError("a curriculum needs at least one stage")
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise ValueError(f"stage names {names} must be distinct")
    results: list[StageResult] = []
    previous: Path | None = None
    for index, stage in enumerate(stages[:until]):
        folder = stage_dir(out_dir, index, stage)
        marker = folder / STAGE_MARKER
        if not marker.is_file():
            model = build_seeded(factory, kwargs, seed)
            if previous is not None:
                _load_weights(model, previous, factory)
            module = MethodModule(
                model,
                step_for(stage),
                model_name=checkpoint_name(factory),
                model_kwargs=dict(kwargs),
                feature_config=feature_config,
            )
            loader = stage_loader(
                train_set, stage, seed=seed + index, class_lists=class_lists, collate_fn=collate_fn
            )
            config = dataclasses.replace(stage.train, seed=seed + index)
            started = time.perf_counter()
            fitted: FitResult = fit(module, loader, None, config, folder, progress=progress)
            record = {
                "global_step": fitted.global_step,
                "metrics": fitted.metrics,
                "stage": stage.name,
                "wall_time_s": round(time.perf_counter() - started, 3),
            }
            atomic_write_text(marker, json.dumps(record, indent=2) + "\n")
        record = json.loads(marker.read_text(encoding="utf-8"))
        previous = folder / "last"
        results.append(
            StageResult(
                stage,
                folder,
                previous,
                int(record["global_step"]),
                dict(record["metrics"]),
                float(record.get("wall_time_s", 0.0)),
            )
        )
    return results
