"""The model registry, ``train_model`` and the per-step generator of ``StepContext``."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from spatialrep.train import (
    MethodModule,
    StepContext,
    TrainConfig,
    build_seeded,
    checkpoint_name,
    fit,
    load_checkpoint,
    make_loader,
    register_model,
    registered_models,
    train_model,
)
from spatialrep.train import checkpoint as checkpoint_module


@register_model("test_toy_regressor")
class ToyRegressor(nn.Module):
    def __init__(self, width: int = 3, offset: float = 0.0) -> None:
        super().__init__()
        self.linear = nn.Linear(width, 1)
        self.register_buffer("offset", torch.tensor(float(offset)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + self.offset


def data(n: int = 48) -> tuple[Any, Any]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    return make_loader(TensorDataset(x, y), batch_size=8, seed=0), make_loader(
        TensorDataset(x[:16], y[:16]), batch_size=8, shuffle=False
    )


def step(model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
    x, y = batch
    return {"loss": nn.functional.mse_loss(model(x), y)}


def settings(**kw: Any) -> TrainConfig:
    base = {"max_steps": 30, "lr": 0.05, "accelerator": "cpu", "devices": 1, "log_every_n_steps": 5}
    return TrainConfig(**{**base, **kw})


def test_registry_names_classes_and_refuses_duplicates():
    assert registered_models()["test_toy_regressor"] is ToyRegressor
    assert checkpoint_name(ToyRegressor) == checkpoint_name(ToyRegressor()) == "test_toy_regressor"
    with pytest.raises(ValueError, match="already registered by ToyRegressor"):
        register_model("test_toy_regressor")(type("Other", (nn.Module,), {}))
    with pytest.raises(ValueError, match="non-empty"):
        register_model("")
    with pytest.raises(TypeError, match="not a registered model"):
        checkpoint_name(nn.Linear)

    class Sub(ToyRegressor):  # a subclass does not inherit its parent's checkpoint name
        pass

    with pytest.raises(TypeError, match="not a registered model"):
        checkpoint_name(Sub)


def test_train_model_seeds_construction_without_touching_the_global_generator(tmp_path):
    torch.manual_seed(123)
    state = torch.get_rng_state()
    model = build_seeded(ToyRegressor, {"width": 3}, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    again = build_seeded(ToyRegressor, {"width": 3}, seed=5)
    assert torch.equal(model.linear.weight, again.linear.weight)
    assert not torch.equal(
        build_seeded(ToyRegressor, {"width": 3}, seed=6).linear.weight, model.linear.weight
    )


def test_train_model_trains_reloads_best_and_finalizes(tmp_path):
    train, val = data()
    seen: list[nn.Module] = []
    trained = train_model(
        ToyRegressor, {"width": 3}, step, train, val, settings(val_every_n_steps=10), tmp_path / "run",
        prepare=seen.append,
        finalize=lambda model: (model.offset.fill_(0.25), {"width": 3, "offset": 0.25})[1],
    )  # fmt: skip
    assert isinstance(seen[0], ToyRegressor) and trained.fit.global_step == 30
    assert trained.checkpoint == tmp_path / "run" / "model" and not trained.model.training
    reloaded, meta = load_checkpoint(trained.checkpoint)  # the registry rebuilds it by name
    assert isinstance(reloaded, ToyRegressor) and meta.model_kwargs == {"width": 3, "offset": 0.25}
    assert float(reloaded.offset) == 0.25
    torch.testing.assert_close(reloaded.linear.weight, trained.model.linear.weight, rtol=0, atol=0)
    plain = train_model(ToyRegressor, {"width": 3}, step, train, None, settings(), tmp_path / "plain")
    assert plain.checkpoint == tmp_path / "plain" / "best"
    with pytest.raises(TypeError, match="not a registered model"):
        train_model(nn.Linear, {"in_features": 3, "out_features": 1}, step, train, None, settings(), tmp_path)


def test_unknown_checkpoint_name_lists_the_registry(tmp_path, monkeypatch):
    model = ToyRegressor()
    checkpoint_module.save_checkpoint(tmp_path / "m", model, model_name="nowhere_model")
    known = r"'nowhere_model' is not in the registry; known: .*test_toy_regressor"
    with pytest.raises(KeyError, match=known):
        load_checkpoint(tmp_path / "m")
    monkeypatch.setattr(checkpoint_module, "_REGISTRY", {})
    with pytest.raises(KeyError, match="import the method module"):
        load_checkpoint(tmp_path / "m")


def context_step(model: nn.Module, batch: Any, context: StepContext) -> dict[str, torch.Tensor]:
    """Input noise drawn from the step's generator (as augmentations do)."""
    x, y = batch
    if context.generator is not None:
        x = x + 0.3 * torch.randn(x.shape, generator=context.generator)
    return {"loss": nn.functional.mse_loss(model(x), y)}


def test_step_context_generator_is_per_step_and_only_in_training():
    module = MethodModule(ToyRegressor(), context_step, train_config=settings(seed=4))
    train = module.step_context("train")
    assert train.stage == "train" and train.global_step == 0 and isinstance(train.generator, torch.Generator)
    first = torch.rand(3, generator=train.generator)
    assert torch.equal(torch.rand(3, generator=module.step_context("train").generator), first)
    assert module.step_context("val").generator is None
    other_seed = MethodModule(ToyRegressor(), context_step, train_config=settings(seed=5)).step_context(
        "train"
    )
    assert not torch.equal(torch.rand(3, generator=other_seed.generator), first)


def test_step_context_differs_between_processes(monkeypatch):
    """Under DDP each rank draws its own augmentations; rank 0 draws what one device draws."""
    module = MethodModule(ToyRegressor(), context_step, train_config=settings(seed=4))
    one_device = torch.rand(3, generator=module.step_context("train").generator)
    draws = {}
    for rank in (0, 1, 2):
        monkeypatch.setattr(MethodModule, "global_rank", property(lambda self, r=rank: r))
        draws[rank] = torch.rand(3, generator=module.step_context("train").generator)
    assert torch.equal(draws[0], one_device)
    assert not torch.equal(draws[1], draws[0]) and not torch.equal(draws[2], draws[1])


def test_context_draws_resume_bit_identically(tmp_path):
    """A run killed mid-way and resumed draws the same augmentation noise: final weights are identical."""
    from lightning.pytorch.callbacks import Callback

    class Stop(Callback):
        def on_train_batch_end(self, trainer, *args: Any) -> None:
            if trainer.global_step >= 13:
                trainer.should_stop = True

    config = settings(max_steps=24, checkpoint_every_n_steps=5, val_every_n_steps=6)
    train, val = data()
    full = MethodModule(build_seeded(ToyRegressor, {}, 0), context_step)
    fit(full, train, val, config, tmp_path / "full", progress=False)
    train, val = data()
    fit(MethodModule(build_seeded(ToyRegressor, {}, 0), context_step), train, val, config, tmp_path / "run",
        progress=False, callbacks=[Stop()])  # fmt: skip
    torch.manual_seed(999)  # the resumed process's global generator is elsewhere
    resumed = MethodModule(build_seeded(ToyRegressor, {}, 0), context_step)
    train, val = data()
    fit(resumed, train, val, config, tmp_path / "run", progress=False)
    torch.testing.assert_close(resumed.model.linear.weight, full.model.linear.weight, rtol=0, atol=0)
