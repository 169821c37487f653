"""Classic and borrowed distances SQM-BS is compared with, all ``QualityMetric`` objects on binaural pairs.

* :class:`L1Distance`: mean absolute sample difference.
* :class:`MultiResolutionStftDistance`: spectral convergence plus log-magnitude L1 at three STFT resolutions
  (the usual multi-resolution STFT loss), summed over both ears; differentiable.
* :class:`SfdEmbeddingDistance`: ``1 - cos`` of the mean encoder frames of a trained SFD model (pretrainer or
  localizer).

The cue distance (a BAMQ stand-in) is :class:`spatialrep.evaluate.cue_distance.CueDistance`. GPSM+BMFD is
omitted: it has no offline implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from spatialrep.features.functional import stft
from spatialrep.losses.triplet import CosineDistance

__all__ = ["L1Distance", "MultiResolutionStftDistance", "SfdEmbeddingDistance"]


def _pair(reference: Tensor, test: Tensor) -> tuple[Tensor, Tensor]:
    for name, x in (("reference", reference), ("test", test)):
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor (batch, channels, time)")
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contains NaN or infinite samples")
    ref = reference.unsqueeze(0) if reference.ndim == 2 else reference
    tst = test.unsqueeze(0) if test.ndim == 2 else test
    if ref.ndim != 3 or ref.shape != tst.shape:
        raise ValueError(
            f"reference {tuple(ref.shape)} and test {tuple(tst.shape)} must be equal (batch, channels, time)"
        )
    return ref, tst


class L1Distance(nn.Module):
    """``mean |ref - test|`` over channels and samples, ``(batch,)``."""

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self._sample_rate = int(sample_rate)

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    def forward(self, reference: Tensor, test: Tensor) -> Tensor:
        ref, tst = _pair(reference, test)
        return (ref - tst).abs().flatten(1).mean(dim=1)

    def score(self, reference: Tensor, test: Tensor) -> Tensor:
        result: Tensor = self(reference, test)
        return result


class MultiResolutionStftDistance(nn.Module):
    """``sum_r SC_r + mean |log|S_ref| - log|S_test||_r`` over STFT resolutions, ``(batch,)``.

    Args:
        sample_rate: Hz.
        resolutions: ``(n_fft, hop)`` pairs; the default scales ``(512, 128), (1024, 256), (256, 64)`` at
            16 kHz with the rate.
        eps: magnitude floor.
    """

    def __init__(
        self, sample_rate: int, resolutions: Sequence[tuple[int, int]] | None = None, eps: float = 1e-7
    ) -> None:
        super().__init__()
        self._sample_rate = int(sample_rate)
        factor = max(1, round(sample_rate / 16000))
        self.resolutions = [
            (int(n), int(h))
            for n, h in (
                resolutions
                or [(512 * factor, 128 * factor), (1024 * factor, 256 * factor), (256 * factor, 64 * factor)]
            )
        ]
        self.eps = eps

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    def forward(self, reference: Tensor, test: Tensor) -> Tensor:
        ref, tst = _pair(reference, test)
        total = ref.new_zeros(ref.shape[0])
        for n_fft, hop in self.resolutions:
            a = stft(ref, n_fft, hop).abs().clamp_min(self.eps)
            b = stft(tst, n_fft, hop).abs().clamp_min(self.eps)
            convergence = (a - b).flatten(1).norm(dim=1) / a.flatten(1).norm(dim=1).clamp_min(self.eps)
            log_mag = (a.log() - b.log()).abs().flatten(1).mean(dim=1)
            total = total + convergence + log_mag
        return total

    def score(self, reference: Tensor, test: Tensor) -> Tensor:
        result: Tensor = self(reference, test)
        return result


class SfdEmbeddingDistance(nn.Module):
    """``1 - cos`` of the time-averaged encoder frames of an SFD model (any model with ``encoder`` and a
    ``config.frontend``), frozen.

    Args:
        model: an ``SfdPretrainer`` or ``SfdLocalizer`` (e.g. :func:`spatialrep.methods.load_model`).
    """

    def __init__(self, model: Any) -> None:
        super().__init__()
        if not (hasattr(model, "encoder") and hasattr(getattr(model, "config", None), "frontend")):
            kind = type(model).__name__
            raise TypeError(
                f"SfdEmbeddingDistance needs an SFD model (encoder + config.frontend), got {kind}"
            )
        self.model = model.eval().requires_grad_(False)

    @property
    def sample_rate(self) -> int:
        return int(self.model.config.frontend.sample_rate)

    def forward(self, reference: Tensor, test: Tensor) -> Tensor:
        ref, tst = _pair(reference, test)
        frontend, encoder = self.model.config.frontend, self.model.encoder
        with torch.backends.cudnn.flags(enabled=False):
            a = encoder.forward_features(frontend(ref)).mean(dim=1)
            b = encoder.forward_features(frontend(tst)).mean(dim=1)
        return CosineDistance().paired(a, b)

    def score(self, reference: Tensor, test: Tensor) -> Tensor:
        result: Tensor = self(reference, test)
        return result
