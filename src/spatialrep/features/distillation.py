"""Frame-sequence encoder inputs and spatial distillation targets (SFD), frame-aligned by one STFT framing.

:class:`FrameInput` turns a binaural waveform into one feature vector per STFT frame for a sequence encoder;
:class:`DistillationTarget` computes, from the same framing, the spatial features of the clean direct-path
signal that SFD learns to predict. Target frame ``t`` therefore describes the samples input frame ``t`` sees:
with ``center=False`` frame ``t`` covers samples ``[t * hop, t * hop + n_fft)``.

Targets (binaural, pair ``(0, 1)`` = left relative to right, see ``docs/features.md``), per frame:

========== ===================== ===============================================================
target     size                  definition
========== ===================== ===============================================================
gcc        ``2 * max_lag + 1``   plain GCC
gcc_phat   ``2 * max_lag + 1``   GCC-PHAT
cps_phat   ``2 * F``             cos then sin of the PHAT cross-power spectrum phase (in [-1, 1])
ipd_ild    ``3 * F``             cos IPD, sin IPD, then ILD / :data:`ILD_SCALE_DB` clipped to [-2, 2]
========== ===================== ===============================================================

``F = n_fft // 2 + 1``. The lag range must cover the head's interaural delays: KEMAR's reach ±0.81 ms, 13
samples at 16 kHz, so the default ``max_lag`` of 15 (``default_max_lag(0.8125e-3, 16000)``, two samples of
margin) keeps every direction's peak inside the window; the experiments derive it from their receiver.

Normalisation of the GCC-type targets (:data:`NORMALIZATIONS`):

* ``"frame"`` (default): each frame on its own, so the target of frame ``t`` depends on samples up to the
  end of frame ``t`` only (causal, like the encoder) and not on the clip's level: GCC-PHAT is already bounded
  (whitened per bin); plain GCC is divided by the geometric mean of the two channels' frame energies (a
  normalised cross-correlation in [-1, 1]).
* ``"instance"`` (the first author's earlier public code): per example, one mean and one standard deviation
  over all of its lags and frames, ``(r - mean) / sqrt(var + eps * mean(r^2) + tiny)``. It is level-free but
  not causal: each frame's target depends on the whole clip (future frames included) and on how much of the
  clip is speech, which a causal encoder cannot know.

Silence gives an all-zero, finite target in both.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from spatialrep.features.functional import (
    WINDOWS,
    check_positive_int,
    gcc_from_stft,
    ild_from_stft,
    ipd_cos_sin_from_stft,
    stft,
    stft_frames_to_sequence,
    stft_real_imag,
)

__all__ = [
    "DEFAULT_MAX_LAG",
    "ILD_SCALE_DB",
    "INPUTS",
    "INSTANCE_NORM_EPS",
    "NORMALIZATIONS",
    "TARGETS",
    "DistillationTarget",
    "FrameInput",
    "instance_normalize",
    "target_dim",
]

TARGETS = ("gcc", "gcc_phat", "cps_phat", "ipd_ild")
"""Valid values of ``DistillationTarget.name``."""

NORMALIZATIONS = ("frame", "instance")
"""Valid values of ``DistillationTarget.normalization`` (GCC-type targets; see the module docstring)."""

DEFAULT_MAX_LAG = 15
"""Lags ``-15 .. 15`` at 16 kHz: KEMAR's largest interaural delay (13 samples) plus a margin of 2."""

INPUTS = ("stft", "gcc_phat")
"""Valid values of ``FrameInput.kind``: binaural STFT (SFD, STFT-DNN) or frame-wise GCC-PHAT (GCCPHAT-DNN)."""

ILD_SCALE_DB = 20.0
"""ILD targets are divided by this (dB) and clipped to [-2, 2]: head ILDs of ±20 dB map to ±1."""

INSTANCE_NORM_EPS = 1e-5
"""Relative variance floor of :func:`instance_normalize` (a fraction of the example's mean square)."""


def target_dim(target: str, n_fft: int, max_lag: int) -> int:
    """Features per frame of a binaural target (see the module table).

    Raises:
        ValueError: an unknown target (lists the valid ones).
    """
    freqs = n_fft // 2 + 1
    if target in ("gcc", "gcc_phat"):
        return 2 * max_lag + 1
    if target == "cps_phat":
        return 2 * freqs
    if target == "ipd_ild":
        return 3 * freqs
    raise ValueError(f"unknown SFD target {target!r}; valid: {', '.join(TARGETS)}")


def instance_normalize(x: Tensor, eps: float = INSTANCE_NORM_EPS) -> Tensor:
    """Normalise each example by its own mean and standard deviation over every axis but the first.

    ``(x - mean) / sqrt(var + eps * mean(x^2) + tiny)``: invariant to the example's scale; a constant or
    silent example maps to zeros (``tiny`` is the dtype's smallest normal number).

    Shape:
        ``(batch, ...) -> (batch, ...)``.
    """
    dims = tuple(range(1, x.ndim))
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, keepdim=True, unbiased=False)
    floor = eps * x.square().mean(dim=dims, keepdim=True) + torch.finfo(x.dtype).tiny
    return (x - mean) / torch.sqrt(var + floor)


def _check_binaural(x: Tensor, name: str) -> None:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"{name} must be a floating torch.Tensor (batch, 2, time), got {type(x).__name__}")
    if x.ndim != 3 or x.shape[1] != 2:
        raise ValueError(f"{name} must have shape (batch, 2, time) (binaural), got {tuple(x.shape)}")


def _non_negative_int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}={value!r} must be a non-negative integer")
    return value


@dataclasses.dataclass(frozen=True)
class FrameInput:
    """The STFT framing and the per-frame encoder input of a frame-sequence model.

    Attributes:
        sample_rate: Hz; audio at another rate must be resampled first.
        n_fft, win_length, hop_length, window, center: the STFT (defaults: 512-point FFT, 25 ms Hann window,
            10 ms hop, ``center=False`` so frames are causal).
        kind: ``"stft"`` (real and imaginary STFT of both ears) or ``"gcc_phat"`` (the frame's GCC-PHAT).
        max_lag: ``"gcc_phat"`` lags ``-max_lag .. max_lag`` (:data:`DEFAULT_MAX_LAG`; derive it from the
            receiver's largest interaural delay with
            :func:`~spatialrep.features.functional.default_max_lag`).

    Raises:
        ValueError: non-positive sizes, ``win_length > n_fft``, an unknown window or kind, a lag range the
            FFT cannot hold (each names the field).
    """

    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    window: str = "hann"
    center: bool = False
    kind: str = "stft"
    max_lag: int = DEFAULT_MAX_LAG

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_fft", "win_length", "hop_length"):
            check_positive_int(getattr(self, name), f"frontend.{name}")
        if self.win_length > self.n_fft:
            raise ValueError(f"frontend.win_length={self.win_length} must be <= n_fft={self.n_fft}")
        if self.window not in WINDOWS:
            raise ValueError(f"frontend.window={self.window!r} is not one of {', '.join(WINDOWS)}")
        if self.kind not in INPUTS:
            raise ValueError(f"frontend.kind={self.kind!r} is not one of {', '.join(INPUTS)}")
        _non_negative_int(self.max_lag, "frontend.max_lag")
        if 2 * self.max_lag >= self.n_fft:
            raise ValueError(f"frontend.max_lag={self.max_lag} must be < n_fft / 2 = {self.n_fft / 2:g}")

    @property
    def num_freqs(self) -> int:
        """``F = n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def dim(self) -> int:
        """Features per frame: ``4 * F`` for ``"stft"``, ``2 * max_lag + 1`` for ``"gcc_phat"``."""
        return 4 * self.num_freqs if self.kind == "stft" else 2 * self.max_lag + 1

    @property
    def hop_s(self) -> float:
        return self.hop_length / self.sample_rate

    @property
    def frame_s(self) -> float:
        return self.n_fft / self.sample_rate

    def num_frames(self, num_samples: int) -> int:
        """Frames of a clip of ``num_samples`` samples (``center=False``: ``1 + (T - n_fft) // hop``)."""
        if self.center:
            return 1 + num_samples // self.hop_length
        return 0 if num_samples < self.n_fft else 1 + (num_samples - self.n_fft) // self.hop_length

    def stft(self, x: Tensor) -> Tensor:
        """Complex STFT ``(..., channel, time) -> (..., channel, F, frames)``."""
        return stft(x, self.n_fft, self.hop_length, self.win_length, self.window, self.center)

    def __call__(self, noisy: Tensor) -> Tensor:
        """The encoder's input, one vector per frame.

        * ``"stft"``: real and imaginary STFT parts of both ears; feature index ``(channel * 2 + part) * F +
          bin`` (:func:`~spatialrep.features.functional.stft_frames_to_sequence`); not level-normalised (the
          encoder normalises each frame).
        * ``"gcc_phat"``: the frame's GCC-PHAT over lags ``-max_lag .. max_lag`` (values in [-1, 1], not
          normalised over the clip, so the input stays causal).

        Raises:
            TypeError: a non-floating input.
            ValueError: not ``(batch, 2, time)``, or shorter than one frame.

        Shape:
            ``(batch, 2, time) -> (batch, frames, dim)``.
        """
        _check_binaural(noisy, "noisy")
        if self.kind == "gcc_phat":
            r = gcc_from_stft(self.stft(noisy), self.n_fft, self.max_lag, phat=True)  # (B, 1, L, T)
            return r.flatten(1, -2).transpose(1, 2)
        spec = stft_real_imag(noisy, self.n_fft, self.hop_length, self.win_length, self.window, self.center)
        return stft_frames_to_sequence(spec)


@dataclasses.dataclass(frozen=True)
class DistillationTarget:
    """Which spatial feature of the clean direct-path signal an SFD encoder learns to predict.

    Attributes:
        name: one of :data:`TARGETS`.
        max_lag: GCC-type targets: lags ``-max_lag .. max_lag`` samples (:data:`DEFAULT_MAX_LAG`).
        normalization: GCC-type targets: ``"frame"`` (causal, default) or ``"instance"`` (per clip).

    Raises:
        ValueError: an unknown name or normalisation, a negative ``max_lag``.
    """

    name: str = "gcc_phat"
    max_lag: int = DEFAULT_MAX_LAG
    normalization: str = "frame"

    def __post_init__(self) -> None:
        if self.name not in TARGETS:
            raise ValueError(f"target.name={self.name!r} is not one of {', '.join(TARGETS)}")
        _non_negative_int(self.max_lag, "target.max_lag")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"target.normalization={self.normalization!r} is not one of {', '.join(NORMALIZATIONS)}"
            )

    def dim(self, frontend: FrameInput) -> int:
        """Features per frame for the front-end's STFT."""
        return target_dim(self.name, frontend.n_fft, self.max_lag)

    def check(self, frontend: FrameInput) -> None:
        """Raise ``ValueError`` if the lag range does not fit the front-end's FFT."""
        if 2 * self.max_lag >= frontend.n_fft:
            raise ValueError(f"target.max_lag={self.max_lag} must be < n_fft / 2 = {frontend.n_fft / 2:g}")

    def __call__(self, clean_direct: Tensor, frontend: FrameInput) -> Tensor:
        """Targets of a batch, frame-aligned with ``frontend(noisy)`` for a signal of the same length.

        Raises:
            TypeError: a non-floating input.
            ValueError: not ``(batch, 2, time)``, or too short.

        Shape:
            ``(batch, 2, time) -> (batch, frames, dim(frontend))``.
        """
        _check_binaural(clean_direct, "clean_direct")
        spec = frontend.stft(clean_direct)  # (batch, 2, F, frames)
        if self.name in ("gcc", "gcc_phat"):
            phat = self.name == "gcc_phat"
            if self.normalization == "frame":
                out = gcc_from_stft(spec, frontend.n_fft, self.max_lag, phat=phat, normalize=not phat)
            else:
                out = instance_normalize(gcc_from_stft(spec, frontend.n_fft, self.max_lag, phat=phat))
        elif self.name == "cps_phat":
            out = ipd_cos_sin_from_stft(spec).flatten(1, 3)  # (B, 1, 2, F, T) -> (B, 2F, T)
        else:
            cos_sin = ipd_cos_sin_from_stft(spec).flatten(1, 3)
            level = (ild_from_stft(spec) / ILD_SCALE_DB).clamp(-2.0, 2.0).flatten(1, 2)
            out = torch.cat((cos_sin, level), dim=1)
        return out.flatten(1, -2).transpose(1, 2)
