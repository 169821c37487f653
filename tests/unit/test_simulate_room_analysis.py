"""Room impulse response analysis: Schroeder EDC, RT60, EDC deviation, direct-to-reverberant ratio."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spatialrep.simulate.room_analysis import (
    direct_to_reverberant_ratio,
    edc_deviation,
    estimate_rt60,
    schroeder_edc,
)


def _decaying_noise(rt60: float, fs: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * fs)) / fs
    noise = np.random.default_rng(0).standard_normal((channels, t.size))
    return noise * 10 ** (-3 * t / rt60)  # amplitude falls 60 dB in rt60


def test_schroeder_edc_and_rt60_on_exponential_noise() -> None:
    h = _decaying_noise(0.5, 16000, 1.2)
    edc = schroeder_edc(h)
    assert edc.shape == h.shape and edc[0, 0] == 0.0
    assert np.all(np.diff(edc) <= 1e-12)
    assert estimate_rt60(h, 16000) == pytest.approx(0.5, rel=0.03)
    assert estimate_rt60(h[0], 16000, (5, 25)) == pytest.approx(0.5, rel=0.05)
    two = _decaying_noise(0.3, 16000, 1.0, channels=2)
    assert estimate_rt60(two, 16000) == pytest.approx(0.3, rel=0.03)


def test_utility_guards() -> None:
    h = _decaying_noise(0.5, 16000, 0.2)
    with pytest.raises(ValueError, match="too short for the fit"):
        estimate_rt60(h, 16000)
    with pytest.raises(ValueError, match="sample_rate"):
        estimate_rt60(h, 0)
    with pytest.raises(ValueError, match="decay_range_db"):
        estimate_rt60(h, 16000, (25, 5))
    with pytest.raises(ValueError, match="no energy"):
        schroeder_edc(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="at least one tap"):
        schroeder_edc(np.zeros(0))
    with pytest.raises(ValueError, match="same number of taps"):
        edc_deviation(np.ones(10), np.ones(11))
    with pytest.raises(ValueError, match="decay_db"):
        edc_deviation(np.ones(10), np.ones(10), 0.0)
    with pytest.raises(ValueError, match="same shape"):
        direct_to_reverberant_ratio(np.ones(10), np.ones(9))
    with pytest.raises(ValueError, match="no energy"):
        direct_to_reverberant_ratio(np.ones(10), np.zeros(10))


def test_drr_and_edc_deviation_values() -> None:
    direct = np.zeros((2, 100))
    direct[:, 10] = 1.0
    full = direct.copy()
    full[:, 50:60] = np.sqrt(0.01)  # reverberant energy 0.1 per channel
    assert direct_to_reverberant_ratio(full, direct) == pytest.approx(10.0)
    assert direct_to_reverberant_ratio(direct, direct) == math.inf
    h = _decaying_noise(0.5, 8000, 0.6)
    assert edc_deviation(h, h) == 0.0
    louder_tail = h.copy()
    louder_tail[:, 800:] *= math.sqrt(2)
    assert 0.5 < edc_deviation(h, louder_tail) < 3.01
