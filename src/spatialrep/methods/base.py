"""The model interface: small protocols that every trained model and every classic baseline implements.

* :class:`Localizer` — ``localize(audio (B, C, T), sample_rate) -> Directions``: SFD localizers, SCE / WSCE
  embeddings with their k-NN set, the feed-forward regressor, and the classic GCC-PHAT-ITD, SRP-PHAT and
  MUSIC localizers (:mod:`spatialrep.methods.classic`).
* :class:`StreamingLocalizer` — a localizer that can also run chunk by chunk with cached state
  (``localize_stream``), giving the same output as ``localize``.
* :class:`FrameStreamingLocalizer` — a frame-wise streaming localizer that opens a :class:`FrameStream`: audio
  pushed in any pieces, the frames they complete returned at once, the cache between pushes bounded on
  request (how :func:`spatialrep.inference.localize_file` reads long files in bounded memory).
* :class:`Embedder` — ``embed(audio, sample_rate) -> (B, D)``: a clip embedding for downstream use.
* :class:`QualityMetric` — ``score(reference, test) -> (B,)``: a learned distance between two signals.

Everything that consumes models (``spatialrep localize``, the experiment runners, the benchmark) dispatches on
these protocols only, never on a method's class. They are ``runtime_checkable``: ``isinstance(model,
Localizer)`` checks that the attributes exist.

Angles are radians; audio is float ``(batch, channel, time)`` at the model's ``sample_rate`` (resampling
belongs to whoever reads the file, e.g. :func:`spatialrep.inference.localize_file`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

__all__ = [
    "Directions",
    "Embedder",
    "EventDetector",
    "FrameStream",
    "FrameStreamingLocalizer",
    "FrameTrack",
    "LayeredEmbedder",
    "Localizer",
    "QualityMetric",
    "StreamingLocalizer",
    "check_audio",
]

FloatArray = npt.NDArray[np.float64]


@dataclasses.dataclass(frozen=True)
class FrameTrack:
    """Frame-wise posteriors over azimuth classes (frame-wise models such as SFD).

    Attributes:
        probabilities: ``(batch, frames, classes)``, each row sums to 1.
        class_azimuth: ``(classes,)`` radians, the azimuth of each class.
        hop_s: seconds between frame starts.
        frame_s: seconds one frame covers (frame ``t`` spans ``[t * hop_s, t * hop_s + frame_s)``).
        logits: ``(batch, frames, classes)`` before the softmax, if the model has them.
    """

    probabilities: FloatArray
    class_azimuth: FloatArray
    hop_s: float
    frame_s: float
    logits: FloatArray | None = None

    @property
    def num_frames(self) -> int:
        return int(self.probabilities.shape[1])

    def frame_azimuth(self) -> FloatArray:
        """Most probable class per frame, radians, ``(batch, frames)``."""
        return self.class_azimuth[self.probabilities.argmax(axis=-1)]

    def pooled_azimuth(
        self, start: int = 0, stop: int | None = None, active: npt.ArrayLike | None = None
    ) -> FloatArray:
        """Azimuth of frames ``[start, stop)``: the mean frame posterior, then its most probable class.

        Frames vote with their whole posterior. ``active`` (``(frames,)`` booleans) leaves out the frames
        marked ``False`` (silence); a range without an active frame gives NaN. Returns ``(batch,)``.

        Raises:
            ValueError: an empty frame range, or ``active`` of another length.
        """
        block = self.probabilities[:, start:stop]
        if block.shape[1] == 0:
            raise ValueError(f"no frames in [{start}, {stop}) of a {self.num_frames}-frame track")
        if active is not None:
            mask = np.asarray(active, dtype=bool)
            if mask.shape != (self.num_frames,):
                raise ValueError(f"active must have shape ({self.num_frames},), got {mask.shape}")
            mask = mask[start:stop]
            if not mask.any():
                return np.full(block.shape[0], np.nan)
            block = block[:, mask]
        return self.class_azimuth[block.mean(axis=1).argmax(axis=-1)]


@dataclasses.dataclass(frozen=True)
class Directions:
    """What a :class:`Localizer` returns for a batch of clips.

    Attributes:
        azimuth: ``(batch,)`` radians, 0 = front, +π/2 = left.
        elevation: ``(batch,)`` radians (+ up), or ``None`` for azimuth-only models.
        track: frame-wise posteriors, or ``None`` for clip-level models.
        class_scores: ``(batch, classes)`` sound-class scores of models that also classify, or ``None``.
        class_names: the name of each class of ``class_scores``, or ``None``.
    """

    azimuth: FloatArray
    elevation: FloatArray | None = None
    track: FrameTrack | None = None
    class_scores: FloatArray | None = None
    class_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.azimuth.ndim != 1:
            raise ValueError(f"Directions.azimuth must be (batch,), got shape {self.azimuth.shape}")
        if self.elevation is not None and self.elevation.shape != self.azimuth.shape:
            raise ValueError(
                f"Directions.elevation has shape {self.elevation.shape}, azimuth {self.azimuth.shape}"
            )

        if self.class_names is not None and (
            self.class_scores is None or self.class_scores.shape[-1] != len(self.class_names)
        ):
            raise ValueError("Directions.class_names must name every column of class_scores")

    def __len__(self) -> int:
        return int(self.azimuth.shape[0])

    def best_class(self, index: int = 0) -> str | None:
        """The highest-scoring class of clip ``index`` (its name, else its column), or ``None``."""
        if self.class_scores is None:
            return None
        best = int(np.argmax(self.class_scores[index]))
        return self.class_names[best] if self.class_names is not None else str(best)


@runtime_checkable
class Localizer(Protocol):
    """Direction of arrival of the (single, dominant) source of each clip.

    Attributes:
        sample_rate: Hz the model expects.
        num_channels: channels it expects (2 for binaural, channel 0 = left).
        min_samples: the shortest clip it accepts.
    """

    @property
    def sample_rate(self) -> int: ...

    @property
    def num_channels(self) -> int: ...

    @property
    def min_samples(self) -> int: ...

    def localize(self, audio: Tensor, sample_rate: int) -> Directions:
        """Directions of ``audio`` ``(batch, channels, time)`` sampled at ``sample_rate`` Hz."""
        ...


@runtime_checkable
class StreamingLocalizer(Localizer, Protocol):
    """A :class:`Localizer` that can also process audio chunk by chunk through cached state."""

    def localize_stream(self, audio: Tensor, sample_rate: int, chunk_samples: int) -> Directions:
        """:meth:`localize` fed ``chunk_samples`` at a time; the same result up to float rounding."""
        ...


@runtime_checkable
class FrameStream(Protocol):
    """One open stream of a frame-wise model: push audio, get back the frames it completes.

    Samples are buffered until a frame is complete, so the frames do not depend on how the audio is cut.
    """

    def push(self, audio: Tensor) -> FrameTrack:
        """Feed the next samples ``(batch, channels, time)``; the track of the frames they complete (possibly
        none: ``num_frames == 0``), numbered on from the frames returned before."""
        ...


@runtime_checkable
class FrameStreamingLocalizer(StreamingLocalizer, Protocol):
    """A frame-wise :class:`StreamingLocalizer` that can also be fed piece by piece (:class:`FrameStream`)."""

    def open_stream(
        self, sample_rate: int, *, batch_size: int = 1, context_s: float | None = None
    ) -> FrameStream:
        """A new stream for audio at ``sample_rate`` Hz.

        Args:
            sample_rate: Hz of the audio to be pushed (the model's own rate).
            batch_size: clips streamed side by side.
            context_s: look at most this far back (seconds), so the cached state stays bounded however long
                the stream; ``None``: the model's own context (which may grow with the stream). Up to that
                length the frames equal :meth:`localize`'s to float rounding.

        Raises:
            ValueError: the model cannot stream (or cannot bound its context), or another sample rate.
        """
        ...


@runtime_checkable
class Embedder(Protocol):
    """A clip embedding.

    Attributes:
        sample_rate: Hz the model expects.
        embedding_dim: ``D``.
    """

    @property
    def sample_rate(self) -> int: ...

    @property
    def embedding_dim(self) -> int: ...

    def embed(self, audio: Tensor, sample_rate: int) -> Tensor:
        """Embeddings ``(batch, D)`` of ``audio`` ``(batch, channels, time)``."""
        ...


@runtime_checkable
class LayeredEmbedder(Embedder, Protocol):
    """An :class:`Embedder` with several representations worth keeping (e.g. CLS and patch tokens)."""

    def embed_layers(self, audio: Tensor, sample_rate: int) -> dict[str, Tensor]:
        """Named representations of ``audio`` ``(batch, channels, time)``, each ``(batch, ...)``; the same
        shape for inputs of the same length."""
        ...


@runtime_checkable
class EventDetector(Protocol):
    """Sound events of a clip: class scores, a direction and a distance (SpatialAST, DSpAST).

    Attributes:
        sample_rate: Hz the model expects.
        class_names: the classes of the ``sed`` columns.
    """

    @property
    def sample_rate(self) -> int: ...

    @property
    def class_names(self) -> Any: ...

    def predict(self, audio: Tensor, sample_rate: int) -> dict[str, np.ndarray]:
        """``sed`` ``(batch, classes)`` scores in ``[0, 1]``, and the dominant source's ``azimuth_deg``,
        ``elevation_deg`` and ``distance_m`` ``(batch,)`` of ``audio`` ``(batch, channels, time)``."""
        ...


@runtime_checkable
class QualityMetric(Protocol):
    """A distance between a reference and a test signal (lower = closer)."""

    @property
    def sample_rate(self) -> int: ...

    def score(self, reference: Tensor, test: Tensor) -> Tensor:
        """Scores ``(batch,)`` of ``(batch, channels, time)`` signal pairs."""
        ...


def check_audio(
    audio: Any,
    sample_rate: int,
    *,
    expected_rate: int,
    num_channels: int,
    min_samples: int,
    name: str = "audio",
) -> Tensor:
    """Validate a batch of clips for a model and return it as a float tensor ``(batch, channels, time)``.

    ``(channels, time)`` is accepted as a batch of one.

    Raises:
        TypeError: not a tensor, or not floating point.
        ValueError: another sample rate, another channel count, too short, or NaN / infinite samples.
    """
    if not isinstance(audio, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (batch, channels, time), got {type(audio).__name__}")
    if not audio.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {audio.dtype}")
    if sample_rate != expected_rate:
        raise ValueError(
            f"{name} is at {sample_rate} Hz but the model expects {expected_rate} Hz (resample it)"
        )
    if audio.ndim == 2:
        audio = audio.unsqueeze(0)
    if audio.ndim != 3 or audio.shape[1] != num_channels:
        layout = "binaural, channel 0 = left" if num_channels == 2 else f"{num_channels} channels"
        raise ValueError(
            f"{name} must have shape (batch, {num_channels}, time) ({layout}), got {tuple(audio.shape)}"
        )
    if audio.shape[-1] < min_samples:
        raise ValueError(f"{name} has {audio.shape[-1]} samples, shorter than the model's {min_samples}")
    if not bool(torch.isfinite(audio).all()):
        raise ValueError(f"{name} contains NaN or infinite samples")
    return audio


def localize_batches(
    localizer: Localizer, batches: Iterable[Tensor], sample_rate: int
) -> tuple[npt.NDArray[np.float64], list[str] | None]:
    """Localize every clip of a sequence of batches, without autograd.

    Args:
        batches: ``(batch, channels, time)`` tensors at ``sample_rate`` Hz (e.g. a loader's ``noisy`` field).

    Returns:
        ``(azimuth, classes)``: azimuths in radians, float64, in order; each clip's best class where the
        localizer scored classes for every batch, else ``None``.
    """
    azimuth: list[npt.NDArray[np.float64]] = []
    classes: list[str] | None = []
    with torch.no_grad():
        for audio in batches:
            found = localizer.localize(audio, sample_rate)
            azimuth.append(np.asarray(found.azimuth, dtype=np.float64))
            if found.class_scores is None or classes is None:
                classes = None
            else:
                classes += [str(found.best_class(i)) for i in range(len(found))]
    if not azimuth:
        raise ValueError("localize_batches needs at least one batch")
    return np.concatenate(azimuth), classes
