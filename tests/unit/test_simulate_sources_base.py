import pickle

import numpy as np
import pytest
import soundfile as sf

from spatialrep.dsp import rms
from spatialrep.simulate.sources import (
    TARGET_RMS,
    EspeakSpeech,
    SourceClip,
    fit_length,
    list_source_banks,
    make_source_bank,
)
from spatialrep.simulate.sources.base import normalise_rms, num_samples, select_units


def test_fit_length_crops_loops_and_pads():
    x = np.arange(1.0, 11.0)
    np.testing.assert_array_equal(fit_length(x, 4), [1, 2, 3, 4])
    crop = fit_length(x, 4, np.random.default_rng(0))
    assert crop.size == 4 and np.all(np.diff(crop) == 1)
    np.testing.assert_array_equal(fit_length(x, 25), np.tile(x, 3)[:25])
    looped = fit_length(x, 25, np.random.default_rng(1))
    np.testing.assert_array_equal(looped[10:], looped[:-10])
    padded = fit_length(x, 15, np.random.default_rng(2), fill="pad")
    assert padded.size == 15 and np.count_nonzero(padded) == 10
    start = int(np.flatnonzero(padded)[0])
    np.testing.assert_array_equal(padded[start : start + 10], x)
    with pytest.raises(ValueError, match="unknown fill 'echo'; valid: loop, pad"):
        fit_length(x, 5, fill="echo")
    with pytest.raises(ValueError, match="non-empty 1-D"):
        fit_length(np.zeros(0), 5)


def test_normalise_rms_and_its_guards():
    y = normalise_rms(np.ones(10) * 3.0, "x")
    assert rms(y) == pytest.approx(TARGET_RMS)
    with pytest.raises(ValueError, match=r"quiet\.wav: signal is silent"):
        normalise_rms(np.zeros(10), "quiet.wav")
    with pytest.raises(ValueError, match="nan source: signal has NaN"):
        normalise_rms(np.array([1.0, np.nan]), "nan source")


def test_num_samples_rounds_and_validates():
    assert num_samples(1.00004, 16000) == 16001
    assert num_samples(0.5, np.int64(8000)) == 4000
    with pytest.raises(TypeError, match="integer"):
        num_samples(1.0, True)
    with pytest.raises(ValueError, match="duration_s must be positive"):
        num_samples(float("inf"), 16000)


def test_select_units_guards():
    assert select_units(["b", "a"], None, "bank") == ("a", "b")
    assert select_units(["b", "a"], ["b", "b"], "bank") == ("b",)
    with pytest.raises(ValueError, match=r"bank: unknown unit\(s\) \['c'\]; valid units: a, b"):
        select_units(["a", "b"], ["c"], "bank")
    with pytest.raises(TypeError, match="not the string 'a'"):
        select_units(["a"], "a", "bank")


def test_source_clip_validates():
    clip = SourceClip(np.ones(8000), 16000, "x", "id")
    assert clip.duration_s == 0.5 and clip.metadata == {} and clip.unit == ""
    with pytest.raises(ValueError, match="non-empty 1-D"):
        SourceClip(np.ones((2, 10)), 16000, "x", "id")
    with pytest.raises(ValueError, match="'bad' has NaN"):
        SourceClip(np.array([np.inf]), 16000, "x", "bad")
    with pytest.raises(ValueError, match="sample_rate must be positive"):
        SourceClip(np.ones(3), 0, "x", "id")


def test_registry_builds_every_bank(tmp_path):
    specs = list_source_banks()
    assert set(specs) == {"speech", "events", "midi", "procedural", "folder:<path>", "librispeech:<path>"}
    (tmp_path / "folder" / "a").mkdir(parents=True)
    sf.write(tmp_path / "folder" / "a" / "x.wav", np.sin(np.arange(800) * 0.3) * 0.2, 8000)
    librispeech_root = tmp_path / "libri" / "7" / "8"
    librispeech_root.mkdir(parents=True)
    sf.write(librispeech_root / "7-8-0000.flac", np.sin(np.arange(800) * 0.2) * 0.2, 8000)
    for spec, label in [
        ("speech", "speech"),
        ("events", None),
        ("midi", None),
        ("procedural", None),
        (f"folder:{tmp_path / 'folder'}", "a"),
        (f"librispeech:{tmp_path / 'libri'}", "speech"),
    ]:
        bank = make_source_bank(spec)
        clip = bank.sample(np.random.default_rng(0), 0.25, 16000)
        assert clip.signal.shape == (4000,)
        assert label is None or clip.label == label
        assert pickle.loads(pickle.dumps(bank)).units() == bank.units()
    assert isinstance(make_source_bank("speech", languages=["de"]), EspeakSpeech)
    assert make_source_bank("speech", languages=["de"], variants=["m1"]).units() == ("de+m1",)


@pytest.mark.parametrize(
    ("spec", "kwargs", "error", "match"),
    [
        (
            "noise",
            {},
            ValueError,
            "unknown source bank 'noise'; valid: speech, events, midi, procedural, folder",
        ),
        ("speech:x", {}, ValueError, "unknown source bank 'speech:x'"),
        ("folder", {}, ValueError, "unknown source bank 'folder'"),
        ("folder:", {}, ValueError, "needs a path after 'folder:'"),
        ("speech", {"voices": ["x"]}, TypeError, "voices"),
        (3, {}, TypeError, "must be a string"),
    ],
)
def test_registry_guards(spec, kwargs, error, match):
    with pytest.raises(error, match=match):
        make_source_bank(spec, **kwargs)
