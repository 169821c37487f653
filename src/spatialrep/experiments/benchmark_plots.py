"""The benchmark's plots: per-suite bars with seed spread, error vs SNR and vs azimuth, an azimuth confusion
plot of the best learned and best classic rows, and 2-D projections of every Embedder's embeddings."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spatialrep.evaluate.metrics import angular_errors
from spatialrep.io.figures import pyplot, save_figure

__all__ = [
    "plot_azimuth_confusion",
    "plot_embeddings",
    "plot_error_vs_azimuth",
    "plot_error_vs_snr",
    "plot_metric_suites",
    "plot_suites",
]

_STYLE = {"learned": "-", "classic": "--", "floor": ":"}


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    save_figure(fig, path, dpi=110)
    return Path(path)


def _errors_by_model(
    rows: Sequence[Mapping[str, Any]], truth_deg: np.ndarray
) -> dict[str, tuple[str, np.ndarray]]:
    """In-domain per-clip errors (degrees) of each model, mean over seeds: ``model -> (kind, errors)``."""
    found: dict[str, tuple[str, list[np.ndarray]]] = {}
    for row in rows:
        if row["suite"] != "in-domain":
            continue
        predicted = np.radians(np.asarray(row["pred_azimuth_deg"], dtype=np.float64))
        errors = np.degrees(angular_errors(predicted, np.radians(truth_deg)))
        found.setdefault(str(row["model"]), (str(row["kind"]), []))[1].append(errors)
    return {model: (kind, np.mean(runs, axis=0)) for model, (kind, runs) in found.items()}


def plot_suites(
    summary: Sequence[Mapping[str, Any]], suites: Sequence[str], path: str | os.PathLike[str]
) -> Path:
    """Grouped bars: each suite's MAE per model, with the standard deviation over seeds."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(suites) + 2), 4.2))
    width = 0.8 / max(1, len(summary))
    x = np.arange(len(suites))
    for i, entry in enumerate(summary):
        means = [entry[s] for s in suites]
        stds = [entry[f"{s}_std"] for s in suites]
        hatch = {"learned": None, "classic": "//", "floor": ".."}[entry["kind"]]
        ax.bar(
            x + i * width - 0.4 + width / 2,
            means,
            width,
            yerr=stds,
            capsize=2,
            hatch=hatch,
            label=entry["model"],
        )
    ax.set_xticks(x, suites, rotation=15)
    ax.set_ylabel("azimuth MAE (°)")
    ax.set_title("every model on every test suite (bars: mean over seeds, whiskers: std)", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return _save(fig, path)


def plot_metric_suites(
    summary: Sequence[Mapping[str, Any]],
    suites: Sequence[str],
    keys: Mapping[str, Sequence[str]],
    path: str | os.PathLike[str],
) -> Path:
    """One panel per metric (``label -> the summary keys of its cells, one per suite``): grouped bars of
    every model that has the metric, with the standard deviation over seeds."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(max(6.0, 3.6 * len(keys)), 4.2), squeeze=False)
    for ax, (label, cells) in zip(axes[0], keys.items(), strict=True):
        members = [e for e in summary if any(np.isfinite(e[c]) for c in cells)]
        width = 0.8 / max(1, len(members))
        x = np.arange(len(suites))
        for i, entry in enumerate(members):
            hatch = {"learned": None, "classic": "//", "floor": ".."}[entry["kind"]]
            ax.bar(
                x + i * width - 0.4 + width / 2,
                [entry[c] for c in cells],
                width,
                yerr=[entry[f"{c}_std"] for c in cells],
                capsize=2,
                hatch=hatch,
                label=entry["model"],
            )
        ax.set_xticks(x, suites, rotation=15)
        ax.set_title(label, fontsize=9)
        ax.legend(fontsize=6)
    fig.suptitle("every model on every suite (bars: mean over seeds, whiskers: std)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_error_vs_snr(
    rows: Sequence[Mapping[str, Any]],
    truth_deg: np.ndarray,
    snr_db: np.ndarray,
    bands: Sequence[tuple[float, float]],
    path: str | os.PathLike[str],
) -> Path:
    """In-domain MAE per SNR band, one line per model (learned solid, classic dashed, floors dotted)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    centres = [0.5 * (low + high) for low, high in bands]
    for model, (kind, errors) in _errors_by_model(rows, truth_deg).items():
        values = []
        for low, high in bands:
            inside = (snr_db >= low) & (snr_db < high)
            values.append(float(errors[inside].mean()) if inside.any() else np.nan)
        ax.plot(centres, values, _STYLE[kind], marker="o", label=model)
    ax.set_xlabel("SNR (dB, band centre)")
    ax.set_ylabel("azimuth MAE (°)")
    ax.set_title("in-domain suite: error against SNR", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return _save(fig, path)


def plot_error_vs_azimuth(
    rows: Sequence[Mapping[str, Any]],
    truth_deg: np.ndarray,
    path: str | os.PathLike[str],
    bin_deg: float = 30.0,
) -> Path:
    """In-domain MAE per true-azimuth bin, one line per model."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    edges = np.arange(-180.0, 180.0 + bin_deg, bin_deg)
    centres = 0.5 * (edges[:-1] + edges[1:])
    which = np.digitize(truth_deg, edges) - 1
    for model, (kind, errors) in _errors_by_model(rows, truth_deg).items():
        values = [
            float(errors[which == b].mean()) if np.any(which == b) else np.nan for b in range(len(centres))
        ]
        ax.plot(centres, values, _STYLE[kind], marker="o", label=model)
    ax.set_xlabel("true azimuth (°, 0 = front, +90 = left)")
    ax.set_ylabel("azimuth MAE (°)")
    ax.set_title(f"in-domain suite: error against direction ({bin_deg:g}° bins)", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return _save(fig, path)


def plot_azimuth_confusion(
    rows: Sequence[Mapping[str, Any]],
    summary: Sequence[Mapping[str, Any]],
    truth_deg: np.ndarray,
    path: str | os.PathLike[str],
) -> Path:
    """True vs estimated azimuth (in-domain, first seed) of the best learned and the best classic row (a
    frontal task shows ±90°, estimates beyond it on the edge)."""
    plt = pyplot()
    picks = []
    for kind in ("learned", "classic"):
        ranked = [e for e in summary if e["kind"] == kind]
        if ranked:
            picks.append(min(ranked, key=lambda e: e["in-domain"])["model"])
    fig, axes = plt.subplots(1, max(1, len(picks)), figsize=(4.2 * max(1, len(picks)), 4.0), squeeze=False)
    limit = 90.0 if np.all(np.abs(truth_deg) <= 90.0) else 180.0  # a frontal task's half plane, or all
    edges = np.linspace(-limit, limit, int(2 * limit / 10) + 1)
    for ax, model in zip(axes[0], picks, strict=False):
        row = next(r for r in rows if r["suite"] == "in-domain" and r["model"] == model)
        estimated = np.clip(np.asarray(row["pred_azimuth_deg"], dtype=np.float64), -limit, limit)
        counts, _, _ = np.histogram2d(truth_deg, estimated, bins=[edges, edges])
        extent = (-limit, limit, -limit, limit)
        ax.imshow(counts.T, origin="lower", extent=extent, cmap="viridis", aspect="equal")
        ax.plot([-limit, limit], [-limit, limit], "w:", linewidth=0.8)
        ax.set_xlabel("true azimuth (°)")
        ax.set_ylabel("estimated azimuth (°)")
        ax.set_title(f"{model} (in-domain)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_embeddings(embeddings: Mapping[str, Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Each Embedder's in-domain embeddings projected on their first two principal axes, coloured by the
    true azimuth."""
    plt = pyplot()
    shown = {name: e for name, e in embeddings.items() if e.get("embedder")}
    fig, axes = plt.subplots(1, len(shown), figsize=(4.0 * len(shown), 3.8), squeeze=False)
    for ax, (name, entry) in zip(axes[0], shown.items(), strict=True):
        points = np.asarray(entry["points"], dtype=np.float64)
        scatter = ax.scatter(
            points[:, 0], points[:, 1], c=entry["azimuth_deg"], cmap="twilight", s=10, vmin=-180, vmax=180
        )
        ax.set_title(f"{name} ({entry['dim']}-d, PCA)", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(scatter, ax=ax, label="azimuth (°)")
    fig.tight_layout()
    return _save(fig, path)
