"""Spatially diffuse fields for any receiver: many independent sources spread over the sphere.

The same construction serves diffuse noise and the late tail of room responses, so both carry the interaural
(or inter-microphone) coherence of a true diffuse field for the receiver at hand.
"""

from __future__ import annotations

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
) -> np.ndarray:
    """Sum of ``num_directions`` independent sources, one per direction, through the receiver.

    Each direction's signal is scaled by ``1/sqrt(num_directions)`` so the field's power does not depend on the
    number of directions. The output is aligned so that sample 0 is the wavefront at the receiver centre.

    Args:
        receiver: the listener.
        num_samples: output length.
        rng: random generator (the only source of randomness).
        num_directions: directions requested from ``receiver.diffuse_directions``.
        make_signal: builds each direction's mono signal.

    Returns:
        shape ``(receiver.num_channels, num_samples)``, float64.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    azimuth, elevation = receiver.diffuse_directions(num_directions)
    irs = receiver.impulse_responses(azimuth, elevation)  # (n, C, taps)
    n_dir, _, taps = irs.shape
    signals = np.stack([make_signal(rng, num_samples + taps) for _ in range(n_dir)])  # (n, T + taps)
    mixed = sps.fftconvolve(signals[:, None, :], irs, axes=-1).sum(axis=0)  # (C, T + 2 taps - 1)
    start = taps + receiver.onset  # skip the filter warm-up so every sample is a steady-state field
    return mixed[:, start : start + num_samples] / np.sqrt(n_dir)
