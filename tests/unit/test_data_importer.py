"""Importing real recordings with a label CSV, and dataset summaries."""

import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from spatialrep.data.datasets import ManifestDataset
from spatialrep.data.importer import LabelFileError, import_recordings
from spatialrep.data.info import dataset_summary, format_summary
from spatialrep.data.manifest import read_rows

RATE = 16000
HEADER = "file,azimuth_deg,elevation_deg,distance_m,class,start_s,end_s\n"


@pytest.fixture
def recordings(tmp_path):
    audio = tmp_path / "audio"
    (audio / "room2").mkdir(parents=True)
    rng = np.random.default_rng(0)
    sf.write(audio / "a.wav", 0.1 * rng.standard_normal((RATE, 2)), RATE)
    sf.write(audio / "room2" / "b.flac", 0.1 * rng.standard_normal((2 * RATE, 2)), RATE)
    labels = tmp_path / "labels.csv"
    labels.write_text(
        HEADER
        + "a.wav,30,0,1.5,dog,,\n"
        + "room2/b.flac,-45,10,,speech,0.5,1.25\n"
        + "room2/b.flac,90,-20,2,dog,0.5,1.25\n"
        + "room2/b.flac,0,0,1,bell,1.5,2.0\n"
    )
    return audio, labels


def test_import_groups_sources_by_file_and_span_and_loads(recordings, tmp_path):
    audio, labels = recordings
    info = import_recordings(audio, labels, tmp_path / "out", receiver="kemar")
    assert info["kind"] == "imported" and info["num_examples"] == 3
    assert math.isclose(info["duration_s"], 1.0 + 0.75 + 0.5)
    rows = read_rows(tmp_path / "out" / "manifest.csv")
    assert [r["num_sources"] for r in rows] == [1, 2, 1]
    assert rows[1]["class"] == ["speech", "dog"] and rows[1]["distance_m"] == [None, 2.0]
    assert rows[0]["start_s"] is None and rows[1]["start_s"] == 0.5 and rows[1]["end_s"] == 1.25
    assert {r["split"] for r in rows} == {"test"} and rows[0]["receiver"] == "kemar"
    ds = ManifestDataset(tmp_path / "out", split="test")
    assert ds[0]["noisy"].shape == (2, RATE)
    assert ds[1]["noisy"].shape == (2, int(0.75 * RATE)) and ds[2]["noisy"].shape == (2, RATE // 2)
    whole, _ = sf.read(audio / "room2" / "b.flac", dtype="float32", always_2d=True)
    np.testing.assert_allclose(ds[1]["noisy"].numpy(), whole[RATE // 2 : RATE // 2 + int(0.75 * RATE)].T)
    labels1 = ds[1]["labels"]
    assert torch.allclose(labels1["azimuth"], torch.tensor([-math.pi / 4, math.pi / 2]))
    assert torch.allclose(labels1["elevation"], torch.tensor([math.radians(10), math.radians(-20)]))
    assert math.isnan(labels1["distance"][0]) and labels1["distance"][1] == 2.0


def test_dataset_summary_of_an_import(recordings, tmp_path):
    audio, labels = recordings
    import_recordings(audio, labels, tmp_path / "out", split="val", name="mine")
    summary = dataset_summary(tmp_path / "out")
    assert summary["name"] == "mine" and summary["kind"] == "imported" and summary["num_examples"] == 3
    assert summary["splits"] == {"val": {"num_examples": 3, "hours": pytest.approx(2.25 / 3600)}}
    assert summary["classes"] == {"bell": 1, "dog": 2, "speech": 1}
    assert summary["ranges"]["azimuth_deg"] == [-45.0, 90.0] and summary["ranges"]["distance_m"] == [1.0, 2.0]
    text = format_summary(summary)
    assert "3 examples" in text and "val" in text and "azimuth_deg: -45 .. 90" in text
    json.dumps(summary)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("file,azimuth_deg,class\na.wav,3,dog\n", r"lacks column\(s\) elevation_deg, distance_m"),
        (HEADER + "a.wav,200,0,1,dog,,\n", "line 2: azimuth_deg 200 is out of range"),
        (HEADER + "a.wav,20,0,1,dog,,\na.wav,20,-95,1,dog,,\n", "line 3: elevation_deg -95 is out of range"),
        (HEADER + "a.wav,abc,0,1,dog,,\n", "azimuth_deg 'abc' is not a number"),
        (HEADER + "a.wav,,0,1,dog,,\n", "azimuth_deg is empty"),
        (HEADER + "a.wav,10,0,-1,dog,,\n", "distance_m -1 must be positive"),
        (HEADER + "a.wav,10,0,1,dog,0.8,0.2\n", "end_s 0.2 is not after start_s 0.8"),
        (HEADER + "ghost.wav,10,0,1,dog,,\n", r"1 file\(s\) not found.*ghost.wav"),
        (HEADER, "has no rows"),
        (HEADER + "a.wav,10,0,1,dog,,\na.wav,10,0,1,dog,,\n", "line 3: repeats line 2"),
        (HEADER + "../labels.csv,10,0,1,dog,,\n", r"line 2: file '\.\./labels\.csv' must be a path inside"),
        (HEADER + "/etc/hostname,10,0,1,dog,,\n", r"line 2: file '/etc/hostname' must be a path inside"),
        (HEADER + 'a.wav,10,0,1,"dog,,\n', r"bad.csv is not valid CSV"),
        (b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00", r"bad.csv is not UTF-8 text"),
    ],
)
def test_bad_label_files_name_the_culprit(recordings, tmp_path, content, match):
    audio, _ = recordings
    labels = tmp_path / "bad.csv"
    if isinstance(content, bytes):
        labels.write_bytes(content)
    else:
        labels.write_text(content)
    with pytest.raises(LabelFileError, match=match):
        import_recordings(audio, labels, tmp_path / "out")
    assert not (tmp_path / "out" / "manifest.csv").exists()


def test_bad_recordings_and_outputs_are_refused(recordings, tmp_path):
    audio, labels = recordings
    with pytest.raises(ValueError, match=r"receiver 'array:circular4' has 4 channels.*2"):
        import_recordings(audio, labels, tmp_path / "o1", receiver="array:circular4")
    beyond = tmp_path / "beyond.csv"
    beyond.write_text(HEADER + "a.wav,0,0,1,dog,0.5,3.0\n")
    with pytest.raises(ValueError, match="beyond the file's end"):
        import_recordings(audio, beyond, tmp_path / "o2")
    sf.write(audio / "four.wav", np.zeros((RATE, 4)) + 0.01, RATE)
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(HEADER + "a.wav,0,0,1,dog,,\nfour.wav,0,0,1,dog,,\n")
    with pytest.raises(ValueError, match="different channel counts"):
        import_recordings(audio, mixed, tmp_path / "o3")
    (tmp_path / "o4").mkdir()
    (tmp_path / "o4" / "keep.txt").write_text("x")
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="o4"):
            import_recordings(audio, labels, tmp_path / "o4", overwrite=overwrite)
    import_recordings(audio, labels, tmp_path / "o5")
    with pytest.raises(ValueError, match=r"not empty.*--overwrite"):
        import_recordings(audio, labels, tmp_path / "o5")
    assert import_recordings(audio, labels, tmp_path / "o5", overwrite=True)["num_examples"] == 3
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        import_recordings(audio, labels, tmp_path / "o6", split="dev")
    with pytest.raises(ValueError, match="audio folder not found"):
        import_recordings(tmp_path / "nowhere", labels, tmp_path / "o7")
