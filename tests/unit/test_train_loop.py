"""fit: learning, resume after interruption, early stopping, exports, logging fallbacks."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from spatialrep.config import load_config
from spatialrep.train import MethodModule, TrainConfig, fit, load_checkpoint, loop, make_loader


def regression_data(n: int = 64, seed: int = 0) -> TensorDataset:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    return TensorDataset(x, y)


def mse_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
    x, y = batch
    loss = nn.functional.mse_loss(model(x), y)
    return {"loss": loss, "mae": (model(x) - y).abs().mean()}


def make_module(seed: int = 0) -> MethodModule:
    torch.manual_seed(seed)
    return MethodModule(
        nn.Linear(3, 1), mse_step, model_name="linear", model_kwargs={"in_features": 3, "out_features": 1}
    )


def config(**kw: object) -> TrainConfig:
    base: dict[str, object] = dict(
        max_steps=20, lr=0.05, batch_size=8, log_every_n_steps=1, accelerator="cpu", devices=1
    )
    base.update(kw)
    return TrainConfig(**base)


def loaders(cfg: TrainConfig) -> tuple[DataLoader, DataLoader]:
    train = make_loader(regression_data(), batch_size=cfg.batch_size, seed=cfg.seed)
    val = make_loader(regression_data(16, seed=1), batch_size=8, shuffle=False)
    return train, val


def registry() -> dict[str, type[nn.Module]]:
    return {"linear": nn.Linear}


def test_fit_reduces_loss_and_exports(tmp_path):
    cfg = config(max_steps=40, lr=0.2, scheduler="linear_warmup_cosine", warmup_steps=5)
    module = make_module()
    train, val = loaders(cfg)
    x, y = regression_data().tensors
    before = nn.functional.mse_loss(module.model(x), y).item()
    result = fit(module, train, val, cfg, tmp_path, progress=False)
    after = nn.functional.mse_loss(module.model(x), y).item()
    assert after < 0.1 * before
    assert result.global_step == 40
    assert result.resumed_from is None
    assert {"train/loss", "val/loss", "val/mae"} <= set(result.metrics)
    assert load_config(TrainConfig, tmp_path / "train_config.yaml") == cfg
    last, meta = load_checkpoint(result.last_checkpoint, registry())
    for name, tensor in module.model.state_dict().items():
        torch.testing.assert_close(last.state_dict()[name], tensor, rtol=0, atol=0)
    assert meta.extra["global_step"] == 40
    best, best_meta = load_checkpoint(result.best_checkpoint, registry())
    assert best_meta.model_name == "linear"
    assert isinstance(best, nn.Linear) and not best.training
    assert best_meta.extra["best_score"] == pytest.approx(min_val_loss(tmp_path))
    # The CSV log holds the train loss and the learning rate every step.
    metrics_csv = next((tmp_path / "logs").glob("version_*/metrics.csv")).read_text()
    assert "train/loss" in metrics_csv and "lr" in metrics_csv


def min_val_loss(out_dir):
    import csv

    rows = list(csv.DictReader(next((out_dir / "logs").glob("version_*/metrics.csv")).open()))
    return min(float(r["val/loss"]) for r in rows if r.get("val/loss"))


class StopAt(Callback):
    """Simulates a kill: stops the run after ``step`` optimiser steps, schedule untouched."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, *args, **kwargs):
        if trainer.global_step >= self.step:
            trainer.should_stop = True


# 64 examples / batch 8 = 8 batches per epoch: k=11 and 13 stop mid-epoch 1, k=8 and 16 at an epoch boundary.
@pytest.mark.parametrize(
    ("k", "every", "scheduler", "by_max_steps"),
    [
        (11, 11, "constant", True),
        (8, 4, "constant", True),
        (13, 5, "cosine", False),
        # No step checkpoint before the stop: last.ckpt is the one written at the stopping batch. (A smaller
        # max_steps also shortens a decaying schedule, so by_max_steps cases use a constant one.)
        (11, 100, "cosine", False),
        (11, 100, "constant", True),
        (8, 100, "constant", False),
        (16, 100, "linear_warmup_cosine", False),
    ],
)
def test_resume_after_interruption_gives_identical_weights(tmp_path, k, every, scheduler, by_max_steps):
    warmup = 3 if scheduler == "linear_warmup_cosine" else 0
    full = config(max_steps=30, checkpoint_every_n_steps=every, scheduler=scheduler, warmup_steps=warmup)
    module = make_module()
    train, val = loaders(full)
    fit(module, train, val, full, tmp_path / "full", progress=False)
    reference = {name: v.clone() for name, v in module.model.state_dict().items()}

    # Interrupt after k steps (by a smaller max_steps, or a callback keeping the schedule), then rerun the
    # full job in the same folder with fresh objects.
    train, val = loaders(full)
    if by_max_steps:
        fit(
            make_module(),
            train,
            val,
            dataclasses.replace(full, max_steps=k),
            tmp_path / "run",
            progress=False,
        )
    else:
        fit(make_module(), train, val, full, tmp_path / "run", progress=False, callbacks=[StopAt(k)])
    module_b = make_module(seed=123)  # other initial weights: they must come from the checkpoint
    train, val = loaders(full)
    result = fit(module_b, train, val, full, tmp_path / "run", progress=False)
    assert result.resumed_from is not None
    assert result.global_step == 30
    for name, tensor in reference.items():
        torch.testing.assert_close(module_b.model.state_dict()[name], tensor, rtol=0, atol=0)


def test_resume_without_resumable_sampler_warns(tmp_path):
    cfg = config(max_steps=3)
    loader = DataLoader(regression_data(), batch_size=8, shuffle=True)
    with pytest.warns(UserWarning, match="ResumableSampler"):
        fit(make_module(), loader, None, cfg, tmp_path, progress=False)


def plateau_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
    x, y = batch
    return {"loss": nn.functional.mse_loss(model(x), y), "plateau": torch.tensor(1.0)}


def test_early_stopping_stops_on_a_plateau(tmp_path):
    cfg = config(
        max_steps=200,
        val_every_n_steps=2,
        early_stopping_patience=2,
        early_stopping_metric="val/plateau",
        loggers=(),
    )
    module = MethodModule(nn.Linear(3, 1), plateau_step, model_name="linear")
    train, val = loaders(cfg)
    result = fit(module, train, val, cfg, tmp_path, progress=False)
    # Validations after steps 2 (best), 4 and 6 (no improvement: patience 2 exhausted).
    assert result.global_step == 6
    assert result.metrics["val/plateau"] == 1.0


def test_early_stopping_needs_a_validation_loader(tmp_path):
    cfg = config(early_stopping_patience=3)
    train, _ = loaders(cfg)
    with pytest.raises(ValueError, match=r"early_stopping_patience=3 needs a validation loader"):
        fit(make_module(), train, None, cfg, tmp_path, progress=False)


def test_fit_needs_a_method_module(tmp_path):
    cfg = config()
    train, val = loaders(cfg)
    with pytest.raises(TypeError, match="fit: module must be a MethodModule, got Linear"):
        fit(nn.Linear(3, 1), train, val, cfg, tmp_path, progress=False)


def hide_tensorboard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes the test independent of whether TensorBoard happens to be installed."""
    real = loop.importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name in ("tensorboard", "tensorboardX") else real(name, *args)

    monkeypatch.setattr(loop.importlib.util, "find_spec", find_spec)


@pytest.mark.parametrize("loggers", [("csv", "tensorboard"), ("tensorboard",)])
def test_tensorboard_missing_falls_back_to_csv(tmp_path, monkeypatch, loggers):
    hide_tensorboard(monkeypatch)
    cfg = config(max_steps=3, loggers=loggers)
    train, val = loaders(cfg)
    with pytest.warns(UserWarning, match=r"TensorBoard is not installed.*logging CSV only"):
        fit(make_module(), train, val, cfg, tmp_path, progress=False)
    versions = list((tmp_path / "logs").iterdir())
    assert [v.name for v in versions] == ["version_0"]  # one CSV logger, not two
    assert "train/loss" in (versions[0] / "metrics.csv").read_text()
    assert not list(tmp_path.rglob("events.out.tfevents*"))


def test_no_logger_writes_no_logs(tmp_path):
    cfg = config(max_steps=2, loggers=())
    train, val = loaders(cfg)
    result = fit(make_module(), train, val, cfg, tmp_path, progress=False)
    assert not (tmp_path / "logs").exists()
    assert "lr" not in result.metrics and "train/loss" in result.metrics


def test_mixed_precision_on_cpu_warns_and_trains_in_32_bit(tmp_path):
    cfg = config(max_steps=2, precision="16-mixed", loggers=())
    train, val = loaders(cfg)
    module = make_module()
    with pytest.warns(UserWarning, match="needs a GPU"):
        fit(module, train, val, cfg, tmp_path, progress=False)
    assert module.trainer.precision == "32-true"


def test_epoch_budget_sizes_the_cosine_schedule(tmp_path):
    cfg = config(max_steps=None, max_epochs=2, scheduler="cosine", min_lr_ratio=0.1, loggers=())
    train, val = loaders(cfg)
    module = make_module()
    result = fit(module, train, val, cfg, tmp_path, progress=False)
    assert result.global_step == 16  # 2 epochs of 8 batches
    # The schedule spans the run: after its last step the learning rate is min_lr_ratio * lr.
    assert module.trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.1 * cfg.lr)


def test_out_dir_layout_and_rerun_without_resume(tmp_path):
    cfg = config(max_steps=4, checkpoint_every_n_steps=2, val_every_n_steps=2)
    train, val = loaders(cfg)
    fit(make_module(), train, val, cfg, tmp_path, progress=False)
    assert {p.name for p in tmp_path.iterdir()} == {"train_config.yaml", "lightning", "logs", "best", "last"}
    ckpts = {p.name for p in (tmp_path / "lightning").iterdir()}
    assert "last.ckpt" in ckpts and any(name.startswith("best-") for name in ckpts)
    train, val = loaders(cfg)
    result = fit(make_module(), train, val, cfg, tmp_path, progress=False, resume=False)
    assert result.resumed_from is None and result.global_step == 4


def test_without_validation_best_is_last(tmp_path):
    cfg = config(max_steps=3)
    train, _ = loaders(cfg)
    module = make_module()
    result = fit(module, train, None, cfg, tmp_path, progress=False)
    best, meta = load_checkpoint(result.best_checkpoint, registry())
    torch.testing.assert_close(best.weight, module.model.weight, rtol=0, atol=0)
    assert "source" not in meta.extra and meta.extra["global_step"] == 3


def noisy_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Dropout plus input noise from the global generators (as augmentations draw them)."""
    x, y = batch
    x = x + 0.1 * torch.randn_like(x)
    return {"loss": nn.functional.mse_loss(model(x), y)}


def make_dropout_module(seed: int = 0) -> MethodModule:
    torch.manual_seed(seed)
    return MethodModule(nn.Sequential(nn.Linear(3, 16), nn.Dropout(0.3), nn.Linear(16, 1)), noisy_step)


def test_resume_continues_the_random_stream_of_dropout_and_augmentation(tmp_path):
    full = config(max_steps=24, checkpoint_every_n_steps=5)
    module = make_dropout_module()
    train, val = loaders(full)
    fit(module, train, val, full, tmp_path / "full", progress=False)
    reference = {name: v.clone() for name, v in module.model.state_dict().items()}

    train, val = loaders(full)
    fit(make_dropout_module(), train, val, full, tmp_path / "run", progress=False, callbacks=[StopAt(12)])
    torch.manual_seed(999)  # a resumed process starts with another generator state
    resumed = make_dropout_module(seed=7)
    train, val = loaders(full)
    fit(resumed, train, val, full, tmp_path / "run", progress=False)
    for name, tensor in reference.items():
        torch.testing.assert_close(resumed.model.state_dict()[name], tensor, rtol=0, atol=0)


@pytest.mark.parametrize("every", [{"val_every_n_steps": 2}, {"val_every_n_epochs": 1}])
def test_last_checkpoint_after_a_validation_holds_that_validations_best(tmp_path, every):
    """A step that validates is saved after its validation and after the best checkpoint has recorded it, so
    a run killed between the two never resumes past a validation its best choice has not seen."""
    cfg = config(max_steps=16, checkpoint_every_n_steps=1, **every)  # 8 batches per epoch
    train, val = loaders(cfg)
    seen: list[tuple[int, float]] = []

    class Record(Callback):
        def on_validation_end(self, trainer, pl_module):
            if not trainer.sanity_checking:
                seen.append((trainer.global_step, float(trainer.callback_metrics["val/loss"])))

    fit(make_module(), train, val, cfg, tmp_path, progress=False, callbacks=[Record()])
    state = torch.load(tmp_path / "lightning" / "last.ckpt", map_location="cpu", weights_only=True)
    (best_state,) = [v for k, v in state["callbacks"].items() if k.startswith("ModelCheckpoint")]
    assert state["global_step"] == seen[-1][0] == 16 and len(seen) >= 2
    assert float(best_state["best_model_score"]) == pytest.approx(min(loss for _, loss in seen))
