"""Plots of the DSpAST experiment: feature-attention weights, per-class AP, direction error vs distance."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spatialrep.io.figures import pyplot, save_figure

__all__ = ["plot_attention", "plot_error_vs_distance", "plot_per_class_ap"]

BRANCHES = ("SED", "distance", "direction")


def _final_rows(rows: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The last evaluated stage of every learned model, and every baseline row, by method."""
    out: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        out[str(row["method"])] = row
    return out


def plot_attention(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Mean feature-attention weight (test split) of every feature map (rows) in every branch (columns), one
    panel per model with attention (DSpAST: its last stage)."""
    plt = pyplot()
    models = [r for r in _final_rows(rows).values() if r.get("attention")]
    fig, axes = plt.subplots(1, max(1, len(models)), figsize=(4.2 * max(1, len(models)), 3.8), squeeze=False)
    for ax, row in zip(axes[0], models, strict=False):
        weights = np.asarray(row["attention"], dtype=np.float64).T  # (C, branches)
        image = ax.imshow(weights, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
        ax.set_xticks(range(weights.shape[1]), BRANCHES[: weights.shape[1]])
        ax.set_yticks(range(weights.shape[0]), row["attention_channels"], fontsize=8)
        for (i, j), value in np.ndenumerate(weights):
            ax.text(
                j, i, f"{value:.2f}", ha="center", va="center", color="w" if value < 0.6 else "k", fontsize=8
            )
        ax.set_title(f"{row['method']} ({row['stage']})", fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.046)
    if not models:
        axes[0][0].text(0.5, 0.5, "no model with feature attention", ha="center", va="center")
        axes[0][0].set_axis_off()
    fig.suptitle("Feature attention weights by branch (mean over the test split)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_per_class_ap(
    rows: Sequence[Mapping[str, Any]], classes: Sequence[str], path: str | os.PathLike[str]
) -> Path:
    """Average precision per class of every model that scores classes (NaN classes: no positive test clip)."""
    plt = pyplot()
    scored = [r for r in _final_rows(rows).values() if r.get("per_class_ap") is not None]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(classes) + 2.0), 4.0))
    width = 0.8 / max(1, len(scored))
    x = np.arange(len(classes))
    for k, row in enumerate(scored):
        ap = np.asarray([np.nan if v is None else v for v in row["per_class_ap"]], dtype=np.float64)
        ax.bar(
            x + k * width - 0.4 + width / 2,
            100.0 * ap,
            width,
            label=f"{row['method']} (mAP {row['mAP']:.1f})",
        )
    ax.set_xticks(x, classes, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("AP (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Per-class average precision on the test split", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_error_vs_distance(
    rows: Sequence[Mapping[str, Any]], bin_m: float, path: str | os.PathLike[str]
) -> Path:
    """Mean great-circle direction error against the true distance (bins of ``bin_m``), one-source clips."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for row in _final_rows(rows).values():
        errors, distance = row.get("doa_error_deg"), row.get("true_distance_m")
        if not errors or not distance:
            continue
        e, d = np.asarray(errors, np.float64), np.asarray(distance, np.float64)
        k = np.round(d / bin_m).astype(int)
        centres = np.unique(k)
        means = [float(e[k == c].mean()) for c in centres]
        ax.plot(centres * bin_m, means, marker="o", label=str(row["method"]))
    ax.set_xlabel("true distance (m)")
    ax.set_ylabel("mean direction error (°)")
    ax.set_title("Direction error against source distance (one-source test clips)", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
