"""Datasets: render scenes to disk (shards, manifests, label budgets), import recordings, and load them.

The render path (:func:`render_dataset`) does not import torch, so pool workers start quickly; the torch
datasets (:class:`ManifestDataset`, :class:`SceneDataset`, :func:`collate_examples`) load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spatialrep.data.config import (
    DatasetConfig,
    GridConfig,
    SplitConfig,
    SplitsConfig,
)
from spatialrep.data.importer import import_recordings
from spatialrep.data.info import dataset_summary, format_summary
from spatialrep.data.manifest import ManifestError, read_rows
from spatialrep.data.presets import list_presets, load_dataset_config, preset_path
from spatialrep.data.splits import DatasetPlan, plan_dataset
from spatialrep.data.writer import DatasetExistsError, RenderReport, ShardError, render_dataset

if TYPE_CHECKING:
    from spatialrep.data.datasets import ManifestDataset, SceneDataset, collate_examples

_LAZY = {"ManifestDataset", "SceneDataset", "collate_examples"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from spatialrep.data import datasets

        return getattr(datasets, name)
    raise AttributeError(f"module 'spatialrep.data' has no attribute {name!r}")


__all__ = [
    "DatasetConfig",
    "DatasetExistsError",
    "DatasetPlan",
    "GridConfig",
    "ManifestDataset",
    "ManifestError",
    "RenderReport",
    "SceneDataset",
    "ShardError",
    "SplitConfig",
    "SplitsConfig",
    "collate_examples",
    "dataset_summary",
    "format_summary",
    "import_recordings",
    "list_presets",
    "load_dataset_config",
    "plan_dataset",
    "preset_path",
    "read_rows",
    "render_dataset",
]
