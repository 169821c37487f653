"""The simulator's fast paths give exactly the bytes of the reference code they replace."""

import os
from pathlib import Path

import numpy as np
import pytest

from spatialrep import dsp
from spatialrep.data import writer
from spatialrep.data.presets import load_dataset_config
from spatialrep.data.writer import LOCK, render_dataset
from spatialrep.simulate import fastpath, rooms
from spatialrep.simulate.sources import speech


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != LOCK
    }


def test_reference_path_switches_and_restores():
    assert fastpath.enabled() and dsp.filter_cache_enabled()
    with fastpath.reference_path():
        assert not fastpath.enabled() and not dsp.filter_cache_enabled()
    assert fastpath.enabled() and dsp.filter_cache_enabled()


@pytest.mark.filterwarnings("ignore:label budget")
def test_datasets_rendered_fast_and_by_reference_are_byte_identical(tmp_path):
    # Babble (twelve extra talkers per example) and reverberant rooms with a late tail: every fast path runs.
    config = load_dataset_config(
        "binaural-speech-tiny",
        [
            "num_examples=8",
            "shard_size=4",
            "scene.noise_types=[babble, pink]",
            "scene.rt60_range_s=[0.3, 0.6]",
        ],
    )
    render_dataset(config, tmp_path / "fast", workers=1)
    # Nothing computed on the fast path may be reused: renderers (HRTFs resampled at construction) and room
    # decay models are cached per process.
    writer._RENDERERS.clear()
    rooms._decay_model.cache_clear()
    with fastpath.reference_path():
        render_dataset(config, tmp_path / "reference", workers=1)
    fast, reference = _tree(tmp_path / "fast"), _tree(tmp_path / "reference")
    assert sum(name.endswith(".flac") for name in fast) == 8 * 3
    manifest = (tmp_path / "fast" / "manifest.csv").read_text()
    assert "babble" in manifest and "pink" in manifest
    differing = [name for name in reference if fast.get(name) != reference[name]]
    assert sorted(fast) == sorted(reference) and not differing, differing


@pytest.mark.parametrize(
    "voices",
    [
        [
            f"{language}+{speech.DEFAULT_VARIANTS[i % 7]}"
            for i, language in enumerate(speech.DEFAULT_LANGUAGES)
        ],
        [
            f"{speech.DEFAULT_LANGUAGES[i % 12]}+{variant}"
            for i, variant in enumerate(speech.DEFAULT_VARIANTS)
        ],
    ],
    ids=["every-language", "every-variant"],
)
def test_voice_selected_by_file_speaks_exactly_as_by_name(voices):
    rng = np.random.default_rng(7)
    for voice in voices:
        sentences = speech.corpus(voice.partition("+")[0])
        kwargs = {
            "rate": int(rng.integers(130, 211)),
            "pitch": int(rng.integers(30, 71)),
            "pitch_range": int(rng.integers(30, 81)),
            "word_gap": int(rng.integers(0, 4)),
            "seed": int(rng.integers(2**31)),
        }
        text = sentences[int(rng.integers(len(sentences)))]
        fast, _ = speech.synthesize(text, voice, **kwargs)
        with fastpath.reference_path():
            reference, _ = speech.synthesize(text, voice, **kwargs)
        assert fast.size > 1000 and np.array_equal(fast, reference), voice


def test_voice_file_descriptor_reused_behind_our_back_is_reopened():
    speech.synthesize("one", "de")
    fd = speech._VOICE_FILES["de"][0]
    path = speech._voice_file_argument("de", str(speech.espeak_data_path()).encode())
    assert path == f"/proc/self/fd/{fd}".encode()
    os.close(fd)
    stranger = os.open(__file__, os.O_RDONLY)  # may take the freed number
    try:
        again = speech._voice_file_argument("de", str(speech.espeak_data_path()).encode())
        assert again is not None and again != f"/proc/self/fd/{stranger}".encode()
    finally:
        os.close(stranger)


@pytest.mark.parametrize(("orig", "target"), [(22050, 16000), (44100, 24000), (16000, 48000)])
def test_resample_with_reused_filter_is_identical(orig, target):
    x = np.random.default_rng(0).standard_normal((2, 5000))
    fast = dsp.resample(x, orig, target)
    with fastpath.reference_path():
        reference = dsp.resample(x, orig, target)
    assert np.array_equal(fast, reference)


def test_blocked_decay_model_is_identical():
    size = (3.7, 5.3, 9.1)
    fast = rooms._decay_model.__wrapped__(size)
    with fastpath.reference_path():
        reference = rooms._decay_model.__wrapped__(size)
    assert fast.x30 == reference.x30
    assert np.array_equal(fast.log_envelope, reference.log_envelope)
    assert np.array_equal(fast.log_edc, reference.log_edc)


def test_environment_variable_starts_a_process_on_the_reference_path():
    import subprocess
    import sys

    code = "from spatialrep import dsp; from spatialrep.simulate import fastpath; "
    code += "print(fastpath.enabled(), dsp.filter_cache_enabled())"
    env = {**os.environ, fastpath.REFERENCE_ENV: "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
