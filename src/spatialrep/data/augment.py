"""Training-time augmentations of waveform batches; each draws only from the generator it is given.

A training step receives a fresh generator per optimiser step (:class:`spatialrep.train.StepContext`), seeded
from the run's seed and the step index, so an augmented run resumed after a kill draws the same numbers as an
uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor

from spatialrep.config import ConfigError

__all__ = ["NoiseAugmentation"]


@dataclasses.dataclass(frozen=True)
class NoiseAugmentation:
    """Add white noise, independent per channel, to some clips of a batch.

    Each clip is augmented with probability ``probability``; its noise level is drawn uniformly in
    ``snr_range_db`` relative to the clip's own power (signal = the already noisy input).

    Raises:
        ConfigError: an empty or non-finite SNR range, or a probability outside [0, 1].
    """

    snr_range_db: tuple[float, float] = (0.0, 20.0)
    probability: float = 0.5

    def __post_init__(self) -> None:
        low, high = (float(v) for v in self.snr_range_db)
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise ConfigError(
                f"NoiseAugmentation.snr_range_db={self.snr_range_db!r} must be finite low <= high"
            )
        if not (math.isfinite(self.probability) and 0.0 <= self.probability <= 1.0):
            raise ConfigError(f"NoiseAugmentation.probability={self.probability!r} must be in [0, 1]")

    def __call__(self, audio: Tensor, generator: torch.Generator) -> Tensor:
        """Augmented copy of ``audio``.

        Args:
            audio: ``(batch, channels, time)``.
            generator: the only source of randomness, on ``audio``'s device.

        Shape:
            ``(batch, channels, time) -> (batch, channels, time)``.
        """
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"NoiseAugmentation needs a torch.Generator, got {type(generator).__name__}")
        batch = audio.shape[0]
        low, high = self.snr_range_db
        snr_db = low + (high - low) * torch.rand(
            batch, 1, 1, device=audio.device, dtype=audio.dtype, generator=generator
        )
        apply = (torch.rand(batch, 1, 1, device=audio.device, generator=generator) < self.probability).to(
            audio.dtype
        )
        power = audio.square().mean(dim=(1, 2), keepdim=True)
        noise = torch.randn(audio.shape, device=audio.device, dtype=audio.dtype, generator=generator)
        return audio + apply * noise * torch.sqrt(power * 10.0 ** (-snr_db / 10.0))
