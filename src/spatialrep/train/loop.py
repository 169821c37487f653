"""``fit``: the one training loop (Lightning) with resumable checkpoints, early stopping and exports.

Layout of ``out_dir``::

    train_config.yaml        the resolved TrainConfig
    lightning/last.ckpt      Lightning's resumable state (weights, optimiser, scheduler, loops, data order),
                             every ``checkpoint_every_n_steps`` steps and at the batch where training stops
    lightning/best-*.ckpt    the best state by ``early_stopping_metric`` (only with a validation loader)
    logs/                    CSV (and TensorBoard) logs, one ``version_<n>`` per run
    best/, last/             exported weights: model.safetensors + model.json (see ``save_checkpoint``)

Lightning's ``.ckpt`` files are written by this function and read back only by it, with
``weights_only=True`` (no arbitrary unpickling); they are not an exchange format: share ``best/``.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import importlib.util
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger

from spatialrep.config import save_config
from spatialrep.train.checkpoint import save_checkpoint
from spatialrep.train.config import TrainConfig, resolve_precision
from spatialrep.train.data import ResumableSampler, find_resumable_sampler
from spatialrep.train.module import MethodModule

LAST_CKPT = "last.ckpt"


@dataclasses.dataclass(frozen=True)
class FitResult:
    """What :func:`fit` produced.

    Attributes:
        best_checkpoint: exported best weights (``out_dir/best``); the last weights when there is no
            validation.
        last_checkpoint: exported final weights (``out_dir/last``).
        metrics: the last logged value of every metric (``train/loss``, ``val/loss``, ``lr``, ...).
        global_step: optimiser steps taken in total (including those before a resume).
        resumed_from: the Lightning checkpoint training resumed from, if any.
    """

    best_checkpoint: Path
    last_checkpoint: Path
    metrics: dict[str, float]
    global_step: int
    resumed_from: Path | None


class _DataOrder(Callback):
    """Records (epoch, batches consumed) in Lightning's checkpoint and restores the sampler from it.

    Lightning prefetches a batch ahead, so the loader cannot tell how many batches were really consumed: this
    callback counts them at ``on_train_batch_end``, which runs before the checkpoint callbacks.
    """

    def __init__(self, sampler: ResumableSampler, batch_size: int, num_batches: int) -> None:
        self.sampler = sampler
        self.batch_size = batch_size
        self.num_batches = num_batches
        self.epoch = 0
        self.consumed = 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epoch, self.consumed = trainer.current_epoch, 0

    def on_train_batch_end(self, *args: Any, **kwargs: Any) -> None:
        self.consumed += 1

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epoch, self.consumed = self.epoch + 1, 0

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "consumed": self.consumed}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.epoch, self.consumed = int(state_dict["epoch"]), int(state_dict["consumed"])
        if self.consumed >= self.num_batches:  # saved after the last batch, before the epoch's end
            self.epoch, self.consumed = self.epoch + 1, 0
        skip = min(self.consumed * self.batch_size, self.sampler.num_examples)
        self.sampler.resume(self.epoch, skip)


class _LastCheckpoint(ModelCheckpoint):
    """``lightning/last.ckpt``: every ``every_n_train_steps`` steps and at the batch where training stops.

    Lightning's own end-of-training save runs after the epoch loop has closed a cut-short epoch, so a run
    stopped mid-epoch (``trainer.should_stop`` or ``max_steps``) would resume at the next epoch and skip the
    rest of the current one. Saving at the stopping batch instead records the mid-epoch position, as a step
    checkpoint does.

    A step after which validation runs is saved after that validation instead (and after the best-checkpoint
    callback, listed before this one, has recorded it): a save before it would let a run killed during the
    validation resume past it, and the best checkpoint would be chosen without that validation's score.
    """

    def __init__(self, dirpath: Path, every_n_train_steps: int) -> None:
        super().__init__(
            dirpath=dirpath,
            filename="step-{step}",
            save_top_k=0,
            save_last=True,
            every_n_train_steps=every_n_train_steps,
            save_on_train_epoch_end=False,
        )
        self._saved_at_stop = False
        self._after_validation = False

    @staticmethod
    def _validation_follows(trainer: L.Trainer) -> bool:
        if not trainer.enable_validation:
            return False
        fetcher = trainer.fit_loop._data_fetcher
        if fetcher is None:
            return False
        # Lightning's own decision, asked at the point it will ask it (private API, lightning>=2.4)
        return bool(trainer.fit_loop.epoch_loop._should_check_val_fx(fetcher))

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        due = self._every_n_train_steps >= 1 and trainer.global_step % self._every_n_train_steps == 0
        stopping = trainer.should_stop or 0 <= trainer.max_steps <= trainer.global_step
        # A stop requested by a callback brings a validation an uninterrupted run would not have: save first.
        if (due or stopping) and not trainer.should_stop and self._validation_follows(trainer):
            self._after_validation = True
            return
        super().on_train_batch_end(trainer, *args, **kwargs)
        if stopping and not due:
            trainer.save_checkpoint(Path(str(self.dirpath)) / LAST_CKPT)
            self._saved_at_stop = True

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._after_validation and not trainer.sanity_checking:
            self._after_validation = False
            trainer.save_checkpoint(Path(str(self.dirpath)) / LAST_CKPT)
            self._last_global_step_saved = trainer.global_step
            self._saved_at_stop = self._saved_at_stop or 0 <= trainer.max_steps <= trainer.global_step
            return
        super().on_validation_end(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._saved_at_stop:
            super().on_train_end(trainer, pl_module)


def _loggers(config: TrainConfig, out_dir: Path) -> list[Logger]:
    loggers: list[Logger] = []
    if "csv" in config.loggers:
        loggers.append(CSVLogger(save_dir=out_dir, name="logs"))
    if "tensorboard" in config.loggers:
        if (
            importlib.util.find_spec("tensorboard") is None
            and importlib.util.find_spec("tensorboardX") is None
        ):
            warnings.warn(
                "TrainConfig.loggers asks for 'tensorboard' but TensorBoard is not installed "
                "(pip install 'spatialrep[tensorboard]'); logging CSV only",
                UserWarning,
                stacklevel=3,
            )
            if "csv" not in config.loggers:
                loggers.append(CSVLogger(save_dir=out_dir, name="logs"))
        else:
            loggers.append(TensorBoardLogger(save_dir=out_dir, name="logs"))
    return loggers


def _export(module: MethodModule, model: torch.nn.Module, directory: Path, extra: dict[str, Any]) -> Path:
    return save_checkpoint(
        directory,
        model,
        model_name=module.model_name,
        model_kwargs=module.model_kwargs,
        feature_config=module.feature_config,
        extra=extra,
    )


def fit(
    module: MethodModule,
    train_loader: Any,
    val_loader: Any,
    config: TrainConfig,
    out_dir: str | os.PathLike[str],
    *,
    progress: bool = True,
    resume: bool = True,
    callbacks: Sequence[Callback] = (),
) -> FitResult:
    """Train ``module`` as ``config`` says, resuming from ``out_dir/lightning/last.ckpt`` when it exists.

    Rerunning ``fit`` with the same ``out_dir`` after an interruption continues where the last checkpoint left
    off; with a train loader from :func:`make_loader` (a :class:`ResumableSampler`) and a deterministic step,
    the final weights equal those of an uninterrupted run. Raising ``max_steps`` and rerunning trains further.

    Args:
        module: the method (its ``train_config`` is replaced by ``config``).
        train_loader: training batches; a :class:`ResumableSampler` makes the data order resumable.
        val_loader: validation batches or ``None`` (no validation, early stopping or best checkpoint).
        config: the training configuration.
        out_dir: output folder (see the module docstring for its layout).
        progress: show Lightning's progress bar and model summary.
        resume: resume from ``out_dir/lightning/last.ckpt`` if present (``False``: start over, overwriting).
        callbacks: more Lightning callbacks.

    Returns:
        A :class:`FitResult`.

    Raises:
        TypeError: ``module`` is not a :class:`MethodModule`.
        ValueError: early stopping without a validation loader.
    """
    if not isinstance(module, MethodModule):
        raise TypeError(f"fit: module must be a MethodModule, got {type(module).__name__}")
    if config.early_stopping_patience is not None and val_loader is None:
        raise ValueError(
            f"fit: early_stopping_patience={config.early_stopping_patience} needs a validation loader "
            "(val_loader is None)"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "train_config.yaml")
    module.train_config = config
    L.seed_everything(config.seed, workers=True, verbose=False)

    ckpt_dir = out / "lightning"
    all_callbacks: list[Callback] = [*callbacks]
    sampler = find_resumable_sampler(train_loader)
    if sampler is not None:
        batch_size = int(getattr(train_loader, "batch_size", None) or 1)
        all_callbacks.append(_DataOrder(sampler, batch_size, len(train_loader)))
    else:
        warnings.warn(
            "fit: train_loader does not use a ResumableSampler (see make_loader); a resumed run may see "
            "another data order than an uninterrupted one",
            UserWarning,
            stacklevel=2,
        )
    last_cb = _LastCheckpoint(ckpt_dir, config.checkpoint_every_n_steps)
    best_cb: ModelCheckpoint | None = None
    if val_loader is not None:
        best_cb = ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="best-{step}",
            monitor=config.early_stopping_metric,
            mode=config.early_stopping_mode,
            save_top_k=1,
            auto_insert_metric_name=False,
            save_on_train_epoch_end=False,  # at validation end, before last_cb saves its state
        )
        all_callbacks.append(best_cb)
        if config.early_stopping_patience is not None:
            all_callbacks.append(
                EarlyStopping(
                    monitor=config.early_stopping_metric,
                    mode=config.early_stopping_mode,
                    patience=config.early_stopping_patience,
                    check_on_train_epoch_end=False,
                )
            )
    # after the best checkpoint and early stopping: a last.ckpt saved after a validation holds their state
    # with that validation's score
    all_callbacks.append(last_cb)
    loggers = _loggers(config, out)
    if loggers:
        all_callbacks.append(LearningRateMonitor(logging_interval="step"))

    trainer = L.Trainer(
        default_root_dir=out,
        max_steps=config.max_steps if config.max_steps is not None else -1,
        max_epochs=config.max_epochs if config.max_epochs is not None else -1,
        accelerator=config.accelerator,
        devices=config.devices,
        strategy=config.strategy,
        sync_batchnorm=config.sync_batchnorm,
        precision=resolve_precision(config.precision, config.accelerator),  # type: ignore[arg-type]
        gradient_clip_val=config.grad_clip,
        deterministic=config.deterministic,
        val_check_interval=config.val_every_n_steps,
        check_val_every_n_epoch=None if config.val_every_n_steps is not None else config.val_every_n_epochs,
        log_every_n_steps=config.log_every_n_steps,
        logger=loggers or False,
        callbacks=all_callbacks,
        enable_progress_bar=progress,
        enable_model_summary=progress,
        limit_val_batches=None if val_loader is not None else 0,
    )
    last_ckpt = ckpt_dir / LAST_CKPT
    resumed_from = last_ckpt if resume and last_ckpt.is_file() else None
    trainer.fit(
        module,
        train_dataloaders=train_loader,
        val_dataloaders=val_loader,
        ckpt_path=resumed_from,
        weights_only=True,  # our own files, yet still never unpickle arbitrary objects
    )

    metrics = {
        name: float(value)
        for name, value in trainer.callback_metrics.items()
        if isinstance(value, torch.Tensor) and value.numel() == 1
    }
    extra = {"global_step": trainer.global_step, "epoch": trainer.current_epoch, "metrics": metrics}
    last_dir = best_dir = out / "last"
    if trainer.is_global_zero:
        _export(module, module.model, last_dir, extra)
    best_path = best_cb.best_model_path if best_cb is not None else ""
    best_dir = out / "best"
    if trainer.is_global_zero:
        best_model = module.model
        best_extra = dict(extra)
        if best_path:
            checkpoint = torch.load(best_path, map_location="cpu", weights_only=True)
            best_model = copy.deepcopy(module.model)
            best_model.load_state_dict(
                {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items()}
            )
            best_extra.update(
                source=Path(best_path).name,
                best_step=int(checkpoint.get("global_step", -1)),
                best_score=float(best_cb.best_model_score)
                if best_cb and best_cb.best_model_score is not None
                else None,
            )
        _export(module, best_model, best_dir, best_extra)
    return FitResult(
        best_checkpoint=best_dir,
        last_checkpoint=last_dir,
        metrics=metrics,
        global_step=trainer.global_step,
        resumed_from=resumed_from,
    )


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning's per-run banners (accelerator, tips) and known deprecation chatter for many short
    runs; warnings about the training itself still show."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric", "lightning")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
            warnings.filterwarnings("ignore", message=r".*litlogger.*")
            warnings.filterwarnings("ignore", message=r".*smaller than the logging interval.*")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
