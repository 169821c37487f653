"""Procedurally synthesised sound events: alarms, footsteps and knocks.

Signals are built directly at the requested rate from sines (harmonics above 0.45 x the sample rate are left
out, so nothing aliases), filtered noise and damped resonances. Each class has a few *styles* that are its
units (``"alarm:siren"``, ``"footsteps:soft"``...), so a split by units keeps styles disjoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from scipy import signal as sps

from spatialrep.simulate.sources.base import SourceClip, UnitBank, normalise_rms, num_samples, select_units

_Generator = Callable[[np.random.Generator, int, int], tuple[np.ndarray, dict[str, Any]]]


def _ramp(x: np.ndarray, rate: int, ramp_s: float = 0.005) -> np.ndarray:
    """Raised-cosine fade in and out, so tone bursts do not click."""
    k = min(max(1, round(ramp_s * rate)), x.size // 2)
    window = 0.5 - 0.5 * np.cos(np.pi * np.arange(k) / k)
    y = x.copy()
    y[:k] *= window
    y[-k:] *= window[::-1]
    return y


def _harmonic_phase(
    phase: np.ndarray, f_max: np.ndarray | float, rate: int, amps: Sequence[float]
) -> np.ndarray:
    """Sum of harmonics ``k`` of a phase track (radians), amplitude ``amps[k-1]``, those below 0.45 rate."""
    out = np.zeros_like(phase)
    for k, amp in enumerate(amps, start=1):
        if k * np.max(f_max) < 0.45 * rate:
            out += amp * np.sin(k * phase)
    return out


def _alarm_beep(rng: np.random.Generator, n: int, rate: int) -> tuple[np.ndarray, dict[str, Any]]:
    f0 = min(float(rng.uniform(1800.0, 3500.0)), 0.4 * rate)
    on_s, off_s = float(rng.uniform(0.08, 0.3)), float(rng.uniform(0.08, 0.3))
    t = np.arange(n) / rate
    tone = _harmonic_phase(
        2 * np.pi * f0 * t + rng.uniform(0, 2 * np.pi), f0, rate, (1.0, 0.0, 1 / 3, 0.0, 1 / 5)
    )
    gate = np.zeros(n)
    period = round((on_s + off_s) * rate)
    on = max(1, round(on_s * rate))
    for start in range(-int(rng.integers(period)), n, period):
        a, b = max(start, 0), min(start + on, n)
        if b > a:
            gate[a:b] = _ramp(np.ones(b - a), rate)
    return tone * gate, {"frequency_hz": f0, "on_s": on_s, "off_s": off_s}


def _alarm_two_tone(rng: np.random.Generator, n: int, rate: int) -> tuple[np.ndarray, dict[str, Any]]:
    f1 = min(float(rng.uniform(500.0, 1000.0)), 0.3 * rate)
    ratio = float(rng.uniform(1.15, 1.5))
    seg = max(1, round(float(rng.uniform(0.25, 0.7)) * rate))
    freq = np.where(((np.arange(n) + int(rng.integers(2 * seg))) // seg) % 2 == 0, f1, f1 * ratio)
    phase = 2 * np.pi * np.cumsum(freq) / rate
    return _harmonic_phase(phase, f1 * ratio, rate, (1.0, 0.5, 0.3, 0.2)), {
        "frequency_hz": f1,
        "ratio": ratio,
    }


def _alarm_siren(rng: np.random.Generator, n: int, rate: int) -> tuple[np.ndarray, dict[str, Any]]:
    low = min(float(rng.uniform(500.0, 1000.0)), 0.2 * rate)
    high = low * float(rng.uniform(1.3, 2.0))
    period = float(rng.uniform(0.5, 4.0))
    t = np.arange(n) / rate
    freq = low + (high - low) * 0.5 * (1 - np.cos(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi)))
    phase = 2 * np.pi * np.cumsum(freq) / rate
    return _harmonic_phase(phase, high, rate, (1.0, 0.5, 0.33, 0.25)), {"low_hz": low, "high_hz": high}


def _impulses(n: int, rate: int, times: Iterable[float], make: Callable[[], np.ndarray]) -> np.ndarray:
    """Add ``make()`` at every onset time (seconds) that falls inside ``n`` samples."""
    out = np.zeros(n)
    for t in times:
        start = round(t * rate)
        if start >= n:
            break
        piece = make()
        stop = min(n, start + piece.size)
        if stop > max(start, 0):
            out[max(start, 0) : stop] += piece[max(start, 0) - start : stop - start]
    return out


def _footsteps(soft: bool) -> _Generator:
    def generate(rng: np.random.Generator, n: int, rate: int) -> tuple[np.ndarray, dict[str, Any]]:
        step_rate = float(rng.uniform(1.4, 2.4))
        tau = float(rng.uniform(0.025, 0.05) if soft else rng.uniform(0.008, 0.02))
        if soft:
            sos = sps.butter(
                2, min(float(rng.uniform(400.0, 1200.0)), 0.45 * rate), "lowpass", fs=rate, output="sos"
            )
        else:
            centre = min(float(rng.uniform(1000.0, 4000.0)), 0.3 * rate)
            sos = sps.butter(2, [centre / 1.5, centre * 1.5], "bandpass", fs=rate, output="sos")
        thump_hz = float(rng.uniform(70.0, 150.0))
        length = round(6 * tau * rate) + 1
        env = np.exp(-np.arange(length) / (tau * rate))

        def step() -> np.ndarray:
            noise = sps.sosfilt(sos, rng.standard_normal(length)) * env
            thump = (
                np.sin(2 * np.pi * thump_hz * np.arange(length) / rate) * env * float(rng.uniform(0.5, 1.5))
            )
            level = float(rng.uniform(0.6, 1.0))
            if soft:
                return level * (noise + 0.5 * thump)
            # Heel then toe, a few tens of milliseconds apart.
            gap = round(float(rng.uniform(0.03, 0.07)) * rate)
            out = np.zeros(length + gap)
            out[:length] += noise + 0.3 * thump
            out[gap:] += 0.6 * sps.sosfilt(sos, rng.standard_normal(length)) * env
            return level * out

        period = 1.0 / step_rate
        # The first step comes within the first half of the clip, so even short clips are not silent.
        first = float(rng.uniform(0.0, min(period, 0.5 * n / rate)))
        intervals = period * rng.uniform(0.9, 1.1, size=int(n / rate / period) + 2)
        times = first + np.concatenate([[0.0], np.cumsum(intervals)])
        return _impulses(n, rate, times, step), {"steps_per_s": step_rate, "decay_s": tau}

    return generate


def _knock(low: float, high: float) -> _Generator:
    def generate(rng: np.random.Generator, n: int, rate: int) -> tuple[np.ndarray, dict[str, Any]]:
        base = min(float(rng.uniform(low, high)), 0.1 * rate)
        modes = [
            (base, 1.0),
            (base * float(rng.uniform(2.0, 2.6)), 0.6),
            (base * float(rng.uniform(3.8, 4.6)), 0.3),
        ]
        decay = float(rng.uniform(0.015, 0.05)) * (300.0 / max(base, 300.0)) ** 0.5
        length = round(8 * decay * rate) + 1
        t = np.arange(length) / rate

        def knock() -> np.ndarray:
            tone = sum(a * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f, a in modes)
            click = rng.standard_normal(length) * np.exp(-t / 0.002) * 0.5
            return float(rng.uniform(0.6, 1.0)) * (np.asarray(tone) * np.exp(-t / decay) + click)

        times: list[float] = []
        t0 = float(rng.uniform(0.0, min(0.3, 0.5 * n / rate)))
        while t0 < n / rate:
            interval = float(rng.uniform(0.12, 0.25))
            times.extend(t0 + interval * k for k in range(int(rng.integers(2, 6))))
            t0 = times[-1] + float(rng.uniform(0.3, 1.0))
        return _impulses(n, rate, times, knock), {"base_hz": base, "decay_s": decay}

    return generate


PROCEDURAL_UNITS: dict[str, _Generator] = {
    "alarm:beep": _alarm_beep,
    "alarm:siren": _alarm_siren,
    "alarm:two-tone": _alarm_two_tone,
    "footsteps:hard": _footsteps(soft=False),
    "footsteps:soft": _footsteps(soft=True),
    "knock:door": _knock(120.0, 300.0),
    "knock:table": _knock(400.0, 1200.0),
}
"""Units (``"<class>:<style>"``) of :class:`ProceduralEvents` and their generators."""


class ProceduralEvents(UnitBank):
    """Source bank of procedural events: classes ``alarm``, ``footsteps`` and ``knock``.

    Units are the styles of :data:`PROCEDURAL_UNITS`. Every style fills the whole clip (alarms sound
    throughout; footsteps and knocks repeat with short pauses).

    Args:
        classes: restrict to these classes; default all.
        units: restrict to these units; default all units of the selected classes.

    Raises:
        ValueError: unknown classes or units (the message lists the valid ones).
    """

    name = "procedural-events"

    def __init__(self, *, classes: Sequence[str] | None = None, units: Iterable[str] | None = None) -> None:
        if isinstance(classes, str):
            raise TypeError(f"classes must be a sequence of class names, not the string {classes!r}")
        every = {unit: unit.split(":")[0] for unit in PROCEDURAL_UNITS}
        valid = sorted(set(every.values()))
        chosen = valid if classes is None else list(classes)
        unknown = [c for c in chosen if c not in valid]
        if unknown or not chosen:
            raise ValueError(f"unknown procedural classes {unknown}; valid: {', '.join(valid)}")
        candidates = [u for u, c in every.items() if c in chosen]
        self._unit_classes = {u: every[u] for u in select_units(candidates, units, self.name)}

    def __repr__(self) -> str:
        return f"ProceduralEvents(units={list(self._unit_classes)})"

    def sample(
        self, rng: np.random.Generator, duration_s: float, sample_rate: int, *, label: str | None = None
    ) -> SourceClip:
        """Draw one clip of exactly ``round(duration_s * sample_rate)`` samples (see :class:`SourceBank`).

        Raises:
            ValueError: invalid duration, rate or label.
        """
        n = num_samples(duration_s, sample_rate)
        label, unit = self._choose(rng, label)
        signal, metadata = PROCEDURAL_UNITS[unit](rng, n, sample_rate)
        source_id = f"procedural:{unit}:{hashlib.sha1(signal.tobytes()).hexdigest()[:10]}"
        return SourceClip(normalise_rms(signal, source_id), sample_rate, label, source_id, unit, metadata)
