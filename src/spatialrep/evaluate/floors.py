"""Trivial predictors: the floors every learned result must clear before it counts as evidence.

A model that does no better than one of these has learned nothing usable about direction, whatever its
improvement over another model. Each floor uses training labels only (never the test set):

* ``always-0°``: predicts straight ahead for every clip (on uniformly drawn frontal azimuths it scores an MAE
  of about 45°, not the 60° of a random guess: 0° is the median of that distribution);
* ``class-prior``: predicts the most frequent training class (the mode of the label prior on the model's
  azimuth grid) for every clip;
* :func:`mean_predictor`: the per-dimension training mean, the reference of every R² (regression targets).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from spatialrep.evaluate.azimuth_grid import AzimuthGrid

__all__ = ["FLOORS", "azimuth_floors", "class_prior_azimuth", "mean_predictor", "r2_against_mean"]

FLOORS = ("always-0°", "class-prior")
"""Names of the azimuth floors, as they appear in result tables."""

FloatArray = npt.NDArray[np.float64]


def class_prior_azimuth(train_azimuth: Any, grid: AzimuthGrid) -> float:
    """The centre of the most frequent class of the training azimuths (ties: the lowest class), radians.

    Raises:
        ValueError: no training azimuth, or azimuths the grid refuses.
    """
    az = np.asarray(train_azimuth, dtype=np.float64).reshape(-1)
    if az.size == 0:
        raise ValueError("the class prior needs at least one training azimuth")
    counts = np.bincount(grid.to_index(az), minlength=grid.num_classes)
    return float(grid.azimuths[int(np.argmax(counts))])


def azimuth_floors(train_azimuth: Any, grid: AzimuthGrid, num_clips: int) -> dict[str, FloatArray]:
    """Predictions of every floor for ``num_clips`` test clips: ``{name: (num_clips,) radians}``."""
    prior = class_prior_azimuth(train_azimuth, grid)
    return {"always-0°": np.zeros(num_clips), "class-prior": np.full(num_clips, prior)}


def mean_predictor(train_targets: Any) -> FloatArray:
    """Per-dimension mean of training targets ``(n, ..., dim)`` over every axis but the last: ``(dim,)``."""
    t = np.asarray(train_targets, dtype=np.float64)
    if t.ndim == 0 or t.size == 0:
        raise ValueError("the mean predictor needs at least one training target")
    return t.reshape(-1, t.shape[-1]).mean(axis=0)


def r2_against_mean(model_mse: float, mean_mse: float) -> float:
    """R² of a regressor against the training-mean predictor: ``1 - MSE_model / MSE_mean``.

    0 means no better than predicting the training mean of every dimension; 1 is perfect; negative is worse.

    Raises:
        ValueError: a non-positive or non-finite reference error.
    """
    if not (np.isfinite(mean_mse) and mean_mse > 0):
        raise ValueError(f"the mean predictor's MSE must be a positive number, got {mean_mse!r}")
    return float(1.0 - model_mse / mean_mse)
