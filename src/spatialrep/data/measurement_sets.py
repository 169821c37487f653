"""Measurement-vector datasets: clips rendered in memory, reduced to features, cached as ``.npz``.

Clip-level methods that read one feature vector per clip (SCE / WSCE and their baselines) need sets the
scene sampler does not express: every direction of a grid exactly once per room or head, a fixed receiver
position, exact measured directions. Each set is a list of *jobs* ``(brir_fn(rng) -> (2, taps), azimuth,
elevation, group)``; every clip is a source signal convolved with its job's binaural room impulse response
(BRIR, :func:`spatialrep.simulate.room_response.room_response`, hybrid mode), then reduced to SCE's
time-averaged ILD/IPD vector. Directions come from the receiver's measured grid (:func:`frontal_directions`)
so that KEMAR labels are exact (no nearest-neighbour HRIR lookup error). All randomness derives from
``(seed, name, clip index)`` through :mod:`spatialrep.seeding`; a set is cached under its name and rebuilt
only when its file is missing.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from scipy.signal import fftconvolve
from torch.utils.data import TensorDataset

from spatialrep import seeding
from spatialrep.features.measurement import sce_measurement_vector
from spatialrep.io.arrays import load_npz, save_npz
from spatialrep.simulate.room_response import room_response
from spatialrep.simulate.rooms import RoomSampler, ShoeboxRoom, place_receiver_and_source, source_offset

__all__ = [
    "FeatureSet",
    "direction_dataset",
    "fixed_brir",
    "frontal_directions",
    "grid_directions",
    "load_or_build",
    "placed_brir",
    "render_features",
    "split_indices",
    "train_rooms",
    "white_excitation",
]

SAMPLE_RATE = 16000
FIXED_ROOM = ShoeboxRoom("fixed_5x4x2.8_rt0.3", (5.0, 4.0, 2.8), 0.3)
FIXED_RECEIVER = np.array([2.5, 2.0, 1.5])
FIXED_DISTANCE_M = 1.2
TRAIN_ROOMS = RoomSampler(size_range=((3.0, 10.0), (2.0, 4.0), (2.8, 3.4)), rt60_range=(0.1, 0.4))
RECEIVER_HEIGHT_M = 1.7
DISTANCES_M = (1.0, 1.5, 2.0)


@dataclasses.dataclass
class FeatureSet:
    """Measurement vectors with their labels.

    Attributes:
        features: ``(n, D)`` float32.
        azimuth, elevation: ``(n,)`` radians.
        group: ``(n,)`` int, the room or head index of each clip (0 for the fixed condition).
    """

    features: npt.NDArray[np.float32]
    azimuth: npt.NDArray[np.float64]
    elevation: npt.NDArray[np.float64]
    group: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def subset(self, index: npt.ArrayLike) -> FeatureSet:
        idx = np.asarray(index, dtype=np.intp)
        return FeatureSet(self.features[idx], self.azimuth[idx], self.elevation[idx], self.group[idx])

    def triple(self) -> tuple[Any, Any, Any]:
        return self.features, self.azimuth, self.elevation

    @staticmethod
    def concat(parts: Sequence[FeatureSet]) -> FeatureSet:
        return FeatureSet(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(FeatureSet))
        )


def frontal_directions(receiver: Any, stride: int, max_elevation_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """The receiver's measured directions with ``|azimuth| <= 90°`` and ``|elevation| <= max_elevation_deg``.

    Every ``stride``-th azimuth of each elevation ring is kept. Returns ``(azimuth, elevation)`` radians.
    """
    az, el = receiver.directions
    az = np.arctan2(np.sin(az), np.cos(az))
    keep = (np.abs(az) <= math.radians(90.0) + 1e-9) & (np.abs(el) <= math.radians(max_elevation_deg) + 1e-9)
    az, el = az[keep], el[keep]
    out_az, out_el = [], []
    for ring in np.unique(np.round(el, 6)):
        members = np.flatnonzero(np.isclose(el, ring, atol=1e-6))
        members = members[np.argsort(az[members])]
        chosen = members[:: max(1, stride)]
        out_az.append(az[chosen])
        out_el.append(el[chosen])
    return np.concatenate(out_az), np.concatenate(out_el)


def grid_directions(
    azimuth_step_deg: float, elevations_deg: Sequence[float], max_azimuth_deg: float = 90.0
) -> tuple[np.ndarray, np.ndarray]:
    """A regular frontal grid: azimuths ``-max..max`` every ``azimuth_step_deg`` on each elevation ring.

    For receivers that render any direction (an interpolated HRTF set, a spherical head). Returns
    ``(azimuth, elevation)`` radians, ring by ring.

    Raises:
        ValueError: a non-positive step or no elevation.
    """
    if not (math.isfinite(azimuth_step_deg) and azimuth_step_deg > 0):
        raise ValueError(f"azimuth_step_deg must be > 0, got {azimuth_step_deg!r}")
    if not len(elevations_deg):
        raise ValueError("grid_directions needs at least one elevation")
    count = math.floor(2 * max_azimuth_deg / azimuth_step_deg + 1e-9) + 1
    azimuths = np.radians(-max_azimuth_deg + azimuth_step_deg * np.arange(count))
    az = np.concatenate([azimuths] * len(elevations_deg))
    el = np.repeat(np.radians(np.asarray(elevations_deg, dtype=np.float64)), count)
    return az, el


def fixed_brir(receiver: Any, azimuth: float, elevation: float, rng: np.random.Generator) -> np.ndarray:
    """Fixed-room BRIR, receiver at :data:`FIXED_RECEIVER` facing +x, source at 1.2 m; ``(2, taps)``."""
    source = FIXED_RECEIVER + source_offset(azimuth, elevation, FIXED_DISTANCE_M, 0.0)
    return room_response(FIXED_ROOM, receiver, FIXED_RECEIVER, source, rng).full


def placed_brir(
    room: ShoeboxRoom, receiver: Any, azimuth: float, elevation: float, rng: np.random.Generator
) -> np.ndarray:
    """BRIR, random receiver position (1.7 m high) and yaw; distance 1, 1.5 or 2 m (largest fit)."""
    first = int(rng.integers(len(DISTANCES_M)))
    for distance in sorted(DISTANCES_M[: first + 1], reverse=True):
        try:
            placement = place_receiver_and_source(
                room, rng, azimuth, elevation, distance,
                receiver_margin=0.25, source_margin=0.25,
                receiver_height=(RECEIVER_HEIGHT_M, RECEIVER_HEIGHT_M),
            )  # fmt: skip
        except ValueError:
            continue
        return room_response(
            room, receiver, placement.receiver, placement.source, rng, receiver_yaw=placement.yaw
        ).full
    raise ValueError(f"room {room.id!r} cannot hold a source at {DISTANCES_M[0]} m")


def train_rooms(seed: int, count: int, name: str) -> list[ShoeboxRoom]:
    """``count`` random shoebox rooms (3-10 x 2-4 x 2.8-3.4 m, RT60 0.1-0.4 s) drawn from ``(seed, name)``."""
    rng = seeding.rng(seed, name)
    return [TRAIN_ROOMS.sample(rng, room_id=f"{name}_{i}") for i in range(count)]


Excitation = Callable[[np.random.Generator, int], np.ndarray]


def white_excitation(rng: np.random.Generator, length: int) -> np.ndarray:
    return rng.standard_normal(length)


Job = tuple[Callable[[np.random.Generator], np.ndarray], float, float, int]
"""``(brir_fn(rng) -> (2, taps), azimuth, elevation, group)``: one clip of a measurement set."""


def render_clips(
    jobs: Sequence[Job],
    excitation: Excitation,
    duration_s: float,
    seed: int,
    name: str,
    *,
    snr_db: float | tuple[float, float] | None = None,
) -> Iterator[np.ndarray]:
    """The binaural clip of each job in order, ``(2, duration_s * SAMPLE_RATE)`` float64.

    Args:
        jobs: ``(brir_fn(rng) -> (2, taps), azimuth, elevation, group)`` per clip.
        excitation: ``excitation(rng, length)`` mono source signal.
        duration_s: clip length after the steady-state convolution (``valid`` part only).
        seed, name: the randomness (one generator per clip from ``(seed, name, index)``): the same arguments
            give the same clips, so a set's audio can be rendered again from its recipe.
        snr_db: add spatially uncorrelated white noise at this SNR (mean power over both ears): a number, a
            ``(low, high)`` range (drawn uniformly per clip from its generator), or ``None``.
    """
    length = round(duration_s * SAMPLE_RATE)
    for index, (brir_fn, _, _, _) in enumerate(jobs):
        rng = seeding.rng(seed, name, spawn_key=(index,))
        brir = brir_fn(rng)
        signal = excitation(rng, length + brir.shape[1] - 1)
        clip = np.stack([fftconvolve(signal, brir[c], mode="valid") for c in range(2)])
        if snr_db is not None:
            snr = float(rng.uniform(*snr_db)) if isinstance(snr_db, tuple) else float(snr_db)
            power = float(np.mean(clip**2))
            clip = clip + rng.standard_normal(clip.shape) * math.sqrt(power / 10.0 ** (snr / 10.0))
        yield clip


def render_features(
    jobs: Sequence[Job],
    excitation: Excitation,
    duration_s: float,
    seed: int,
    name: str,
    *,
    snr_db: float | tuple[float, float] | None = None,
    progress: Any = None,
) -> FeatureSet:
    """Render one clip per job (:func:`render_clips`) and reduce it to its measurement vector.

    Args:
        jobs, excitation, duration_s, seed, name, snr_db: as :func:`render_clips`.
        progress: an optional tqdm bar, advanced once per clip.
    """
    features = []
    batch: list[np.ndarray] = []

    def flush() -> None:
        if batch:
            x = torch.from_numpy(np.stack(batch)).float()
            features.append(sce_measurement_vector(x, SAMPLE_RATE).numpy())
            batch.clear()

    for clip in render_clips(jobs, excitation, duration_s, seed, name, snr_db=snr_db):
        batch.append(clip)
        if len(batch) == 64:
            flush()
        if progress is not None:
            progress.update(1)
    flush()
    return FeatureSet(
        np.concatenate(features).astype(np.float32),
        np.array([j[1] for j in jobs], dtype=np.float64),
        np.array([j[2] for j in jobs], dtype=np.float64),
        np.array([j[3] for j in jobs], dtype=np.int64),
    )


def split_indices(n: int, train_share: float, seed: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Random ``train_share`` / rest split of ``range(n)`` from ``(seed, name)``; both parts sorted."""
    order = seeding.rng(seed, name).permutation(n)
    cut = round(train_share * n)
    return np.sort(order[:cut]), np.sort(order[cut:])


def load_or_build(cache: str | os.PathLike[str], name: str, build: Callable[[], FeatureSet]) -> FeatureSet:
    """``cache/<name>.npz`` if it exists, else ``build()`` stored there atomically."""
    path = Path(cache) / f"{name}.npz"
    if path.is_file():
        return FeatureSet(**load_npz(path, [f.name for f in dataclasses.fields(FeatureSet)]))
    data = build()
    save_npz(path, dataclasses.asdict(data))
    return data


def direction_dataset(features: Any, azimuth: Any, elevation: Any, input_dim: int) -> TensorDataset:
    """``(features, azimuth, elevation)`` float32 tensors as a dataset (radians).

    Raises:
        ValueError: wrong shapes or lengths, or NaN / infinite values (each named).
    """
    x = _float_tensor(features, "features", 2)
    az = _float_tensor(azimuth, "azimuth", 1)
    el = _float_tensor(elevation, "elevation", 1)
    if x.shape[1] != input_dim:
        raise ValueError(f"features must have {input_dim} columns, got {x.shape[1]}")
    if not x.shape[0] == az.shape[0] == el.shape[0]:
        raise ValueError(
            f"features ({x.shape[0]}), azimuth ({az.shape[0]}), elevation ({el.shape[0]}) differ"
        )
    return TensorDataset(x, az, el)


def _float_tensor(value: Any, name: str, ndim: int) -> torch.Tensor:
    tensor = torch.as_tensor(np.asarray(value, dtype=np.float32))
    if tensor.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {tuple(tensor.shape)}")
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return tensor
