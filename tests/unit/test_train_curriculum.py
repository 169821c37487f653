"""The Curriculum: stage boundaries (λ, lr, data fraction), stage 1 leaves the other tasks untouched, each
stage starts from the last, a killed stage resumes; the fraction sampler; layer decay."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import pytest
import torch
from spatial_fixtures import CLASSES, SyntheticStacks, small_dspast_config

from spatialrep.config import ConfigError
from spatialrep.methods.dspast import DSpAST
from spatialrep.methods.spatialast import spatial_step, train_curriculum
from spatialrep.train import (
    FractionSampler,
    MethodModule,
    Stage,
    TrainConfig,
    build_seeded,
    class_balanced_weights,
)
from spatialrep.train.checkpoint import load_checkpoint
from spatialrep.train.curriculum import stage_loader


class _Killed(RuntimeError):
    """Stands for a kill in the middle of a stage."""


TRAIN = TrainConfig(max_steps=3, batch_size=4, lr=1e-3, accelerator="cpu", devices=1, log_every_n_steps=1,
                    checkpoint_every_n_steps=1)  # fmt: skip
STAGES = [
    Stage("sed", dataclasses.replace(TRAIN, lr=1e-3), {"sed": 1.0}, 0.5, "uniform"),
    Stage("all", dataclasses.replace(TRAIN, lr=2e-3), {"sed": 100.0, "distance": 2.0, "direction": 1.0}, 1.0,
          "balanced"),
]  # fmt: skip


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    model, _ = load_checkpoint(folder / "last")
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_fraction_sampler_is_seeded_and_balanced_weights() -> None:
    sampler = FractionSampler(10, 0.3, seed=1)
    assert len(sampler) == 3 and len(set(sampler.order(0))) == 3
    assert sampler.order(0) == FractionSampler(10, 0.3, seed=1).order(0) != sampler.order(1)
    sampler.resume(0, 2)
    assert list(sampler) == sampler.order(0)[2:]
    w = class_balanced_weights([["a"], ["a"], ["a", "b"], ["c"]])
    torch.testing.assert_close(w, torch.tensor([1 / 3, 1 / 3, 1 / 3 + 1.0, 1.0], dtype=torch.float64))
    drawn = FractionSampler(4, 1.0, weights=torch.tensor([0.0, 0.0, 1.0, 0.0]), seed=0).order(0)
    assert drawn == [2, 2, 2, 2]
    assert len(FractionSampler(10, 0.01, minimum=4)) == 4 and len(FractionSampler(3, 0.5, minimum=4)) == 3
    with pytest.raises(ConfigError, match="epoch_fraction"):
        Stage("x", TRAIN, {"sed": 1.0}, 0.0)
    with pytest.raises(ConfigError, match="sampler"):
        Stage("x", TRAIN, {"sed": 1.0}, 1.0, "weird")


def test_stage_loader_draws_its_fraction() -> None:
    data = SyntheticStacks(12)
    loader = stage_loader(data, STAGES[0], seed=0)
    assert [len(b["features"]) for b in loader] == [4]  # 6 of 12 clips drawn, whole batches only
    with pytest.raises(ValueError, match="balanced"):
        stage_loader(data, STAGES[1], seed=0)


def test_stage_one_leaves_the_other_branches_and_heads_untouched() -> None:
    torch.manual_seed(0)
    model = DSpAST(small_dspast_config(), CLASSES).train()
    batch = next(iter(torch.utils.data.DataLoader(SyntheticStacks(8), batch_size=8)))
    spatial_step(model, batch, loss_weights={"sed": 1.0})["loss"].backward()
    for name, parameter in model.named_parameters():
        other_branch = any(
            name.startswith(f"{part}.{b}.") for part in ("attention", "stems", "proj") for b in (1, 2)
        )
        other_head = name.startswith(("heads.distance", "heads.azimuth", "heads.elevation"))
        if other_branch or other_head:
            assert parameter.grad is None or not parameter.grad.any(), name
        elif name.startswith(("backbone.blocks", "heads.sed", "stems.0", "attention.0", "proj.0")):
            assert parameter.grad is not None and parameter.grad.any(), name


def test_curriculum_boundaries_weights_carry_over_and_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = SyntheticStacks(12)
    config = small_dspast_config()
    seen: list[tuple[int, dict[str, float]]] = []
    real = spatial_step

    def spy(model: Any, batch: Any, context: Any = None, *, loss_weights: Any) -> Any:
        seen.append((len(batch["features"]), dict(loss_weights)))
        return real(model, batch, context, loss_weights=loss_weights)

    monkeypatch.setattr("spatialrep.methods.spatialast.spatial_step", spy)
    results = train_curriculum(DSpAST, config, CLASSES, data, STAGES, tmp_path / "a", seed=0)  # type: ignore[arg-type]
    assert [r.stage.name for r in results] == ["sed", "all"] and [r.global_step for r in results] == [3, 3]
    # λ switches at the boundary; stage 1 draws 6 of 12 clips per epoch (one whole batch of 4 per epoch)
    assert [w for _, w in seen[:3]] == [{"sed": 1.0}] * 3 and seen[3][1]["distance"] == 2.0
    assert [n for n, _ in seen] == [4] * 6
    assert (results[1].folder / "train_config.yaml").read_text().count("lr: 0.002") == 1
    # stage 1 changed neither the distance / direction heads nor their branches (AdamW had no gradient)
    initial = build_seeded(DSpAST, {"config": config.to_dict(), "class_names": CLASSES}, 0)
    after_one = _weights(results[0].folder)
    for name, value in initial.state_dict().items():
        if name.startswith(("heads.distance", "heads.azimuth.weight", "stems.1", "proj.2.weight")):
            torch.testing.assert_close(after_one[name], value, msg=name)
    assert not torch.equal(after_one["heads.sed.weight"], initial.state_dict()["heads.sed.weight"])

    # stage 2 starts from stage 1's weights: with lr ~0 its weights stay those of stage 1
    tiny_lr = dataclasses.replace(TRAIN, lr=1e-12, max_steps=1)
    frozen = [STAGES[0], Stage("all", tiny_lr, STAGES[1].loss_weights, 1.0, "balanced")]
    again = train_curriculum(DSpAST, config, CLASSES, data, frozen, tmp_path / "a2", seed=0)  # type: ignore[arg-type]
    second = _weights(again[1].folder)
    torch.testing.assert_close(
        second["backbone.blocks.0.linear1.weight"], after_one["backbone.blocks.0.linear1.weight"]
    )

    # a kill in the middle of stage 2 resumes there and ends with the same weights
    calls = {"n": 0}

    def dying(model: Any, batch: Any, context: Any = None, *, loss_weights: Any) -> Any:
        if loss_weights.get("distance") and context is not None and context.global_step == 2:
            raise _Killed("killed")
        calls["n"] += 1
        return real(model, batch, context, loss_weights=loss_weights)

    monkeypatch.setattr("spatialrep.methods.spatialast.spatial_step", dying)
    with pytest.raises(_Killed):
        train_curriculum(DSpAST, config, CLASSES, data, STAGES, tmp_path / "b", seed=0)  # type: ignore[arg-type]
    assert (tmp_path / "b" / "stage1-sed" / "stage.json").is_file()
    assert not (tmp_path / "b" / "stage2-all" / "stage.json").is_file()
    monkeypatch.setattr("spatialrep.methods.spatialast.spatial_step", real)
    resumed = train_curriculum(DSpAST, config, CLASSES, data, STAGES, tmp_path / "b", seed=0)  # type: ignore[arg-type]
    a, b = _weights(results[1].folder), _weights(resumed[1].folder)
    for name in a:
        torch.testing.assert_close(a[name], b[name], msg=name)


def test_layer_decay_scales_learning_rates_by_depth() -> None:
    model = DSpAST(small_dspast_config(), CLASSES)
    module = MethodModule(model, functools.partial(spatial_step, loss_weights={"sed": 1.0}),
                          train_config=TrainConfig(lr=1.0, layer_decay=0.5))  # fmt: skip
    groups = module._parameter_groups()
    rates = sorted({g["lr"] for g in groups})
    assert rates == [0.25, 0.5, 1.0]  # depth 1 block: embeddings 0.5², block 0.5, heads 1
    head = next(p for n, p in model.named_parameters() if n == "heads.sed.weight")
    assert any(head is p and g["lr"] == 1.0 for g in groups for p in g["params"])
    with pytest.raises(ConfigError, match="layer_decay"):
        TrainConfig(layer_decay=0.0)
    plain = MethodModule(torch.nn.Linear(2, 2), train_config=TrainConfig(layer_decay=0.5))
    with pytest.raises(ValueError, match="layer_id"):
        plain._parameter_groups()
