"""Plots of the SFD experiment: MAE per SNR band per model, and MAE against the amount of labelled data."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spatialrep.io.figures import pyplot, save_figure

__all__ = ["plot_mae_vs_labels", "plot_mae_vs_snr"]


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    return save_figure(fig, path, dpi=120, format="png", bbox_inches="tight")


def _is_classic(row: Mapping[str, Any]) -> bool:
    """A model without labels: a classic localizer (budget ``none``) or a trivial floor (``floor``)."""
    return row["budget"] in ("none", "floor")


def plot_mae_vs_snr(
    rows: Sequence[Mapping[str, Any]], budgets: Sequence[str], path: str | os.PathLike[str]
) -> Path:
    """One panel per label budget: MAE (mean over seeds) per SNR band, one line per model; classic baselines
    (no labels) dashed in every panel."""
    plt = pyplot()
    bands = list(rows[0]["snr_bands"]) if rows else []
    fig, axes = plt.subplots(1, max(1, len(budgets)), figsize=(5 * max(1, len(budgets)), 4), sharey=True)
    axes = np.atleast_1d(axes)
    x = np.arange(len(bands))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for ax, budget in zip(axes, budgets or ["none"], strict=False):
        for method in methods:
            chosen = [r for r in rows if r["method"] == method and (r["budget"] == budget or _is_classic(r))]
            if not chosen:
                continue
            mae = [_mean_of_finite([_band_mae(r, b) for r in chosen]) for b in bands]
            style = "--" if _is_classic(chosen[0]) else "-"
            ax.plot(x, mae, style, marker="o", label=method)
        ax.set_xticks(x, bands)
        ax.set_xlabel("SNR band (dB)")
        ax.set_title(f"label budget {budget}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("MAE (degrees)")
    axes[-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("Azimuth MAE per SNR band (mean over seeds)")
    return _save(fig, path)


def _mean_of_finite(values: Sequence[float]) -> float:
    """Mean of the non-NaN values; NaN (no warning) when there are none (an empty SNR band)."""
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _band_mae(row: Mapping[str, Any], band: str) -> float:
    value = row["snr_bands"][band]["mae_deg"]
    return float("nan") if value is None else float(value)


def plot_mae_vs_labels(
    summary: Sequence[Mapping[str, Any]], budgets: Mapping[str, float], path: str | os.PathLike[str]
) -> Path:
    """MAE (mean ± std over seeds) against minutes of labelled audio, one line per learned model; classic
    baselines as horizontal dashed lines."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    minutes = {name: seconds / 60.0 for name, seconds in budgets.items()}
    classic_styles = iter([("0.35", "--"), ("0.55", ":"), ("0.15", "-."), ("0.7", "--")])
    for method in dict.fromkeys(r["method"] for r in summary):
        chosen = [r for r in summary if r["method"] == method]
        if _is_classic(chosen[0]):
            colour, style = next(classic_styles, ("0.5", "--"))
            ax.axhline(chosen[0]["mae_deg"], linestyle=style, color=colour, linewidth=1.2, label=method)
            continue
        chosen.sort(key=lambda r: minutes.get(r["budget"], np.nan))
        x = [minutes.get(r["budget"], np.nan) for r in chosen]
        ax.errorbar(
            x,
            [r["mae_deg"] for r in chosen],
            yerr=[r["mae_deg_std"] for r in chosen],
            marker="o",
            capsize=3,
            label=method,
        )
    ax.set_xscale("log")
    ax.set_xticks(list(minutes.values()), [f"{name}\n({m:g} min)" for name, m in minutes.items()])
    ax.minorticks_off()
    ax.set_xlabel("labelled audio")
    ax.set_ylabel("MAE (degrees)")
    ax.set_title("Azimuth MAE vs amount of labelled data")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path)
