"""Source banks by name: ``make_source_bank("speech")``, ``make_source_bank("folder:/data/sounds")``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spatialrep.simulate.sources.base import SourceBank
from spatialrep.simulate.sources.combined import CombinedBank
from spatialrep.simulate.sources.events import EVENT_CLASSES, MidiEvents
from spatialrep.simulate.sources.folder import AudioFolder, librispeech
from spatialrep.simulate.sources.procedural import PROCEDURAL_UNITS, ProceduralEvents
from spatialrep.simulate.sources.speech import EspeakSpeech

_SPECS = {
    "speech": "synthetic speech, eSpeak NG (EspeakSpeech)",
    "events": "General MIDI instruments, drums and sound effects, and procedural alarms, footsteps, knocks",
    "midi": "General MIDI instruments, drums and sound effects only (MidiEvents)",
    "procedural": "procedural alarms, footsteps and knocks only (ProceduralEvents)",
    "folder:<path>": "audio files labelled by subfolder, or a CSV with path,label[,unit] (AudioFolder)",
    "librispeech:<path>": "a LibriSpeech subset, units are speakers (librispeech)",
}


def list_source_banks() -> dict[str, str]:
    """Valid specs of :func:`make_source_bank` with a one-line description each."""
    return dict(_SPECS)


def _events(
    classes: Any = None, units: Any = None, soundfont: Any = None, procedural: bool = True
) -> CombinedBank:
    if isinstance(classes, str):
        raise TypeError(f"classes must be a sequence of class names, not the string {classes!r}")
    procedural_classes = sorted({unit.split(":")[0] for unit in PROCEDURAL_UNITS}) if procedural else []
    valid = sorted(EVENT_CLASSES) + procedural_classes
    chosen = valid if classes is None else list(classes)
    unknown = [c for c in chosen if c not in valid]
    if unknown or not chosen:
        raise ValueError(f"unknown event classes {unknown}; valid: {', '.join(sorted(valid))}")
    banks: list[SourceBank] = []
    midi = [c for c in chosen if c in EVENT_CLASSES]
    if midi:
        banks.append(MidiEvents(classes=midi, soundfont=soundfont))
    proc = [c for c in chosen if c in procedural_classes]
    if proc:
        banks.append(ProceduralEvents(classes=proc))
    bank = CombinedBank(banks, name="events")
    return bank if units is None else bank.partition(units)


def make_source_bank(spec: str, **kwargs: Any) -> SourceBank:
    """Build a source bank from its spec.

    Args:
        spec: one of :func:`list_source_banks`: ``"speech"``, ``"events"``, ``"midi"``, ``"procedural"``,
            ``"folder:<path>"`` (a folder or a ``.csv``), ``"librispeech:<path>"``.
        **kwargs: passed to the bank: :class:`EspeakSpeech` (``languages``, ``variants``, ``units``, ranges),
            ``events`` (``classes``, ``units``, ``soundfont``, ``procedural``), :class:`MidiEvents`,
            :class:`ProceduralEvents`, :class:`AudioFolder` (``label``, ``units``, ``fill``, ``check``...),
            :func:`librispeech`.

    Returns:
        The bank.

    Raises:
        ValueError: an unknown spec (the message lists the valid ones), a missing path, or the bank's own
        errors. TypeError: keyword arguments the bank does not take.
    """
    if not isinstance(spec, str):
        raise TypeError(f"source bank spec must be a string, got {spec!r}")
    kind, sep, argument = spec.partition(":")
    if kind == "speech" and not sep:
        return EspeakSpeech(**kwargs)
    if kind == "events" and not sep:
        return _events(**kwargs)
    if kind == "midi" and not sep:
        return MidiEvents(**kwargs)
    if kind == "procedural" and not sep:
        return ProceduralEvents(**kwargs)
    if kind in ("folder", "librispeech") and sep:
        if not argument:
            raise ValueError(f"source bank spec {spec!r} needs a path after '{kind}:'")
        path = Path(argument).expanduser()
        return AudioFolder(path, **kwargs) if kind == "folder" else librispeech(path, **kwargs)
    raise ValueError(f"unknown source bank {spec!r}; valid: {', '.join(_SPECS)}")
