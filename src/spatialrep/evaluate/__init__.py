"""Evaluation: localization metrics, the azimuth classification grid and classic DoA baselines."""

from spatialrep.evaluate.azimuth_grid import AzimuthGrid
from spatialrep.evaluate.baselines import (
    GccPhatItdLocalizer,
    MusicLocalizer,
    SrpPhatLocalizer,
    frontal_azimuths,
)
from spatialrep.evaluate.knn import KnnRegressor
from spatialrep.evaluate.lem import LaplacianEigenmaps
from spatialrep.evaluate.metrics import (
    DEFAULT_SNR_BANDS,
    angular_errors,
    localization_metrics,
    summarize_errors,
)

__all__ = [
    "DEFAULT_SNR_BANDS",
    "AzimuthGrid",
    "GccPhatItdLocalizer",
    "KnnRegressor",
    "LaplacianEigenmaps",
    "MusicLocalizer",
    "SrpPhatLocalizer",
    "angular_errors",
    "frontal_azimuths",
    "localization_metrics",
    "summarize_errors",
]
