"""Sound event detection, distance and direction metrics of one model on one test set (SpatialAST's set).

mAP over every clip (SED, the union of a clip's classes); ER20, great-circle MAE, azimuth-only MAE and DER on
the one-source clips; ``dist_r2``, the R² of the predicted distance against the training-mean predictor.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from spatialrep.evaluate.floors import r2_against_mean
from spatialrep.evaluate.metrics import angular_errors, distance_error_rate, mean_average_precision

__all__ = ["event_metrics"]


def event_metrics(
    *,
    sed_labels: np.ndarray,
    single: np.ndarray,
    true_azimuth: np.ndarray,
    true_elevation: np.ndarray,
    true_distance_m: np.ndarray,
    train_mean_distance_m: float,
    distance_bin_m: float,
    sed_scores: np.ndarray | None = None,
    azimuth: np.ndarray | None = None,
    elevation: np.ndarray | None = None,
    distance_m: np.ndarray | None = None,
) -> dict[str, Any]:
    """The metrics of one model (``None`` for what it does not predict).

    Args:
        sed_labels: ``(clips, classes)`` multi-hot targets.
        single: ``(clips,)`` bool, the one-source clips (direction and distance are scored on them).
        true_azimuth, true_elevation: ``(clips,)`` radians (the first source).
        true_distance_m: ``(clips,)`` metres (the first source).
        train_mean_distance_m: the mean predictor of ``dist_r2``.
        distance_bin_m: the bin width of DER (a prediction more than one bin off is an error).
        sed_scores: ``(clips, classes)`` scores; azimuth, elevation: ``(clips,)`` radians; distance_m:
            ``(clips,)`` metres.

    Returns:
        ``clips_sed``, ``clips_doa``; ``mAP`` and ``per_class_ap``; ``MAE``, ``ER20``, ``az_MAE`` (percent
        and degrees) with ``doa_error_deg`` per clip; ``DER`` (percent) and ``dist_r2``; ``true_distance_m``.
    """
    one = np.asarray(single, dtype=bool)
    out: dict[str, Any] = {"clips_sed": len(one), "clips_doa": int(one.sum())}
    if sed_scores is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # classes absent from the test set are skipped
            result = mean_average_precision(sed_scores, sed_labels)
        out["mAP"] = 100.0 * result["map"]
        out["per_class_ap"] = result["per_class"]
    if azimuth is not None and elevation is not None:
        errors = np.degrees(
            angular_errors(azimuth[one], true_azimuth[one], elevation[one], true_elevation[one])
        )
        az_only = np.degrees(angular_errors(azimuth[one], true_azimuth[one]))
        out.update(
            MAE=float(errors.mean()), ER20=100.0 * float(np.mean(errors > 20.0)), az_MAE=float(az_only.mean())
        )
        out["doa_error_deg"] = errors.round(3).tolist()
    truth = np.asarray(true_distance_m, dtype=np.float64)[one]
    if distance_m is not None:
        predicted = np.asarray(distance_m, dtype=np.float64)[one]
        bins = np.round(predicted / distance_bin_m)
        out["DER"] = 100.0 * distance_error_rate(bins, truth, bin_m=distance_bin_m)
        mse = float(np.mean((predicted - truth) ** 2))
        mse_mean = float(np.mean((train_mean_distance_m - truth) ** 2))
        out["dist_r2"] = r2_against_mean(mse, mse_mean)
    out["true_distance_m"] = truth.round(4).tolist()
    return out
