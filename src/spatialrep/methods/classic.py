"""The classic, training-free localizers behind the :class:`~spatialrep.methods.base.Localizer` protocol.

``classic_localizer(name, receiver)`` builds one by name for a receiver: a binaural head (an HRTF set, duck-
typed: ``sample_rate``, ``itd``, ``impulse_responses``; the frontal half-plane at 5°) or a free-field array
(``receiver.array``; the full circle at 5°, plane-wave steering). The algorithms live in
:mod:`spatialrep.evaluate.baselines`; this module only adapts them, so a classic baseline is used exactly as a
trained model is (``spatialrep localize FILE --model gcc-phat-itd``, experiment rows).

Three families, each with named variants (:data:`CLASSIC_FAMILIES`, :data:`CLASSIC_VARIANTS`). The family
names ``gcc-phat-itd``, ``srp-phat`` and ``music`` (:data:`DEFAULT_CLASSIC`) mean the family's strongest
variant on a validation set of rendered rooms, SNRs and heads (:data:`DEFAULT_VARIANT`; the numbers and the
procedure are in ``docs/evaluation.md``, the script in ``benchmarks/validate_classic.py``). The variant names
are explicit and stable: ``gcc-phat-itd-framemean`` is always the per-frame mean of the original baseline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
from torch import Tensor

from spatialrep.evaluate.baselines import (
    GccPhatItdLocalizer,
    GccPhatItdTracker,
    MusicLocalizer,
    SrpPhatLocalizer,
    frontal_azimuths,
)
from spatialrep.methods.base import Directions, check_audio

__all__ = [
    "CLASSIC_FAMILIES",
    "CLASSIC_LOCALIZERS",
    "CLASSIC_VARIANTS",
    "DEFAULT_CLASSIC",
    "DEFAULT_VARIANT",
    "STREAMING_CLASSIC",
    "ClassicLocalizer",
    "ClassicVariant",
    "StreamingClassicLocalizer",
    "classic_family",
    "classic_localizer",
    "resolve_classic",
]

_STEP_DEG = 5.0
_BINAURAL_N_FFT = 1024
_ARRAY_N_FFT = 512


@dataclasses.dataclass(frozen=True)
class ClassicVariant:
    """One named classic localizer: which algorithm, with which parameters.

    Attributes:
        name: the explicit name (``gcc-phat-itd-clip``, ...).
        family: ``gcc-phat-itd``, ``srp-phat`` or ``music``.
        kind: the builder: ``gcc``, ``gcc-stream``, ``srp`` or ``music``.
        summary: one line for tables and ``--help``.
        binaural: keyword arguments of the ``from_hrtf`` builder for a head.
        array: keyword arguments of the ``from_array`` builder, or ``None`` when arrays are refused.
    """

    name: str
    family: str
    kind: str
    summary: str
    binaural: Mapping[str, Any]
    array: Mapping[str, Any] | None

    @property
    def streaming(self) -> bool:
        """Whether it also runs chunk by chunk (:class:`StreamingClassicLocalizer`)."""
        return self.kind == "gcc-stream"


def _variant(
    name: str,
    family: str,
    kind: str,
    summary: str,
    binaural: dict[str, Any],
    array: dict[str, Any] | None,
) -> ClassicVariant:
    return ClassicVariant(
        name,
        family,
        kind,
        summary,
        MappingProxyType(binaural),
        None if array is None else MappingProxyType(array),
    )


# Parameters of every variant. The strongest offline variant of each family is DEFAULT_VARIANT below, chosen
# on validation data (docs/evaluation.md); n_fft is 1024 for heads and 512 for arrays unless given.
_VARIANTS = (
    _variant(
        "gcc-phat-itd-clip",
        "gcc-phat-itd",
        "gcc",
        "GCC-PHAT of the whole clip (cross spectra summed over frames, then PHAT), 16x lags, ITD table",
        {"accumulation": "clip", "upsample": 16},
        None,
    ),
    _variant(
        "gcc-phat-itd-energy",
        "gcc-phat-itd",
        "gcc",
        "per-frame GCC-PHAT weighted by frame energy, 16x lags, ITD table",
        {"accumulation": "energy", "upsample": 16},
        None,
    ),
    _variant(
        "gcc-phat-itd-snr",
        "gcc-phat-itd",
        "gcc",
        "per-bin PHAT weighted by estimated SNR (noise floor: 10% quantile), 16x lags, ITD table",
        {"accumulation": "snr", "upsample": 16},
        None,
    ),
    _variant(
        "gcc-phat-itd-framemean",
        "gcc-phat-itd",
        "gcc",
        "mean of per-frame GCC-PHAT, integer lags + parabola, ITD table (the original baseline)",
        {"accumulation": "frame-mean", "upsample": 1},
        None,
    ),
    _variant(
        "gcc-phat-itd-stream",
        "gcc-phat-itd",
        "gcc-stream",
        "streaming: exponentially weighted per-frame GCC-PHAT (time constant 0.5 s), 16x lags, ITD table",
        {"time_constant_s": 0.5, "accumulation": "frame-mean", "upsample": 16},
        None,
    ),
    _variant(
        "srp-phat-clip",
        "srp-phat",
        "srp",
        "SRP-PHAT of the whole clip (cross spectra summed, then PHAT), HRIR / array steering",
        {"accumulation": "clip"},
        {"accumulation": "clip"},
    ),
    _variant(
        "srp-phat-framemean",
        "srp-phat",
        "srp",
        "mean of per-frame SRP-PHAT maps, HRIR / array steering (the original baseline)",
        {"accumulation": "frame-mean"},
        {"accumulation": "frame-mean"},
    ),
    _variant(
        "srp-phat-freefield",
        "srp-phat",
        "srp",
        "mean of per-frame SRP-PHAT maps, free-field steering (delays of the ITD table; arrays: plane waves)",
        {"accumulation": "frame-mean", "steering": "freefield"},
        {"accumulation": "frame-mean"},
    ),
    _variant(
        "music-fnorm",
        "music",
        "music",
        "MUSIC, pseudo-spectra normalised per bin before averaging, HRIR / array steering",
        {"frequency_normalization": True},
        {"frequency_normalization": True},
    ),
    _variant(
        "music-nofnorm",
        "music",
        "music",
        "MUSIC, pseudo-spectra averaged over bins as they are, HRIR / array steering (the original baseline)",
        {"frequency_normalization": False},
        {"frequency_normalization": False},
    ),
    _variant(
        "music-freefield",
        "music",
        "music",
        "MUSIC, normalised per bin, free-field steering (delays of the head's ITDs; arrays: plane waves)",
        {"frequency_normalization": True, "steering": "freefield"},
        {"frequency_normalization": True},
    ),
)

CLASSIC_VARIANTS: Mapping[str, ClassicVariant] = MappingProxyType({v.name: v for v in _VARIANTS})
"""Every explicit variant name and what it is."""

DEFAULT_CLASSIC = ("gcc-phat-itd", "srp-phat", "music")
"""The family names; each means its family's validated strongest offline variant (:data:`DEFAULT_VARIANT`).
Experiment tables report these by default and the other variants as extra rows."""

DEFAULT_VARIANT: Mapping[str, str] = MappingProxyType(
    {"gcc-phat-itd": "gcc-phat-itd-snr", "srp-phat": "srp-phat-framemean", "music": "music-freefield"}
)
"""Family name -> the explicit variant it means (chosen on validation data, see ``docs/evaluation.md``)."""

CLASSIC_FAMILIES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        family: (default, *(v.name for v in _VARIANTS if v.family == family and v.name != default))
        for family, default in DEFAULT_VARIANT.items()
    }
)
"""Family name -> its explicit variant names, the default first."""

STREAMING_CLASSIC = tuple(v.name for v in _VARIANTS if v.streaming)
"""Variants that also run chunk by chunk (``localize_stream``)."""

CLASSIC_LOCALIZERS = DEFAULT_CLASSIC + tuple(CLASSIC_VARIANTS)
"""Every name :func:`classic_localizer` accepts: the family names first, then every explicit variant."""


def resolve_classic(name: str) -> ClassicVariant:
    """The variant a name means (a family name means its :data:`DEFAULT_VARIANT`).

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
    """
    if name in DEFAULT_VARIANT:
        name = DEFAULT_VARIANT[name]
    if name not in CLASSIC_VARIANTS:
        raise ValueError(f"unknown classic localizer {name!r}; valid: {', '.join(CLASSIC_LOCALIZERS)}")
    return CLASSIC_VARIANTS[name]


def classic_family(name: str) -> str:
    """The family (``gcc-phat-itd``, ``srp-phat``, ``music``) of a classic localizer's name.

    Raises:
        ValueError: an unknown name.
    """
    return resolve_classic(name).family


class ClassicLocalizer:
    """A classic estimator (``estimator.localize(x) -> azimuth (B,)``) as a :class:`Localizer`.

    Args:
        name: the localizer's name (one of :data:`CLASSIC_LOCALIZERS`).
        estimator: a :mod:`spatialrep.evaluate.baselines` object.
        sample_rate: Hz of the receiver it was built for.
        num_channels: channels of that receiver.
        min_samples: shortest clip (one analysis frame).
        variant: the explicit variant ``name`` means (default ``name``).
    """

    def __init__(
        self,
        name: str,
        estimator: Any,
        sample_rate: int,
        num_channels: int,
        min_samples: int,
        *,
        variant: str | None = None,
    ) -> None:
        self.name = name
        self.variant = name if variant is None else variant
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
        alias = f" = {self.variant!r}" if self.variant != self.name else ""
        channels = f"{self.num_channels} channels, {self.sample_rate} Hz"
        return f"{type(self).__name__}({self.name!r}{alias}, {channels})"

    def _check(self, audio: Tensor, sample_rate: int) -> Tensor:
        return check_audio(
            audio,
            sample_rate,
            expected_rate=self.sample_rate,
            num_channels=self.num_channels,
            min_samples=self.min_samples,
        )

    def localize(self, audio: Tensor, sample_rate: int) -> Directions:
        """Azimuth of each clip ``(batch, channels, time)``, radians."""
        azimuth = np.asarray(self.estimator.localize(self._check(audio, sample_rate)), dtype=np.float64)
        return Directions(azimuth=azimuth)


class StreamingClassicLocalizer(ClassicLocalizer):
    """A :class:`ClassicLocalizer` whose estimator tracks chunk by chunk (a ``StreamingLocalizer``).

    The estimator is a :class:`~spatialrep.evaluate.baselines.GccPhatItdTracker`: :meth:`localize` is its
    estimate after the clip's last complete frame, and :meth:`localize_stream` reaches the same estimate fed
    ``chunk_samples`` at a time.
    """

    estimator: GccPhatItdTracker

    def localize_stream(self, audio: Tensor, sample_rate: int, chunk_samples: int) -> Directions:
        """:meth:`localize` fed ``chunk_samples`` at a time through the tracker's state; the same result.

        Raises:
            ValueError: a non-positive ``chunk_samples`` (plus :meth:`localize`'s checks).
        """
        if isinstance(chunk_samples, bool) or not isinstance(chunk_samples, int) or chunk_samples < 1:
            raise ValueError(f"chunk_samples must be a positive integer, got {chunk_samples!r}")
        audio = self._check(audio, sample_rate)
        azimuth = self.estimator.localize_stream(audio, chunk_samples)
        return Directions(azimuth=np.asarray(azimuth, dtype=np.float64))


def _full_circle(step_deg: float) -> npt.NDArray[np.float64]:
    return np.radians(np.arange(-180.0 + step_deg, 180.0 + 1e-9, step_deg))


def classic_localizer(name: str, receiver: Any, **kwargs: Any) -> ClassicLocalizer:
    """Build the classic localizer ``name`` for ``receiver``.

    Args:
        name: one of :data:`CLASSIC_LOCALIZERS`: a family name (its validated default variant) or an explicit
            variant (:data:`CLASSIC_VARIANTS`).
        receiver: an HRTF set (binaural; e.g. ``spatialrep.simulate.load_default_hrtf(16000)``) or a
            free-field array receiver (``spatialrep.simulate.receivers.FreeFieldArray``).
        **kwargs: override the variant's parameters: ``n_fft`` (default 1024 binaural, 512 arrays; ``None``
            means the default) and any keyword of the builder (``GccPhatItdLocalizer.from_hrtf``,
            ``GccPhatItdTracker.from_hrtf``, ``SrpPhatLocalizer.from_hrtf`` / ``from_array``,
            ``MusicLocalizer.from_hrtf`` / ``from_array``), e.g. ``freq_range=(200.0, 6000.0)``.

    Returns:
        A :class:`ClassicLocalizer` (a :class:`StreamingClassicLocalizer` for :data:`STREAMING_CLASSIC`) whose
        ``name`` is ``name`` and ``variant`` the explicit variant.

    Raises:
        ValueError: an unknown name (lists the valid ones), a GCC-PHAT-ITD variant for a receiver without an
            ITD table (arrays), or a receiver of neither kind.
        TypeError: a keyword the variant's builder does not take.
    """
    variant = resolve_classic(name)
    array = getattr(receiver, "array", None)
    binaural = hasattr(receiver, "itd") and hasattr(receiver, "impulse_responses")
    if (array is None and not binaural) or not hasattr(receiver, "sample_rate"):
        raise ValueError(
            f"classic localizer {name!r} needs an HRTF set or a microphone array receiver, got "
            f"{type(receiver).__name__}"
        )
    rate = int(receiver.sample_rate)
    n_fft = kwargs.pop("n_fft", None)
    if array is not None:
        if variant.array is None:
            raise ValueError(
                f"{name} needs a binaural head with an ITD table; "
                f"{getattr(receiver, 'name', receiver)} is a microphone array (use srp-phat or music)"
            )
        size = int(n_fft or _ARRAY_N_FFT)
        params = {**variant.array, **kwargs}
        azimuth = _full_circle(_STEP_DEG)
        cls = SrpPhatLocalizer if variant.kind == "srp" else MusicLocalizer
        estimator: Any = cls.from_array(array, azimuth, 0.0, rate, size, **params)
        return ClassicLocalizer(name, estimator, rate, int(receiver.num_channels), size, variant=variant.name)
    size = int(n_fft or _BINAURAL_N_FFT)
    params = {**variant.binaural, **kwargs}
    azimuths = frontal_azimuths(_STEP_DEG)
    if variant.kind == "gcc":
        estimator = GccPhatItdLocalizer.from_hrtf(receiver, azimuths, n_fft=size, **params)
    elif variant.kind == "gcc-stream":
        tracker = GccPhatItdTracker.from_hrtf(receiver, azimuths, n_fft=size, **params)
        return StreamingClassicLocalizer(name, tracker, rate, 2, size, variant=variant.name)
    elif variant.kind == "srp":
        estimator = SrpPhatLocalizer.from_hrtf(receiver, azimuths, n_fft=size, **params)
    else:
        estimator = MusicLocalizer.from_hrtf(receiver, azimuths, n_fft=size, **params)
    return ClassicLocalizer(name, estimator, rate, 2, size, variant=variant.name)
