"""Cached feature stacks of a dataset, so training reads features instead of recomputing them.

Layout of a cache folder (default ``DATASET_DIR/features/<stack>-<signal>``)::

    OUT/
      features.json          format, FeatureConfig, its hash, signal, dataset fingerprint, channel names, axes
      index.csv              id, split, path, frames (written when every example is done)
      <split>/<id>.safetensors   tensor "features": float32 (feature_channels, bins, frames)

Every file is written under a temporary name and renamed, so a file either is complete or does not exist; a
rerun skips finished examples (resume). ``features.json`` records the config hash (which includes
``FEATURE_VERSION``): a cache made with another config, signal or dataset render is *stale* and is refused
unless ``overwrite`` is given.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import soundfile as sf
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm.auto import tqdm

from spatialrep.data.datasets import ManifestDataset
from spatialrep.data.manifest import PATH_SUFFIX, resolve_path
from spatialrep.features.frontend import FEATURE_VERSION, FeatureConfig, FeatureFrontEnd
from spatialrep.io.atomic import atomic_path, atomic_write_text

__all__ = [
    "FEATURES_JSON",
    "FeatureCache",
    "FeatureCacheReport",
    "StaleCacheError",
    "cache_features",
    "default_cache_dir",
]

FORMAT = "spatialrep-features"
FORMAT_VERSION = 1
FEATURES_JSON = "features.json"
INDEX_CSV = "index.csv"
TENSOR = "features"


class StaleCacheError(ValueError):
    """The output folder holds features of another config, signal or dataset; the message says which."""


@dataclass(frozen=True)
class FeatureCacheReport:
    """What :func:`cache_features` did.

    Attributes:
        out: the cache folder.
        computed: examples computed by this call.
        skipped: examples found already cached (resume).
        info: the content of ``features.json``.
    """

    out: Path
    computed: int
    skipped: int
    info: dict[str, Any]


def default_cache_dir(dataset: str | os.PathLike[str], stack: str, signal: str) -> Path:
    """``DATASET_DIR/features/<stack>-<signal>``."""
    root = Path(dataset)
    if root.is_file():
        root = root.parent
    return root / "features" / f"{stack}-{signal}"


def _dataset_info(root: Path) -> dict[str, Any]:
    path = root / "dataset.json"
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    return info if isinstance(info, dict) else {}


def _file_rate(dataset: ManifestDataset, signal: str) -> int:
    path = resolve_path(dataset.root, dataset.rows[0][signal + PATH_SUFFIX])
    try:
        return int(sf.info(str(path)).samplerate)
    except (OSError, RuntimeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc


def _info(front: FeatureFrontEnd, dataset: ManifestDataset, signal: str, stack: str | None) -> dict[str, Any]:
    c = front.config
    dataset_info = _dataset_info(dataset.root)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "feature_version": FEATURE_VERSION,
        "stack": stack,
        "config": c.to_dict(),
        "config_hash": c.config_hash(),
        "signal": signal,
        "dataset": str(dataset.root.resolve()),
        "dataset_fingerprint": dataset_info.get("fingerprint"),
        "tensor": TENSOR,
        "dtype": "float32",
        "shape": ["feature_channels", "bins", "frames"],
        "channel_names": front.channel_names,
        "num_feature_channels": c.num_feature_channels,
        "num_bins": c.num_bins,
        "frame_rate_hz": c.sample_rate / c.hop_length,
        "bin_axes": {
            name: {
                "label": front.bin_axis(name)[1],
                "values": [round(float(v), 6) for v in front.bin_axis(name)[0]],
            }
            for name in c.features
        },
        "complete": False,
        "num_examples": None,
    }


def _check_stale(out: Path, info: dict[str, Any], overwrite: bool) -> None:
    path = out / FEATURES_JSON
    if not path.is_file():
        if out.is_dir() and any(out.iterdir()) and not overwrite:
            raise StaleCacheError(f"{out} is not empty and has no {FEATURES_JSON}; choose another --out")
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise StaleCacheError(f"cannot read {path}: {exc}; remove it or use overwrite") from exc
    reasons = []
    if old.get("format") != FORMAT:
        reasons.append(f"format {old.get('format')!r}")
    if old.get("config_hash") != info["config_hash"]:
        reasons.append(f"config hash {old.get('config_hash')} != {info['config_hash']}")
    if old.get("signal") != info["signal"]:
        reasons.append(f"signal {old.get('signal')!r} != {info['signal']!r}")
    if old.get("dataset_fingerprint") != info["dataset_fingerprint"]:
        reasons.append("the dataset was rendered again (fingerprint differs)")
    if not reasons:
        return
    if not overwrite:
        raise StaleCacheError(
            f"stale feature cache in {out}: {'; '.join(reasons)}. Use --overwrite to recompute it or --out "
            "for another folder"
        )
    # Only what a cache writes is removed: its JSON, index and the split folders of .safetensors files.
    for entry in out.iterdir():
        if entry.is_dir() and all(
            p.suffix == ".safetensors" or p.name.startswith(".") for p in entry.rglob("*")
        ):
            shutil.rmtree(entry)
        elif entry.name in (FEATURES_JSON, INDEX_CSV):
            entry.unlink()


def _example_path(out: Path, row: dict[str, Any]) -> Path:
    return out / str(row["split"]) / f"{row['id']}.safetensors"


def _batches(
    dataset: ManifestDataset, todo: list[int], signal: str, batch_size: int
) -> Iterator[list[tuple[int, torch.Tensor]]]:
    """Examples in order, grouped while their shapes agree (one batched front-end call per group)."""
    group: list[tuple[int, torch.Tensor]] = []
    for index in todo:
        x = dataset[index][signal]
        if group and (len(group) >= batch_size or group[0][1].shape != x.shape):
            yield group
            group = []
        group.append((index, x))
    if group:
        yield group


def _compute(
    front: FeatureFrontEnd,
    data: ManifestDataset,
    todo: list[int],
    signal: str,
    batch_size: int,
    target: Path,
    info: dict[str, Any],
    skipped: int,
    progress: bool,
) -> None:
    """Compute and store the features of the examples ``todo`` (each file written atomically)."""
    metadata = {"config_hash": info["config_hash"], "signal": signal}
    with (
        torch.inference_mode(),
        tqdm(
            total=len(data.rows),
            initial=skipped,
            unit="ex",
            desc="features",
            disable=not progress,
            dynamic_ncols=True,
        ) as bar,
    ):
        for group in _batches(data, todo, signal, batch_size):
            batch = torch.stack([x for _, x in group])
            try:
                stacked = front(batch)
            except ValueError as exc:
                raise ValueError(f"example {data.rows[group[0][0]]['id']} of {data.manifest}: {exc}") from exc
            for (index, _), value in zip(group, stacked):
                row = data.rows[index]
                with atomic_path(_example_path(target, row)) as tmp:
                    save_file(
                        {TENSOR: value.contiguous()}, str(tmp), metadata={**metadata, "id": str(row["id"])}
                    )
            bar.update(len(group))


def cache_features(
    dataset: str | os.PathLike[str],
    config: FeatureConfig,
    out: str | os.PathLike[str] | None = None,
    *,
    signal: str = "noisy",
    split: str | None = None,
    stack: str | None = None,
    overwrite: bool = False,
    batch_size: int = 16,
    progress: bool = False,
) -> FeatureCacheReport:
    """Compute and store the feature stack of every example of a dataset (resumable).

    Args:
        dataset: a dataset folder (its ``manifest.csv``) or a manifest CSV (see ``docs/datasets.md``).
        config: the features; its sample rate and channel count must match the dataset's.
        out: cache folder; default :func:`default_cache_dir` with ``stack`` (or ``"custom"``).
        signal: which signal of the manifest (``<signal>_path`` column), e.g. ``noisy``.
        split: only this split (``train``, ``val``, ``test``); default all.
        stack: the preset name, recorded in ``features.json``.
        overwrite: replace a stale cache (another config, signal or dataset render) in ``out``.
        batch_size: examples per front-end call (consecutive examples of equal length are batched).
        progress: show a progress bar.

    Returns:
        A :class:`FeatureCacheReport`.

    Raises:
        StaleCacheError: ``out`` holds another cache (without ``overwrite``) or foreign files.
        ValueError: sample rate or channel mismatch (naming the example), a bad batch size; ``ManifestError``
            (a ``ValueError``) for a missing manifest, split or signal.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    data = ManifestDataset(dataset, split=split, signals=[signal])
    front = FeatureFrontEnd(config)
    rate = _dataset_info(data.root).get("sample_rate") or _file_rate(data, signal)
    if int(rate) != config.sample_rate:
        raise ValueError(
            f"dataset {data.root} is at {rate} Hz but the feature config expects {config.sample_rate} Hz; "
            "choose a stack for this rate or --set sample_rate=..."
        )
    target = Path(out) if out is not None else default_cache_dir(data.root, stack or "custom", signal)
    info = _info(front, data, signal, stack)
    _check_stale(target, info, overwrite)
    made = [p for p in (target, *target.parents) if not p.exists()]  # folders this call creates
    fresh = not (target / FEATURES_JSON).is_file()
    target.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target / FEATURES_JSON, json.dumps(info, indent=2) + "\n")

    todo = [i for i, row in enumerate(data.rows) if not _example_path(target, row).is_file()]
    skipped = len(data.rows) - len(todo)
    try:
        _compute(front, data, todo, signal, batch_size, target, info, skipped, progress)
    except BaseException:
        if fresh and not any(target.rglob("*.safetensors")):  # nothing to resume: leave no trace
            (target / FEATURES_JSON).unlink(missing_ok=True)
            for folder in sorted(target.glob("*/"), reverse=True):
                with contextlib.suppress(OSError):
                    folder.rmdir()
            for folder in made:
                with contextlib.suppress(OSError):
                    folder.rmdir()
        raise

    index_rows = []
    for row in data.rows:
        path = _example_path(target, row)
        with safe_open(str(path), framework="pt") as f:
            frames = f.get_slice(TENSOR).get_shape()[-1]
        index_rows.append([row["id"], row["split"], path.relative_to(target).as_posix(), frames])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "split", "path", "frames"])
    writer.writerows(index_rows)
    atomic_write_text(target / INDEX_CSV, buffer.getvalue())
    info.update(complete=True, num_examples=len(index_rows), split=split)
    atomic_write_text(target / FEATURES_JSON, json.dumps(info, indent=2) + "\n")
    return FeatureCacheReport(target, len(todo), skipped, info)


class FeatureCache:
    """Read a finished feature cache: ``cache[i]`` or ``cache.load(id)`` gives ``(channels, bins, frames)``.

    Args:
        path: the cache folder (with ``features.json`` and ``index.csv``).
        split: keep only this split.

    Raises:
        ValueError: not a complete feature cache, or an unknown split.
    """

    def __init__(self, path: str | os.PathLike[str], *, split: str | None = None) -> None:
        self.root = Path(path)
        meta = self.root / FEATURES_JSON
        if not meta.is_file():
            raise ValueError(f"{self.root} is not a feature cache (no {FEATURES_JSON})")
        self.info: dict[str, Any] = json.loads(meta.read_text(encoding="utf-8"))
        if self.info.get("format") != FORMAT or not self.info.get("complete"):
            raise ValueError(f"{self.root} is not a complete feature cache; rerun `spatialrep features`")
        self.config = FeatureConfig.from_dict(self.info["config"])
        with (self.root / INDEX_CSV).open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        if split is not None:
            present = sorted({r["split"] for r in rows})
            rows = [r for r in rows if r["split"] == split]
            if not rows:
                raise ValueError(
                    f"feature cache {self.root} has no split {split!r}; present: {', '.join(present)}"
                )
        self.rows = rows
        self._by_id = {r["id"]: k for k, r in enumerate(rows)}

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def ids(self) -> list[str]:
        return [r["id"] for r in self.rows]

    def __getitem__(self, index: int) -> torch.Tensor:
        with safe_open(str(self.root / self.rows[index]["path"]), framework="pt") as f:
            return f.get_tensor(TENSOR)

    def load(self, example_id: str) -> torch.Tensor:
        """Features of the example ``example_id``.

        Raises:
            KeyError: an id not in the cache.
        """
        if example_id not in self._by_id:
            raise KeyError(f"example {example_id!r} is not in feature cache {self.root}")
        return self[self._by_id[example_id]]
