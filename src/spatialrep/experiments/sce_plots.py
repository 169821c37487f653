"""Figures of the SCE experiment: error box plots, 3-D embeddings coloured by azimuth and elevation (PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spatialrep.io.figures import pyplot, save_figure

__all__ = ["boxplots", "embedding_plots"]


def _save(fig: Any, path: Path) -> str:
    return str(save_figure(fig, path, dpi=110, format="png", bbox_inches="tight"))


def boxplots(out_dir: Path, errors: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]) -> list[str]:
    """One ``boxplot_<experiment>_<test set>[_<fraction>].png`` per key: azimuth, elevation errors per method.

    Args:
        out_dir: the experiment folder.
        errors: ``{"experiment/test_set[/fraction]": {method: (azimuth errors, elevation errors)}}``, degrees.
    """
    plt = pyplot()
    paths = []
    for key, methods in errors.items():
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
        names = list(methods)
        for ax, index, what in ((axes[0], 0, "azimuth"), (axes[1], 1, "elevation")):
            ax.boxplot([methods[m][index] for m in names], showfliers=False)
            ax.set_xticks(range(1, len(names) + 1), names, rotation=20, fontsize=8)
            ax.set_ylabel(f"{what} error (deg)")
        fig.suptitle(key)
        paths.append(_save(fig, out_dir / f"boxplot_{key.replace('/', '_')}.png"))
    return paths


def embedding_plots(out_dir: Path, embeddings: dict[str, tuple[np.ndarray, Any]]) -> list[str]:
    """``embedding_3d_<model>.png``: training embeddings ``(n, 3)`` coloured by azimuth and by elevation.

    Args:
        embeddings: ``{model: (embedding (n, 3), dataset with azimuth and elevation in radians)}``.
    """
    plt = pyplot()
    paths = []
    for model, (z, data) in embeddings.items():
        fig = plt.figure(figsize=(10, 4.5))
        for i, (what, values) in enumerate((("azimuth", data.azimuth), ("elevation", data.elevation))):
            ax = fig.add_subplot(1, 2, i + 1, projection="3d")
            points = ax.scatter(z[:, 0], z[:, 1], z[:, 2], c=np.degrees(values), cmap="viridis", s=6)
            fig.colorbar(points, ax=ax, shrink=0.6, label=f"{what} (deg)")
            ax.set_title(f"{model}: coloured by {what}")
        paths.append(_save(fig, out_dir / f"embedding_3d_{model}.png"))
    return paths
