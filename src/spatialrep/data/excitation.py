"""Noise excitations as a source bank (``noise:white``, ``noise:white,pink``) and :func:`make_bank`.

Fixed-condition experiments train on broadband noise bursts at known directions; these banks give them the
same interface as speech or sound events. :func:`make_bank` resolves ``noise:...`` here and every other spec
with :func:`spatialrep.simulate.sources.make_source_bank`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spatialrep.simulate.sources import SourceBank, make_source_bank
from spatialrep.simulate.sources.base import SourceClip, UnitBank, normalise_rms, num_samples

NOISE_COLOURS = ("white", "pink", "brown")
_EXPONENT = {"white": 0.0, "pink": 0.5, "brown": 1.0}  # amplitude ~ f^-exponent


class NoiseExcitation(UnitBank):
    """Stationary coloured Gaussian noise; one unit and one class per colour.

    Args:
        colours: subset of :data:`NOISE_COLOURS`.

    Raises:
        ValueError: an unknown or empty colour list.
    """

    def __init__(self, colours: tuple[str, ...] = ("white",)) -> None:
        unknown = [c for c in colours if c not in NOISE_COLOURS]
        if unknown or not colours:
            raise ValueError(
                f"unknown noise colour(s) {unknown or list(colours)}; valid: {', '.join(NOISE_COLOURS)}"
            )
        self.name = "noise"
        self._unit_classes = {c: c for c in colours}

    def sample(
        self, rng: np.random.Generator, duration_s: float, sample_rate: int, *, label: str | None = None
    ) -> SourceClip:
        """Draw ``round(duration_s * sample_rate)`` samples of noise at the bank's RMS (see ``base``)."""
        n = num_samples(duration_s, sample_rate)
        colour, unit = self._choose(rng, label)
        white = rng.standard_normal(n)
        exponent = _EXPONENT[colour]
        if exponent:
            spectrum = np.fft.rfft(white)
            freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
            shaping = np.ones_like(freqs)
            shaping[1:] = (freqs[1] / freqs[1:]) ** exponent
            shaping[0] = 0.0
            white = np.fft.irfft(spectrum * shaping, n)
        signal = normalise_rms(white, f"{colour} noise")
        return SourceClip(signal, sample_rate, label=colour, source_id=f"noise:{colour}", unit=unit)


def make_bank(spec: str, **kwargs: Any) -> SourceBank:
    """Source bank of ``spec``: ``noise:<colour>[,<colour>...]`` here, anything else by ``make_source_bank``.

    Raises:
        ValueError: an unknown spec or colour.
    """
    kind, sep, argument = spec.partition(":")
    if kind == "noise" and sep:
        return NoiseExcitation(tuple(c.strip() for c in argument.split(",") if c.strip()))
    return make_source_bank(spec, **kwargs)
