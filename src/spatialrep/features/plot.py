"""A picture of a feature stack for a person to look at: one labelled panel per feature channel.

Matplotlib (Agg backend, no display needed) is imported only when a figure is drawn.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from spatialrep.features.frontend import FEATURES, FeatureFrontEnd
from spatialrep.io.figures import pyplot, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_features", "save_feature_plot"]

_COLORMAPS = {"dB": "magma", "rad": "twilight", "": "RdBu_r"}


def plot_features(
    front: FeatureFrontEnd, x: Tensor, *, title: str | None = None, max_panels: int = 24
) -> Figure:
    """Draw every feature channel of one clip as a time-frequency (or time-lag) image.

    Axes: time in seconds (frame centres); mel features over mel bands labelled with their centre frequencies
    in Hz, linear-frequency features in Hz, GCC features in lag milliseconds (positive = the first channel of
    the pair delayed). Each panel is titled with its channel name (e.g. ``ild_mel[0-1]``) and has a colour bar
    in the feature's unit; phase-like features share a symmetric colour scale.

    Args:
        front: the front-end whose features to draw.
        x: one clip, shape ``(channels, time)`` at ``front.config.sample_rate``.
        title: figure title.
        max_panels: draw at most this many channels (the rest are listed in the title).

    Returns:
        The matplotlib figure (not shown; save or close it).

    Raises:
        ValueError: ``x`` is not one ``(channels, time)`` clip (plus the errors of the front-end).
    """
    plt = pyplot()

    if x.ndim != 2:
        raise ValueError(f"plot_features draws one clip of shape (channels, time), got {tuple(x.shape)}")
    with torch.inference_mode():
        features = front.compute(x)
    panels: list[tuple[str, str, np.ndarray]] = []
    names = iter(front.channel_names)
    for name, value in features.items():
        for channel in value.double().cpu().numpy():
            panels.append((name, next(names), channel))
    skipped = max(0, len(panels) - max_panels)
    panels = panels[:max_panels]
    columns = 2 if len(panels) > 1 else 1
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(6.0 * columns, 2.4 * rows), squeeze=False)
    frames = next(iter(features.values())).shape[-1]
    times = front.frame_times(frames)
    hop_s = front.config.hop_length / front.config.sample_rate
    t_edges = (times[0] - hop_s / 2, times[-1] + hop_s / 2)
    for ax, (feature, channel_name, image) in zip(axes.flat, panels):
        spec = FEATURES[feature]
        values, label = front.bin_axis(feature)
        cmap = "RdBu_r" if feature in ("ild", "ild_mel") else _COLORMAPS.get(spec.unit, "viridis")
        if spec.unit in ("", "rad") or feature in ("ild", "ild_mel"):
            limit = float(np.max(np.abs(image))) or 1.0
            vmin, vmax = -limit, limit
        else:
            # Levels: an 80 dB range below the peak, so a -100 dB floor does not flatten the picture.
            vmax = float(np.max(image))
            vmin = max(float(np.min(image)), vmax - 80.0)
        if spec.grid == "mel":
            extent = (t_edges[0], t_edges[1], -0.5, len(values) - 0.5)
            ticks = np.linspace(0, len(values) - 1, min(6, len(values))).round().astype(int)
            ax.set_yticks(ticks, [f"{values[k]:.0f}" for k in ticks])
        else:
            step = (values[1] - values[0]) if len(values) > 1 else 1.0
            extent = (t_edges[0], t_edges[1], values[0] - step / 2, values[-1] + step / 2)
        mesh = ax.imshow(image, origin="lower", aspect="auto", extent=extent, cmap=cmap, vmin=vmin, vmax=vmax,
                         interpolation="nearest")  # fmt: skip
        ax.set_title(channel_name, fontsize=9)
        ax.set_xlabel("time (s)", fontsize=8)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
        bar = fig.colorbar(mesh, ax=ax, pad=0.01)
        bar.set_label(spec.unit or "(unitless)", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    heading = title or "features"
    c = front.config
    heading += f"\n{c.sample_rate} Hz, n_fft {c.n_fft}, hop {c.hop_length}"
    if skipped:
        heading += f"; {skipped} more channel(s) not drawn"
    fig.suptitle(heading, fontsize=10)
    fig.tight_layout()
    return fig


def save_feature_plot(
    front: FeatureFrontEnd,
    x: Tensor,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    dpi: int = 110,
    format: str | None = None,
) -> None:
    """Draw :func:`plot_features` and save it; ``format`` (e.g. ``"png"``) defaults to the path's suffix."""
    save_figure(plot_features(front, x, title=title), path, dpi=dpi, format=format)
