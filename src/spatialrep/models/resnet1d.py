"""``resnet1d_bilstm``: SQM-BS's encoder, a stride-free 1-D ResNet followed by two bidirectional LSTMs.

Input frames are raw waveform frames (space-to-depth, :func:`spatialrep.features.functional.frame_waveform`),
so the encoder sees every sample. Every block keeps the frame rate (no stride, no pooling); the two BiLSTM
layers give ``2 * lstm_hidden`` values per frame. :meth:`ResNet1dBiLSTM.layer_features` returns the output
of every block and of both LSTM layers: the deep-feature maps of SQM-BS's Eq. 2.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from spatialrep.models.registry import Encoder, check_frames, register_encoder

__all__ = ["ResNet1dBiLSTM"]


class _Block(nn.Module):
    """Two kernel-3 convolutions with group norm and a residual connection, frame rate preserved."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, 3, padding=1)
        self.norm1 = nn.GroupNorm(1, channels)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(1, channels)

    def forward(self, x: Tensor) -> Tensor:
        y = torch.relu(self.norm1(self.conv1(x)))
        return torch.relu(x + self.norm2(self.conv2(y)))


@register_encoder("resnet1d_bilstm")
class ResNet1dBiLSTM(Encoder):
    """Stride-free 1-D ResNet (kernel 3) then 2 BiLSTM layers.

    Args:
        input_dim: features per frame (channels x samples per frame after space-to-depth framing).
        blocks: residual blocks (the paper does not state it; ours 2 / 3 / 4 by scale).
        channels: channels of every block.
        lstm_hidden: hidden units per direction (output ``2 * lstm_hidden``; the paper's 64 values = 32).
        lstm_layers: BiLSTM layers (the paper's 2).
        dropout: dropout after every block and LSTM layer but the last (training only).

    Shape:
        ``(batch, frames, input_dim) -> (batch, frames, 2 * lstm_hidden)`` (:meth:`forward_features`).
    """

    def __init__(
        self,
        input_dim: int,
        blocks: int = 2,
        channels: int = 16,
        lstm_hidden: int = 32,
        lstm_layers: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        for name, value in (("input_dim", input_dim), ("channels", channels), ("lstm_hidden", lstm_hidden)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"resnet1d_bilstm {name} must be a positive integer, got {value!r}")
        if not isinstance(blocks, int) or blocks < 0:
            raise ValueError(f"resnet1d_bilstm blocks must be a non-negative integer, got {blocks!r}")
        if not isinstance(lstm_layers, int) or lstm_layers < 1:
            raise ValueError(f"resnet1d_bilstm lstm_layers must be >= 1, got {lstm_layers!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"resnet1d_bilstm dropout must be in [0, 1), got {dropout!r}")
        self.dropout = nn.Dropout(dropout)
        self.input_dim = input_dim
        self.output_dim = 2 * lstm_hidden
        self.stem = nn.Conv1d(input_dim, channels, 3, padding=1)
        self.blocks = nn.ModuleList(_Block(channels) for _ in range(blocks))
        sizes = [channels] + [2 * lstm_hidden] * (lstm_layers - 1)
        self.lstms = nn.ModuleList(
            nn.LSTM(s, lstm_hidden, batch_first=True, bidirectional=True) for s in sizes
        )

    def layer_features(self, x: Tensor) -> list[Tensor]:
        """The output of every residual block and every LSTM layer, each ``(batch, frames, C_l)``."""
        check_frames(x, self.input_dim)
        h = torch.relu(self.stem(x.transpose(1, 2)))
        maps: list[Tensor] = []
        for block in self.blocks:
            h = self.dropout(block(h))
            maps.append(h.transpose(1, 2))
        seq = h.transpose(1, 2)
        for index, lstm in enumerate(self.lstms):
            seq, _ = lstm(seq if index == 0 else self.dropout(seq))
            maps.append(seq)
        return maps

    def forward_features(self, x: Tensor) -> Tensor:
        return self.layer_features(x)[-1]
