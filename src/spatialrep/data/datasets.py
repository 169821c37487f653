"""Torch datasets: examples read from a manifest, or rendered on the fly inside DataLoader workers.

Both return the same item: ``{signal: float32 tensor, ..., "labels": dict}`` where signals are ``(C, T)``
(``dry``: ``(S, T)``) and labels hold, besides ``id`` and ``split``:

* ``azimuth``, ``elevation``: radians, float32 tensors ``(S,)`` (every ``*_deg`` column becomes radians under
  the name without ``_deg``);
* ``distance``: metres, ``(S,)`` (NaN when unknown); other per-source numbers (``drr_db``...) likewise;
* ``class``: list of ``S`` class names; other columns as parsed values (numbers, strings, lists).

Batches of examples with different numbers of sources need :func:`collate_examples` (pads with NaN).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from spatialrep.data.config import DatasetConfig
from spatialrep.data.manifest import (
    PATH_SUFFIX,
    ManifestError,
    dataset_root,
    find_manifest,
    read_rows,
    resolve_path,
    signal_columns,
)
from spatialrep.data.manifest import check_files as _check_files
from spatialrep.data.splits import plan_dataset
from spatialrep.data.writer import Renderer, RendererFactory, default_renderer, example_row, render_example

Item = dict[str, Any]

_SKIP = frozenset({"index"})


def _number_list(values: list[Any]) -> bool:
    return all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values)


def row_labels(row: Mapping[str, Any]) -> dict[str, Any]:
    """Labels of a manifest row as the datasets return them (see the module docstring)."""
    labels: dict[str, Any] = {}
    for key, value in row.items():
        if key.endswith(PATH_SUFFIX) or key in _SKIP or key in ("start_s", "end_s"):
            continue
        name, scale = key, 1.0
        if key.endswith("_deg"):
            name, scale = key[: -len("_deg")], math.pi / 180.0
        elif key == "distance_m":
            name = "distance"
        if isinstance(value, list) and _number_list(value):
            labels[name] = torch.tensor(
                [math.nan if v is None else float(v) * scale for v in value], dtype=torch.float32
            )
        elif isinstance(value, int | float) and not isinstance(value, bool) and scale != 1.0:
            labels[name] = float(value) * scale
        else:
            labels[name] = value
    return labels


class ManifestDataset(Dataset[Item]):
    """Examples listed in a manifest (a rendered or imported dataset folder, a budget, or any manifest CSV).

    Args:
        source: a dataset folder (its ``manifest.csv``) or a manifest CSV file.
        split: keep only this split (``train``, ``val``, ``test``); ``None`` keeps all.
        budget: read ``budgets/<budget>.csv`` of the dataset folder instead (a labelled training subset).
        signals: signals to load (default: every ``<signal>_path`` column; ``()`` with ``features`` reads
            features only).
        check_files: verify at construction that every named audio file exists.
        features: a :class:`~spatialrep.data.feature_cache.FeatureCache` of this dataset (made by
            ``spatialrep features``): each item also holds ``"features"``
            ``(feature_channels, bins, frames)``, read from the cache instead of recomputed. Training reads
            stacks this way.

    Raises:
        ManifestError: no manifest, an unknown budget or signal, an empty selection, missing audio files, or
            examples missing from ``features`` (counted, the first named).

    Shape:
        Each signal ``(C, T)`` float32 (``dry``: ``(S, T)``); a row with ``start_s``/``end_s`` gives that
        span.
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        split: str | None = None,
        budget: str | None = None,
        signals: Sequence[str] | None = None,
        check_files: bool = True,
        features: Any = None,
    ) -> None:
        self.manifest = find_manifest(source, budget)
        self.root = dataset_root(self.manifest)
        rows = read_rows(self.manifest)
        if split is not None:
            splits = sorted({str(r["split"]) for r in rows})
            rows = [r for r in rows if r["split"] == split]
            if not rows:
                raise ManifestError(
                    f"manifest {self.manifest} has no example of split {split!r}; splits present: "
                    f"{', '.join(splits) or 'none'}"
                )
        available = signal_columns(rows)
        self.signals = tuple(signals) if signals is not None else tuple(available)
        unknown = [s for s in self.signals if s not in available]
        if unknown:
            raise ManifestError(
                f"manifest {self.manifest} has no signal(s) {unknown}; available: "
                f"{', '.join(available) or 'none'}"
            )
        if check_files:
            _check_files(rows, self.root, self.signals, self.manifest)
        self.rows = rows
        self.features = None
        if features is not None:
            cache = features
            cached = set(cache.ids)
            missing = [str(r["id"]) for r in rows if str(r["id"]) not in cached]
            if missing:
                raise ManifestError(
                    f"feature cache {cache.root} lacks {len(missing)} example(s) of {self.manifest} (first: "
                    f"{missing[0]}); run `spatialrep features` on this dataset"
                )
            self.features = cache

    def __len__(self) -> int:
        return len(self.rows)

    def _read(self, row: Mapping[str, Any], signal: str) -> torch.Tensor:
        path = resolve_path(self.root, row[signal + PATH_SUFFIX])
        try:
            info = sf.info(str(path))
            start, stop = 0, None
            if row.get("start_s") is not None:
                start = round(float(row["start_s"]) * info.samplerate)
            if row.get("end_s") is not None:
                stop = round(float(row["end_s"]) * info.samplerate)
            data, _ = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
        except (OSError, RuntimeError, sf.LibsndfileError) as exc:
            raise ManifestError(
                f"cannot read {path} (example {row['id']} of {self.manifest}): {exc}"
            ) from exc
        expected = row.get("sample_rate")
        if isinstance(expected, int) and expected != info.samplerate:
            raise ManifestError(
                f"{path} has sample rate {info.samplerate} Hz but manifest {self.manifest} says {expected} Hz"
            )
        return torch.from_numpy(np.ascontiguousarray(data.T))

    def __getitem__(self, index: int) -> Item:
        row = self.rows[index]
        item: Item = {signal: self._read(row, signal) for signal in self.signals}
        if self.features is not None:
            item["features"] = self.features.load(str(row["id"]))
        item["labels"] = row_labels(row)
        return item


class InMemoryDataset(Dataset[Item]):
    """A :class:`ManifestDataset`'s items read once and kept, with its ``rows`` (a test set that every model
    is evaluated on)."""

    def __init__(self, dataset: ManifestDataset) -> None:
        self.rows = dataset.rows
        self.items = [dataset[i] for i in range(len(dataset))]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Item:
        return self.items[index]


class SceneDataset(Dataset[Item]):
    """Examples of one split rendered on the fly (in DataLoader workers), identical to the rendered files.

    Item ``i`` is rendered from ``(split seed, i)`` alone, so it does not depend on the number of workers or
    the order of access, and equals example ``i`` of the same split rendered to disk (up to 24-bit
    quantisation).

    Args:
        config: the dataset config (e.g. ``load_dataset_config("binaural-speech")``).
        split: ``train``, ``val`` or ``test``.
        signals: signals to return (default: ``config.signals``).
        num_examples: length (default: the split's size in ``config``); lets training draw more examples.
        renderer_factory: builds the renderer in each worker (picklable).

    Shape:
        As :class:`ManifestDataset`.
    """

    def __init__(
        self,
        config: DatasetConfig,
        split: str = "train",
        *,
        signals: Sequence[str] | None = None,
        num_examples: int | None = None,
        renderer_factory: RendererFactory = default_renderer,
    ) -> None:
        plan = plan_dataset(config).split(split)
        if num_examples is not None:
            if num_examples < 1:
                raise ValueError(f"num_examples must be positive, got {num_examples}")
            plan = replace(plan, num_examples=num_examples)
        self.plan = plan
        self.signals = tuple(signals) if signals is not None else tuple(config.signals)
        self.renderer_factory = renderer_factory
        self._renderer: Renderer | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_renderer"] = None  # each worker builds its own
        return state

    def __len__(self) -> int:
        return self.plan.num_examples

    def __getitem__(self, index: int) -> Item:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} examples")
        if self._renderer is None:
            self._renderer = self.renderer_factory(self.plan.scene)
        rendered = render_example(self.plan, index, self._renderer)
        item: Item = {
            s: torch.from_numpy(np.asarray(rendered.signal(s), dtype=np.float32)) for s in self.signals
        }
        item["labels"] = row_labels(example_row(self.plan, index, rendered.labels))
        return item


def _collate(values: list[Any], where: str) -> Any:
    first = values[0]
    if isinstance(first, Mapping):
        keys = list(dict.fromkeys(k for v in values if isinstance(v, Mapping) for k in v))
        return {
            k: _collate([v.get(k) if isinstance(v, Mapping) else None for v in values], f"{where}.{k}")
            for k in keys
        }
    if all(isinstance(v, torch.Tensor) for v in values):
        shapes = {tuple(v.shape) for v in values}
        if len(shapes) == 1:
            return torch.stack(values)
        if all(v.ndim == 1 for v in values):
            out = torch.full((len(values), max(v.numel() for v in values)), math.nan, dtype=first.dtype)
            for i, v in enumerate(values):
                out[i, : v.numel()] = v
            return out
        raise ValueError(
            f"cannot batch {where}: shapes differ ({sorted(shapes)}); crop to one length or use batch_size=1"
        )
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return torch.tensor(values)
    return list(values)


def collate_examples(batch: Sequence[Item]) -> Item:
    """Batch items: signals stacked ``(B, C, T)``; per-source label tensors padded with NaN to ``(B, S_max)``;
    numbers as tensors ``(B,)``; anything else as lists.

    Raises:
        ValueError: signals of different shapes.
    """
    if not batch:
        raise ValueError("cannot collate an empty batch")
    out: Item = _collate(list(batch), "batch")
    return out
