"""Cosine distance and the triplet margin loss of SQM-BS (Manocha et al. 2023, Eq. 1 with ``d = 1 - cos``)."""

from __future__ import annotations

import torch
from torch import Tensor

from spatialrep.losses.distances import BaseDistance

__all__ = ["CosineDistance", "TripletMarginLoss"]


class CosineDistance(BaseDistance):
    """``d(a, b) = 1 - cos(a, b)``, in ``[0, 2]``; a zero vector has cosine 0 to everything (distance 1).

    The paper's Eq. 1 calls ``d`` a "similarity" but §2.4 a "cosine distance"; only the distance makes the
    hinge ``d(a, p) - d(a, n) + margin`` pull positives in, so this is what the triplet loss uses.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        if not eps > 0:
            raise ValueError(f"CosineDistance eps must be > 0, got {eps!r}")
        self.eps = float(eps)

    def _unit(self, x: Tensor) -> Tensor:
        return x / x.norm(dim=-1, keepdim=True).clamp_min(self.eps)

    def paired(self, a: Tensor, b: Tensor) -> Tensor:
        """Row-wise distances ``(..., D), (..., D) -> (...)``, clamped to ``[0, 2]``; identical rows give
        exactly 0 (rounding would leave ~1e-7)."""
        dist = (1.0 - (self._unit(a) * self._unit(b)).sum(dim=-1)).clamp(0.0, 2.0)
        return torch.where((a == b).all(dim=-1), torch.zeros_like(dist), dist)

    def pairwise(self, embeddings: Tensor) -> Tensor:
        """``(B, D) -> (B, B)``: symmetric, in ``[0, 2]``, exactly zero on the diagonal."""
        unit = self._unit(embeddings)
        sim = unit @ unit.T
        dist = (1.0 - 0.5 * (sim + sim.T)).clamp(0.0, 2.0)
        return dist * (1.0 - torch.eye(dist.shape[0], dtype=dist.dtype, device=dist.device))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(eps={self.eps:g})"


class TripletMarginLoss:
    """``mean_i max(0, d(a_i, p_i) - d(a_i, n_i) + margin)`` with an injected distance (cosine by default).

    Args:
        margin: ``δ`` of Eq. 1 (the paper's 1), ``>= 0``.
        distance: an object with ``paired(a, b) -> (B,)`` (default :class:`CosineDistance`).
    """

    def __init__(self, margin: float = 1.0, distance: CosineDistance | None = None) -> None:
        if not (isinstance(margin, (int, float)) and margin >= 0):
            raise ValueError(f"TripletMarginLoss margin must be >= 0, got {margin!r}")
        self.margin = float(margin)
        self.distance = distance or CosineDistance()

    def __call__(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return self.forward(anchor, positive, negative)

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        """Validate ``(B, D)`` anchors, positives and negatives and return the loss (a scalar).

        Raises:
            TypeError: non-floating tensors.
            ValueError: shapes that differ or are not ``(B, D)`` with ``B >= 1``.
        """
        for name, value in (("anchor", anchor), ("positive", positive), ("negative", negative)):
            if not isinstance(value, Tensor) or not value.is_floating_point():
                raise TypeError(f"triplet {name} must be a floating-point tensor")
            if value.ndim != 2 or value.shape[0] < 1 or value.shape != anchor.shape:
                raise ValueError(
                    f"triplet {name} must be (B, D) like the anchor {tuple(anchor.shape)}, "
                    f"got {tuple(value.shape)}"
                )
        return self.compute_loss(anchor, positive, negative)

    def compute_loss(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        """The loss of validated ``(B, D)`` embeddings."""
        gap = self.distance.paired(anchor, positive) - self.distance.paired(anchor, negative)
        return torch.relu(gap + self.margin).mean()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(margin={self.margin:g}, distance={self.distance!r})"
