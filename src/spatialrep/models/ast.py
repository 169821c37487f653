"""Audio spectrogram transformer pieces (SpatialAST / DSpAST): patches, 2-D sin-cos positions, CLS tokens,
a pre-norm transformer, patch masking, feature attention and the fusion stem.

An input "image" is ``(batch, 1, bins, frames)`` (the fusion stem has already mixed the feature maps into
one). :class:`PatchEmbed` cuts it into ``patch × patch`` tiles (stride ``patch``), giving a token grid of
``F' = bins // patch`` rows (frequency) by ``T' = frames // patch`` columns (time), flattened row-major
(``index = f * T' + t``). Positions are fixed 2-D sin-cos codes (half the width for the row, half for the
column); ``num_cls`` learned CLS tokens are prepended (without positions).

Registered encoders ``ast_tiny`` (64-d, 2 blocks, 4 heads, patch 8), ``ast_small`` (128, 4, 4, 16) and
``ast_base`` (768, 12, 12, 16: ViT-B) read the frame-sequence layout of the registry
(:func:`~spatialrep.models.inputs.feature_maps_to_sequence` of ``(batch, num_maps, bins, frames)``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from spatialrep.models.inputs import sequence_to_feature_maps
from spatialrep.models.registry import Encoder, check_frames, register_encoder

__all__ = [
    "AST_SIZES",
    "ASTBackbone",
    "ASTEncoder",
    "FeatureAttention",
    "FusionStem",
    "PatchEmbed",
    "patch_mask",
    "sincos_2d",
]

AST_SIZES: dict[str, dict[str, int]] = {
    "ast_tiny": {"embed_dim": 64, "depth": 2, "num_heads": 4, "patch_size": 8},
    "ast_small": {"embed_dim": 128, "depth": 4, "num_heads": 4, "patch_size": 16},
    "ast_base": {"embed_dim": 768, "depth": 12, "num_heads": 12, "patch_size": 16},
}
"""The registered sizes: width, blocks, heads, patch edge."""


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def sincos_2d(embed_dim: int, rows: int, cols: int) -> Tensor:
    """Fixed 2-D sin-cos positions of a ``rows × cols`` grid, row-major: ``(rows * cols, embed_dim)``.

    The first half of the width codes the row (frequency), the second the column (time), each as
    ``[sin(p ω_k), cos(p ω_k)]`` with ``ω_k = 10000^(-k / (D/4))``.

    Raises:
        ValueError: ``embed_dim`` not a multiple of 4.
    """
    if embed_dim % 4:
        raise ValueError(f"embed_dim={embed_dim} must be a multiple of 4 for 2-D sin-cos positions")
    quarter = embed_dim // 4
    omega = 1.0 / (10000.0 ** (torch.arange(quarter, dtype=torch.float64) / quarter))

    def code(positions: Tensor) -> Tensor:
        angle = positions[:, None] * omega[None, :]
        return torch.cat((torch.sin(angle), torch.cos(angle)), dim=1)

    f = torch.arange(rows, dtype=torch.float64).repeat_interleave(cols)
    t = torch.arange(cols, dtype=torch.float64).repeat(rows)
    return torch.cat((code(f), code(t)), dim=1).float()


def patch_mask(
    grid: tuple[int, int], t_ratio: float, f_ratio: float, generator: torch.Generator | None = None
) -> Tensor:
    """Indices of the tokens kept when whole time columns and frequency rows are masked (training only).

    ``⌊(1 - t_ratio) T'⌋`` random columns and ``⌊(1 - f_ratio) F'⌋`` random rows survive (at least one
    each); a token is kept when both its row and its column survive.

    Args:
        grid: ``(F', T')`` token rows and columns.
        t_ratio, f_ratio: shares of columns / rows masked, in ``[0, 1)``.
        generator: the random stream (a training step's ``StepContext.generator``).

    Returns:
        Sorted row-major token indices, ``(kept,)`` long.

    Raises:
        ValueError: ratios outside ``[0, 1)``.
    """
    rows, cols = grid
    for name, ratio in (("t_ratio", t_ratio), ("f_ratio", f_ratio)):
        if not 0.0 <= ratio < 1.0:
            raise ValueError(f"{name}={ratio!r} must be in [0, 1)")
    device = generator.device if generator is not None else torch.device("cpu")
    keep_cols = max(1, math.floor((1.0 - t_ratio) * cols + 1e-9))
    keep_rows = max(1, math.floor((1.0 - f_ratio) * rows + 1e-9))
    col = torch.randperm(cols, generator=generator, device=device)[:keep_cols].sort().values
    row = torch.randperm(rows, generator=generator, device=device)[:keep_rows].sort().values
    return (row[:, None] * cols + col[None, :]).reshape(-1)


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch × patch`` tiles of a one-map image as tokens.

    Shape:
        ``(batch, 1, bins, frames) -> (batch, F' * T', embed_dim)`` with ``F' = bins // patch``,
        ``T' = frames // patch`` (a remainder is dropped).
    """

    def __init__(self, embed_dim: int, patch_size: int, in_channels: int = 1) -> None:
        super().__init__()
        self.patch_size = _positive("patch_size", patch_size)
        self.proj = nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size, stride=patch_size)

    def grid(self, bins: int, frames: int) -> tuple[int, int]:
        """``(F', T')`` of an image of ``bins × frames``."""
        return bins // self.patch_size, frames // self.patch_size

    def forward(self, image: Tensor) -> Tensor:
        if image.shape[-2] < self.patch_size or image.shape[-1] < self.patch_size:
            raise ValueError(
                f"an image of {tuple(image.shape[-2:])} (bins, frames) is smaller than one "
                f"{self.patch_size}x{self.patch_size} patch"
            )
        return self.proj(image).flatten(2).transpose(1, 2)


class ASTBackbone(nn.Module):
    """Patch embedding + sin-cos positions + ``num_cls`` CLS tokens + pre-norm transformer + final norm.

    Args:
        embed_dim, depth, num_heads, patch_size: the ViT size.
        num_cls: CLS tokens (SpatialAST: 3, one per task).
        mlp_ratio: feed-forward width over ``embed_dim``.
        dropout: in attention and feed-forward.

    Shape:
        ``forward``: ``(batch, 1, bins, frames) -> (batch, num_cls + kept tokens, embed_dim)``.
    """

    def __init__(
        self,
        embed_dim: int,
        depth: int,
        num_heads: int,
        patch_size: int,
        *,
        num_cls: int = 3,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        for name, value in (("embed_dim", embed_dim), ("depth", depth), ("num_heads", num_heads)):
            _positive(name, value)
        if embed_dim % num_heads or embed_dim % 4:
            raise ValueError(f"embed_dim={embed_dim} must be a multiple of num_heads={num_heads} and of 4")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r} must be in [0, 1)")
        self.embed_dim = embed_dim
        self.depth = depth
        self.num_cls = _positive("num_cls", num_cls)
        self.patch = PatchEmbed(embed_dim, patch_size)
        self.cls = nn.Parameter(torch.zeros(1, num_cls, embed_dim))
        nn.init.normal_(self.cls, std=0.02)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                embed_dim,
                num_heads,
                int(embed_dim * mlp_ratio),
                dropout=dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim)

    @property
    def patch_size(self) -> int:
        return self.patch.patch_size

    def grid(self, bins: int, frames: int) -> tuple[int, int]:
        return self.patch.grid(bins, frames)

    def forward(self, image: Tensor, keep: Tensor | None = None) -> Tensor:
        """Tokens of ``image``; ``keep`` (from :func:`patch_mask`) drops the masked patches."""
        tokens = self.patch(image)
        grid = self.grid(image.shape[-2], image.shape[-1])
        tokens = tokens + sincos_2d(self.embed_dim, *grid).to(tokens)
        if keep is not None:
            tokens = tokens[:, keep.to(tokens.device)]
        x = torch.cat((self.cls.expand(tokens.shape[0], -1, -1).to(tokens), tokens), dim=1)
        for block in self.blocks:
            x = block(x)
        out: Tensor = self.norm(x)
        return out

    def layer_id(self, name: str) -> int:
        """Layer-decay depth of a parameter named relative to this module: 0 embeddings, ``k + 1`` block
        ``k``, ``depth + 1`` the final norm."""
        if name.startswith("blocks."):
            return int(name.split(".")[1]) + 1
        if name.startswith("norm."):
            return self.depth + 1
        return 0


class FeatureAttention(nn.Module):
    """Per-channel weights of a feature stack: ``M(x) = σ(W1 ReLU(W0 BN(AvgPool(x)) + b0) + b1)``.

    Args:
        channels: feature maps ``C``.
        hidden: width of ``W0`` (default ``C``; the paper leaves it unstated).

    Shape:
        ``forward``: ``(batch, C, bins, frames) -> (x ⊙ M(x), M(x))``, the weights ``(batch, C, 1, 1)``.
    """

    def __init__(self, channels: int, hidden: int | None = None) -> None:
        super().__init__()
        _positive("channels", channels)
        hidden = channels if hidden is None else _positive("hidden", hidden)
        self.norm = nn.BatchNorm1d(channels)
        self.w0 = nn.Linear(channels, hidden)
        self.w1 = nn.Linear(hidden, channels)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        pooled = self.norm(x.mean(dim=(2, 3)))
        weights = torch.sigmoid(self.w1(torch.relu(self.w0(pooled))))[:, :, None, None]
        return x * weights, weights


class FusionStem(nn.Module):
    """``conv 3×3 (C -> 1) + BatchNorm + GELU``: a feature stack as one image for the patch embedding.

    Shape:
        ``(batch, C, bins, frames) -> (batch, 1, bins, frames)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(_positive("channels", channels), 1, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm2d(1)

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.gelu(self.norm(self.conv(x)))


class ASTEncoder(Encoder):
    """A registry encoder: fusion stem over ``num_maps`` stacked maps, then :class:`ASTBackbone`.

    Frames are zero-padded to a multiple of the patch; ``bins`` (``input_dim / num_maps``) must be one.

    Shape:
        ``forward_features``: ``(batch, frames, num_maps * bins) -> (batch, num_cls + F' T', embed_dim)``;
        ``forward`` pools the mean of the CLS tokens.
    """

    is_causal = False

    def __init__(self, input_dim: int, *, num_maps: int = 1, num_cls: int = 3, **size: Any) -> None:
        super().__init__()
        self.input_dim = _positive("input_dim", input_dim)
        self.num_maps = _positive("num_maps", num_maps)
        if input_dim % num_maps:
            raise ValueError(f"input_dim={input_dim} is not a multiple of num_maps={num_maps}")
        self.backbone = ASTBackbone(num_cls=num_cls, **size)
        bins = input_dim // num_maps
        if bins % self.backbone.patch_size:
            raise ValueError(
                f"{bins} bins per map are not a multiple of the patch {self.backbone.patch_size}"
            )
        self.stem = FusionStem(num_maps)
        self.output_dim = self.backbone.embed_dim

    def forward_features(self, x: Tensor) -> Tensor:
        check_frames(x, self.input_dim)
        pad = (-x.shape[1]) % self.backbone.patch_size
        if pad:
            x = nn.functional.pad(x, (0, 0, 0, pad))
        return self.backbone(self.stem(sequence_to_feature_maps(x, self.num_maps)))

    def pool(self, features: Tensor) -> Tensor:
        return features[:, : self.backbone.num_cls].mean(dim=1)


def _register(name: str) -> None:
    def build(input_dim: int, **kwargs: Any) -> ASTEncoder:
        return ASTEncoder(input_dim, **{**AST_SIZES[name], **kwargs})

    build.__name__ = name
    register_encoder(name)(build)


for _name in AST_SIZES:
    _register(_name)
