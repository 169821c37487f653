"""Summaries of a dataset folder: counts per split, hours, classes, label ranges, budgets."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

from spatialrep.data.manifest import BUDGETS_DIR, ManifestError, find_manifest, read_rows, signal_columns
from spatialrep.data.writer import DATASET_JSON


def _duration(row: dict[str, Any]) -> float:
    value = row.get("duration_s")
    return float(value) if isinstance(value, int | float) else 0.0


def _range(rows: list[dict[str, Any]], column: str) -> list[float] | None:
    values = [float(v) for r in rows for v in (r.get(column) or []) if isinstance(v, int | float)]
    return [min(values), max(values)] if values else None


def dataset_summary(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Summary of a dataset folder or manifest CSV.

    Returns:
        ``{"manifest", "name", "kind", "num_examples", "hours", "signals", "splits": {split: {"num_examples",
        "hours"}}, "classes": {class: sources}, "ranges": {"azimuth_deg"|...: [min, max]}, "receivers",
        "sample_rates", "num_channels", "budgets": {name: {"num_examples", "hours"}}}``.

    Raises:
        ManifestError: no manifest.
    """
    manifest = find_manifest(path)
    rows = read_rows(manifest)
    meta: dict[str, Any] = {}
    json_path = manifest.parent / DATASET_JSON
    if json_path.is_file():
        try:
            meta = json.loads(json_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{json_path} is not valid JSON: {exc}") from exc
    splits: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = splits.setdefault(str(row["split"]), {"num_examples": 0, "hours": 0.0})
        entry["num_examples"] += 1
        entry["hours"] += _duration(row) / 3600
    classes = Counter(c for r in rows for c in (r.get("class") or []) if isinstance(c, str) and c)
    budgets = {}
    folder = manifest.parent / BUDGETS_DIR
    if folder.is_dir():
        for csv_path in sorted(folder.glob("*.csv")):
            part = read_rows(csv_path)
            budgets[csv_path.stem] = {"num_examples": len(part), "hours": sum(map(_duration, part)) / 3600}
    return {
        "manifest": str(manifest),
        "name": meta.get("name", manifest.parent.name),
        "kind": meta.get("kind", "unknown"),
        "num_examples": len(rows),
        "hours": sum(map(_duration, rows)) / 3600,
        "signals": signal_columns(rows),
        "splits": splits,
        "classes": dict(sorted(classes.items())),
        "ranges": {c: _range(rows, c) for c in ("azimuth_deg", "elevation_deg", "distance_m")},
        "receivers": sorted({str(r.get("receiver")) for r in rows if r.get("receiver")}),
        "sample_rates": sorted({r["sample_rate"] for r in rows if isinstance(r.get("sample_rate"), int)}),
        "num_channels": sorted({r["num_channels"] for r in rows if isinstance(r.get("num_channels"), int)}),
        "budgets": budgets,
    }


def _hours_text(hours: float) -> str:
    return f"{hours:.3f} h" if hours >= 1 else f"{hours * 60:.2f} min"


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable lines of :func:`dataset_summary`."""
    lines = [
        f"dataset {summary['name']} ({summary['kind']}): {summary['num_examples']} examples, "
        f"{_hours_text(summary['hours'])} — {summary['manifest']}",
        f"signals: {', '.join(summary['signals']) or 'none'}; "
        f"receivers: {', '.join(summary['receivers']) or '?'}; "
        f"sample rates: {', '.join(map(str, summary['sample_rates'])) or '?'} Hz; channels: "
        f"{', '.join(map(str, summary['num_channels'])) or '?'}",
    ]
    for name, entry in summary["splits"].items():
        lines.append(f"  {name:6s} {entry['num_examples']:8d} examples {_hours_text(entry['hours']):>14s}")
    for name, entry in sorted(summary["budgets"].items(), key=lambda kv: kv[1]["hours"]):
        lines.append(f"  budget {name}: {entry['num_examples']} examples, {_hours_text(entry['hours'])}")
    for column, bounds in summary["ranges"].items():
        if bounds is not None:
            lines.append(f"  {column}: {bounds[0]:g} .. {bounds[1]:g}")
    classes = summary["classes"]
    if classes:
        shown = ", ".join(f"{k} ({v})" for k, v in list(classes.items())[:30])
        lines.append(f"  {len(classes)} classes: {shown}{' ...' if len(classes) > 30 else ''}")
    return "\n".join(lines)
