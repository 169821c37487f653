"""Room impulse response analysis: energy decay curves, RT60, EDC deviation, direct-to-reverberant ratio.

Measurements of a (binaural or multichannel) impulse response; they check the simulator
(:mod:`spatialrep.simulate.room_response`) and describe rendered scenes.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["direct_to_reverberant_ratio", "edc_deviation", "estimate_rt60", "schroeder_edc"]


def schroeder_edc(ir: npt.ArrayLike) -> np.ndarray:
    """Schroeder backward-integrated energy decay curve.

    Args:
        ir: impulse response(s), shape ``(..., taps)``.

    Returns:
        Same shape, dB, 0 dB at sample 0 of each response; floored at -300 dB (where no energy remains).

    Raises:
        ValueError: empty or all-zero response.
    """
    h = np.asarray(ir, dtype=np.float64)
    if h.ndim < 1 or h.shape[-1] == 0:
        raise ValueError(f"ir must have at least one tap, got shape {h.shape}")
    return _edc_db(h**2)


def _edc_db(energy: np.ndarray) -> np.ndarray:
    remaining = np.cumsum(energy[..., ::-1], axis=-1)[..., ::-1]
    if np.any(remaining[..., 0] <= 0):
        raise ValueError("ir has a channel with no energy; its decay curve is undefined")
    return 10.0 * np.log10(np.maximum(remaining / remaining[..., :1], 1e-30))


def estimate_rt60(
    ir: npt.ArrayLike, sample_rate: int, decay_range_db: tuple[float, float] = (5.0, 35.0)
) -> float:
    """Reverberation time from a line fit of the Schroeder curve (T30 by default, ISO 3382).

    Args:
        ir: impulse response, shape ``(taps,)`` or ``(..., taps)``; multichannel energy is summed first.
        sample_rate: Hz.
        decay_range_db: ``(start, end)`` decay in dB of the fit range, e.g. ``(5, 25)`` for T20.

    Returns:
        Seconds: the fitted decay extrapolated to 60 dB.

    Raises:
        ValueError: non-positive sample rate, a bad range, or a response too short for the fit (its fitted
            decay over its whole length must exceed ``end + 10`` dB: truncation bends the curve's end).
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    lo, hi = decay_range_db
    if not 0 <= lo < hi:
        raise ValueError(f"decay_range_db must satisfy 0 <= start < end, got {decay_range_db}")
    h = np.asarray(ir, dtype=np.float64)
    edc = _edc_db(np.sum(h.reshape(-1, h.shape[-1]) ** 2, axis=0))
    fit = (edc <= -lo) & (edc >= -hi)
    if np.count_nonzero(fit) < 2:
        raise ValueError(f"too few samples between -{lo} and -{hi} dB to fit a decay")
    t = np.flatnonzero(fit) / sample_rate
    slope = float(np.polyfit(t, edc[fit], 1)[0])
    # A truncated response's curve plunges to -inf at its end (any response "reaches" -hi dB): only trust the
    # fit when the fitted decay over the whole response goes at least 10 dB beyond the fit range.
    span = -slope * h.shape[-1] / sample_rate
    if not span >= hi + 10.0:
        raise ValueError(
            f"response too short for the fit: it decays about {span:.1f} dB over its length, the fit to "
            f"-{hi} dB needs {hi + 10.0:.0f}; use a longer response or a smaller decay_range_db"
        )
    return -60.0 / slope


def edc_deviation(reference: npt.ArrayLike, test: npt.ArrayLike, decay_db: float = 20.0) -> float:
    """Largest gap between two Schroeder curves over the first ``decay_db`` of the reference's decay.

    Multichannel responses are compared on their channel-summed energy (as :func:`estimate_rt60` does): one
    ear's curve alone varies by about 1 dB between two image-source renderings that differ only in their
    image jitter.

    Args:
        reference: impulse response, shape ``(..., taps)``.
        test: impulse response with the same number of taps, shape ``(..., taps)``.
        decay_db: compared range, dB (> 0).

    Returns:
        dB, ≥ 0.

    Raises:
        ValueError: different lengths or a non-positive range.
    """
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(test, dtype=np.float64)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"responses must have the same number of taps, got {a.shape} and {b.shape}")
    if not decay_db > 0:
        raise ValueError(f"decay_db must be > 0, got {decay_db}")
    edc_a = _edc_db(np.sum(a.reshape(-1, a.shape[-1]) ** 2, axis=0))
    edc_b = _edc_db(np.sum(b.reshape(-1, b.shape[-1]) ** 2, axis=0))
    compared = edc_a >= -decay_db
    return float(np.max(np.abs(edc_a - edc_b)[compared]))


def direct_to_reverberant_ratio(response: npt.ArrayLike, direct: npt.ArrayLike) -> float:
    """Energy ratio of the direct part to the rest of a response, over all channels.

    Args:
        response: full response, shape ``(..., taps)``.
        direct: its direct-path part, same shape.

    Returns:
        dB; ``inf`` when the response is the direct part alone.

    Raises:
        ValueError: shapes differ or the direct part has no energy.
    """
    full = np.asarray(response, dtype=np.float64)
    d = np.asarray(direct, dtype=np.float64)
    if full.shape != d.shape:
        raise ValueError(f"response and direct must have the same shape, got {full.shape} and {d.shape}")
    e_direct = float(np.sum(d**2))
    if e_direct <= 0:
        raise ValueError("direct part has no energy")
    e_reverb = float(np.sum((full - d) ** 2))
    return math.inf if e_reverb == 0 else 10.0 * math.log10(e_direct / e_reverb)
