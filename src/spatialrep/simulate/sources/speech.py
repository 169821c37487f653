"""Synthetic speech from eSpeak NG, driven in memory through ctypes.

The shared library and its voice data come from the ``espeakng-loader`` wheel. :func:`synthesize` speaks one
text; :class:`EspeakSpeech` is a source bank of many voices (language x voice variant), pitches, speaking
rates and word gaps reading sentences of the corpora shipped in ``spatialrep/_data/corpus``.

Determinism and concurrency. libespeak-ng keeps synthesis state in C globals (pitch-flutter phase, gain
control, wave phase, its noise generator) that carry over from one utterance to the next, so the same call
does not give the same samples twice in one process. :func:`synthesize` therefore loads a fresh instance of
the library for every utterance (``dlopen``, initialise, speak, terminate, ``dlclose``: about 1 ms) and seeds
its noise generator. The library is loaded from spatialrep's own copy of the file (kept in
``$XDG_CACHE_HOME/spatialrep``, by default ``~/.cache/spatialrep``), so an instance loaded by another package
is never shared and ours always unloads. Calls are serialised by a lock; nothing is kept loaded between calls,
so forked and spawned worker processes work alike.

Speed. Selecting a voice by name makes a fresh instance read every voice file of the data folder to find the
one named (about 2.5 ms of the 7 ms an utterance costs). On Linux the voice file of each language is
therefore looked up once per process (by name, in a throw-away instance) and later instances load it directly
(``espeak_SetVoiceByFile`` on ``/proc/self/fd/N``, a descriptor kept open on that file): the same files are
read, and the samples are identical (checked for every default language x variant in the tests).
:func:`spatialrep.simulate.fastpath.reference_path` restores selection by name.
"""

from __future__ import annotations

import _ctypes
import contextlib
import ctypes
import functools
import hashlib
import math
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from spatialrep.dsp import resample
from spatialrep.io.atomic import atomic_path
from spatialrep.simulate import fastpath
from spatialrep.simulate.sources.base import (
    SourceClip,
    UnitBank,
    fit_length,
    normalise_rms,
    num_samples,
    select_units,
)

ESPEAK_SAMPLE_RATE = 22050
"""Hz; libespeak-ng's output rate (checked at every initialisation)."""

SPEECH_LABEL = "speech"

DEFAULT_LANGUAGES = (
    "en-us",
    "en",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-029",
    "en-us-nyc",
    "de",
    "fr",
    "es",
    "es-419",
    "it",
    "nl",
)
"""Languages (eSpeak voice names) of :class:`EspeakSpeech` by default; each reads its language's corpus."""

DEFAULT_VARIANTS = (
    # male
    "m1",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "m8",
    "Alex",
    "Andy",
    "Denis",
    "Gene",
    "Lee",
    "Mario",
    "Michael",
    "antonio",
    "grandpa",
    "paul",
    "quincy",
    "rob",
    "robert",
    "travis",
    "victor",
    # female
    "f1",
    "Andrea",
    "Annie",
    "anika",
    "aunty",
    "belinda",
    "grandma",
    "linda",
    "steph",
)
"""Voice variants (files in ``espeak-ng-data/voices/!v``) used by default. Variants with a built-in echo
(``f2`` to ``f5``, ``m2``, ``Alicia``, ``Marco``, the ``RicishayMax`` and ``robosoft`` series) are left out: a
synthetic echo in the dry signal would masquerade as a room reflection. Robotic, whispering and effect voices
are left out too."""

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE, _PARAM_WORDGAP = 1, 2, 3, 4, 7
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

_LOCK = threading.Lock()
_PRIVATE_LIBRARY: dict[str, Any] = {}


def _renew_lock_in_child() -> None:
    # A fork taken while another thread held the lock would leave the child's copy locked forever.
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_lock_in_child)


def _loader() -> Any:
    try:
        import espeakng_loader
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError(
            "speech synthesis needs the espeakng-loader package (pip install espeakng-loader)"
        ) from exc
    return espeakng_loader


@functools.lru_cache(maxsize=1)
def espeak_data_path() -> Path:
    """Folder of eSpeak NG's voice data (``espeak-ng-data``) shipped by ``espeakng-loader``."""
    return Path(_loader().get_data_path())


def _cache_folders() -> Iterator[Path]:
    yield Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "spatialrep"
    yield Path(tempfile.mkdtemp(prefix="spatialrep-espeak-"))  # only reached when the cache is not writable


def _library_path() -> str:
    """Path of spatialrep's own copy of libespeak-ng (``~/.cache/spatialrep``, made once per library version).

    A copy under another file name is a separate library instance for the dynamic loader, so loading and
    unloading it is never affected by other packages that load the shared ``espeakng-loader`` file.
    """
    cached = _PRIVATE_LIBRARY.get("path")
    if cached is not None and os.path.exists(cached):
        return str(cached)
    source = Path(_loader().get_library_path())
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    errors = []
    for folder in _cache_folders():  # the user cache, else a private temporary folder
        target = folder / f"{source.stem}-{digest}{source.suffix}"
        try:
            if not target.is_file():
                with atomic_path(target) as tmp:
                    shutil.copyfile(source, tmp)
        except OSError as exc:
            errors.append(f"{folder}: {exc}")
            continue
        _PRIVATE_LIBRARY["path"] = str(target)
        return str(target)
    raise RuntimeError(f"cannot copy libespeak-ng for private use: {'; '.join(errors)}")


def _load_library() -> ctypes.CDLL:
    mode = getattr(ctypes, "RTLD_LOCAL", 0)
    try:
        return ctypes.CDLL(_library_path(), mode=mode)
    except (OSError, RuntimeError):
        # No usable private copy (e.g. the cache is on a noexec mount): load the shared file. Results stay
        # deterministic unless another package keeps that file loaded in this process.
        return ctypes.CDLL(str(_loader().get_library_path()), mode=mode)


def _dlclose(handle: int) -> None:
    close = getattr(_ctypes, "dlclose", None) or getattr(_ctypes, "FreeLibrary", None)
    if close is not None:
        close(handle)


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    return ctypes.CDLL(None)


def _seed_libc_rand(seed: int) -> None:
    # The 1.52 library also imports libc rand(); seed it too so no draw depends on the process history.
    with contextlib.suppress(OSError, AttributeError, TypeError):
        _libc().srand(ctypes.c_uint(seed))


class _Voice(ctypes.Structure):
    # The leading fields of espeak_VOICE (speak_lib.h).
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p), ("identifier", ctypes.c_char_p)]


_VOICE_FILES: dict[str, tuple[int, int, int]] = {}
"""language -> (descriptor, st_dev, st_ino) of its voice file, opened once per process."""

_PROC_FD = Path("/proc/self/fd")

_BUFFER_MS = 1000
"""Synthesis buffer of the fast path, ms (eSpeak's default, 60 ms, calls back 17 times a second of speech)."""


def _prepare(lib: Any) -> None:
    """Declare the argument types of the functions :func:`synthesize` calls on a fresh instance."""
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByFile.argtypes = [ctypes.c_char_p]
    lib.espeak_GetCurrentVoice.restype = ctypes.POINTER(_Voice)
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]


def _initialise(lib: Any, data: bytes, buffer_ms: int = 0) -> None:
    rate_hz = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, buffer_ms, data, _INITIALIZE_DONT_EXIT)
    if rate_hz != ESPEAK_SAMPLE_RATE:
        raise RuntimeError(f"libespeak-ng initialisation failed or runs at {rate_hz} Hz (data: {data!r})")


def _voice_file(language: str, data: bytes) -> str | None:
    """``/proc/self/fd/N`` naming the voice file eSpeak selects for ``language``, or ``None`` (no ``/proc``).

    Call with ``_LOCK`` held. The first call per language asks a throw-away library instance which file the
    name selects; the descriptor is checked (device and inode) on every call, so one closed and reused
    behind our back is noticed and the file opened again.
    """
    held = _VOICE_FILES.get(language)
    if held is not None:
        fd, dev, ino = held
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == (dev, ino):
                return f"{_PROC_FD}/{fd}"
        except OSError:
            pass
        del _VOICE_FILES[language]
    if not _PROC_FD.is_dir():
        return None
    lib = _load_library()
    try:
        _prepare(lib)
        _initialise(lib, data)
        try:
            if lib.espeak_SetVoiceByName(language.encode()) != 0:
                return None
            identifier = lib.espeak_GetCurrentVoice().contents.identifier
        finally:
            lib.espeak_Terminate()
    finally:
        handle = lib._handle
        del lib
        _dlclose(handle)
    if not identifier:
        return None
    path = espeak_data_path() / "lang" / identifier.decode()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    st = os.fstat(fd)
    _VOICE_FILES[language] = (fd, st.st_dev, st.st_ino)
    return f"{_PROC_FD}/{fd}"


def _voice_file_argument(voice: str, data: bytes) -> bytes | None:
    """``espeak_SetVoiceByFile``'s argument for ``voice`` (``language[+variant]``), or ``None`` (by name).

    Call with ``_LOCK`` held and no instance loaded (the first call per language loads one).
    """
    language, plus, variant = voice.partition("+")
    path = _voice_file(language, data)
    argument = None if path is None else f"{path}{plus}{variant}".encode()
    # eSpeak copies the argument into a 60-byte buffer.
    return argument if argument is not None and len(argument) < 60 else None


@functools.lru_cache(maxsize=1)
def available_languages() -> tuple[str, ...]:
    """Every language voice in the bundled eSpeak data (lower-case names: ``en-us``, ``de``...), sorted."""
    return tuple(sorted({p.name.lower() for p in (espeak_data_path() / "lang").rglob("*") if p.is_file()}))


@functools.lru_cache(maxsize=1)
def available_variants() -> tuple[str, ...]:
    """Every voice variant in the bundled eSpeak data (``m1``, ``f1``, ``Alex``...), sorted."""
    return tuple(sorted(p.name for p in (espeak_data_path() / "voices" / "!v").iterdir() if p.is_file()))


def _check_voice(voice: str) -> None:
    if not isinstance(voice, str) or not voice:
        raise ValueError(f"voice must be a non-empty string such as 'en-us' or 'en-us+f1', got {voice!r}")
    language, _, variant = voice.partition("+")
    if language.lower() not in available_languages():
        raise ValueError(f"unknown eSpeak language {language!r}; valid: {', '.join(available_languages())}")
    # eSpeak silently ignores an unknown variant, so check it here.
    if variant and variant not in available_variants():
        raise ValueError(
            f"unknown eSpeak voice variant {variant!r}; valid: {', '.join(available_variants())}"
        )


def _check_int(name: str, value: int, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")


def synthesize(
    text: str,
    voice: str = "en-us",
    *,
    rate: int = 175,
    pitch: int = 50,
    pitch_range: int = 50,
    word_gap: int = 0,
    seed: int = 0,
) -> tuple[np.ndarray, int]:
    """Speak ``text`` with eSpeak NG, in memory.

    Args:
        text: UTF-8 text (plain, not SSML).
        voice: eSpeak language, optionally with a variant: ``"en-us"``, ``"de+f1"``, ``"fr+Alex"``.
        rate: speaking rate, words per minute, 80..450.
        pitch: base pitch, 0..99 (50 is the voice's default).
        pitch_range: intonation range, 0..99 (0 is monotone).
        word_gap: extra pause between words, units of 10 ms, 0..100.
        seed: seeds eSpeak's noise generator (breath, frication); same arguments, same samples.

    Returns:
        ``(signal, sample_rate)``: ``(samples,)`` float64 in [-1, 1] at :data:`ESPEAK_SAMPLE_RATE` Hz. May be
        empty for text without anything to say.

    Raises:
        ValueError: empty text, unknown language or variant, or a parameter out of range.
        RuntimeError: libespeak-ng failed to initialise or to synthesise.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    _check_voice(voice)
    _check_int("rate", rate, 80, 450)
    _check_int("pitch", pitch, 0, 99)
    _check_int("pitch_range", pitch_range, 0, 99)
    _check_int("word_gap", word_gap, 0, 100)
    data = str(espeak_data_path()).encode()
    encoded = text.encode("utf-8") + b"\0"
    chunks: list[np.ndarray] = []
    fast = fastpath.enabled()

    def collect(wav: Any, count: int, _events: Any) -> int:
        if wav and count > 0:
            if fast:  # the same samples, without building an array view per callback
                chunks.append(np.frombuffer(ctypes.string_at(wav, 2 * count), dtype=np.int16))
            else:
                chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    callback = _CALLBACK(collect)
    with _LOCK:
        by_file = _voice_file_argument(voice, data) if fastpath.enabled() else None
        lib = _load_library()
        try:
            _prepare(lib)
            _initialise(lib, data, _BUFFER_MS if fast else 0)
            try:
                lib.espeak_SetSynthCallback(callback)
                status = (
                    lib.espeak_SetVoiceByFile(by_file)
                    if by_file
                    else lib.espeak_SetVoiceByName(voice.encode())
                )
                if status != 0:
                    raise ValueError(f"eSpeak could not load voice {voice!r}")
                for param, value in (
                    (_PARAM_RATE, rate),
                    (_PARAM_VOLUME, 100),
                    (_PARAM_PITCH, pitch),
                    (_PARAM_RANGE, pitch_range),
                    (_PARAM_WORDGAP, word_gap),
                ):
                    if lib.espeak_SetParameter(param, int(value), 0) != 0:
                        raise RuntimeError(f"eSpeak rejected parameter {param}={value}")
                lib.espeak_ng_SetRandSeed(int(seed) % 2**31)
                _seed_libc_rand(int(seed) % 2**31)
                status = lib.espeak_Synth(
                    encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
                )
                if status != 0:
                    raise RuntimeError(f"espeak_Synth failed with status {status} for voice {voice!r}")
                lib.espeak_Synchronize()
            finally:
                lib.espeak_Terminate()
        finally:
            handle = lib._handle
            del lib
            _dlclose(handle)
    pcm = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    return pcm.astype(np.float64) / 32768.0, ESPEAK_SAMPLE_RATE


@functools.cache
def corpus(language: str) -> tuple[str, ...]:
    """Sentences of the shipped corpus for ``language`` (by its primary subtag: ``en-us`` reads ``en.txt``).

    Raises:
        ValueError: no corpus for that language (the message lists those available).
    """
    primary = language.lower().split("-")[0]
    folder = resources.files("spatialrep") / "_data" / "corpus"
    path = folder / f"{primary}.txt"
    if not path.is_file():
        raise ValueError(
            f"no speech corpus for language {language!r}; corpora exist for: {', '.join(corpus_languages())}"
        )
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    sentences = tuple(line for line in lines if line and not line.startswith("#"))
    if not sentences:
        raise ValueError(f"speech corpus {path} is empty")
    return sentences


@functools.lru_cache(maxsize=1)
def corpus_languages() -> tuple[str, ...]:
    """Primary language subtags with a shipped corpus (``en``, ``de``...)."""
    folder = resources.files("spatialrep") / "_data" / "corpus"
    return tuple(sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".txt")))


def _trim(x: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """Drop leading and trailing samples below ``threshold`` x peak (eSpeak pads utterances with silence)."""
    if x.size == 0:
        return x
    loud = np.flatnonzero(np.abs(x) > threshold * np.max(np.abs(x)))
    if loud.size == 0:
        return x[:0]
    return x[loud[0] : loud[-1] + 1]


def _check_range(name: str, value: tuple[float, float], lo: float, hi: float) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a range (min, max), got {value!r}") from None
    if not (lo <= a <= b <= hi):
        raise ValueError(f"{name} must be a range (min, max) with {lo} <= min <= max <= {hi}, got {value}")
    return (a, b)


def _int_range(name: str, value: tuple[int, int], lo: int, hi: int) -> tuple[int, int]:
    a, b = _check_range(name, value, lo, hi)
    if a != int(a) or b != int(b):
        raise ValueError(f"{name} must be a range of integers, got {value}")
    return (int(a), int(b))


class EspeakSpeech(UnitBank):
    """Source bank of synthetic speech (class ``"speech"``).

    A clip is one speaker (unit ``"<language>+<variant>"``, e.g. ``"en-us+m3"``) reading consecutive sentences
    of its language's corpus, from a random sentence on, with random pauses between sentences, until the clip
    is full. Pitch, intonation range, rate and word gap are drawn once per clip. The clip starts at speech
    onset and the last sentence is cut where the clip ends. The clip is then resampled from 22 050 Hz (so it
    holds nothing above 11 kHz) and scaled to :data:`~spatialrep.simulate.sources.base.TARGET_RMS`.

    Units are the speakers. The same variant in two languages shares its timbre (formants, pitch range); for a
    split that is disjoint in timbre too, give each split its own ``variants``.

    Args:
        languages: eSpeak language voices (see :func:`available_languages`) with a shipped corpus
            (:func:`corpus_languages`); default :data:`DEFAULT_LANGUAGES`.
        variants: voice variants (see :func:`available_variants`); default :data:`DEFAULT_VARIANTS`.
        units: restrict to these speakers (``"en-us+m3"``...); default all language x variant pairs.
        pitch: base pitch range, 0..99 (inclusive integers).
        pitch_range: intonation range, 0..99.
        rate: speaking rate range, words per minute, 80..450.
        word_gap: extra gap between words range, units of 10 ms, 0..100.
        pause_s: pause between sentences range, seconds.

    Raises:
        ValueError: unknown languages, variants or units (messages list the valid ones), languages without a
            corpus, or invalid ranges.
    """

    name = "espeak"

    def __init__(
        self,
        *,
        languages: Sequence[str] | None = None,
        variants: Sequence[str] | None = None,
        units: Iterable[str] | None = None,
        pitch: tuple[int, int] = (30, 70),
        pitch_range: tuple[int, int] = (30, 80),
        rate: tuple[int, int] = (130, 210),
        word_gap: tuple[int, int] = (0, 3),
        pause_s: tuple[float, float] = (0.15, 0.6),
    ) -> None:
        langs = tuple(DEFAULT_LANGUAGES if languages is None else languages)
        vars_ = tuple(DEFAULT_VARIANTS if variants is None else variants)
        if isinstance(languages, str) or isinstance(variants, str):
            raise TypeError("languages and variants must be sequences of names, not a single string")
        if not langs or not vars_:
            raise ValueError("EspeakSpeech needs at least one language and one variant")
        for language in langs:
            _check_voice(language)
            corpus(language)
        for variant in vars_:
            _check_voice(f"en+{variant}")
        self.languages = langs
        self.variants = vars_
        all_units = [f"{lang}+{var}" for lang in langs for var in vars_]
        self._unit_classes = dict.fromkeys(select_units(all_units, units, "EspeakSpeech"), SPEECH_LABEL)
        self.pitch = _int_range("pitch", pitch, 0, 99)
        self.pitch_range = _int_range("pitch_range", pitch_range, 0, 99)
        self.rate = _int_range("rate", rate, 80, 450)
        self.word_gap = _int_range("word_gap", word_gap, 0, 100)
        self.pause_s = _check_range("pause_s", pause_s, 0.0, 10.0)

    def __repr__(self) -> str:
        return f"EspeakSpeech({len(self._unit_classes)} speakers, languages={list(self.languages)})"

    def sample(
        self, rng: np.random.Generator, duration_s: float, sample_rate: int, *, label: str | None = None
    ) -> SourceClip:
        """Draw one speech clip.

        Args:
            rng: the only source of randomness.
            duration_s: seconds.
            sample_rate: Hz of the returned signal.
            label: ``None`` or ``"speech"``.

        Returns:
            A clip of exactly ``round(duration_s * sample_rate)`` samples; ``metadata`` holds ``speaker``,
            ``language``, ``variant``, ``pitch``, ``pitch_range``, ``rate``, ``word_gap`` and ``sentences``
            (corpus indices read).

        Raises:
            ValueError: invalid duration, rate or label.
            RuntimeError: eSpeak produced no sound for many sentences in a row.
        """
        n = num_samples(duration_s, sample_rate)
        _, speaker = self._choose(rng, label)
        language, _, variant = speaker.partition("+")
        sentences = corpus(language)
        params = {
            "pitch": int(rng.integers(self.pitch[0], self.pitch[1] + 1)),
            "pitch_range": int(rng.integers(self.pitch_range[0], self.pitch_range[1] + 1)),
            "rate": int(rng.integers(self.rate[0], self.rate[1] + 1)),
            "word_gap": int(rng.integers(self.word_gap[0], self.word_gap[1] + 1)),
        }
        index = int(rng.integers(len(sentences)))
        # A margin of native samples so the resampled signal surely reaches n.
        needed = math.ceil(n * ESPEAK_SAMPLE_RATE / sample_rate) + 64
        pieces: list[np.ndarray] = []
        read: list[int] = []
        total = 0
        failures = 0
        while total < needed:
            seed = int(rng.integers(2**31))
            speech, _ = synthesize(sentences[index], speaker, seed=seed, **params)
            speech = _trim(speech)
            read.append(index)
            index = (index + 1) % len(sentences)
            if speech.size == 0:
                failures += 1
                if failures > 20:
                    raise RuntimeError(f"eSpeak voice {speaker!r} produced no sound for 20 sentences")
                continue
            if pieces:
                pause = np.zeros(round(rng.uniform(*self.pause_s) * ESPEAK_SAMPLE_RATE))
                pieces.append(pause)
                total += pause.size
            pieces.append(speech)
            total += speech.size
        signal = resample(np.concatenate(pieces), ESPEAK_SAMPLE_RATE, sample_rate)
        source_id = (
            f"espeak:{speaker}:p{params['pitch']}:r{params['rate']}:g{params['word_gap']}:"
            f"sent{'+'.join(str(i) for i in read)}"
        )
        signal = normalise_rms(fit_length(signal, n), source_id)
        metadata: dict[str, Any] = {
            "speaker": speaker,
            "language": language,
            "variant": variant,
            **params,
            "sentences": read,
        }
        return SourceClip(signal, sample_rate, SPEECH_LABEL, source_id, speaker, metadata)
