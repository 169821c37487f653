"""Audio files in and out, with the checks every loader needs.

Arrays are ``(channels, samples)`` float32/float64 in ``[-1, 1]`` nominal range.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from spatialrep.io.atomic import atomic_path


class AudioFileError(ValueError):
    """An audio file is missing, unreadable, empty or invalid; the message names the file."""


def read_audio(
    path: str | os.PathLike[str],
    *,
    expected_channels: int | None = None,
    expected_sample_rate: int | None = None,
    allow_silence: bool = True,
) -> tuple[np.ndarray, int]:
    """Read an audio file.

    Args:
        path: any format libsndfile reads (WAV, FLAC, OGG, ...).
        expected_channels: if given, a different channel count raises.
        expected_sample_rate: if given, a different rate raises (resample explicitly instead).
        allow_silence: if False, an all-zero file raises.

    Returns:
        ``(audio, sample_rate)`` with audio shaped ``(channels, samples)``, float64.

    Raises:
        AudioFileError: missing, corrupt, empty, non-finite, silent (when not allowed) or mismatched file.
    """
    p = Path(path)
    if p.is_dir():
        raise AudioFileError(f"{p} is a folder, not an audio file")
    if not p.is_file():
        raise AudioFileError(f"audio file not found: {p}")
    try:
        data, rate = sf.read(str(p), dtype="float64", always_2d=True)
    except Exception as exc:  # soundfile raises several types for corrupt data
        raise AudioFileError(f"cannot read audio file {p}: {exc}") from exc
    audio = np.ascontiguousarray(data.T)
    if audio.shape[1] == 0:
        raise AudioFileError(f"audio file {p} is empty (0 samples)")
    if not np.all(np.isfinite(audio)):
        raise AudioFileError(f"audio file {p} contains NaN or inf samples")
    if expected_channels is not None and audio.shape[0] != expected_channels:
        raise AudioFileError(f"audio file {p} has {audio.shape[0]} channels, expected {expected_channels}")
    if expected_sample_rate is not None and rate != expected_sample_rate:
        raise AudioFileError(f"audio file {p} has sample rate {rate} Hz, expected {expected_sample_rate} Hz")
    if not allow_silence and not np.any(audio):
        raise AudioFileError(f"audio file {p} is silent (all samples are zero)")
    return audio, int(rate)


def write_audio(
    path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int, subtype: str | None = None
) -> None:
    """Write ``audio`` ``(channels, samples)`` or ``(samples,)`` atomically (temporary name, then rename).

    The format follows the extension (``.flac``, ``.wav``). FLAC defaults to 24-bit (PCM_24).

    Raises:
        ValueError: non-finite samples or a non-positive sample rate.
    """
    a = np.asarray(audio)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"audio must be (channels, samples) or (samples,); got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"refusing to write non-finite audio to {path}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    p = Path(path)
    if subtype is None and p.suffix.lower() == ".flac":
        subtype = "PCM_24"
    with atomic_path(p) as tmp:
        sf.write(str(tmp), a.T, sample_rate, subtype=subtype, format=p.suffix.lstrip(".").upper() or None)
