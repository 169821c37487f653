"""AdaCos: cosine logits with an adaptive scale (Zhang et al., CVPR 2019), as DSpAST's distance and direction
heads use them.

Logits are ``s · cos θ_ik`` with ``cos θ_ik = <x_i / |x_i|, w_k / |w_k|>``. The scale starts at
``s₀ = √2 · ln(C − 1)`` and, on every training batch, is set without gradient to

    ``s = ln(B_avg) / cos(min(π/4, θ_med))``,  ``B_avg = (1/N) Σ_i Σ_k (1 − y_ik) exp(s_old · cos θ_ik)``,

where ``θ_med`` is the median over the batch of the target angle ``Σ_k y_ik θ_ik``. Labels may be class
indices or soft labels (rows of ``y`` summing to 1); the loss is the cross-entropy against them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["AdaCos", "adacos_scale"]


def adacos_scale(cosine: Tensor, soft_labels: Tensor, scale: float) -> float:
    """The AdaCos scale of a batch (see the module docstring).

    Args:
        cosine: ``(N, C)`` cosines.
        soft_labels: ``(N, C)`` target distributions.
        scale: the current scale ``s_old``.
    """
    with torch.no_grad():
        cosine = cosine.double().clamp(-1.0, 1.0)
        y = soft_labels.double()
        b_avg = ((1.0 - y) * torch.exp(scale * cosine)).sum(dim=1).mean()
        theta = (y * torch.acos(cosine)).sum(dim=1)
        theta_med = torch.median(theta)
        return float(torch.log(b_avg) / torch.cos(torch.clamp(theta_med, max=math.pi / 4)))


class AdaCos(nn.Module):
    """A cosine classifier head with the AdaCos scale.

    Args:
        in_features: ``D``.
        num_classes: ``C`` (at least 2).

    Attributes:
        scale: buffer holding the current ``s`` (saved with the weights, so a resumed run continues it).

    Shape:
        ``forward``: ``(N, D) -> (N, C)`` scaled cosine logits; :meth:`loss` ``-> ()``.
    """

    scale: Tensor

    def __init__(self, in_features: int, num_classes: int) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"AdaCos needs at least 2 classes, got {num_classes}")
        self.num_classes = num_classes
        self.weight = nn.Parameter(torch.empty(num_classes, in_features))
        nn.init.xavier_uniform_(self.weight)
        self.register_buffer("scale", torch.tensor(math.sqrt(2.0) * math.log(num_classes - 1)))

    def cosine(self, x: Tensor) -> Tensor:
        return nn.functional.linear(nn.functional.normalize(x, dim=-1), nn.functional.normalize(self.weight))

    def forward(self, x: Tensor) -> Tensor:
        return self.scale.to(x) * self.cosine(x)

    def soft_labels(self, labels: Tensor) -> Tensor:
        """Class indices ``(N,)`` as one-hot rows, or soft labels ``(N, C)`` as they are."""
        if labels.ndim == 1:
            return nn.functional.one_hot(labels.long(), self.num_classes).float()
        if labels.shape[-1] != self.num_classes:
            raise ValueError(f"soft labels must have {self.num_classes} columns, got {tuple(labels.shape)}")
        return labels.float()

    def loss(self, x: Tensor, labels: Tensor) -> Tensor:
        """Cross-entropy of the scaled cosine logits; in training mode the scale is updated first (no
        gradient flows through it)."""
        cosine = self.cosine(x)
        y = self.soft_labels(labels).to(cosine)
        if self.training and x.shape[0] > 0:
            self.scale.fill_(adacos_scale(cosine.detach(), y, float(self.scale)))
        logits = self.scale.to(cosine) * cosine
        return -(y * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()
