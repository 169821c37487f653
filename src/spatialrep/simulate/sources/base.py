"""What every source bank returns and promises: :class:`SourceClip` and the :class:`SourceBank` protocol.

A *source bank* draws dry, mono, fixed-length signals of labelled sound sources (speech, instruments, sound
effects, files). Every bank follows the same contract:

- ``sample(rng, duration_s, sample_rate)`` returns exactly ``round(duration_s * sample_rate)`` samples,
  float64, scaled to an RMS of :data:`TARGET_RMS` over the whole clip, finite and never silent. Peaks are not
  limited: impulsive classes (gunshots, drums) may exceed 1.0; the scene renderer scales whole examples.
- The same generator state gives identical samples; the bank draws all its randomness from ``rng``.
- ``units()`` lists the bank's disjoint *units* (speakers, instrument programs, files). ``partition(units)``
  returns a bank restricted to some of them, so that train, validation and test sets can be made disjoint in
  voices, instruments or source clips. Each unit belongs to exactly one class; ``units(label)`` lists the
  units of one class.
- A draw first picks a class uniformly among ``classes``, then a unit uniformly within that class, so classes
  stay balanced whatever their number of units.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np

from spatialrep.dsp import rms

TARGET_RMS = 0.05
"""RMS of every clip a bank returns (about -26 dBFS), computed over the whole clip."""

SILENCE_RMS = 1e-7
"""Signals whose RMS is below this are treated as silent (16-bit quantisation noise is about 1e-5)."""

FILL_MODES = ("loop", "pad")
"""How :func:`fit_length` extends signals shorter than the request."""


@dataclass(frozen=True)
class SourceClip:
    """One dry, mono source signal.

    Attributes:
        signal: ``(samples,)`` float64 at ``sample_rate``, RMS :data:`TARGET_RMS`.
        sample_rate: Hz.
        label: class name (one of the bank's ``classes``).
        source_id: identifies the content, e.g. ``"espeak:en-us+m3:p52:r160:g1:sent17+18"`` or a file path.
        unit: the bank unit it came from (speaker, instrument program, file); see ``SourceBank.units``.
        metadata: bank-specific details (voice, pitch, program, offsets...); JSON-serialisable values.

    Raises:
        ValueError: a signal that is not 1-D, is empty or non-finite, or a non-positive sample rate.
    """

    signal: np.ndarray
    sample_rate: int
    label: str
    source_id: str
    unit: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.signal.ndim != 1 or self.signal.size == 0:
            raise ValueError(
                f"SourceClip signal must be a non-empty 1-D array, got shape {self.signal.shape}"
            )
        if not np.all(np.isfinite(self.signal)):
            raise ValueError(f"SourceClip signal of {self.source_id!r} has NaN or inf samples")
        if self.sample_rate <= 0:
            raise ValueError(f"SourceClip sample_rate must be positive, got {self.sample_rate}")

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.signal.size / self.sample_rate


@runtime_checkable
class SourceBank(Protocol):
    """A distribution of labelled dry source signals (see the module docstring for the contract)."""

    @property
    def name(self) -> str:
        """Short description used in logs and manifests, e.g. ``"espeak"``."""
        ...

    @property
    def classes(self) -> tuple[str, ...]:
        """Class labels this bank can return, sorted."""
        ...

    def units(self, label: str | None = None) -> tuple[str, ...]:
        """The disjoint units (speakers, programs, files), all or those of one class, sorted."""
        ...

    def partition(self, units: Iterable[str]) -> SourceBank:
        """A bank of the same kind restricted to ``units`` (a subset of ``units()``)."""
        ...

    def sample(
        self, rng: np.random.Generator, duration_s: float, sample_rate: int, *, label: str | None = None
    ) -> SourceClip:
        """Draw one clip of exactly ``round(duration_s * sample_rate)`` samples (of class ``label``)."""
        ...


def num_samples(duration_s: float, sample_rate: int) -> int:
    """Validated ``round(duration_s * sample_rate)``.

    Raises:
        TypeError: a sample rate that is not an integer.
        ValueError: a non-finite or non-positive duration or rate, or a request shorter than one sample.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer):
        raise TypeError(f"sample_rate must be an integer number of Hz, got {sample_rate!r}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise ValueError(f"duration_s must be positive and finite, got {duration_s}")
    n = round(duration_s * sample_rate)
    if n < 1:
        raise ValueError(f"duration_s={duration_s} at {sample_rate} Hz is shorter than one sample")
    return int(n)


def normalise_rms(signal: np.ndarray, what: str, target: float = TARGET_RMS) -> np.ndarray:
    """Scale ``signal`` to RMS ``target``.

    Args:
        signal: any shape, float.
        what: names the signal in error messages (a file, a voice...).
        target: RMS after scaling.

    Returns:
        The scaled signal, float64.

    Raises:
        ValueError: the signal is non-finite or silent (RMS below :data:`SILENCE_RMS`).
    """
    x = np.asarray(signal, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what}: signal has NaN or inf samples")
    level = rms(x)
    if level < SILENCE_RMS:
        raise ValueError(f"{what}: signal is silent (RMS {level:.3g})")
    return x * (target / level)


def fit_length(
    signal: np.ndarray, n: int, rng: np.random.Generator | None = None, fill: str = "loop"
) -> np.ndarray:
    """Crop or extend a 1-D signal to exactly ``n`` samples.

    Args:
        signal: ``(samples,)``, non-empty.
        n: wanted length, samples.
        rng: chooses the crop offset (longer signals), the loop phase (``fill="loop"``) or the position inside
            the silence (``fill="pad"``); ``None`` starts at the first sample.
        fill: for signals shorter than ``n``: ``"loop"`` repeats the signal end to end, ``"pad"`` places it
            once inside zeros.

    Returns:
        ``(n,)`` float64.

    Raises:
        ValueError: an empty signal or an unknown ``fill``.
    """
    if fill not in FILL_MODES:
        raise ValueError(f"unknown fill {fill!r}; valid: {', '.join(FILL_MODES)}")
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"fit_length needs a non-empty 1-D signal, got shape {x.shape}")
    length = x.size
    if length >= n:
        start = 0 if rng is None else int(rng.integers(0, length - n + 1))
        return x[start : start + n].copy()
    if fill == "loop":
        phase = 0 if rng is None else int(rng.integers(0, length))
        reps = -(-(n + phase) // length)
        return np.tile(x, reps)[phase : phase + n].copy()
    out = np.zeros(n)
    start = 0 if rng is None else int(rng.integers(0, n - length + 1))
    out[start : start + length] = x
    return out


def select_units(available: Sequence[str], requested: Iterable[str] | None, bank: str) -> tuple[str, ...]:
    """Validate a unit selection against ``available``.

    Args:
        available: every unit of the unrestricted bank.
        requested: the wanted units, or ``None`` for all.
        bank: names the bank in error messages.

    Returns:
        The selected units, sorted, without duplicates.

    Raises:
        TypeError: ``requested`` is a single string (a common slip for a one-element list).
        ValueError: an unknown unit (the message lists the valid ones) or an empty selection.
    """
    if requested is None:
        return tuple(sorted(set(available)))
    if isinstance(requested, str):
        raise TypeError(f"{bank}: units must be a collection of unit names, not the string {requested!r}")
    wanted = set(requested)
    valid = set(available)
    unknown = sorted(wanted - valid)
    if unknown:
        raise ValueError(f"{bank}: unknown unit(s) {unknown}; valid units: {', '.join(sorted(valid))}")
    if not wanted:
        raise ValueError(f"{bank}: the unit selection is empty")
    return tuple(sorted(wanted))


def choose_class_and_unit(
    rng: np.random.Generator, unit_classes: Mapping[str, str], label: str | None, bank: str
) -> tuple[str, str]:
    """Pick a class uniformly (or take ``label``), then one of its units uniformly.

    Args:
        rng: random generator.
        unit_classes: unit -> class of the bank's selected units.
        label: force this class.
        bank: names the bank in error messages.

    Returns:
        ``(label, unit)``.

    Raises:
        ValueError: ``label`` is not one of the bank's classes.
    """
    classes = sorted(set(unit_classes.values()))
    if label is None:
        label = classes[int(rng.integers(len(classes)))]
    elif label not in classes:
        raise ValueError(f"{bank}: unknown class {label!r}; valid classes: {', '.join(classes)}")
    members = sorted(u for u, c in unit_classes.items() if c == label)
    return label, members[int(rng.integers(len(members)))]


def units_of(unit_classes: Mapping[str, str], label: str | None, bank: str) -> tuple[str, ...]:
    """Sorted units, all or those of class ``label`` (``units()`` of the banks).

    Raises:
        ValueError: ``label`` is not one of the classes.
    """
    if label is None:
        return tuple(sorted(unit_classes))
    classes = sorted(set(unit_classes.values()))
    if label not in classes:
        raise ValueError(f"{bank}: unknown class {label!r}; valid classes: {', '.join(classes)}")
    return tuple(sorted(u for u, c in unit_classes.items() if c == label))


class UnitBank:
    """Bookkeeping shared by the banks: the selected units and their classes.

    Subclasses set ``name`` and ``_unit_classes`` (unit -> class of the selected units) and implement
    ``sample``; they get ``classes``, ``units`` and ``partition``.
    """

    name: str = "bank"
    _unit_classes: dict[str, str]

    @property
    def classes(self) -> tuple[str, ...]:
        """Classes with at least one selected unit, sorted."""
        return tuple(sorted(set(self._unit_classes.values())))

    def units(self, label: str | None = None) -> tuple[str, ...]:
        """The selected units, all or those of class ``label``, sorted.

        Raises:
            ValueError: ``label`` is not one of :attr:`classes`.
        """
        return units_of(self._unit_classes, label, self.name)

    def partition(self, units: Iterable[str]) -> Self:
        """A copy of this bank restricted to ``units`` (a subset of :meth:`units`).

        Classes left without units disappear from ``classes``.

        Raises:
            TypeError: ``units`` is a single string.
            ValueError: unknown units (the message lists the valid ones) or an empty selection.
        """
        bank = copy.copy(self)
        bank._unit_classes = {u: self._unit_classes[u] for u in select_units(self.units(), units, self.name)}
        return bank

    def _choose(self, rng: np.random.Generator, label: str | None) -> tuple[str, str]:
        return choose_class_and_unit(rng, self._unit_classes, label, self.name)
