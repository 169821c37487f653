"""AST pieces: sin-cos positions, patch masking, feature attention, the fusion stem, the backbone."""

from __future__ import annotations

import pytest
import torch

from spatialrep.models.ast import ASTBackbone, FeatureAttention, FusionStem, PatchEmbed, patch_mask, sincos_2d


def test_sincos_positions_are_fixed_distinct_and_bounded() -> None:
    pos = sincos_2d(16, 3, 5)
    assert pos.shape == (15, 16)
    assert pos.abs().max() <= 1.0
    assert torch.unique(pos, dim=0).shape[0] == 15  # every grid cell has its own code
    # the first half codes the row only: equal within a row
    torch.testing.assert_close(pos[0, :8], pos[4, :8])
    with pytest.raises(ValueError, match="multiple of 4"):
        sincos_2d(10, 2, 2)


def test_patch_mask_keeps_whole_rows_and_columns_seeded() -> None:
    grid = (8, 64)  # F' rows x T' columns: the 64 x 8 grid
    keep = patch_mask(grid, 0.25, 0.25, torch.Generator().manual_seed(0))
    assert keep.numel() == (64 * 3 // 4) * (8 * 3 // 4) == 288
    rows, cols = keep // 64, keep % 64
    assert len(set(rows.tolist())) == 6 and len(set(cols.tolist())) == 48
    # whole rows and columns: every (kept row, kept column) pair is kept
    assert set(keep.tolist()) == {r * 64 + c for r in set(rows.tolist()) for c in set(cols.tolist())}
    again = patch_mask(grid, 0.25, 0.25, torch.Generator().manual_seed(0))
    other = patch_mask(grid, 0.25, 0.25, torch.Generator().manual_seed(1))
    assert torch.equal(keep, again) and not torch.equal(keep, other)
    assert patch_mask(grid, 0.0, 0.0).numel() == 512
    with pytest.raises(ValueError, match="t_ratio"):
        patch_mask(grid, 1.0, 0.0)


def test_backbone_token_counts_with_and_without_mask() -> None:
    torch.manual_seed(0)
    backbone = ASTBackbone(16, 1, 2, 4, num_cls=3).eval()
    image = torch.randn(2, 1, 16, 32)
    assert backbone.grid(16, 32) == (4, 8)
    assert backbone(image).shape == (2, 3 + 32, 16)
    keep = patch_mask((4, 8), 0.25, 0.25, torch.Generator().manual_seed(0))
    assert backbone(image, keep).shape == (2, 3 + 3 * 6, 16)
    assert PatchEmbed(16, 4)(image).shape == (2, 32, 16)
    with pytest.raises(ValueError, match="smaller than one"):
        backbone(torch.randn(1, 1, 2, 32))
    assert backbone.layer_id("blocks.0.linear1.weight") == 1 and backbone.layer_id("norm.weight") == 2
    assert backbone.layer_id("patch.proj.weight") == 0


def test_feature_attention_weights_and_fusion_stem() -> None:
    torch.manual_seed(0)
    attention = FeatureAttention(6)
    x = torch.randn(4, 6, 8, 10)
    y, weights = attention(x)
    assert weights.shape == (4, 6, 1, 1)
    assert bool(((weights > 0) & (weights < 1)).all())
    torch.testing.assert_close(y, x * weights)
    assert FeatureAttention(6, hidden=3).w0.out_features == 3
    assert FusionStem(6)(x).shape == (4, 1, 8, 10)
