"""Turning feature tensors into the ``(batch, frames, features)`` sequences the encoders take."""

from __future__ import annotations

from torch import Tensor

__all__ = ["stft_frames_to_sequence"]


def stft_frames_to_sequence(x: Tensor) -> Tensor:
    """Flatten stacked real/imaginary STFT frames into one feature vector per frame.

    The feature index is ``(channel * 2 + part) * freq + bin`` (channel-major, then real (0) / imaginary (1),
    then frequency), the order of :func:`spatialrep.features.stft_real_imag`'s axes.

    Args:
        x: output of :func:`spatialrep.features.stft_real_imag` for a batch of clips.

    Returns:
        The frame sequence.

    Raises:
        ValueError: ``x`` is not 5-D or its real/imaginary axis does not have size 2.

    Shape:
        ``(batch, channel, 2, freq, frames) -> (batch, frames, channel * 2 * freq)``.
    """
    if x.dim() != 5 or x.shape[2] != 2:
        raise ValueError(f"expected shape (batch, channel, 2, freq, frames), got {tuple(x.shape)}")
    batch, channels, parts, freq, frames = x.shape
    return x.reshape(batch, channels * parts * freq, frames).transpose(1, 2)
