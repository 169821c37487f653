"""``CueDistance``: a classic binaural-cue distance (a BAMQ stand-in), ``z |ΔILD| + z |ΔITD| + z |ΔIACC|``.

BAMQ (Flessner et al.) estimates quality from the differences of interaural level, time and coherence cues.
Its implementation is not available offline; this stand-in compares the broadband cues of a reference and a
test signal, each difference divided by a scale (z-scoring: the cue's spread over a reference population,
:meth:`CueDistance.fit`, or fixed defaults), and sums them.

* ILD: ``10 log10(E_left / E_right)`` dB over the whole signal.
* ITD: the lag of the GCC-PHAT peak within ±1 ms, from the whole-signal cross-spectrum, interpolated by
  zero-padding ``upsample`` times (positive: the left ear is delayed, the source is on the right).
* IACC: :func:`spatialrep.features.functional.iacc` (±1 ms).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from spatialrep.features.functional import DEFAULT_EPS, iacc

__all__ = ["CUE_NAMES", "CueDistance", "binaural_cues", "gcc_phat_itd"]

CUE_NAMES = ("ild_db", "itd_us", "iacc")
DEFAULT_SCALES = (3.0, 100.0, 0.1)
"""Default cue scales (dB, µs, IACC units): roughly one just-noticeable difference of each, times a few."""


def _check(x: Tensor, name: str) -> Tensor:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (batch, 2, time)")
    if x.ndim == 2:
        x = x.unsqueeze(0)
    if x.ndim != 3 or x.shape[1] != 2:
        raise ValueError(f"{name} must have shape (batch, 2, time) (left, right), got {tuple(x.shape)}")
    if x.shape[-1] < 2:
        raise ValueError(f"{name} is too short ({x.shape[-1]} samples)")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite samples")
    return x


def gcc_phat_itd(x: Tensor, sample_rate: float, max_lag_s: float = 1e-3, upsample: int = 8) -> Tensor:
    """Whole-signal GCC-PHAT interaural delay, seconds: ``t_left - t_right`` (positive: left delayed).

    Shape:
        ``(batch, 2, time) -> (batch,)``.
    """
    x = _check(x, "x")
    n = 1 << (2 * x.shape[-1] - 1).bit_length()
    spec = torch.fft.rfft(x.double(), n=n)
    cross = spec[:, 0] * torch.conj(spec[:, 1])
    phat = cross / cross.abs().clamp_min(DEFAULT_EPS)
    corr = torch.fft.irfft(phat, n=n * upsample)  # corr[k]: left lags right by k / (upsample * rate)
    max_lag = min(math.ceil(max_lag_s * sample_rate * upsample), n * upsample // 2 - 1)
    window = torch.cat([corr[:, -max_lag:], corr[:, : max_lag + 1]], dim=1)
    lag = window.argmax(dim=1) - max_lag
    return (lag.double() / (upsample * sample_rate)).to(x.dtype)


def binaural_cues(x: Tensor, sample_rate: float) -> Tensor:
    """``(batch, 2, time) -> (batch, 3)``: ILD (dB), ITD (µs), IACC (see the module docstring)."""
    x = _check(x, "x")
    energy = (x.double() ** 2).sum(dim=-1).clamp_min(1e-20)
    ild = 10.0 * torch.log10(energy[:, 0] / energy[:, 1])
    itd = gcc_phat_itd(x, sample_rate).double() * 1e6
    coherence = iacc(x.double(), sample_rate)
    return torch.stack([ild, itd, coherence], dim=1).to(x.dtype)


class CueDistance:
    """``sum_k |cue_k(ref) - cue_k(test)| / scale_k`` over ILD, ITD and IACC (lower = closer).

    Args:
        sample_rate: Hz of the signals.
        scales: per-cue scales (dB, µs, IACC units); :meth:`fit` sets them from data.
    """

    def __init__(self, sample_rate: int, scales: tuple[float, float, float] = DEFAULT_SCALES) -> None:
        if not (isinstance(sample_rate, int) and sample_rate > 0):
            raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
        if len(scales) != 3 or not all(s > 0 and math.isfinite(s) for s in scales):
            raise ValueError(f"scales must be three positive numbers, got {scales!r}")
        self._sample_rate = sample_rate
        self.scales = tuple(float(s) for s in scales)

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    def fit(self, signals: Tensor) -> CueDistance:
        """Set each scale to the cue's standard deviation over ``signals`` ``(batch, 2, time)`` (z-scoring);
        a cue that does not vary keeps its default."""
        cues = binaural_cues(signals, self.sample_rate).double().numpy()
        spread = cues.std(axis=0) if len(cues) > 1 else np.zeros(3)
        self.scales = tuple(float(s) if s > 1e-9 else d for s, d in zip(spread, DEFAULT_SCALES, strict=True))
        return self

    def __call__(self, reference: Tensor, test: Tensor) -> Tensor:
        return self.score(reference, test)

    def score(self, reference: Tensor, test: Tensor) -> Tensor:
        """``(batch,)`` distances of ``(batch, 2, time)`` pairs."""
        ref, tst = _check(reference, "reference"), _check(test, "test")
        if ref.shape != tst.shape:
            raise ValueError(f"reference {tuple(ref.shape)} and test {tuple(tst.shape)} differ in shape")
        diff = (binaural_cues(ref, self.sample_rate) - binaural_cues(tst, self.sample_rate)).abs()
        return (diff / torch.tensor(self.scales, dtype=diff.dtype)).sum(dim=1)

    def __repr__(self) -> str:
        return f"CueDistance(sample_rate={self.sample_rate}, scales={self.scales})"
