"""Shared training: config, a generic LightningModule, the loop, checkpoints, the model registry.

A method registers its model classes (:func:`register_model`) and trains them with :func:`train_model`, which
builds the model from a seed, wraps it with its step function in a :class:`MethodModule`, runs :func:`fit` and
reloads the best weights; see ``docs/training.md``.
"""

from spatialrep.train.callbacks import ValidationMetric
from spatialrep.train.checkpoint import (
    CheckpointMeta,
    checkpoint_dir,
    checkpoint_name,
    load_checkpoint,
    read_meta,
    register_model,
    registered_models,
    save_checkpoint,
)
from spatialrep.train.config import TrainConfig, resolve_precision
from spatialrep.train.curriculum import (
    FractionSampler,
    Stage,
    StageResult,
    class_balanced_weights,
    run_curriculum,
)
from spatialrep.train.data import ResumableSampler, make_loader, train_val_loaders
from spatialrep.train.loop import FitResult, fit, quiet_lightning
from spatialrep.train.module import MethodModule, StepContext, StepFn, lr_factor
from spatialrep.train.trainer import TrainedModel, build_seeded, train_model

__all__ = [
    "CheckpointMeta",
    "FitResult",
    "FractionSampler",
    "MethodModule",
    "ResumableSampler",
    "Stage",
    "StageResult",
    "StepContext",
    "StepFn",
    "TrainConfig",
    "TrainedModel",
    "ValidationMetric",
    "build_seeded",
    "checkpoint_dir",
    "checkpoint_name",
    "class_balanced_weights",
    "fit",
    "load_checkpoint",
    "lr_factor",
    "make_loader",
    "quiet_lightning",
    "read_meta",
    "register_model",
    "registered_models",
    "resolve_precision",
    "run_curriculum",
    "save_checkpoint",
    "train_model",
    "train_val_loaders",
]
