"""Import real recordings: a manifest over existing binaural or array files plus a label CSV.

The label CSV has columns ``file, azimuth_deg, elevation_deg, distance_m, class`` and optionally ``start_s,
end_s``: one row per source, per file or per time span. Rows naming the same file and span become one example
with several sources. ``file`` is a path inside the audio folder; ``distance_m`` and ``class`` may
be empty (unknown). The audio stays where it is: the manifest names it by absolute path.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import soundfile as sf

from spatialrep.data.config import SPLITS
from spatialrep.data.manifest import MANIFEST, write_manifest
from spatialrep.data.writer import DATASET_JSON, FORMAT, FORMAT_VERSION, library_versions
from spatialrep.io.atomic import atomic_write_text

REQUIRED = ("file", "azimuth_deg", "elevation_deg", "distance_m", "class")
OPTIONAL = ("start_s", "end_s")


class LabelFileError(ValueError):
    """The label CSV is malformed or holds invalid values; the message names the file, line and column."""


@dataclass
class _Example:
    file: str
    path: Path
    start: float | None
    end: float | None
    azimuth: list[float] = field(default_factory=list)
    elevation: list[float] = field(default_factory=list)
    distance: list[float | None] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)


def _number(text: str, where: str, column: str, *, optional: bool = False) -> float | None:
    text = text.strip()
    if not text:
        if optional:
            return None
        raise LabelFileError(f"{where}: {column} is empty")
    try:
        value = float(text)
    except ValueError:
        raise LabelFileError(f"{where}: {column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise LabelFileError(f"{where}: {column} {text!r} is not finite")
    return value


def _check_range(value: float, low: float, high: float, where: str, column: str) -> float:
    if not low <= value <= high:
        raise LabelFileError(f"{where}: {column} {value:g} is out of range [{low:g}, {high:g}]")
    return value


def read_labels(labels_csv: Path, audio_dir: Path) -> list[_Example]:
    """Parse and validate the label CSV, grouping rows into examples (first-seen order).

    Raises:
        LabelFileError: not UTF-8 or not valid CSV, missing columns, bad numbers, out-of-range angles or
            distances, bad spans, missing files, paths outside the audio
            folder, repeated rows (each named with its line).
    """
    if not labels_csv.is_file():
        raise LabelFileError(f"label file not found: {labels_csv}")
    try:
        with labels_csv.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f, strict=True)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise LabelFileError(
                    f"label file {labels_csv} lacks column(s) {', '.join(missing)}; it needs "
                    f"{', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)}); found: "
                    f"{', '.join(header) or 'nothing'}"
                )
            raw_rows = [{(k or "").strip(): (v or "") for k, v in row.items()} for row in reader]
    except UnicodeDecodeError as exc:
        raise LabelFileError(f"label file {labels_csv} is not UTF-8 text (a binary file?): {exc}") from exc
    except csv.Error as exc:
        raise LabelFileError(
            f"label file {labels_csv} is not valid CSV (line {reader.line_num}): {exc}"
        ) from exc
    if not raw_rows:
        raise LabelFileError(f"label file {labels_csv} has no rows")
    examples: dict[tuple[str, float | None, float | None], _Example] = {}
    seen: dict[tuple[str, float | None, float | None], dict[tuple[Any, ...], int]] = {}
    absent: list[str] = []
    for line, row in enumerate(raw_rows, start=2):
        where = f"{labels_csv} line {line}"
        name = row["file"].strip()
        if not name:
            raise LabelFileError(f"{where}: file is empty")
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise LabelFileError(
                f"{where}: file {name!r} must be a path inside the audio folder {audio_dir} "
                "(no absolute path, no '..')"
            )
        path = audio_dir / name
        if not path.is_file():
            absent.append(name)
            continue
        azimuth = _check_range(
            _number(row["azimuth_deg"], where, "azimuth_deg") or 0.0, -180, 180, where, "azimuth_deg"
        )
        elevation = _check_range(
            _number(row["elevation_deg"], where, "elevation_deg") or 0.0, -90, 90, where, "elevation_deg"
        )
        distance = _number(row["distance_m"], where, "distance_m", optional=True)
        if distance is not None and distance <= 0:
            raise LabelFileError(f"{where}: distance_m {distance:g} must be positive (or empty when unknown)")
        start = _number(row.get("start_s", ""), where, "start_s", optional=True)
        end = _number(row.get("end_s", ""), where, "end_s", optional=True)
        if start is not None and start < 0:
            raise LabelFileError(f"{where}: start_s {start:g} is negative")
        if start is not None and end is not None and end <= start:
            raise LabelFileError(f"{where}: end_s {end:g} is not after start_s {start:g}")
        key = (name, start, end)
        source = (azimuth, elevation, distance, row["class"].strip())
        if key in seen and source in seen[key]:
            raise LabelFileError(
                f"{where}: repeats line {seen[key][source]} (same file, span and source); a second source of "
                "one example needs its own direction or class"
            )
        seen.setdefault(key, {})[source] = line
        example = examples.setdefault(key, _Example(name, path.resolve(), start, end))
        example.azimuth.append(azimuth)
        example.elevation.append(elevation)
        example.distance.append(distance)
        example.classes.append(row["class"].strip())
    if absent:
        shown = ", ".join(sorted(set(absent))[:3]) + (" ..." if len(set(absent)) > 3 else "")
        raise LabelFileError(
            f"label file {labels_csv} names {len(set(absent))} file(s) not found in {audio_dir}: {shown}"
        )
    return list(examples.values())


def _expected_channels(receiver: str, sample_rate: int) -> int:
    from spatialrep.simulate.receiver_factory import make_receiver

    return int(make_receiver(receiver, sample_rate).num_channels)


def import_recordings(
    audio_dir: str | os.PathLike[str],
    labels_csv: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    receiver: str | None = None,
    split: str = "test",
    name: str | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Build a dataset folder (``manifest.csv``, ``dataset.json``) over existing recordings.

    Args:
        audio_dir: folder of the audio files (any format libsndfile reads).
        labels_csv: the label CSV (see the module docstring).
        out: output folder (created; must be empty unless ``overwrite``).
        receiver: receiver name recorded in the manifest; if given, the files' channel counts are checked
            against it (e.g. 2 for ``kemar``, 4 for ``array:circular4``).
        split: split of every example.
        name: dataset name (default: the audio folder's name).
        overwrite: replace an existing dataset in ``out``.

    Returns:
        The content of ``dataset.json``.

    Raises:
        LabelFileError: see :func:`read_labels`; ValueError: unreadable audio, a span beyond a file's end,
        mixed or wrong channel counts, an unknown split, or a non-empty ``out``.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    audio_root, labels_path, root = Path(audio_dir), Path(labels_csv), Path(out)
    if not audio_root.is_dir():
        raise ValueError(f"audio folder not found: {audio_root}")
    examples = read_labels(labels_path, audio_root)
    infos: dict[Path, Any] = {}
    for example in examples:
        if example.path not in infos:
            try:
                infos[example.path] = sf.info(str(example.path))
            except (RuntimeError, sf.LibsndfileError) as exc:
                raise ValueError(f"cannot read audio file {example.path}: {exc}") from exc
    channels = sorted({info.channels for info in infos.values()})
    if len(channels) > 1:
        by_count = {c: next(p.name for p, i in infos.items() if i.channels == c) for c in channels}
        raise ValueError(
            f"recordings in {audio_root} have different channel counts: "
            + ", ".join(f"{c} ({f})" for c, f in by_count.items())
        )
    if receiver is not None:
        rate = next(iter(infos.values())).samplerate
        expected = _expected_channels(receiver, rate)
        if channels[0] != expected:
            raise ValueError(
                f"receiver {receiver!r} has {expected} channels but the recordings in {audio_root} have "
                f"{channels[0]}"
            )
    if root.exists() and any(root.iterdir()):
        if not overwrite:
            raise ValueError(f"output folder {root} is not empty; choose another folder or pass --overwrite")
        if not (root / DATASET_JSON).is_file() and not (root / MANIFEST).is_file():
            raise ValueError(f"output folder {root} holds no spatialrep dataset; refusing to overwrite it")
        shutil.rmtree(root)
    rows = []
    for k, example in enumerate(examples):
        info = infos[example.path]
        length = info.frames / info.samplerate
        start = example.start if example.start is not None else 0.0
        end = example.end if example.end is not None else length
        if end > length + 1.0 / info.samplerate or start >= length:
            raise ValueError(
                f"time span {start:g}..{end:g} s of {example.file} lies beyond the file's end ({length:g} s)"
            )
        spanned = example.start is not None or example.end is not None
        rows.append(
            {
                "id": f"{split}-{k:07d}",
                "split": split,
                "index": k,
                "noisy_path": str(example.path),
                "start_s": start if spanned else None,
                "end_s": min(end, length) if spanned else None,
                "num_sources": len(example.azimuth),
                "azimuth_deg": example.azimuth,
                "elevation_deg": example.elevation,
                "distance_m": example.distance,
                "class": example.classes,
                "source_file": example.file,
                "receiver": receiver or "",
                "num_channels": info.channels,
                "sample_rate": info.samplerate,
                "duration_s": round(min(end, length) - start, 6),
            }
        )
    write_manifest(root / MANIFEST, rows)
    seconds = sum(r["duration_s"] for r in rows)
    info_json = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": "imported",
        "name": name or audio_root.resolve().name,
        "num_examples": len(rows),
        "duration_s": round(seconds, 6),
        "hours": round(seconds / 3600, 6),
        "signals": ["noisy"],
        "manifest": MANIFEST,
        "splits": {
            split: {
                "num_examples": len(rows),
                "duration_s": round(seconds, 6),
                "hours": round(seconds / 3600, 6),
                "receiver": receiver or "",
            }
        },
        "audio_dir": str(audio_root.resolve()),
        "labels": str(labels_path.resolve()),
        "versions": library_versions(),
    }
    atomic_write_text(root / DATASET_JSON, json.dumps(info_json, indent=2) + "\n")
    return info_json
