"""A file's audio at a model's sample rate, read and resampled one block at a time (bounded memory).

Shared by :mod:`spatialrep.inference.localize` and :mod:`spatialrep.inference.embed`.
"""

from __future__ import annotations

import math
import os
import warnings
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np
import soundfile as sf

from spatialrep.dsp import resample
from spatialrep.io.audio import AudioFileError

__all__ = ["SAMPLE_RATE_RANGE", "AudioBlocks"]

SAMPLE_RATE_RANGE = (4000, 384000)
"""Sample rates accepted from files (Hz); anything else is refused rather than resampled into nonsense."""


class AudioBlocks:
    """A file's audio at the model's rate, read (and resampled) one block at a time.

    :meth:`get` returns samples ``[start, end)`` (model rate) as float32 ``(channels, n)``, reading on as
    needed; samples before the point given to :meth:`release` are dropped at the next read, so memory is
    bounded by what the caller still needs plus one block. Resampling is block by block with enough input on
    both sides of each block for the polyphase filter, so the samples equal those of resampling the whole
    file. The checks and messages are those of :func:`spatialrep.io.audio.read_audio`, plus the sample rate.

    Args:
        path: the audio file.
        sample_rate: Hz to deliver (the model's); another file rate is resampled, with a warning.
        num_channels: the channel count the model needs, or ``None`` to accept any.
        block: samples (at ``sample_rate``) read and resampled at a time.

    Raises:
        AudioFileError: a folder, a missing, unreadable or empty file, another channel count; NaN or inf
            samples (when read).
        ValueError: an implausible sample rate (:data:`SAMPLE_RATE_RANGE`).
    """

    def __init__(
        self, path: str | os.PathLike[str], sample_rate: int, num_channels: int | None, block: int
    ) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise AudioFileError(f"{self.path} is a folder, not an audio file")
        if not self.path.is_file():
            raise AudioFileError(f"audio file not found: {self.path}")
        try:
            self._file = sf.SoundFile(str(self.path))
        except Exception as exc:  # soundfile raises several types for corrupt data
            raise AudioFileError(f"cannot read audio file {self.path}: {exc}") from exc
        try:
            self._validate(sample_rate, num_channels)
        except BaseException:
            self._file.close()
            raise
        self.rate = sample_rate
        self.channels = int(self._file.channels)
        self._file_rate = int(self._file.samplerate)
        ratio = Fraction(self.rate, self._file_rate)
        self._up, self._down = ratio.numerator, ratio.denominator
        self._frames = int(self._file.frames)
        self.total = -(-self._frames * self._up // self._down)  # resample_poly's output length
        # The polyphase filter's half length (scipy: 10 * max(up, down) upsampled samples), in input samples.
        self._margin = -(-10 * max(self._up, self._down) // self._up) + 2
        self._block = block
        self._input = np.zeros((self.channels, 0))  # file samples [_input_start, ...), float64
        self._input_start = 0
        self._buffer = np.zeros((self.channels, 0), dtype=np.float32)  # model-rate [_start, _start + width)
        self._start = 0
        self._keep_from = 0
        self._square_sum = 0.0

    def _validate(self, sample_rate: int, num_channels: int | None) -> None:
        if self._file.frames <= 0:
            raise AudioFileError(f"audio file {self.path} is empty (0 samples)")
        if num_channels is not None and self._file.channels != num_channels:
            raise AudioFileError(
                f"audio file {self.path} has {self._file.channels} channels, expected {num_channels}"
            )
        rate = int(self._file.samplerate)
        low, high = SAMPLE_RATE_RANGE
        if not low <= rate <= high:
            raise ValueError(
                f"{self.path} has a sample rate of {rate} Hz, outside the plausible {low}-{high} Hz"
            )
        if rate != sample_rate:
            warnings.warn(
                f"{self.path} is at {rate} Hz; resampling to the model's {sample_rate} Hz",
                UserWarning,
                stacklevel=4,
            )

    def __enter__(self) -> AudioBlocks:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._file.close()

    def _file_samples(self, start: int, end: int) -> np.ndarray:
        """File samples ``[start, end)`` (float64; ``start`` never goes back)."""
        assert start >= self._input_start, (start, self._input_start)
        self._input = self._input[:, start - self._input_start :]
        self._input_start = start
        missing = end - (self._input_start + self._input.shape[1])
        if missing > 0:
            data = self._file.read(missing, dtype="float64", always_2d=True).T
            if data.shape[1] < missing:
                raise AudioFileError(
                    f"audio file {self.path} ends before the {self._frames} samples it declares"
                )
            if not np.all(np.isfinite(data)):
                raise AudioFileError(f"audio file {self.path} contains NaN or inf samples")
            self._input = np.concatenate((self._input, data), axis=1)
        return self._input[:, : end - start]

    def _resampled(self, start: int, end: int) -> np.ndarray:
        """Model-rate samples ``[start, end)``, equal to resampling the whole file."""
        if self._up == self._down:
            return self._file_samples(start, end)
        first = max(0, (start * self._down) // self._up - self._margin)
        first -= first % self._down  # on the output grid: input sample `first` is output `first * up / down`
        last = min(self._frames, -(-end * self._down // self._up) + self._margin)
        out = resample(self._file_samples(first, last), self._file_rate, self.rate)
        offset = first * self._up // self._down
        return out[:, start - offset : end - offset]

    def get(self, start: int, end: int) -> np.ndarray:
        """Samples ``[start, end)`` at the model's rate, float32 ``(channels, n)`` (``end`` is clipped to
        :attr:`total`); ``start`` must not be before the last :meth:`release`."""
        end = min(end, self.total)
        if start < self._keep_from:
            raise RuntimeError(f"samples from {start} on were asked for after release({self._keep_from})")
        while self._start + self._buffer.shape[1] < end:
            done = self._start + self._buffer.shape[1]
            piece = self._resampled(done, min(done + self._block, self.total)).astype(np.float32)
            self._square_sum += float(np.sum(np.square(piece, dtype=np.float64)))
            drop = max(0, min(self._keep_from, done) - self._start)
            self._buffer = np.concatenate((self._buffer[:, drop:], piece), axis=1)
            self._start += drop
        return self._buffer[:, start - self._start : end - self._start]

    def release(self, before: int) -> None:
        """Samples before ``before`` are no longer needed."""
        self._keep_from = max(self._keep_from, before)

    def level_dbfs(self) -> float:
        """RMS level of the whole file, dB re full scale (reads what is left of it, keeping nothing)."""
        self.release(self.total)
        self.get(self.total, self.total)
        power = self._square_sum / max(1, self.channels * self.total)
        return 10.0 * math.log10(power) if power > 0 else -math.inf
