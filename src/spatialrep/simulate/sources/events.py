"""Sound events rendered from General MIDI with TinySoundFont: instruments, drum kits and GM sound effects.

Each class lists General MIDI programs (its *units*); a clip is a short randomised phrase of one program: a
random walk over a scale within the class's key range (chords for keyboards and guitars), groups of notes with
short rests, random velocities and note lengths; drum kits play a random two-bar pattern at a random tempo;
sound effects (bird, telephone, gunshot...) play bursts or sustained notes. Phrases fill the whole clip.

The soundfont is ``TimGM6mb.sf2`` shipped inside the ``pretty_midi`` wheel (by Tim Brechbill; GNU GPL v2, see
``spatialrep/_data/SOUNDFONT_NOTICE.txt``); it is read from the installed ``pretty_midi`` package, not copied
into this project. Any other General MIDI ``.sf2`` can be given instead. Rendering needs the ``tinysoundfont``
package (``pip install --no-deps tinysoundfont``: its ``pyaudio`` dependency is only for live playback).
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from spatialrep.dsp import resample
from spatialrep.simulate.sources.base import (
    SourceClip,
    UnitBank,
    fit_length,
    normalise_rms,
    num_samples,
    select_units,
)

RENDER_RATE = 44100
"""Hz; TinySoundFont renders at this rate, then the clip is resampled (band-limited) to the requested rate."""

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_PENTATONIC = (0, 2, 4, 7, 9)
_DRUM_CHANNEL = 9


@dataclass(frozen=True)
class EventStyle:
    """How one class plays.

    Attributes:
        programs: General MIDI program numbers (0-based), or drum kit numbers when ``drums``.
        keys: inclusive MIDI key range.
        ioi_s: onset-to-onset interval range within a group of notes, seconds.
        note_s: note length range, seconds (ignored when ``legato``).
        group: notes per group (phrase) range; groups are separated by ``rest_s``.
        rest_s: rest between groups range, seconds.
        chord: notes per onset range (stacked scale thirds above the melody note).
        velocity: MIDI velocity range.
        legato: notes last until the next onset.
        tonal: walk over a major/minor/pentatonic scale; otherwise keys are drawn uniformly (sound effects).
        sustain: a single note held over the whole clip (helicopter, applause).
        preroll_s: render this long before the clip starts, so slow attacks are already under way.
        drums: play a drum pattern on the percussion channel; ``programs`` are drum kits.
    """

    programs: tuple[int, ...]
    keys: tuple[int, int] = (48, 84)
    ioi_s: tuple[float, float] = (0.15, 0.5)
    note_s: tuple[float, float] = (0.2, 1.0)
    group: tuple[int, int] = (4, 12)
    rest_s: tuple[float, float] = (0.0, 0.5)
    chord: tuple[int, int] = (1, 1)
    velocity: tuple[int, int] = (60, 120)
    legato: bool = False
    tonal: bool = True
    sustain: bool = False
    preroll_s: float = 0.0
    drums: bool = False


EVENT_CLASSES: dict[str, EventStyle] = {
    "piano": EventStyle((0, 1, 2, 3), keys=(45, 88), ioi_s=(0.12, 0.5), note_s=(0.2, 1.2), chord=(1, 3)),
    "guitar": EventStyle(
        (24, 25, 26, 27), keys=(40, 76), ioi_s=(0.15, 0.5), note_s=(0.25, 1.0), chord=(1, 3)
    ),
    "violin": EventStyle((40, 41, 110), keys=(55, 88), ioi_s=(0.25, 0.9), legato=True),
    "bass": EventStyle((32, 33, 34, 35), keys=(28, 52), ioi_s=(0.2, 0.6), note_s=(0.15, 0.6)),
    "brass": EventStyle((56, 57, 59, 60), keys=(48, 79), ioi_s=(0.2, 0.7), note_s=(0.15, 0.8)),
    "saxophone": EventStyle((64, 65, 66, 67), keys=(49, 80), ioi_s=(0.15, 0.6), note_s=(0.15, 0.7)),
    "flute": EventStyle((72, 73, 74, 75), keys=(60, 93), ioi_s=(0.15, 0.7), legato=True),
    "organ": EventStyle((16, 17, 18, 19), keys=(36, 84), ioi_s=(0.3, 1.2), chord=(1, 4), legato=True),
    "bell": EventStyle((9, 10, 14, 112), keys=(60, 90), ioi_s=(0.2, 0.8), note_s=(0.3, 1.5)),
    "marimba": EventStyle((11, 12, 13), keys=(48, 89), ioi_s=(0.1, 0.4), note_s=(0.1, 0.5), chord=(1, 2)),
    "drums": EventStyle((0, 8, 16, 24, 25, 32, 40, 48), drums=True),
    "bird": EventStyle(
        (123,),
        keys=(55, 70),
        ioi_s=(0.08, 0.25),
        note_s=(0.08, 0.2),
        group=(2, 6),
        rest_s=(0.1, 0.6),
        tonal=False,
    ),
    "telephone": EventStyle(
        (124,),
        keys=(57, 64),
        ioi_s=(0.25, 0.3),
        note_s=(0.25, 0.3),
        group=(3, 6),
        rest_s=(0.3, 0.9),
        tonal=False,
    ),
    "helicopter": EventStyle((125,), keys=(50, 70), sustain=True, preroll_s=3.0, tonal=False),
    "applause": EventStyle((126,), keys=(48, 72), sustain=True, preroll_s=1.0, tonal=False),
    "gunshot": EventStyle(
        (127,),
        keys=(48, 64),
        ioi_s=(0.1, 0.3),
        note_s=(0.1, 0.3),
        group=(1, 3),
        rest_s=(0.3, 1.5),
        tonal=False,
    ),
    "seashore": EventStyle(
        (122,),
        keys=(45, 65),
        ioi_s=(1.5, 3.5),
        note_s=(2.5, 5.0),
        group=(100, 100),
        preroll_s=1.0,
        tonal=False,
    ),
}
"""The classes of :class:`MidiEvents` and how each plays. Programs follow General MIDI numbering from 0."""

# Drum keys of the General MIDI percussion map.
_KICK, _SNARE, _HAT, _OPEN_HAT, _CRASH, _RIDE = 36, 38, 42, 46, 49, 51
_TOMS = (41, 43, 45, 47, 48, 50)
_DRUM_KEYS = (_KICK, _SNARE, _HAT, _OPEN_HAT, _CRASH, _RIDE, *_TOMS)


def default_soundfont() -> Path:
    """Path of ``TimGM6mb.sf2`` inside the installed ``pretty_midi`` package.

    Raises:
        ImportError: ``pretty_midi`` is not installed.
        ValueError: the file is missing from the installed package.
    """
    path = Path(str(resources.files("pretty_midi") / "TimGM6mb.sf2"))
    if not path.is_file():
        raise ValueError(
            f"pretty_midi does not ship its soundfont at {path}; pass soundfont=<path to a .sf2>"
        )
    return path


@functools.lru_cache(maxsize=4)
def _soundfont_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


def _synth(path: str) -> tuple[Any, int]:
    try:
        import tinysoundfont
    except ImportError as exc:
        raise ImportError(
            "MidiEvents needs the tinysoundfont package: pip install --no-deps tinysoundfont"
        ) from exc
    synth = tinysoundfont.Synth(samplerate=RENDER_RATE)
    try:
        sfid = synth.sfload(_soundfont_bytes(path))
    except Exception as exc:  # tinysoundfont raises bare Exceptions for unreadable files
        raise ValueError(f"cannot load soundfont {path}: {exc}") from exc
    return synth, sfid


def _unit_name(label: str, style: EventStyle, program: int) -> str:
    return f"{label}:{'kit' if style.drums else 'gm'}{program:03d}"


@functools.lru_cache(maxsize=1024)
def _sounding_keys(path: str, program: int, drums: bool, keys: tuple[int, ...]) -> tuple[int, ...]:
    """The ``keys`` that produce sound with this program: soundfonts can leave gaps in a preset's key map.

    Raises:
        ValueError: none of ``keys`` sounds.
    """
    synth, sfid = _synth(path)
    channel = _DRUM_CHANNEL if drums else 0
    synth.program_select(channel, sfid, 0, program, is_drums=drums)
    probe = round(0.05 * RENDER_RATE)
    sounding = []
    for key in keys:
        synth.noteon(channel, key, 100)
        audio = np.frombuffer(synth.generate(probe), dtype=np.float32)
        if np.sqrt(np.mean(np.square(audio, dtype=np.float64))) > 1e-4:
            sounding.append(key)
        synth.noteoff(channel, key)
        synth.sounds_off(channel)
        synth.generate(probe)  # let the quick release finish before the next key
    if not sounding:
        raise ValueError(f"soundfont {path} program {program} (drums={drums}) is silent for keys {keys}")
    return tuple(sounding)


def _melody(
    style: EventStyle, keys: Sequence[int], rng: np.random.Generator, total_s: float
) -> list[tuple[float, float, int, int]]:
    """Notes ``(on_s, off_s, key, velocity)`` using only ``keys``; times from the start of the pre-roll."""
    vel_lo, vel_hi = style.velocity
    if style.sustain:
        return [
            (0.0, total_s + 1.0, keys[int(rng.integers(len(keys)))], int(rng.integers(vel_lo, vel_hi + 1)))
        ]
    if style.tonal:
        scale = (_MAJOR, _MINOR, _PENTATONIC)[int(rng.integers(3))]
        tonic = int(rng.integers(12))
        allowed = [k for k in keys if (k - tonic) % 12 in scale] or list(keys)
    else:
        allowed = list(keys)
    position = int(rng.integers(len(allowed)))
    notes: list[tuple[float, float, int, int]] = []
    t = float(rng.uniform(0.0, min(0.05, 0.25 * total_s)))  # early enough for very short clips
    while t < total_s:
        for _ in range(int(rng.integers(style.group[0], style.group[1] + 1))):
            if t >= total_s:
                break
            ioi = float(rng.uniform(*style.ioi_s))
            length = (
                ioi * float(rng.uniform(0.95, 1.05)) if style.legato else float(rng.uniform(*style.note_s))
            )
            if style.tonal:
                # Reflecting random walk of up to three scale steps keeps phrases melodic and in range.
                position += int(rng.integers(-3, 4))
                position = abs(position) if position < 0 else position
                if position >= len(allowed):
                    position = max(0, 2 * (len(allowed) - 1) - position)
            else:
                position = int(rng.integers(len(allowed)))
            velocity = int(rng.integers(vel_lo, vel_hi + 1))
            size = int(rng.integers(style.chord[0], style.chord[1] + 1))
            for j in range(size):
                index = position + 2 * j
                if index < len(allowed):
                    notes.append((t, t + length, allowed[index], velocity))
            t += ioi
        t += float(rng.uniform(*style.rest_s))
    return notes


def _drum_pattern(
    keys: Sequence[int], rng: np.random.Generator, total_s: float
) -> list[tuple[float, float, int, int]]:
    """A random two-bar pattern of eighth notes at a random tempo, repeated to fill ``total_s``.

    Hits on drum keys missing from ``keys`` (the kit's sounding keys) are dropped.
    """
    step_s = 30.0 / float(rng.uniform(70.0, 160.0))
    cymbal = _RIDE if rng.random() < 0.3 else _HAT
    pattern: list[list[int]] = []
    for step in range(16):
        hits = []
        if rng.random() < (0.95 if step % 8 == 0 else 0.2):
            hits.append(_KICK)
        if rng.random() < (0.95 if step % 8 == 4 else 0.08):
            hits.append(_SNARE)
        if rng.random() < 0.85:
            hits.append(_OPEN_HAT if cymbal == _HAT and rng.random() < 0.1 else cymbal)
        if step >= 12 and rng.random() < 0.25:
            hits.append(_TOMS[int(rng.integers(len(_TOMS)))])
        pattern.append(hits)
    if rng.random() < 0.5:
        pattern[0].append(_CRASH)
    notes = []
    t = float(rng.uniform(0.0, min(0.05, 0.25 * total_s)))  # early enough for very short clips
    step = 0
    while t < total_s:
        for key in pattern[step % 16]:
            if key in keys:
                notes.append((t, t + 0.2, key, int(rng.integers(70, 128))))
        t += step_s
        step += 1
    return notes


def render_notes(
    notes: Sequence[tuple[float, float, int, int]],
    program: int,
    *,
    drums: bool = False,
    duration_s: float,
    soundfont: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """Render notes of one General MIDI program (or drum kit) to mono audio.

    Args:
        notes: ``(on_s, off_s, key, velocity)`` tuples; times in seconds from the start.
        program: General MIDI program (0..127), or drum kit number when ``drums``.
        drums: play on the percussion channel.
        duration_s: length of the rendering, seconds.
        soundfont: ``.sf2`` path; default :func:`default_soundfont`.

    Returns:
        ``(round(duration_s * RENDER_RATE),)`` float64 at :data:`RENDER_RATE` Hz (the two output channels
        averaged).

    Raises:
        ValueError: an unreadable soundfont or a program it lacks.
    """
    path = str(default_soundfont() if soundfont is None else soundfont)
    synth, sfid = _synth(path)
    channel = _DRUM_CHANNEL if drums else 0
    try:
        synth.program_select(channel, sfid, 0, int(program), is_drums=drums)
    except RuntimeError as exc:
        raise ValueError(f"soundfont {path} has no {'drum kit' if drums else 'program'} {program}") from exc
    total = round(duration_s * RENDER_RATE)
    # (sample, order, key, velocity): note-offs sort before note-ons at the same sample, so retriggers sound.
    events: list[tuple[int, int, int, int]] = []
    for on_s, off_s, key, velocity in notes:
        events.append((round(on_s * RENDER_RATE), 1, key, velocity))
        events.append((round(off_s * RENDER_RATE), 0, key, 0))
    events.sort()
    chunks: list[np.ndarray] = []
    position = 0
    for sample, is_on, key, velocity in events:
        sample = min(max(sample, 0), total)
        if sample > position:
            chunks.append(np.frombuffer(synth.generate(sample - position), dtype=np.float32))
            position = sample
        if is_on:
            synth.noteon(channel, key, velocity)
        else:
            synth.noteoff(channel, key)
    if total > position:
        chunks.append(np.frombuffer(synth.generate(total - position), dtype=np.float32))
    stereo = np.concatenate(chunks).astype(np.float64) if chunks else np.zeros(0)
    return stereo.reshape(-1, 2).mean(axis=1)


class MidiEvents(UnitBank):
    """Source bank of General MIDI sound events (see :data:`EVENT_CLASSES` for the classes).

    Units are the programs of each class, named ``"<class>:gm<program>"`` (``"piano:gm000"``) or
    ``"drums:kit<kit>"``. A split by units keeps instrument timbres disjoint; classes with a single program
    (the sound effects) then fall wholly into one side, and a bank restricted to units without any of a
    class's programs no longer lists that class.

    Args:
        classes: restrict to these classes; default all of :data:`EVENT_CLASSES`.
        units: restrict to these units; default all units of the selected classes.
        soundfont: General MIDI ``.sf2`` path; default :func:`default_soundfont`.

    Raises:
        ValueError: unknown classes or units (the message lists the valid ones), or a soundfont lacking a
            program.
        ImportError: ``tinysoundfont`` is not installed.
    """

    name = "midi-events"

    def __init__(
        self,
        *,
        classes: Sequence[str] | None = None,
        units: Iterable[str] | None = None,
        soundfont: str | os.PathLike[str] | None = None,
    ) -> None:
        if isinstance(classes, str):
            raise TypeError(f"classes must be a sequence of class names, not the string {classes!r}")
        chosen = tuple(EVENT_CLASSES) if classes is None else tuple(classes)
        unknown = [c for c in chosen if c not in EVENT_CLASSES]
        if unknown or not chosen:
            raise ValueError(f"unknown event classes {unknown}; valid: {', '.join(sorted(EVENT_CLASSES))}")
        path = default_soundfont() if soundfont is None else Path(soundfont)
        if not path.is_file():
            raise ValueError(f"soundfont not found: {path}")
        self.soundfont = str(path)
        self._programs: dict[str, tuple[str, int]] = {
            _unit_name(label, EVENT_CLASSES[label], program): (label, program)
            for label in chosen
            for program in EVENT_CLASSES[label].programs
        }
        self._unit_classes = {
            unit: self._programs[unit][0] for unit in select_units(list(self._programs), units, "MidiEvents")
        }
        self._check_presets()

    def _check_presets(self) -> None:
        synth, sfid = _synth(self.soundfont)
        for unit in self._unit_classes:
            label, program = self._programs[unit]
            bank = 128 if EVENT_CLASSES[label].drums else 0
            if synth.sfpreset_name(sfid, bank, program) is None:
                raise ValueError(
                    f"soundfont {self.soundfont} has no preset bank {bank} program {program} ({unit})"
                )

    def __repr__(self) -> str:
        return f"MidiEvents({len(self.classes)} classes, {len(self._unit_classes)} programs)"

    def sample(
        self, rng: np.random.Generator, duration_s: float, sample_rate: int, *, label: str | None = None
    ) -> SourceClip:
        """Draw one event clip.

        Args:
            rng: the only source of randomness.
            duration_s: seconds.
            sample_rate: Hz of the returned signal.
            label: force this class.

        Returns:
            A clip of exactly ``round(duration_s * sample_rate)`` samples; ``metadata`` holds ``program``,
            ``drums``, ``preset`` (the soundfont's preset name), ``num_notes`` and ``keys`` (min, max).

        Raises:
            ValueError: invalid duration, rate or label.
        """
        n = num_samples(duration_s, sample_rate)
        label, unit = self._choose(rng, label)
        style = EVENT_CLASSES[label]
        _, program = self._programs[unit]
        # A little extra so the resampled clip surely covers n samples.
        span_s = style.preroll_s + n / sample_rate + 0.01
        if style.drums:
            keys = _sounding_keys(self.soundfont, program, True, _DRUM_KEYS)
            notes = _drum_pattern(keys, rng, span_s)
        else:
            keys = _sounding_keys(
                self.soundfont, program, False, tuple(range(style.keys[0], style.keys[1] + 1))
            )
            notes = _melody(style, keys, rng, span_s)
        audio = render_notes(notes, program, drums=style.drums, duration_s=span_s, soundfont=self.soundfont)
        audio = audio[round(style.preroll_s * RENDER_RATE) :]
        signal = fit_length(resample(audio, RENDER_RATE, sample_rate), n)
        played = [note[2] for note in notes]
        source_id = f"gm:{unit}:{len(notes)}notes:{_digest(notes)}"
        metadata: dict[str, Any] = {
            "program": program,
            "drums": style.drums,
            "preset": _preset_name(self.soundfont, program, style.drums),
            "num_notes": len(notes),
            "keys": [min(played), max(played)] if played else [],
        }
        return SourceClip(
            normalise_rms(signal, f"{source_id} ({self.soundfont})"),
            sample_rate,
            label,
            source_id,
            unit,
            metadata,
        )


@functools.lru_cache(maxsize=512)
def _preset_name(path: str, program: int, drums: bool) -> str:
    synth, sfid = _synth(path)
    return str(synth.sfpreset_name(sfid, 128 if drums else 0, program))


def _digest(notes: Sequence[tuple[float, float, int, int]]) -> str:
    """Short stable fingerprint of a phrase (identifies the content in ``source_id``)."""
    text = ";".join(f"{a:.4f},{b:.4f},{k},{v}" for a, b, k, v in notes)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


__all__ = ["EVENT_CLASSES", "RENDER_RATE", "EventStyle", "MidiEvents", "default_soundfont", "render_notes"]
