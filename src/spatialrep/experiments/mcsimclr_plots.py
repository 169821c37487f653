"""Plots of the MC-SimCLR experiment: probes against fine-tuning, metrics against labelled hours, the
augmentation ablation, and a PCA of the pretrained encoder's test embeddings."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spatialrep.io.figures import pyplot, save_figure

__all__ = ["plot_ablation", "plot_embedding_pca", "plot_label_curve", "plot_lp_ft"]

_PANELS = (("accuracy", 100.0, "class accuracy (%)"), ("mae_deg", 1.0, "azimuth MAE (degrees)"))
_MAIN = ("lp-full", "lp-none", "lp-random-init", "lp-features", "ft-full", "ft-none", "scratch")


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    return save_figure(fig, path, dpi=120, format="png", bbox_inches="tight")


def _value(row: Mapping[str, Any] | None, key: str) -> float:
    if row is None or row.get(key) is None:
        return float("nan")
    return float(row[key])


def _row(summary: Sequence[Mapping[str, Any]], method: str, budget: str) -> Mapping[str, Any] | None:
    return next((r for r in summary if r["method"] == method and r["budget"] == budget), None)


def _references(ax: Any, summary: Sequence[Mapping[str, Any]], key: str, scale: float) -> None:
    """Classic localizers and floors (no labels) as horizontal lines."""
    styles = iter(["--", ":", "-.", (0, (3, 1, 1, 1))])
    for row in summary:
        if row["budget"] in ("none", "floor") and np.isfinite(_value(row, key)):
            ax.axhline(
                scale * _value(row, key), color="0.4", linestyle=next(styles, "--"), label=row["method"]
            )


def plot_lp_ft(
    summary: Sequence[Mapping[str, Any]], budgets: Sequence[str], path: str | os.PathLike[str]
) -> Path:
    """Grouped bars (mean ± std over seeds) of the probes, fine-tuned models and baselines per budget."""
    plt = pyplot()
    methods = [m for m in _MAIN if any(r["method"] == m for r in summary)]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    width = 0.8 / max(1, len(methods))
    x = np.arange(len(budgets))
    for ax, (key, scale, label) in zip(axes, _PANELS, strict=True):
        for k, method in enumerate(methods):
            rows = [_row(summary, method, b) for b in budgets]
            ax.bar(
                x + (k - (len(methods) - 1) / 2) * width,
                [scale * _value(r, key) for r in rows],
                width,
                yerr=[scale * _value(r, f"{key}_std") for r in rows],
                capsize=2,
                label=method,
            )
        _references(ax, summary, key, scale)
        ax.set_xticks(x, list(budgets))
        ax.set_xlabel("label budget")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, axis="y")
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("Linear probes, fine-tuning and baselines (mean ± std over seeds)")
    return _save(fig, path)


def plot_label_curve(
    summary: Sequence[Mapping[str, Any]], hours: Mapping[str, float], path: str | os.PathLike[str]
) -> Path:
    """Accuracy and MAE against labelled hours (log axis): the full probe, fine-tuning and scratch."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (key, scale, label) in zip(axes, _PANELS, strict=True):
        for method in ("lp-full", "ft-full", "scratch", "ft-none", "lp-features"):
            rows = [(hours[b], _row(summary, method, b)) for b in hours]
            rows = [(h, r) for h, r in rows if r is not None]
            if not rows:
                continue
            ax.errorbar(
                [h for h, _ in rows],
                [scale * _value(r, key) for _, r in rows],
                yerr=[scale * _value(r, f"{key}_std") for _, r in rows],
                marker="o",
                capsize=3,
                label=method,
            )
        _references(ax, summary, key, scale)
        ax.set_xscale("log")
        ax.set_xlabel("labelled audio (hours)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("Metrics against the amount of labelled audio")
    return _save(fig, path)


def plot_ablation(
    summary: Sequence[Mapping[str, Any]], budgets: Sequence[str], path: str | os.PathLike[str]
) -> Path:
    """Δ of each pretraining variant's linear probe against the full one, per budget."""
    plt = pyplot()
    variants = [
        m for m in ("lp-none", "lp-no-cs", "lp-no-mu", "lp-no-rrc", "lp-no-cd") if _row_any(summary, m)
    ]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / max(1, len(budgets))
    x = np.arange(len(variants))
    for ax, (key, scale, label) in zip(axes, _PANELS, strict=True):
        for k, budget in enumerate(budgets):
            full = _value(_row(summary, "lp-full", budget), key)
            deltas = [scale * (_value(_row(summary, v, budget), key) - full) for v in variants]
            ax.bar(x + (k - (len(budgets) - 1) / 2) * width, deltas, width, label=f"budget {budget}")
        ax.axhline(0.0, color="0.2", linewidth=0.8)
        ax.set_xticks(x, variants, rotation=15)
        ax.set_ylabel(f"Δ {label} vs lp-full")
        ax.grid(alpha=0.3, axis="y")
    axes[-1].legend(fontsize=8)
    fig.suptitle("Augmentation ablation: linear probe of each variant minus the full one")
    return _save(fig, path)


def _row_any(summary: Sequence[Mapping[str, Any]], method: str) -> bool:
    return any(r["method"] == method for r in summary)


def plot_embedding_pca(
    arrays: Mapping[str, np.ndarray], classes: Sequence[str], path: str | os.PathLike[str]
) -> Path:
    """The first two principal components of the test embeddings, coloured by class and by azimuth.

    Args:
        arrays: ``embedding`` ``(n, D)``, ``azimuth`` ``(n,)`` radians, ``class`` ``(n,)`` indices.
        classes: the class names of the indices.
    """
    plt = pyplot()
    z = np.asarray(arrays["embedding"], dtype=np.float64)
    centred = z - z.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    points = centred @ vt[:2].T if vt.shape[0] >= 2 else np.pad(centred @ vt.T, ((0, 0), (0, 1)))
    explained = singular**2 / max(float(np.sum(singular**2)), 1e-30)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    index = np.asarray(arrays["class"], dtype=int)
    cmap = plt.get_cmap("tab20")
    for k in np.unique(index):
        mask = index == k
        axes[0].scatter(points[mask, 0], points[mask, 1], s=10, color=cmap(k % 20), label=classes[k])
    axes[0].legend(fontsize=6, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    axes[0].set_title("coloured by sound class")
    shown = axes[1].scatter(
        points[:, 0],
        points[:, 1],
        s=10,
        c=np.degrees(arrays["azimuth"]),
        cmap="twilight",
        vmin=-180,
        vmax=180,
    )
    fig.colorbar(shown, ax=axes[1], label="azimuth (degrees)")
    axes[1].set_title("coloured by azimuth")
    for ax in axes:
        ax.set_xlabel(f"PC 1 ({100 * explained[0]:.0f} %)")
        ax.set_ylabel(f"PC 2 ({100 * explained[min(1, explained.size - 1)]:.0f} %)")
    fig.suptitle("Test embeddings of the full pretrained encoder (PCA)")
    return _save(fig, path)
