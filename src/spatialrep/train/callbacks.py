"""Callbacks methods hand to :func:`~spatialrep.train.train_model`: validation metrics that need more than a
batch (e.g. a localization error through a k-NN search over the whole training set)."""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

__all__ = ["ValidationMetric"]


class ValidationMetric(Callback):
    """Log ``val/<name>`` = ``compute(model)`` after every validation, before checkpoints read it.

    Select the best checkpoint (and drive ``scheduler="plateau"``) by it with
    ``TrainConfig(early_stopping_metric="val/<name>")``.

    Args:
        name: the metric's name (logged as ``val/<name>``).
        compute: ``compute(model) -> float``, called in eval mode without gradients; the model's training
            mode is restored afterwards.
    """

    def __init__(self, name: str, compute: Callable[[nn.Module], float]) -> None:
        if not name:
            raise ValueError("ValidationMetric needs a name")
        self.name = name
        self.compute = compute

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        model = getattr(pl_module, "model", pl_module)
        assert isinstance(model, nn.Module)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                value = float(self.compute(model))
        finally:
            model.train(was_training)
        pl_module.log(f"val/{self.name}", value, on_step=False, on_epoch=True, prog_bar=True)
