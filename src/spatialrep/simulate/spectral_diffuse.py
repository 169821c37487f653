"""Diffuse fields generated in the frequency domain at a few FFT sizes (render version ``v2``).

The construction of :func:`~spatialrep.simulate.diffuse.coherent_diffuse_field` (independent signals through
a ``C × C`` mixing filter whose cross-spectra are the receiver's diffuse-field cross-power matrix), done with
one FFT size per call instead of ``scipy.signal.fftconvolve``'s padded sizes, with the mixing filters'
spectra cached per (receiver, FFT size) and white noise drawn directly as spectra (no forward FFT):

* :func:`root_filters` turns cross-power matrices into zero-phase mixing filters (spectra at an FFT size);
* :func:`mixing_spectra` is the receiver's diffuse-field mixing filter, cached;
* :func:`spectral_diffuse_noise` is diffuse noise of a noise type.

Convolution here is circular over ``n_fft`` samples; outputs are cut where no wrap-around reaches (half a
mixing filter from either end), so they equal linear convolutions of a circular (stationary) input.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np
from scipy import fft as sfft

from spatialrep.geometry.coordinates import spherical_to_cartesian
from spatialrep.simulate.noise import ltass_level_db
from spatialrep.simulate.receivers import Receiver

SPECTRAL_NOISE_TYPES = ("white", "pink", "speech_shaped", "babble")
"""Noise types :func:`spectral_diffuse_noise` makes (``babble`` through a signal factory)."""

_CACHE: weakref.WeakKeyDictionary[object, dict[tuple[int, int], np.ndarray]] = weakref.WeakKeyDictionary()
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


_SPECTRA: weakref.WeakKeyDictionary[object, dict[int, tuple[np.ndarray, np.ndarray]]] = (
    weakref.WeakKeyDictionary()
)


def direction_spectra(receiver: Receiver, num_directions: int) -> tuple[np.ndarray, np.ndarray]:
    """``(vectors, cross)`` of ``receiver.diffuse_directions(num_directions)``: unit vectors in the receiver
    frame, shape ``(n, 3)``, and each direction's cross-power matrix ``H_d(f) H_d(f)^H`` on the rFFT bins
    of :func:`filter_length` samples, shape ``(n, F, C, C)``. Cached per receiver; read-only."""
    per_receiver = _SPECTRA.setdefault(receiver, {})
    if num_directions not in per_receiver:
        azimuth, elevation = receiver.diffuse_directions(num_directions)
        vectors = spherical_to_cartesian(azimuth, elevation)
        irs = receiver.impulse_responses(azimuth, elevation)  # (n, C, taps)
        spectra = np.fft.rfft(irs, filter_length(receiver), axis=-1)  # (n, C, F)
        cross = np.einsum("dif,djf->dfij", spectra, spectra.conj())
        for a in (vectors, cross):
            a.setflags(write=False)
        per_receiver[num_directions] = (vectors, cross)
    return per_receiver[num_directions]


def hermitian_sqrt(matrices: np.ndarray) -> np.ndarray:
    """Hermitian square roots of Hermitian positive semi-definite matrices, shape ``(..., C, C)``.

    Closed form for ``C = 2`` (``(M + sqrt(det M) I) / sqrt(tr M + 2 sqrt(det M))``), eigendecomposition
    otherwise; negative eigenvalues (round-off) count as 0.
    """
    if matrices.shape[-1] == 2:
        a, d = matrices[..., 0, 0].real, matrices[..., 1, 1].real
        det = np.sqrt(np.maximum(a * d - np.abs(matrices[..., 0, 1]) ** 2, 0.0))
        scale = np.sqrt(np.maximum(a + d + 2.0 * det, 1e-300))
        root = matrices / scale[..., None, None]
        root[..., 0, 0] += det / scale
        root[..., 1, 1] += det / scale
        return root
    values, vectors = np.linalg.eigh(matrices)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))[..., None, :]
    return root @ np.conj(np.swapaxes(vectors, -1, -2))


def root_filters(cross: np.ndarray, length: int, n_fft: int) -> np.ndarray:
    """Zero-phase FIR square roots of cross-power matrices, as spectra at ``n_fft``.

    Args:
        cross: Hermitian positive semi-definite matrices ``Φ(f)`` on the rFFT bins of ``length`` samples,
            shape ``(..., F, C, C)``, ``F = length // 2 + 1``.
        length: FIR length (the Hann window's), samples.
        n_fft: FFT size of the result, ≥ ``length``.

    Returns:
        ``A`` with ``A(f) A(f)^H ≈ Φ(f)``: the Hermitian square root per bin, turned into a ``length``-tap FIR
        centred on tap 0 (circularly), Hann-windowed (smoothing across about two bins) and transformed at
        ``n_fft``; shape ``(..., C, C, n_fft // 2 + 1)``, complex128.
    """
    if n_fft < length:
        raise ValueError(f"n_fft={n_fft} is shorter than the filters ({length} taps)")
    root = hermitian_sqrt(cross)
    fir = np.fft.irfft(np.moveaxis(root, -3, -1), length, axis=-1)  # (..., C, C, L), centred on tap 0
    fir *= np.fft.ifftshift(np.hanning(length + 1)[:-1])  # peak at tap 0, circularly
    half = length // 2
    padded = np.zeros((*fir.shape[:-1], n_fft))
    padded[..., :half] = fir[..., :half]
    padded[..., n_fft - half :] = fir[..., half:]
    return sfft.rfft(padded, axis=-1)


def mixing_spectra(receiver: Receiver, n_fft: int, num_directions: int) -> np.ndarray:
    """Zero-phase mixing filter ``A`` with ``A A^H = mean_d H_d H_d^H`` (the diffuse-field cross-power
    matrix over ``receiver.diffuse_directions(num_directions)``), as spectra at ``n_fft``.

    :func:`root_filters` of the cross-power matrix designed on :func:`filter_length` bins. Cached per
    receiver object; read-only.

    Returns:
        shape ``(C, C, n_fft // 2 + 1)``, complex128.
    """
    per_receiver = _CACHE.setdefault(receiver, {})
    key = (num_directions, n_fft)
    if key not in per_receiver:
        _, per_direction = direction_spectra(receiver, num_directions)
        cross = per_direction.mean(axis=0)  # (F, C, C)
        result = root_filters(cross, filter_length(receiver), n_fft)
        result.setflags(write=False)
        per_receiver[key] = result
    return per_receiver[key]


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
    mixing = mixing_spectra(receiver, n_fft, num_directions)  # (C, C, F)
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
