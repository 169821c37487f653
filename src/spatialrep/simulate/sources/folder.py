"""Source banks over audio files: any labelled folder or CSV, and the LibriSpeech layout.

Validation happens in two steps. At scan (construction), every file's header is read (about 0.1 ms a file):
a missing, unreadable (corrupt) or empty file raises :class:`~spatialrep.io.audio.AudioFileError` naming it,
so a bad data set fails before any rendering starts. The samples themselves are checked when a file is read
for a clip: NaN/inf or all-zero files raise ``AudioFileError`` then. Multichannel files are averaged to mono,
other sample rates resampled (band-limited) to the requested rate.

Length: a file longer than the request is cropped at a random offset (a crop that happens to be silent is
redrawn); a shorter one is looped end to end (``fill="loop"``, the default) or placed at a random position in
silence (``fill="pad"``).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from spatialrep.dsp import resample, rms
from spatialrep.io.audio import AudioFileError, read_audio
from spatialrep.simulate.sources.base import (
    FILL_MODES,
    SILENCE_RMS,
    SourceClip,
    UnitBank,
    fit_length,
    normalise_rms,
    num_samples,
    select_units,
)

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff")
"""File suffixes (any case) that :class:`AudioFolder` scans for."""

_LIBRISPEECH_NAME = re.compile(r"^(\d+)-(\d+)-(\d+)\.flac$")


def _check_header(path: Path) -> None:
    if not path.is_file():
        raise AudioFileError(f"audio file not found: {path}")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types for corrupt data
        raise AudioFileError(f"cannot read audio file {path}: {exc}") from exc
    if info.frames <= 0:
        raise AudioFileError(f"audio file {path} is empty (0 samples)")


class AudioFolder(UnitBank):
    """Source bank over labelled audio files.

    ``source`` is either

    - a folder whose first-level subfolders name the classes (``root/dog/*.wav``, ``root/rain/a/b.flac``:
      files at any depth below a class folder belong to it), or, with ``label`` given, any folder whose files
      all get that label; or
    - a ``.csv`` file with a header and columns ``path`` and ``label`` (paths relative to the CSV's folder or
      absolute), plus an optional ``unit`` column (e.g. a speaker or recording id).

    Units are the files (their path relative to the folder, or as written in the CSV) unless the CSV has a
    ``unit`` column; :func:`librispeech` uses speakers. A draw picks a class, a unit, then a file of the unit,
    each uniformly. Hidden files (names starting with ``.``) are skipped.

    Args:
        source: folder or CSV file.
        label: give every file of a folder this class (subfolders are then not classes).
        units: restrict to these units.
        extensions: file suffixes to scan for (folder mode).
        fill: ``"loop"`` or ``"pad"`` for files shorter than a request (see the module docstring).
        check: read every file's header at scan (see the module docstring).

    Raises:
        ValueError: no audio files, files outside any class folder, a CSV without ``path``/``label`` columns
            or with an empty label, a unit with two labels, unknown units, or an unknown ``fill``.
        AudioFileError: a missing, corrupt or empty file (with ``check``).
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        label: str | None = None,
        units: Iterable[str] | None = None,
        extensions: Sequence[str] = AUDIO_EXTENSIONS,
        fill: str = "loop",
        check: bool = True,
    ) -> None:
        path = Path(source)
        if path.is_file() and path.suffix.lower() == ".csv":
            entries = _read_csv(path)
        elif path.is_dir():
            entries = _scan_folder(path, label, extensions)
        else:
            raise ValueError(f"AudioFolder source must be a folder or a .csv file, got {path}")
        self._setup(entries, f"folder:{path}", units, fill, check)

    @classmethod
    def from_files(
        cls,
        files: Iterable[tuple[str | os.PathLike[str], str, str]],
        *,
        name: str = "files",
        units: Iterable[str] | None = None,
        fill: str = "loop",
        check: bool = True,
    ) -> AudioFolder:
        """A bank over explicit ``(path, label, unit)`` triples (see the class docstring for the rest).

        Raises:
            ValueError: no files, an empty label or a unit with two labels.
            AudioFileError: a missing, corrupt or empty file (with ``check``).
        """
        bank = cls.__new__(cls)
        bank._setup([(Path(p), lab, unit) for p, lab, unit in files], name, units, fill, check)
        return bank

    def _setup(
        self,
        entries: list[tuple[Path, str, str]],
        name: str,
        units: Iterable[str] | None,
        fill: str,
        check: bool,
    ) -> None:
        if fill not in FILL_MODES:
            raise ValueError(f"unknown fill {fill!r}; valid: {', '.join(FILL_MODES)}")
        if not entries:
            raise ValueError(f"{name}: no audio files found")
        unit_classes: dict[str, str] = {}
        files: dict[str, list[Path]] = {}
        for path, label, unit in entries:
            if not label:
                raise ValueError(f"{name}: file {path} has an empty label")
            if unit_classes.setdefault(unit, label) != label:
                raise ValueError(
                    f"{name}: unit {unit!r} has two labels, {unit_classes[unit]!r} and {label!r}"
                )
            files.setdefault(unit, []).append(path)
        if check:
            for path, _, _ in entries:
                _check_header(path)
        self.name = name
        self.fill = fill
        self._files = {unit: tuple(sorted(paths)) for unit, paths in files.items()}
        self._unit_classes = {u: unit_classes[u] for u in select_units(list(unit_classes), units, name)}

    def __repr__(self) -> str:
        return f"AudioFolder({self.name!r}, {len(self.classes)} classes, {len(self._unit_classes)} units)"

    def files(self, unit: str | None = None) -> tuple[Path, ...]:
        """The selected files, all or those of one unit, sorted.

        Raises:
            ValueError: unknown unit.
        """
        if unit is None:
            return tuple(sorted(p for u in self._unit_classes for p in self._files[u]))
        if unit not in self._unit_classes:
            raise ValueError(f"{self.name}: unknown unit {unit!r}; valid units: {', '.join(self.units())}")
        return self._files[unit]

    def sample(
        self, rng: np.random.Generator, duration_s: float, sample_rate: int, *, label: str | None = None
    ) -> SourceClip:
        """Draw a clip from one file.

        Args:
            rng: the only source of randomness.
            duration_s: seconds.
            sample_rate: Hz of the returned signal.
            label: force this class.

        Returns:
            A clip of exactly ``round(duration_s * sample_rate)`` samples whose ``source_id`` is the file
            path; ``metadata`` holds ``path``, ``file_sample_rate``, ``file_channels``, ``file_samples`` (at
            the file's rate) and ``offset`` (first sample used at the requested rate, ``None`` when looped or
            padded).

        Raises:
            ValueError: invalid duration, rate or label.
            AudioFileError: the file is unreadable, empty, non-finite or silent.
        """
        n = num_samples(duration_s, sample_rate)
        label, unit = self._choose(rng, label)
        candidates = self._files[unit]
        path = candidates[int(rng.integers(len(candidates)))]
        audio, file_rate = read_audio(path, allow_silence=False)
        mono = audio.mean(axis=0)
        if rms(mono) < SILENCE_RMS:
            raise AudioFileError(f"audio file {path} is silent once its channels are averaged to mono")
        x = resample(mono, file_rate, sample_rate)
        offset: int | None = None
        if x.size > n:
            for _ in range(8):
                offset = int(rng.integers(0, x.size - n + 1))
                clip = x[offset : offset + n]
                if rms(clip) >= SILENCE_RMS:
                    break
            else:
                # Eight silent crops in a row: start at the first clearly non-silent sample instead.
                loud = np.flatnonzero(np.abs(x) > 0.01 * np.max(np.abs(x)))
                offset = int(min(loud[0], x.size - n))
                clip = x[offset : offset + n]
        else:
            clip = fit_length(x, n, rng, self.fill)
        metadata: dict[str, Any] = {
            "path": str(path),
            "file_sample_rate": file_rate,
            "file_channels": int(audio.shape[0]),
            "file_samples": int(audio.shape[1]),
            "offset": offset,
        }
        return SourceClip(
            normalise_rms(clip, f"audio file {path}"), sample_rate, label, str(path), unit, metadata
        )


def _scan_folder(root: Path, label: str | None, extensions: Sequence[str]) -> list[tuple[Path, str, str]]:
    suffixes = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    entries = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or path.suffix.lower() not in suffixes:
            continue
        if not path.is_file():
            continue
        if label is not None:
            entries.append((path, label, relative.as_posix()))
        elif len(relative.parts) < 2:
            raise ValueError(
                f"audio file {path} is not inside a class folder of {root}; move it into root/<class>/ "
                "or pass label=..."
            )
        else:
            entries.append((path, relative.parts[0], relative.as_posix()))
    if not entries:
        raise ValueError(f"no audio files ({', '.join(sorted(suffixes))}) found under {root}")
    return entries


def _read_csv(path: Path) -> list[tuple[Path, str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in reader.fieldnames or []]
        if "path" not in columns or "label" not in columns:
            raise ValueError(f"CSV {path} needs a header with columns 'path' and 'label', got {columns}")
        entries = []
        for line, row in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            if not row["path"]:
                raise ValueError(f"CSV {path} line {line}: empty path")
            if not row["label"]:
                raise ValueError(f"CSV {path} line {line}: empty label for {row['path']}")
            file = Path(row["path"])
            file = file if file.is_absolute() else path.parent / file
            entries.append((file, row["label"], row.get("unit") or row["path"]))
    if not entries:
        raise ValueError(f"CSV {path} lists no files")
    return entries


def librispeech(
    root: str | os.PathLike[str],
    *,
    units: Iterable[str] | None = None,
    fill: str = "loop",
    check: bool = True,
) -> AudioFolder:
    """A speech bank over a LibriSpeech subset (``root/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac``).

    Every utterance is labelled ``"speech"``; units are speaker ids (the first-level folder names, e.g.
    ``"103"``), so splits can be made disjoint in speakers. Transcripts are ignored. Files whose names do not
    follow the LibriSpeech pattern, or disagree with their folders, are skipped.

    Args:
        root: a subset folder such as ``LibriSpeech/train-clean-100``.
        units: restrict to these speakers.
        fill: see :class:`AudioFolder`.
        check: read every file's header at scan.

    Raises:
        ValueError: ``root`` is not a folder or holds no utterances.
        AudioFileError: a corrupt or empty file (with ``check``).
    """
    base = Path(root)
    if not base.is_dir():
        raise ValueError(f"LibriSpeech root is not a folder: {base}")
    entries = []
    for path in sorted(base.glob("*/*/*.flac")):
        match = _LIBRISPEECH_NAME.match(path.name)
        speaker, chapter = path.parent.parent.name, path.parent.name
        if match and match.group(1) == speaker and match.group(2) == chapter:
            entries.append((path, "speech", speaker))
    if not entries:
        raise ValueError(
            f"no LibriSpeech utterances under {base}: "
            "expected <speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac"
        )
    return AudioFolder.from_files(entries, name=f"librispeech:{base}", units=units, fill=fill, check=check)
