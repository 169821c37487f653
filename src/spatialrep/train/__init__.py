"""Shared training infrastructure: config, a generic LightningModule, the loop, checkpoints.

A method composes a model and a step function into a :class:`MethodModule` and calls :func:`fit`; see
``docs/training.md``.
"""

from spatialrep.train.checkpoint import CheckpointMeta, load_checkpoint, read_meta, save_checkpoint
from spatialrep.train.config import TrainConfig, resolve_precision
from spatialrep.train.data import ResumableSampler, make_loader
from spatialrep.train.loop import FitResult, fit, quiet_lightning
from spatialrep.train.module import MethodModule, StepFn, lr_factor

__all__ = [
    "CheckpointMeta",
    "FitResult",
    "MethodModule",
    "ResumableSampler",
    "StepFn",
    "TrainConfig",
    "fit",
    "load_checkpoint",
    "lr_factor",
    "make_loader",
    "quiet_lightning",
    "read_meta",
    "resolve_precision",
    "save_checkpoint",
]
