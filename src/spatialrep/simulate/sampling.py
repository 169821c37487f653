"""Draw :class:`~spatialrep.simulate.scene.SceneSpec` examples from a :class:`SceneConfig`.

Every example's randomness derives from ``(seed, index)`` alone, so a dataset can be rendered in any order, by
any number of workers, and give the same examples.
"""

from __future__ import annotations

import math

import numpy as np

from spatialrep import seeding
from spatialrep.geometry.coordinates import angular_distance, rotate_yaw, spherical_to_cartesian, wrap_angle
from spatialrep.simulate.rooms import ShoeboxRoom
from spatialrep.simulate.scene import SceneSpec, SourceSpec
from spatialrep.simulate.scene_config import SceneConfig

_MAX_TRIES = 200
_PLACEMENT_TRIES = 20


class PlacementError(ValueError):
    """Sources cannot be placed as the config asks (e.g. a distance the room cannot hold)."""


def example_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of example ``index`` of a dataset with base ``seed``."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be >= 0, got seed={seed}, index={index}")
    return seeding.rng(seed, index)


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return float(lo) if lo == hi else float(rng.uniform(lo, hi))


def _sample_direction(rng: np.random.Generator, config: SceneConfig) -> tuple[float, float]:
    """Uniform over the (part of the) sphere the config allows: azimuth uniform, sin(elevation) uniform."""
    az_range, el_range = config.direction_ranges_deg
    azimuth = math.radians(_uniform(rng, az_range))
    lo, hi = (math.sin(math.radians(e)) for e in el_range)
    elevation = math.asin(_uniform(rng, (lo, hi)))
    return float(wrap_angle(azimuth)), elevation


def _sample_targets(
    rng: np.random.Generator, config: SceneConfig, count: int
) -> list[tuple[float, float, float]]:
    """``count`` (azimuth, elevation, distance) triples at least ``min_separation_deg`` apart."""
    min_sep = math.radians(config.min_separation_deg)
    for _ in range(_MAX_TRIES):
        picked: list[tuple[float, float, float]] = []
        for _ in range(count):
            az, el = _sample_direction(rng, config)
            if all(angular_distance(az, el, a, e) >= min_sep for a, e, _ in picked):
                picked.append((az, el, _uniform(rng, config.distance_range_m)))
        if len(picked) == count:
            return picked
    raise PlacementError(
        f"cannot place {count} sources at least {config.min_separation_deg}° apart in region "
        f"{config.region!r}; lower min_separation_deg or num_sources"
    )


def _room_id(size: tuple[float, float, float], rt60: float) -> str:
    return f"shoebox-{size[0]:.2f}x{size[1]:.2f}x{size[2]:.2f}-rt{rt60:.3f}"


def _place_in_room(
    rng: np.random.Generator,
    config: SceneConfig,
    room: ShoeboxRoom,
    offsets: list[tuple[float, float, float]],
) -> tuple[tuple[float, float, float], float]:
    """Receiver position and yaw such that every source offset lies inside the room with the wall margin."""
    size = np.asarray(room.size, dtype=np.float64)
    margin = config.wall_margin_m
    local = spherical_to_cartesian(*np.asarray(offsets, dtype=np.float64).T)  # (n, 3), receiver frame
    h_lo, h_hi = config.receiver_height_m
    h_lo, h_hi = max(h_lo, margin), min(h_hi, size[2] - margin)
    if h_lo > h_hi or np.any(size[:2] <= 2 * margin):
        raise PlacementError(
            f"room {tuple(size)} m cannot hold a receiver {margin} m from the walls at height "
            f"{config.receiver_height_m} m"
        )
    for _ in range(_PLACEMENT_TRIES):
        receiver = np.array(
            [
                rng.uniform(margin, size[0] - margin),
                rng.uniform(margin, size[1] - margin),
                rng.uniform(h_lo, h_hi),
            ]
        )
        yaw = float(rng.uniform(-math.pi, math.pi))
        world = receiver + rotate_yaw(local, yaw)
        if np.all(world >= margin) and np.all(world <= size - margin):
            return (float(receiver[0]), float(receiver[1]), float(receiver[2])), yaw
    far = max(d for *_, d in offsets)
    raise PlacementError(
        f"a source at distance {far:.2f} m does not fit in room "
        f"{tuple(round(float(v), 2) for v in size)} m with wall_margin_m={margin}; "
        "lower distance_range_m or enlarge room_size_min_m"
    )


def sample_scene(config: SceneConfig, seed: int, index: int) -> SceneSpec:
    """Draw example ``index`` of the scene distribution ``config`` with base ``seed``.

    Raises:
        PlacementError: the sources cannot be placed as configured.
    """
    rng = example_rng(seed, index)
    num_targets = int(rng.integers(config.num_sources[0], config.num_sources[1] + 1))
    num_interferers = int(rng.integers(config.num_interferers[0], config.num_interferers[1] + 1))
    room: ShoeboxRoom | None = None
    receiver_position: tuple[float, float, float] | None = None
    yaw = 0.0
    if config.room == "shoebox":
        size = tuple(_uniform(rng, (a, b)) for a, b in zip(config.room_size_min_m, config.room_size_max_m))
        rt60 = _uniform(rng, config.rt60_range_s)
        room = ShoeboxRoom(id=_room_id(size, rt60), size=size, rt60=rt60)  # type: ignore[arg-type]
    # Directions and distances are redrawn when they do not fit the room (e.g. 3 m straight up under a 3 m
    # ceiling); the error is raised only when no draw fits.
    for _ in range(_MAX_TRIES):
        placements = _sample_targets(rng, config, num_targets + num_interferers)
        if room is None:
            break
        try:
            receiver_position, yaw = _place_in_room(rng, config, room, placements)
            break
        except PlacementError as exc:
            failure = exc
    else:
        raise failure
    sources = []
    for k, (az, el, dist) in enumerate(placements):
        is_target = k < num_targets
        level = 0.0 if is_target else -_uniform(rng, config.interferer_sir_range_db)
        sources.append(
            SourceSpec(
                az,
                el,
                dist,
                seed=int(rng.integers(2**62)),
                role="target" if is_target else "interferer",
                level_db=level,
            )
        )
    noise_type = config.noise_types[int(rng.integers(len(config.noise_types)))]
    return SceneSpec(
        index=index,
        sources=tuple(sources),
        room=room,
        receiver_position=receiver_position,
        receiver_yaw=yaw,
        noise_type=noise_type,
        snr_db=_uniform(rng, config.snr_range_db),
        noise_seed=int(rng.integers(2**62)),
        tail_seed=int(rng.integers(2**62)),
        pool_seed=seeding.derive_seed(seed, "clip-pool"),  # the same for every example of a split
    )
