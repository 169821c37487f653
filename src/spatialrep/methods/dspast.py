"""DSpAST (Wilkinghoff & Tan, 2025): SpatialAST with per-task feature attention and task branches.

Input: SpatialAST's four maps plus ILD on the mel grid (dB) and GCC-PHAT at ``n_mels`` lags (±2 ms) —
feature preset ``dspast``. Three branches (SED, distance, direction), each: feature attention
``x ⊙ σ(W1 ReLU(W0 BN(AvgPool(x)) + b0) + b1)`` → its own fusion stem → the **shared** patch embedding and
transformer (one pass per branch: about 3× SpatialAST's compute) → a linear map ``D → D // 3``. Task ``t``'s
head reads the mean of branch ``t``'s three CLS tokens; the branch-only parts see task ``t``'s loss only.
Distance and direction heads are AdaCos; training runs a three-stage curriculum (``spatialrep.train.Stage``:
SED only, then every task, then a balanced fine-tuning). Everything else is in
:mod:`spatialrep.methods.spatialast`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from spatialrep.features.frontend import feature_preset
from spatialrep.methods.spatialast import SpatialAstConfig, SpatialAstModelBase
from spatialrep.train import Stage, TrainConfig, register_model

__all__ = ["DSpAST", "dspast_config", "paper_stages"]


def dspast_config(**changes: Any) -> SpatialAstConfig:
    """DSpAST's configuration: the ``dspast`` stack, three branches, feature attention, AdaCos heads; any
    :class:`SpatialAstConfig` field may be changed (``frontend=feature_preset("spatialast")`` for the
    4-feature ablation, ``attention=False`` for the one without attention)."""
    with torch.device("cpu"):  # GCC lag tables are real tensors even under a "meta" default device
        base: dict[str, Any] = {"frontend": feature_preset("dspast"), "branches": 3, "attention": True,
                                "head": "adacos"}  # fmt: skip
        return SpatialAstConfig(**{**base, **changes})


@register_model("dspast_model")
class DSpAST(SpatialAstModelBase):
    """DSpAST (see the module docstring and :class:`~spatialrep.methods.spatialast.SpatialAstModelBase`)."""

    def __init__(self, config: SpatialAstConfig | Mapping[str, Any], class_names: Sequence[str]) -> None:
        super().__init__(config, class_names)
        if self.config.branches != 3:
            raise ValueError(f"DSpAST has three branches, got branches={self.config.branches}")


def paper_stages(steps_per_epoch: Sequence[int], batch_size: int = 128, **train: Any) -> list[Stage]:
    """The paper's curriculum (Table 1 and the public code): 3 × 50 epochs with 10 warm-up epochs, base rates
    1e-3 / 1e-3 / 1e-4 scaled by ``batch / 256``, AdamW (weight decay 5e-4), layer decay 0.75, cosine to
    1e-6; λ = (1, 0, 0) then (100, 2, 1) twice; an epoch draws 10 %, 1 % (class-balanced) and 100 % of the
    data. ``steps_per_epoch`` gives each stage's optimiser steps per epoch (at its fraction)."""
    settings = (
        ("sed", 1e-3, {"sed": 1.0}, 0.10, "uniform"),
        ("all", 1e-3, {"sed": 100.0, "distance": 2.0, "direction": 1.0}, 0.01, "balanced"),
        ("finetune", 1e-4, {"sed": 100.0, "distance": 2.0, "direction": 1.0}, 1.0, "uniform"),
    )
    stages = []
    for (name, blr, weights, fraction, sampler), per_epoch in zip(settings, steps_per_epoch, strict=True):
        lr = blr * batch_size / 256
        config = TrainConfig(
            **{
                "max_steps": 50 * per_epoch, "batch_size": batch_size, "lr": lr, "optimizer": "adamw",
                "weight_decay": 5e-4, "scheduler": "linear_warmup_cosine", "warmup_steps": 10 * per_epoch,
                "min_lr_ratio": 1e-6 / lr, "layer_decay": 0.75, **train,
            }
        )  # fmt: skip
        stages.append(Stage(name, config, weights, fraction, sampler))
    return stages
