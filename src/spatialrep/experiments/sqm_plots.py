"""Figures of the SQM-BS experiment (PNG): D against Δ, common-area histograms, severity curves, MP@K bars,
the embedding PCA and the enhancement cue errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spatialrep.io.figures import pyplot, save_figure

__all__ = ["make_plots"]


PLOTTED = (
    "combined",
    "combined (embedding)",
    "combined-2ch",
    "doa-classif",
    "cue",
    "l1",
    "mrstft",
    "sfd-embedding",
)
"""The metrics drawn in the per-metric panels (every metric is in the D-vs-Δ curves and the tables)."""


def _save(fig: Any, path: Path) -> str:
    fig.subplots_adjust(wspace=0.35, hspace=0.45)
    return str(save_figure(fig, path, dpi=80, format="png"))


def _metrics(data: Mapping[str, np.ndarray]) -> list[str]:
    return [k.split("__", 1)[1] for k in data if k.startswith("az__")]


def _normalised_means(delta: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    levels = np.unique(delta)
    means = np.array([d[delta == v].mean() for v in levels])
    span = float(means.max() - means.min()) or 1.0
    return levels, (means - means.min()) / span  # min-max: the trend, whatever each metric's offset


def make_plots(
    out: Path, splits: Mapping[str, Mapping[str, np.ndarray]], enhancement: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Write every figure from the per-split plot data of ``eval/<split>.npz``; returns their paths."""
    plt = pyplot()
    paths = []
    # D against Δaz and Δel
    fig, axes = plt.subplots(len(splits), 2, figsize=(11, 3.8 * len(splits)), squeeze=False)
    for row, (split, data) in enumerate(splits.items()):
        for col, what in enumerate(("az", "el")):
            ax = axes[row][col]
            for k, name in enumerate(_metrics(data)):
                x, y = _normalised_means(data[f"{what}_delta"], data[f"{what}__{name}"])
                style = "-" if k < 10 else "--"  # 10 colours, then dashed
                ax.plot(x, y, style, marker="o", ms=3, color=f"C{k % 10}", label=name)
            ax.set_xlabel(f"Δ{what} (deg)")
            ax.set_ylabel("mean D (min-max scaled)")
            ax.set_title(f"{split}: D vs Δ{what} (content not matched)")
    axes[0][1].legend(fontsize=7, loc="lower right")
    paths.append(_save(fig, out / "d_vs_delta.png"))
    # common-area histograms
    for split, data in splits.items():
        names = [n for n in _metrics(data) if n in PLOTTED]
        fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.6), squeeze=False)
        for ax, name in zip(axes[0], names, strict=True):
            s, x = data[f"ca_same__{name}"], data[f"ca_diff__{name}"]
            bins = np.linspace(min(s.min(), x.min()), max(s.max(), x.max()) + 1e-12, 20)
            ax.hist(s, bins=bins, alpha=0.6, label="same location")
            ax.hist(x, bins=bins, alpha=0.6, label="both differ")
            ax.set_title(name, fontsize=8)
            ax.tick_params(labelsize=6)
        axes[0][0].legend(fontsize=6)
        paths.append(_save(fig, out / f"ca_hist_{split}.png"))
    # severity curves of each metric, one panel per degradation
    for split, data in splits.items():
        kinds = sorted(
            {k.split("__")[0][4:] for k in data if k.startswith("deg_") and not k.endswith("__rank")}
        )
        fig, axes = plt.subplots(1, len(kinds), figsize=(2.6 * len(kinds), 2.8), squeeze=False)
        for ax, kind in zip(axes[0], kinds, strict=True):
            for name in [n for n in _metrics(data) if n in PLOTTED]:
                x, y = _normalised_means(data[f"deg_{kind}__rank"], data[f"deg_{kind}__{name}"])
                ax.plot(x, y, marker=".", label=name)
            ax.set_title(kind, fontsize=8)
            ax.set_xlabel("severity rank", fontsize=7)
        axes[0][-1].legend(fontsize=5)
        paths.append(_save(fig, out / f"severity_{split}.png"))
    # embedding PCA of the retrieval clips
    for split, data in splits.items():
        if "embedding__combined" not in data:
            continue
        emb = data["embedding__combined"] - data["embedding__combined"].mean(axis=0)
        _, _, vt = np.linalg.svd(emb, full_matrices=False)
        proj = emb @ vt[:2].T
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.scatter(proj[:, 0], proj[:, 1], c=data["retrieval_groups"], cmap="tab20", s=12)
        ax.set_title(f"{split}: combined, PCA\n(colour = direction)", fontsize=9)
        paths.append(_save(fig, out / f"embedding_pca_{split}.png"))
    if enhancement:
        fig, axes = plt.subplots(1, 3, figsize=(10, 3))
        names = [r["system"] for r in enhancement]
        for ax, key in zip(axes, ("d_ild_db", "d_itd_us", "d_iacc"), strict=True):
            ax.bar(names, [r[key] for r in enhancement])
            ax.set_title(key)
            ax.tick_params(axis="x", rotation=30, labelsize=7)
        paths.append(_save(fig, out / "enhancement_cues.png"))
    return paths
