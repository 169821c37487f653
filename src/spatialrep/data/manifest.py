"""Manifests: one CSV row per example, its audio files and every label.

Columns (see ``docs/datasets.md``): ``id``, ``split``, one ``<signal>_path`` per saved signal (relative to the
dataset folder, or absolute), optional ``start_s``/``end_s`` (a time span of the file), then the labels.
Per-source labels (``azimuth_deg``, ``elevation_deg``, ``distance_m``, ``class``...) are JSON lists in target
order; other lists and dicts are JSON too; numbers use Python's shortest round-trip form; empty means none.
Writing the same rows gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spatialrep.io.atomic import atomic_write_text

MANIFEST = "manifest.csv"
BUDGETS_DIR = "budgets"
PATH_SUFFIX = "_path"
REQUIRED_COLUMNS = ("id", "split")
STRING_COLUMNS = frozenset(
    {"id", "split", "receiver", "receiver_kind", "room_id", "noise_type", "source_file", "dataset"}
)
"""Columns always read back as strings (with every ``*_path`` column)."""


class ManifestError(ValueError):
    """A manifest is missing, malformed or names missing files; the message names the file and the culprit."""


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def encode_cell(value: Any) -> str:
    """One CSV cell: strings as is, ``None`` empty, numbers and booleans as JSON, lists/dicts as JSON."""
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return json.dumps(value, separators=(", ", ": "), allow_nan=True)


def decode_cell(column: str, text: str) -> Any:
    """Inverse of :func:`encode_cell` for ``column`` (strings stay strings in :data:`STRING_COLUMNS`)."""
    if column in STRING_COLUMNS or column.endswith(PATH_SUFFIX):
        return text
    if text == "":
        return None
    if text[0] in "[{" or text in ("true", "false"):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    if text in ("nan", "inf", "-inf"):
        return float(text)
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def columns_of(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Union of the rows' keys, in first-seen order."""
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def manifest_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """The CSV text of ``rows`` (``\\n`` line ends)."""
    columns = list(columns) if columns is not None else columns_of(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([encode_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def write_manifest(
    path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> None:
    """Write ``rows`` as a manifest CSV, atomically."""
    atomic_write_text(path, manifest_text(rows, columns))


def read_table(path: str | os.PathLike[str]) -> tuple[list[str], list[list[str]]]:
    """The header and the raw (undecoded) cells of a manifest CSV.

    Raises:
        ManifestError: a missing or unreadable file, or a record longer than the header.
    """
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, [])
            records = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ManifestError(f"cannot read manifest {p}: {exc}") from exc
    for line, record in enumerate(records, start=2):
        if len(record) > len(header):
            raise ManifestError(f"manifest {p} line {line} has more cells than the header")
    return header, records


def table_text(header: Sequence[str], records: Sequence[Sequence[str]]) -> str:
    """CSV text of raw cells (``table_text(*read_table(p))`` rewrites a manifest byte for byte)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(records)
    return buffer.getvalue()


def read_rows(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows of a manifest CSV with decoded cells.

    Raises:
        ManifestError: a missing or unreadable file, no header, or missing ``id``/``split`` columns.
    """
    p = Path(path)
    if not p.is_file():
        raise ManifestError(f"manifest not found: {p}")
    try:
        with p.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise ManifestError(
                    f"manifest {p} lacks column(s) {', '.join(missing)} (has: {', '.join(header)})"
                )
            rows = []
            for line, raw in enumerate(reader, start=2):
                if None in raw:
                    raise ManifestError(f"manifest {p} line {line} has more cells than the header")
                rows.append({k: decode_cell(k, v if v is not None else "") for k, v in raw.items()})
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ManifestError(f"cannot read manifest {p}: {exc}") from exc
    return rows


def signal_columns(rows_or_columns: Iterable[Any]) -> list[str]:
    """Signal names with a ``<signal>_path`` column."""
    first = next(iter(rows_or_columns), None)
    if first is None:
        return []
    columns = first.keys() if isinstance(first, Mapping) else rows_or_columns
    return [c[: -len(PATH_SUFFIX)] for c in columns if c.endswith(PATH_SUFFIX)]


def dataset_root(manifest: Path) -> Path:
    """The folder manifest paths are relative to: the dataset folder (also for ``budgets/*.csv``)."""
    folder = manifest.parent
    if folder.name == BUDGETS_DIR and (folder.parent / MANIFEST).is_file():
        return folder.parent
    return folder


def resolve_path(base: Path, value: str) -> Path:
    """A manifest path: absolute as is, relative to the dataset root ``base`` otherwise."""
    path = Path(value)
    return path if path.is_absolute() else base / path


def check_files(
    rows: Sequence[Mapping[str, Any]], base: Path, signals: Sequence[str], manifest: Path
) -> None:
    """Every row names an existing file for each of ``signals``.

    Raises:
        ManifestError: a signal without a column, an empty cell or missing files (the first few are named).
    """
    missing: list[str] = []
    for signal in signals:
        column = signal + PATH_SUFFIX
        for row in rows:
            if column not in row:
                raise ManifestError(
                    f"manifest {manifest} has no column {column!r} for signal {signal!r}; "
                    f"signals present: {', '.join(signal_columns(row.keys())) or 'none'}"
                )
            value = row[column]
            if not value:
                missing.append(f"{row['id']}: empty {column}")
            elif not resolve_path(base, value).is_file():
                missing.append(str(resolve_path(base, value)))
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ManifestError(f"manifest {manifest} names {len(missing)} missing audio file(s): {shown}")


def _refuse_unavailable_budget(root: Path, budget: str) -> None:
    """Raise the reason recorded in ``dataset.json`` for a budget that was asked for but not made."""
    info_path = root / "dataset.json"
    if not info_path.is_file():
        return
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    entry = info.get("budgets", {}).get(budget) if isinstance(info, dict) else None
    if isinstance(entry, dict) and entry.get("available") is False:
        raise ManifestError(
            f"label budget {budget!r} of dataset {root} asks for {entry.get('requested_s')} s of labelled "
            f"audio but the train split holds {entry.get('train_split_s')} s, so it was not made; render "
            "more examples or use a smaller budget"
        )


def find_manifest(path: str | os.PathLike[str], budget: str | None = None) -> Path:
    """The manifest CSV of a dataset folder (or a CSV path), or of one of its budgets.

    Raises:
        ManifestError: no manifest, or an unknown budget (lists the valid ones).
    """
    p = Path(path)
    if p.is_dir():
        if budget is not None:
            candidate = p / BUDGETS_DIR / f"{budget}.csv"
            if not candidate.is_file():
                _refuse_unavailable_budget(p, budget)
                valid = (
                    sorted(q.stem for q in (p / BUDGETS_DIR).glob("*.csv"))
                    if (p / BUDGETS_DIR).is_dir()
                    else []
                )
                raise ManifestError(
                    f"dataset {p} has no budget {budget!r}; valid: {', '.join(valid) or 'none'}"
                )
            return candidate
        p = p / MANIFEST
    elif budget is not None:
        raise ManifestError(f"budget {budget!r} needs a dataset folder, got the file {p}")
    if not p.is_file():
        raise ManifestError(
            f"no manifest at {p}: render a dataset with `spatialrep simulate` or import one with "
            "`spatialrep dataset import`"
        )
    return p
