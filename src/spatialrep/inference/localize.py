"""Localize audio files with any :class:`~spatialrep.methods.base.Localizer`, trained or classic.

* :func:`load_localizer` — a checkpoint folder (any method) or a classic localizer's name
  (``gcc-phat-itd``, ``srp-phat``, ``music``) built for a receiver (``kemar``, ``sphere``, ``array:<name>``, a
  ``.sofa`` file).
* :func:`localize_file` — one file: the clip's direction and one per segment. Frame-wise models (those whose
  ``Directions`` carry a frame track, e.g. SFD) pool their frame posteriors per segment; clip-level models
  (SCE, WSCE, classic) localize each segment on its own. ``stream=True`` needs a
  :class:`~spatialrep.methods.base.StreamingLocalizer`.
* :func:`localize_paths` — files and folders, the model loaded once, one row per file (or per segment).

Files of any length are read, resampled and localized :data:`BLOCK_S` seconds at a time, so memory does not
grow with their length. A frame-wise model that streams (a
:class:`~spatialrep.methods.base.FrameStreamingLocalizer`, e.g. SFD) is fed block by block through its cached
state, attending at most :data:`CONTEXT_S` seconds back: up to that length its frames are the offline ones
(to float rounding). A clip-level model localizes each block (and each segment) on its own; a file longer
than one block gets the mean direction of its blocks (see :func:`localize_file`).

Only the protocols are used: no method's class is named here.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from spatialrep.inference.audio_blocks import AudioBlocks
from spatialrep.io.atomic import atomic_write_text
from spatialrep.methods.base import (
    Directions,
    FrameStream,
    FrameStreamingLocalizer,
    FrameTrack,
    Localizer,
    StreamingLocalizer,
)
from spatialrep.methods.classic import CLASSIC_LOCALIZERS, classic_localizer
from spatialrep.methods.registry import load_model
from spatialrep.simulate.receiver_factory import make_receiver

__all__ = [
    "AUDIO_EXTENSIONS",
    "BLOCK_S",
    "CONTEXT_S",
    "ROW_COLUMNS",
    "audio_files",
    "load_localizer",
    "localize_file",
    "localize_paths",
    "write_rows",
]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aiff", ".aif")
"""Files :func:`audio_files` picks up in folders."""

ROW_COLUMNS = (
    "file", "segment", "start_s", "end_s", "azimuth_deg", "elevation_deg", "class", "no_source", "error",
)  # fmt: skip
"""Columns of :func:`localize_paths` rows (``segment`` is empty for whole-clip rows; ``class`` for models that
also classify the sound, e.g. MC-SimCLR)."""

DEFAULT_SEGMENT_S = {True: 0.1, False: 0.5}
"""Default segment length (s) for frame-wise (``True``) and clip-level models."""

BLOCK_S = 10.0
"""Seconds of audio read, resampled and given to the model at a time (clip-level models: rounded to whole
segments). Memory is bounded by a few blocks whatever the file's length."""

CONTEXT_S = 30.0
"""How far back (s) a streaming frame-wise model attends while localizing a file, so that its cached state
stays bounded. Files up to this long get the offline frames (to float rounding); beyond, each attention layer
sees the last 30 s only. With the causal Conformer's default ALiBi bias this changes little: its flattest head
weighs a key 30 s back (3000 frames of 10 ms) by ``exp(-3000 / 256) ≈ 1e-5`` of the newest one."""

PUSH_S = 1.0
"""Without ``stream``, a streaming frame-wise model is fed this many seconds at a time (its attention scores
for one push cover ``PUSH_S`` by ``PUSH_S + CONTEXT_S``, a few MB)."""

ACTIVITY_FLOOR_DBFS = -70.0
"""A segment (or frame) whose RMS level is below this (dB re full scale) has no source to localize: its
direction is reported as NaN (``null`` in JSON, empty in CSV) with the reason, instead of a guess."""


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


def _level_dbfs(audio: np.ndarray) -> float:
    """RMS level over every channel and sample, dB re full scale (-inf for silence)."""
    power = float(np.mean(np.square(audio, dtype=np.float64))) if audio.size else 0.0
    return 10.0 * math.log10(power) if power > 0 else -math.inf


def _direction(directions: Directions, index: int = 0, level_dbfs: float = 0.0) -> dict[str, Any]:
    """The direction as degrees, or NaN and the reason when the audio is below the activity floor."""
    silent = level_dbfs < ACTIVITY_FLOOR_DBFS
    out: dict[str, Any] = {"azimuth_deg": math.nan if silent else _degrees(directions.azimuth[index])}
    if directions.elevation is not None:
        out["elevation_deg"] = math.nan if silent else _degrees(directions.elevation[index])
    if directions.class_scores is not None:
        out["class"] = None if silent else directions.best_class(index)
    if silent or math.isnan(out["azimuth_deg"]):
        out["no_source"] = (
            f"silent: {level_dbfs:.0f} dBFS, below the {ACTIVITY_FLOOR_DBFS:g} dBFS activity floor"
        )
    return out


class _FramePooler:
    """Pools a frame-wise model's track as it arrives: one segment of frames at a time and the clip.

    Segments and the clip are pooled as :meth:`FrameTrack.pooled_azimuth` pools them (mean posterior of the
    active frames); only the current segment's frames are kept (and the logits, when asked for).
    """

    def __init__(self, audio: AudioBlocks, segment_s: float, keep_logits: bool) -> None:
        self._audio = audio
        self._segment_s = segment_s
        self._keep_logits = keep_logits
        self._first: FrameTrack | None = None  # the first track: class azimuths, hop and frame length
        self._per_segment = 1
        self.frames = 0
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []  # the current segment's (posteriors, active)
        self._clip_sum: np.ndarray | None = None
        self._clip_count = 0
        self._logits: list[np.ndarray] | None = [] if keep_logits else None
        self.segments: list[dict[str, Any]] = []

    def add(self, track: FrameTrack) -> None:
        """The next frames (numbered on from those added before)."""
        if track.num_frames == 0:
            return
        if self._first is None:
            self._first = track
            self._per_segment = max(1, round(self._segment_s / track.hop_s))
            self._clip_sum = np.zeros(track.probabilities.shape[-1])
        assert self._clip_sum is not None
        probabilities = track.probabilities[0]
        active = self._active(track.num_frames)
        self._clip_sum += probabilities[active].sum(axis=0)
        self._clip_count += int(active.sum())
        if self._logits is not None and track.logits is None:
            self._logits = None
        elif self._logits is not None and track.logits is not None:
            self._logits.append(track.logits[0])
        done = 0
        while done < track.num_frames:
            segment_end = (self.frames // self._per_segment + 1) * self._per_segment
            take = min(track.num_frames - done, segment_end - self.frames)
            self._pending.append((probabilities[done : done + take], active[done : done + take]))
            self.frames += take
            done += take
            if self.frames == segment_end:
                self._close_segment()

    def _active(self, count: int) -> np.ndarray:
        """Which of the next ``count`` frames are at or above the activity floor (from their audio)."""
        assert self._first is not None
        rate = self._audio.rate
        starts = ((self.frames + np.arange(count)) * self._first.hop_s * rate).round().astype(int)
        length = round(self._first.frame_s * rate)
        span = self._audio.get(int(starts[0]), int(starts[-1]) + length)
        energy = np.concatenate(([0.0], np.cumsum(np.square(span, dtype=np.float64).sum(axis=0))))
        begin = starts - starts[0]
        end = np.minimum(begin + length, span.shape[1])  # a frame past the end: the samples it has
        power = (energy[end] - energy[begin]) / np.maximum(1, span.shape[0] * (end - begin))
        with np.errstate(divide="ignore"):
            return np.asarray(10.0 * np.log10(np.maximum(power, 0.0)) >= ACTIVITY_FLOOR_DBFS)

    def _close_segment(self) -> None:
        assert self._first is not None
        first, rate = self._first, self._audio.rate
        probabilities = np.concatenate([p for p, _ in self._pending])
        active = np.concatenate([a for _, a in self._pending])
        self._pending = []
        start, stop = self.frames - len(probabilities), self.frames
        track = FrameTrack(probabilities[None], first.class_azimuth, first.hop_s, first.frame_s)
        start_s, end_s = start * first.hop_s, (stop - 1) * first.hop_s + first.frame_s
        level = _level_dbfs(self._audio.get(round(start_s * rate), round(end_s * rate)))
        bounds = {"start_s": round(start_s, 6), "end_s": round(end_s, 6)}
        pooled = Directions(track.pooled_azimuth(active=active))
        self.segments.append({**bounds, **_direction(pooled, level_dbfs=level)})
        self._audio.release(round(stop * first.hop_s * rate))

    def finish(self) -> tuple[dict[str, Any], list[dict[str, Any]], list[Any] | None]:
        """The clip's direction, the segments and the frame logits (``None`` unless kept and given)."""
        if self._pending:
            self._close_segment()
        if self._first is None or self._clip_sum is None or not self._clip_count:
            azimuth = math.nan
        else:
            azimuth = float(self._first.class_azimuth[self._clip_sum.argmax()])
        clip = _direction(Directions(np.array([azimuth])), level_dbfs=self._audio.level_dbfs())
        logits = None if not self._logits else np.concatenate(self._logits).tolist()
        return clip, self.segments, logits


def _mean_direction(found: Sequence[Directions], weights: Sequence[float]) -> Directions:
    """The direction of the weighted mean of unit vectors (azimuth, and elevation when given), and the
    weighted mean of the class scores when every block has them."""
    azimuth = np.array([d.azimuth[0] for d in found])
    elevations = [d.elevation for d in found]
    with_elevation = all(e is not None for e in elevations)
    elevation = np.array([e[0] if e is not None else 0.0 for e in elevations])
    w = np.asarray(weights, dtype=np.float64)
    x = np.sum(w * np.cos(elevation) * np.cos(azimuth))
    y = np.sum(w * np.cos(elevation) * np.sin(azimuth))
    z = np.sum(w * np.sin(elevation))
    scores = [d.class_scores for d in found]
    class_scores = None
    if all(s is not None for s in scores):
        class_scores = np.average(np.stack([s[0] for s in scores if s is not None]), axis=0, weights=w)[None]
    return Directions(
        azimuth=np.array([math.atan2(y, x)]),
        elevation=np.array([math.atan2(z, math.hypot(x, y))]) if with_elevation else None,
        class_scores=class_scores,
        class_names=found[0].class_names if class_scores is not None else None,
    )


def _frame_stream(localizer: Localizer, stream: bool, context_s: float | None) -> FrameStream | None:
    """The model's frame stream, or ``None`` for a model that localizes block by block (clip-level models, and
    frame-wise ones that cannot stream unless ``stream`` asks for it, when their error is raised)."""
    if not isinstance(localizer, FrameStreamingLocalizer):
        return None
    try:
        return localizer.open_stream(localizer.sample_rate, context_s=context_s)
    except ValueError:
        if stream:
            raise
        return None


def _stream_frames(
    frames: FrameStream, audio: AudioBlocks, pooler: _FramePooler, block: int, chunk: int, bar: Any
) -> None:
    """Every block through the stream in ``chunk``-sample pieces, its frames into ``pooler``."""
    for start in range(0, audio.total, block):
        piece = audio.get(start, start + block)
        for at in range(0, piece.shape[1], chunk):
            pooler.add(frames.push(torch.from_numpy(piece[None, :, at : at + chunk])))
        bar.update(piece.shape[1] / audio.rate)


def _localize_blocks(
    localizer: Localizer,
    audio: AudioBlocks,
    *,
    stream: bool,
    chunk: int,
    segment_s: float | None,
    block: int,
    keep_logits: bool,
    bar: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[Any] | None]:
    """A model without a frame stream, one block at a time: clip-level models localize each block and each
    segment; a frame-wise one gives the frames of each block (their context starts with the block)."""
    rate = audio.rate
    if stream:
        assert isinstance(localizer, StreamingLocalizer)
        streaming = localizer

        def run(piece: np.ndarray) -> Directions:
            return streaming.localize_stream(torch.from_numpy(piece)[None], rate, chunk)
    else:

        def run(piece: np.ndarray) -> Directions:
            return localizer.localize(torch.from_numpy(piece)[None], rate)

    length = DEFAULT_SEGMENT_S[False] if segment_s is None else segment_s
    segment = max(localizer.min_samples, round(length * rate))
    blocks = _segment_bounds(audio.total, segment * max(1, round(block / segment)), segment)
    first = run(audio.get(*blocks[0]))
    if first.track is not None:
        return _frames_by_block(localizer, audio, run, first.track, blocks[0][1], segment_s, keep_logits, bar)
    segments_at = _segment_bounds(audio.total, segment, localizer.min_samples)
    found: list[Directions] = []
    weights: list[float] = []
    segments: list[dict[str, Any]] = []
    for index, (start, end) in enumerate(blocks):
        piece = audio.get(start, end)
        directions = first if index == 0 else run(piece)
        if _level_dbfs(piece) >= ACTIVITY_FLOOR_DBFS and not math.isnan(directions.azimuth[0]):
            found.append(directions)
            weights.append(end - start)
        while len(segments) < len(segments_at) and segments_at[len(segments)][1] <= end:
            seg_start, seg_end = segments_at[len(segments)]
            part = piece[:, seg_start - start : seg_end - start]
            seg = localizer.localize(torch.from_numpy(part)[None], rate)
            bounds = {"start_s": round(seg_start / rate, 6), "end_s": round(seg_end / rate, 6)}
            segments.append({**bounds, **_direction(seg, level_dbfs=_level_dbfs(part))})
        audio.release(end)
        bar.update((end - start) / rate)
    if len(blocks) == 1:
        clip = first
    elif found:
        clip = _mean_direction(found, weights)
    else:
        clip = Directions(np.array([math.nan]), None if first.elevation is None else np.array([math.nan]))
    return _direction(clip, level_dbfs=audio.level_dbfs()), segments, None


def _frames_by_block(
    localizer: Localizer,
    audio: AudioBlocks,
    run: Callable[[np.ndarray], Directions],
    track: FrameTrack,
    end: int,
    segment_s: float | None,
    keep_logits: bool,
    bar: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[Any] | None]:
    """A frame-wise model that cannot stream: each block starts at the next frame and gives the frames that
    end inside it (the first block's ``track`` is given)."""
    rate = audio.rate
    hop = track.hop_s * rate
    if abs(hop - round(hop)) > 1e-6:
        raise ValueError(
            f"{type(localizer).__name__}'s frame hop of {track.hop_s} s is not a whole number of samples at "
            f"{rate} Hz: its frames cannot be split into blocks"
        )
    length = max(end, 2 * math.ceil(track.frame_s * rate))
    pooler = _FramePooler(audio, DEFAULT_SEGMENT_S[True] if segment_s is None else segment_s, keep_logits)
    done = 0
    while True:
        pooler.add(track)
        bar.update((end - done) / rate)
        done = end
        start = pooler.frames * round(hop)
        if end >= audio.total or audio.total - start < localizer.min_samples:
            break
        piece = audio.get(start, start + length)
        found = run(piece).track
        if found is None or found.num_frames == 0:
            break
        track, end = found, start + piece.shape[1]
    return pooler.finish()


def localize_file(
    path: str | os.PathLike[str],
    model: str | os.PathLike[str] | Localizer,
    *,
    stream: bool = False,
    segment_s: float | None = None,
    chunk_s: float = 0.1,
    receiver: str = "kemar",
    block_s: float = BLOCK_S,
    context_s: float | None = CONTEXT_S,
    logits: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Localize one audio file, of any length, in bounded memory.

    The file is read, resampled and localized ``block_s`` seconds at a time. A frame-wise model that can
    stream (a :class:`~spatialrep.methods.base.FrameStreamingLocalizer`, e.g. SFD) is fed block by block
    (``stream``: ``chunk_s`` at a time) through its cached state, attending at most ``context_s`` back:
    files up to ``context_s`` long get the frames of one offline pass over the whole file (to float
    rounding); its segments and clip pool the frame posteriors as before, over the whole file. A clip-level
    model (SCE, WSCE, classic) localizes each segment, and each block, on its own: the clip's direction is
    the model's answer for the whole file when it fits in one block, else the mean direction (unit vectors
    weighted by length) of the blocks above the activity floor. A frame-wise model that cannot stream
    localizes each block on its own, the frames lined up across blocks.

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
        block_s: seconds read and localized at a time (:data:`BLOCK_S`; rounded to whole segments for
            clip-level models and to whole chunks with ``stream``).
        context_s: how far back a streaming frame-wise model attends (:data:`CONTEXT_S`); ``None``: its own
            context, the whole past for SFD's default encoder (memory then grows with the file).
        logits: include the frame logits (``frame_logits``; they grow with the file).
        progress: show a progress bar (seconds of audio done) when a file takes more than a second.

    Returns:
        ``{"file", "model", "model_type", "sample_rate", "stream", "clip": {"azimuth_deg"[, "elevation_deg"]},
        "segments": [{"start_s", "end_s", "azimuth_deg"[, "elevation_deg"]}], "frame_logits"}``
        (``frame_logits`` is ``None`` for models without a frame track, or without ``logits``). Audio below
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
    if not (np.isfinite(block_s) and block_s > 0) or (
        context_s is not None and not (np.isfinite(context_s) and context_s > 0)
    ):
        raise ValueError(f"block_s and context_s must be positive seconds, got {block_s} and {context_s}")
    localizer = model if isinstance(model, Localizer) else load_localizer(model, receiver=receiver)
    if stream and not isinstance(localizer, StreamingLocalizer):
        raise ValueError(
            f"--stream needs a streaming model (a causal frame-wise model such as SFD); "
            f"{type(localizer).__name__} localizes whole segments: use --segment instead"
        )
    rate = localizer.sample_rate
    chunk = max(1, round(chunk_s * rate))
    block = max(1, round(block_s * rate))
    if stream:
        block = chunk * max(1, round(block / chunk))
    with AudioBlocks(path, localizer.sample_rate, localizer.num_channels, block) as audio:
        if audio.total < localizer.min_samples:
            shortest = localizer.min_samples
            raise ValueError(
                f"{path} has {audio.total} samples at {rate} Hz, shorter than the model's {shortest}"
            )
        with tqdm(
            total=audio.total / rate,
            desc=Path(path).name,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]",
            disable=not progress,
            leave=False,
            delay=1.0,
            dynamic_ncols=True,
        ) as bar:
            frames = _frame_stream(localizer, stream, context_s)
            if frames is not None:
                length = DEFAULT_SEGMENT_S[True] if segment_s is None else segment_s
                pooler = _FramePooler(audio, length, logits)
                push = chunk if stream else max(1, round(PUSH_S * rate))
                _stream_frames(frames, audio, pooler, block, push, bar)
                clip, segments, frame_logits = pooler.finish()
            else:
                clip, segments, frame_logits = _localize_blocks(
                    localizer, audio, stream=stream, chunk=chunk, segment_s=segment_s, block=block,
                    keep_logits=logits, bar=bar,
                )  # fmt: skip
    return {
        "file": str(path),
        "model": str(model) if not isinstance(model, Localizer) else type(model).__name__,
        "model_type": type(localizer).__name__,
        "sample_rate": rate,
        "stream": stream,
        "clip": clip,
        "segments": segments,
        "frame_logits": frame_logits,
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
    progress: bool = False,
) -> Iterator[dict[str, Any]]:
    """Rows (:data:`ROW_COLUMNS`) for every file under ``paths``: one per file, or one per segment.

    The model is loaded once. A file that cannot be localized gives one row with its ``error`` and the others
    are still processed. Each file is localized in bounded memory (:func:`localize_file`, without logits);
    ``progress`` shows a bar for each file that takes more than a second.

    Raises:
        FileNotFoundError, ValueError: a missing path or model, no audio file, a model that does not localize.
    """
    files = audio_files(paths)
    localizer = model if isinstance(model, Localizer) else load_localizer(model, receiver=receiver)
    for path in files:
        try:
            result = localize_file(
                path,
                localizer,
                stream=stream,
                segment_s=segment_s,
                chunk_s=chunk_s,
                logits=False,
                progress=progress,
            )
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
