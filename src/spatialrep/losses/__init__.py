"""Metric-learning losses: an injected distance, a validating ``forward`` and a ``compute_loss``."""

from spatialrep.losses.distances import BaseDistance, CosineSimilarity, EuclideanDistance
from spatialrep.losses.nt_xent import NTXentLoss
from spatialrep.losses.pair_contrastive import (
    PairContrastiveLoss,
    adaptive_margin,
    arc_to_chord,
    supervised_label_distances,
    supervised_neighbours,
    weakly_supervised_label_distances,
    weakly_supervised_neighbours,
)
from spatialrep.losses.triplet import CosineDistance, TripletMarginLoss

__all__ = [
    "BaseDistance",
    "CosineDistance",
    "CosineSimilarity",
    "EuclideanDistance",
    "NTXentLoss",
    "PairContrastiveLoss",
    "TripletMarginLoss",
    "adaptive_margin",
    "arc_to_chord",
    "supervised_label_distances",
    "supervised_neighbours",
    "weakly_supervised_label_distances",
    "weakly_supervised_neighbours",
]
