"""What hears a scene: the ``Receiver`` interface and the free-field microphone-array receiver.

A receiver turns a direction (in its own frame, see :mod:`spatialrep.geometry.coordinates`) into a
multichannel far-field impulse response. Binaural heads (:mod:`spatialrep.simulate.hrtf`,
:mod:`spatialrep.simulate.spherical_head`) and arrays (here) implement the same interface, so the room
synthesis, the noise generator and the renderer never ask which kind they have.

Timing convention: in an impulse response returned by ``impulse_responses``, sample index ``onset`` is the
moment the wavefront passes the receiver centre. A source at distance ``r`` therefore contributes its response
shifted by ``r / c * sample_rate - onset`` samples.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from spatialrep.dsp import fractional_delay_kernel
from spatialrep.geometry.arrays import MicArray
from spatialrep.geometry.coordinates import SPEED_OF_SOUND, fibonacci_sphere, spherical_to_cartesian


@runtime_checkable
class Receiver(Protocol):
    """A multichannel listener: binaural head or microphone array."""

    @property
    def name(self) -> str:
        """Identifier written into labels (HRTF subject or array name)."""
        ...

    @property
    def kind(self) -> str:
        """``"binaural"`` or ``"array"``."""
        ...

    @property
    def sample_rate(self) -> int:
        """Hz."""
        ...

    @property
    def num_channels(self) -> int: ...

    @property
    def onset(self) -> int:
        """Index in each impulse response at which a wavefront passes the receiver centre."""
        ...

    @property
    def max_delay(self) -> float:
        """Largest interchannel time difference for any direction, seconds."""
        ...

    def impulse_responses(self, azimuth: np.ndarray, elevation: np.ndarray) -> np.ndarray:
        """Far-field impulse responses for directions in the receiver frame.

        Args:
            azimuth: shape ``(n,)``, radians.
            elevation: shape ``(n,)``, radians.

        Returns:
            shape ``(n, num_channels, taps)``, float64.
        """
        ...

    def diffuse_directions(self, num_directions: int) -> tuple[np.ndarray, np.ndarray]:
        """About ``num_directions`` directions covering the sphere as well as this receiver allows.

        Used to build diffuse fields (noise, late reverberation). Returns ``(azimuth, elevation)``, radians.
        """
        ...


def as_directions(azimuth: np.ndarray, elevation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validated float64 ``(azimuth, elevation)`` request arrays of shape ``(n,)`` (scalars become ``(1,)``).

    Raises:
        ValueError: shapes differ or are not 1-D, or a value is not finite.
    """
    az = np.atleast_1d(np.asarray(azimuth, np.float64))
    el = np.atleast_1d(np.asarray(elevation, np.float64))
    if az.shape != el.shape or az.ndim != 1:
        raise ValueError(f"azimuth and elevation must be 1-D of equal length; got {az.shape}, {el.shape}")
    if not (np.all(np.isfinite(az)) and np.all(np.isfinite(el))):
        raise ValueError("azimuth and elevation must be finite")
    return az, el


class FreeFieldArray:
    """Omnidirectional free-field microphones: each channel is a band-limited pure delay (plane wave).

    Args:
        array: geometry (positions relative to the array centre).
        sample_rate: Hz.
        speed_of_sound: m/s.
        kernel_half_width: half length of the fractional-delay kernels, samples.
    """

    kind = "array"

    def __init__(
        self,
        array: MicArray,
        sample_rate: int,
        speed_of_sound: float = SPEED_OF_SOUND,
        kernel_half_width: int = 16,
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        self.array = array
        self._sample_rate = int(sample_rate)
        self.speed_of_sound = float(speed_of_sound)
        self._half_width = int(kernel_half_width)
        max_lead = float(np.max(np.linalg.norm(array.positions, axis=1))) / self.speed_of_sound * sample_rate
        # Leave room before the centre arrival for the microphones a wavefront reaches first.
        self._onset = int(np.ceil(max_lead)) + self._half_width
        self._taps = 2 * self._onset + 1

    @property
    def name(self) -> str:
        return self.array.name

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def num_channels(self) -> int:
        return self.array.num_mics

    @property
    def onset(self) -> int:
        return self._onset

    @property
    def max_delay(self) -> float:
        return self.array.max_delay(self.speed_of_sound)

    def impulse_responses(self, azimuth: np.ndarray, elevation: np.ndarray) -> np.ndarray:
        az, el = as_directions(azimuth, elevation)
        unit = spherical_to_cartesian(az, el)  # (n, 3), pointing towards the source
        # A plane wave from direction u reaches microphone p earlier by (u . p) / c.
        lead = unit @ self.array.positions.T / self.speed_of_sound * self._sample_rate  # (n, M)
        start, taps = fractional_delay_kernel(self._onset - lead, self._half_width)
        out = np.zeros((az.size, self.num_channels, self._taps))
        idx = start[..., None] + np.arange(taps.shape[-1])
        np.put_along_axis(out, idx, taps, axis=-1)
        return out

    def diffuse_directions(self, num_directions: int) -> tuple[np.ndarray, np.ndarray]:
        return fibonacci_sphere(num_directions)
