"""Diffuse fields generated in the frequency domain at a few FFT sizes (render version ``v2``).

The construction of :func:`~spatialrep.simulate.diffuse.coherent_diffuse_field` (independent signals through
a ``C × C`` mixing filter whose cross-spectra are the receiver's diffuse-field cross-power matrix), done with
one FFT size per call instead of ``scipy.signal.fftconvolve``'s padded sizes, with the mixing filters'
spectra cached per (receiver, FFT size) and white noise drawn directly as spectra (no forward FFT):

* :func:`cluster_labels` splits the receiver's diffuse directions into ``K`` direction clusters;
* :func:`mixing_spectra` gives each cluster's mixing filter as a zero-phase spectrum ``(K, C, C, F)``;
* :func:`spectral_diffuse_noise` is diffuse noise of a noise type (one cluster of every direction).

Convolution here is circular over ``n_fft`` samples; outputs are cut where no wrap-around reaches (half a
mixing filter from either end), so they equal linear convolutions of a circular (stationary) input.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np
from scipy import fft as sfft

from spatialrep.geometry.coordinates import fibonacci_sphere, spherical_to_cartesian
from spatialrep.simulate.noise import ltass_level_db
from spatialrep.simulate.receivers import Receiver

SPECTRAL_NOISE_TYPES = ("white", "pink", "speech_shaped", "babble")
"""Noise types :func:`spectral_diffuse_noise` makes (``babble`` through a signal factory)."""

_CACHE: weakref.WeakKeyDictionary[object, dict[tuple[int, int, int], np.ndarray]] = (
    weakref.WeakKeyDictionary()
)
_LENGTHS: weakref.WeakKeyDictionary[object, int] = weakref.WeakKeyDictionary()


def filter_length(receiver: Receiver) -> int:
    """Length of the mixing filters (samples): ``max(512, 4 × the receiver's taps)`` rounded up to 2^k."""
    if receiver not in _LENGTHS:
        taps = receiver.impulse_responses(np.zeros(1), np.zeros(1)).shape[-1]
        _LENGTHS[receiver] = max(512, 1 << int(np.ceil(np.log2(4 * taps))))
    return _LENGTHS[receiver]


def fft_size(num_samples: int, receiver: Receiver) -> int:
    """The FFT size for ``num_samples`` wrap-free output samples: the smallest ``2^k`` or ``3 × 2^k`` that
    holds ``T + L`` (few sizes, so the mixing spectra are cached; at most a third wasted)."""
    need = num_samples + filter_length(receiver)
    power = 1 << int(np.ceil(np.log2(need)))
    return 3 * power // 4 if 3 * power // 4 >= need else power


_GEOMETRY: weakref.WeakKeyDictionary[object, dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]] = (
    weakref.WeakKeyDictionary()
)


def cluster_geometry(
    receiver: Receiver, num_directions: int, num_clusters: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(vectors, labels)``: unit vectors of ``receiver.diffuse_directions(num_directions)`` in the receiver
    frame, shape ``(n, 3)``, and the cluster of each, shape ``(n,)``: the nearest of ``num_clusters``
    Fibonacci-lattice centres, relabelled so that no cluster is empty. Cached per receiver; read-only."""
    per_receiver = _GEOMETRY.setdefault(receiver, {})
    key = (num_directions, num_clusters)
    if key not in per_receiver:
        azimuth, elevation = receiver.diffuse_directions(num_directions)
        vectors = spherical_to_cartesian(azimuth, elevation)  # (n, 3)
        centres = spherical_to_cartesian(*fibonacci_sphere(num_clusters))  # (K, 3)
        _, labels = np.unique(np.argmax(vectors @ centres.T, axis=1), return_inverse=True)
        labels = labels.reshape(-1)
        for a in (vectors, labels):
            a.setflags(write=False)
        per_receiver[key] = (vectors, labels)
    return per_receiver[key]


def cluster_labels(receiver: Receiver, num_directions: int, num_clusters: int) -> np.ndarray:
    """The cluster of each diffuse direction, shape ``(n,)`` (see :func:`cluster_geometry`)."""
    return cluster_geometry(receiver, num_directions, num_clusters)[1]


def mixing_spectra(receiver: Receiver, n_fft: int, num_directions: int, num_clusters: int = 1) -> np.ndarray:
    """Zero-phase mixing filters ``A_k`` with ``A_k A_k^H = mean_{d in k} H_d H_d^H``, as spectra.

    ``H_d`` is the receiver's response for direction ``d`` of ``receiver.diffuse_directions(num_directions)``
    and ``k`` a cluster of :func:`cluster_labels`. Each ``A_k(f)`` is the Hermitian square root of the
    cluster's cross-power matrix, designed on :func:`filter_length` bins, Hann-windowed into a short FIR
    centred on tap 0 (circularly) and transformed at ``n_fft``. Cached per receiver object; read-only.

    Returns:
        shape ``(K, C, C, n_fft // 2 + 1)``, complex128.
    """
    per_receiver = _CACHE.setdefault(receiver, {})
    key = (num_directions, num_clusters, n_fft)
    if key in per_receiver:
        return per_receiver[key]
    azimuth, elevation = receiver.diffuse_directions(num_directions)
    irs = receiver.impulse_responses(azimuth, elevation)  # (n, C, taps)
    length = filter_length(receiver)
    if n_fft < length:
        raise ValueError(f"n_fft={n_fft} is shorter than the mixing filters ({length} taps)")
    spectra = np.fft.rfft(irs, length, axis=-1)  # (n, C, F)
    labels = (
        cluster_labels(receiver, num_directions, num_clusters)
        if num_clusters > 1
        else np.zeros(len(irs), dtype=np.int64)
    )
    window = np.fft.ifftshift(np.hanning(length + 1)[:-1])  # peak at tap 0, circularly
    out = []
    for k in range(int(labels.max()) + 1):
        member = spectra[labels == k]
        cross = np.einsum("dif,djf->fij", member, member.conj()) / member.shape[0]  # (F, C, C)
        values, vectors = np.linalg.eigh(cross)
        root = (vectors * np.sqrt(np.clip(values, 0.0, None))[:, None, :]) @ np.conj(
            np.swapaxes(vectors, 1, 2)
        )
        fir = np.fft.irfft(np.moveaxis(root, 0, -1), length, axis=-1) * window  # (C, C, L), centred on tap 0
        padded = np.zeros((*fir.shape[:2], n_fft))
        half = length // 2
        padded[..., :half] = fir[..., :half]
        padded[..., n_fft - half :] = fir[..., half:]
        out.append(sfft.rfft(padded, axis=-1))
    result = np.stack(out)
    result.setflags(write=False)
    per_receiver[key] = result
    return result


_BYTE_VARIANCE = (256**2 - 1) / 12.0  # of (b + 0.5) for a byte b uniform on -128..127


def complex_white(rng: np.random.Generator, shape: tuple[int, ...], n_fft: int) -> np.ndarray:
    """The spectrum of ``n_fft`` samples of unit-variance white noise, drawn directly as an rFFT.

    Real and imaginary parts of every bin are independent, zero-mean, with the variance of the rFFT of unit
    white noise (``n_fft / 2``; ``n_fft`` for the real DC and Nyquist bins); they are drawn as uniform bytes
    (ten times cheaper than Gaussian draws). Every time-domain sample of the inverse transform is a sum of
    thousands of such independent terms, hence Gaussian by the central limit theorem (excess kurtosis of
    order ``1 / n_fft``), and the noise is white: the second-order statistics of Gaussian white noise.

    Returns:
        shape ``(*shape, n_fft // 2 + 1)``, complex128.
    """
    bins = n_fft // 2 + 1
    count = int(np.prod(shape, dtype=np.int64)) * bins * 2
    draws = np.frombuffer(rng.bytes(count), dtype=np.int8).astype(np.float64).reshape(*shape, bins, 2)
    draws += 0.5
    draws *= np.sqrt(n_fft / 2 / _BYTE_VARIANCE)
    spectrum = draws.view(np.complex128)[..., 0]
    spectrum[..., 0] = draws[..., 0, 0] * np.sqrt(2.0)
    if n_fft % 2 == 0:
        spectrum[..., -1] = draws[..., -1, 0] * np.sqrt(2.0)
    return spectrum


def noise_amplitude(noise_type: str, n_fft: int, sample_rate: int) -> np.ndarray:
    """Amplitude shape of a Gaussian noise type over the rFFT bins, scaled to unit expected power.

    ``white``: flat; ``pink``: ``f^-1/2`` (no DC); ``speech_shaped``: the ANSI S3.5 LTASS
    (:func:`~spatialrep.simulate.noise.ltass_level_db`, no DC). Shape ``(n_fft // 2 + 1,)``.
    """
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    amplitude = np.ones_like(freqs)
    if noise_type == "pink":
        amplitude[1:] = (freqs[1:] / freqs[1]) ** -0.5
        amplitude[0] = 0.0
    elif noise_type == "speech_shaped":
        level = ltass_level_db(freqs[1:])
        amplitude[1:] = 10.0 ** ((level - level.max()) / 20.0)
        amplitude[0] = 0.0
    elif noise_type != "white":
        raise ValueError(
            f"no spectral shape for noise type {noise_type!r}; valid: white, pink, speech_shaped"
        )
    weights = np.full(freqs.size, 2.0)
    weights[0] = 1.0
    if n_fft % 2 == 0:
        weights[-1] = 1.0
    return amplitude / np.sqrt(np.sum(weights * amplitude**2) / n_fft)


def spectral_diffuse_noise(
    receiver: Receiver,
    noise_type: str,
    num_samples: int,
    rng: np.random.Generator,
    *,
    num_directions: int = 256,
    make_signal: Callable[[np.random.Generator, int], np.ndarray] | None = None,
) -> np.ndarray:
    """Diffuse noise with the receiver's diffuse-field cross-spectra, one FFT size, no forward FFT for
    the Gaussian types (white, pink, speech-shaped: :func:`complex_white` times :func:`noise_amplitude`).

    Args:
        receiver: the listener.
        noise_type: one of :data:`SPECTRAL_NOISE_TYPES`.
        num_samples: output length ``T``.
        rng: the only source of randomness.
        num_directions: directions of the cross-power matrix.
        make_signal: ``(rng, n) -> (n,)`` mono signals, required for ``babble`` (e.g. pooled babble).

    Returns:
        shape ``(C, T)``, float64; about unit power per channel before the receiver's gain (scale it with
        :func:`~spatialrep.simulate.noise.mix_at_snr`).

    Raises:
        ValueError: an unknown noise type, ``babble`` without ``make_signal``, ``num_samples < 1``.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    if noise_type not in SPECTRAL_NOISE_TYPES:
        raise ValueError(f"unknown noise type {noise_type!r}; valid: {', '.join(SPECTRAL_NOISE_TYPES)}")
    n_fft = fft_size(num_samples, receiver)
    mixing = mixing_spectra(receiver, n_fft, num_directions)[0]  # (C, C, F)
    channels = mixing.shape[0]
    if noise_type == "babble":
        if make_signal is None:
            raise ValueError("babble diffuse noise needs make_signal (a babble signal factory)")
        inputs = sfft.rfft(np.stack([make_signal(rng, n_fft) for _ in range(channels)]), axis=-1)
    else:
        inputs = complex_white(rng, (channels,), n_fft) * noise_amplitude(
            noise_type, n_fft, receiver.sample_rate
        )
    mixed = sfft.irfft(np.einsum("ijf,jf->if", mixing, inputs), n_fft, axis=-1)
    start = filter_length(receiver) // 2  # no wrap-around of a babble cut's ends reaches here
    return mixed[:, start : start + num_samples]
