"""Shoebox rooms: geometry, absorption from a target RT60, room sampling and receiver/source placement.

A :class:`ShoeboxRoom` is a rectangular room with the origin in one corner and walls at ``0`` and ``size``
along each world axis (metres). Its walls share one frequency-independent energy absorption coefficient,
derived from the requested RT60.

Absorption from RT60: the image-source model (ISM, :mod:`spatialrep.simulate.room_response`) does not follow
Sabine's formula. An image whose path of length ``r`` runs in direction ``u`` has met about
``r * w(u)`` walls, ``w(u) = |u_x|/L_x + |u_y|/L_y + |u_z|/L_z``, and images fill space uniformly, so the
expected reverberant energy envelope of the ISM is ``E(t) ∝ mean_u (1 - α)^(c t w(u))``. This decays faster
than Sabine's law predicts (the Eyring effect) and, in elongated rooms, bends towards slow axial paths (Sabine
inversion then gives an ISM decay up to ~50 % longer than requested in a 10 × 4 × 3 m room). We therefore
invert this expected envelope instead: ``α`` is chosen so that the T30 of its Schroeder decay curve (line fit
from -5 to -35 dB, extrapolated to 60 dB) equals the requested RT60. Because the curve depends on ``α`` only
through the product ``-ln(1 - α) c t``, the inversion is closed-form: ``α = 1 - exp(-X30 / (c RT60))`` with
``X30`` a shape constant of the room. An RT60 is *unreachable* when it needs ``α > MAX_ABSORPTION``: such a
room has almost no reflections left and :class:`ShoeboxRoom` raises ``ValueError`` giving the shortest
reachable RT60.

References:
    J. B. Allen, D. A. Berkley, "Image method for efficiently simulating small-room acoustics", JASA 65(4),
    1979.

    ISO 3382-2:2008, reverberation time from the T20/T30 fit of the Schroeder decay curve.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from spatialrep.geometry.coordinates import (
    SPEED_OF_SOUND,
    fibonacci_sphere,
    rotate_yaw,
    spherical_to_cartesian,
)
from spatialrep.simulate import fastpath

MAX_ABSORPTION = 0.95
"""Largest wall energy absorption coefficient a room may need to reach its RT60."""

_MODEL_DIRECTIONS = 2048
_MODEL_GRID = 1024
_MODEL_BLOCK = 64
_T30_RANGE_DB = (5.0, 35.0)


@dataclass(frozen=True)
class _DecayModel:
    """Expected ISM energy decay of one room shape, as a function of ``x = -ln(1 - α) c t`` (metres)."""

    x: np.ndarray  # (grid,), increasing from 0
    log_envelope: np.ndarray  # (grid,), ln of the normalised energy envelope, 0 at x = 0
    log_edc: np.ndarray  # (grid,), ln of the normalised Schroeder integral, 0 at x = 0
    x30: float  # T30 of the curve in x units


@functools.lru_cache(maxsize=512)
def _decay_model(size: tuple[float, float, float]) -> _DecayModel:
    azimuth, elevation = fibonacci_sphere(_MODEL_DIRECTIONS)
    w = np.abs(spherical_to_cartesian(azimuth, elevation)) @ (1.0 / np.asarray(size))  # walls met per metre
    # The slowest direction is down by e^-35 (-150 dB) at the grid end: everything of interest is inside.
    x = np.linspace(0.0, 35.0 / float(w.min()), _MODEL_GRID)
    mean_decay, edc = _decay_means(x, w)
    log_envelope = np.log(mean_decay)
    log_edc = np.log(edc / edc[0])
    edc_db = 10.0 / np.log(10.0) * log_edc
    fit = (edc_db <= -_T30_RANGE_DB[0]) & (edc_db >= -_T30_RANGE_DB[1])
    slope = np.polyfit(x[fit], edc_db[fit], 1)[0]
    for a in (x, log_envelope, log_edc):
        a.setflags(write=False)
    return _DecayModel(x, log_envelope, log_edc, float(-60.0 / slope))


def _decay_means(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``mean_u exp(-x w_u)`` and ``mean_u exp(-x w_u) / w_u`` at every ``x``, shapes ``(grid,)``.

    The second is the Schroeder integral ``∫_x^∞ exp(-x' w) dx' = exp(-x w) / w``. The fast path evaluates
    blocks of rows that stay in cache instead of two ``(grid, directions)`` arrays; every row is reduced
    alone either way, so the results are identical.
    """
    if not fastpath.enabled():
        decay = np.exp(-x[:, None] * w[None, :])
        return decay.mean(axis=1), (decay / w).mean(axis=1)
    mean_decay, edc = np.empty(x.size), np.empty(x.size)
    for lo in range(0, x.size, _MODEL_BLOCK):
        hi = min(x.size, lo + _MODEL_BLOCK)
        decay = np.exp(-x[lo:hi, None] * w[None, :])
        mean_decay[lo:hi] = decay.mean(axis=1)
        edc[lo:hi] = np.divide(decay, w, out=decay).mean(axis=1)
    return mean_decay, edc


def _interp_extrapolate(value: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Linear interpolation of increasing ``xp`` that continues the last segment beyond the grid."""
    out = np.interp(value, xp, fp)
    beyond = value > xp[-1]
    if np.any(beyond):
        slope = (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
        out = np.where(beyond, fp[-1] + slope * (value - xp[-1]), out)
    return out


@dataclass(frozen=True)
class ShoeboxRoom:
    """A rectangular room with uniform, frequency-independent wall absorption.

    Attributes:
        id: identifier written into labels.
        size: ``(L_x, L_y, L_z)`` in metres; walls at 0 and ``L`` along each world axis, ``z`` up.
        rt60: target reverberation time in seconds (T30 definition), or ``None`` for an anechoic room.
        absorption: wall energy absorption coefficient in ``(0, MAX_ABSORPTION]`` derived from ``rt60`` (see
            the module docstring); 1.0 for an anechoic room.

    Raises:
        ValueError: empty id, a size that is not three finite positive numbers, an RT60 that is not a finite
            positive number, or an RT60 unreachable for this size (it would need absorption > MAX_ABSORPTION).
    """

    id: str
    size: tuple[float, float, float]
    rt60: float | None
    absorption: float = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"ShoeboxRoom: id must be a non-empty string, got {self.id!r}")
        size = np.asarray(self.size, dtype=np.float64)
        if size.shape != (3,) or not np.all(np.isfinite(size)) or np.any(size <= 0):
            raise ValueError(
                f"ShoeboxRoom {self.id!r}: size must be three finite positive lengths (m), got {self.size!r}"
            )
        object.__setattr__(self, "size", (float(size[0]), float(size[1]), float(size[2])))
        if self.rt60 is None:
            object.__setattr__(self, "absorption", 1.0)
            return
        if isinstance(self.rt60, bool) or not isinstance(self.rt60, int | float):
            raise ValueError(f"ShoeboxRoom {self.id!r}: rt60 must be a number or None, got {self.rt60!r}")
        rt60 = float(self.rt60)
        if not math.isfinite(rt60) or rt60 <= 0:
            raise ValueError(f"ShoeboxRoom {self.id!r}: rt60 must be finite and > 0 s (or None), got {rt60}")
        object.__setattr__(self, "rt60", rt60)
        x30 = self._model.x30
        absorption = -math.expm1(-x30 / (SPEED_OF_SOUND * rt60))
        if absorption > MAX_ABSORPTION:
            shortest = x30 / (SPEED_OF_SOUND * -math.log1p(-MAX_ABSORPTION))
            raise ValueError(
                f"ShoeboxRoom {self.id!r}: rt60={rt60} s is unreachable for size {self.size} m: it needs an "
                f"absorption coefficient of {absorption:.3f} > MAX_ABSORPTION={MAX_ABSORPTION}; the shortest "
                f"reachable RT60 is {shortest:.3f} s"
            )
        object.__setattr__(self, "absorption", absorption)

    @property
    def _model(self) -> _DecayModel:
        lx, ly, lz = sorted(self.size)
        return _decay_model((lx, ly, lz))

    @property
    def dimensions(self) -> np.ndarray:
        """``size`` as an array, shape ``(3,)``, metres."""
        return np.asarray(self.size, dtype=np.float64)

    @property
    def volume(self) -> float:
        """m³."""
        return float(np.prod(self.size))

    @property
    def surface_area(self) -> float:
        """Total wall area, m²."""
        lx, ly, lz = self.size
        return 2.0 * (lx * ly + ly * lz + lx * lz)

    @property
    def mixing_time(self) -> float:
        """Perceptual mixing time estimate ``sqrt(V)`` ms, returned in seconds."""
        return 1e-3 * math.sqrt(self.volume)

    @property
    def is_anechoic(self) -> bool:
        return self.rt60 is None

    @property
    def reflection_coefficient(self) -> float:
        """Pressure reflection coefficient of every wall, ``sqrt(1 - absorption)``."""
        return math.sqrt(max(0.0, 1.0 - self.absorption))

    def _x_per_second(self) -> float:
        return -math.log1p(-self.absorption) * SPEED_OF_SOUND

    def energy_envelope(self, time: np.ndarray) -> np.ndarray:
        """Expected reverberant energy envelope of the image-source model, normalised to 1 at ``t = 0``.

        Args:
            time: seconds since emission, any shape, ≥ 0.

        Returns:
            Same shape as ``time``: ``mean_u (1 - α)^(c t w(u))`` (zeros for an anechoic room).
        """
        t = np.asarray(time, dtype=np.float64)
        if self.is_anechoic:
            return np.zeros_like(t)
        model = self._model
        return np.exp(_interp_extrapolate(t * self._x_per_second(), model.x, model.log_envelope))

    def directional_energy_envelope(self, time: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """Expected energy envelope of the reflections arriving from given world directions.

        ``(1 - α)^(c t w(u))`` with ``w(u) = Σ_k |u_k| / L_k`` the walls met per metre of path in direction
        ``u``: late image-source reverberation is anisotropic, strongest along the room's long axes. Its mean
        over the sphere is :meth:`energy_envelope`.

        Args:
            time: seconds since emission, shape ``(T,)``.
            directions: unit vectors in world coordinates, shape ``(n, 3)``.

        Returns:
            shape ``(n, T)`` (zeros for an anechoic room).
        """
        t = np.asarray(time, dtype=np.float64)
        u = np.asarray(directions, dtype=np.float64)
        if u.ndim != 2 or u.shape[1] != 3:
            raise ValueError(f"directions must have shape (n, 3), got {u.shape}")
        if self.is_anechoic:
            return np.zeros((u.shape[0], t.size))
        w = np.abs(u) @ (1.0 / self.dimensions)
        return np.exp(-self._x_per_second() * w[:, None] * t.reshape(1, -1))

    def decay_time(self, level_db: float = 60.0) -> float:
        """Time after emission at which the expected Schroeder decay curve has fallen by ``level_db``.

        Slightly longer than ``rt60`` for 60 dB (the curve bends in elongated rooms); 0 for an anechoic room.

        Raises:
            ValueError: ``level_db`` not positive.
        """
        if not level_db > 0:
            raise ValueError(f"level_db must be > 0, got {level_db}")
        if self.is_anechoic:
            return 0.0
        model = self._model
        target = -level_db * math.log(10.0) / 10.0
        # log_edc decreases: interpolate x as a function of -log_edc.
        x = float(_interp_extrapolate(np.asarray(-target), -model.log_edc, model.x))
        return x / self._x_per_second()


Range = tuple[float, float]


def _check_range(name: str, value: Range, lower: float = 0.0, strict: bool = True) -> None:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (min, max) pair of numbers, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if lo > hi:
        raise ValueError(f"{name} is inverted (min > max): {value!r}")
    if (lo <= lower) if strict else (lo < lower):
        bound = ">" if strict else ">="
        raise ValueError(f"{name} must have min {bound} {lower}, got {value!r}")


@dataclass(frozen=True)
class RoomSampler:
    """Distribution of shoebox rooms: uniform sizes per axis and uniform RT60.

    Attributes:
        size_range: ``((min, max) of L_x, (min, max) of L_y, (min, max) of L_z)``, metres.
        rt60_range: ``(min, max)`` seconds.
        anechoic_probability: probability in ``[0, 1]`` of an anechoic room instead.
        max_attempts: redraws of (size, RT60) when the RT60 is unreachable for the drawn size (this slightly
            favours larger RT60 in large rooms; with the defaults it never happens).

    Raises:
        ValueError: a range that is not a finite (min, max) pair, inverted, or with non-positive sizes or
            RT60; a probability outside ``[0, 1]``; ``max_attempts < 1``. The message names the field.
    """

    size_range: tuple[Range, Range, Range] = ((3.0, 10.0), (3.0, 8.0), (2.5, 4.0))
    rt60_range: Range = (0.2, 0.9)
    anechoic_probability: float = 0.0
    max_attempts: int = 100

    def __post_init__(self) -> None:
        if not isinstance(self.size_range, tuple | list) or len(self.size_range) != 3:
            raise ValueError(
                f"size_range must hold three (min, max) pairs (x, y, z), got {self.size_range!r}"
            )
        for axis, pair in zip("xyz", self.size_range):
            _check_range(f"size_range[{axis}]", pair)
        _check_range("rt60_range", self.rt60_range)
        if not 0.0 <= self.anechoic_probability <= 1.0:
            raise ValueError(f"anechoic_probability must be in [0, 1], got {self.anechoic_probability}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")

    def sample(self, rng: np.random.Generator, room_id: str | None = None) -> ShoeboxRoom:
        """Draw one room.

        Args:
            rng: the only source of randomness.
            room_id: id of the room; by default a descriptive one (``shoebox_5.12x4.03x2.87_rt0.463``).

        Raises:
            ValueError: no reachable (size, RT60) pair found in ``max_attempts`` draws.
        """
        bounds = np.asarray(self.size_range, dtype=np.float64)
        anechoic = self.anechoic_probability > 0 and rng.random() < self.anechoic_probability
        for _ in range(self.max_attempts):
            size = rng.uniform(bounds[:, 0], bounds[:, 1])
            rt60 = None if anechoic else float(rng.uniform(*self.rt60_range))
            name = room_id or (
                f"shoebox_{size[0]:.2f}x{size[1]:.2f}x{size[2]:.2f}_"
                + ("anechoic" if rt60 is None else f"rt{rt60:.3f}")
            )
            try:
                return ShoeboxRoom(name, (float(size[0]), float(size[1]), float(size[2])), rt60)
            except ValueError:
                continue
        raise ValueError(
            f"RoomSampler: no reachable RT60 in rt60_range={self.rt60_range} for "
            f"size_range={self.size_range} after {self.max_attempts} draws; raise the RT60 range or shrink "
            "the rooms"
        )


def sample_room(
    rng: np.random.Generator,
    size_range: tuple[Range, Range, Range] = RoomSampler.size_range,
    rt60_range: Range = RoomSampler.rt60_range,
    *,
    anechoic_probability: float = 0.0,
    room_id: str | None = None,
) -> ShoeboxRoom:
    """Draw one room from ``RoomSampler(size_range, rt60_range, anechoic_probability)``; see there."""
    return RoomSampler(size_range, rt60_range, anechoic_probability).sample(rng, room_id)


def check_inside(
    room: ShoeboxRoom, position: npt.ArrayLike, margin: float = 0.0, name: str = "position"
) -> np.ndarray:
    """Validate that a point lies inside the room, at least ``margin`` from every wall.

    Args:
        room: the room.
        position: ``(x, y, z)`` in world coordinates, metres.
        margin: smallest allowed distance to a wall, metres, ≥ 0.
        name: what the point is, used in error messages (``"source"``, ``"receiver"``).

    Returns:
        The position as a float64 array, shape ``(3,)``.

    Raises:
        ValueError: wrong shape or non-finite values, negative margin, a point outside the room, or one closer
            than ``margin`` to a wall.
    """
    if not margin >= 0:
        raise ValueError(f"margin must be >= 0 m, got {margin}")
    p = np.asarray(position, dtype=np.float64)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must be three finite coordinates (x, y, z) in metres, got {position!r}")
    size = room.dimensions
    if np.any(p < 0) or np.any(p > size):
        raise ValueError(f"{name} {p.tolist()} is outside room {room.id!r} of size {room.size} m")
    clearance = float(np.min(np.minimum(p, size - p)))
    if clearance < margin:
        raise ValueError(
            f"{name} {p.tolist()} is {clearance:.3f} m from a wall of room {room.id!r}, closer than the "
            f"margin of {margin} m"
        )
    return p


def source_offset(azimuth: float, elevation: float, distance: float, yaw: float = 0.0) -> np.ndarray:
    """World-frame vector from a receiver facing ``yaw`` to a source at receiver-frame (az, el, distance).

    Returns:
        shape ``(3,)``, metres.
    """
    return rotate_yaw(spherical_to_cartesian(azimuth, elevation, distance), yaw)


def max_source_distance(
    room: ShoeboxRoom,
    receiver_position: npt.ArrayLike,
    azimuth: float,
    elevation: float,
    yaw: float = 0.0,
    margin: float = 0.0,
) -> float:
    """Largest source distance the room holds in a receiver-frame direction, ``margin`` away from the walls.

    Returns:
        metres (0 when the receiver itself is closer than ``margin`` to a wall).
    """
    p = check_inside(room, receiver_position, 0.0, "receiver")
    direction = source_offset(azimuth, elevation, 1.0, yaw)
    lo, hi = np.full(3, float(margin)), room.dimensions - margin
    if np.any(p < lo) or np.any(p > hi):
        return 0.0
    with np.errstate(divide="ignore"):
        exits = np.where(
            direction > 0, (hi - p) / direction, np.where(direction < 0, (lo - p) / direction, np.inf)
        )
    return float(np.min(exits))


def place_source(
    room: ShoeboxRoom,
    receiver_position: npt.ArrayLike,
    azimuth: float,
    elevation: float,
    distance: float,
    yaw: float = 0.0,
    margin: float = 0.5,
) -> np.ndarray:
    """Source position at receiver-frame (azimuth, elevation, distance) from a receiver facing ``yaw``.

    Args:
        room: the room.
        receiver_position: world coordinates, metres, shape ``(3,)``.
        azimuth, elevation: radians, receiver frame.
        distance: metres, > 0.
        yaw: receiver orientation (azimuth of its front in the world), radians.
        margin: smallest source–wall distance, metres.

    Returns:
        World position, shape ``(3,)``.

    Raises:
        ValueError: non-positive distance, or a distance the room cannot hold in that direction.
    """
    if not distance > 0:
        raise ValueError(f"distance must be > 0 m, got {distance}")
    p = check_inside(room, receiver_position, 0.0, "receiver")
    limit = max_source_distance(room, p, azimuth, elevation, yaw, margin)
    if distance > limit:
        raise ValueError(
            f"distance {distance} m is a distance the room cannot hold: room {room.id!r} "
            f"(size {room.size} m) fits at most {limit:.3f} m in direction (azimuth {azimuth:.3f}, "
            f"elevation {elevation:.3f}) rad from the receiver at {p.tolist()} (yaw {yaw:.3f} rad, wall "
            f"margin {margin} m)"
        )
    return p + source_offset(azimuth, elevation, distance, yaw)


@dataclass(frozen=True)
class Placement:
    """A receiver and a source in a room.

    Attributes:
        receiver: world position of the receiver centre, shape ``(3,)``, metres.
        source: world position of the source, shape ``(3,)``, metres.
        yaw: receiver orientation (world azimuth of its front), radians.
    """

    receiver: np.ndarray
    source: np.ndarray
    yaw: float


def place_receiver_and_source(
    room: ShoeboxRoom,
    rng: np.random.Generator,
    azimuth: float,
    elevation: float,
    distance: float,
    *,
    yaw: float | None = None,
    receiver_margin: float = 0.5,
    source_margin: float = 0.5,
    receiver_height: Range | None = None,
    num_yaw_candidates: int = 64,
) -> Placement:
    """Draw a receiver position (and yaw) so that a source fits at a given relative direction and distance.

    The receiver is uniform over the positions where both it and the source keep their wall margins (an exact
    box, no rejection); with ``yaw=None`` the yaw is uniform over ``num_yaw_candidates`` random draws that
    fit.

    Args:
        room: the room.
        rng: the only source of randomness.
        azimuth, elevation: source direction in the receiver frame, radians.
        distance: source distance from the receiver centre, metres, > 0.
        yaw: receiver orientation in radians, or ``None`` to draw one.
        receiver_margin: smallest receiver–wall distance, metres.
        source_margin: smallest source–wall distance, metres.
        receiver_height: optional ``(min, max)`` height of the receiver, metres.
        num_yaw_candidates: yaw draws tried when ``yaw`` is ``None``.

    Returns:
        The placement.

    Raises:
        ValueError: bad arguments, or a distance the room cannot hold at that direction (for any drawn yaw).
    """
    if not distance > 0:
        raise ValueError(f"distance must be > 0 m, got {distance}")
    if not (receiver_margin >= 0 and source_margin >= 0):
        raise ValueError(f"margins must be >= 0 m, got receiver {receiver_margin}, source {source_margin}")
    if num_yaw_candidates < 1:
        raise ValueError(f"num_yaw_candidates must be >= 1, got {num_yaw_candidates}")
    size = room.dimensions
    lo_r, hi_r = np.full(3, float(receiver_margin)), size - receiver_margin
    if receiver_height is not None:
        _check_range("receiver_height", receiver_height, strict=False)
        lo_r[2] = max(lo_r[2], float(receiver_height[0]))
        hi_r[2] = min(hi_r[2], float(receiver_height[1]))
    yaws = rng.uniform(-np.pi, np.pi, num_yaw_candidates) if yaw is None else np.array([float(yaw)])
    offsets = np.stack([source_offset(azimuth, elevation, distance, float(y)) for y in yaws])  # (K, 3)
    lo = np.maximum(lo_r, source_margin - offsets)
    hi = np.minimum(hi_r, size - source_margin - offsets)
    fits = np.all(hi >= lo, axis=1)
    if not np.any(fits):
        which = "any drawn yaw" if yaw is None else f"yaw {float(yaw):.3f} rad"
        raise ValueError(
            f"distance {distance} m is a distance the room cannot hold: room {room.id!r} "
            f"(size {room.size} m) has no receiver position for a source at azimuth {azimuth:.3f}, "
            f"elevation {elevation:.3f} rad with "
            f"{which}, receiver margin {receiver_margin} m, source margin {source_margin} m"
        )
    k = int(np.flatnonzero(fits)[0])  # candidates are i.i.d., so the first that fits is a uniform pick
    receiver = rng.uniform(lo[k], hi[k])
    return Placement(receiver=receiver, source=receiver + offsets[k], yaw=float(yaws[k]))
