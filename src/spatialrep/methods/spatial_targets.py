"""Targets of SpatialAST / DSpAST from dataset labels, and their decoding.

* SED: multi-hot over the bank's classes (the union of a clip's source classes);
* distance: bin ``round(d / distance_bin_m)`` clipped to ``[0, num_distance_bins)`` (paper: 0.5 m, 21 bins);
* azimuth: bin ``round(az / azimuth_bin_deg) mod (360 / azimuth_bin_deg)`` (bin ``k`` is centred on
  ``k · bin``, wrapped to (−180°, 180°]; paper: 1°, 360 bins);
* elevation: bin ``round((el + 90°) / elevation_bin_deg)`` clipped to ``[0, 180 / elevation_bin_deg)``
  (centres ``−90° + k · bin``; paper: 1°, 180 bins).

Distance and direction are trained and scored on one-source clips only (as SpatialAST): :meth:`encode`
returns ``single`` to mark them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from spatialrep.config import ConfigError

__all__ = ["SpatialTargetConfig", "SpatialTargets"]


@dataclasses.dataclass(frozen=True)
class SpatialTargetConfig:
    """Bin sizes of the distance and direction targets.

    Attributes:
        distance_bin_m: distance bin width, metres.
        num_distance_bins: distance classes (bin ``k`` covers ``k · bin ± bin/2``; the last absorbs beyond).
        azimuth_bin_deg: azimuth bin, degrees; must divide 360.
        elevation_bin_deg: elevation bin, degrees; must divide 180.
    """

    distance_bin_m: float = 0.5
    num_distance_bins: int = 21
    azimuth_bin_deg: float = 1.0
    elevation_bin_deg: float = 1.0

    def __post_init__(self) -> None:
        if not (isinstance(self.distance_bin_m, int | float) and self.distance_bin_m > 0):
            raise ConfigError(f"targets.distance_bin_m={self.distance_bin_m!r} must be > 0")
        if (
            isinstance(self.num_distance_bins, bool)
            or not isinstance(self.num_distance_bins, int)
            or (self.num_distance_bins < 2)
        ):
            raise ConfigError(f"targets.num_distance_bins={self.num_distance_bins!r} must be an integer >= 2")
        for name, span in (("azimuth_bin_deg", 360.0), ("elevation_bin_deg", 180.0)):
            value = getattr(self, name)
            count = span / value if isinstance(value, int | float) and value > 0 else 0.0
            if count < 2 or abs(count - round(count)) > 1e-9:
                raise ConfigError(f"targets.{name}={value!r} must be > 0 and divide {span:g} degrees")

    @property
    def num_azimuth_bins(self) -> int:
        return round(360.0 / self.azimuth_bin_deg)

    @property
    def num_elevation_bins(self) -> int:
        return round(180.0 / self.elevation_bin_deg)


def _first(value: Any) -> float:
    if isinstance(value, list | tuple):
        return float(value[0]) if value else math.nan
    return float(value)


class SpatialTargets:
    """Encodes labels into targets and decodes predictions (see the module docstring).

    Args:
        class_names: the bank's classes (the SED columns).
        config: the bins.
    """

    def __init__(self, class_names: Sequence[str], config: SpatialTargetConfig | None = None) -> None:
        if not class_names or len(set(class_names)) != len(class_names):
            raise ValueError(f"class_names must be distinct and non-empty, got {list(class_names)!r}")
        self.class_names = [str(c) for c in class_names]
        self.config = config or SpatialTargetConfig()
        self._index = {name: k for k, name in enumerate(self.class_names)}

    def multi_hot(self, classes: Sequence[str]) -> Tensor:
        """``(num_classes,)`` float: 1 for each class present.

        Raises:
            ValueError: a class outside the bank.
        """
        row = torch.zeros(len(self.class_names))
        for name in classes:
            if name not in self._index:
                raise ValueError(
                    f"class {name!r} is not one of the model's classes ({', '.join(self.class_names)})"
                )
            row[self._index[name]] = 1.0
        return row

    def distance_bin(self, distance_m: Any) -> Tensor:
        d = torch.as_tensor(distance_m, dtype=torch.float64)
        k = torch.round(d / self.config.distance_bin_m)
        return k.clamp(0, self.config.num_distance_bins - 1).long()

    def azimuth_bin(self, azimuth_deg: Any) -> Tensor:
        a = torch.as_tensor(azimuth_deg, dtype=torch.float64)
        return torch.remainder(
            torch.round(a / self.config.azimuth_bin_deg), self.config.num_azimuth_bins
        ).long()

    def elevation_bin(self, elevation_deg: Any) -> Tensor:
        e = torch.as_tensor(elevation_deg, dtype=torch.float64)
        k = torch.round((e + 90.0) / self.config.elevation_bin_deg)
        return k.clamp(0, self.config.num_elevation_bins - 1).long()

    def bin_azimuth_deg(self, index: Any) -> np.ndarray:
        """Centre of azimuth bins, degrees in (−180, 180]."""
        a = np.asarray(index, np.float64) * self.config.azimuth_bin_deg
        return np.where(a > 180.0, a - 360.0, a)

    def bin_elevation_deg(self, index: Any) -> np.ndarray:
        return -90.0 + np.asarray(index, np.float64) * self.config.elevation_bin_deg

    def bin_distance_m(self, index: Any) -> np.ndarray:
        return np.asarray(index, np.float64) * self.config.distance_bin_m

    def encode(self, row: Mapping[str, Any]) -> dict[str, Tensor]:
        """Targets of one manifest row: ``sed`` multi-hot, ``single`` (one source), ``distance``,
        ``azimuth``, ``elevation`` bins (of the first source; meaningful where ``single``)."""
        classes = row.get("class")
        if not isinstance(classes, list) or not classes:
            raise ValueError(f"example {row.get('id')}: no 'class' list in its labels")
        num = row.get("num_sources", len(classes))
        num = len(classes) if num is None else int(num)
        return {
            "sed": self.multi_hot([str(c) for c in classes]),
            "single": torch.tensor(num == 1),
            "distance": self.distance_bin(_first(row["distance_m"])),
            "azimuth": self.azimuth_bin(_first(row["azimuth_deg"])),
            "elevation": self.elevation_bin(_first(row["elevation_deg"])),
        }
