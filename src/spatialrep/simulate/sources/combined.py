"""Several source banks as one: the union of their classes and units."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from spatialrep.simulate.sources.base import SourceBank, SourceClip, select_units


class CombinedBank:
    """The union of banks with disjoint classes (e.g. MIDI events and procedural events).

    A draw picks a class uniformly over all classes, then asks the bank that owns it. ``units()`` is the union
    of the banks' units; ``partition`` restricts each bank and drops banks left without units.

    Args:
        banks: the banks; no class or unit may appear in two of them.
        name: name of the combination.

    Raises:
        ValueError: no banks, or a class or unit shared by two banks.
    """

    def __init__(self, banks: Sequence[SourceBank], name: str = "combined") -> None:
        if not banks:
            raise ValueError("CombinedBank needs at least one bank")
        owner: dict[str, SourceBank] = {}
        seen_units: dict[str, str] = {}
        for bank in banks:
            for label in bank.classes:
                if label in owner:
                    raise ValueError(f"class {label!r} is in both {owner[label].name!r} and {bank.name!r}")
                owner[label] = bank
            for unit in bank.units():
                if unit in seen_units:
                    raise ValueError(f"unit {unit!r} is in both {seen_units[unit]!r} and {bank.name!r}")
                seen_units[unit] = bank.name
        self.banks = tuple(banks)
        self.name = name
        self._owner = owner

    def __repr__(self) -> str:
        return f"CombinedBank({self.name!r}, {list(self.banks)})"

    @property
    def classes(self) -> tuple[str, ...]:
        """Every bank's classes, sorted."""
        return tuple(sorted(self._owner))

    def units(self, label: str | None = None) -> tuple[str, ...]:
        """Every bank's units, or those of class ``label``, sorted.

        Raises:
            ValueError: unknown ``label``.
        """
        if label is None:
            return tuple(sorted(u for bank in self.banks for u in bank.units()))
        return self._bank_of(label).units(label)

    def partition(self, units: Iterable[str]) -> CombinedBank:
        """Restrict every bank to its share of ``units``; banks without any are dropped.

        Raises:
            ValueError: unknown or no units.
        """
        wanted = set(select_units(self.units(), units, self.name))
        parts = []
        for bank in self.banks:
            mine = wanted.intersection(bank.units())
            if mine:
                parts.append(bank.partition(mine))
        return CombinedBank(parts, self.name)

    def sample(
        self, rng: np.random.Generator, duration_s: float, sample_rate: int, *, label: str | None = None
    ) -> SourceClip:
        """Draw one clip from the bank owning ``label`` (or a uniformly drawn class).

        Raises:
            ValueError: unknown ``label`` or invalid duration or rate.
        """
        if label is None:
            label = self.classes[int(rng.integers(len(self.classes)))]
        return self._bank_of(label).sample(rng, duration_s, sample_rate, label=label)

    def _bank_of(self, label: str) -> SourceBank:
        if label not in self._owner:
            raise ValueError(
                f"{self.name}: unknown class {label!r}; valid classes: {', '.join(self.classes)}"
            )
        return self._owner[label]
