"""The MC-SimCLR experiment's tables: the summary over seeds and the comparisons its note answers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from spatialrep.experiments.report import aggregate, markdown_table

__all__ = ["ANCHORS", "METRICS", "SUMMARY_COLUMNS", "comparisons", "summarize"]

METRICS = ("accuracy", "mae_deg", "median_deg", "acc10")
SUMMARY_COLUMNS = ("method", "budget", "n", "accuracy % ± std", "MAE ± std", "median_deg", "acc10")

ANCHORS = (
    ("LP, random init", "23.6", "83.1"),
    ("LP, no augmentation", "33.0", "13.2"),
    ("LP, all four augmentations", "51.5", "10.1"),
    ("LP, without Mixup", "", "9.4"),
    ("FT, random init (scratch)", "43.7", "11.8"),
    ("FT, no augmentation", "45.6", "11.4"),
    ("FT, all four augmentations", "53.4", "8.7"),
    ("FT, without Mixup", "", "8.6"),
)
"""The paper's numbers (accuracy %, azimuth error °) from third-party notes: for comparison, never targets."""


def _finite(value: Any) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def _pm(mean: Any, std: Any, scale: float = 1.0) -> str:
    if not _finite(mean):
        return ""
    return f"{scale * mean:.1f} ± {scale * (std if _finite(std) else 0.0):.1f}"


def summarize(rows: Sequence[Mapping[str, Any]], budgets: Sequence[str]) -> list[dict[str, Any]]:
    """Mean and std over seeds per ``(method, budget)``, budgets in order, then classic rows and floors."""
    summary = aggregate(rows, ["method", "budget"], METRICS)
    order = {b: i for i, b in enumerate([*budgets, "none", "floor"])}
    methods = {m: i for i, m in enumerate(dict.fromkeys(r["method"] for r in rows))}
    summary.sort(key=lambda r: (order.get(r["budget"], 99), methods[r["method"]]))
    for row in summary:
        row["accuracy % ± std"] = _pm(row["accuracy"], row["accuracy_std"], 100.0)
        row["MAE ± std"] = _pm(row["mae_deg"], row["mae_deg_std"])
    return summary


def _find(summary: Sequence[Mapping[str, Any]], method: str, budget: str) -> Mapping[str, Any] | None:
    return next((r for r in summary if r["method"] == method and r["budget"] == budget), None)


def _versus(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[str, bool]:
    """Accuracy and MAE differences of ``a`` against ``b`` and whether ``a`` is better on both by more than
    their combined seed spread."""
    d_acc = 100.0 * (a["accuracy"] - b["accuracy"])
    d_mae = a["mae_deg"] - b["mae_deg"]
    s_acc = 100.0 * math.hypot(a["accuracy_std"] or 0.0, b["accuracy_std"] or 0.0)
    s_mae = math.hypot(a["mae_deg_std"] or 0.0, b["mae_deg_std"] or 0.0)
    both = d_acc > s_acc and -d_mae > s_mae
    return f"{d_acc:+.1f} pp (spread {s_acc:.1f}) | {d_mae:+.1f}° (spread {s_mae:.1f})", both


def _pairs_table(summary: Sequence[Mapping[str, Any]], pairs: Sequence[tuple[str, str, str]]) -> list[str]:
    lines = []
    for budget, method, reference in pairs:
        a, b = _find(summary, method, budget), _find(summary, reference, budget)
        if a is None or b is None or not (_finite(a["accuracy"]) and _finite(b["accuracy"])):
            continue
        text, both = _versus(a, b)
        verdict = "yes" if both else "no"
        lines.append(f"| {budget} | {method} vs {reference} | {text} | {verdict} |")
    return lines


def comparisons(
    summary: Sequence[Mapping[str, Any]], budgets: Sequence[str], hours: Mapping[str, float]
) -> str:
    """The note's questions as tables: full LP against the random-init and feature probes (every budget),
    FT against scratch (smallest budget), each augmentation's Δ against full, the floors, the anchors."""
    parts = []
    pairs = [(b, "lp-full", ref) for b in budgets for ref in ("lp-random-init", "lp-features")]
    if budgets:
        pairs += [(budgets[0], "ft-full", "scratch")]
    lines = _pairs_table(summary, pairs)
    if lines:
        parts.append(
            "## Comparisons (difference of means; better on both = accuracy up and MAE down, each by more "
            "than the two rows' seed std combined)\n\n"
            "| budget | comparison | Δ accuracy | Δ MAE | better on both |\n|---|---|---|---|---|\n"
            + "\n".join(lines)
        )
    ablation = []
    for variant in ("none", "no-cs", "no-mu", "no-rrc", "no-cd"):
        for budget in budgets:
            full, other = _find(summary, "lp-full", budget), _find(summary, f"lp-{variant}", budget)
            if full is None or other is None:
                continue
            d_acc = 100.0 * (other["accuracy"] - full["accuracy"])
            d_mae = other["mae_deg"] - full["mae_deg"]
            ablation.append(
                f"| lp-{variant} | {budget} | {d_acc:+.1f} (±{100 * (other['accuracy_std'] or 0):.1f}) | "
                f"{d_mae:+.1f} (±{other['mae_deg_std'] or 0:.1f}) |"
            )
    if ablation:
        parts.append(
            "## Augmentations: linear probe Δ against full (negative accuracy / positive MAE: the left-out "
            "augmentation helped)\n\n| variant | budget | Δ accuracy (pp) | Δ MAE (°) |\n|---|---|---|---|\n"
            + "\n".join(ablation)
        )
    floors = [r for r in summary if r["budget"] == "floor"]
    if floors:
        best_mae = min(r["mae_deg"] for r in floors)
        prior = max((r["accuracy"] for r in floors if _finite(r["accuracy"])), default=float("nan"))
        below = sorted(
            f"{r['method']} ({r['budget']})"
            for r in summary
            if r["budget"] != "floor" and _finite(r["mae_deg"]) and r["mae_deg"] >= best_mae
        )
        parts.append(
            f"## Floors\n\nBest trivial floor: {best_mae:.1f}° MAE; class prior accuracy "
            f"{100 * prior:.1f} %. Rows not below the MAE floor (no evidence of localization): "
            f"{', '.join(below) or 'none'}."
        )
    parts.append(
        "## Labelled audio per budget\n\n"
        + markdown_table([{"budget": b, "hours": hours.get(b, float("nan"))} for b in budgets], None, ".3g")
    )
    anchor_rows = [{"paper setting": n, "accuracy %": a, "error °": e} for n, a, e in ANCHORS]
    parts.append(
        "## The paper's anchors (FSDnoisy18k, 20 classes, 2.4 h of labels; for comparison, never tuned "
        "to)\n\n" + markdown_table(anchor_rows)
    )
    return "\n\n".join(parts) + "\n"
