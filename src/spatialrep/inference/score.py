"""Score a test recording against a reference with a spatial-quality metric (``spatialrep score``).

The files are read, resampled to the metric's rate, cut into aligned segments of the model's training length
(a shorter file is one segment) and the distance is averaged over segments. Metrics: ``deep`` (SQM-BS
Eq. 2), ``embedding`` (``1 - cos`` of SQM-BS embeddings), ``cue``
(:class:`~spatialrep.evaluate.cue_distance.CueDistance`, no model needed).
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spatialrep.dsp import resample
from spatialrep.evaluate.cue_distance import CueDistance
from spatialrep.io.audio import AudioFileError, read_audio
from spatialrep.methods.sqm import SpatialQualityMetric

__all__ = ["SCORE_METRICS", "ScoreResult", "score_files"]

SCORE_METRICS = ("deep", "embedding", "cue")
CUE_SEGMENT_S = 1.0


@dataclasses.dataclass(frozen=True)
class ScoreResult:
    """``score``: the mean distance over ``segments`` (one value per aligned segment)."""

    reference: str
    test: str
    metric: str
    model: str | None
    sample_rate: int
    score: float
    segments: list[float]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _read(path: str | os.PathLike[str], rate: int, channels: int, what: str) -> np.ndarray:
    audio, file_rate = read_audio(path, allow_silence=False)
    if audio.shape[0] != channels:
        layout = "binaural (left, right)" if channels == 2 else "mono"
        raise AudioFileError(f"{what} {path} has {audio.shape[0]} channels; expected {channels} ({layout})")
    return resample(audio, file_rate, rate) if file_rate != rate else audio


def score_files(
    reference: str | os.PathLike[str],
    test: str | os.PathLike[str],
    *,
    model: str | os.PathLike[str] | None = None,
    metric: str = "deep",
    mono: str | os.PathLike[str] | None = None,
    reference_mono: str | os.PathLike[str] | None = None,
    test_mono: str | os.PathLike[str] | None = None,
    segment_s: float | None = None,
) -> ScoreResult:
    """The distance between two binaural files (lower = closer; a file against itself scores 0).

    Args:
        reference, test: binaural audio files (channel 0 = left), any rate (resampled).
        model: a trained SQM-BS run (needed unless ``metric == "cue"``).
        metric: one of :data:`SCORE_METRICS`.
        mono: the dry mono of both (or ``reference_mono`` / ``test_mono`` each); without one an SQM-BS model
            uses ``(L + R) / 2`` and warns.
        segment_s: segment length (default: the model's training segment; 1 s for ``cue``).

    Raises:
        ValueError: an unknown metric, a missing model, both ``mono`` and per-side monos, files too short.
        AudioFileError: a missing, corrupt, silent or wrongly shaped file (named).
    """
    if metric not in SCORE_METRICS:
        raise ValueError(f"unknown metric {metric!r}; valid: {', '.join(SCORE_METRICS)}")
    if mono is not None and (reference_mono is not None or test_mono is not None):
        raise ValueError("give --mono (both sides) or --ref-mono / --test-mono, not both")
    if metric != "cue" and model is None:
        raise ValueError(
            f"metric {metric!r} needs --model RUN (a trained SQM-BS run); --metric cue needs none"
        )
    sqm = None
    if metric == "cue":
        rate = read_audio(reference)[1]
        segment = segment_s or CUE_SEGMENT_S
    else:
        sqm = SpatialQualityMetric.from_checkpoint(model, mode=metric)  # type: ignore[arg-type]
        rate = sqm.sample_rate
        segment = segment_s or sqm.model.config.segment_s
    ref = _read(reference, rate, 2, "reference")
    tst = _read(test, rate, 2, "test")
    if ref.shape[1] != tst.shape[1]:
        warnings.warn(
            f"reference and test differ in length ({ref.shape[1] / rate:.3f} s vs "
            f"{tst.shape[1] / rate:.3f} s): scoring the common start",
            UserWarning,
            stacklevel=2,
        )
    length = min(ref.shape[1], tst.shape[1])
    monos: list[np.ndarray | None] = [None, None]
    for i, path in enumerate((reference_mono or mono, test_mono or mono)):
        if path is not None:
            monos[i] = _read(path, rate, 1, "mono")[0]
            length = min(length, monos[i].shape[0])  # type: ignore[union-attr]
    if sqm is not None and (monos[0] is None) != (monos[1] is None):
        monos = [monos[0] if monos[0] is not None else monos[1]] * 2
    seg = max(1, round(segment * rate))
    starts = list(range(0, max(1, length - seg + 1), seg)) if length >= seg else [0]
    seg = min(seg, length)
    if sqm is not None and seg < sqm.model.min_samples:
        raise ValueError(f"{reference} and {test} are too short ({length} samples at {rate} Hz)")
    ref_t = torch.tensor(np.stack([ref[:, s : s + seg] for s in starts]), dtype=torch.float32)
    tst_t = torch.tensor(np.stack([tst[:, s : s + seg] for s in starts]), dtype=torch.float32)
    with torch.no_grad():
        if sqm is None:
            values = CueDistance(rate)(ref_t, tst_t)
        else:
            mono_t = [
                None
                if m is None
                else torch.tensor(np.stack([m[s : s + seg] for s in starts]), dtype=torch.float32)
                for m in monos
            ]
            values = sqm(ref_t, tst_t, mono_t[0], mono_t[1])
    segments = [float(v) for v in values]
    return ScoreResult(
        reference=str(Path(reference)),
        test=str(Path(test)),
        metric=metric,
        model=None if model is None else str(model),
        sample_rate=rate,
        score=float(np.mean(segments)),
        segments=segments,
    )
