import multiprocessing as mp
import os
import threading

import numpy as np
import pytest

from spatialrep.dsp import rms
from spatialrep.simulate.sources import TARGET_RMS, EspeakSpeech, SourceBank, corpus, synthesize
from spatialrep.simulate.sources.speech import (
    DEFAULT_LANGUAGES,
    ESPEAK_SAMPLE_RATE,
    _library_path,
    available_languages,
    corpus_languages,
)

SMALL = {"languages": ["en-us", "de"], "variants": ["m3", "f1"]}


def _clip_signal(seed: int) -> np.ndarray:
    """Module-level so worker processes (spawn) can import it."""
    return EspeakSpeech(**SMALL).sample(np.random.default_rng(seed), 1.5, 16000).signal


def test_synthesize_returns_speech_at_the_library_rate():
    x, rate = synthesize("The quick brown fox jumps over the lazy dog.", "en-us")
    assert rate == ESPEAK_SAMPLE_RATE == 22050
    assert x.dtype == np.float64 and x.ndim == 1
    assert 1.5 < x.size / rate < 5.0  # a sentence of nine words
    assert np.all(np.abs(x) <= 1.0) and rms(x) > 0.01


def test_synthesize_is_repeatable_whatever_ran_before():
    text = "She sells sea shells by the sea shore."
    first, _ = synthesize(text, "en-us+m3", seed=3)
    # The library keeps state between utterances; other calls in between must not change the result.
    synthesize("Something else entirely, spoken fast.", "fr+f1", rate=300, pitch=90, seed=8)
    synthesize("Noch etwas.", "de", seed=1)
    again, _ = synthesize(text, "en-us+m3", seed=3)
    np.testing.assert_array_equal(first, again)
    # The seed drives eSpeak's breath noise, which only breathy variants (victor, whisper...) use.
    breathy, _ = synthesize(text, "en-us+victor", seed=3)
    np.testing.assert_array_equal(breathy, synthesize(text, "en-us+victor", seed=3)[0])
    assert not np.array_equal(breathy, synthesize(text, "en-us+victor", seed=4)[0])


def test_synthesize_parameters_change_the_speech():
    text = "One two three four five six."
    slow, _ = synthesize(text, rate=100)
    fast, _ = synthesize(text, rate=300)
    assert slow.size > 2 * fast.size
    gapped, _ = synthesize(text, rate=175, word_gap=20)
    plain, _ = synthesize(text, rate=175)
    assert gapped.size > plain.size + 0.5 * ESPEAK_SAMPLE_RATE  # five gaps of 200 ms


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"text": ""}, "non-empty"),
        ({"voice": "xx-nowhere"}, "unknown eSpeak language 'xx-nowhere'; valid: .*en-us"),
        ({"voice": "en+nobody"}, "unknown eSpeak voice variant 'nobody'; valid: .*m3"),
        ({"rate": 20}, "rate must be an integer in"),
        ({"pitch": 120}, "pitch must be"),
        ({"pitch_range": -1}, "pitch_range must be"),
        ({"word_gap": 1.5}, "word_gap must be"),
    ],
)
def test_synthesize_rejects_bad_arguments(kwargs, match):
    args = {"text": "hello", **kwargs}
    with pytest.raises(ValueError, match=match):
        synthesize(**args)


def test_private_library_copy_is_not_the_shared_one():
    import espeakng_loader

    assert _library_path() != espeakng_loader.get_library_path()


def test_corpora_are_shipped_and_clean():
    assert set(corpus_languages()) >= {"en", "de", "fr", "es", "it", "nl"}
    assert len(corpus("en")) >= 250
    for language in corpus_languages():
        sentences = corpus(language)
        assert len(sentences) >= 40
        assert len(set(sentences)) == len(sentences), f"duplicate sentences in {language}"
        assert not any(s.startswith("#") for s in sentences)
    assert corpus("en-us") == corpus("en")
    with pytest.raises(ValueError, match="no speech corpus for language 'ja'; corpora exist for: de, en"):
        corpus("ja")


def test_bank_follows_the_source_bank_contract():
    bank = EspeakSpeech(**SMALL)
    assert isinstance(bank, SourceBank)
    assert bank.classes == ("speech",)
    assert bank.units() == ("de+f1", "de+m3", "en-us+f1", "en-us+m3")
    for duration, rate in [(1.0, 16000), (0.7371, 22050), (2.5, 8000), (0.5, 48000)]:
        clip = bank.sample(np.random.default_rng(1), duration, rate)
        assert clip.signal.shape == (round(duration * rate),)
        assert clip.sample_rate == rate
        assert rms(clip.signal) == pytest.approx(TARGET_RMS, rel=1e-9)
        assert np.all(np.isfinite(clip.signal))
        assert clip.label == "speech" and clip.unit in bank.units()
        assert clip.metadata["speaker"] == clip.unit
        # Speech starts at once: the first 100 ms are not silent.
        assert rms(clip.signal[: rate // 10]) > 0.05 * TARGET_RMS
    # Sentences follow each other closely: most 50 ms frames are within 40 dB of the clip level.
    for seed in range(5):
        x = bank.sample(np.random.default_rng(seed), 3.0, 16000).signal
        frames = x.reshape(-1, 800)
        assert np.mean(np.sqrt(np.mean(frames**2, axis=1)) > 0.01 * TARGET_RMS) > 0.7


def test_bank_is_deterministic_and_seed_sensitive():
    bank = EspeakSpeech(**SMALL)
    a = bank.sample(np.random.default_rng(11), 2.0, 16000)
    bank.sample(np.random.default_rng(5), 1.0, 16000)  # unrelated call in between
    b = bank.sample(np.random.default_rng(11), 2.0, 16000)
    np.testing.assert_array_equal(a.signal, b.signal)
    assert a.source_id == b.source_id and a.metadata == b.metadata
    c = bank.sample(np.random.default_rng(12), 2.0, 16000)
    assert not np.array_equal(a.signal, c.signal)


def test_metadata_and_source_id_describe_the_clip():
    clip = EspeakSpeech(**SMALL, rate=(150, 150), pitch=(40, 40)).sample(np.random.default_rng(2), 6.0, 16000)
    meta = clip.metadata
    assert meta["rate"] == 150 and meta["pitch"] == 40
    assert meta["language"] in ("en-us", "de") and meta["variant"] in ("m3", "f1")
    assert len(meta["sentences"]) >= 2  # six seconds need more than one sentence
    assert clip.source_id.startswith(f"espeak:{clip.unit}:p40:r150:")
    assert clip.source_id.endswith("sent" + "+".join(map(str, meta["sentences"])))


def test_every_default_language_speaks():
    bank = EspeakSpeech(variants=["m3"])
    assert bank.units() == tuple(sorted(f"{lang}+m3" for lang in DEFAULT_LANGUAGES))
    for k, unit in enumerate(bank.units()):
        clip = bank.partition([unit]).sample(np.random.default_rng(k), 1.0, 16000)
        assert clip.unit == unit and clip.metadata["language"] == unit.split("+")[0]
        assert rms(clip.signal) == pytest.approx(TARGET_RMS)


def test_partition_restricts_and_keeps_speakers_disjoint():
    bank = EspeakSpeech(**SMALL)
    train = bank.partition(["en-us+m3", "de+m3"])
    test = bank.partition(["en-us+f1", "de+f1"])
    assert set(train.units()).isdisjoint(test.units())
    assert {train.sample(np.random.default_rng(s), 0.3, 8000).unit for s in range(12)} <= set(train.units())
    assert {test.sample(np.random.default_rng(s), 0.3, 8000).unit for s in range(12)} <= set(test.units())
    assert bank.units() == ("de+f1", "de+m3", "en-us+f1", "en-us+m3")  # the original is untouched
    with pytest.raises(ValueError, match=r"unknown unit\(s\) \['fr\+m3'\]; valid units: de\+f1"):
        bank.partition(["fr+m3"])
    with pytest.raises(ValueError, match="empty"):
        bank.partition([])
    with pytest.raises(TypeError, match="not the string"):
        bank.partition("en-us+m3")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"languages": ["klingon"]}, ValueError, "unknown eSpeak language 'klingon'"),
        ({"languages": ["ja"]}, ValueError, "no speech corpus for language 'ja'"),
        ({"variants": ["nobody"]}, ValueError, "unknown eSpeak voice variant 'nobody'"),
        ({"languages": []}, ValueError, "at least one language"),
        ({"languages": "en"}, TypeError, "not a single string"),
        ({"units": ["en-us+nobody"]}, ValueError, r"unknown unit\(s\)"),
        ({"rate": (300, 200)}, ValueError, "rate must be a range"),
        ({"pitch": (10.5, 20)}, ValueError, "pitch must be a range of integers"),
        ({"pause_s": (0.1,)}, ValueError, "pause_s must be a range"),
    ],
)
def test_bank_rejects_bad_configuration(kwargs, error, match):
    with pytest.raises(error, match=match):
        EspeakSpeech(**kwargs)


@pytest.mark.parametrize(
    ("duration", "rate", "label", "error", "match"),
    [
        (0.0, 16000, None, ValueError, "duration_s must be positive"),
        (float("nan"), 16000, None, ValueError, "duration_s must be positive"),
        (1.0, 0, None, ValueError, "sample_rate must be positive"),
        (1.0, 16000.0, None, TypeError, "sample_rate must be an integer"),
        (1e-5, 16000, None, ValueError, "shorter than one sample"),
        (1.0, 16000, "music", ValueError, "unknown class 'music'; valid classes: speech"),
    ],
)
def test_sample_rejects_bad_requests(duration, rate, label, error, match):
    with pytest.raises(error, match=match):
        EspeakSpeech(**SMALL).sample(np.random.default_rng(0), duration, rate, label=label)


def test_espeak_languages_are_discovered():
    assert {"en-us", "en", "de", "fr", "es", "it", "nl"} <= set(available_languages())


def test_threads_get_the_same_clips_as_a_sequential_run():
    expected = [_clip_signal(seed) for seed in range(4)]
    results: dict[int, np.ndarray] = {}

    def work(seed: int) -> None:
        results[seed] = _clip_signal(seed)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in range(4):
        np.testing.assert_array_equal(results[seed], expected[seed])


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_worker_processes_reproduce_the_parent(method):
    if method not in mp.get_all_start_methods():
        pytest.skip(f"start method {method} unavailable on this platform")
    expected = [_clip_signal(seed) for seed in (0, 1)]  # the parent has used espeak before forking
    with mp.get_context(method).Pool(1) as pool:
        got = pool.map(_clip_signal, [0, 1])
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a, b)


def test_private_copy_is_cached_per_library_version(tmp_path, monkeypatch):
    import shutil
    import tempfile

    from spatialrep.simulate.sources import speech

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(speech, "_PRIVATE_LIBRARY", {})
    path = speech._library_path()
    assert path.startswith(str(tmp_path / "spatialrep")) and path.endswith(".so")
    assert speech._library_path() == path  # made once
    reference, _ = synthesize("Cached copy.", seed=2)
    # A cache that cannot be created falls back to a private temporary folder.
    (tmp_path / "blocked").write_text("a file, not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "blocked"))
    monkeypatch.setattr(speech, "_PRIVATE_LIBRARY", {})
    fallback = speech._library_path()
    try:
        assert fallback.startswith(tempfile.gettempdir()) and "spatialrep-espeak-" in fallback
        np.testing.assert_array_equal(synthesize("Cached copy.", seed=2)[0], reference)
    finally:
        shutil.rmtree(os.path.dirname(fallback))


def test_a_voice_that_stays_silent_is_reported(monkeypatch):
    from spatialrep.simulate.sources import speech

    monkeypatch.setattr(speech, "synthesize", lambda *a, **k: (np.zeros(100), ESPEAK_SAMPLE_RATE))
    with pytest.raises(RuntimeError, match="produced no sound for 20 sentences"):
        EspeakSpeech(**SMALL).sample(np.random.default_rng(0), 1.0, 16000)
