"""The binaural-decoder target of SQM-BS: an embedding of the 6-DoF listening view.

The paper regresses its features onto the adapter output of a pretrained binaural speech-synthesis model
(Richard et al.) given the view (6-DoF coordinates). That model and its weights are not available. *SUB*: the
issue's fallback — fixed random Fourier features of the view, ``[cos(W v), sin(W v)] / sqrt(dim / 2)`` with a
seeded Gaussian ``W`` — a smooth, deterministic, injective-in-practice code of the source position relative to
the head, so the decoder task still asks the encoder for "where is the source", as a continuous target rather
than classes. The mono→binaural TCN of the issue (trained on our renders, then frozen) is not built (time);
``docs/sqm.md`` lists it as a SUB.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["VIEW_DIM", "ViewEmbedding"]

VIEW_DIM = 4
"""The view vector: the unit direction of the source in head coordinates (x front, y left, z up) and the log
distance in metres."""


class ViewEmbedding(nn.Module):
    """Random Fourier features of the view: ``(..., 4) -> (..., dim)``, unit-norm rows on average.

    Args:
        dim: output size (even).
        scale: standard deviation of ``W`` (radians per unit of the view; 3 gives neighbouring 10° directions
            similar but not equal codes).
        seed: seed of ``W`` (a buffer, saved with the model).
    """

    def __init__(self, dim: int = 64, scale: float = 3.0, seed: int = 0) -> None:
        super().__init__()
        if not (isinstance(dim, int) and dim >= 2 and dim % 2 == 0):
            raise ValueError(f"ViewEmbedding dim must be an even integer >= 2, got {dim!r}")
        if not scale > 0:
            raise ValueError(f"ViewEmbedding scale must be > 0, got {scale!r}")
        generator = torch.Generator().manual_seed(int(seed))
        self.register_buffer("weight", torch.randn(VIEW_DIM, dim // 2, generator=generator) * scale)
        self.dim = dim

    def forward(self, view: Tensor) -> Tensor:
        if view.shape[-1] != VIEW_DIM:
            raise ValueError(f"view must have {VIEW_DIM} values on its last axis, got {tuple(view.shape)}")
        weight: Tensor = self.weight  # type: ignore[assignment]
        phase = view.to(weight.dtype) @ weight
        return torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1) / math.sqrt(self.dim / 2)
