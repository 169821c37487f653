"""Models made of a pretrainable ``encoder`` and a small head: linear probe or fine-tuning.

One behaviour for every such model (SFD's localizer, MC-SimCLR's class + azimuth model): the encoder can be
frozen for a linear probe (no gradient, and eval mode kept while the head trains, so dropout is off and batch
norm keeps its running statistics), or trained at ``encoder_lr_scale`` times the learning rate through
``optimizer_groups`` (read by :class:`spatialrep.train.MethodModule`).
"""

from __future__ import annotations

from typing import Any, Self

from torch import nn

from spatialrep.models.registry import Encoder

__all__ = ["FreezableEncoder"]


class FreezableEncoder(nn.Module):
    """Base of an encoder + head model; the subclass sets ``self.encoder``, every other parameter is head.

    Attributes:
        encoder_frozen: set by :meth:`freeze_encoder`.
        encoder_lr_scale: the encoder's learning rate as a fraction of the run's (``1``: the same).
    """

    encoder: Encoder
    encoder_frozen: bool = False
    encoder_lr_scale: float = 1.0

    def optimizer_groups(self) -> list[dict[str, Any]]:
        """The encoder at ``encoder_lr_scale`` times the learning rate, everything else at the full rate."""
        encoder = {id(p) for p in self.encoder.parameters()}
        return [
            {"params": list(self.encoder.parameters()), "lr_scale": self.encoder_lr_scale},
            {"params": [p for p in self.parameters() if id(p) not in encoder], "lr_scale": 1.0},
        ]

    def freeze_encoder(self) -> None:
        """Linear probe: the encoder gets no gradient and stays in eval mode (no dropout, running BN
        statistics) while the rest trains."""
        self.encoder_frozen = True
        self.encoder.requires_grad_(False)
        self.encoder.eval()

    def train(self, mode: bool = True) -> Self:
        super().train(mode)
        if self.encoder_frozen:
            self.encoder.eval()
        return self
