"""Matplotlib without a display, and figures written atomically (temporary name, then rename)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from spatialrep.io.atomic import atomic_path

__all__ = ["pyplot", "save_figure"]


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (unless a backend is already in use)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(
    fig: Any,
    path: str | os.PathLike[str],
    *,
    dpi: int = 110,
    format: str | None = None,
    bbox_inches: str | None = None,
) -> Path:
    """Save ``fig`` to ``path`` atomically and close it.

    Args:
        format: e.g. ``"png"``; default: the path's suffix (PNG without one).
        bbox_inches: ``"tight"`` crops to the drawn content (matplotlib's ``savefig`` argument).
    """
    import matplotlib.pyplot as plt

    final = Path(path)
    format = format or final.suffix.lstrip(".") or "png"  # the temporary name's suffix is ".part"
    try:
        with atomic_path(final) as tmp:
            fig.savefig(tmp, dpi=dpi, format=format, bbox_inches=bbox_inches)
    finally:
        plt.close(fig)
    return final
