"""What dataset to render: the validated, frozen :class:`DatasetConfig`.

A dataset config is a scene distribution (:class:`~spatialrep.simulate.scene_config.SceneConfig`) plus what
turns it into files: the signals to save, the train/val/test splits and their sizes, per-split scene overrides
(another receiver, other source units or another excitation for the test set), disjoint source units, nested
label budgets, an optional direction grid and the shard size. Named presets: :mod:`spatialrep.data.presets`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spatialrep.config import ConfigError
from spatialrep.simulate.scene_config import SIGNALS, SceneConfig

SPLITS = ("train", "val", "test")
"""Split names, in the order they are rendered and listed."""

AUDIO_FORMATS = ("flac", "wav")

MAX_EXAMPLES = 10_000_000
"""The most examples one dataset may hold (10 million: 11,000 hours of 4 s clips); more is a typo."""

_GRID_TOLERANCE = 1e-6


@dataclass(frozen=True)
class SplitConfig:
    """Size and scene overrides of one split.

    Attributes:
        size: an ``int`` is a fixed number of examples; a ``float`` is a fraction of what the fixed-count
            splits leave of the dataset's total (the fractions of a dataset must add up to 1).
        overrides: :class:`SceneConfig` fields that differ in this split, e.g. ``{"receiver": "sphere"}`` for
            an unseen head, or ``{"source": "speech"}`` for a speech test set after noise training.
    """

    size: int | float = 0
    overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int | float):
            raise ValueError(f"split size must be an integer count or a fraction, got {self.size!r}")
        if isinstance(self.size, int) and self.size < 0:
            raise ValueError(f"split size must be a count >= 0, got {self.size}")
        if isinstance(self.size, float) and not (0.0 <= self.size <= 1.0):
            raise ValueError(
                f"split size {self.size} is a fraction and must lie in [0, 1] (use an integer for a count)"
            )
        if not isinstance(self.overrides, Mapping):
            raise ValueError(
                f"split overrides must be a mapping of SceneConfig fields, got {self.overrides!r}"
            )


@dataclass(frozen=True)
class SplitsConfig:
    """The three splits; see :class:`SplitConfig`."""

    train: SplitConfig = field(default_factory=lambda: SplitConfig(0.8))
    val: SplitConfig = field(default_factory=lambda: SplitConfig(0.1))
    test: SplitConfig = field(default_factory=lambda: SplitConfig(0.1))

    def __post_init__(self) -> None:
        fractions = [s.size for s in self.items().values() if isinstance(s.size, float)]
        if fractions and not math.isclose(sum(fractions), 1.0, abs_tol=1e-9):
            raise ValueError(
                f"split fractions must add up to 1, got {dict(self.fractions())} (sum "
                f"{sum(fractions):g}); give fixed counts as integers"
            )

    def items(self) -> dict[str, SplitConfig]:
        """``{split name: SplitConfig}`` in :data:`SPLITS` order."""
        return {name: getattr(self, name) for name in SPLITS}

    def fractions(self) -> dict[str, float]:
        return {k: float(v.size) for k, v in self.items().items() if isinstance(v.size, float)}


@dataclass(frozen=True)
class GridConfig:
    """A direction grid: each example's target direction is a grid point chosen from its index.

    Attributes:
        azimuth_deg: ``(start, stop, step)``, stop included, within -180..180; empty (the default) means no
            grid: directions are sampled from the scene's region.
        elevation_deg: ``(start, stop, step)``, stop included; within -90..90.
    """

    azimuth_deg: tuple[float, ...] = ()
    elevation_deg: tuple[float, ...] = (0.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        for name, axis in (("azimuth_deg", self.azimuth_deg), ("elevation_deg", self.elevation_deg)):
            if len(axis) != 3 and not (name == "azimuth_deg" and not axis):
                raise ValueError(f"grid.{name} must be [start, stop, step], got {list(axis)}")
        if not self.active:
            return
        for name, (start, stop, step), limit in (
            ("azimuth_deg", self.azimuth_deg, 180.0),
            ("elevation_deg", self.elevation_deg, 90.0),
        ):
            if not all(math.isfinite(v) for v in (start, stop, step)):
                raise ValueError(f"grid.{name} must be finite, got {(start, stop, step)}")
            if step <= 0:
                raise ValueError(f"grid.{name} step must be positive, got {step}")
            if stop < start:
                raise ValueError(f"grid.{name} is empty: start {start} > stop {stop}")
            if start < -limit or stop > limit:
                raise ValueError(f"grid.{name} must lie within [-{limit:g}, {limit:g}], got {(start, stop)}")

    @property
    def active(self) -> bool:
        """Whether the grid is used (``azimuth_deg`` given)."""
        return bool(self.azimuth_deg)

    def axis(self, which: str) -> tuple[float, ...]:
        """Grid values of ``"azimuth"`` or ``"elevation"`` in degrees."""
        start, stop, step = self.azimuth_deg if which == "azimuth" else self.elevation_deg
        count = math.floor((stop - start) / step + _GRID_TOLERANCE) + 1
        return tuple(round(start + k * step, 9) for k in range(count))

    def points(self) -> tuple[tuple[float, float], ...]:
        """``(azimuth_deg, elevation_deg)`` of every grid point, elevation-major."""
        return tuple((az, el) for el in self.axis("elevation") for az in self.axis("azimuth"))


@dataclass(frozen=True)
class DatasetConfig:
    """A dataset to render.

    Attributes:
        name: short name (written to ``dataset.json``).
        seed: base seed; every example's randomness derives from ``(split seed, index)``.
        num_examples: total number of examples over all splits (the CLI's ``--num``/``--hours`` set it).
        scene: the scene distribution shared by all splits.
        signals: signals saved per example (see ``SceneConfig``'s ``SIGNALS``); per-source signals are summed
            over sources (``clean_direct``, ``clean_reverb``: ``(C, T)``), ``dry`` is saved ``(S, T)``.
        splits: sizes and scene overrides of train, val and test.
        unit_partition: fractions of the source bank's units (voices, programs, files) per split, making the
            splits disjoint in them; split within each class, classes with fewer units than splits are shared.
            Empty: every split draws from all units.
        budgets: nested labelled subsets of the training split, ``{name: seconds of audio}``.
        grid: direction grid of the single target (inactive by default: random directions).
        shard_size: examples per shard (the unit of resume and of parallel work).
        audio_format: ``flac`` (24-bit) or ``wav`` (24-bit).
    """

    name: str = "dataset"
    seed: int = 0
    num_examples: int = 100
    scene: SceneConfig = field(default_factory=SceneConfig)
    signals: tuple[str, ...] = ("noisy",)
    splits: SplitsConfig = field(default_factory=SplitsConfig)
    unit_partition: dict[str, float] = field(default_factory=dict)
    budgets: dict[str, float] = field(default_factory=dict)
    grid: GridConfig = field(default_factory=GridConfig)
    shard_size: int = 32
    audio_format: str = "flac"

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in "/\\\n"):
            raise ValueError(f"dataset name must be a non-empty name without slashes, got {self.name!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if (
            isinstance(self.num_examples, bool)
            or not isinstance(self.num_examples, int)
            or self.num_examples < 1
        ):
            raise ValueError(f"num_examples must be a positive integer, got {self.num_examples!r}")
        if self.num_examples > MAX_EXAMPLES:
            raise ValueError(
                f"num_examples={self.num_examples:,} is more than the {MAX_EXAMPLES:,} one dataset may hold "
                f"({self.num_examples * self.scene.duration_s / 3600:,.0f} hours of audio); split it into "
                "several datasets"
            )
        if not self.signals:
            raise ValueError(f"signals must name at least one signal; valid: {', '.join(SIGNALS)}")
        unknown = [s for s in self.signals if s not in SIGNALS]
        if unknown:
            raise ValueError(f"unknown signal(s) {unknown}; valid: {', '.join(SIGNALS)}")
        if len(set(self.signals)) != len(self.signals):
            raise ValueError(f"signals lists a signal twice: {list(self.signals)}")
        bad = sorted(set(self.unit_partition) - set(SPLITS))
        if bad:
            raise ValueError(f"unit_partition names unknown split(s) {bad}; valid: {', '.join(SPLITS)}")
        for name, frac in self.unit_partition.items():
            if isinstance(frac, bool) or not isinstance(frac, int | float) or not 0 < frac <= 1:
                raise ValueError(f"unit_partition.{name} must be a fraction in (0, 1], got {frac!r}")
        if self.unit_partition and not math.isclose(sum(self.unit_partition.values()), 1.0, abs_tol=1e-9):
            raise ValueError(f"unit_partition fractions must add up to 1, got {self.unit_partition}")
        for name, seconds in self.budgets.items():
            if not isinstance(name, str) or not name or any(c in name for c in "/\\"):
                raise ValueError(f"budget name must be a plain name, got {name!r}")
            if (
                isinstance(seconds, bool)
                or not isinstance(seconds, int | float)
                or not 0 < seconds < math.inf
            ):
                raise ValueError(f"budget {name!r} must be a positive number of seconds, got {seconds!r}")
        if isinstance(self.shard_size, bool) or not isinstance(self.shard_size, int) or self.shard_size < 1:
            raise ValueError(f"shard_size must be a positive integer, got {self.shard_size!r}")
        if self.audio_format not in AUDIO_FORMATS:
            raise ValueError(f"unknown audio_format {self.audio_format!r}; valid: {', '.join(AUDIO_FORMATS)}")
        if self.grid.active:
            check_grid_scene(self.scene, "scene")

    @property
    def example_duration_s(self) -> float:
        return self.scene.num_samples / self.scene.sample_rate


def check_grid_scene(scene: SceneConfig, where: str) -> None:
    """A direction grid places exactly one source and no interferer.

    Raises:
        ValueError: the scene has more sources or interferers.
    """
    if tuple(scene.num_sources) != (1, 1) or tuple(scene.num_interferers) != (0, 0):
        raise ValueError(
            f"a direction grid needs one target and no interferer, but {where} has num_sources="
            f"{list(scene.num_sources)} and num_interferers={list(scene.num_interferers)}"
        )


__all__ = [
    "AUDIO_FORMATS",
    "SPLITS",
    "ConfigError",
    "DatasetConfig",
    "GridConfig",
    "SplitConfig",
    "SplitsConfig",
    "check_grid_scene",
]
