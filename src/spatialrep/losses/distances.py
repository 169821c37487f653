"""Pairwise distances injected into the metric-learning losses.

A distance maps a batch of embeddings ``(B, D)`` to a ``(B, B)`` matrix. Losses that only need squared
distances call :meth:`BaseDistance.pairwise_squared`, which for the Euclidean distance avoids the square root
and its infinite gradient at zero (coincident embeddings, the diagonal).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["BaseDistance", "CosineSimilarity", "EuclideanDistance"]


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


class CosineSimilarity:
    """Cosine similarity between the rows of two embedding matrices (a similarity: larger is closer).

    ``cos(a_i, b_j) = a_i · b_j / (max(|a_i|, eps) max(|b_j|, eps))``; a zero row has similarity 0 to
    everything.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        if not eps > 0:
            raise ValueError(f"CosineSimilarity eps must be > 0, got {eps!r}")
        self.eps = float(eps)

    def matrix(self, queries: Tensor, keys: Tensor) -> Tensor:
        """Similarities ``(n, m)`` of queries ``(n, D)`` to keys ``(m, D)``, in ``[-1, 1]``."""
        q = queries / queries.norm(dim=-1, keepdim=True).clamp_min(self.eps)
        k = keys / keys.norm(dim=-1, keepdim=True).clamp_min(self.eps)
        return q @ k.T

    def __repr__(self) -> str:
        return f"{type(self).__name__}(eps={self.eps:g})"
