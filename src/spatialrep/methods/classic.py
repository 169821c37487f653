"""The classic, training-free localizers behind the :class:`~spatialrep.methods.base.Localizer` protocol.

``classic_localizer(name, receiver)`` builds one by name for a receiver: a binaural head (an HRTF set, duck-
typed: ``sample_rate``, ``itd``, ``impulse_responses``; the frontal half-plane at 5°) or a free-field array
(``receiver.array``; the full circle at 5°, plane-wave steering). The algorithms live in
:mod:`spatialrep.evaluate.baselines`; this module only adapts them, so a classic baseline is used exactly as a
trained model is (``spatialrep localize FILE --model gcc-phat-itd``, experiment rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from torch import Tensor

from spatialrep.evaluate.baselines import (
    GccPhatItdLocalizer,
    MusicLocalizer,
    SrpPhatLocalizer,
    frontal_azimuths,
)
from spatialrep.methods.base import Directions, check_audio

__all__ = ["CLASSIC_LOCALIZERS", "ClassicLocalizer", "classic_localizer"]

CLASSIC_LOCALIZERS = ("gcc-phat-itd", "srp-phat", "music")
"""Names of the classic localizers (:func:`classic_localizer`)."""

_STEP_DEG = 5.0


class ClassicLocalizer:
    """A classic estimator (``estimator.localize(x) -> azimuth (B,)``) as a :class:`Localizer`.

    Args:
        name: the localizer's name (one of :data:`CLASSIC_LOCALIZERS`).
        estimator: a :mod:`spatialrep.evaluate.baselines` object.
        sample_rate: Hz of the receiver it was built for.
        num_channels: channels of that receiver.
        min_samples: shortest clip (one analysis frame).
    """

    def __init__(
        self, name: str, estimator: Any, sample_rate: int, num_channels: int, min_samples: int
    ) -> None:
        self.name = name
        self.estimator = estimator
        self._sample_rate = int(sample_rate)
        self._num_channels = int(num_channels)
        self._min_samples = int(min_samples)

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def num_channels(self) -> int:
        return self._num_channels

    @property
    def min_samples(self) -> int:
        return self._min_samples

    def __repr__(self) -> str:
        return f"ClassicLocalizer({self.name!r}, {self.num_channels} channels, {self.sample_rate} Hz)"

    def localize(self, audio: Tensor, sample_rate: int) -> Directions:
        """Azimuth of each clip ``(batch, channels, time)``, radians."""
        audio = check_audio(
            audio,
            sample_rate,
            expected_rate=self.sample_rate,
            num_channels=self.num_channels,
            min_samples=self.min_samples,
        )
        azimuth = np.asarray(self.estimator.localize(audio), dtype=np.float64)
        return Directions(azimuth=azimuth)


def _full_circle(step_deg: float) -> npt.NDArray[np.float64]:
    return np.radians(np.arange(-180.0 + step_deg, 180.0 + 1e-9, step_deg))


def classic_localizer(name: str, receiver: Any, *, n_fft: int | None = None) -> ClassicLocalizer:
    """Build the classic localizer ``name`` for ``receiver``.

    Args:
        name: one of :data:`CLASSIC_LOCALIZERS`.
        receiver: an HRTF set (binaural; e.g. ``spatialrep.simulate.load_default_hrtf(16000)``) or a
            free-field array receiver (``spatialrep.simulate.receivers.FreeFieldArray``).
        n_fft: FFT size (default 1024 binaural, 512 arrays).

    Raises:
        ValueError: an unknown name (lists the valid ones), GCC-PHAT-ITD for a receiver without an ITD table
            (arrays), or a receiver of neither kind.
    """
    if name not in CLASSIC_LOCALIZERS:
        raise ValueError(f"unknown classic localizer {name!r}; valid: {', '.join(CLASSIC_LOCALIZERS)}")
    array = getattr(receiver, "array", None)
    binaural = hasattr(receiver, "itd") and hasattr(receiver, "impulse_responses")
    if (array is None and not binaural) or not hasattr(receiver, "sample_rate"):
        raise ValueError(
            "classic localizers need an HRTF set or a microphone array receiver, got "
            f"{type(receiver).__name__}"
        )
    rate = int(receiver.sample_rate)
    if array is not None:
        if name == "gcc-phat-itd":
            raise ValueError(
                "gcc-phat-itd needs a binaural head with an ITD table; "
                f"{getattr(receiver, 'name', receiver)} is a microphone array (use srp-phat or music)"
            )
        size = n_fft or 512
        azimuth = _full_circle(_STEP_DEG)
        cls = SrpPhatLocalizer if name == "srp-phat" else MusicLocalizer
        estimator: Any = cls.from_array(array, azimuth, 0.0, rate, size)
        return ClassicLocalizer(name, estimator, rate, int(receiver.num_channels), size)
    size = n_fft or 1024
    azimuths = frontal_azimuths(_STEP_DEG)
    if name == "gcc-phat-itd":
        estimator = GccPhatItdLocalizer.from_hrtf(receiver, azimuths, n_fft=size)
    elif name == "srp-phat":
        estimator = SrpPhatLocalizer.from_hrtf(receiver, azimuths, n_fft=size)
    else:
        estimator = MusicLocalizer.from_hrtf(receiver, azimuths, n_fft=size)
    return ClassicLocalizer(name, estimator, rate, 2, size)
