"""Task heads on top of encoder outputs."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["CLIP_POOLINGS", "FramewiseClassifier", "LinearHead"]

CLIP_POOLINGS = ("mean_logits", "mean_probs")
"""The accepted values of :class:`FramewiseClassifier`'s ``pooling``."""


def _check_size(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


class LinearHead(nn.Module):
    """One linear layer on the last axis (e.g. a linear probe or the SFD feature predictor).

    Raises:
        ValueError: a size is not a positive integer; at call time, the last axis is not ``input_dim``.

    Shape:
        ``(..., input_dim) -> (..., num_outputs)``.
    """

    def __init__(self, input_dim: int, num_outputs: int) -> None:
        super().__init__()
        _check_size("input_dim", input_dim)
        _check_size("num_outputs", num_outputs)
        self.input_dim = input_dim
        self.num_outputs = num_outputs
        self.linear = nn.Linear(input_dim, num_outputs)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 0 or x.shape[-1] != self.input_dim:
            raise ValueError(f"expected last axis {self.input_dim}, got shape {tuple(x.shape)}")
        return self.linear(x)


class FramewiseClassifier(nn.Module):
    """Per-frame class logits and clip logits pooled from them.

    ``pooling="mean_logits"``: the clip logits are the mean of the frame logits.
    ``pooling="mean_probs"``: the clip logits are ``log(mean_t softmax(frame_logits_t))``, the log of the
    mean frame posterior; they are log-probabilities, so ``softmax`` of them returns that mean posterior and
    ``cross_entropy`` on them is the negative log of the averaged probability of the target.

    Args:
        input_dim: features per frame.
        num_classes: number of classes (e.g. azimuth bins).
        pooling: one of :data:`CLIP_POOLINGS`.

    Raises:
        ValueError: a size is not a positive integer or ``pooling`` is unknown; at call time, the input is
            not ``(batch, frames, input_dim)``.

    Shape:
        ``(batch, frames, input_dim) -> ((batch, frames, num_classes), (batch, num_classes))``.
    """

    def __init__(self, input_dim: int, num_classes: int, pooling: str = "mean_logits") -> None:
        super().__init__()
        _check_size("input_dim", input_dim)
        _check_size("num_classes", num_classes)
        if pooling not in CLIP_POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; valid: {', '.join(CLIP_POOLINGS)}")
        self.pooling = pooling
        self.head = LinearHead(input_dim, num_classes)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        if features.dim() != 3:
            raise ValueError(f"expected (batch, frames, {self.head.input_dim}), got {tuple(features.shape)}")
        frame_logits = self.head(features)
        if self.pooling == "mean_logits":
            return frame_logits, frame_logits.mean(dim=1)
        log_probs = torch.log_softmax(frame_logits, dim=-1)
        return frame_logits, torch.logsumexp(log_probs, dim=1) - math.log(frame_logits.shape[1])
