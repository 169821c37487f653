"""The late tail of a hybrid room response from a few direction clusters (render version ``v2``).

Render version ``v1`` (:func:`~spatialrep.simulate.diffuse.diffuse_field`) gives each of 64 directions its
own white noise, scaled by that direction's decay envelope and convolved with its receiver response: 64
noise signals and 192 FFTs per response, half the cost of a scene. Here the directions are grouped into
``K`` clusters (:func:`~spatialrep.simulate.spectral_diffuse.cluster_geometry`); each cluster is one set of
``C`` independent white noises, drawn as spectra, through the zero-phase mixing filter whose cross-spectra
are the mean over the cluster's directions of ``H_d H_d^H``, then scaled by the cluster's share of the
decaying energy. The expected energy per channel and time, and the interaural (inter-microphone) coherence
of every cluster, are those of ``v1``; what is lost is the envelope's variation *within* a cluster (each
cluster spans about ``4π / K`` sr), and the envelopes are evaluated every ``ENVELOPE_STEP_S`` and
interpolated (they are smooth exponentials). Cost: ``K × C`` inverse FFTs at one power-of-two size.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft

from spatialrep.geometry.coordinates import rotate_yaw
from spatialrep.simulate.receivers import Receiver
from spatialrep.simulate.rooms import ShoeboxRoom
from spatialrep.simulate.spectral_diffuse import (
    cluster_geometry,
    complex_white,
    fft_size,
    filter_length,
    mixing_spectra,
)

DEFAULT_CLUSTERS = 8
"""Direction clusters of the ``v2`` tail."""

ENVELOPE_STEP_S = 0.002
"""Spacing of the envelope evaluation, seconds (interpolated linearly in between)."""


def cluster_weights(
    room: ShoeboxRoom,
    receiver: Receiver,
    receiver_yaw: float,
    time: np.ndarray,
    num_directions: int,
    num_clusters: int,
) -> np.ndarray:
    """Each cluster's share of the tail energy at each time: ``Σ_{d in k} E_d(t) / Σ_d E_d(t)``.

    ``E_d`` is :meth:`ShoeboxRoom.directional_energy_envelope` of direction ``d`` of
    ``receiver.diffuse_directions(num_directions)`` turned into the world frame by ``receiver_yaw``.

    Args:
        time: seconds since emission, shape ``(T,)``, increasing.

    Returns:
        shape ``(K, T)``; the columns sum to 1.
    """
    vectors, labels = cluster_geometry(receiver, num_directions, num_clusters)
    world = rotate_yaw(vectors, receiver_yaw)
    step = max(1, round(ENVELOPE_STEP_S * receiver.sample_rate))
    coarse = np.append(time[::step], time[-1])
    envelope = room.directional_energy_envelope(coarse, world)  # (n, Tc)
    sums = np.zeros((int(labels.max()) + 1, coarse.size))
    np.add.at(sums, labels, envelope)
    shares = sums / np.maximum(sums.sum(axis=0), 1e-300)
    return np.stack([np.interp(time, coarse, row) for row in shares])


def clustered_tail(
    room: ShoeboxRoom,
    receiver: Receiver,
    receiver_yaw: float,
    rng: np.random.Generator,
    time: np.ndarray,
    power: np.ndarray,
    *,
    num_directions: int = 64,
    num_clusters: int = DEFAULT_CLUSTERS,
) -> np.ndarray:
    """A late tail with expected energy ``power(t) × mean_d P_dc`` per sample at channel ``c``, its direction
    mix following the room's anisotropic decay.

    ``P_dc`` is the energy of direction ``d``'s response at channel ``c``; with ``power`` the lattice energy
    density per sample, this is the expected energy of ``v1``'s 64-direction tail.

    Args:
        room: the (reverberant) room.
        receiver: the listener.
        receiver_yaw: radians; the receiver faces this world azimuth.
        rng: the only source of randomness.
        time: seconds since emission of the tail samples, shape ``(T,)``.
        power: wanted mean energy per sample before the receiver (fades included), shape ``(T,)``, ≥ 0.
        num_directions: directions of the decay model and of the cross-power matrices.
        num_clusters: direction clusters ``K``.

    Returns:
        shape ``(C, T)``, float64.
    """
    num_samples = time.size
    n_fft = fft_size(num_samples, receiver)
    mixing = mixing_spectra(receiver, n_fft, num_directions, num_clusters)  # (K, C, C, F)
    clusters, channels = mixing.shape[:2]
    white = complex_white(rng, (clusters, channels), n_fft)
    noise = sfft.irfft(np.einsum("kijf,kjf->kif", mixing, white), n_fft, axis=-1)
    start = filter_length(receiver) // 2
    noise = noise[..., start : start + num_samples]  # (K, C, T)
    weights = cluster_weights(room, receiver, receiver_yaw, time, num_directions, num_clusters)
    gains = np.sqrt(np.maximum(power, 0.0) * weights)  # (K, T)
    return np.einsum("kt,kct->ct", gains, noise)
