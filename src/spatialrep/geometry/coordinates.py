"""The single coordinate convention of spatialrep.

Receiver-centred, right-handed Cartesian frame (metres):

* ``x`` points to the front (the direction the head or array faces),
* ``y`` points to the left,
* ``z`` points up.

Spherical coordinates follow SOFA's ``SimpleFreeFieldHRIR`` convention:

* **azimuth** ``0`` = front, ``+π/2`` = left, ``±π`` = back, ``-π/2`` = right (counter-clockwise seen from
  above), wrapped to ``(-π, π]``;
* **elevation** ``0`` = horizontal plane, ``+π/2`` = straight up;
* **distance** in metres from the receiver centre.

Radians everywhere inside the library; degrees only at the edges (CLI, CSV, SOFA files). All functions accept
scalars or numpy arrays and broadcast.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SPEED_OF_SOUND = 343.0
"""Speed of sound in air at about 20 °C, m/s."""

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]


def wrap_angle(angle: ArrayLike) -> FloatArray:
    """Wrap angles (radians) to ``(-π, π]``."""
    a = np.asarray(angle, dtype=np.float64)
    wrapped = np.mod(a + np.pi, 2.0 * np.pi) - np.pi
    # mod maps +π to -π; keep the documented half-open interval (-π, π].
    return np.where(wrapped == -np.pi, np.pi, wrapped)


def spherical_to_cartesian(azimuth: ArrayLike, elevation: ArrayLike, distance: ArrayLike = 1.0) -> FloatArray:
    """Convert spherical coordinates to Cartesian.

    Args:
        azimuth: radians, 0 = front, +π/2 = left.
        elevation: radians, +π/2 = up.
        distance: metres.

    Returns:
        Positions, shape ``(*broadcast_shape, 3)``, metres.
    """
    az, el, r = np.broadcast_arrays(
        np.asarray(azimuth, np.float64), np.asarray(elevation, np.float64), np.asarray(distance, np.float64)
    )
    cos_el = np.cos(el)
    return np.stack([r * cos_el * np.cos(az), r * cos_el * np.sin(az), r * np.sin(el)], axis=-1)


def cartesian_to_spherical(xyz: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Convert Cartesian positions ``(..., 3)`` to ``(azimuth, elevation, distance)``.

    Azimuth is wrapped to ``(-π, π]``; at the origin all three are 0.

    Raises:
        ValueError: if the last axis does not have size 3.
    """
    p = np.asarray(xyz, dtype=np.float64)
    if p.shape[-1:] != (3,):
        raise ValueError(f"positions must have a last axis of size 3 (x, y, z); got shape {p.shape}")
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    horizontal = np.hypot(x, y)
    azimuth = wrap_angle(np.arctan2(y, x))
    elevation = np.arctan2(z, horizontal)
    return azimuth, elevation, np.hypot(horizontal, z)


def angular_distance(
    azimuth1: ArrayLike, elevation1: ArrayLike, azimuth2: ArrayLike, elevation2: ArrayLike
) -> FloatArray:
    """Great-circle angle between two directions, radians in ``[0, π]``.

    This is *the* angular error of spatialrep: every metric and baseline uses it. Uses the numerically stable
    Vincenty form (accurate for tiny and near-antipodal angles). For azimuth-only problems pass zero
    elevations: the result is then the wrapped absolute azimuth difference.
    """
    az1, el1, az2, el2 = (
        np.asarray(v, dtype=np.float64) for v in (azimuth1, elevation1, azimuth2, elevation2)
    )
    d_az = az2 - az1
    sin_el1, cos_el1 = np.sin(el1), np.cos(el1)
    sin_el2, cos_el2 = np.sin(el2), np.cos(el2)
    num = np.hypot(cos_el2 * np.sin(d_az), cos_el1 * sin_el2 - sin_el1 * cos_el2 * np.cos(d_az))
    den = sin_el1 * sin_el2 + cos_el1 * cos_el2 * np.cos(d_az)
    return np.arctan2(num, den)


def azimuth_difference(azimuth1: ArrayLike, azimuth2: ArrayLike) -> FloatArray:
    """Absolute azimuth difference with wrap-around, radians in ``[0, π]``."""
    return np.abs(wrap_angle(np.asarray(azimuth2, np.float64) - np.asarray(azimuth1, np.float64)))


def rotate_yaw(xyz: ArrayLike, yaw: float) -> FloatArray:
    """Rotate vectors ``(..., 3)`` counter-clockwise about ``z`` by ``yaw`` radians.

    A receiver facing azimuth ``yaw`` in the world sees a world vector ``v`` at ``rotate_yaw(v, -yaw)``.
    """
    p = np.asarray(xyz, dtype=np.float64)
    c, s = np.cos(yaw), np.sin(yaw)
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return p @ rotation.T


def fibonacci_sphere(num_points: int) -> tuple[FloatArray, FloatArray]:
    """Nearly uniform directions on the sphere (Fibonacci lattice).

    Args:
        num_points: number of directions, ≥ 1.

    Returns:
        ``(azimuth, elevation)``, each shape ``(num_points,)``, radians.
    """
    if num_points < 1:
        raise ValueError(f"num_points must be >= 1, got {num_points}")
    i = np.arange(num_points, dtype=np.float64) + 0.5
    z = 1.0 - 2.0 * i / num_points
    golden = np.pi * (3.0 - np.sqrt(5.0))
    azimuth = wrap_angle(golden * i)
    return azimuth, np.arcsin(z)


def fold_front_back(azimuth: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Mirror azimuths across the interaural axis into the frontal half-plane ``[-π/2, π/2]``.

    ``fold(a) = atan2(sin a, |cos a|)``: a source behind (``|a| > π/2``) maps to its front-back twin
    ``π - a`` (wrapped), which has the same interaural time difference.

    Args:
        azimuth: radians, any shape.

    Returns:
        Radians, same shape, in ``[-π/2, π/2]``.
    """
    a = np.asarray(azimuth, dtype=np.float64)
    return np.arctan2(np.sin(a), np.abs(np.cos(a)))
