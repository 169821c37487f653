"""SFD's input frames and distillation targets, frame-aligned (one STFT framing for both).

Both come from the same STFT parameters, so target frame ``t`` describes the samples that input frame ``t``
sees: with ``center=False`` frame ``t`` covers samples ``[t * hop, t * hop + n_fft)``.

Targets (binaural, pair ``(0, 1)`` = left relative to right, see ``docs/features.md``), per frame:

========== ===================== ===============================================================
target     size                  definition and normalisation
========== ===================== ===============================================================
gcc        ``2 * max_lag + 1``   plain GCC, instance-normalised (below)
gcc_phat   ``2 * max_lag + 1``   GCC-PHAT, instance-normalised (below)
cps_phat   ``2 * F``             cos then sin of the PHAT cross-power spectrum phase (in [-1, 1])
ipd_ild    ``3 * F``             cos IPD, sin IPD, then ILD / :data:`ILD_SCALE_DB` clipped to [-2, 2]
========== ===================== ===============================================================

``F = n_fft // 2 + 1``. **Instance normalisation** (GCC-type targets): per example, one mean and one
standard deviation over all of its lags and frames, ``(r - mean) / sqrt(var + eps * mean(r^2) + tiny)``:
the relative ``eps`` keeps it independent of the clip's level (plain GCC scales with signal power). One
statistic per example (not one per lag) keeps the lag profile: per-lag statistics over time would erase the
peak of a static source.
Silence gives zero variance and therefore an all-zero, finite target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from spatialrep.features.functional import (
    gcc_from_stft,
    ild_from_stft,
    ipd_cos_sin_from_stft,
    stft,
    stft_real_imag,
)
from spatialrep.models.inputs import stft_frames_to_sequence

if TYPE_CHECKING:
    from spatialrep.methods.sfd import SfdConfig

__all__ = [
    "ILD_SCALE_DB",
    "INPUTS",
    "INSTANCE_NORM_EPS",
    "TARGETS",
    "distillation_targets",
    "input_dim",
    "input_frames",
    "instance_normalize",
    "target_dim",
]

TARGETS = ("gcc", "gcc_phat", "cps_phat", "ipd_ild")
"""Valid values of ``SfdConfig.target``."""

INPUTS = ("stft", "gcc_phat")
"""Valid values of ``SfdConfig.input``: binaural STFT (SFD, STFT-DNN) or frame-wise GCC-PHAT (GCCPHAT-DNN)."""

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


def input_dim(input_kind: str, n_fft: int, input_max_lag: int) -> int:
    """Encoder input features per frame: ``4 * F`` (``"stft"``) or ``2 * input_max_lag + 1`` (``"gcc_phat"``).

    Raises:
        ValueError: an unknown input kind.
    """
    if input_kind == "stft":
        return 4 * (n_fft // 2 + 1)
    if input_kind == "gcc_phat":
        return 2 * input_max_lag + 1
    raise ValueError(f"unknown SFD input {input_kind!r}; valid: {', '.join(INPUTS)}")


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


def _stft(x: Tensor, config: SfdConfig) -> Tensor:
    return stft(x, config.n_fft, config.hop_length, config.win_length, config.window, config.center)


def input_frames(noisy: Tensor, config: SfdConfig) -> Tensor:
    """The encoder's input, one vector per frame, as ``config.input`` says.

    * ``"stft"``: real and imaginary STFT parts of both ears; feature index ``(channel * 2 + part) * F + bin``
      (see ``stft_frames_to_sequence``).
    * ``"gcc_phat"``: the frame's GCC-PHAT over lags ``-input_max_lag .. input_max_lag`` (values in [-1, 1],
      not normalised over the clip, so the input stays causal).

    Args:
        noisy: binaural waveform at ``config.sample_rate``.
        config: the STFT parameters and input kind.

    Raises:
        TypeError: a non-floating input.
        ValueError: not ``(batch, 2, time)``, or shorter than one frame.

    Shape:
        ``(batch, 2, time) -> (batch, frames, config.input_dim)``.
    """
    _check_binaural(noisy, "noisy")
    if config.input == "gcc_phat":
        r = gcc_from_stft(_stft(noisy, config), config.n_fft, config.input_max_lag, phat=True)  # (B, 1, L, T)
        return r.flatten(1, -2).transpose(1, 2)
    spec = stft_real_imag(
        noisy, config.n_fft, config.hop_length, config.win_length, config.window, config.center
    )
    return stft_frames_to_sequence(spec)  # the encoder LayerNorms each frame: no level normalisation here


def distillation_targets(clean_direct: Tensor, config: SfdConfig, target: str | None = None) -> Tensor:
    """Spatial features of the clean direct-path signal that the encoder learns to predict.

    Args:
        clean_direct: binaural direct-path waveform, same length as the input it pairs with.
        config: the STFT parameters, ``max_lag`` and the default target.
        target: one of :data:`TARGETS` (default ``config.target``).

    Returns:
        Targets, frame-aligned with :func:`input_frames` of a signal of the same length.

    Raises:
        TypeError: a non-floating input.
        ValueError: not ``(batch, 2, time)``, too short, or an unknown target.

    Shape:
        ``(batch, 2, time) -> (batch, frames, target_dim(target, n_fft, max_lag))``.
    """
    target = config.target if target is None else target
    target_dim(target, config.n_fft, config.max_lag)  # validates the name
    _check_binaural(clean_direct, "clean_direct")
    spec = _stft(clean_direct, config)  # (batch, 2, F, frames)
    if target in ("gcc", "gcc_phat"):
        r = gcc_from_stft(spec, config.n_fft, config.max_lag, phat=target == "gcc_phat")  # (B, 1, L, T)
        out = instance_normalize(r)
    elif target == "cps_phat":
        out = ipd_cos_sin_from_stft(spec).flatten(1, 3)  # (B, 1, 2, F, T) -> (B, 2F, T)
    else:
        cos_sin = ipd_cos_sin_from_stft(spec).flatten(1, 3)
        level = (ild_from_stft(spec) / ILD_SCALE_DB).clamp(-2.0, 2.0).flatten(1, 2)
        out = torch.cat((cos_sin, level), dim=1)
    return out.flatten(1, -2).transpose(1, 2)
