"""Input layouts: stacked 2-D feature maps as the frame sequences encoders read, and back."""

from __future__ import annotations

from torch import Tensor

__all__ = ["feature_maps_to_sequence", "sequence_to_feature_maps"]


def feature_maps_to_sequence(maps: Tensor) -> Tensor:
    """Stacked maps as one vector per frame, map-major (``index = map * bins + bin``).

    Raises:
        ValueError: not 4-D.

    Shape:
        ``(batch, maps, bins, frames) -> (batch, frames, maps * bins)``.
    """
    if maps.ndim != 4:
        raise ValueError(f"feature maps must be (batch, maps, bins, frames), got {tuple(maps.shape)}")
    batch, channels, bins, frames = maps.shape
    return maps.permute(0, 3, 1, 2).reshape(batch, frames, channels * bins)


def sequence_to_feature_maps(x: Tensor, num_maps: int) -> Tensor:
    """Inverse of :func:`feature_maps_to_sequence`.

    Raises:
        ValueError: not 3-D, or a last axis that ``num_maps`` does not divide.

    Shape:
        ``(batch, frames, maps * bins) -> (batch, maps, bins, frames)``.
    """
    if x.ndim != 3 or num_maps < 1 or x.shape[-1] % num_maps:
        raise ValueError(f"cannot split {tuple(x.shape)} into {num_maps} maps per frame")
    batch, frames, width = x.shape
    return x.reshape(batch, frames, num_maps, width // num_maps).permute(0, 2, 3, 1)
