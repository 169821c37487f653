"""Result tables of experiments: rows of plain dicts -> CSV, JSON and Markdown, written atomically.

A *row* is one evaluated model on one test set (keys such as ``method``, ``seed``, ``mae_deg``). Runs over
several seeds are summarised by :func:`aggregate` into mean, standard deviation and count per group.
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

from spatialrep.io.atomic import atomic_write_text

__all__ = ["aggregate", "claim_output_folder", "markdown_table", "read_json", "write_json", "write_results"]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # strict JSON has no NaN/inf
    return value


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented strict JSON (NaN and inf become ``null``), atomically."""
    atomic_write_text(path, json.dumps(_plain(data), indent=2, allow_nan=False) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file written by :func:`write_json`.

    Raises:
        ValueError: the file is not valid JSON (its path is named).
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); delete it to recompute") from exc


def claim_output_folder(
    out: Path, record: Mapping[str, Any], *, what: str, allowed: Sequence[str] = ()
) -> None:
    """Make ``out`` an experiment folder for ``record`` (its JSON-ready configuration), or refuse.

    A new or empty folder (entries named in ``allowed`` aside) gets ``experiment.json``; a folder whose
    ``experiment.json`` equals ``record`` is resumed.

    Raises:
        ValueError: ``out`` holds an experiment of another configuration (the differing keys are named), or
            other files and no ``experiment.json``.
    """
    stored_path = out / "experiment.json"
    wanted = _plain(record)
    if stored_path.is_file():
        stored = read_json(stored_path)
        if stored != wanted:
            keys = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
            raise ValueError(
                f"{out} holds an {what} with another configuration (differs in: {', '.join(keys)}); "
                "use another --out folder or delete it"
            )
        return
    if out.exists() and any(p.name not in allowed for p in out.iterdir()):
        raise ValueError(f"{out} is not empty and holds no {what}; use a new or empty --out folder")
    write_json(stored_path, wanted)


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
