"""The SCE / WSCE experiment (Tang et al. 2022): fixed condition, varying rooms, less data, unseen heads.

``spatialrep experiment sce --scale tiny|small`` (recipes in ``spatialrep/recipes/sce/``) builds the
measurement-vector sets (:mod:`spatialrep.data.measurement_sets`), trains SCE (azimuth and elevation
embeddings), WSCE and the feed-forward baseline with :func:`spatialrep.train.train_model` for each seed and
each neighbourhood size ``ε`` of the sweep, fits Laplacian eigenmaps, localizes every test set by k-NN
regression and writes ``results.csv``, ``results.json``, ``results.md``, box plots and 3-D embedding plots.
Each unit (one trained model and its test predictions) lives in
``out_dir/runs/<experiment>/<model>/seed<k>/``: ``predictions.npz``, then ``done.json`` last; a rerun reuses
finished units and retrains unfinished ones from scratch, so a killed run ends with the same numbers. See
``docs/sce.md``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from spatialrep import seeding
from spatialrep.config import ConfigError
from spatialrep.data import measurement_sets as ms
from spatialrep.evaluate.knn import KnnRegressor
from spatialrep.evaluate.lem import LaplacianEigenmaps
from spatialrep.evaluate.metrics import angular_errors
from spatialrep.experiments.report import aggregate, localization_row, markdown_table, write_results
from spatialrep.experiments.runner import (
    BenchmarkModel,
    BenchmarkTraining,
    ExperimentResult,
    Unit,
    register_benchmark_entry,
    register_experiment,
    run_units,
    torch_threads,
    unit_timings,
)
from spatialrep.io.arrays import load_npz, save_npz
from spatialrep.methods.classic import (
    CLASSIC_LOCALIZERS,
    CLASSIC_VARIANTS,
    DEFAULT_VARIANT,
    classic_localizer,
)
from spatialrep.methods.feedforward import FeedForwardConfig, FeedForwardRegressor, train_feedforward
from spatialrep.methods.registry import load_model
from spatialrep.methods.sce import PairLossConfig, SceConfig, SceEmbedding, train_sce
from spatialrep.simulate.receiver_factory import make_receiver
from spatialrep.simulate.sources import make_source_bank
from spatialrep.simulate.spherical_head import make_synthetic_subjects
from spatialrep.train import TrainConfig, ValidationMetric

__all__ = ["SceExperimentConfig", "run_sce_experiment"]

SAMPLE_RATE = ms.SAMPLE_RATE
SCHEDULES = ("constant", "plateau")
SELECTIONS = ("loss", "localization")
SELECTION_METRIC = "localization_error_deg"


@dataclasses.dataclass(frozen=True)
class SceExperimentConfig:
    """Sizes of the SCE experiment (see ``docs/sce.md`` for how they differ from the paper).

    Attributes:
        scale: the recipe's name (informative).
        direction_stride: with ``azimuth_step_deg`` unset, keep every n-th measured KEMAR azimuth per
            elevation ring (frontal, ±``max_elevation_deg``).
        azimuth_step_deg: a regular grid instead, every ``azimuth_step_deg`` (the paper's data: 2°) on the
            rings ``elevations_deg``, rendered with interpolated KEMAR HRTFs.
        elevations_deg: the rings of the regular grid.
        clips_per_direction: white-noise training clips per direction in the fixed condition (split 70/30).
        test_clips_per_direction: speech test clips per direction (fixed condition and unseen heads).
        train_duration_s, test_duration_s: clip lengths.
        train_snr_db: background noise of every training and validation clip, uncorrelated white at an SNR
            drawn uniformly in ``(low, high)`` dB per clip (the paper's recordings carry room noise), or
            ``None`` for noiseless training clips.
        num_train_rooms: rooms of (b); every direction (or ``directions_per_room`` of them) once per room.
        directions_per_room: random directions per training room (``None``: all).
        test1_per_room: test directions per training room at new positions; ``num_test_rooms`` unseen rooms
            with ``test2_per_room`` directions each.
        fractions: training-set shares of (c) (of the whole pool; 0.7 = the full training split).
        num_train_heads, num_test_heads: synthetic spherical heads for (d) (plus KEMAR in training).
        directions_per_head: random directions per synthetic head (``None``: all).
        sce_epsilons, wsce_epsilons: the neighbourhood sweep of (a) and (b), degrees; the first of each is
            the one used in (c), (d) and the exported models.
        max_steps, val_every_n_steps, batch_size, lr: optimisation.
        schedule: ``"constant"`` learning rate, or ``"plateau"``: halved after ``plateau_patience`` epochs
            without improvement of the selection metric (the paper: 20), validating every epoch.
        plateau_patience: epochs of ``"plateau"``.
        selection: the best checkpoint by validation ``"loss"`` or by validation ``"localization"`` error
            (the paper's choice: k-NN over the training embeddings; the regressor's own error for FF).
        seeds: seeds of the learned methods.
        data_seed: seed of every rendered set.
        max_elevation_deg: elevation limit of the measured directions.
        snr_db: SNR of the noisy speech test set.
        classic: classic localizers evaluated on every test set (names of
            :data:`~spatialrep.methods.classic.CLASSIC_LOCALIZERS`; steered with the experiment's KEMAR set on
            the horizontal plane, so their elevation is 0°); the test clips are rendered again from their
            recipes (the caches keep features only).
    """

    scale: str
    direction_stride: int
    clips_per_direction: int
    test_clips_per_direction: int
    train_duration_s: float
    test_duration_s: float
    num_train_rooms: int
    test1_per_room: int
    num_test_rooms: int
    test2_per_room: int
    fractions: tuple[float, ...]
    num_train_heads: int
    num_test_heads: int
    max_steps: int
    val_every_n_steps: int
    batch_size: int = 128
    lr: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2)
    data_seed: int = 0
    max_elevation_deg: float = 40.0
    snr_db: float = 15.0
    azimuth_step_deg: float | None = None
    elevations_deg: tuple[float, ...] = (-40.0, -30.0, -20.0, -10.0, 0.0, 10.0, 20.0, 30.0, 40.0)
    train_snr_db: tuple[float, float] | None = None
    directions_per_room: int | None = None
    directions_per_head: int | None = None
    sce_epsilons: tuple[float, ...] = (5.0,)
    wsce_epsilons: tuple[float, ...] = (15.0,)
    schedule: str = "constant"
    plateau_patience: int = 20
    selection: str = "loss"
    classic: tuple[str, ...] = tuple(CLASSIC_VARIANTS)

    def __post_init__(self) -> None:
        for name in ("direction_stride", "clips_per_direction", "test_clips_per_direction", "num_train_rooms",
                     "test1_per_room", "num_test_rooms", "test2_per_room", "num_train_heads",
                     "num_test_heads", "max_steps", "val_every_n_steps", "batch_size"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"SceExperimentConfig.{name}={value!r} must be a positive integer")
        for name in ("directions_per_room", "directions_per_head"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 1):
                raise ConfigError(f"SceExperimentConfig.{name}={value!r} must be a positive integer or null")
        for name in ("train_duration_s", "test_duration_s", "lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"SceExperimentConfig.{name}={getattr(self, name)!r} must be > 0")
        if self.azimuth_step_deg is not None and not self.azimuth_step_deg > 0:
            raise ConfigError(f"SceExperimentConfig.azimuth_step_deg={self.azimuth_step_deg!r} must be > 0")
        if self.train_snr_db is not None and not self.train_snr_db[0] <= self.train_snr_db[1]:
            raise ConfigError(f"SceExperimentConfig.train_snr_db={self.train_snr_db!r} must be (low, high)")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"SceExperimentConfig.seeds={self.seeds!r} must be distinct and non-empty")
        if not self.fractions or not all(0.0 < f <= 0.7 + 1e-9 for f in self.fractions):
            raise ConfigError(f"SceExperimentConfig.fractions={self.fractions!r} must lie in (0, 0.7]")
        for name in ("sce_epsilons", "wsce_epsilons"):
            values = getattr(self, name)
            if not values or len(set(values)) != len(values) or not all(0 < v <= 180 for v in values):
                raise ConfigError(
                    f"SceExperimentConfig.{name}={values!r} must be distinct values in (0, 180]"
                )
        if self.schedule not in SCHEDULES:
            raise ConfigError(
                f"SceExperimentConfig.schedule={self.schedule!r} is not one of {', '.join(SCHEDULES)}"
            )
        if self.selection not in SELECTIONS:
            raise ConfigError(
                f"SceExperimentConfig.selection={self.selection!r} is not one of {', '.join(SELECTIONS)}"
            )
        unknown = [name for name in self.classic if name not in CLASSIC_LOCALIZERS]
        if unknown or len(set(self.classic)) != len(self.classic):
            raise ConfigError(
                f"SceExperimentConfig.classic={list(self.classic)!r} must be distinct names of "
                f"{', '.join(CLASSIC_LOCALIZERS)}"
            )

    def models(self, sweep: bool = True) -> dict[str, SceConfig | None]:
        """Model name -> config (``None``: the feed-forward baseline); without ``sweep`` only the first ε."""
        sce = self.sce_epsilons if sweep else self.sce_epsilons[:1]
        wsce = self.wsce_epsilons if sweep else self.wsce_epsilons[:1]
        out: dict[str, SceConfig | None] = {}
        for eps in sce:
            for target in ("azimuth", "elevation"):
                loss = PairLossConfig(mode="sce", target=target, epsilon_deg=eps)
                out[f"sce_{target}_eps{eps:g}"] = SceConfig(loss=loss)
        for eps in wsce:
            out[f"wsce_eps{eps:g}"] = SceConfig(loss=PairLossConfig(mode="wsce", epsilon_deg=eps))
        out["ff"] = None
        return out


@dataclasses.dataclass(frozen=True)
class _Recipe:
    """How a measurement set's clips are rendered (:func:`~spatialrep.data.measurement_sets.render_clips`)."""

    jobs: list[Any]
    excitation: Callable[[np.random.Generator, int], np.ndarray]
    duration: float
    snr: float | tuple[float, float] | None
    seed_name: str


class _Sets:
    """Builds (or loads from ``out/cache``) the named measurement-vector sets of the experiment."""

    def __init__(self, cfg: SceExperimentConfig, out: Path, progress: bool) -> None:
        self.cfg, self.cache, self.progress = cfg, out / "cache", progress
        if cfg.azimuth_step_deg is None:
            self.kemar = make_receiver("kemar", SAMPLE_RATE)
            self.az, self.el = ms.frontal_directions(self.kemar, cfg.direction_stride, cfg.max_elevation_deg)
        else:
            self.kemar = make_receiver("kemar:interpolation=interpolated", SAMPLE_RATE)
            self.az, self.el = ms.grid_directions(cfg.azimuth_step_deg, cfg.elevations_deg)
        self._speech: Any = None
        self.head_names: dict[str, list[str]] = {}
        self.recipes: dict[str, _Recipe] = {}

    def speech(self, rng: np.random.Generator, length: int) -> np.ndarray:
        if self._speech is None:
            self._speech = make_source_bank("speech")
        signal: np.ndarray = self._speech.sample(rng, length / SAMPLE_RATE, SAMPLE_RATE).signal
        return signal

    def build(
        self,
        name: str,
        jobs: list[Any],
        excitation: Callable[[np.random.Generator, int], np.ndarray],
        duration: float,
        snr: float | tuple[float, float] | None,
        seed_name: str | None = None,
    ) -> ms.FeatureSet:
        """Set ``name`` (cached); ``seed_name`` (default ``name``) fixes its randomness."""
        self.recipes[name] = _Recipe(jobs, excitation, duration, snr, seed_name or name)

        def make() -> ms.FeatureSet:
            with tqdm(total=len(jobs), desc=f"render {name}", disable=not self.progress, leave=False) as bar:
                return ms.render_features(
                    jobs,
                    excitation,
                    duration,
                    self.cfg.data_seed,
                    seed_name or name,
                    snr_db=snr,
                    progress=bar,
                )

        return ms.load_or_build(self.cache, name, make)


def _fixed_jobs(receiver: Any, az: np.ndarray, el: np.ndarray, repeats: int, group: int = 0) -> list[Any]:
    jobs = []
    for _ in range(repeats):
        for a, e in zip(az, el, strict=True):
            jobs.append((lambda rng, a=a, e=e: ms.fixed_brir(receiver, a, e, rng), a, e, group))
    return jobs


def _subset(count: int, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    return (
        np.arange(count)
        if limit is None or limit >= count
        else np.sort(rng.choice(count, limit, replace=False))
    )


def _datasets(sets: _Sets) -> dict[str, ms.FeatureSet]:
    cfg, az, el = sets.cfg, sets.az, sets.el
    data: dict[str, ms.FeatureSet] = {}
    white = ms.white_excitation
    noise = cfg.train_snr_db
    # (a) fixed condition: one room, KEMAR; white noise to train, speech + 15 dB uncorrelated noise to test.
    fixed = _fixed_jobs(sets.kemar, az, el, cfg.clips_per_direction)
    pool = sets.build("fixed_pool", fixed, white, cfg.train_duration_s, noise)
    tr, va = ms.split_indices(len(pool), 0.7, cfg.data_seed, "fixed_split")
    data["fixed_train"], data["fixed_val"] = pool.subset(tr), pool.subset(va)
    test_jobs = _fixed_jobs(sets.kemar, az, el, cfg.test_clips_per_direction)
    data["fixed_test"] = sets.build("fixed_test", test_jobs, sets.speech, cfg.test_duration_s, cfg.snr_db)
    # The same speech clips through the same BRIRs without the added noise (a diagnostic test set).
    data["fixed_test_clean"] = sets.build(
        "fixed_test_clean", test_jobs, sets.speech, cfg.test_duration_s, None, seed_name="fixed_test"
    )
    # (b) varying rooms: every direction (or a random subset) once per training room at a random placement.
    rooms = ms.train_rooms(cfg.data_seed, cfg.num_train_rooms, "train_room")
    unseen = ms.train_rooms(cfg.data_seed, cfg.num_test_rooms, "unseen_room")

    def room_jobs(room_list: list[Any], per_room: int | None, name: str) -> list[Any]:
        rng = seeding.rng(cfg.data_seed, name)
        jobs = []
        for g, room in enumerate(room_list):
            chosen = (
                np.arange(len(az))
                if per_room is None
                else rng.choice(len(az), min(per_room, len(az)), replace=False)
            )
            for i in chosen:
                a, e = az[i], el[i]
                jobs.append(
                    (lambda r, room=room, a=a, e=e: ms.placed_brir(room, sets.kemar, a, e, r), a, e, g)
                )
        return jobs

    pool_jobs = room_jobs(rooms, cfg.directions_per_room, "rooms_pool")
    rpool = sets.build("rooms_pool", pool_jobs, white, cfg.train_duration_s, noise)
    tr, va = ms.split_indices(len(rpool), 0.7, cfg.data_seed, "rooms_split")
    data["rooms_train"], data["rooms_val"] = rpool.subset(tr), rpool.subset(va)
    seen_jobs = room_jobs(rooms, cfg.test1_per_room, "rooms_test_seen")
    data["rooms_test_seen"] = sets.build("rooms_test_seen", seen_jobs, white, cfg.train_duration_s, None)
    unseen_jobs = room_jobs(unseen, cfg.test2_per_room, "rooms_test_unseen")
    data["rooms_test_unseen"] = sets.build(
        "rooms_test_unseen", unseen_jobs, white, cfg.train_duration_s, None
    )
    # (d) heads: synthetic spherical subjects in the fixed room.
    heads = make_synthetic_subjects(
        cfg.num_train_heads + cfg.num_test_heads, seeding.rng(cfg.data_seed, "heads"), sample_rate=SAMPLE_RATE
    )
    train_heads, test_heads = heads[: cfg.num_train_heads], heads[cfg.num_train_heads :]
    head_rng = seeding.rng(cfg.data_seed, "head_directions")
    hjobs = []
    for g, head in enumerate(train_heads, start=1):
        chosen = _subset(len(az), cfg.directions_per_head, head_rng)
        hjobs += _fixed_jobs(head, az[chosen], el[chosen], 1, g)
    hpool = sets.build("heads_pool", hjobs, white, cfg.train_duration_s, noise)
    tr, va = ms.split_indices(len(hpool), 0.7, cfg.data_seed, "heads_split")
    data["heads_train"] = ms.FeatureSet.concat([data["fixed_train"], hpool.subset(tr)])
    data["heads_val"] = ms.FeatureSet.concat([data["fixed_val"], hpool.subset(va)])
    tjobs = []
    for g, head in enumerate(test_heads, start=100):
        chosen = _subset(len(az), cfg.directions_per_head, head_rng)
        tjobs += _fixed_jobs(head, az[chosen], el[chosen], cfg.test_clips_per_direction, g)
    # White-noise test clips as in the paper's CIPIC experiment.
    data["heads_test"] = sets.build("heads_test", tjobs, white, cfg.test_duration_s, None)
    sets.head_names = {"train": [h.name for h in train_heads], "test": [h.name for h in test_heads]}
    return data


def _fraction_subset(train: ms.FeatureSet, fraction: float, seed: int) -> ms.FeatureSet:
    """``fraction`` of the whole pool (train + val = train / 0.7) drawn from the training split."""
    if fraction >= 0.7 - 1e-9:
        return train
    n = max(8, round(len(train) * fraction / 0.7))
    idx, _ = ms.split_indices(len(train), n / len(train), seed, f"fraction_{fraction:g}")
    return train.subset(idx)


def _train_config(cfg: SceExperimentConfig, seed: int, n_train: int) -> TrainConfig:
    plateau = cfg.schedule == "plateau"
    metric = f"val/{SELECTION_METRIC}" if cfg.selection == "localization" else "val/loss"
    return TrainConfig(
        max_steps=cfg.max_steps, batch_size=min(cfg.batch_size, n_train), lr=cfg.lr, optimizer="adam",
        seed=seed, scheduler="plateau" if plateau else "constant", plateau_patience=cfg.plateau_patience,
        val_every_n_steps=None if plateau else cfg.val_every_n_steps, early_stopping_metric=metric,
        checkpoint_every_n_steps=cfg.max_steps, accelerator="cpu", devices=1,
        log_every_n_steps=max(1, cfg.val_every_n_steps), loggers=("csv",),
    )  # fmt: skip


def _selection_callbacks(
    cfg: SceExperimentConfig, spec: SceConfig | None, train: ms.FeatureSet, val: ms.FeatureSet
) -> list[ValidationMetric]:
    """The validation localization error (degrees) to select checkpoints by, if the recipe asks for it."""
    if cfg.selection != "localization":
        return []
    train_x, val_x = torch.from_numpy(train.features), torch.from_numpy(val.features)

    def error(model: nn.Module) -> float:
        if isinstance(model, FeedForwardRegressor):
            az, el = model.predict_features(val_x)
            return float(np.degrees(angular_errors(az, val.azimuth, el, val.elevation)).mean())
        assert isinstance(model, SceEmbedding) and spec is not None
        knn = KnnRegressor(spec.head.k).fit(
            model.embed_features(train_x).double().numpy(), train.azimuth, train.elevation
        )
        az, el = knn.predict(model.embed_features(val_x).double().numpy())
        if spec.loss.mode == "wsce":
            errors = angular_errors(az, val.azimuth, el, val.elevation)
        elif spec.loss.target == "azimuth":
            errors = angular_errors(az, val.azimuth)
        else:
            errors = angular_errors(el, val.elevation)
        return float(np.degrees(errors).mean())

    return [ValidationMetric(SELECTION_METRIC, error)]


def _prediction_unit(name: str, directory: Path, work: Callable[[Path], dict[str, np.ndarray]]) -> Unit:
    """A unit that writes ``directory/predictions.npz`` (restarting from scratch if interrupted)."""

    def run() -> dict[str, Any]:
        directory.mkdir(parents=True, exist_ok=True)
        save_npz(directory / "predictions.npz", work(directory))
        return {}

    return Unit(name, directory / "done.json", run, fresh=directory)


def _learned_unit(
    name: str, cfg: SceExperimentConfig, directory: Path, spec: SceConfig | None, seed: int,
    train: ms.FeatureSet, val: ms.FeatureSet, tests: Mapping[str, ms.FeatureSet],
) -> Unit:  # fmt: skip
    def work(folder: Path) -> dict[str, np.ndarray]:
        tc = _train_config(cfg, seed, len(train))
        callbacks = _selection_callbacks(cfg, spec, train, val)
        out: dict[str, np.ndarray] = {}
        # Small MLPs on 2 shared cores: one intra-op thread is several times faster than two competing ones.
        with torch_threads(1):
            if spec is None:
                ff = train_feedforward(
                    train.triple(), val.triple(), folder / "fit", FeedForwardConfig(), tc, callbacks=callbacks
                ).model
                assert isinstance(ff, FeedForwardRegressor)
                for test_name, test in tests.items():
                    a, e = ff.predict_features(torch.from_numpy(test.features))
                    out[f"{test_name}_azimuth"], out[f"{test_name}_elevation"] = a, e
            else:
                sce = train_sce(
                    train.triple(), val.triple(), folder / "fit", spec, tc, callbacks=callbacks
                ).model
                assert isinstance(sce, SceEmbedding)
                out["train_embedding"] = sce.ref_embeddings.double().numpy()
                for test_name, test in tests.items():
                    a, e = sce.localize_features(torch.from_numpy(test.features))
                    out[f"{test_name}_azimuth"], out[f"{test_name}_elevation"] = a, e
        shutil.rmtree(folder / "fit" / "lightning", ignore_errors=True)  # resumable state no longer needed
        return out

    return _prediction_unit(name, directory, work)


def _reuse_unit(directory: Path, model_dir: Path, tests: Mapping[str, ms.FeatureSet], name: str) -> Unit:
    """Predictions of an already trained SCE / WSCE model (``model_dir``) on new test sets."""

    def work(folder: Path) -> dict[str, np.ndarray]:
        model = load_model(model_dir)
        assert isinstance(model, SceEmbedding)
        out: dict[str, np.ndarray] = {}
        for test_name, test in tests.items():
            out[f"{test_name}_azimuth"], out[f"{test_name}_elevation"] = model.localize_features(
                torch.from_numpy(test.features)
            )
        return out

    return _prediction_unit(name, directory, work)


def _lem_unit(directory: Path, train: ms.FeatureSet, tests: Mapping[str, ms.FeatureSet], name: str) -> Unit:
    def work(folder: Path) -> dict[str, np.ndarray]:
        lem = LaplacianEigenmaps(n_components=3, n_neighbors=10)
        train_z = lem.fit_transform(train.features)
        out = {"train_embedding": train_z}
        knn = KnnRegressor(5).fit(train_z, train.azimuth, train.elevation)
        for test_name, test in tests.items():
            out[f"{test_name}_azimuth"], out[f"{test_name}_elevation"] = knn.predict(
                lem.transform(test.features)
            )
        return out

    return _prediction_unit(name, directory, work)


@dataclasses.dataclass(frozen=True)
class _Part:
    """One experiment of the paper: a training set, models, test sets, where its units live."""

    experiment: str
    train: ms.FeatureSet
    val: ms.FeatureSet
    tests: Mapping[str, ms.FeatureSet]
    models: tuple[str, ...]
    root: Path
    fraction: float | None = None


def _parts(cfg: SceExperimentConfig, data: Mapping[str, ms.FeatureSet], runs: Path) -> list[_Part]:
    sweep = tuple(cfg.models(sweep=True))
    primary = tuple(m for m in cfg.models(sweep=False) if not m.startswith("wsce"))
    fixed_tests = {"speech_15db": data["fixed_test"], "speech_clean": data["fixed_test_clean"]}
    parts = [
        _Part("fixed", data["fixed_train"], data["fixed_val"], fixed_tests, sweep, runs / "fixed"),
        _Part(
            "rooms", data["rooms_train"], data["rooms_val"],
            {"seen_rooms": data["rooms_test_seen"], "unseen_rooms": data["rooms_test_unseen"]},
            sweep, runs / "rooms",
        ),
    ]  # fmt: skip
    for fraction in cfg.fractions:
        train = _fraction_subset(data["fixed_train"], fraction, cfg.data_seed)
        root = runs / "fixed" if fraction >= 0.7 - 1e-9 else runs / f"fraction_{fraction:g}"
        parts.append(_Part("fraction", train, data["fixed_val"], fixed_tests, primary, root, fraction))
    return parts


def _primary_wsce(cfg: SceExperimentConfig) -> str:
    return f"wsce_eps{cfg.wsce_epsilons[0]:g}"


def _units(
    cfg: SceExperimentConfig,
    parts: Sequence[_Part],
    data: Mapping[str, ms.FeatureSet],
    runs: Path,
    sets: _Sets,
) -> list[Unit]:
    specs = cfg.models(sweep=True)
    units: dict[Path, Unit] = {}  # the full fraction shares its units with the fixed condition
    for part in parts:
        for model in part.models:
            for seed in cfg.seeds:
                directory = part.root / model / f"seed{seed}"
                name = f"{part.root.name} {model} seed {seed}"
                units.setdefault(
                    directory,
                    _learned_unit(name, cfg, directory, specs[model], seed, part.train, part.val, part.tests),
                )
        lem_dir = part.root / "lem"
        units.setdefault(lem_dir, _lem_unit(lem_dir, part.train, part.tests, f"{part.root.name} lem"))
    heads_test = {"heads_test": data["heads_test"]}
    wsce = _primary_wsce(cfg)
    for seed in cfg.seeds:
        one = runs / "heads_one" / f"seed{seed}"
        model_dir = runs / "fixed" / wsce / f"seed{seed}" / "fit"
        units[one] = _reuse_unit(one, model_dir, heads_test, f"heads_one {wsce} seed {seed}")
        many = runs / "heads_many" / f"seed{seed}"
        units[many] = _learned_unit(
            f"heads_many {wsce} seed {seed}", cfg, many, specs[wsce], seed, data["heads_train"],
            data["heads_val"], heads_test,
        )  # fmt: skip
    if cfg.classic:
        for set_name in CLASSIC_SETS.values():
            directory = runs / "classic" / set_name
            units[directory] = _classic_unit(sets, set_name, directory, cfg.classic)
    return list(units.values())


CLASSIC_SETS = {
    "speech_15db": "fixed_test",
    "speech_clean": "fixed_test_clean",
    "seen_rooms": "rooms_test_seen",
    "unseen_rooms": "rooms_test_unseen",
    "held_out_spheres": "heads_test",
}
"""Test set name in the tables -> the measurement set whose clips the classic localizers hear."""


def _classic_unit(sets: _Sets, set_name: str, directory: Path, names: Sequence[str]) -> Unit:
    """The classic localizers ``names`` on the clips of measurement set ``set_name``, rendered again from its
    recipe: ``predictions.npz`` holds one azimuth array (radians) per name."""

    def work(_: Path) -> dict[str, np.ndarray]:
        recipe = sets.recipes[set_name]
        localizers = {name: classic_localizer(name, sets.kemar) for name in names}
        found: dict[str, list[np.ndarray]] = {name: [] for name in names}
        clips = ms.render_clips(
            recipe.jobs, recipe.excitation, recipe.duration, sets.cfg.data_seed, recipe.seed_name,
            snr_db=recipe.snr,
        )  # fmt: skip
        batch: list[np.ndarray] = []

        def flush() -> None:
            if batch:
                x = torch.from_numpy(np.stack(batch)).float()
                for name, localizer in localizers.items():
                    found[name].append(np.asarray(localizer.localize(x, SAMPLE_RATE).azimuth))
                batch.clear()

        with tqdm(
            total=len(recipe.jobs), desc=f"classic {set_name}", disable=not sets.progress, leave=False
        ) as bar:
            for clip in clips:
                batch.append(clip)
                if len(batch) == 64:
                    flush()
                bar.update(1)
            flush()
        return {name: np.concatenate(parts) for name, parts in found.items()}

    return _prediction_unit(f"classic {set_name}", directory, work)


def _predictions(directory: Path) -> dict[str, np.ndarray]:
    return load_npz(directory / "predictions.npz")


def _label(cfg: SceExperimentConfig, method: str, eps: float) -> str:
    several = len(cfg.sce_epsilons if method == "SCE" else cfg.wsce_epsilons) > 1
    return f"{method} ε={eps:g}°" if several else method


@register_experiment(
    "sce", SceExperimentConfig, "SCE / WSCE (a)-(d): fixed condition, varying rooms, less data, unseen heads"
)
def run_sce_experiment(
    config: SceExperimentConfig,
    out_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> ExperimentResult:
    """Run experiments (a)-(d) and write the results (resumable; see the module docstring).

    Call it through :func:`spatialrep.experiments.runner.run_experiment`. ``workers`` is accepted for the
    common signature; the sets are rendered in this process.
    """
    cfg, out = config, Path(out_dir)
    seeds = tuple(cfg.seeds)
    sets = _Sets(cfg, out, progress)
    log(f"SCE experiment ({cfg.scale}): {len(sets.az)} directions, seeds {list(seeds)}, output {out}")
    data = _datasets(sets)
    runs = out / "runs"
    parts = _parts(cfg, data, runs)
    markers = run_units(_units(cfg, parts, data, runs, sets), progress=progress, desc="sce", log=log)

    rows: list[dict[str, Any]] = []
    errors: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    embeddings: dict[str, tuple[np.ndarray, ms.FeatureSet]] = {}

    def record(
        exp: str, test_name: str, test: ms.FeatureSet, method: str, seed: int | None, az: np.ndarray,
        el: np.ndarray, fraction: float | None = None, plot: bool = True,
    ) -> None:  # fmt: skip
        extra: dict[str, Any] = {} if fraction is None else {"fraction": fraction}
        rows.append(
            localization_row(
                az,
                test.azimuth,
                pred_elevation=el,
                true_elevation=test.elevation,
                experiment=exp,
                test_set=test_name,
                method=method,
                **extra,
                seed=-1 if seed is None else seed,
            )
        )
        key = f"{exp}/{test_name}" + (f"/{fraction:g}" if fraction is not None else "")
        if plot and seed in (None, seeds[0]):
            e_az = np.degrees(angular_errors(az, test.azimuth))
            e_el = np.degrees(angular_errors(el, test.elevation))
            errors.setdefault(key, {})[method] = (e_az, e_el)

    def reference_rows(exp: str, test_name: str, test: ms.FeatureSet, train: ms.FeatureSet) -> None:
        """The trivial floors (training labels only) and the classic localizers on one test set."""
        zeros = np.zeros(len(test))
        record(exp, test_name, test, "always-0°", None, zeros, zeros, plot=False)
        mean_az = float(np.arctan2(np.sin(train.azimuth).mean(), np.cos(train.azimuth).mean()))
        mean_el = float(train.elevation.mean())
        record(exp, test_name, test, "training-mean", None, zeros + mean_az, zeros + mean_el, plot=False)
        if cfg.classic:
            found = _predictions(runs / "classic" / CLASSIC_SETS[test_name])
            for name in cfg.classic:
                plot = name in DEFAULT_VARIANT.values() or name in DEFAULT_VARIANT
                record(exp, test_name, test, name, None, found[name], zeros, plot=plot)

    primary_sce = cfg.sce_epsilons[0]
    wsce = _primary_wsce(cfg)
    for part in parts:
        preds = {m: [_predictions(part.root / m / f"seed{s}") for s in seeds] for m in part.models}
        lem = _predictions(part.root / "lem")
        if part.experiment == "fixed":
            primary = {
                "sce_azimuth": f"sce_azimuth_eps{primary_sce:g}",
                "sce_elevation": f"sce_elevation_eps{primary_sce:g}",
                "wsce": wsce,
            }
            for plot_name, model in primary.items():
                embeddings[plot_name] = (preds[model][0]["train_embedding"], part.train)
            embeddings["lem"] = (lem["train_embedding"], part.train)
        for name, test in part.tests.items():
            for i, seed in enumerate(seeds):
                for eps in cfg.sce_epsilons:
                    az_model, el_model = f"sce_azimuth_eps{eps:g}", f"sce_elevation_eps{eps:g}"
                    if az_model in preds:
                        az = preds[az_model][i][f"{name}_azimuth"]
                        el = preds[el_model][i][f"{name}_elevation"]
                        record(
                            part.experiment, name, test, _label(cfg, "SCE", eps), seed, az, el, part.fraction
                        )
                for eps in cfg.wsce_epsilons:
                    model = f"wsce_eps{eps:g}"
                    if model in preds:
                        p = preds[model][i]
                        record(
                            part.experiment, name, test, _label(cfg, "WSCE", eps), seed, p[f"{name}_azimuth"],
                            p[f"{name}_elevation"], part.fraction,
                        )  # fmt: skip
                if "ff" in preds:
                    p = preds["ff"][i]
                    az, el = p[f"{name}_azimuth"], p[f"{name}_elevation"]
                    record(part.experiment, name, test, "FF", seed, az, el, part.fraction)
            lem_az, lem_el = lem[f"{name}_azimuth"], lem[f"{name}_elevation"]
            record(part.experiment, name, test, "LEM", None, lem_az, lem_el, part.fraction)
            if part.fraction is None:
                reference_rows(part.experiment, name, test, part.train)
    reference_rows("heads", "held_out_spheres", data["heads_test"], data["heads_train"])
    wsce_label = _label(cfg, "WSCE", cfg.wsce_epsilons[0])
    for seed in seeds:
        for folder, label in (("heads_one", "KEMAR only"), ("heads_many", "KEMAR + spheres")):
            p = _predictions(runs / folder / f"seed{seed}")
            test = data["heads_test"]
            az, el = p["heads_test_azimuth"], p["heads_test_elevation"]
            record("heads", "held_out_spheres", test, f"{wsce_label} ({label})", seed, az, el)

    models_dir = out / "models"
    exported = {
        "sce_azimuth": f"sce_azimuth_eps{primary_sce:g}",
        "sce_elevation": f"sce_elevation_eps{primary_sce:g}",
        "wsce": wsce,
    }
    for target_name, model in exported.items():
        target = models_dir / target_name
        if not (target / "model.json").is_file():
            source = runs / "fixed" / model / f"seed{seeds[0]}" / "fit" / "model"
            shutil.copytree(source, target, dirs_exist_ok=True)

    from spatialrep.experiments.sce_plots import boxplots, embedding_plots

    values = ["median_deg", "mae_deg", "el_median_deg", "el_mae_deg"]
    for row in rows:
        row.setdefault("fraction", None)
    summary = aggregate(rows, ["experiment", "test_set", "fraction", "method"], values)
    columns = ["experiment", "test_set", "fraction", "method", "n", *values]
    paths: dict[str, Any] = dict(
        write_results(
            out, rows, summary, title=f"SCE / WSCE experiment ({cfg.scale})", summary_columns=columns,
            extra_markdown=_notes(cfg, len(sets.az), seeds),
            metadata={"config": dataclasses.asdict(cfg), "directions": len(sets.az), "heads": sets.head_names,
                      "units": unit_timings(markers)},
        )
    )  # fmt: skip
    paths["boxplots"] = boxplots(out, errors)
    paths["embeddings"] = embedding_plots(out, embeddings)
    paths["models"] = {name: str(models_dir / name) for name in exported}
    log(markdown_table(summary, columns))
    return ExperimentResult(rows=rows, summary=summary, paths=paths, try_model=models_dir / "wsce")


def _notes(cfg: SceExperimentConfig, directions: int, seeds: Sequence[int]) -> str:
    grid = (
        f"a regular grid every {cfg.azimuth_step_deg:g}° in azimuth (±90°) on the elevation rings "
        f"{', '.join(f'{e:g}' for e in cfg.elevations_deg)}° (interpolated KEMAR)"
        if cfg.azimuth_step_deg is not None
        else f"measured frontal KEMAR directions (azimuth ±90°, elevation ±{cfg.max_elevation_deg:g}°)"
    )
    noise = (
        "training clips carry uncorrelated white noise at "
        f"{cfg.train_snr_db[0]:g}-{cfg.train_snr_db[1]:g} dB SNR"
        if cfg.train_snr_db is not None
        else "training clips are noiseless"
    )
    return (
        "\nErrors in degrees: `median_deg` / `mae_deg` are the median / mean azimuth error per clip "
        "(wrapped absolute difference), `el_median_deg` / `el_mae_deg` the same for elevation; then the mean "
        f"over seeds {list(seeds)} (`_std`: across seeds; LEM is deterministic, seed -1). {directions} "
        f"directions: {grid}; {noise}. SCE = azimuth from the azimuth embedding and elevation from the "
        f"elevation embedding; ε sweep SCE {list(cfg.sce_epsilons)}°, WSCE {list(cfg.wsce_epsilons)}° "
        "(the first of each in (c), (d) and the exported models); FF = one feed-forward regressor per "
        "angle; "
        "LEM = Laplacian eigenmaps (M = 10); all localize by 5-NN regression except FF. Checkpoints selected "
        f"by validation {cfg.selection}; learning rate {cfg.schedule}. Floors (training labels only): "
        "`always-0°` (azimuth and elevation 0°) and `training-mean` (the mean training direction). Classic "
        "localizers (no training; steered with the KEMAR set on the horizontal plane, so their elevation is "
        "0°: their elevation columns equal the always-0° floor's): "
        f"{', '.join(cfg.classic) or 'none'}; they hear the same test clips, rendered again from the sets' "
        "seeds.\n"
    )


# ------------------------------------------------------------------------------------ benchmark entries


def _manifest_features(
    data: Path, split: str, config: SceConfig, batch_size: int = 64
) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Measurement vectors ``(n, D)`` of a dataset split's ``noisy`` clips and their first source's azimuth
    and elevation (radians)."""
    from spatialrep.data.datasets import ManifestDataset, collate_examples
    from spatialrep.train import make_loader

    dataset = ManifestDataset(data, split=split, signals=("noisy",))
    loader = make_loader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_examples)
    features = torch.cat([config.frontend(batch["noisy"].float()) for batch in loader])
    azimuth = np.radians([float(row["azimuth_deg"][0]) for row in dataset.rows])
    elevation = np.radians([float(row["elevation_deg"][0]) for row in dataset.rows])
    return features, azimuth, elevation


def _sce_section(
    settings: Mapping[str, Any], dataset: Mapping[str, Any] | None = None
) -> tuple[SceConfig, TrainConfig]:
    from spatialrep.config import from_dict

    unknown = sorted(set(settings) - {"model", "train"})
    if unknown:
        raise ConfigError(f"benchmark methods.sce: unknown keys {unknown}; valid: model, train")
    config: SceConfig = from_dict(SceConfig, dict(settings.get("model", {})), "methods.sce.model")
    train_config: TrainConfig = from_dict(TrainConfig, dict(settings.get("train", {})), "methods.sce.train")
    return config, train_config


def _check_sce(settings: Mapping[str, Any], dataset: Mapping[str, Any]) -> None:
    _sce_section(settings)


@register_benchmark_entry("sce", task="binaural", check=_check_sce)
def benchmark_sce(training: BenchmarkTraining) -> list[BenchmarkModel]:
    """SCE (or WSCE: the recipe's ``model.loss``) trained on the benchmark's clips: measurement vectors of the
    ``noisy`` training clips, their labelled directions as the k-NN references; recipe keys ``model`` (an
    :class:`SceConfig` mapping) and ``train`` (a :class:`TrainConfig` mapping)."""
    config, train_config = _sce_section(training.settings)
    train_config = dataclasses.replace(train_config, seed=training.seed)
    train = _manifest_features(training.data, "train", config)
    val = _manifest_features(training.data, "val", config)
    trained = train_sce(train, val, training.out, config, train_config, progress=training.progress)
    return [BenchmarkModel(config.name.replace("_", "-"), trained.checkpoint)]
