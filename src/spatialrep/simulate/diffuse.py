"""Spatially diffuse fields for any receiver: many independent sources spread over the sphere.

Two constructions with the same second-order statistics:

* :func:`diffuse_field` sums independent sources from many directions through the receiver (the reference;
  also serves the late tail of room responses, whose envelope may differ per direction);
* :func:`coherent_diffuse_field` filters one independent signal per channel through a ``C × C`` mixing filter
  whose cross-spectra equal the receiver's diffuse-field cross-power spectral matrix (the construction of
  Habets, Cohen & Gannot, JASA 2008). It costs ``C²`` short convolutions instead of one per direction, about
  100× less for a head, and is what diffuse noise uses.

Both carry the interaural (or inter-microphone) coherence and the diffuse-field spectrum of the receiver.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np
from scipy import signal as sps

from spatialrep.simulate.receivers import Receiver

SignalFactory = Callable[[np.random.Generator, int], np.ndarray]
"""``(rng, num_samples) -> (num_samples,)`` mono signal for one direction of the field."""


def white_signal(rng: np.random.Generator, num_samples: int) -> np.ndarray:
    """Unit-variance Gaussian white noise."""
    return rng.standard_normal(num_samples)


def diffuse_field(
    receiver: Receiver,
    num_samples: int,
    rng: np.random.Generator,
    *,
    num_directions: int = 64,
    make_signal: SignalFactory = white_signal,
    envelopes: np.ndarray | None = None,
) -> np.ndarray:
    """Sum of ``num_directions`` independent sources, one per direction, through the receiver.

    Each direction's signal is scaled by ``1/sqrt(num_directions)`` so the field's power does not depend on
    the number of directions. The output is aligned so that sample 0 is the wavefront at the receiver centre.

    Args:
        receiver: the listener.
        num_samples: output length.
        rng: random generator (the only source of randomness).
        num_directions: directions requested from ``receiver.diffuse_directions``.
        make_signal: builds each direction's mono signal.
        envelopes: optional per-direction gains, shape ``(n, num_samples)``, ``n`` the number of directions
            that ``receiver.diffuse_directions(num_directions)`` returns (in that order); each direction's
            signal is multiplied by its row at the time it reaches the receiver centre (output sample index),
            e.g. the direction-dependent decay of a late reverberation tail.

    Returns:
        shape ``(receiver.num_channels, num_samples)``, float64.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    azimuth, elevation = receiver.diffuse_directions(num_directions)
    irs = receiver.impulse_responses(azimuth, elevation)  # (n, C, taps)
    n_dir, _, taps = irs.shape
    # taps + onset extra samples: the output window below then lies wholly in the convolution's steady state.
    length = num_samples + taps + receiver.onset
    signals = np.stack([make_signal(rng, length) for _ in range(n_dir)])  # (n, length)
    if envelopes is not None:
        env = np.asarray(envelopes, dtype=np.float64)
        if env.shape != (n_dir, num_samples):
            raise ValueError(
                f"envelopes must have shape ({n_dir}, {num_samples}) (directions, samples), got {env.shape}"
            )
        # Signal sample j reaches the receiver centre at output sample j - taps; hold the ends constant.
        signals[:, taps : taps + num_samples] *= env
        signals[:, :taps] *= env[:, :1]
        signals[:, taps + num_samples :] *= env[:, -1:]
    mixed = sps.fftconvolve(signals[:, None, :], irs, axes=-1).sum(axis=0)  # (C, length + taps - 1)
    start = taps + receiver.onset  # skip the filter warm-up (and never reach the fade-out at the end)
    return mixed[:, start : start + num_samples] / np.sqrt(n_dir)


_MIXING_CACHE: weakref.WeakKeyDictionary[object, dict[int, np.ndarray]] = weakref.WeakKeyDictionary()


def diffuse_mixing_filters(receiver: Receiver, num_directions: int = 256) -> np.ndarray:
    """FIR mixing matrix ``A`` with ``A(f) A(f)^H = Φ(f)``, the receiver's diffuse-field cross-power matrix.

    ``Φ(f) = mean_d H_d(f) H_d(f)^H`` over ``receiver.diffuse_directions(num_directions)``; ``A(f)`` is its
    Hermitian square root (zero phase), made causal by a half-length delay and Hann-windowed. Cached per
    receiver object.

    Returns:
        shape ``(C, C, L)``, float64; the filters are centred on tap ``L // 2``.
    """
    per_receiver = _MIXING_CACHE.setdefault(receiver, {})
    if num_directions in per_receiver:
        return per_receiver[num_directions]
    azimuth, elevation = receiver.diffuse_directions(num_directions)
    irs = receiver.impulse_responses(azimuth, elevation)  # (n, C, taps)
    n_fft = max(512, 1 << int(np.ceil(np.log2(4 * irs.shape[-1]))))
    spectra = np.fft.rfft(irs, n_fft, axis=-1)  # (n, C, F)
    cross = np.einsum("dif,djf->fij", spectra, spectra.conj()) / irs.shape[0]  # (F, C, C)
    eigenvalues, vectors = np.linalg.eigh(cross)
    root = (vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))[:, None, :]) @ np.conj(
        np.swapaxes(vectors, 1, 2)
    )
    filters = np.fft.irfft(np.moveaxis(root, 0, -1), n_fft, axis=-1)  # (C, C, n_fft), centred on tap 0
    filters = np.roll(filters, n_fft // 2, axis=-1) * np.hanning(n_fft + 1)[:-1]
    per_receiver[num_directions] = filters
    return filters


def coherent_diffuse_field(
    receiver: Receiver,
    num_samples: int,
    rng: np.random.Generator,
    *,
    num_directions: int = 256,
    make_signal: SignalFactory = white_signal,
) -> np.ndarray:
    """A diffuse field from ``C`` independent signals through :func:`diffuse_mixing_filters`.

    Same cross-spectra as :func:`diffuse_field` over the same directions (so the same coherence and spectrum
    at each channel), at a fraction of the cost. For non-stationary signals (babble) the coherence holds;
    the per-direction independence of the reference construction does not.

    Args:
        receiver: the listener.
        num_samples: output length.
        rng: random generator (the only source of randomness).
        num_directions: directions over which the cross-power matrix is averaged.
        make_signal: builds each channel's independent mono signal.

    Returns:
        shape ``(receiver.num_channels, num_samples)``, float64.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    filters = diffuse_mixing_filters(receiver, num_directions)
    length = filters.shape[-1]
    signals = np.stack([make_signal(rng, num_samples + length) for _ in range(filters.shape[0])])
    mixed = sps.fftconvolve(filters, signals[None, :, :], axes=-1).sum(axis=1)  # (C, num_samples + 2 L - 1)
    return mixed[:, length - 1 : length - 1 + num_samples]  # steady state only
