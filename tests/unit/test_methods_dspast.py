"""DSpAST: branch isolation, attention weights, shapes, the paper's size and curriculum."""

from __future__ import annotations

import pytest
import torch
from spatial_fixtures import CLASSES, SyntheticStacks, small_dspast_config

from spatialrep.methods.dspast import DSpAST, dspast_config, paper_stages
from spatialrep.methods.spatialast import SpatialAST, SpatialAstConfig, spatial_step
from spatialrep.train import StepContext

PAPER_CLASSES = [f"class{k}" for k in range(355)]


def test_distance_loss_has_no_gradient_in_the_sed_branch() -> None:
    torch.manual_seed(0)
    model = DSpAST(small_dspast_config(), CLASSES).train()
    batch = next(iter(torch.utils.data.DataLoader(SyntheticStacks(8), batch_size=8)))
    context = StepContext("train", 0, torch.Generator().manual_seed(0))
    spatial_step(model, batch, context, loss_weights={"distance": 1.0})["loss"].backward()
    for name, parameter in model.named_parameters():
        if name.startswith(("attention.0.", "stems.0.", "proj.0.", "heads.sed", "attention.2.", "proj.2.")):
            assert parameter.grad is None or not parameter.grad.any(), name
    assert model.proj[1].weight.grad is not None and model.proj[1].weight.grad.any()
    assert model.backbone.blocks[0].linear1.weight.grad is not None  # the shared backbone learns from it


def test_heads_embed_and_attention_shapes() -> None:
    torch.manual_seed(0)
    model = DSpAST(small_dspast_config(), CLASSES).eval()
    assert model.branch_dim == 4 and model.embedding_dim == 12
    audio = torch.randn(3, 2, 4000)
    stack = model.frontend(audio)
    out = model(model.crop(stack))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "sed": (3, 4), "distance": (3, 4), "direction": (3, 4), "attention": (3, 3, 6)
    }  # fmt: skip
    logits = model.logits(out)
    assert logits["distance"].shape == (3, 8) and logits["azimuth"].shape == (3, 12)
    assert logits["elevation"].shape == (3, 6) and logits["sed"].shape == (3, 4)
    weights = model.attention_weights(stack)
    assert weights.shape == (3, 3, 6) and bool(((weights > 0) & (weights < 1)).all())
    tokens = model.embed(audio, 16000, tokens=True)
    assert tokens.shape[0] == 3 and tokens.shape[2] == 12
    from spatialrep.methods.base import LayeredEmbedder

    assert isinstance(model, LayeredEmbedder)  # spatialrep embed writes both layers
    layers = model.embed_layers(audio, 16000)
    torch.testing.assert_close(layers["tokens"], tokens)
    torch.testing.assert_close(layers["cls"], model.embed(audio, 16000))
    no_attention = DSpAST(small_dspast_config(attention=False), CLASSES)
    with pytest.raises(ValueError, match="no feature attention"):
        no_attention.attention_weights(stack)
    with pytest.raises(ValueError, match="three branches"):
        DSpAST(SpatialAstConfig(), CLASSES)


def test_paper_sized_dspast_parameter_count_and_gap() -> None:
    with torch.device("meta"):
        dspast = DSpAST(dspast_config(backbone="ast_base"), PAPER_CLASSES)
        spatialast = SpatialAST(SpatialAstConfig(backbone="ast_base"), PAPER_CLASSES)
    d = sum(p.numel() for p in dspast.parameters())
    s = sum(p.numel() for p in spatialast.parameters())
    assert d == pytest.approx(86.09e6, rel=0.01)
    assert 0 < (d - s) / s <= 0.002  # the papers: 86.09 M vs 85.96 M (+0.15 %)


def test_paper_stages_follow_table_one() -> None:
    stages = paper_stages([100, 10, 1000], batch_size=128)
    assert [s.loss_weights for s in stages] == [
        {"sed": 1.0}, {"sed": 100.0, "distance": 2.0, "direction": 1.0},
        {"sed": 100.0, "distance": 2.0, "direction": 1.0},
    ]  # fmt: skip
    assert [s.train.lr for s in stages] == [5e-4, 5e-4, 5e-5]
    assert [s.train.max_steps for s in stages] == [5000, 500, 50000]
    assert [s.train.warmup_steps for s in stages] == [1000, 100, 10000]
    assert [s.epoch_fraction for s in stages] == [0.1, 0.01, 1.0]
    assert [s.sampler for s in stages] == ["uniform", "balanced", "uniform"]
    assert all(s.train.layer_decay == 0.75 and s.train.weight_decay == 5e-4 for s in stages)
