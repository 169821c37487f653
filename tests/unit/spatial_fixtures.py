"""Small SpatialAST / DSpAST models and a synthetic stack dataset shared by their tests."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from spatialrep.features.frontend import feature_preset
from spatialrep.methods.dspast import dspast_config
from spatialrep.methods.spatial_targets import SpatialTargetConfig
from spatialrep.methods.spatialast import SpatialAstConfig

CLASSES = ["a", "b", "c", "d"]
SIZE = {"embed_dim": 12, "depth": 1, "num_heads": 2, "patch_size": 4}
TARGETS = SpatialTargetConfig(azimuth_bin_deg=30.0, elevation_bin_deg=30.0, num_distance_bins=8)


def spatialast_config(**changes: Any) -> SpatialAstConfig:
    frontend = feature_preset("spatialast", n_mels=16)
    return SpatialAstConfig(
        **{"frontend": frontend, "backbone_overrides": SIZE, "targets": TARGETS, **changes}
    )


def small_dspast_config(**changes: Any) -> SpatialAstConfig:
    frontend = feature_preset("dspast", n_mels=16, num_lags=16)
    return dspast_config(**{"frontend": frontend, "backbone_overrides": SIZE, "targets": TARGETS, **changes})


class SyntheticStacks(Dataset[dict[str, torch.Tensor]]):
    """Random stacks ``(maps, 16, 24)`` with random targets; every other clip has one source."""

    def __init__(self, n: int = 12, maps: int = 6, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.features = torch.randn(n, maps, 16, 24, generator=g)
        self.sed = (torch.rand(n, len(CLASSES), generator=g) < 0.4).float()
        self.sed[:, 0] = 1.0
        self.items = [
            {
                "features": self.features[i],
                "sed": self.sed[i],
                "single": torch.tensor(i % 2 == 0),
                "distance": torch.tensor(i % 8),
                "azimuth": torch.tensor(i % 12),
                "elevation": torch.tensor(i % 6),
            }
            for i in range(n)
        ]
        self.class_lists = [[CLASSES[c] for c in range(len(CLASSES)) if self.sed[i, c]] for i in range(n)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.items[index]
