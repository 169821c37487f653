"""``train_model``: build a registered model reproducibly, train it with :func:`fit`, reload the best weights.

Every method trains through this one function, so each gets the same guarantees: the initial weights depend
only on the seed (construction runs under ``torch.random.fork_rng``, so it neither reads nor moves the global
generator), training resumes after a kill (:func:`fit`), and the returned model is the best checkpoint by the
validation metric, rebuilt from its exported files exactly as a user would load it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from spatialrep.train.checkpoint import checkpoint_name, load_checkpoint, save_checkpoint
from spatialrep.train.config import TrainConfig
from spatialrep.train.loop import FitResult, fit
from spatialrep.train.module import MethodModule, StepFn

__all__ = ["TrainedModel", "build_seeded", "train_model"]

FINAL_DIR = "model"


@dataclasses.dataclass(frozen=True)
class TrainedModel:
    """What :func:`train_model` returns.

    Attributes:
        model: the best weights (eval mode, CPU), after ``finalize`` if one was given.
        fit: the :class:`~spatialrep.train.FitResult` of the run.
        checkpoint: the folder that holds ``model`` (``out_dir/model`` after ``finalize``, else
            ``out_dir/best``).
    """

    model: nn.Module
    fit: FitResult
    checkpoint: Path


def build_seeded(factory: Callable[..., nn.Module], kwargs: Mapping[str, Any], seed: int) -> nn.Module:
    """``factory(**kwargs)`` with torch's generator seeded by ``seed`` inside ``fork_rng`` (the global
    generator is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory(**kwargs)


def train_model(
    factory: type[nn.Module],
    kwargs: Mapping[str, Any],
    step: StepFn,
    train_loader: Any,
    val_loader: Any,
    train_config: TrainConfig,
    out_dir: str | os.PathLike[str],
    *,
    seed: int | None = None,
    feature_config: Any = None,
    prepare: Callable[[nn.Module], None] | None = None,
    finalize: Callable[[nn.Module], Mapping[str, Any]] | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
) -> TrainedModel:
    """Train a registered model class and return its best weights.

    Args:
        factory: a class decorated with :func:`~spatialrep.train.register_model`.
        kwargs: its JSON-serialisable constructor arguments (stored in the checkpoints).
        step: the training step (see :class:`~spatialrep.train.MethodModule`).
        train_loader, val_loader: batches; ``val_loader`` may be ``None`` (no best-checkpoint selection).
        train_config: optimisation settings.
        out_dir: :func:`fit`'s output folder.
        seed: seed of the initial weights (default ``train_config.seed``).
        feature_config: stored in the checkpoints (a dict or an object with ``to_dict()``).
        prepare: called on the new model before training (load pretrained weights, freeze a part).
        finalize: called on the reloaded best model (e.g. to store a k-NN reference set); it returns the
            constructor arguments that rebuild the finalized model, which is then saved to ``out_dir/model``.
        callbacks: more Lightning callbacks (e.g. :class:`~spatialrep.train.callbacks.ValidationMetric`).
        progress: Lightning's progress bar.

    Returns:
        A :class:`TrainedModel`.

    Raises:
        TypeError: ``factory`` is not a registered model class.
    """
    name = checkpoint_name(factory)
    model = build_seeded(factory, kwargs, train_config.seed if seed is None else seed)
    if prepare is not None:
        prepare(model)
    module = MethodModule(
        model, step, model_name=name, model_kwargs=dict(kwargs), feature_config=feature_config
    )
    result = fit(
        module, train_loader, val_loader, train_config, Path(out_dir), progress=progress, callbacks=callbacks
    )
    best, _ = load_checkpoint(result.best_checkpoint, {name: factory})
    if finalize is None:
        return TrainedModel(best, result, result.best_checkpoint)
    final_kwargs = finalize(best)
    directory = save_checkpoint(
        Path(out_dir) / FINAL_DIR,
        best,
        model_name=name,
        model_kwargs=final_kwargs,
        feature_config=feature_config,
        extra={"global_step": result.global_step, "metrics": result.metrics},
    )
    return TrainedModel(best.eval(), result, directory)
