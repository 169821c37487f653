"""Microphone array geometries with presets.

Positions are relative to the array centre in the receiver frame of :mod:`spatialrep.geometry.coordinates`
(x front, y left, z up; metres). Channel order is the row order of ``positions``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from spatialrep.geometry.coordinates import SPEED_OF_SOUND, spherical_to_cartesian, wrap_angle


@dataclass(frozen=True)
class MicArray:
    """A rigid arrangement of omnidirectional free-field microphones.

    Attributes:
        name: preset or user name, written into dataset labels.
        positions: shape ``(num_mics, 3)``, metres, relative to the array centre.
    """

    name: str
    positions: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        p = np.asarray(self.positions, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 3 or p.shape[0] < 1:
            raise ValueError(
                f"MicArray {self.name!r}: positions must have shape (num_mics, 3); got {p.shape}"
            )
        if not np.all(np.isfinite(p)):
            raise ValueError(f"MicArray {self.name!r}: positions contain NaN or inf")
        p.setflags(write=False)
        object.__setattr__(self, "positions", p)

    @property
    def num_mics(self) -> int:
        return int(self.positions.shape[0])

    @property
    def aperture(self) -> float:
        """Largest distance between two microphones, metres."""
        diff = self.positions[:, None, :] - self.positions[None, :, :]
        return float(np.max(np.linalg.norm(diff, axis=-1)))

    def max_delay(self, speed_of_sound: float = SPEED_OF_SOUND) -> float:
        """Largest possible time difference of arrival between two microphones, seconds."""
        return self.aperture / speed_of_sound


def tetrahedral_array(radius: float = 0.042) -> MicArray:
    """4-mic tetrahedral array (the DCASE/TAU "MIC" layout: 4.2 cm radius).

    Capsules at (azimuth, elevation) = (45°, 35°), (-45°, -35°), (135°, -35°), (-135°, 35°).
    """
    az = np.deg2rad([45.0, -45.0, 135.0, -135.0])
    el = np.deg2rad([35.0, -35.0, -35.0, 35.0])
    return MicArray("tetrahedral", spherical_to_cartesian(az, el, radius))


def circular_array(num_mics: int = 4, diameter: float = 0.10) -> MicArray:
    """Uniform circular array in the horizontal plane; mic 0 at azimuth 0, counter-clockwise.

    The default (4 mics, 10 cm diameter) is the MC-SimCLR setup.
    """
    if num_mics < 2:
        raise ValueError(f"circular_array needs num_mics >= 2, got {num_mics}")
    if not diameter > 0:
        raise ValueError(f"circular_array needs a positive diameter, got {diameter}")
    az = 2.0 * np.pi * np.arange(num_mics) / num_mics
    return MicArray(f"circular{num_mics}", spherical_to_cartesian(az, 0.0, diameter / 2.0))


def mic_pair(spacing: float = 0.18) -> MicArray:
    """Two free-field microphones on the interaural (y) axis; channel 0 is the left (+y) one."""
    if not spacing > 0:
        raise ValueError(f"mic_pair needs a positive spacing, got {spacing}")
    return MicArray("pair", np.array([[0.0, spacing / 2.0, 0.0], [0.0, -spacing / 2.0, 0.0]]))


_PRESETS: dict[str, Callable[[], MicArray]] = {
    "tetrahedral": tetrahedral_array,
    "circular4": circular_array,
    "pair": mic_pair,
}


def list_arrays() -> list[str]:
    """Names of the array presets."""
    return sorted(_PRESETS)


def make_array(name: str) -> MicArray:
    """Build an array preset by name.

    Raises:
        ValueError: for an unknown name (the message lists the valid ones).
    """
    try:
        return _PRESETS[name]()
    except KeyError:
        raise ValueError(f"unknown array preset {name!r}; valid: {', '.join(list_arrays())}") from None


@dataclass(frozen=True)
class ArraySymmetry:
    """An orthogonal map about the z axis that carries the array onto itself: ``R @ p[c] = p[perm[c]]``.

    ``R`` fixes z (a rotation about z, or a reflection in a vertical plane), so elevations never change.
    Recording the scene with every direction mapped by ``R⁻¹`` (:meth:`map_direction`) gives the original
    recording with its channels reordered, ``y'[c] = y[perm[c]]``: a plane wave from ``u`` reaches mic ``c``
    with the lead ``(R⁻¹ u) · p[c] = u · (R p[c]) = u · p[perm[c]]``. So permuting the channels of a
    recording by ``perm`` and mapping its direction labels with :meth:`map_direction` is a valid new example
    (MC-SimCLR's ChannelSwap).

    Attributes:
        perm: ``(num_mics,)`` channel order, ``perm[c]`` is the old channel that becomes channel ``c``.
        matrix: ``(3, 3)`` orthogonal ``R`` with ``R[2] = (0, 0, 1)``.
        kind: ``"rotation"`` or ``"reflection"``.
        angle: radians; the rotation angle (counter-clockwise seen from above), or the azimuth of the
            reflection's mirror line.
    """

    perm: tuple[int, ...]
    matrix: np.ndarray = field(repr=False)
    kind: str
    angle: float

    @property
    def is_identity(self) -> bool:
        return self.perm == tuple(range(len(self.perm)))

    def map_direction(
        self, azimuth: npt.ArrayLike, elevation: npt.ArrayLike = 0.0
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Directions mapped by ``R⁻¹`` (radians in and out; azimuth wrapped to ``(-π, π]``).

        Rotation by ``θ``: azimuth ``- θ``; reflection in the line at azimuth ``φ``: ``2 φ - azimuth``.
        Elevation is returned unchanged (broadcast to the azimuth's shape).
        """
        az = np.asarray(azimuth, dtype=np.float64)
        el = np.broadcast_to(np.asarray(elevation, dtype=np.float64), az.shape).copy()
        mapped = az - self.angle if self.kind == "rotation" else 2.0 * self.angle - az
        return wrap_angle(mapped), el


def _z_map(kind: str, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    if kind == "rotation":
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    c2, s2 = np.cos(2 * angle), np.sin(2 * angle)
    return np.array([[c2, s2, 0.0], [s2, -c2, 0.0], [0.0, 0.0, 1.0]])


def array_symmetries(array: MicArray, *, tolerance: float = 1e-6) -> list[ArraySymmetry]:
    """The orthogonal maps about z (rotations about z, reflections in vertical planes) that permute the
    microphones, one per distinct permutation, the identity first.

    Candidates carry one reference microphone (the first one off the z axis) onto each microphone at the same
    height and distance from the axis; a candidate is kept when every microphone lands within ``tolerance``
    (relative to the aperture) of another. ``circular4`` gives the dihedral group D4 (8 maps), the
    tetrahedral array 4 (the identity, the half turn and two mirrors). When two maps give the same
    permutation (the ``pair``: the half turn and the left-right mirror both swap its channels) the first found
    is kept, a rotation before a reflection: such an array cannot tell the two directions apart anyway. An
    array whose microphones all lie on the z axis gets only the identity.

    Raises:
        ValueError: a non-positive tolerance.
    """
    if not tolerance > 0:
        raise ValueError(f"array_symmetries needs a positive tolerance, got {tolerance!r}")
    p = array.positions
    scale = max(array.aperture, 1e-12)
    tol = tolerance * scale
    radial = np.hypot(p[:, 0], p[:, 1])
    identity = ArraySymmetry(tuple(range(array.num_mics)), np.eye(3), "rotation", 0.0)
    off_axis = np.flatnonzero(radial > tol)
    if off_axis.size == 0:
        return [identity]
    ref = int(off_axis[0])
    ref_az = float(np.arctan2(p[ref, 1], p[ref, 0]))
    found: dict[tuple[int, ...], ArraySymmetry] = {identity.perm: identity}
    for target in range(array.num_mics):
        if abs(radial[target] - radial[ref]) > tol or abs(p[target, 2] - p[ref, 2]) > tol:
            continue
        target_az = float(np.arctan2(p[target, 1], p[target, 0]))
        for kind, angle in (
            ("rotation", float(wrap_angle(target_az - ref_az))),
            ("reflection", float(wrap_angle((target_az + ref_az) / 2.0))),
        ):
            matrix = _z_map(kind, angle)
            moved = p @ matrix.T
            distance = np.linalg.norm(moved[:, None, :] - p[None, :, :], axis=-1)  # (moved c, original c')
            nearest = distance.argmin(axis=1)
            if np.all(distance[np.arange(len(p)), nearest] <= tol) and len(set(nearest)) == len(p):
                perm = tuple(int(i) for i in nearest)
                if perm not in found:
                    found[perm] = ArraySymmetry(perm, matrix, kind, angle)
    return list(found.values())
