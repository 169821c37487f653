"""Direction grids: fix each example's target direction from its index instead of sampling it.

Every block of ``G`` consecutive indices (``G`` grid points) visits each point exactly once, in an order drawn
from ``(split seed, block)``, so any prefix of a split is spread over the grid and a split of ``k * G``
examples holds every direction ``k`` times.
"""

from __future__ import annotations

import dataclasses

from spatialrep import seeding
from spatialrep.simulate.scene_config import SceneConfig

_GRID_STREAM = 0x67726964  # "grid": keeps the order's stream apart from the scene sampler's


def grid_point_index(num_points: int, seed: int, index: int) -> int:
    """Which of ``num_points`` grid points example ``index`` of a split with ``seed`` uses.

    Raises:
        ValueError: no points, or a negative seed or index.
    """
    if num_points < 1:
        raise ValueError(f"a direction grid needs at least one point, got {num_points}")
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be >= 0, got seed={seed}, index={index}")
    block, offset = divmod(index, num_points)
    order = seeding.rng(seed, _GRID_STREAM, block).permutation(num_points)
    return int(order[offset])


def scene_at_direction(scene: SceneConfig, azimuth_deg: float, elevation_deg: float) -> SceneConfig:
    """``scene`` with its direction region collapsed to one direction (degrees).

    The sampler then places the receiver in the room knowing the real source direction, which replacing the
    direction of an already sampled scene would not.
    """
    return dataclasses.replace(
        scene,
        region="custom",
        azimuth_range_deg=(azimuth_deg, azimuth_deg),
        elevation_range_deg=(elevation_deg, elevation_deg),
    )
