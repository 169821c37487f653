"""Localization metrics: angular errors summarised overall and per SNR band.

Every error goes through :func:`spatialrep.geometry.angular_distance` (great-circle, with elevations) or
:func:`spatialrep.geometry.azimuth_difference` (azimuth only, wrapped): the one angular error of spatialrep.
Inputs are radians (numpy arrays, sequences or torch tensors); the summaries are degrees.

Summaries of per-clip errors ``e_n`` (degrees, ``N`` clips):

* ``mae_deg = (1 / N) sum_n e_n``; ``median_deg`` the median of ``e_n``;
* ``acc5`` / ``acc10`` = share of clips with ``e_n <= 5°`` / ``<= 10°``;
* ``er20`` = share of clips with angular error ``e_n > 20°`` (the error rate reported by SpatialAST; it is
  *not* the DCASE ``ER_20°`` location-dependent detection error rate, which also counts detection errors);
* ``count = N``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from spatialrep.geometry import angular_distance, azimuth_difference
from spatialrep.geometry import fold_front_back as _fold

__all__ = [
    "DEFAULT_SNR_BANDS",
    "angular_errors",
    "average_precision",
    "distance_error_rate",
    "localization_metrics",
    "mean_average_precision",
    "summarize_errors",
]

DEFAULT_SNR_BANDS: tuple[tuple[float, float], ...] = ((-math.inf, 0.0), (0.0, 10.0), (10.0, math.inf))
"""SNR bands in dB, half-open ``[low, high)``."""


def _as_numpy(value: Any, name: str) -> npt.NDArray[np.float64]:
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    arr = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (clips,), got shape {arr.shape}")
    return arr


def angular_errors(
    pred_az: Any,
    true_az: Any,
    pred_el: Any | None = None,
    true_el: Any | None = None,
    *,
    fold_front_back: bool = False,
) -> npt.NDArray[np.float64]:
    """Per-clip angular error, radians in ``[0, π]``.

    Azimuth only: :func:`~spatialrep.geometry.azimuth_difference` (179° vs -179° is 2°). With elevations:
    the great-circle :func:`~spatialrep.geometry.angular_distance`.

    Args:
        pred_az, true_az: azimuths, radians, shape ``(clips,)``.
        pred_el, true_el: elevations, radians, shape ``(clips,)``; give both or neither.
        fold_front_back: fold both azimuths into the frontal half-plane first
            (:func:`spatialrep.geometry.fold_front_back`), for
            tasks that cannot tell front from back (a frontal-plane grid, ITD-only baselines).

    Returns:
        float64 array, shape ``(clips,)``.

    Raises:
        ValueError: shapes that differ or are not 1-D, only one of the elevations, non-finite values.
    """
    pa, ta = _as_numpy(pred_az, "pred_az"), _as_numpy(true_az, "true_az")
    if pa.shape != ta.shape:
        raise ValueError(f"pred_az and true_az must have the same shape, got {pa.shape} and {ta.shape}")
    if (pred_el is None) != (true_el is None):
        raise ValueError("give both pred_el and true_el, or neither")
    if fold_front_back:
        pa, ta = _fold(pa), _fold(ta)
    if pred_el is None:
        arrays: tuple[npt.NDArray[np.float64], ...] = (pa, ta)
        err = azimuth_difference(pa, ta)
    else:
        pe, te = _as_numpy(pred_el, "pred_el"), _as_numpy(true_el, "true_el")
        if pe.shape != pa.shape or te.shape != pa.shape:
            raise ValueError(
                f"elevations must have the azimuths' shape {pa.shape}, got {pe.shape} and {te.shape}"
            )
        arrays = (pa, ta, pe, te)
        err = angular_distance(pa, pe, ta, te)
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise ValueError("angles must be finite (no NaN or inf)")
    return np.asarray(err, dtype=np.float64)


def summarize_errors(errors_rad: npt.ArrayLike) -> dict[str, float]:
    """MAE, median, acc5, acc10, er20 (degrees / shares) and count of per-clip errors (radians).

    An empty set gives ``count = 0`` and NaN for every other entry.
    """
    e = np.degrees(np.asarray(errors_rad, dtype=np.float64).reshape(-1))
    if e.size == 0:
        nan = float("nan")
        return {"mae_deg": nan, "median_deg": nan, "acc5": nan, "acc10": nan, "er20": nan, "count": 0.0}
    return {
        "mae_deg": float(e.mean()),
        "median_deg": float(np.median(e)),
        "acc5": float(np.mean(e <= 5.0)),
        "acc10": float(np.mean(e <= 10.0)),
        "er20": float(np.mean(e > 20.0)),
        "count": float(e.size),
    }


def _band_name(low: float, high: float) -> str:
    return f"[{low:g}, {high:g})"


def localization_metrics(
    pred_az: Any,
    true_az: Any,
    pred_el: Any | None = None,
    true_el: Any | None = None,
    snr_db: Any | None = None,
    snr_bands: Sequence[tuple[float, float]] = DEFAULT_SNR_BANDS,
    *,
    fold_front_back: bool = False,
) -> dict[str, Any]:
    """Localization summary over all clips and per SNR band.

    Args:
        pred_az, true_az: azimuths, radians, shape ``(clips,)`` (numpy, sequence or torch).
        pred_el, true_el: elevations, radians, shape ``(clips,)``; give both or neither (great-circle error).
        snr_db: per-clip SNR in dB, shape ``(clips,)``; ``None`` skips the bands.
        snr_bands: ``(low, high)`` dB pairs, half-open ``low <= snr < high`` (a clip may fall in none, or in
            several if bands overlap); names ``"[low, high)"``, e.g. ``"[-inf, 0)"``.
        fold_front_back: see :func:`angular_errors`.

    Returns:
        ``{"mae_deg", "median_deg", "acc5", "acc10", "er20", "count"}`` (see the module docstring) plus,
        when ``snr_db`` is given, ``"snr_bands": {name: the same six entries}``; an empty band has count 0
        and NaN metrics.

    Raises:
        ValueError: as :func:`angular_errors`; ``snr_db`` of another shape or with NaN; a band with
            ``low >= high``.
    """
    errors = angular_errors(pred_az, true_az, pred_el, true_el, fold_front_back=fold_front_back)
    result: dict[str, Any] = dict(summarize_errors(errors))
    if snr_db is None:
        return result
    snr = _as_numpy(snr_db, "snr_db")
    if snr.shape != errors.shape:
        raise ValueError(f"snr_db must have shape {errors.shape} like the angles, got {snr.shape}")
    if np.any(np.isnan(snr)):
        raise ValueError("snr_db contains NaN")
    bands: dict[str, dict[str, float]] = {}
    for band in snr_bands:
        if len(band) != 2:
            raise ValueError(f"each SNR band must be (low, high) in dB, got {band!r}")
        low, high = float(band[0]), float(band[1])
        if not low < high:
            raise ValueError(f"SNR band must have low < high, got {band!r}")
        bands[_band_name(low, high)] = summarize_errors(errors[(snr >= low) & (snr < high)])
    result["snr_bands"] = bands
    return result


def average_precision(scores: Any, labels: Any) -> float:
    """Non-interpolated average precision of one class, ``AP = Σ_k (R_k − R_{k−1}) P_k`` over clips ranked
    by descending score (tied scores form one step, as scikit-learn's ``average_precision_score``).

    Args:
        scores: ``(clips,)`` any real scores.
        labels: ``(clips,)`` 0/1 (booleans).

    Returns:
        AP in ``[0, 1]``; NaN when there is no positive.
    """
    s = _as_numpy(scores, "scores")
    y = _as_numpy(labels, "labels") > 0.5
    if s.shape != y.shape:
        raise ValueError(f"scores and labels must have the same shape, got {s.shape} and {y.shape}")
    positives = int(y.sum())
    if positives == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]  # last index of each run of tied scores
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1.0)
    recall = tp / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def mean_average_precision(scores: Any, labels: Any) -> dict[str, Any]:
    """Mean of :func:`average_precision` over the classes that have at least one positive clip.

    Args:
        scores: ``(clips, classes)`` scores (probabilities or logits).
        labels: ``(clips, classes)`` multi-hot 0/1.

    Returns:
        ``{"map": share in [0, 1], "per_class": list of AP (NaN where skipped), "skipped": class indices
        without a positive}``; a warning names the skipped classes.

    Raises:
        ValueError: shapes that differ or are not 2-D; no class with a positive.
    """
    import warnings

    s = np.asarray(scores.detach().cpu().numpy() if hasattr(scores, "detach") else scores, np.float64)
    y = np.asarray(labels.detach().cpu().numpy() if hasattr(labels, "detach") else labels, np.float64)
    if s.ndim != 2 or s.shape != y.shape:
        raise ValueError(f"scores and labels must both be (clips, classes), got {s.shape} and {y.shape}")
    per_class = [average_precision(s[:, c], y[:, c]) for c in range(s.shape[1])]
    skipped = [c for c, ap in enumerate(per_class) if math.isnan(ap)]
    if len(skipped) == len(per_class):
        raise ValueError("no class has a positive clip: mAP is undefined")
    if skipped:
        warnings.warn(
            f"mean_average_precision: classes {skipped} have no positive clip and are skipped",
            UserWarning,
            stacklevel=2,
        )
    valid = [ap for ap in per_class if not math.isnan(ap)]
    return {"map": float(np.mean(valid)), "per_class": per_class, "skipped": skipped}


def distance_error_rate(
    pred_bins: Any, true_distance_m: Any, *, bin_m: float = 0.5, tolerance: int = 1
) -> float:
    """Share of clips whose predicted distance bin is more than ``tolerance`` bins from the true one:
    ``DER = mean(|k̂_n − k_n| > tolerance)`` with ``k_n = round(d_n / bin_m)`` (SpatialAST's DER, as a share).

    Args:
        pred_bins: ``(clips,)`` predicted bin indices ``k̂``.
        true_distance_m: ``(clips,)`` true distances, metres.
        bin_m: bin width, metres.
        tolerance: bins of slack.

    Returns:
        The share in ``[0, 1]`` (NaN for no clip).
    """
    k_hat = _as_numpy(pred_bins, "pred_bins")
    d = _as_numpy(true_distance_m, "true_distance_m")
    if k_hat.shape != d.shape:
        raise ValueError(
            f"pred_bins and true_distance_m must have the same shape, got {k_hat.shape}, {d.shape}"
        )
    if not bin_m > 0:
        raise ValueError(f"bin_m={bin_m!r} must be > 0")
    if k_hat.size == 0:
        return float("nan")
    k = np.round(d / bin_m)
    return float(np.mean(np.abs(k_hat - k) > tolerance))
