"""NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR (Chen et al., ICML 2020).

A batch holds two views ``a_i``, ``b_i`` of ``N`` clips: ``2N`` embeddings. For each embedding ``z_k`` its
positive ``z_p(k)`` is the other view of the same clip and every other embedding but itself is a negative:

    ``ℓ_k = -log( exp(s(z_k, z_p(k)) / τ) / Σ_{m ≠ k} exp(s(z_k, z_m) / τ) )``

with ``s`` the cosine similarity; the loss is the mean of ``ℓ_k`` over the ``2N`` embeddings. Identical
embeddings give ``log(2N - 1)``. This is pytorch-metric-learning's ``NTXentLoss`` with the labels
``(0..N-1, 0..N-1)`` (the reference test compares the two).

**Negatives from every process.** With ``gather_distributed=True`` under ``torch.distributed`` each
process contrasts its own ``2n`` embeddings against the ``2N`` of all processes (``N = n × world size``),
gathered with ``torch.distributed.nn.functional.all_gather``, whose backward sums the gradients of every
process into the owner of each slice. Each process returns the mean over its own anchors; DDP's gradient
average then equals the gradient of the full-batch loss exactly. At world size 1 (or without an initialised
process group) the gather is the identity.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
from torch import Tensor, nn

from spatialrep.losses.distances import CosineSimilarity

__all__ = ["NTXentLoss"]


def _all_gather(tensor: Tensor) -> list[Tensor]:
    """Every process's ``tensor``, in rank order, differentiable (the backward sums over processes)."""
    from torch.distributed.nn.functional import all_gather

    return list(all_gather(tensor))


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class NTXentLoss(nn.Module):
    """SimCLR's NT-Xent over two views (see the module docstring).

    Args:
        temperature: ``τ > 0``.
        gather_distributed: take negatives from every process (needs equal batches on every rank).
        similarity: the similarity; cosine by default.

    Raises:
        ValueError: a non-positive or non-finite temperature.
    """

    def __init__(
        self,
        temperature: float = 0.1,
        gather_distributed: bool = False,
        similarity: CosineSimilarity | None = None,
    ) -> None:
        super().__init__()
        if isinstance(temperature, bool) or not (
            isinstance(temperature, int | float) and math.isfinite(temperature) and temperature > 0
        ):
            raise ValueError(f"NT-Xent temperature must be a positive number, got {temperature!r}")
        self.temperature = float(temperature)
        self.gather_distributed = bool(gather_distributed)
        self.similarity = similarity or CosineSimilarity()

    def extra_repr(self) -> str:
        return f"temperature={self.temperature:g}, gather_distributed={self.gather_distributed}"

    def forward(self, view_a: Tensor, view_b: Tensor) -> Tensor:
        """Validate two views and return the loss (a scalar).

        Args:
            view_a: ``(n, D)`` embeddings of the first views.
            view_b: ``(n, D)`` of the second views, row ``i`` the positive of ``view_a[i]``.

        Raises:
            TypeError: non-floating tensors.
            ValueError: shapes that are not ``(n, D)`` alike, ``n < 1``, or (gathering) unequal batches across
                processes.
        """
        for name, view in (("view_a", view_a), ("view_b", view_b)):
            if not isinstance(view, Tensor) or not view.is_floating_point():
                raise TypeError(
                    f"NT-Xent {name} must be a floating tensor, got {getattr(view, 'dtype', view)!r}"
                )
            if view.ndim != 2 or view.shape[0] < 1 or view.shape[1] < 1:
                raise ValueError(
                    f"NT-Xent {name} must be (batch, dim) with batch >= 1, got {tuple(view.shape)}"
                )
        if view_a.shape != view_b.shape:
            raise ValueError(
                f"NT-Xent views must have one shape, got {tuple(view_a.shape)} and {tuple(view_b.shape)}"
            )
        return self.compute_loss(view_a, view_b)

    def _gathered(self, view_a: Tensor, view_b: Tensor) -> tuple[Tensor, Tensor, int]:
        """All processes' views and this process's offset in them (the identity at world size 1)."""
        if not (self.gather_distributed and _distributed()):
            return view_a, view_b, 0
        size = torch.tensor([view_a.shape[0]], device=view_a.device)
        sizes = [torch.zeros_like(size) for _ in range(dist.get_world_size())]
        dist.all_gather(sizes, size)
        counts = [int(s) for s in sizes]
        if len(set(counts)) != 1:
            raise ValueError(
                f"NT-Xent with gathered negatives needs the same batch on every process, got {counts} "
                "(drop the last incomplete batch)"
            )
        return torch.cat(_all_gather(view_a)), torch.cat(_all_gather(view_b)), dist.get_rank() * counts[0]

    def compute_loss(self, view_a: Tensor, view_b: Tensor) -> Tensor:
        """The loss of validated views ``(n, D)``: the mean over this process's ``2n`` anchors.

        Half-precision views (autocast) are computed in float32 with autocast off: bf16 logits divided by a
        small temperature lose about 4 % of the loss at a batch of 256.
        """
        half = (torch.float16, torch.bfloat16)
        device = view_a.device.type
        if view_a.dtype in half or view_b.dtype in half or torch.is_autocast_enabled(device):
            with torch.autocast(device_type=device, enabled=False):
                a, b = (v.float() if v.dtype in half else v for v in (view_a, view_b))
                return self._loss(a, b)
        return self._loss(view_a, view_b)

    def _loss(self, view_a: Tensor, view_b: Tensor) -> Tensor:
        n = view_a.shape[0]
        all_a, all_b, offset = self._gathered(view_a, view_b)
        total = all_a.shape[0]
        logits = self.similarity.matrix(torch.cat((view_a, view_b)), torch.cat((all_a, all_b)))
        logits = logits / self.temperature  # (2n, 2N)
        local = torch.arange(n, device=logits.device) + offset
        own = torch.cat((local, local + total))
        positive = torch.cat((local + total, local))
        rows = torch.arange(2 * n, device=logits.device)
        self_mask = torch.zeros_like(logits, dtype=torch.bool)
        self_mask[rows, own] = True
        denominator = torch.logsumexp(logits.masked_fill(self_mask, -math.inf), dim=1)
        return (denominator - logits[rows, positive]).mean()
