"""A feature front-end: named spatial features from one STFT, stacked into the tensor a model consumes.

A :class:`FeatureConfig` (frozen, validated, JSON round-trip, saved with every checkpoint and feature cache)
names the features; :class:`FeatureFrontEnd` computes **one** STFT and derives every feature from it, so all
features share the same frames, and stacks them on a channel axis:

    ``(..., channel, time)`` -> ``(..., feature_channels, bins, frames)``.

**Bin axes.** Each feature lives on one of three bin grids: ``"mel"`` (``n_mels`` bands), ``"linear"``
(``n_fft // 2 + 1`` FFT bins) or ``"lag"`` (GCC lags). Stacking needs one size, so the config requires every
selected feature to have the same number of bins and says which differ otherwise; that is the SALSA / DCASE
layout (64 mel bands next to 64 GCC lags). Mel-grid versions of the pairwise features (``ipd_cos_sin_mel``,
``ild_mel``) put IPD and ILD on the log-mel grid. :meth:`FeatureFrontEnd.compute` returns the features
unstacked, as a dict, for plotting and inspection.

**Channel order.** Features in the order of ``config.features``; within a feature, input channels (``C``) or
pairs (``P``, ``config.pairs``, default all ``i < j``) in order, and for two-component features the
components innermost (``pair0.cos, pair0.sin, pair1.cos, ...``). :attr:`FeatureFrontEnd.channel_names` names
every output channel.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from spatialrep.features import functional as F
from spatialrep.features import fused, unit_kernel

__all__ = [
    "FEATURES",
    "FEATURE_VERSION",
    "FeatureConfig",
    "FeatureFrontEnd",
    "FeatureSpec",
    "feature_preset",
    "list_feature_presets",
]

FEATURE_VERSION = 1
"""Bumped whenever a feature's definition changes; part of :meth:`FeatureConfig.config_hash`."""


@dataclass(frozen=True)
class FeatureSpec:
    """How a named feature is laid out.

    Attributes:
        grid: bin axis, ``"mel"``, ``"linear"`` or ``"lag"``.
        per: ``"channel"`` (one map per input channel) or ``"pair"`` (one per channel pair).
        components: names of the maps per channel or pair (``("cos", "sin")`` for phasors, else ``("",)``).
        unit: unit of the values.
        description: one line.
    """

    grid: str
    per: str
    components: tuple[str, ...]
    unit: str
    description: str


FEATURES: dict[str, FeatureSpec] = {
    "logmel": FeatureSpec("mel", "channel", ("",), "dB", "log-mel power 10 log10(M |X|^2 + floor)"),
    "logspec": FeatureSpec("linear", "channel", ("",), "dB", "log power spectrum 10 log10(|X|^2 + floor)"),
    "ipd": FeatureSpec("linear", "pair", ("",), "rad", "IPD angle(X_i conj X_j)"),
    "ipd_cos_sin": FeatureSpec("linear", "pair", ("cos", "sin"), "", "cos/sin IPD (unit cross-spectrum)"),
    "ild": FeatureSpec("linear", "pair", ("",), "dB", "ILD 10 log10((|X_i|^2 + floor) / (|X_j|^2 + floor))"),
    "ipd_cos_sin_mel": FeatureSpec(
        "mel", "pair", ("cos", "sin"), "", "cos/sin IPD averaged over mel bands (rows normalised to sum 1)"
    ),
    "ild_mel": FeatureSpec("mel", "pair", ("",), "dB", "log-mel difference logmel_i - logmel_j"),
    "gcc_phat": FeatureSpec("lag", "pair", ("",), "", "GCC-PHAT per frame"),
    "gcc": FeatureSpec("lag", "pair", ("",), "", "GCC normalised to correlation coefficients"),
}
"""The feature names a :class:`FeatureConfig` accepts (definitions and signs in ``docs/features.md``)."""

_PRESETS: dict[str, dict[str, Any]] = {
    # Binaural, 16 kHz: 25 ms Hann windows every 10 ms, 64 mels; IPD/ILD on the mel grid; 64 GCC-PHAT lags at
    # half-sample resolution (-1 ms .. +0.97 ms) covering the ~0.8 ms interaural range.
    "binaural_default": {
        "sample_rate": 16000,
        "num_channels": 2,
        "n_fft": 512,
        "hop_length": 160,
        "win_length": 400,
        "features": ("logmel", "ipd_cos_sin_mel", "ild_mel", "gcc_phat"),
        "n_mels": 64,
        "num_lags": 64,
        "gcc_upsample": 2,
    },
    # MC-SimCLR (arXiv 2309.15938) on the 4-mic circular array (10 cm), 16 kHz: 64 log-mels per mic and
    # GCC-PHAT over the 6 pairs at 64 lags of 1/4 sample (-0.5 .. +0.48 ms; the array's largest delay is
    # 0.29 ms), 25 ms windows every 10 ms.
    "array4_mel_gcc": {
        "sample_rate": 16000,
        "num_channels": 4,
        "n_fft": 512,
        "hop_length": 160,
        "win_length": 400,
        "features": ("logmel", "gcc_phat"),
        "n_mels": 64,
        "num_lags": 64,
        "gcc_upsample": 4,
    },
    # The DCASE SELD baseline (MIC format): 24 kHz, 40 ms windows every 20 ms, n_fft 1024, 64 mels and
    # GCC-PHAT over the 6 pairs of 4 microphones at 64 lags (-32 .. 31 samples).
    "dcase_4ch": {
        "sample_rate": 24000,
        "num_channels": 4,
        "n_fft": 1024,
        "hop_length": 480,
        "win_length": 960,
        "features": ("logmel", "gcc_phat"),
        "n_mels": 64,
        "num_lags": 64,
        "gcc_upsample": 1,
    },
    # SpatialAST (BAT) at 16 kHz: Hann 512 / hop 160, 128 mels from 50 Hz; log-mel L, R and cos/sin IPD on the
    # mel grid -> (4, 128, frames).
    "spatialast": {
        "sample_rate": 16000,
        "num_channels": 2,
        "n_fft": 512,
        "hop_length": 160,
        "win_length": 512,
        "features": ("logmel", "ipd_cos_sin_mel"),
        "n_mels": 128,
        "f_min": 50.0,
        "num_lags": None,
    },
    # DSpAST at 16 kHz: SpatialAST's maps + ILD on the mel grid (dB) + GCC-PHAT at n_mels lags of 1/2 sample
    # (128 lags: -2 .. +1.97 ms) -> (6, 128, frames).
    "dspast": {
        "sample_rate": 16000,
        "num_channels": 2,
        "n_fft": 512,
        "hop_length": 160,
        "win_length": 512,
        "features": ("logmel", "ipd_cos_sin_mel", "ild_mel", "gcc_phat"),
        "n_mels": 128,
        "f_min": 50.0,
        "num_lags": 128,
        "gcc_upsample": 2,
    },
    # The papers' own rate: 32 kHz, Hann 1024 / hop 320, 128 mels 50 Hz - 14 kHz (GCC-PHAT: 128 whole-sample
    # lags, -2 .. +1.97 ms).
    "spatialast_32k": {
        "sample_rate": 32000,
        "num_channels": 2,
        "n_fft": 1024,
        "hop_length": 320,
        "win_length": 1024,
        "features": ("logmel", "ipd_cos_sin_mel"),
        "n_mels": 128,
        "f_min": 50.0,
        "f_max": 14000.0,
        "num_lags": None,
    },
    "dspast_32k": {
        "sample_rate": 32000,
        "num_channels": 2,
        "n_fft": 1024,
        "hop_length": 320,
        "win_length": 1024,
        "features": ("logmel", "ipd_cos_sin_mel", "ild_mel", "gcc_phat"),
        "n_mels": 128,
        "f_min": 50.0,
        "f_max": 14000.0,
        "num_lags": 128,
        "gcc_upsample": 1,
    },
}


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


@dataclass(frozen=True)
class FeatureConfig:
    """What :class:`FeatureFrontEnd` computes. Frozen and validated on construction.

    The defaults are the ``binaural_default`` preset (:func:`feature_preset`).

    Attributes:
        sample_rate: Hz, of the input (not resampled; the CLI checks it).
        num_channels: input channels (2 for binaural: 0 = left, 1 = right).
        n_fft: FFT size.
        hop_length: frame shift, samples.
        win_length: window length (``<= n_fft``; ``None`` = ``n_fft``).
        window: one of ``functional.WINDOWS``.
        center: frames centred on ``t * hop_length`` (zero padding); ``frames = 1 + time // hop_length``.
        features: names from :data:`FEATURES`, stacked in this order.
        n_mels, f_min, f_max: mel filterbank (Slaney), Hz; ``f_max=None`` = Nyquist.
        max_lag, num_lags: GCC lag range (exactly one when a GCC feature is used); ``functional.gcc_lags``.
        gcc_upsample: GCC lag step ``1 / gcc_upsample`` samples.
        pairs: channel pairs ``(i, j)`` (``i`` relative to ``j``); ``None`` = all ``i < j``.
        floor: power floor inside every logarithm.
        eps: magnitude floor of PHAT weighting and unit phasors.

    Raises:
        ValueError: any invalid value; unknown feature names (the message lists the valid ones); features
            with different bin counts (the message lists each feature's bins).
    """

    sample_rate: int = 16000
    num_channels: int = 2
    n_fft: int = 512
    hop_length: int = 160
    win_length: int | None = 400
    window: str = "hann"
    center: bool = True
    features: tuple[str, ...] = ("logmel", "ipd_cos_sin_mel", "ild_mel", "gcc_phat")
    n_mels: int = 64
    f_min: float = 0.0
    f_max: float | None = None
    max_lag: int | None = None
    num_lags: int | None = 64
    gcc_upsample: int = 2
    pairs: tuple[tuple[int, int], ...] | None = None
    floor: float = F.DEFAULT_FLOOR
    eps: float = F.DEFAULT_EPS

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("sample_rate", "num_channels", "n_fft", "hop_length", "n_mels", "gcc_upsample"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"FeatureConfig.{name} must be a positive integer, got {value!r}")
            set_(self, name, int(value))
        for name in ("win_length", "max_lag", "num_lags"):
            value = getattr(self, name)
            if value is not None:
                if not _is_int(value) or value < 0:
                    raise ValueError(
                        f"FeatureConfig.{name} must be a non-negative integer or None, got {value!r}"
                    )
                set_(self, name, int(value))
        for name in ("f_min", "floor", "eps"):
            value = getattr(self, name)
            if not _is_number(value):
                raise ValueError(f"FeatureConfig.{name} must be a number, got {value!r}")
            set_(self, name, float(value))
        if self.f_max is not None:
            if not _is_number(self.f_max):
                raise ValueError(f"FeatureConfig.f_max must be a number or None, got {self.f_max!r}")
            set_(self, "f_max", float(self.f_max))
        if not isinstance(self.center, bool):
            raise ValueError(f"FeatureConfig.center must be true or false, got {self.center!r}")
        if self.window not in F.WINDOWS:
            raise ValueError(
                f"FeatureConfig.window: unknown window {self.window!r}; valid: {', '.join(F.WINDOWS)}"
            )
        F.check_stft_params(self.n_fft, self.hop_length, self.win_length, "constant")
        if self.floor <= 0 or self.eps <= 0:
            raise ValueError(f"FeatureConfig.floor and eps must be > 0, got {self.floor!r}, {self.eps!r}")

        features = (self.features,) if isinstance(self.features, str) else self.features
        features = tuple(features)
        if not features:
            raise ValueError(f"FeatureConfig.features must name at least one of: {', '.join(FEATURES)}")
        for name in features:
            if name not in FEATURES:
                raise ValueError(
                    f"FeatureConfig.features: unknown feature {name!r}; valid: {', '.join(FEATURES)}"
                )
        if len(set(features)) != len(features):
            raise ValueError(f"FeatureConfig.features lists a feature twice: {features!r}")
        set_(self, "features", features)

        uses_pairs = any(FEATURES[n].per == "pair" for n in features)
        if self.pairs is not None:
            pairs = tuple((int(p[0]), int(p[1])) if len(p) == 2 else tuple(p) for p in self.pairs)
            set_(self, "pairs", pairs)
        if uses_pairs:
            if self.num_channels < 2:
                pairwise = [n for n in features if FEATURES[n].per == "pair"]
                raise ValueError(
                    f"FeatureConfig: pairwise features {pairwise} need num_channels >= 2, "
                    f"got {self.num_channels}"
                )
            F.resolve_pairs(self.num_channels, self.pairs, None)
        elif self.pairs is not None:
            raise ValueError("FeatureConfig.pairs is set but no pairwise feature is selected")

        if any(FEATURES[n].grid == "mel" for n in features):
            nyquist = self.sample_rate / 2.0
            f_max = nyquist if self.f_max is None else self.f_max
            if not 0.0 <= self.f_min < f_max <= nyquist:
                raise ValueError(
                    f"FeatureConfig: need 0 <= f_min < f_max <= sample_rate / 2 = {nyquist:g}; "
                    f"got f_min={self.f_min!r}, f_max={self.f_max!r}"
                )
        if any(FEATURES[n].grid == "lag" for n in features):
            try:
                F.gcc_lags(self.n_fft, self.max_lag, num_lags=self.num_lags, upsample=self.gcc_upsample)
            except ValueError as exc:
                raise ValueError(f"FeatureConfig (GCC lags): {exc}") from None

        bins = {name: self.feature_bins(name) for name in features}
        if len(set(bins.values())) > 1:
            listing = ", ".join(f"{n}: {b} {FEATURES[n].grid} bins" for n, b in bins.items())
            raise ValueError(
                f"FeatureConfig: features must share one bin count to be stacked, got {listing}. Use the "
                "mel-grid versions (ipd_cos_sin_mel, ild_mel) next to logmel, set num_lags (or "
                "2 * max_lag * gcc_upsample + 1) equal to n_mels, or compute them separately"
            )

    # ---------------------------------------------------------------------------------------------- sizes

    @property
    def resolved_pairs(self) -> list[tuple[int, int]]:
        """The channel pairs of pairwise features (empty when there are none)."""
        if self.num_channels < 2:
            return []
        return F.resolve_pairs(self.num_channels, self.pairs, None)

    def feature_bins(self, name: str) -> int:
        """Bin count of feature ``name``."""
        grid = _spec(name).grid
        if grid == "mel":
            return self.n_mels
        if grid == "linear":
            return self.n_fft // 2 + 1
        return int(
            F.gcc_lags(self.n_fft, self.max_lag, num_lags=self.num_lags, upsample=self.gcc_upsample).numel()
        )

    def feature_channels(self, name: str) -> int:
        """Output channels of feature ``name``."""
        spec = _spec(name)
        units = self.num_channels if spec.per == "channel" else len(self.resolved_pairs)
        return units * len(spec.components)

    @property
    def num_bins(self) -> int:
        """Bins of the stacked tensor (shared by every feature)."""
        return self.feature_bins(self.features[0])

    @property
    def num_feature_channels(self) -> int:
        """Channels of the stacked tensor."""
        return sum(self.feature_channels(n) for n in self.features)

    def num_frames(self, num_samples: int) -> int:
        """Frames for an input of ``num_samples`` samples."""
        pad = 2 * (self.n_fft // 2) if self.center else 0
        return 1 + (num_samples + pad - self.n_fft) // self.hop_length

    # ---------------------------------------------------------------------------------------- serialising

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field (tuples become lists)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "features":
                value = list(value)
            elif field.name == "pairs" and value is not None:
                value = [list(p) for p in value]
            out[field.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureConfig:
        """Inverse of :meth:`to_dict`; missing keys take defaults.

        Raises:
            ValueError: unknown keys (the message lists the valid ones) or invalid values.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"FeatureConfig.from_dict needs a mapping, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"FeatureConfig: unknown key(s) {', '.join(unknown)}; valid: {', '.join(names)}")
        kwargs = dict(data)
        if isinstance(kwargs.get("features"), list | tuple):
            kwargs["features"] = tuple(kwargs["features"])
        if isinstance(kwargs.get("pairs"), list | tuple):
            kwargs["pairs"] = tuple(tuple(p) for p in kwargs["pairs"])
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeatureConfig:
        return cls.from_dict(json.loads(text))

    def config_hash(self) -> str:
        """16 hex digits identifying the features this config produces (includes :data:`FEATURE_VERSION`)."""
        canonical = json.dumps({"feature_version": FEATURE_VERSION, "config": self.to_dict()}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _spec(name: str) -> FeatureSpec:
    try:
        return FEATURES[name]
    except KeyError:
        raise ValueError(f"unknown feature {name!r}; valid: {', '.join(FEATURES)}") from None


def list_feature_presets() -> list[str]:
    """Names of the :func:`feature_preset` presets."""
    return sorted(_PRESETS)


def feature_preset(name: str, **overrides: Any) -> FeatureConfig:
    """A named :class:`FeatureConfig`, optionally with fields overridden.

    Presets:
        ``binaural_default``: 16 kHz binaural, log-mel L/R + mel-band cos/sin IPD + mel ILD + GCC-PHAT
        (64 lags at 1/2 sample) -> ``(6, 64, frames)``; 25 ms windows, 10 ms hop.
        ``array4_mel_gcc``: MC-SimCLR's input, 16 kHz, 4 channels, 64 log-mels + GCC-PHAT over the 6 pairs x
        64 lags at 1/4 sample -> ``(10, 64, frames)``; 25 ms windows, 10 ms hop.
        ``dcase_4ch``: the DCASE SELD baseline, 24 kHz, 4 channels, 64 log-mels + GCC-PHAT over the 6 pairs x
        64 lags -> ``(10, 64, frames)``; 40 ms windows, 20 ms hop, n_fft 1024.
        ``spatialast``: SpatialAST's input at 16 kHz, log-mel L/R + mel-band cos/sin IPD, 128 mels from 50 Hz
        -> ``(4, 128, frames)``; Hann 512, hop 160. ``dspast``: the same + mel ILD (dB) + GCC-PHAT at 128 lags
        of 1/2 sample (±2 ms) -> ``(6, 128, frames)``. ``spatialast_32k`` / ``dspast_32k``: the papers'
        32 kHz, Hann 1024, hop 320, 128 mels 50 Hz - 14 kHz (GCC-PHAT: 128 whole-sample lags, ±2 ms).

    Raises:
        ValueError: unknown preset (lists the valid ones), unknown or invalid override.
    """
    try:
        base = _PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown feature preset {name!r}; valid: {', '.join(list_feature_presets())}"
        ) from None
    return FeatureConfig.from_dict({**base, **overrides})


class FeatureFrontEnd(nn.Module):
    """Computes the features of a :class:`FeatureConfig` from one STFT and stacks them.

    Every feature equals its ``functional`` definition (``log_mel``, ``ipd_cos_sin``,
    ``mel_projected_ipd``, ``ild``, ``gcc_phat``, ...) on that STFT up to float rounding. Windows, filterbanks
    and matrices are non-persistent float64 buffers (cast to the input dtype per call), so ``state_dict()`` is
    empty: save ``config.to_dict()`` instead.

    Speed (inference; with autograd the ``functional`` functions are composed instead): the clip is cut into
    blocks of about ``block_frames`` frames (several short clips per block, or a long clip in pieces),
    processed frames-first in scratch memory kept between calls (:meth:`release_workspace` frees it); the mel
    products are split into bands of bins (the filterbank is sparse) and GCC-PHAT is a matrix product of the
    unit cross spectrum with a partial inverse DFT at the wanted lags. The result does not depend on
    ``block_frames``.

    Args:
        config: the feature configuration.
        block_frames: frames per processing block; ``None``: sized to about :attr:`SCRATCH_BYTES` of
            scratch memory (fused planar path) or 512.

    Shape:
        ``forward``: ``(..., num_channels, time)`` -> ``(..., num_feature_channels, num_bins, frames)``.
    """

    window: Tensor
    mel_fb: Tensor
    cos_sin_matrix: Tensor
    gcc_matrix: Tensor
    unit_mel_fb: Tensor
    lag_even: Tensor
    lag_odd: Tensor
    lag_sign: Tensor
    lag_row: Tensor

    SCRATCH_BYTES = 2 << 20
    """Scratch memory per block that ``block_frames=None`` sizes the blocks of the planar path for."""

    MEL_GROUPS = 4
    """Products the banded mel projection is split into (bands grouped to minimise multiply-adds)."""

    def __init__(self, config: FeatureConfig, *, block_frames: int | None = None) -> None:
        super().__init__()
        if not isinstance(config, FeatureConfig):
            raise TypeError(f"config must be a FeatureConfig, got {type(config).__name__}")
        self.config = config
        c = config
        self.win_length = c.n_fft if c.win_length is None else c.win_length
        self.register_buffer(
            "window", F.make_window(c.window, self.win_length, dtype=torch.float64), persistent=False
        )
        uses = set(c.features)
        n_freq = c.n_fft // 2 + 1
        if uses & {"logmel", "ild_mel", "ipd_cos_sin_mel"}:
            fb = F.mel_filterbank(c.sample_rate, c.n_fft, c.n_mels, c.f_min, c.f_max, dtype=torch.float64)
        else:
            fb = torch.zeros(0, n_freq, dtype=torch.float64)
        self.register_buffer("mel_fb", fb, persistent=False)
        # Groups of adjacent mel bands with the FFT bins they touch: a few narrow products instead of one
        # product with a mostly-zero filterbank.
        self._mel_groups = _band_groups(fb, self.MEL_GROUPS)
        # Applied to the interleaved (re, im) unit cross spectrum (2 F columns); rows (band, cos|sin)
        # interleaved, so a group of bands is one slice of rows.
        sums = fb.sum(dim=1, keepdim=True)
        unit_fb = fb / torch.where(sums > 0, sums, torch.ones_like(sums))
        cos_sin = torch.zeros(fb.shape[0], 2, n_freq, 2, dtype=torch.float64)
        cos_sin[:, 0, :, 0] = unit_fb  # real part -> cos bands
        cos_sin[:, 1, :, 1] = unit_fb  # imaginary part -> sin bands
        self.register_buffer("cos_sin_matrix", cos_sin.reshape(2 * fb.shape[0], 2 * n_freq), persistent=False)
        if "gcc_phat" in uses:
            gcc_matrix = _partial_irfft_matrix(c.n_fft, c.max_lag, c.num_lags, c.gcc_upsample).T.contiguous()
        else:
            gcc_matrix = torch.zeros(0, 2 * n_freq, dtype=torch.float64)
        self.register_buffer("gcc_matrix", gcc_matrix, persistent=False)
        # Fused planar path (features/fused.py) for the mel IPD and GCC-PHAT: half the matrix products.
        self._planar = bool(uses & {"ipd_cos_sin_mel", "gcc_phat"}) and uses <= {
            "logmel",
            "ild_mel",
            "ipd_cos_sin_mel",
            "gcc_phat",
        }
        self.register_buffer("unit_mel_fb", unit_fb, persistent=False)
        if "gcc_phat" in uses:
            even, odd, row, sign = fused.symmetric_lag_matrices(
                c.n_fft, c.max_lag, c.num_lags, c.gcc_upsample
            )
        else:
            even = odd = sign = torch.zeros(0, dtype=torch.float64)
            row = torch.zeros(0, dtype=torch.int64)
        self.register_buffer("lag_even", even, persistent=False)
        self.register_buffer("lag_odd", odd, persistent=False)
        self.register_buffer("lag_sign", sign[:, None], persistent=False)
        self.register_buffer("lag_row", row, persistent=False)
        self.pairs = c.resolved_pairs
        self._pair_groups = fused.pair_groups(self.pairs)
        self._uses = frozenset(c.features)
        self._workspaces: dict[int, _Workspace] = {}
        self._constants_cache: dict[tuple[torch.dtype, torch.device], tuple[tuple[Tensor, ...], Any]] = {}
        self._layout = [(name, self._units(name), len(FEATURES[name].components)) for name in c.features]
        self._pair_index = unit_kernel.pair_index(self.pairs)
        self._bin_fold = (
            fused.folded_lag_matrices(c.n_fft, c.max_lag, c.num_lags, c.gcc_upsample)
            if "gcc_phat" in uses
            else None
        )
        self.cpu_kernel = True
        """Unit spectra by the one-pass numba kernel on the CPU (when installed); ``False``: torch ops."""
        self._stack_planes = c.num_channels + 2 * len(self.pairs)  # the planar path's stack
        if block_frames is None:
            # Planar path: per frame, the float32 stack of powers and unit cross planes ((C + 2 P) F). Blocks
            # of ~SCRATCH_BYTES keep a block's frames, spectrum and stack in cache from the FFT through the
            # matrix products, yet each product large (measured with torch 2.13 on a 1 MB-L2 EPYC: 1-4 MB
            # alike, 6 and 24 MB slower); the interleaved path keeps 512 frames.
            per_frame = 4 * n_freq * self._stack_planes
            block_frames = max(64, self.SCRATCH_BYTES // per_frame) if self._planar else 512
        self.block_frames = F.check_positive_int(block_frames, "block_frames")

    def _units(self, name: str) -> int:
        return self.config.num_channels if FEATURES[name].per == "channel" else len(self.pairs)

    # ------------------------------------------------------------------------------------------ metadata

    @property
    def channel_names(self) -> list[str]:
        """One name per output channel: ``logmel[0]``, ``ipd_cos_sin_mel[0-1].cos``, ``gcc_phat[0-1]``..."""
        names = []
        for feature in self.config.features:
            spec = FEATURES[feature]
            units = (
                [str(ch) for ch in range(self.config.num_channels)]
                if spec.per == "channel"
                else [f"{i}-{j}" for i, j in self.pairs]
            )
            for unit in units:
                for comp in spec.components:
                    names.append(f"{feature}[{unit}]" + (f".{comp}" if comp else ""))
        return names

    def bin_axis(self, name: str) -> tuple[np.ndarray, str]:
        """Physical value of each bin of feature ``name`` and its label.

        Returns:
            ``(values, label)``: mel-band centre frequencies in Hz (``"mel band centre (Hz)"``), FFT bin
            frequencies in Hz, or lags in milliseconds (``"lag (ms)"``; positive = channel ``i`` delayed).
        """
        c = self.config
        grid = _spec(name).grid
        if grid == "mel":
            mel_lo = F.hz_to_mel(torch.tensor(c.f_min, dtype=torch.float64))
            f_max = c.sample_rate / 2.0 if c.f_max is None else c.f_max
            mel_hi = F.hz_to_mel(torch.tensor(f_max, dtype=torch.float64))
            edges = F.mel_to_hz(
                torch.linspace(float(mel_lo), float(mel_hi), c.n_mels + 2, dtype=torch.float64)
            )
            return edges[1:-1].numpy(), "mel band centre (Hz)"
        if grid == "linear":
            return np.arange(c.n_fft // 2 + 1) * (c.sample_rate / c.n_fft), "frequency (Hz)"
        lags = F.gcc_lags(c.n_fft, c.max_lag, num_lags=c.num_lags, upsample=c.gcc_upsample).numpy()
        return lags * 1000.0 / c.sample_rate, "lag (ms)"

    def frame_times(self, num_frames: int) -> np.ndarray:
        """Time of each frame's centre, seconds."""
        offset = 0.0 if self.config.center else self.config.n_fft / 2.0
        return (np.arange(num_frames) * self.config.hop_length + offset) / self.config.sample_rate

    # --------------------------------------------------------------------------------------------- compute

    def _check_input(self, x: Tensor) -> None:
        F.check_signal(x)
        if x.shape[-2] != self.config.num_channels:
            raise ValueError(
                f"FeatureFrontEnd expects {self.config.num_channels} channels on axis -2, "
                f"got shape {tuple(x.shape)}"
            )
        if not self.config.center and x.shape[-1] < self.config.n_fft:
            raise ValueError(
                f"center=False needs at least n_fft={self.config.n_fft} samples, got {x.shape[-1]}"
            )
        # One reduction per call (a device sync on CUDA): NaN in would otherwise give NaN features, silently.
        # min and max in one pass are both finite exactly when every sample is (NaN propagates, ±inf shows);
        # isfinite().all() makes three full-size temporaries and cost ~15 % of a call.
        if x.numel() and not bool(torch.isfinite(torch.stack(torch.aminmax(x))).all()):
            bad = (~torch.isfinite(x)).reshape(-1, *x.shape[-2:]).flatten(1).any(dim=1).nonzero()
            raise ValueError(
                f"FeatureFrontEnd input holds NaN or infinite samples (batch item(s) "
                f"{', '.join(str(int(i)) for i in bad[:5, 0])}{'...' if len(bad) > 5 else ''} of shape "
                f"{tuple(x.shape)})"
            )

    def stft(self, x: Tensor) -> Tensor:
        """The STFT every feature derives from, ``(..., C, n_fft // 2 + 1, frames)`` (``functional.stft``)."""
        self._check_input(x)
        c = self.config
        return F.stft(x, c.n_fft, c.hop_length, self.win_length, self.window, c.center, "constant")

    def _blocks(self, items: int, frames: int) -> list[tuple[int, int, int, int]]:
        """``(item0, item1, frame0, frame1)`` blocks of about ``block_frames`` frames."""
        if frames > self.block_frames:
            step = -(-frames // -(-frames // self.block_frames))  # equal blocks of at most block_frames
            return [
                (n, n + 1, t, min(t + step, frames)) for n in range(items) for t in range(0, frames, step)
            ]
        group = max(1, self.block_frames // frames)
        return [(n, min(n + group, items), 0, frames) for n in range(0, items, group)]

    def _outputs(
        self, items: int, frames: int, dtype: torch.dtype, device: torch.device, stacked: bool
    ) -> tuple[Tensor | None, dict[str, Tensor]]:
        """The stacked output (or None) and one ``(items, channels, bins, frames)`` view per feature."""
        c = self.config
        if stacked:
            out = torch.empty(items, c.num_feature_channels, c.num_bins, frames, dtype=dtype, device=device)
            views, first = {}, 0
            for name, units, comps in self._layout:
                views[name] = out[:, first : first + units * comps]
                first += units * comps
            return out, views
        views = {
            name: torch.empty(items, units * comps, c.feature_bins(name), frames, dtype=dtype, device=device)
            for name, units, comps in self._layout
        }
        return None, views

    def _workspace(self) -> _Workspace:
        # One per thread, so concurrent calls on one module do not share scratch memory.
        key = threading.get_ident()
        if key not in self._workspaces and len(self._workspaces) >= 8:
            self._workspaces.clear()  # threads come and go (ids are reused); keep a bounded set
        if key not in self._workspaces:
            self._workspaces[key] = _Workspace()
        return self._workspaces[key]

    def release_workspace(self) -> None:
        """Free the scratch memory kept between calls (it is rebuilt on the next call)."""
        self._workspaces.clear()
        self._constants_cache.clear()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_workspaces"] = {}
        state["_constants_cache"] = {}
        return state

    def _run(self, x: Tensor, stacked: bool) -> tuple[Tensor | None, dict[str, Tensor]]:
        self._check_input(x)
        c = self.config
        lead = tuple(x.shape[:-2])
        if torch.is_grad_enabled() and x.requires_grad:
            features = self._differentiable(self.stft(x))
            return (torch.cat(list(features.values()), dim=-3) if stacked else None), features
        flat = x.reshape(-1, c.num_channels, x.shape[-1])
        length = flat.shape[-1]
        pad = c.n_fft // 2 if c.center else 0
        frames = 1 + (length + 2 * pad - c.n_fft) // c.hop_length
        out, views = self._outputs(flat.shape[0], frames, x.dtype, x.device, stacked)
        ws = self._workspace()
        consts = self._constants(x.dtype, x.device)
        window = consts["window"]
        for n0, n1, t0, t1 in self._blocks(flat.shape[0], frames):
            dest = {k: v[n0:n1, :, :, t0:t1] for k, v in views.items()}
            framed = ws.get("frames", (n1 - n0, c.num_channels, t1 - t0, c.n_fft), x.dtype, x.device)
            self._frame_block(flat[n0:n1], t0, t1, window, ws, framed)
            # (rfft's out= argument computes into a temporary and copies: slower than a fresh result.)
            self._fast_block(torch.fft.rfft(framed, dim=-1), ws, consts, dest)
        if out is not None:
            out = out.reshape(*lead, *out.shape[1:])
        return out, {name: v.reshape(*lead, *v.shape[1:]) for name, v in views.items()}

    def _frame_block(
        self, flat: Tensor, t0: int, t1: int, window: Tensor, ws: _Workspace, out: Tensor
    ) -> None:
        """Windowed frames ``t0 .. t1 - 1`` of ``flat`` ``(n, C, time)`` into ``out`` ``(n, C, t1 - t0, N)``.

        Frames that reach into the centre padding are cut from a small zero-padded copy of the clip's edge
        (in scratch memory); the others straight from the input, so no padded copy of the clip is made.
        """
        c = self.config
        hop, length = c.hop_length, flat.shape[-1]
        pad = c.n_fft // 2 if c.center else 0
        # Frames inside the signal: t * hop - pad >= 0 and t * hop - pad + n_fft <= length.
        first = min(max(t0, -(-pad // hop)), t1)
        last = max(min(t1, (length + pad - c.n_fft) // hop + 1), first)
        if first < last:
            start = first * hop - pad
            torch.mul(
                flat[..., start : start + (last - first - 1) * hop + c.n_fft].unfold(-1, c.n_fft, hop),
                window,
                out=out[:, :, first - t0 : last - t0],
            )
        for name, a, b in (("left", t0, first), ("right", last, t1)):
            if a >= b:
                continue
            start, stop = a * hop - pad, (b - 1) * hop + c.n_fft - pad
            left, right = max(-start, 0), max(stop - length, 0)
            segment = ws.get(f"segment_{name}", (*flat.shape[:-1], stop - start), flat.dtype, flat.device)
            segment[..., :left].zero_()
            segment[..., segment.shape[-1] - right :].zero_()
            segment[..., left : segment.shape[-1] - right].copy_(flat[..., max(start, 0) : min(stop, length)])
            torch.mul(segment.unfold(-1, c.n_fft, hop), window, out=out[:, :, a - t0 : b - t0])

    def _constants(self, dtype: torch.dtype, device: torch.device) -> dict[str, Tensor]:
        """Window zero-padded to ``n_fft`` (centred, as ``torch.stft``), the matrices and eps, cast.

        Cached per dtype and device while the buffers stay the same tensors (``.to()`` replaces them).
        """
        buffers = tuple(self.buffers())
        held = self._constants_cache.get((dtype, device))
        if (
            held is not None
            and len(held[0]) == len(buffers)
            and all(a is b for a, b in zip(held[0], buffers))
        ):
            return held[1]
        consts = self._cast_constants(dtype, device)
        self._constants_cache[(dtype, device)] = (buffers, consts)
        return consts

    def _cast_constants(self, dtype: torch.dtype, device: torch.device) -> dict[str, Tensor]:
        c = self.config
        left = (c.n_fft - self.win_length) // 2
        window = torch.nn.functional.pad(self.window, (left, c.n_fft - self.win_length - left))
        consts = {
            "window": window,
            "mel_fb": self.mel_fb,
            "cos_sin": self.cos_sin_matrix,
            "gcc": self.gcc_matrix,
            "unit_mel_fb": self.unit_mel_fb,
            "lag_even_odd": torch.stack((self.lag_even, self.lag_odd)),
            "lag_sign": self.lag_sign,
        }
        out = {k: v.to(device=device, dtype=dtype) for k, v in consts.items()}
        out["eps"] = torch.tensor(c.eps, dtype=dtype, device=device)
        row = self.lag_row.to(device=device)  # products (2 U, columns): cosine rows, then sine rows
        out["lag_cos_row"], out["lag_sin_row"] = row, row + self.lag_even.shape[0]
        sums = self.mel_fb.sum(dim=1, keepdim=True)
        band_scale = 1.0 / torch.where(sums > 0, sums, torch.ones_like(sums))
        out["band_scale"] = band_scale.to(device=device, dtype=dtype)  # (M, 1): mel_fb -> unit_mel_fb rows
        if self._bin_fold is not None:
            out["fold_weights"] = self._bin_fold.weights.to(device=device, dtype=dtype)
            out["fold_cos_row"] = self._bin_fold.cos_row.to(device=device)
            out["fold_sin_row"] = self._bin_fold.sin_row.to(device=device)
        return out

    def _planar_block(
        self, spec: Tensor, ws: _Workspace, consts: dict[str, Tensor], dest: dict[str, Tensor]
    ) -> None:
        """The planar features of a contiguous frames-first STFT block ``(n, C, T, F)`` into ``dest`` views.

        On the CPU (numba installed, :attr:`cpu_kernel`), one pass of :mod:`unit_kernel` writes the powers
        and the unit cross planes, folded over ``k <-> N/2 - k`` for GCC-PHAT at whole-sample lags; elsewhere
        torch passes over the real and imaginary planes (:func:`fused.unit_spectra`). Then the products.
        """
        c = self.config
        n, channels, frames, n_freq = spec.shape
        real = spec.real.dtype
        kernel = self.cpu_kernel and spec.device.type == "cpu" and unit_kernel.available()
        fold = None
        if kernel and self._bin_fold is not None:
            cross = "ipd_cos_sin_mel" in self._uses
            planes = channels + 2 * len(self.pairs) if cross else channels
            stack = ws.get("stack", (planes, n, frames, n_freq), real, spec.device)
            width = fused.folded_bins(c.n_fft)
            fold = ws.get("fold", (4, len(self.pairs), n, frames, width), real, spec.device)
            unit_kernel.unit_spectra(spec, self._pair_index, c.eps, stack, fold)
        else:
            stack = ws.get("stack", (self._stack_planes, n, frames, n_freq), real, spec.device)
            if kernel:
                unit_kernel.unit_spectra(spec, self._pair_index, c.eps, stack)
            else:
                split = ws.get("planes", (2, *spec.shape), real, spec.device)
                fused.deinterleave(spec, split)
                fused.unit_spectra(split, self._pair_groups, len(self.pairs), consts["eps"], ws, stack)
        fused.project(
            stack, channels, self._pair_groups, self._uses, consts, self._mel_groups, c.floor, ws, dest, fold
        )

    def _fast_block(
        self, spec: Tensor, ws: _Workspace, consts: dict[str, Tensor], dest: dict[str, Tensor]
    ) -> None:
        """Write the features of a frames-first STFT block ``(n, C, T, F)`` (contiguous) into ``dest`` views
        ``(n, channels, bins, T)``. Inference only: every intermediate lives in reused scratch memory."""
        c = self.config
        uses = self._uses
        if self._planar:
            self._planar_block(spec, ws, consts, dest)
            return
        mel_fb, eps = consts["mel_fb"], consts["eps"]
        n, channels, frames, n_freq = spec.shape
        real, device = spec.real.dtype, spec.device
        pairs = self.pairs
        power = ws.get("power", (n, channels, frames, n_freq), real, device)
        parts = torch.view_as_real(spec)
        squares = ws.get("squares", parts.shape, real, device)
        torch.mul(parts, parts, out=squares)
        torch.add(squares[..., 0], squares[..., 1], out=power)
        if uses & {"logmel", "ild_mel"}:
            # Bins-first product (the transposed operand costs the GEMM nothing): no transposed copy later.
            logmel = ws.get("logmel", (n, channels, c.n_mels, frames), real, device)
            for m0, m1, lo, hi in self._mel_groups:
                torch.matmul(mel_fb[m0:m1, lo:hi], power.mT[..., lo:hi, :], out=logmel[:, :, m0:m1])
            logmel.add_(c.floor).log10_().mul_(10.0)
            if "logmel" in uses:
                dest["logmel"].copy_(logmel)
            if "ild_mel" in uses:
                for p, (a, b) in enumerate(pairs):
                    torch.sub(logmel[:, a], logmel[:, b], out=dest["ild_mel"][:, p])
        if uses & {"logspec", "ild"}:
            logspec = ws.get("logspec", (n, channels, frames, n_freq), real, device)
            torch.add(power, c.floor, out=logspec).log10_().mul_(10.0)
            if "logspec" in uses:
                dest["logspec"].copy_(logspec.transpose(-1, -2))
            if "ild" in uses:
                for p, (a, b) in enumerate(pairs):
                    torch.sub(logspec[:, a].mT, logspec[:, b].mT, out=dest["ild"][:, p])
        if uses & {"ipd", "ipd_cos_sin", "ipd_cos_sin_mel", "gcc_phat"}:
            seconds = sorted({b for _, b in pairs})
            conj = ws.get("conj", (n, len(seconds), frames, n_freq), spec.dtype, device)
            for k, b in enumerate(seconds):
                torch.conj_physical(spec[:, b], out=conj[:, k])
            cross = ws.get("cross", (n, len(pairs), frames, n_freq), spec.dtype, device)
            for p, (a, b) in enumerate(pairs):
                torch.mul(spec[:, a], conj[:, seconds.index(b)], out=cross[:, p])
            if "ipd" in uses:
                torch.angle(cross.transpose(-1, -2), out=dest["ipd"])
            if uses & {"ipd_cos_sin", "ipd_cos_sin_mel", "gcc_phat"}:
                # Z / (|Z| + eps) as functional.ipd_cos_sin, with |Z| = |X_i| |X_j| from the power at hand.
                magnitude = ws.get("magnitude", (n, channels, frames, n_freq), real, device)
                torch.sqrt(power, out=magnitude)
                denominator = ws.get("denominator", (n, frames, n_freq), real, device)
                for p, (a, b) in enumerate(pairs):
                    torch.addcmul(eps, magnitude[:, a], magnitude[:, b], out=denominator).reciprocal_()
                    cross[:, p] *= denominator  # in place, complex *= real is the fast path
                unit = torch.view_as_real(cross)  # (n, P, T, F, 2)
                if "ipd_cos_sin" in uses:
                    dest["ipd_cos_sin"].unflatten(1, (len(pairs), 2)).copy_(unit.permute(0, 1, 4, 3, 2))
                flat = unit.reshape(n, len(pairs), frames, 2 * n_freq).mT  # (n, P, 2 F, T), a free view
                if "ipd_cos_sin_mel" in uses:
                    target = dest["ipd_cos_sin_mel"].unflatten(1, (len(pairs), 2))  # (n, P, 2, M, T)
                    for m0, m1, lo, hi in self._mel_groups:
                        part = torch.matmul(
                            consts["cos_sin"][2 * m0 : 2 * m1, 2 * lo : 2 * hi], flat[:, :, 2 * lo : 2 * hi]
                        )
                        target[:, :, :, m0:m1].copy_(part.unflatten(2, (m1 - m0, 2)).transpose(2, 3))
                if "gcc_phat" in uses:
                    torch.matmul(consts["gcc"], flat, out=dest["gcc_phat"])
        if "gcc" in uses:
            dest["gcc"].copy_(self._gcc(spec.transpose(-1, -2)))

    def _gcc(self, spec: Tensor) -> Tensor:
        c = self.config
        return F.gcc_from_stft(
            spec,
            c.n_fft,
            c.max_lag,
            self.pairs,
            False,
            num_lags=c.num_lags,
            upsample=c.gcc_upsample,
            normalize=True,
            eps=c.eps,
        )

    def _differentiable(self, spec: Tensor) -> dict[str, Tensor]:
        """The features straight from the ``functional`` definitions (the autograd path)."""
        c = self.config
        fb = self.mel_fb.to(device=spec.device, dtype=spec.real.dtype)
        logmel = F.log_mel_from_stft(spec, fb, amin=c.floor) if self._uses & {"logmel", "ild_mel"} else None
        out: dict[str, Tensor] = {}
        for name in c.features:
            if name == "logmel":
                assert logmel is not None
                out[name] = logmel
            elif name == "ild_mel":
                assert logmel is not None
                i, j = F.pair_index(self.pairs, spec.device)
                out[name] = logmel.index_select(-3, i) - logmel.index_select(-3, j)
            elif name == "logspec":
                out[name] = 10.0 * torch.log10(F.power_from_stft(spec) + c.floor)
            elif name == "ild":
                out[name] = F.ild_from_stft(spec, self.pairs, floor=c.floor)
            elif name == "ipd":
                out[name] = F.ipd_from_stft(spec, self.pairs)
            elif name == "ipd_cos_sin":
                out[name] = F.ipd_cos_sin_from_stft(spec, self.pairs, eps=c.eps).flatten(-4, -3)
            elif name == "ipd_cos_sin_mel":
                out[name] = F.mel_projected_ipd_from_stft(spec, fb, self.pairs, eps=c.eps).flatten(-4, -3)
            elif name == "gcc_phat":
                out[name] = F.gcc_from_stft(
                    spec,
                    c.n_fft,
                    c.max_lag,
                    self.pairs,
                    True,
                    num_lags=c.num_lags,
                    upsample=c.gcc_upsample,
                    eps=c.eps,
                )
            else:
                out[name] = self._gcc(spec)
        return out

    def compute_from_stft(self, spec: Tensor) -> dict[str, Tensor]:
        """Every feature from an STFT ``(..., C, n_fft // 2 + 1, frames)`` (as :meth:`stft`), unstacked.

        Returns:
            ``{name: (..., channels_of_name, bins_of_name, frames)}`` in ``config.features`` order.
        """
        F.check_spec(spec)
        c = self.config
        if spec.shape[-3] != c.num_channels or spec.shape[-2] != c.n_fft // 2 + 1:
            raise ValueError(
                f"spec must have shape (..., {c.num_channels}, {c.n_fft // 2 + 1}, frames), "
                f"got {tuple(spec.shape)}"
            )
        if torch.is_grad_enabled() and spec.requires_grad:
            return self._differentiable(spec)
        lead = tuple(spec.shape[:-3])
        flat = spec.reshape(-1, *spec.shape[-3:])
        frames = flat.shape[-1]
        _, views = self._outputs(flat.shape[0], frames, spec.real.dtype, spec.device, stacked=False)
        ws = self._workspace()
        consts = self._constants(spec.real.dtype, spec.device)
        for n0, n1, t0, t1 in self._blocks(flat.shape[0], frames):
            block = ws.get(
                "spec", (n1 - n0, c.num_channels, t1 - t0, c.n_fft // 2 + 1), spec.dtype, spec.device
            )
            block.copy_(flat[n0:n1, :, :, t0:t1].transpose(-1, -2))
            self._fast_block(block, ws, consts, {k: v[n0:n1, :, :, t0:t1] for k, v in views.items()})
        return {name: v.reshape(*lead, *v.shape[1:]) for name, v in views.items()}

    def compute(self, x: Tensor) -> dict[str, Tensor]:
        """Every feature of ``x`` ``(..., C, time)``, unstacked: ``{name: (..., channels, bins, frames)}``."""
        return self._run(x, stacked=False)[1]

    def forward(self, x: Tensor) -> Tensor:
        """Stacked features, ``(..., num_feature_channels, num_bins, frames)``."""
        out, _ = self._run(x, stacked=True)
        assert out is not None
        return out

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"features={list(c.features)}, sample_rate={c.sample_rate}, channels={c.num_channels} -> "
            f"({c.num_feature_channels}, {c.num_bins}, frames)"
        )


class _Workspace:
    """Scratch tensors reused from block to block and call to call: on the hot path, fresh memory costs more
    (page faults on first touch) than the arithmetic done in it."""

    def __init__(self) -> None:
        self._store: dict[str, Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Tensor:
        numel = math.prod(shape)
        held = self._store.get(name)
        if held is None or held.dtype != dtype or held.device != device or held.numel() < numel:
            held = torch.empty(numel, dtype=dtype, device=device)
            self._store[name] = held
        return held[:numel].view(shape)


def _band_groups(fb: Tensor, groups: int) -> list[tuple[int, int, int, int]]:
    """Split the rows of a banded matrix ``(M, F)`` into at most ``groups`` runs of adjacent rows, each
    multiplied with only the columns it touches, with the fewest multiply-adds (dynamic programming).

    Returns:
        ``(m0, m1, lo, hi)`` per run: rows ``m0 .. m1 - 1`` touch columns ``lo .. hi - 1`` only.
    """
    rows = fb.shape[0]
    if rows == 0:
        return []
    touched = fb != 0
    first = [int(r.nonzero().min()) if r.any() else fb.shape[1] for r in touched]
    last = [int(r.nonzero().max()) + 1 if r.any() else 0 for r in touched]

    def span(m0: int, m1: int) -> tuple[int, int]:
        lo, hi = min(first[m0:m1]), max(last[m0:m1])
        return (lo, hi) if hi > lo else (0, 1)

    def cost(m0: int, m1: int) -> int:
        lo, hi = span(m0, m1)
        return (m1 - m0) * (hi - lo)

    # best[g][m]: the cheapest split of rows m .. rows - 1 into at most g runs, and where its first run ends.
    best: list[list[tuple[int, int]]] = [[(cost(m, rows), rows) for m in range(rows)]]
    for _ in range(1, min(groups, rows)):
        previous = best[-1]
        best.append(
            [
                min([(cost(m, rows), rows)] + [(cost(m, e) + previous[e][0], e) for e in range(m + 1, rows)])
                for m in range(rows)
            ]
        )
    out, m, level = [], 0, len(best) - 1
    while m < rows:
        end = best[level][m][1]
        out.append((m, end, *span(m, end)))
        m, level = end, max(level - 1, 0)
    return out


def _partial_irfft_matrix(n_fft: int, max_lag: int | None, num_lags: int | None, upsample: int) -> Tensor:
    """Matrix taking an interleaved one-sided spectrum ``(re_0, im_0, re_1, ...)`` to its inverse DFT at the
    GCC lags of ``functional.gcc_lags``: exactly ``functional.gcc_from_stft``'s ``irfft`` and lag selection;
    shape ``(2 F, lags)``, float64."""
    lags = F.gcc_lags(n_fft, max_lag, num_lags=num_lags, upsample=upsample)  # samples, possibly fractional
    n_freq = n_fft // 2 + 1
    freqs = torch.arange(n_freq, dtype=torch.float64)
    # irfft weights: DC once, the Nyquist bin once (twice but halved when upsampling pads past it), the
    # others twice.
    weight = torch.full((n_freq,), 2.0, dtype=torch.float64)
    weight[0] = 1.0
    if n_fft % 2 == 0:
        weight[-1] = 1.0
    angle = 2.0 * math.pi * freqs[:, None] * lags[None, :] / n_fft
    matrix = torch.stack((torch.cos(angle), -torch.sin(angle)), dim=1) * (weight / n_fft)[:, None, None]
    return matrix.reshape(2 * n_freq, lags.numel())
