"""Plan a dataset: split sizes and seeds, per-split scenes, disjoint source units, shards and label budgets.

Everything here is a pure function of the :class:`~spatialrep.data.config.DatasetConfig` (and of the source
bank's unit list), so a shard can be rendered anywhere from ``(plan, split, shard index)`` alone.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from spatialrep import seeding
from spatialrep.config import from_dict, merge, to_dict
from spatialrep.data.config import SPLITS, DatasetConfig, SplitsConfig, check_grid_scene
from spatialrep.data.grid import grid_point_index, scene_at_direction
from spatialrep.simulate.sampling import sample_scene
from spatialrep.simulate.scene import SceneSpec
from spatialrep.simulate.scene_config import SceneConfig

_UNIT_STREAM = 0x756E6974  # "unit"
_BUDGET_STREAM = 0x62756467  # "budg"


def split_seed(seed: int, split: str) -> int:
    """Base seed of the examples of ``split`` (one independent stream per split)."""
    return seeding.derive_seed(seed, SPLITS.index(split) + 1)


def split_sizes(splits: SplitsConfig, total: int) -> dict[str, int]:
    """Examples per split: fixed counts first, the rest shared by the fractions (largest remainder).

    Raises:
        ValueError: the counts exceed ``total``, or only counts are given and they do not add up to ``total``.
    """
    items = splits.items()
    counts = {k: int(v.size) for k, v in items.items() if not isinstance(v.size, float)}
    rest = total - sum(counts.values())
    if rest < 0:
        raise ValueError(f"the splits' fixed counts {counts} add up to more than num_examples={total}")
    fractions = splits.fractions()
    if not fractions:
        if rest:
            raise ValueError(
                f"the splits are fixed counts {counts} adding up to {sum(counts.values())}, but "
                f"num_examples is {total}; change a split size or num_examples (--num)"
            )
        return {k: counts[k] for k in SPLITS}
    shares = _largest_remainder(rest, fractions)
    return {k: counts.get(k, shares.get(k, 0)) for k in SPLITS}


def _largest_remainder(total: int, fractions: Mapping[str, float]) -> dict[str, int]:
    raw = {k: total * f for k, f in fractions.items()}
    out = {k: math.floor(v) for k, v in raw.items()}
    order = sorted(raw, key=lambda k: (-(raw[k] - out[k]), list(fractions).index(k)))
    for k in order[: total - sum(out.values())]:
        out[k] += 1
    return out


def partition_units(
    units_by_class: Mapping[str, Sequence[str]], fractions: Mapping[str, float], seed: int
) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """Split every class's units between splits, disjointly, by ``fractions``.

    Each split with a positive fraction gets at least one unit of each class; a class with fewer units than
    such splits cannot be split and is given whole to every split.

    Args:
        units_by_class: ``{class: units}``.
        fractions: ``{split: fraction}`` adding up to 1.
        seed: the dataset seed (the shuffle of each class derives from it and the class name).

    Returns:
        ``({split: sorted units}, classes shared by all splits)``.
    """
    names = [k for k in fractions if fractions[k] > 0]
    chosen: dict[str, list[str]] = {k: [] for k in fractions}
    shared: list[str] = []
    for label in sorted(units_by_class):
        units = sorted(units_by_class[label])
        if len(units) < len(names):
            shared.append(label)
            for k in names:
                chosen[k].extend(units)
            continue
        rng = seeding.rng(seed, _UNIT_STREAM, label)
        order = [units[i] for i in rng.permutation(len(units))]
        counts = _largest_remainder(len(units), {k: fractions[k] for k in names})
        for k in names:  # every split gets one unit of each class; take them from the largest share
            while counts[k] < 1:
                donor = max(names, key=lambda d: (counts[d], -names.index(d)))
                counts[donor] -= 1
                counts[k] += 1
        start = 0
        for k in names:
            chosen[k].extend(order[start : start + counts[k]])
            start += counts[k]
    return {k: tuple(sorted(v)) for k, v in chosen.items()}, tuple(shared)


@dataclass(frozen=True)
class SplitPlan:
    """One split, resolved.

    Attributes:
        name: ``train``, ``val`` or ``test``.
        num_examples: examples in the split.
        seed: base seed of its examples (see :func:`split_seed`).
        scene: the split's scene distribution (overrides and source units applied).
        grid: ``(azimuth_deg, elevation_deg)`` grid points, or ``None`` for random directions.
        shared_classes: classes whose units could not be partitioned (shared with other splits).
    """

    name: str
    num_examples: int
    seed: int
    scene: SceneConfig
    grid: tuple[tuple[float, float], ...] | None = None
    shared_classes: tuple[str, ...] = ()

    def example_scene(self, index: int) -> SceneConfig:
        """The scene distribution of example ``index`` (the split's, or collapsed to its grid direction)."""
        if self.grid is None:
            return self.scene
        azimuth, elevation = self.grid[grid_point_index(len(self.grid), self.seed, index)]
        return scene_at_direction(self.scene, azimuth, elevation)

    def spec(self, index: int) -> SceneSpec:
        """The scene of example ``index`` of this split (a pure function of the plan and the index)."""
        if not 0 <= index < self.num_examples:
            raise IndexError(
                f"example {index} is outside split {self.name!r} of {self.num_examples} examples"
            )
        return sample_scene(self.example_scene(index), self.seed, index)

    def to_dict(self) -> dict[str, Any]:
        return {
            "num_examples": self.num_examples,
            "seed": self.seed,
            "scene": to_dict(self.scene),
            "grid_points": None if self.grid is None else len(self.grid),
            "shared_classes": list(self.shared_classes),
        }


@dataclass(frozen=True)
class ShardTask:
    """Examples ``start..stop-1`` of one split: the unit of parallel work and of resume."""

    split: SplitPlan
    shard: int
    start: int
    stop: int

    @property
    def num_examples(self) -> int:
        return self.stop - self.start

    @property
    def key(self) -> str:
        return f"{self.split.name}/{self.shard:05d}"


@dataclass(frozen=True)
class DatasetPlan:
    """A dataset config resolved into splits and shards."""

    config: DatasetConfig
    splits: tuple[SplitPlan, ...]

    def split(self, name: str) -> SplitPlan:
        for plan in self.splits:
            if plan.name == name:
                return plan
        present = ", ".join(p.name for p in self.splits)
        if name in SPLITS:
            raise ValueError(
                f"split {name!r} has no examples in dataset {self.config.name!r}; splits: {present}"
            )
        raise ValueError(f"unknown split {name!r}; valid: {', '.join(SPLITS)}")

    def shards(self) -> list[ShardTask]:
        """All shards, split by split, in order."""
        size = self.config.shard_size
        return [
            ShardTask(plan, k, start, min(start + size, plan.num_examples))
            for plan in self.splits
            for k, start in enumerate(range(0, plan.num_examples, size))
        ]

    def to_dict(self) -> dict[str, Any]:
        return {"config": to_dict(self.config), "splits": {p.name: p.to_dict() for p in self.splits}}

    @cached_property
    def fingerprint(self) -> str:
        """Hash of everything that determines the rendered bytes (config, split scenes and units).

        Scenes of render version ``v1`` are hashed without their ``render_version`` and ``source_pool_size``
        (which ``v1`` ignores), as before render versions existed: a dataset rendered then keeps its
        fingerprint, and resumes with ``scene.render_version=v1``.
        """
        text = json.dumps(_without_v1_keys(self.to_dict()), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    @property
    def render_versions(self) -> dict[str, str]:
        """The render version of each split's scenes."""
        return {p.name: p.scene.render_version for p in self.splits}


_V2_KEYS = ("render_version", "source_pool_size")


def _without_v1_keys(value: Any) -> Any:
    """``value`` with the render-version keys removed from every mapping that says ``render_version: v1``."""
    if isinstance(value, dict):
        legacy = value.get("render_version") == "v1"
        return {k: _without_v1_keys(v) for k, v in value.items() if not (legacy and k in _V2_KEYS)}
    if isinstance(value, list):
        return [_without_v1_keys(v) for v in value]
    return value


def split_scene(config: DatasetConfig, name: str) -> SceneConfig:
    """The base scene with split ``name``'s overrides applied.

    Raises:
        ValueError: an override naming an unknown field or an invalid value (the message names the split).
    """
    overrides = config.splits.items()[name].overrides
    if not overrides:
        return config.scene
    return from_dict(SceneConfig, merge(to_dict(config.scene), overrides), where=f"splits.{name}.overrides")


def _bank_units(scene: SceneConfig) -> dict[str, tuple[str, ...]]:
    from spatialrep.data.excitation import make_bank

    bank = make_bank(scene.source)
    if scene.source_units:
        bank = bank.partition(scene.source_units)
    return {label: bank.units(label) for label in bank.classes}


def plan_dataset(config: DatasetConfig) -> DatasetPlan:
    """Resolve split sizes, seeds, scenes (overrides, disjoint units, grid) of ``config``.

    Warns (``UserWarning``) when some classes have too few units to be partitioned.

    Raises:
        ValueError: split sizes that do not fit ``num_examples``, invalid overrides, a grid with several
            sources.
    """
    sizes = split_sizes(config.splits, config.num_examples)
    scenes = {name: split_scene(config, name) for name in SPLITS}
    shared: dict[str, tuple[str, ...]] = {name: () for name in SPLITS}
    if config.unit_partition:
        by_source: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for name in config.unit_partition:
            if "source_units" in config.splits.items()[name].overrides:
                continue  # explicit units win
            by_source.setdefault((scenes[name].source, scenes[name].source_units), []).append(name)
        for (source, _), names in by_source.items():
            units, shared_classes = partition_units(
                _bank_units(scenes[names[0]]), config.unit_partition, config.seed
            )
            if shared_classes:
                warnings.warn(
                    f"source {source!r}: {len(shared_classes)} class(es) have fewer units than splits and "
                    f"are shared by all splits: {', '.join(shared_classes)}",
                    stacklevel=2,
                )
            for name in names:
                scenes[name] = from_dict(
                    SceneConfig, {**to_dict(scenes[name]), "source_units": list(units[name])}
                )
                shared[name] = shared_classes
    grid = config.grid.points() if config.grid.active else None
    if grid is not None:
        for name in SPLITS:
            check_grid_scene(scenes[name], f"split {name!r}")
    splits = tuple(
        SplitPlan(name, sizes[name], split_seed(config.seed, name), scenes[name], grid, shared[name])
        for name in SPLITS
        if sizes[name] > 0
    )
    return DatasetPlan(config, splits)


# ------------------------------------------------------------------------------------------------- budgets


@dataclass(frozen=True)
class Budget:
    """A labelled subset of the training split.

    Attributes:
        name: e.g. ``"10min"``.
        seconds: requested duration.
        rows: positions of its examples in the training split, sorted.
        duration_s: their total duration.
    """

    name: str
    seconds: float
    rows: tuple[int, ...]
    duration_s: float


def select_budgets(
    durations: Sequence[float], budgets: Mapping[str, float], seed: int
) -> tuple[list[Budget], dict[str, float]]:
    """Nested labelled subsets: each budget is a prefix of one seeded permutation of the training examples.

    A budget takes the fewest examples of the permutation whose durations reach its seconds, so a smaller
    budget is always inside a larger one. A budget longer than the whole training split is not made (a
    truncated budget would silently hold less than its name says): it is returned among the skipped ones.

    Args:
        durations: seconds of each training example, in manifest order.
        budgets: ``{name: seconds}``.
        seed: the dataset seed.

    Returns:
        ``(budgets, skipped)``: the budgets that fit, smallest first, and ``{name: seconds}`` of the others.
    """
    order = seeding.rng(seed, _BUDGET_STREAM).permutation(len(durations))
    cumulative = np.cumsum(np.asarray(durations, dtype=np.float64)[order]) if len(durations) else np.zeros(0)
    total = float(cumulative[-1]) if len(cumulative) else 0.0
    out = []
    skipped: dict[str, float] = {}
    for name, seconds in sorted(budgets.items(), key=lambda kv: (kv[1], kv[0])):
        if seconds > total + 1e-9:
            skipped[name] = float(seconds)
            continue
        count = int(np.searchsorted(cumulative, seconds - 1e-9) + 1)
        rows = tuple(sorted(int(i) for i in order[:count]))
        out.append(Budget(name, float(seconds), rows, float(cumulative[count - 1]) if count else 0.0))
    return out, skipped
