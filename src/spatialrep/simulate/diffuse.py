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
    envelopes: np.ndarray | None = None,
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
