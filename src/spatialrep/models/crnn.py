"""A convolutional recurrent encoder over stacked feature maps (the SELD CRNN; MC-SimCLR's encoder)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from spatialrep.models.inputs import sequence_to_feature_maps
from spatialrep.models.registry import Encoder, check_frames, register_encoder

__all__ = ["CRNN"]


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


@register_encoder("crnn")
class CRNN(Encoder):
    """Conv blocks ``[conv 3×3, BatchNorm, ReLU, max-pool over bins, dropout]`` then a bidirectional GRU.

    The input is a frame sequence of stacked maps
    (:func:`~spatialrep.models.inputs.feature_maps_to_sequence` of ``(batch, in_channels, num_bins,
    frames)``); it is unstacked, normalised per map by a batch norm (log-mel in dB and GCC in [-1, 1] differ
    in scale by orders of magnitude), convolved with time kept at full rate, flattened per frame and run
    through the GRU. The clip embedding is the mean of the GRU outputs over
    frames. Not causal (convolutions see one frame ahead, the GRU runs both ways).

    Args:
        input_dim: ``in_channels * num_bins``.
        in_channels: stacked maps.
        num_bins: bins per map.
        conv_channels: channels of every conv block.
        pool_sizes: max-pool size over bins after each block (one block per entry).
        gru_hidden: GRU units per direction (``output_dim = 2 * gru_hidden``).
        gru_layers: stacked GRU layers.
        dropout: after each conv block and between GRU layers.

    Raises:
        ValueError: a size that is not a positive integer, ``input_dim != in_channels * num_bins``, pools that
            leave no bin, a dropout outside ``[0, 1)``.

    Shape:
        ``forward_features``: ``(batch, frames, in_channels * num_bins) -> (batch, frames, 2 * gru_hidden)``.
    """

    is_causal = False

    def __init__(
        self,
        input_dim: int,
        in_channels: int,
        num_bins: int,
        conv_channels: int = 64,
        pool_sizes: Sequence[int] = (4, 4, 2),
        gru_hidden: int = 128,
        gru_layers: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        for name, value in (
            ("input_dim", input_dim),
            ("in_channels", in_channels),
            ("num_bins", num_bins),
            ("conv_channels", conv_channels),
            ("gru_hidden", gru_hidden),
            ("gru_layers", gru_layers),
            *(("pool_sizes", p) for p in pool_sizes),
        ):
            _positive(name, value)
        if input_dim != in_channels * num_bins:
            raise ValueError(
                f"input_dim={input_dim} must be in_channels * num_bins = {in_channels} * {num_bins}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        bins = num_bins
        for size in pool_sizes:
            bins //= size
        if bins < 1:
            raise ValueError(f"pool_sizes {tuple(pool_sizes)} leave no bin of {num_bins}")
        self.input_dim = input_dim
        self.in_channels = in_channels
        self.output_dim = 2 * gru_hidden
        self.input_norm = nn.BatchNorm2d(in_channels)
        blocks: list[nn.Module] = []
        width = in_channels
        for size in pool_sizes:
            blocks += [
                nn.Conv2d(width, conv_channels, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(conv_channels),
                nn.ReLU(),
                nn.MaxPool2d((size, 1)),
            ]
            if dropout > 0:
                blocks.append(nn.Dropout(dropout))
            width = conv_channels
        self.conv = nn.Sequential(*blocks)
        self.gru = nn.GRU(
            conv_channels * bins,
            gru_hidden,
            num_layers=gru_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if gru_layers > 1 else 0.0,
        )

    def forward_features(self, x: Tensor) -> Tensor:
        """Frame embeddings of a stacked-map sequence.

        Raises:
            TypeError: ``x`` is not floating point.
            ValueError: ``x`` is not ``(batch, frames, input_dim)``.
        """
        check_frames(x, self.input_dim)
        maps = self.conv(self.input_norm(sequence_to_feature_maps(x, self.in_channels)))
        batch, channels, bins, frames = maps.shape
        out, _ = self.gru(maps.permute(0, 3, 1, 2).reshape(batch, frames, channels * bins))
        return out
