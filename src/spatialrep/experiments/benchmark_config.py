"""The configuration of ``spatialrep benchmark``; its suites are recipes in ``spatialrep/recipes/benchmark/``.

A task (``binaural`` localization, ``array`` localization + event class) has one dataset and its test suites.
The benchmark renders the dataset's ``train`` and ``val`` splits into one folder, the only one any method
trains on, and each suite into its own folder: the dataset's ``test`` split (its own seed stream, the test
share of the source units: voices, programs), with the suite's scene overrides (other rooms, heads, SNRs,
sources). A suite is therefore disjoint from training by construction, and a test checks it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from spatialrep.config import ConfigError, from_dict, to_dict
from spatialrep.data.presets import load_dataset_config
from spatialrep.experiments.sfd_config import rerendered_test_split, resolve_dataset, split_sizes
from spatialrep.methods.classic import CLASSIC_LOCALIZERS

__all__ = ["IN_DOMAIN", "TASKS", "BenchmarkConfig", "BenchmarkTask"]

IN_DOMAIN = "in-domain"
"""The suite every task has: the dataset's own test split, unchanged."""

TASKS = ("binaural", "array")
"""Benchmark tasks, in table order."""


@dataclasses.dataclass(frozen=True)
class BenchmarkTask:
    """One task of the benchmark.

    Attributes:
        dataset: a dataset config mapping (or ``{"preset": NAME, ...}``) with one source per clip; its
            ``train`` and ``val`` splits train every method, its ``test`` split is the ``in-domain`` suite.
        suites: more test suites: ``name -> scene overrides`` of the test split (``{receiver: sphere}``,
            ``{snr_range_db: [-20, -5]}``, ``{source: events}``, other room ranges...).
        classic: classic localizers by name (:data:`~spatialrep.methods.classic.CLASSIC_LOCALIZERS` and
            variants), steered for the dataset's receiver: an unseen head keeps the training head's tables.
    """

    dataset: Mapping[str, Any]
    suites: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    classic: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset", resolve_dataset(self.dataset))
        config = load_dataset_config(dict(self.dataset))  # validates it
        if tuple(config.scene.num_sources) != (1, 1):
            raise ConfigError(
                f"dataset.scene.num_sources={list(config.scene.num_sources)}: localization suites need one "
                "source per clip ([1, 1])"
            )
        if IN_DOMAIN in self.suites:
            raise ConfigError(f"suite name {IN_DOMAIN!r} is the dataset's own test split; pick another")
        for name, overrides in self.suites.items():
            if not isinstance(overrides, Mapping):
                raise ConfigError(f"suites.{name} must be a mapping of scene overrides, got {overrides!r}")
            load_dataset_config(self.suite_dataset(name))  # validates the overrides
        from spatialrep.methods.classic import classic_family

        for name in self.classic:
            try:
                classic_family(name)
            except ValueError as exc:
                raise ConfigError(
                    f"classic {name!r}: {exc} (families: {', '.join(CLASSIC_LOCALIZERS)})"
                ) from exc

    @property
    def suite_names(self) -> list[str]:
        """``in-domain`` first, then the suites in recipe order."""
        return [IN_DOMAIN, *self.suites]

    def training_dataset(self) -> dict[str, Any]:
        """The dataset's ``train`` and ``val`` splits only (the same scenes: each split has its own seeds)."""
        sizes = split_sizes(self.dataset)
        splits = to_dict(load_dataset_config(dict(self.dataset)).splits)
        return {
            **dict(self.dataset),
            "name": f"{self.dataset['name']}-train",
            "num_examples": sizes["train"] + sizes["val"],
            "splits": {
                "train": {**splits["train"], "size": sizes["train"]},
                "val": {**splits["val"], "size": sizes["val"]},
                "test": {"size": 0},
            },
        }

    def suite_dataset(self, suite: str) -> dict[str, Any]:
        """The dataset of test suite ``suite``: the ``test`` split only, with the suite's overrides."""
        return rerendered_test_split(self.dataset, suite, {} if suite == IN_DOMAIN else self.suites[suite])


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
    """Everything ``spatialrep benchmark`` needs; the resolved form is saved as ``recipe.yaml``.

    Attributes:
        scale: the suite's name (``tiny``, ``small``; informative).
        binaural: the binaural localization task (a :class:`BenchmarkTask` mapping), or ``None``.
        array: the array localization + event class task, or ``None``.
        methods: ``method -> its recipe section``: every registered benchmark entry named here trains its
            models on its task (:func:`~spatialrep.experiments.runner.register_benchmark_entry`).
        seeds: training seeds of every method (the tables give mean ± std over them).
        eval_batch_size: clips per batch at test time.
        snr_bands: SNR bands (dB, ``[low, high)``) of the error-vs-SNR plot and rows.
        threads: torch's intra-op threads while the benchmark trains and evaluates (``None``: torch's
            default). The recipes use 1: MC-SimCLR's GRU slows down 10-40 times with two threads on a CPU
            shared with other jobs (docs/mcsimclr.md).
    """

    scale: str
    binaural: Any = None
    array: Any = None
    methods: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    eval_batch_size: int = 16
    snr_bands: tuple[tuple[float, float], ...] = ((-20.0, -5.0), (-5.0, 0.0), (0.0, 10.0), (10.0, 30.0))
    threads: int | None = None

    def __post_init__(self) -> None:
        for name in TASKS:
            value = getattr(self, name)
            if value is None or isinstance(value, BenchmarkTask):
                continue
            if not isinstance(value, Mapping):
                raise ConfigError(f"BenchmarkConfig.{name} must be a task mapping or null, got {value!r}")
            try:
                object.__setattr__(self, name, from_dict(BenchmarkTask, value, f"BenchmarkConfig.{name}"))
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"BenchmarkConfig.{name}: {exc}") from exc
        if not self.tasks:
            raise ConfigError("the benchmark has no task: give binaural and/or array")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds {self.seeds!r} must be a non-empty list without repeats")
        if isinstance(self.eval_batch_size, bool) or self.eval_batch_size < 1:
            raise ConfigError(f"eval_batch_size={self.eval_batch_size!r} must be a positive integer")
        if self.threads is not None and (isinstance(self.threads, bool) or self.threads < 1):
            raise ConfigError(f"threads={self.threads!r} must be a positive integer or null")
        for method, settings in self.methods.items():
            if not isinstance(settings, Mapping):
                raise ConfigError(
                    f"methods.{method} must be a mapping (its recipe section), got {settings!r}"
                )

    @property
    def tasks(self) -> dict[str, BenchmarkTask]:
        """The configured tasks by name, in :data:`TASKS` order."""
        return {name: getattr(self, name) for name in TASKS if getattr(self, name) is not None}

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (tuples become lists)."""
        return to_dict(self)
