"""Sound sources of the scene simulator: dry, mono, labelled signals drawn from *source banks*.

Banks share one contract (:class:`SourceBank`; details in :mod:`spatialrep.simulate.sources.base`):
``sample(rng, duration_s, sample_rate)`` returns a :class:`SourceClip` of exactly
``round(duration_s * sample_rate)`` samples at RMS :data:`TARGET_RMS`, deterministic in ``rng``; ``units()``
lists disjoint units (speakers, instrument programs, files) and ``partition(units)`` restricts a bank to some
of them, for splits disjoint in voices or clips.

Banks: :class:`EspeakSpeech` (synthetic speech), :class:`MidiEvents` (General MIDI instruments, drums and
sound effects), :class:`ProceduralEvents` (alarms, footsteps, knocks), :class:`AudioFolder` and
:func:`librispeech` (files), :class:`CombinedBank` (a union). :func:`make_source_bank` builds one from a
spec string.
"""

from spatialrep.simulate.sources.base import TARGET_RMS, SourceBank, SourceClip, UnitBank, fit_length
from spatialrep.simulate.sources.combined import CombinedBank
from spatialrep.simulate.sources.events import EVENT_CLASSES, MidiEvents, render_notes
from spatialrep.simulate.sources.folder import AUDIO_EXTENSIONS, AudioFolder, librispeech
from spatialrep.simulate.sources.procedural import PROCEDURAL_UNITS, ProceduralEvents
from spatialrep.simulate.sources.registry import list_source_banks, make_source_bank
from spatialrep.simulate.sources.speech import EspeakSpeech, corpus, synthesize

__all__ = [
    "AUDIO_EXTENSIONS",
    "EVENT_CLASSES",
    "PROCEDURAL_UNITS",
    "TARGET_RMS",
    "AudioFolder",
    "CombinedBank",
    "EspeakSpeech",
    "MidiEvents",
    "ProceduralEvents",
    "SourceBank",
    "SourceClip",
    "UnitBank",
    "corpus",
    "fit_length",
    "librispeech",
    "list_source_banks",
    "make_source_bank",
    "render_notes",
    "synthesize",
]
