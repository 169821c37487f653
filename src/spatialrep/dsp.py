"""Small numpy signal-processing helpers shared by the simulator and the loaders."""

from __future__ import annotations

import functools
from fractions import Fraction

import numpy as np
from scipy import signal as sps

_FILTER_CACHE = {"enabled": True}


def filter_cache_enabled() -> bool:
    """Whether :func:`resample` reuses its anti-aliasing filters (the default; the results are identical)."""
    return _FILTER_CACHE["enabled"]


def set_filter_cache(enabled: bool) -> None:
    """Turn the reuse of :func:`resample`'s filters on or off (off = scipy designs the filter every call)."""
    _FILTER_CACHE["enabled"] = bool(enabled)


@functools.lru_cache(maxsize=32)
def _polyphase_filter(up: int, down: int) -> np.ndarray:
    """The filter ``resample_poly`` designs for reduced ``up / down`` (default Kaiser window); read-only."""
    max_rate = max(up, down)
    taps = sps.firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))
    taps.setflags(write=False)
    return taps


def resample(x: np.ndarray, orig_rate: int, target_rate: int, axis: int = -1) -> np.ndarray:
    """Band-limited polyphase resampling (scipy ``resample_poly``, Kaiser window).

    Raises:
        ValueError: non-positive rates.
    """
    if orig_rate <= 0 or target_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_rate} -> {target_rate}")
    if orig_rate == target_rate:
        return np.asarray(x, dtype=np.float64)
    ratio = Fraction(int(target_rate), int(orig_rate))
    up, down = ratio.numerator, ratio.denominator
    if not _FILTER_CACHE["enabled"]:
        return sps.resample_poly(np.asarray(x, np.float64), up, down, axis=axis)
    # The same filter scipy would design (it copies an array window before scaling it): identical output
    # without the firwin/Kaiser design on every call.
    return sps.resample_poly(
        np.asarray(x, np.float64), up, down, axis=axis, window=_polyphase_filter(up, down)
    )


def fractional_delay_kernel(delay: np.ndarray, half_width: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Hann-windowed sinc kernels that delay an impulse by a fractional number of samples.

    Args:
        delay: delays in samples, any shape ``(...)``, ≥ 0.
        half_width: kernel half length; the kernel has ``2 * half_width`` taps.

    Returns:
        ``(start, taps)``: integer index of each kernel's first tap, shape ``(...)``, and the taps, shape
        ``(..., 2 * half_width)``. Adding ``taps`` at ``start`` places a band-limited impulse at ``delay``.
    """
    d = np.asarray(delay, dtype=np.float64)
    integer = np.floor(d).astype(np.int64)
    frac = d - integer
    n = np.arange(-half_width + 1, half_width + 1, dtype=np.float64)  # 2*half_width taps
    t = n - frac[..., None]
    window = 0.5 * (1.0 + np.cos(np.pi * t / (half_width + 1)))
    taps = np.sinc(t) * window
    return integer - half_width + 1, taps


def fft_convolve(x: np.ndarray, h: np.ndarray, axis: int = -1) -> np.ndarray:
    """Full linear convolution along ``axis`` (broadcasting other axes), via FFT."""
    return sps.fftconvolve(np.asarray(x, np.float64), np.asarray(h, np.float64), axes=axis)


def rms(x: np.ndarray) -> float:
    """Root-mean-square over all samples."""
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
