"""Microphone array geometries with presets.

Positions are relative to the array centre in the receiver frame of :mod:`spatialrep.geometry.coordinates`
(x front, y left, z up; metres). Channel order is the row order of ``positions``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from spatialrep.geometry.coordinates import SPEED_OF_SOUND, spherical_to_cartesian


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
