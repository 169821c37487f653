"""Pairwise distances injected into the metric-learning losses.

A distance maps a batch of embeddings ``(B, D)`` to a ``(B, B)`` matrix. Losses that only need squared
distances call :meth:`BaseDistance.pairwise_squared`, which for the Euclidean distance avoids the square root
and its infinite gradient at zero (coincident embeddings, the diagonal).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["BaseDistance", "EuclideanDistance"]


class BaseDistance:
    """Interface of a pairwise distance between the rows of one embedding matrix."""

    def pairwise(self, embeddings: Tensor) -> Tensor:
        """Distances between all rows.

        Args:
            embeddings: ``(B, D)``.

        Returns:
            ``(B, B)``, non-negative, symmetric, zero diagonal.
        """
        raise NotImplementedError

    def pairwise_squared(self, embeddings: Tensor) -> Tensor:
        """Squared distances between all rows, ``(B, B)``; defaults to ``pairwise(embeddings) ** 2``."""
        return self.pairwise(embeddings) ** 2

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class EuclideanDistance(BaseDistance):
    """Euclidean (L2) distance ``||z_i - z_j||_2``.

    Computed from explicit differences (``(B, B, D)`` intermediate) rather than ``|a|² + |b|² - 2ab``, so
    coincident embeddings give exactly zero and small distances keep their precision. The square root has a
    zero gradient (not NaN) where the distance is zero.
    """

    def pairwise_squared(self, embeddings: Tensor) -> Tensor:
        diff = embeddings.unsqueeze(1) - embeddings.unsqueeze(0)
        return (diff * diff).sum(dim=-1)

    def pairwise(self, embeddings: Tensor) -> Tensor:
        squared = self.pairwise_squared(embeddings)
        positive = squared > 0
        # Double-where: sqrt never sees a zero, so its gradient there is 0 instead of NaN.
        safe = torch.where(positive, squared, torch.ones_like(squared))
        return torch.where(positive, torch.sqrt(safe), torch.zeros_like(squared))
