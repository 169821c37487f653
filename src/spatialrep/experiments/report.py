"""Result tables of experiments: rows of plain dicts -> CSV, JSON and Markdown, written atomically.

A *row* is one evaluated model on one test set: identifying keys (``method``, ``seed``, ``test_set``...) plus
the metrics of :func:`localization_row`, the one result schema every experiment uses (built on
:func:`spatialrep.evaluate.localization_metrics`). Runs over several seeds are summarised by
:func:`aggregate` into mean, standard deviation and count per group.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spatialrep.evaluate.metrics import DEFAULT_SNR_BANDS, localization_metrics
from spatialrep.io.atomic import atomic_write_text

__all__ = [
    "aggregate",
    "localization_row",
    "markdown_table",
    "plain",
    "read_json",
    "write_json",
    "write_results",
]


def plain(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers, tuples as lists and NaN / inf as ``None`` (strict
    JSON)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # strict JSON has no NaN/inf
    return value


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented strict JSON (NaN and inf become ``null``), atomically."""
    atomic_write_text(path, json.dumps(plain(data), indent=2, allow_nan=False) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file written by :func:`write_json`.

    Raises:
        ValueError: the file is not valid JSON (its path is named).
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); delete it to recompute") from exc


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    return columns


def _cell(value: Any, float_format: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else format(value, float_format)
    return str(value)


def markdown_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, float_format: str = ".2f"
) -> str:
    """GitHub Markdown table of ``rows`` (missing cells and NaN are left empty)."""
    columns = list(columns) if columns is not None else _columns(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c), float_format) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def aggregate(
    rows: Sequence[Mapping[str, Any]], group_by: Sequence[str], values: Sequence[str]
) -> list[dict[str, Any]]:
    """Mean and sample standard deviation of ``values`` over rows sharing ``group_by`` (e.g. over seeds).

    Returns:
        One row per group, in order of first appearance: the ``group_by`` keys, ``n`` (rows in the group),
        and ``<value>`` (mean) and ``<value>_std`` (0 for a single row) per value; NaN values are skipped.
    """
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row.get(k) for k in group_by), []).append(row)
    out = []
    for key, members in groups.items():
        summary: dict[str, Any] = dict(zip(group_by, key, strict=True))
        summary["n"] = len(members)
        for name in values:
            data = np.array([float(m[name]) for m in members if m.get(name) is not None], dtype=np.float64)
            data = data[~np.isnan(data)]
            summary[name] = float(data.mean()) if data.size else float("nan")
            summary[f"{name}_std"] = (
                float(data.std(ddof=1)) if data.size > 1 else 0.0 if data.size else math.nan
            )
        out.append(summary)
    return out


def write_results(
    out_dir: str | os.PathLike[str],
    rows: Sequence[Mapping[str, Any]],
    summary: Sequence[Mapping[str, Any]],
    *,
    title: str,
    summary_columns: Sequence[str] | None = None,
    extra_markdown: str = "",
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write ``results.csv`` (every row), ``results.json`` and ``results.md`` (the summary table) atomically.

    Args:
        out_dir: the experiment folder.
        rows: one dict per evaluated model (and seed); nested dicts are kept in JSON only.
        summary: the aggregated table shown in Markdown (see :func:`aggregate`).
        title: Markdown heading.
        summary_columns: columns of the Markdown table (default: all).
        extra_markdown: appended after the table (notes, per-band tables).
        metadata: stored under ``"metadata"`` in the JSON (configuration, versions, timings).

    Returns:
        ``{"csv", "json", "markdown"}`` paths.
    """
    out = Path(out_dir)
    flat = [{k: v for k, v in row.items() if not isinstance(v, (Mapping, list, tuple))} for row in rows]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_columns(flat), lineterminator="\n")
    writer.writeheader()
    for row in flat:
        writer.writerow({k: _cell(v, ".6g") if isinstance(v, float) else v for k, v in row.items()})
    paths = {"csv": out / "results.csv", "json": out / "results.json", "markdown": out / "results.md"}
    atomic_write_text(paths["csv"], buffer.getvalue())
    write_json(
        paths["json"], {"metadata": dict(metadata or {}), "summary": list(summary), "rows": list(rows)}
    )
    text = f"# {title}\n\n" + markdown_table(summary, summary_columns)
    if extra_markdown:
        text += "\n" + extra_markdown.rstrip() + "\n"
    atomic_write_text(paths["markdown"], text)
    return paths


def localization_row(
    pred_azimuth: Any,
    true_azimuth: Any,
    *,
    pred_elevation: Any | None = None,
    true_elevation: Any | None = None,
    snr_db: Any | None = None,
    snr_bands: Sequence[tuple[float, float]] = DEFAULT_SNR_BANDS,
    predictions: bool = False,
    **keys: Any,
) -> dict[str, Any]:
    """One result row: ``keys`` plus the azimuth metrics of :func:`localization_metrics` (``mae_deg``,
    ``median_deg``, ``acc5``, ``acc10``, ``er20``, ``count``, and ``snr_bands`` with ``snr_db``), plus the
    same for elevation prefixed ``el_`` when elevations are given, plus ``pred_azimuth_deg`` (and
    ``pred_elevation_deg``) with ``predictions``. Angles are radians in.

    Raises:
        ValueError: as :func:`localization_metrics`.
    """
    row: dict[str, Any] = dict(keys)
    row.update(localization_metrics(pred_azimuth, true_azimuth, snr_db=snr_db, snr_bands=snr_bands))
    if (pred_elevation is None) != (true_elevation is None):
        raise ValueError("give both pred_elevation and true_elevation, or neither")
    if pred_elevation is not None:
        # Elevations lie in [-90°, 90°], so their wrapped difference is the plain absolute difference.
        elevation = localization_metrics(pred_elevation, true_elevation)
        row.update({f"el_{name}": value for name, value in elevation.items() if name != "count"})
    if predictions:
        row["pred_azimuth_deg"] = np.degrees(np.asarray(pred_azimuth, dtype=np.float64)).round(4).tolist()
        if pred_elevation is not None:
            row["pred_elevation_deg"] = np.degrees(np.asarray(pred_elevation, np.float64)).round(4).tolist()
    return row
