"""The late tail of a hybrid room response from a few time knots (render version ``v2``).

Render version ``v1`` (:func:`~spatialrep.simulate.diffuse.diffuse_field`) gives each of 64 directions its
own white noise, scaled by that direction's decay envelope and convolved with its receiver response: 64
noise signals and 192 FFTs per response, half the cost of a scene. Its expected cross-power spectral matrix
at time ``t`` is ``p(t) Φ(t, f)`` with ``Φ(t, f) = Σ_d p_d(t) H_d(f) H_d(f)^H``, ``p(t)`` the energy per
sample and ``p_d(t)`` direction ``d``'s share of it (the room's anisotropic decay,
:meth:`~spatialrep.simulate.rooms.ShoeboxRoom.directional_energy_envelope`).

Here ``Φ`` is evaluated exactly at ``J`` knots spread evenly over the tail; for each knot one set of ``C``
independent white noises (drawn as spectra) goes through the zero-phase square root of ``Φ(t_j)``
(:func:`~spatialrep.simulate.spectral_diffuse.root_filters`), and the knots' outputs are crossfaded with
power-linear hat weights, so the expected matrix is ``p(t) Σ_j λ_j(t) Φ(t_j)``: exact at the knots, linearly
interpolated in between (the shares ``p_d(t)`` are smooth ratios of exponentials). Energy per channel,
interaural (inter-microphone) level difference and coherence, and their drift over the decay, follow
``v1``. Cost: ``J × C`` inverse FFTs at one FFT size, plus ``J`` small matrix square roots per bin.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft

from spatialrep.geometry.coordinates import rotate_yaw
from spatialrep.simulate.receivers import Receiver
from spatialrep.simulate.rooms import ShoeboxRoom
from spatialrep.simulate.spectral_diffuse import (
    complex_white,
    direction_spectra,
    fft_size,
    filter_length,
    root_filters,
)

DEFAULT_KNOTS = 4
"""Time knots of the ``v2`` tail."""


def hat_weights(time: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Linear-interpolation weights of each knot at each time, shape ``(J, T)``; columns sum to 1.

    Args:
        time: shape ``(T,)``.
        knots: increasing, shape ``(J,)``; times outside take the nearest knot.
    """
    if knots.size == 1:
        return np.ones((1, time.size))
    return np.stack([np.interp(time, knots, row) for row in np.eye(knots.size)])


def direction_shares(
    room: ShoeboxRoom, receiver: Receiver, receiver_yaw: float, time: np.ndarray, num_directions: int
) -> np.ndarray:
    """Each direction's share ``p_d(t)`` of the reflected energy at times ``time``, shape ``(n, T)``.

    Directions are ``receiver.diffuse_directions(num_directions)``, turned into the world frame by
    ``receiver_yaw``; columns sum to 1.
    """
    vectors, _ = direction_spectra(receiver, num_directions)
    envelope = room.directional_energy_envelope(time, rotate_yaw(vectors, receiver_yaw))
    return envelope / np.maximum(envelope.sum(axis=0), 1e-300)


def interpolated_tail(
    room: ShoeboxRoom,
    receiver: Receiver,
    receiver_yaw: float,
    rng: np.random.Generator,
    time: np.ndarray,
    power: np.ndarray,
    *,
    num_directions: int = 64,
    num_knots: int = DEFAULT_KNOTS,
) -> np.ndarray:
    """A late tail with expected energy ``power(t) × Σ_d p_d(t) P_dc`` per sample at channel ``c``.

    ``P_dc`` is the energy of direction ``d``'s response at channel ``c``; with ``power`` the lattice energy
    density per sample (fades included), this is the expected energy of ``v1``'s 64-direction tail.

    Args:
        room: the (reverberant) room.
        receiver: the listener.
        receiver_yaw: radians; the receiver faces this world azimuth.
        rng: the only source of randomness.
        time: seconds since emission of the tail samples, shape ``(T,)``, increasing.
        power: wanted mean energy per sample before the receiver, shape ``(T,)``, ≥ 0.
        num_directions: directions of the decay model and of the cross-power matrices.
        num_knots: time knots ``J`` ≥ 1.

    Returns:
        shape ``(C, T)``, float64.
    """
    if num_knots < 1:
        raise ValueError(f"num_knots must be >= 1, got {num_knots}")
    num_samples = time.size
    knots = np.linspace(time[0], time[-1], num_knots) if num_samples > 1 else time[:1]
    shares = direction_shares(room, receiver, receiver_yaw, knots, num_directions)  # (n, J)
    _, per_direction = direction_spectra(receiver, num_directions)  # (n, F, C, C)
    flat = per_direction.reshape(per_direction.shape[0], -1)
    cross = (shares.T @ flat).reshape(-1, *per_direction.shape[1:])  # (J, F, C, C): Φ(t_j, f)
    n_fft = fft_size(num_samples, receiver)
    length = filter_length(receiver)
    mixing = root_filters(cross, length, n_fft)  # (J, C, C, F')
    white = complex_white(rng, mixing.shape[:2], n_fft)  # (J, C, F')
    noise = sfft.irfft(np.einsum("jikf,jkf->jif", mixing, white), n_fft, axis=-1)
    noise = noise[..., length // 2 : length // 2 + num_samples]  # (J, C, T), wrap-free
    gains = np.sqrt(np.maximum(power, 0.0) * hat_weights(time, knots))  # (J, T)
    return np.einsum("jt,jct->ct", gains, noise)
