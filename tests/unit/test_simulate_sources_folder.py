import pickle

import numpy as np
import pytest
import soundfile as sf

from spatialrep.dsp import rms
from spatialrep.io.audio import AudioFileError
from spatialrep.simulate.sources import TARGET_RMS, AudioFolder, SourceBank, librispeech


def tone(freq: float, seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * freq * t)
    return x if channels == 1 else np.stack([x] * channels, axis=1)


@pytest.fixture
def sounds(tmp_path):
    """dog/ (two mono 16 kHz files, one nested), rain/ (one stereo 44.1 kHz file), hidden files to skip."""
    root = tmp_path / "sounds"
    (root / "dog" / "big").mkdir(parents=True)
    (root / "rain").mkdir()
    sf.write(root / "dog" / "bark.wav", tone(500, 1.0, 16000), 16000)
    sf.write(root / "dog" / "big" / "woof.flac", tone(300, 0.25, 16000), 16000)
    sf.write(root / "rain" / "drops.wav", tone(1000, 3.0, 44100, channels=2), 44100)
    (root / "rain" / ".hidden.wav").write_bytes(b"not audio")
    (root / "dog" / "notes.txt").write_text("ignored")
    return root


def test_folder_labels_from_subfolders(sounds):
    bank = AudioFolder(sounds)
    assert isinstance(bank, SourceBank)
    assert bank.classes == ("dog", "rain")
    assert bank.units() == ("dog/bark.wav", "dog/big/woof.flac", "rain/drops.wav")
    assert bank.units("rain") == ("rain/drops.wav",)
    assert bank.files("rain/drops.wav") == (sounds / "rain" / "drops.wav",)
    clip = bank.sample(np.random.default_rng(0), 1.0, 16000, label="rain")
    assert clip.label == "rain" and clip.source_id == str(sounds / "rain" / "drops.wav")
    assert clip.metadata["file_sample_rate"] == 44100 and clip.metadata["file_channels"] == 2
    with pytest.raises(ValueError, match="unknown unit 'x'"):
        bank.files("x")


def test_stereo_is_mixed_and_resampled(sounds):
    clip = AudioFolder(sounds).sample(np.random.default_rng(1), 2.0, 16000, label="rain")
    assert clip.signal.shape == (32000,)
    spectrum = np.abs(np.fft.rfft(clip.signal))
    assert np.fft.rfftfreq(32000, 1 / 16000)[np.argmax(spectrum)] == pytest.approx(1000.0, abs=1.0)
    assert rms(clip.signal) == pytest.approx(TARGET_RMS)


def test_long_files_are_cropped_at_random_offsets(sounds):
    bank = AudioFolder(sounds, units=["rain/drops.wav"])
    offsets = {bank.sample(np.random.default_rng(s), 0.5, 16000).metadata["offset"] for s in range(10)}
    assert len(offsets) > 5 and all(0 <= o <= 48000 - 8000 for o in offsets)


def test_short_files_loop_or_pad(sounds):
    looped = AudioFolder(sounds, units=["dog/big/woof.flac"]).sample(np.random.default_rng(2), 1.0, 16000)
    assert looped.signal.shape == (16000,) and looped.metadata["offset"] is None
    # Looping repeats the 0.25 s file: the signal is periodic with period 4000 samples.
    np.testing.assert_allclose(looped.signal[4000:], looped.signal[:-4000], atol=1e-12)
    padded = AudioFolder(sounds, units=["dog/big/woof.flac"], fill="pad").sample(
        np.random.default_rng(2), 1.0, 16000
    )
    assert padded.signal.shape == (16000,)
    assert np.count_nonzero(padded.signal) <= 4000
    assert rms(padded.signal) == pytest.approx(TARGET_RMS)
    with pytest.raises(ValueError, match="unknown fill 'wrap'; valid: loop, pad"):
        AudioFolder(sounds, fill="wrap")


def test_determinism_and_exact_length(sounds):
    bank = AudioFolder(sounds)
    for duration, rate in [(0.123, 16000), (1.0, 8000), (2.0, 48000)]:
        a = bank.sample(np.random.default_rng(5), duration, rate)
        b = bank.sample(np.random.default_rng(5), duration, rate)
        assert a.signal.shape == (round(duration * rate),)
        np.testing.assert_array_equal(a.signal, b.signal)
    signals = {bank.sample(np.random.default_rng(s), 0.3, 16000).signal.tobytes() for s in range(6)}
    assert len(signals) > 1


def test_silent_crops_are_redrawn(tmp_path):
    root = tmp_path / "sparse" / "click"
    root.mkdir(parents=True)
    x = np.zeros(16000 * 10)
    x[-1600:] = np.random.default_rng(0).standard_normal(1600) * 0.1  # only the last 0.1 s sounds
    sf.write(root / "late.wav", x, 16000)
    bank = AudioFolder(root.parent)
    for seed in range(5):
        clip = bank.sample(np.random.default_rng(seed), 0.5, 16000)
        assert rms(clip.signal) == pytest.approx(TARGET_RMS)


def test_partition_by_files_is_disjoint(sounds):
    bank = AudioFolder(sounds)
    a = bank.partition(["dog/bark.wav", "rain/drops.wav"])
    b = bank.partition(["dog/big/woof.flac"])
    assert set(a.units()).isdisjoint(b.units())
    assert b.classes == ("dog",)
    assert {a.sample(np.random.default_rng(s), 0.2, 8000).unit for s in range(10)} <= set(a.units())
    with pytest.raises(ValueError, match=r"unknown unit\(s\) \['cat/meow.wav'\]; valid units: dog/bark.wav"):
        bank.partition(["cat/meow.wav"])


def test_corrupt_file_is_named_at_scan(sounds):
    bad = sounds / "dog" / "broken.wav"
    bad.write_bytes(np.random.default_rng(0).bytes(2048))
    with pytest.raises(AudioFileError, match=r"broken\.wav"):
        AudioFolder(sounds)
    lazy = AudioFolder(sounds, check=False, units=["dog/broken.wav"])
    with pytest.raises(AudioFileError, match=r"broken\.wav"):
        lazy.sample(np.random.default_rng(0), 0.5, 16000)


def test_empty_file_is_named_at_scan(sounds):
    sf.write(sounds / "rain" / "empty.wav", np.zeros(0), 16000)
    with pytest.raises(AudioFileError, match=r"empty.wav is empty"):
        AudioFolder(sounds)


def test_non_finite_and_silent_files_are_named_when_read(tmp_path):
    root = tmp_path / "bad"
    (root / "x").mkdir(parents=True)
    nan = np.ones(1600) * 0.1
    nan[100] = np.nan
    sf.write(root / "x" / "nan.wav", nan, 16000, subtype="FLOAT")
    sf.write(root / "x" / "zero.wav", np.zeros(1600), 16000)
    bank = AudioFolder(root)  # headers are fine
    with pytest.raises(AudioFileError, match=r"nan\.wav contains NaN"):
        bank.partition(["x/nan.wav"]).sample(np.random.default_rng(0), 0.1, 16000)
    with pytest.raises(AudioFileError, match=r"zero\.wav is silent"):
        bank.partition(["x/zero.wav"]).sample(np.random.default_rng(0), 0.1, 16000)


def test_antiphase_stereo_is_reported_silent(tmp_path):
    root = tmp_path / "f" / "x"
    root.mkdir(parents=True)
    x = tone(200, 0.2, 16000)
    sf.write(root / "anti.wav", np.stack([x, -x], axis=1), 16000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="silent once its channels are averaged"):
        AudioFolder(root.parent).sample(np.random.default_rng(0), 0.1, 16000)


def test_folder_guards(tmp_path, sounds):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no audio files"):
        AudioFolder(tmp_path / "empty")
    with pytest.raises(ValueError, match=r"must be a folder or a \.csv file"):
        AudioFolder(tmp_path / "nowhere")
    sf.write(sounds / "stray.wav", tone(100, 0.1, 16000), 16000)
    with pytest.raises(ValueError, match=r"stray\.wav is not inside a class folder"):
        AudioFolder(sounds)
    flat = AudioFolder(sounds, label="thing")
    assert flat.classes == ("thing",) and "stray.wav" in flat.units()


def test_csv_labels_and_units(tmp_path, sounds):
    table = tmp_path / "list.csv"
    table.write_text(
        "path,label,unit\n"
        f"{sounds / 'dog' / 'bark.wav'},bark,rex\n"
        "sounds/dog/big/woof.flac, bark ,rex\n"
        "sounds/rain/drops.wav,rain,\n"
    )
    bank = AudioFolder(table)
    assert bank.classes == ("bark", "rain")
    assert bank.units() == ("rex", "sounds/rain/drops.wav")
    assert len(bank.files("rex")) == 2
    assert bank.sample(np.random.default_rng(0), 0.2, 16000, label="bark").unit == "rex"


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        (
            "file,class\nsounds/dog/bark.wav,dog\n",
            ValueError,
            "needs a header with columns 'path' and 'label'",
        ),
        ("path,label\nsounds/dog/bark.wav,\n", ValueError, "line 2: empty label"),
        ("path,label\n,dog\n", ValueError, "line 2: empty path"),
        ("path,label\n", ValueError, "lists no files"),
        ("path,label\nsounds/dog/missing.wav,dog\n", AudioFileError, "not found: .*missing.wav"),
        (
            "path,label,unit\nsounds/dog/bark.wav,dog,u\nsounds/rain/drops.wav,rain,u\n",
            ValueError,
            "unit 'u' has two labels",
        ),
    ],
)
def test_csv_guards(tmp_path, sounds, text, error, match):
    table = tmp_path / "list.csv"
    table.write_text(text)
    with pytest.raises(error, match=match):
        AudioFolder(table)


@pytest.fixture
def libri(tmp_path):
    root = tmp_path / "LibriSpeech" / "dev-clean"
    for speaker, chapter, utts in [("19", "198", 2), ("26", "495", 1), ("103", "1240", 2)]:
        folder = root / speaker / chapter
        folder.mkdir(parents=True)
        for u in range(utts):
            sf.write(folder / f"{speaker}-{chapter}-{u:04d}.flac", tone(200 + 50 * u, 0.5, 16000), 16000)
        (folder / f"{speaker}-{chapter}.trans.txt").write_text("0000 HELLO\n")
    sf.write(root / "19" / "198" / "stray.flac", tone(200, 0.5, 16000), 16000)  # not the pattern: skipped
    return root


def test_librispeech_units_are_speakers(libri):
    bank = librispeech(libri)
    assert bank.classes == ("speech",)
    assert bank.units() == ("103", "19", "26")
    assert len(bank.files()) == 5 and len(bank.files("19")) == 2
    clip = bank.sample(np.random.default_rng(0), 1.0, 16000)
    assert clip.label == "speech" and clip.unit in bank.units() and clip.signal.shape == (16000,)
    train, test = bank.partition(["19", "26"]), bank.partition(["103"])
    assert {train.sample(np.random.default_rng(s), 0.1, 16000).unit for s in range(8)} <= {"19", "26"}
    assert all(test.sample(np.random.default_rng(s), 0.1, 16000).unit == "103" for s in range(3))
    assert librispeech(libri, units=["26"]).units() == ("26",)


def test_librispeech_guards(tmp_path, libri):
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ValueError, match="no LibriSpeech utterances"):
        librispeech(tmp_path / "nothing")
    with pytest.raises(ValueError, match="not a folder"):
        librispeech(tmp_path / "missing")
    (libri / "26" / "495" / "26-495-0009.flac").write_bytes(b"garbage")
    with pytest.raises(AudioFileError, match=r"26-495-0009\.flac"):
        librispeech(libri)


def test_from_files_and_pickling(sounds):
    bank = AudioFolder.from_files(
        [(sounds / "dog" / "bark.wav", "dog", "a"), (sounds / "rain" / "drops.wav", "rain", "b")], name="mine"
    )
    assert bank.name == "mine" and bank.units() == ("a", "b")
    clone = pickle.loads(pickle.dumps(bank))
    np.testing.assert_array_equal(
        clone.sample(np.random.default_rng(1), 0.2, 16000).signal,
        bank.sample(np.random.default_rng(1), 0.2, 16000).signal,
    )
    with pytest.raises(ValueError, match="no audio files"):
        AudioFolder.from_files([])


def test_from_files_rejects_empty_labels(sounds):
    with pytest.raises(ValueError, match="has an empty label"):
        AudioFolder.from_files([(sounds / "dog" / "bark.wav", "", "u")])
