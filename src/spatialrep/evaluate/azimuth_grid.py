"""The azimuth classification grid of direction-of-arrival heads.

``AzimuthGrid(step_deg=5, region="frontal")``: class ``k`` is azimuth ``-90° + k step`` (``-90°, ..., 90°``,
37 classes at 5°). ``region="full"``: class ``k`` is azimuth ``k step`` wrapped to ``(-180°, 180°]``
(``0°, 5°, ..., 180°, -175°, ..., -5°``, 72 classes at 5°), and distances between classes are circular.

A clip's estimate from frame-wise posteriors (:meth:`AzimuthGrid.clip_estimate`) is the class with the
largest *mean probability over frames* (mean of probabilities, then argmax): frames vote with their whole
posterior, so a few confident wrong frames weigh less than a majority vote of argmaxes would let them, and
silent frames with flat posteriors shift no decision.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from spatialrep.geometry import wrap_angle

__all__ = ["REGIONS", "AzimuthGrid"]

REGIONS = ("frontal", "full")
_TOL_DEG = 1e-4
"""Slack at the frontal edges, degrees: float32 labels of exactly ±90° round to about 4e-6° outside."""


def _as_numpy(value: Any) -> npt.NDArray[np.float64]:
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


class AzimuthGrid:
    """Azimuth classes at a fixed step, frontal half-plane or full circle.

    Args:
        step_deg: class spacing, degrees; must divide 180 (frontal) or 360 (full).
        region: ``"frontal"`` (``[-90°, 90°]``, both ends included) or ``"full"`` (circular).

    Raises:
        ValueError: unknown region (lists the valid ones), non-positive step or one that does not divide the
            region.
    """

    def __init__(self, step_deg: float = 5.0, region: str = "frontal") -> None:
        if region not in REGIONS:
            raise ValueError(f"region must be one of {REGIONS}, got {region!r}")
        if not (isinstance(step_deg, int | float) and math.isfinite(step_deg) and step_deg > 0):
            raise ValueError(f"step_deg must be a positive number, got {step_deg!r}")
        span = 180.0 if region == "frontal" else 360.0
        n = span / step_deg
        if abs(n - round(n)) > 1e-9:
            raise ValueError(f"step_deg={step_deg!r} must divide {span:g}° for region {region!r}")
        self.step_deg = float(step_deg)
        self.region = region
        self.num_classes = round(n) + (1 if region == "frontal" else 0)

    def __repr__(self) -> str:
        return (
            f"AzimuthGrid(step_deg={self.step_deg:g}, region={self.region!r}, num_classes={self.num_classes})"
        )

    @property
    def azimuths(self) -> npt.NDArray[np.float64]:
        """Class centres, radians, shape ``(num_classes,)``."""
        return self.to_azimuth(np.arange(self.num_classes))

    def to_azimuth(self, index: Any) -> npt.NDArray[np.float64]:
        """Class centre(s), radians (wrapped to ``(-π, π]`` for ``"full"``), same shape as ``index``.

        Raises:
            ValueError: an index that is not an integer in ``[0, num_classes)``.
        """
        idx = _as_numpy(index)
        if not np.all(np.isfinite(idx)) or np.any(idx != np.round(idx)):
            raise ValueError("class indices must be integers")
        if np.any(idx < 0) or np.any(idx >= self.num_classes):
            raise ValueError(
                f"class indices must lie in [0, {self.num_classes}), got {idx.min():g}..{idx.max():g}"
            )
        if self.region == "frontal":
            return np.radians(-90.0 + idx * self.step_deg)
        return wrap_angle(np.radians(idx * self.step_deg))

    def to_index(self, azimuth: Any, *, fold_front_back: bool = False) -> npt.NDArray[np.int64]:
        """Nearest class of each azimuth (radians), int64 array of the same shape.

        ``"full"``: circular (the wrapped angle over the step, rounded, modulo the class count, so ``-1°`` at
        a 5° step is class 0). ``"frontal"``: azimuths must lie in
        ``[-90°, 90°]`` unless ``fold_front_back`` mirrors the rear half-plane forwards
        (:func:`spatialrep.geometry.fold_front_back`). Ties round half to even.

        Raises:
            ValueError: non-finite azimuths; rear azimuths on the frontal grid without ``fold_front_back``.
        """
        az = _as_numpy(azimuth)
        if not np.all(np.isfinite(az)):
            raise ValueError("azimuths must be finite")
        if self.region == "full":
            steps = np.round(np.degrees(wrap_angle(az)) / self.step_deg)
            return np.mod(steps, self.num_classes).astype(np.int64)
        if fold_front_back:
            az = np.arctan2(np.sin(az), np.abs(np.cos(az)))
        else:
            az = wrap_angle(az)
            deg = np.degrees(az)
            if np.any(np.abs(deg) > 90.0 + _TOL_DEG):
                worst = float(deg.reshape(-1)[np.argmax(np.abs(deg))])
                raise ValueError(
                    f"azimuth {worst:g}° lies outside the frontal grid [-90°, 90°]; pass "
                    "fold_front_back=True to mirror rear directions forwards"
                )
        steps = np.round((np.degrees(az) + 90.0) / self.step_deg)
        return np.clip(steps, 0, self.num_classes - 1).astype(np.int64)

    def class_distance(self, azimuth: Any) -> npt.NDArray[np.float64]:
        """Angle (radians) from each azimuth to every class centre, shape ``(*azimuth.shape, num_classes)``.

        Circular for ``"full"``, plain absolute difference for ``"frontal"``.
        """
        az = _as_numpy(azimuth)[..., None]
        diff = az - self.azimuths
        return np.abs(wrap_angle(diff)) if self.region == "full" else np.abs(diff)

    def soft_targets(self, azimuth: Any, sigma_deg: float = 5.0) -> npt.NDArray[np.float64]:
        """Gaussian label smoothing over the classes, each row summing to 1.

        ``t_k ∝ exp(-d_k² / (2 σ²))`` with ``d_k`` the (circular for ``"full"``) distance to class ``k``.

        Args:
            azimuth: radians, shape ``(...,)`` (frontal grid: within ``[-90°, 90°]``).
            sigma_deg: width, degrees, ``> 0``.

        Returns:
            float64, shape ``(..., num_classes)``.

        Raises:
            ValueError: non-positive or non-finite ``sigma_deg``; azimuths as in :meth:`to_index`.
        """
        if not (math.isfinite(sigma_deg) and sigma_deg > 0):
            raise ValueError(f"sigma_deg must be a positive number, got {sigma_deg!r}")
        self.to_index(azimuth)  # validates the range
        d = np.degrees(self.class_distance(azimuth))
        logits = -0.5 * (d / sigma_deg) ** 2
        weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return weights / weights.sum(axis=-1, keepdims=True)

    def clip_estimate(self, frame_probs: Any) -> npt.NDArray[np.float64]:
        """Clip azimuth from frame posteriors: mean probability over frames, then argmax.

        Args:
            frame_probs: class probabilities (not logits), shape ``(..., frames, num_classes)``.

        Returns:
            Azimuth of the winning class, radians, shape ``(...,)``.

        Raises:
            ValueError: a last axis other than ``num_classes``, no frames, or non-finite values.
        """
        p = _as_numpy(frame_probs)
        if p.ndim < 2 or p.shape[-1] != self.num_classes or p.shape[-2] == 0:
            raise ValueError(
                f"frame_probs must have shape (..., frames >= 1, {self.num_classes}), got {p.shape}"
            )
        if not np.all(np.isfinite(p)):
            raise ValueError("frame_probs must be finite")
        return self.to_azimuth(p.mean(axis=-2).argmax(axis=-1))
