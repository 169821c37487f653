"""The configuration of ``spatialrep benchmark``; its suites are recipes in ``spatialrep/recipes/benchmark/``.

A rendered task (``binaural`` localization, ``array`` localization + event class, ``events``: sound event
detection, distance and direction) has one dataset and its test suites. The benchmark renders the dataset's
``train`` and ``val`` splits into one folder, the only one any method trains on, and each suite into its own
folder: the dataset's ``test`` split (its own seed stream, the test share of the source units: voices,
programs), with the suite's scene overrides (other rooms, heads, SNRs, sources). A suite is therefore
disjoint from training by construction, and a test checks it. The ``quality`` task (a spatial-quality metric
on degradation sweeps) draws its pairs on the fly from :class:`~spatialrep.data.sqm_pairs.SqmScenes`, whose
``test`` and ``unseen`` splits hold utterances (and, for ``unseen``, heads, rooms and voices) that training
never sees.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from spatialrep.config import ConfigError, check_sections, from_dict, to_dict
from spatialrep.data.presets import load_dataset_config
from spatialrep.data.sqm_pairs import SqmDataConfig
from spatialrep.experiments.sfd_config import rerendered_test_split, resolve_dataset, split_sizes
from spatialrep.methods.classic import CLASSIC_LOCALIZERS

__all__ = [
    "IN_DOMAIN",
    "TASKS",
    "BenchmarkConfig",
    "BenchmarkTask",
    "EventsTask",
    "Metric",
    "QualityTask",
]

IN_DOMAIN = "in-domain"
"""The suite every task has: the dataset's own test split, unchanged."""

TASKS = ("binaural", "array", "events", "quality")
"""Benchmark tasks, in table order."""


@dataclasses.dataclass(frozen=True)
class Metric:
    """A column of a task's table: a key of its evaluated rows, how it reads, and which way is better."""

    key: str
    label: str
    higher_is_better: bool = False
    evidence: tuple[str, float] | None = None
    """``(metric key, floor)``: a non-floor win here shows learning only where the winner's value of that
    other metric on the same suite is above ``floor``: DER needs distance R² above 0 (the mean's)."""

    def better(self, a: float, b: float) -> bool:
        """Whether value ``a`` beats ``b``."""
        return a > b if self.higher_is_better else a < b


AZIMUTH_MAE = Metric("mae_deg", "azimuth MAE (°)")


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

    renders = True
    """Whether the task's training data and suites are rendered dataset folders."""
    metrics: ClassVar[tuple[Metric, ...]] = (AZIMUTH_MAE,)
    """The table's columns per suite (the first ranks the rows)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset", resolve_dataset(self.dataset))
        config = load_dataset_config(dict(self.dataset))  # validates it
        self._check_sources(config)
        if IN_DOMAIN in self.suites:
            raise ConfigError(f"suite name {IN_DOMAIN!r} is the dataset's own test split; pick another")
        for name, overrides in self.suites.items():
            if not isinstance(overrides, Mapping):
                raise ConfigError(f"suites.{name} must be a mapping of scene overrides, got {overrides!r}")
            load_dataset_config(self.suite_dataset(name))  # validates the overrides
        self._check_classic()

    def _check_sources(self, config: Any) -> None:
        if tuple(config.scene.num_sources) != (1, 1):
            raise ConfigError(
                f"dataset.scene.num_sources={list(config.scene.num_sources)}: localization suites need one "
                "source per clip ([1, 1])"
            )

    def _check_classic(self) -> None:
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

    @property
    def scores_classes(self) -> bool:
        """Whether the table shows class accuracy: the training sources have more than one class (one-class
        speech makes every class guess right)."""
        from spatialrep.simulate.sources.registry import make_source_bank

        source = load_dataset_config(dict(self.dataset)).scene.source
        return len(make_source_bank(source).classes) > 1

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


EVENT_METRICS = (
    Metric("mAP", "mAP %", higher_is_better=True),
    Metric("MAE", "DoA MAE (°)"),
    Metric("DER", "DER %", evidence=("dist_r2", 0.0)),
    Metric("dist_r2", "distance R²", higher_is_better=True),
)


@dataclasses.dataclass(frozen=True)
class EventsTask(BenchmarkTask):
    """Sound event detection, distance and direction of binaural events (one or more sources per clip).

    mAP over every clip (the union of its classes); great-circle DoA MAE and the distance error rate DER
    (more than one ``distance_bin_m`` bin off) on the one-source clips; ``dist_r2`` is the R² of the
    predicted distance against the training-mean predictor. ``classic``: ``srp-phat`` over the HRTF grid.
    """

    distance_bin_m: float = 0.5

    metrics: ClassVar[tuple[Metric, ...]] = EVENT_METRICS

    def _check_sources(self, config: Any) -> None:
        if config.scene.receiver == "" or config.scene.receiver.startswith("array:"):
            raise ConfigError(
                f"dataset.scene.receiver={config.scene.receiver!r}: events need a binaural head"
            )
        if not (isinstance(self.distance_bin_m, int | float) and self.distance_bin_m > 0):
            raise ConfigError(f"distance_bin_m={self.distance_bin_m!r} must be a positive number of metres")

    def _check_classic(self) -> None:
        bad = [c for c in self.classic if c != "srp-phat"]
        if bad:
            raise ConfigError(f"classic {bad}: the events task has srp-phat (over the HRTF grid) only")


QUALITY_METRICS = (
    Metric("deg_mean", "degradation ρ", higher_is_better=True),
    Metric("sc_az", "SC Δaz", higher_is_better=True),
    Metric("two_afc", "2AFC", higher_is_better=True),
    Metric("ca", "CA"),
)
QUALITY_BASELINES = ("cue", "l1", "mrstft")


@dataclasses.dataclass(frozen=True)
class QualityTask:
    """Spatial quality: distances between a reference and a degraded binaural signal.

    Attributes:
        data: the pairs' clips (:class:`~spatialrep.data.sqm_pairs.SqmDataConfig`): methods train on its
            ``train`` split; the suites are its ``test`` split (seen heads and rooms, new utterances) and
            ``unseen`` split (held-out heads, rooms and voices).
        suites: the splits evaluated, in table order.
        eval: the sizes of the sweeps (:class:`~spatialrep.experiments.sqm_config.EvalSizes`; the
            degradation sweeps, the azimuth monotonicity sweep, the common-area groups).
        baselines: classic distances (:data:`QUALITY_BASELINES`: binaural-cue, L1, multi-resolution STFT).

    Metrics: ``deg_mean``, the mean over degradation kinds of Spearman's ρ between the distance and the
    severity; ``sc_az``, Spearman's ρ against Δazimuth; ``two_afc``, agreement with the severity order of
    pairs of one reference; ``ca``, the common area of same-location vs both-differ distances (lower is
    better). The floor is a random distance (0 on identical pairs).
    """

    data: SqmDataConfig = dataclasses.field(default_factory=SqmDataConfig)
    suites: tuple[str, ...] = ("test", "unseen")
    eval: Any = None
    baselines: tuple[str, ...] = QUALITY_BASELINES

    renders = False
    metrics: ClassVar[tuple[Metric, ...]] = QUALITY_METRICS

    def __post_init__(self) -> None:
        from spatialrep.experiments.sqm_config import EvalSizes

        check_sections(self, {"data": SqmDataConfig})
        sizes = self.eval if self.eval is not None else {}
        if isinstance(sizes, Mapping):
            try:
                sizes = from_dict(EvalSizes, dict(sizes), "quality.eval")
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"quality.eval: {exc}") from exc
        object.__setattr__(self, "eval", sizes)
        object.__setattr__(self, "suites", tuple(self.suites))
        object.__setattr__(self, "baselines", tuple(self.baselines))
        bad = [s for s in self.suites if s not in ("test", "unseen")]
        if not self.suites or bad or len(set(self.suites)) != len(self.suites):
            raise ConfigError(f"quality.suites={list(self.suites)}: distinct names from test, unseen")
        bad = [b for b in self.baselines if b not in QUALITY_BASELINES]
        if bad:
            raise ConfigError(f"quality.baselines: unknown {bad}; valid: {', '.join(QUALITY_BASELINES)}")

    @property
    def suite_names(self) -> list[str]:
        return list(self.suites)

    @property
    def classic(self) -> tuple[str, ...]:
        return self.baselines

    def training_dataset(self) -> dict[str, Any]:
        """The pairs' data configuration (what a quality entry trains on: its ``train`` split)."""
        return to_dict(self.data)


TASK_TYPES: dict[str, type] = {
    "binaural": BenchmarkTask,
    "array": BenchmarkTask,
    "events": EventsTask,
    "quality": QualityTask,
}


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
    """Everything ``spatialrep benchmark`` needs; the resolved form is saved as ``recipe.yaml``.

    Attributes:
        scale: the suite's name (``tiny``, ``small``; informative).
        binaural: the binaural localization task (a :class:`BenchmarkTask` mapping), or ``None``.
        array: the array localization + event class task, or ``None``.
        events: event detection, distance and direction (an :class:`EventsTask` mapping), or ``None``.
        quality: spatial quality on degradation sweeps (a :class:`QualityTask` mapping), or ``None``.
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
    events: Any = None
    quality: Any = None
    methods: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    eval_batch_size: int = 16
    snr_bands: tuple[tuple[float, float], ...] = ((-20.0, -5.0), (-5.0, 0.0), (0.0, 10.0), (10.0, 30.0))
    threads: int | None = None

    def __post_init__(self) -> None:
        for name in TASKS:
            value, kind = getattr(self, name), TASK_TYPES[name]
            if value is None or isinstance(value, kind):
                continue
            if not isinstance(value, Mapping):
                raise ConfigError(f"BenchmarkConfig.{name} must be a task mapping or null, got {value!r}")
            try:
                object.__setattr__(self, name, from_dict(kind, value, f"BenchmarkConfig.{name}"))
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"BenchmarkConfig.{name}: {exc}") from exc
        if not self.tasks:
            raise ConfigError(f"the benchmark has no task: give one or more of {', '.join(TASKS)}")
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
    def tasks(self) -> dict[str, Any]:
        """The configured tasks by name, in :data:`TASKS` order."""
        return {name: getattr(self, name) for name in TASKS if getattr(self, name) is not None}

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (tuples become lists)."""
        return to_dict(self)
