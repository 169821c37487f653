"""Localize audio files with any :class:`~spatialrep.methods.base.Localizer`, trained or classic.

* :func:`load_localizer` — a checkpoint folder (any method) or a classic localizer's name
  (``gcc-phat-itd``, ``srp-phat``, ``music``) built for a receiver (``kemar``, ``sphere``, ``array:<name>``, a
  ``.sofa`` file).
* :func:`localize_file` — one file: the clip's direction and one per segment. Frame-wise models (those whose
  ``Directions`` carry a frame track, e.g. SFD) pool their frame posteriors per segment; clip-level models
  (SCE, WSCE, classic) localize each segment on its own. ``stream=True`` needs a
  :class:`~spatialrep.methods.base.StreamingLocalizer`.
* :func:`localize_paths` — files and folders, the model loaded once, one row per file (or per segment).

Only the protocols are used: no method's class is named here.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spatialrep.dsp import resample
from spatialrep.io.atomic import atomic_write_text
from spatialrep.io.audio import read_audio
from spatialrep.methods.base import Directions, FrameTrack, Localizer, StreamingLocalizer
from spatialrep.methods.classic import CLASSIC_LOCALIZERS, classic_localizer
from spatialrep.methods.registry import load_model
from spatialrep.simulate.receiver_factory import make_receiver

__all__ = [
    "AUDIO_EXTENSIONS",
    "ROW_COLUMNS",
    "audio_files",
    "load_localizer",
    "localize_file",
    "localize_paths",
    "write_rows",
]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aiff", ".aif")
"""Files :func:`audio_files` picks up in folders."""

ROW_COLUMNS = ("file", "segment", "start_s", "end_s", "azimuth_deg", "elevation_deg", "no_source", "error")
"""Columns of :func:`localize_paths` rows (``segment`` is empty for whole-clip rows)."""

DEFAULT_SEGMENT_S = {True: 0.1, False: 0.5}
"""Default segment length (s) for frame-wise (``True``) and clip-level models."""

ACTIVITY_FLOOR_DBFS = -70.0
"""A segment (or frame) whose RMS level is below this (dB re full scale) has no source to localize: its
direction is reported as NaN (``null`` in JSON, empty in CSV) with the reason, instead of a guess."""

SAMPLE_RATE_RANGE = (4000, 384000)
"""Sample rates accepted from files (Hz); anything else is refused rather than resampled into nonsense."""


def load_localizer(
    model: str | os.PathLike[str], *, receiver: str = "kemar", sample_rate: int = 16000
) -> Localizer:
    """A trained model's folder, or the name of a classic localizer built for ``receiver``.

    Args:
        model: a checkpoint folder (or a training folder with ``model/``, ``best/``, ``last/``), or one of
            ``gcc-phat-itd``, ``srp-phat``, ``music``.
        receiver: classic localizers only: the head or array they steer for (a receiver spec, see
            ``spatialrep info``).
        sample_rate: classic localizers only: Hz.

    Raises:
        FileNotFoundError: no checkpoint at that path (and not a classic name).
        ValueError: a checkpoint that does not localize (e.g. a pretraining checkpoint), or a bad receiver.
    """
    text = str(model)
    if text in CLASSIC_LOCALIZERS:
        return classic_localizer(text, make_receiver(receiver, sample_rate))
    if not Path(text).exists():
        raise FileNotFoundError(
            f"model {text!r} is neither a folder nor a classic localizer ({', '.join(CLASSIC_LOCALIZERS)})"
        )
    loaded = load_model(text)
    if not isinstance(loaded, Localizer):
        raise ValueError(
            f"{text} holds a {type(loaded).__name__}, which does not localize (a pretraining checkpoint? "
            "fine-tune it first, see docs/sfd.md)"
        )
    return loaded


def _read(path: str | os.PathLike[str], localizer: Localizer) -> torch.Tensor:
    audio, rate = read_audio(path, expected_channels=localizer.num_channels)
    low, high = SAMPLE_RATE_RANGE
    if not low <= rate <= high:
        raise ValueError(f"{path} has a sample rate of {rate} Hz, outside the plausible {low}-{high} Hz")
    if rate != localizer.sample_rate:
        warnings.warn(
            f"{path} is at {rate} Hz; resampling to the model's {localizer.sample_rate} Hz",
            UserWarning,
            stacklevel=3,
        )
        audio = resample(audio, rate, localizer.sample_rate)
    return torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))


def _degrees(radians: float) -> float:
    return float(np.degrees(radians))


def _segment_bounds(total: int, segment: int, minimum: int) -> list[tuple[int, int]]:
    """Consecutive ``[start, end)`` sample ranges of ``segment`` samples; a last one shorter than ``minimum``
    is merged into the one before it."""
    bounds = [[s, min(s + segment, total)] for s in range(0, total, segment)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < minimum:
        last = bounds.pop()
        bounds[-1][1] = last[1]
    return [(s, e) for s, e in bounds]


def _level_dbfs(audio: torch.Tensor) -> float:
    """RMS level over every channel and sample, dB re full scale (-inf for silence)."""
    power = float(audio.double().square().mean()) if audio.numel() else 0.0
    return 10.0 * math.log10(power) if power > 0 else -math.inf


def _direction(directions: Directions, index: int = 0, level_dbfs: float = 0.0) -> dict[str, Any]:
    """The direction as degrees, or NaN and the reason when the audio is below the activity floor."""
    silent = level_dbfs < ACTIVITY_FLOOR_DBFS
    out: dict[str, Any] = {"azimuth_deg": math.nan if silent else _degrees(directions.azimuth[index])}
    if directions.elevation is not None:
        out["elevation_deg"] = math.nan if silent else _degrees(directions.elevation[index])
    if silent or math.isnan(out["azimuth_deg"]):
        out["no_source"] = (
            f"silent: {level_dbfs:.0f} dBFS, below the {ACTIVITY_FLOOR_DBFS:g} dBFS activity floor"
        )
    return out


def _active_frames(audio: torch.Tensor, track: FrameTrack, rate: int) -> np.ndarray:
    """Which frames of a track are at or above the activity floor, from the audio each one covers."""
    starts = (np.arange(track.num_frames) * track.hop_s * rate).round().astype(int)
    length = round(track.frame_s * rate)
    return np.array([_level_dbfs(audio[:, s : s + length]) >= ACTIVITY_FLOOR_DBFS for s in starts])


def _segments(
    localizer: Localizer, audio: torch.Tensor, directions: Directions, segment_s: float
) -> list[dict[str, Any]]:
    track = directions.track
    rate = localizer.sample_rate
    if track is not None:
        active = _active_frames(audio, track, rate)
        per_segment = max(1, round(segment_s / track.hop_s))
        segments = []
        for start in range(0, track.num_frames, per_segment):
            stop = min(start + per_segment, track.num_frames)
            start_s, end_s = start * track.hop_s, (stop - 1) * track.hop_s + track.frame_s
            level = _level_dbfs(audio[:, round(start_s * rate) : round(end_s * rate)])
            pooled = Directions(track.pooled_azimuth(start, stop, active))
            bounds = {"start_s": round(start_s, 6), "end_s": round(end_s, 6)}
            segments.append({**bounds, **_direction(pooled, level_dbfs=level)})
        return segments
    segment = max(localizer.min_samples, round(segment_s * rate))
    segments = []
    for start, end in _segment_bounds(audio.shape[-1], segment, localizer.min_samples):
        level = _level_dbfs(audio[:, start:end])
        found = localizer.localize(audio[None, :, start:end], rate)
        bounds = {"start_s": round(start / rate, 6), "end_s": round(end / rate, 6)}
        segments.append({**bounds, **_direction(found, level_dbfs=level)})
    return segments


def localize_file(
    path: str | os.PathLike[str],
    model: str | os.PathLike[str] | Localizer,
    *,
    stream: bool = False,
    segment_s: float | None = None,
    chunk_s: float = 0.1,
    receiver: str = "kemar",
) -> dict[str, Any]:
    """Localize one audio file.

    Args:
        path: an audio file with the model's channel count (binaural: channel 0 = left); another sample rate
            is resampled, with a warning.
        model: a :class:`Localizer`, a checkpoint folder, or a classic localizer's name
            (:func:`load_localizer`).
        stream: run chunk by chunk through the model's cached state (a :class:`StreamingLocalizer`).
        segment_s: length of the reported segments (default 0.1 s frame-wise, 0.5 s clip-level; clip-level
            segments are at least the model's shortest input).
        chunk_s: chunk length of ``stream``.
        receiver: classic localizers by name: their receiver.

    Returns:
        ``{"file", "model", "model_type", "sample_rate", "stream", "clip": {"azimuth_deg"[, "elevation_deg"]},
        "segments": [{"start_s", "end_s", "azimuth_deg"[, "elevation_deg"]}], "frame_logits"}``
        (``frame_logits`` is ``None`` for models without a frame track). Audio below
        :data:`ACTIVITY_FLOOR_DBFS` has no direction: NaN angles and a ``"no_source"`` reason (a frame-wise
        model's clip and segments pool their active frames only).

    Raises:
        ValueError: non-positive or non-finite lengths, ``stream`` with a model that cannot stream, audio the
            model refuses (channels, too short).
        FileNotFoundError, spatialrep.io.audio.AudioFileError: an unreadable file or model.
    """
    if (segment_s is not None and not (np.isfinite(segment_s) and segment_s > 0)) or not (
        np.isfinite(chunk_s) and chunk_s > 0
    ):
        raise ValueError(f"--segment and --chunk must be positive seconds, got {segment_s} and {chunk_s}")
    localizer = model if isinstance(model, Localizer) else load_localizer(model, receiver=receiver)
    if stream and not isinstance(localizer, StreamingLocalizer):
        raise ValueError(
            f"--stream needs a streaming model (a causal frame-wise model such as SFD); "
            f"{type(localizer).__name__} localizes whole segments: use --segment instead"
        )
    audio = _read(path, localizer)
    rate = localizer.sample_rate
    if stream:
        assert isinstance(localizer, StreamingLocalizer)
        chunk = max(1, round(chunk_s * rate))
        directions = localizer.localize_stream(audio[None], rate, chunk)
    else:
        directions = localizer.localize(audio[None], rate)
    track = directions.track
    frame_wise = track is not None
    length = DEFAULT_SEGMENT_S[frame_wise] if segment_s is None else segment_s
    logits = track.logits if track is not None else None
    if track is not None:  # the clip's direction from its active frames only
        directions = dataclasses.replace(
            directions, azimuth=track.pooled_azimuth(active=_active_frames(audio, track, rate))
        )
    return {
        "file": str(path),
        "model": str(model) if not isinstance(model, Localizer) else type(model).__name__,
        "model_type": type(localizer).__name__,
        "sample_rate": rate,
        "stream": stream,
        "clip": _direction(directions, level_dbfs=_level_dbfs(audio)),
        "segments": _segments(localizer, audio, directions, length),
        "frame_logits": None if logits is None else logits[0].tolist(),
    }


def audio_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files named directly, plus the audio files (:data:`AUDIO_EXTENSIONS`) under named folders, sorted.

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: no audio file at all.
    """
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    if not found:
        raise ValueError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) in {', '.join(map(str, paths))}")
    return found


def localize_paths(
    paths: Sequence[str | os.PathLike[str]],
    model: str | os.PathLike[str] | Localizer,
    *,
    segments: bool = False,
    stream: bool = False,
    segment_s: float | None = None,
    chunk_s: float = 0.1,
    receiver: str = "kemar",
) -> Iterator[dict[str, Any]]:
    """Rows (:data:`ROW_COLUMNS`) for every file under ``paths``: one per file, or one per segment.

    The model is loaded once. A file that cannot be localized gives one row with its ``error`` and the others
    are still processed.

    Raises:
        FileNotFoundError, ValueError: a missing path or model, no audio file, a model that does not localize.
    """
    files = audio_files(paths)
    localizer = model if isinstance(model, Localizer) else load_localizer(model, receiver=receiver)
    for path in files:
        try:
            result = localize_file(path, localizer, stream=stream, segment_s=segment_s, chunk_s=chunk_s)
        except (ValueError, OSError) as exc:
            yield {"file": str(path), "error": str(exc)}
            continue
        if not segments:
            yield {"file": str(path), **result["clip"]}
            continue
        for index, segment in enumerate(result["segments"]):
            yield {"file": str(path), "segment": index, **segment}


def _csv_cell(key: str, value: Any) -> Any:
    if isinstance(value, float) and key.endswith("_deg"):
        return "" if math.isnan(value) else f"{value:.2f}"
    return value


def write_rows(rows: Iterable[dict[str, Any]], out: str | os.PathLike[str] | None = None) -> str:
    """Rows as CSV (:data:`ROW_COLUMNS`; angles with 2 decimals), written atomically to ``out`` if given;
    returns the text."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(ROW_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(k, v) for k, v in row.items()})
    text = buffer.getvalue()
    if out is not None:
        atomic_write_text(out, text)
    return text
