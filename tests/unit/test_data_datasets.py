"""Torch datasets over a manifest or rendered on the fly: labels, shapes, batching, bad manifests."""

import math
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from spatialrep.data.datasets import ManifestDataset, SceneDataset, collate_examples, row_labels
from spatialrep.data.manifest import ManifestError, read_rows
from spatialrep.data.presets import load_dataset_config
from spatialrep.data.writer import render_dataset

OVERRIDES = ["num_examples=8", "shard_size=4", "signals=[noisy, clean_reverb, dry]"]
QUANTUM = 2.0**-23  # one step of 24-bit PCM


@pytest.fixture(scope="module")
def config():
    return load_dataset_config("binaural-events-tiny", OVERRIDES)


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory, config):
    out = tmp_path_factory.mktemp("events")
    render_dataset(config, out, workers=1)
    return out


def test_manifest_dataset_shapes_dtypes_and_radian_labels(dataset_dir):
    ds = ManifestDataset(dataset_dir)
    rows = read_rows(dataset_dir / "manifest.csv")
    assert len(ds) == len(rows) == 8 and ds.signals == ("noisy", "clean_reverb", "dry")
    counts = set()
    for k in range(len(ds)):
        item, row = ds[k], rows[k]
        sources = row["num_sources"]
        counts.add(sources)
        assert item["noisy"].shape == item["clean_reverb"].shape == (2, 8000)
        assert item["dry"].shape == (sources, 8000) and item["noisy"].dtype == torch.float32
        labels = item["labels"]
        assert (
            labels["id"] == row["id"] and labels["class"] == row["class"] and len(labels["class"]) == sources
        )
        assert labels["azimuth"].dtype == torch.float32 and labels["azimuth"].shape == (sources,)
        expected = torch.tensor([math.radians(a) for a in row["azimuth_deg"]])
        assert torch.allclose(labels["azimuth"], expected, atol=1e-6)
        assert torch.allclose(
            labels["elevation"], torch.tensor([math.radians(e) for e in row["elevation_deg"]])
        )
        assert torch.allclose(labels["distance"], torch.tensor(row["distance_m"], dtype=torch.float32))
        assert math.isclose(labels["receiver_yaw"], math.radians(row["receiver_yaw_deg"]))
        assert torch.all(labels["elevation"] >= math.radians(-40) - 1e-6)
    assert counts == {1, 2}, "the events preset mixes one and two sources"


def test_audio_matches_the_files(dataset_dir):
    ds = ManifestDataset(dataset_dir, signals=["noisy"])
    data, rate = sf.read(str(dataset_dir / ds.rows[3]["noisy_path"]), always_2d=True)
    assert rate == 16000 and set(ds[3]) == {"noisy", "labels"}
    np.testing.assert_allclose(ds[3]["noisy"].numpy(), data.T, atol=1e-7)


def test_split_and_budget_selection(dataset_dir):
    train = ManifestDataset(dataset_dir, split="train")
    test = ManifestDataset(dataset_dir, split="test")
    assert {r["split"] for r in train.rows} == {"train"} and {r["split"] for r in test.rows} == {"test"}
    assert len(train) + len(test) + len(ManifestDataset(dataset_dir, split="val")) == 8
    small = ManifestDataset(dataset_dir, budget="10min")
    assert 0 < len(small) < len(train) and {r["id"] for r in small.rows} <= {r["id"] for r in train.rows}
    assert small[0]["noisy"].shape == (2, 8000)
    with pytest.raises(ManifestError, match=r"no budget '2h'.*10min"):
        ManifestDataset(dataset_dir, budget="2h")
    with pytest.raises(ManifestError, match=r"no example of split 'dev'.*test"):
        ManifestDataset(dataset_dir, split="dev")
    with pytest.raises(ManifestError, match=r"no signal\(s\) \['clean_direct'\].*noisy"):
        ManifestDataset(dataset_dir, signals=["clean_direct"])


def test_missing_files_are_named_at_load_time(dataset_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(dataset_dir, copy)
    victim = read_rows(copy / "manifest.csv")[2]["clean_reverb_path"]
    (copy / victim).unlink()
    with pytest.raises(ManifestError, match=f"1 missing audio file.*{victim}"):
        ManifestDataset(copy)
    assert len(ManifestDataset(copy, signals=["noisy"])) == 8
    with pytest.raises(ManifestError, match="no manifest"):
        ManifestDataset(tmp_path / "nothing")


def test_malformed_manifest_is_refused(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("file,azimuth_deg\na.wav,[3]\n")
    with pytest.raises(ManifestError, match=r"lacks column.*id, split"):
        ManifestDataset(bad)


def test_on_the_fly_items_equal_the_rendered_files(dataset_dir, config):
    disk = ManifestDataset(dataset_dir, split="train")
    fly = SceneDataset(config, "train")
    assert len(fly) == len(disk)
    for k in (0, len(fly) - 1):
        a, b = fly[k], disk[k]
        for signal in ("noisy", "clean_reverb", "dry"):
            assert a[signal].shape == b[signal].shape and a[signal].dtype == torch.float32
            assert torch.max(torch.abs(a[signal] - b[signal])) <= QUANTUM
        assert a["labels"]["id"] == b["labels"]["id"] and a["labels"]["class"] == b["labels"]["class"]
        assert torch.allclose(a["labels"]["azimuth"], b["labels"]["azimuth"])


def test_on_the_fly_results_do_not_depend_on_the_number_of_workers(config):
    ds = SceneDataset(config, "train", signals=["noisy"], num_examples=4)

    def batches(workers):
        loader = DataLoader(ds, batch_size=2, num_workers=workers, collate_fn=collate_examples)
        return list(loader)

    serial, parallel = batches(0), batches(2)
    assert len(serial) == len(parallel) == 2
    for a, b in zip(serial, parallel):
        assert a["noisy"].shape == (2, 2, 8000)
        assert torch.equal(a["noisy"], b["noisy"])
        assert a["labels"]["id"] == b["labels"]["id"]
        assert torch.equal(a["labels"]["azimuth"].nan_to_num(99.0), b["labels"]["azimuth"].nan_to_num(99.0))
    with pytest.raises(IndexError):
        ds[4]
    with pytest.raises(ValueError, match="num_examples"):
        SceneDataset(config, "train", num_examples=0)


def test_collate_pads_per_source_labels_with_nan():
    one = {
        "noisy": torch.zeros(2, 5),
        "labels": {"azimuth": torch.tensor([0.5]), "snr_db": 3.0, "class": ["a"]},
    }
    two = {
        "noisy": torch.ones(2, 5),
        "labels": {"azimuth": torch.tensor([0.1, 0.2]), "snr_db": 4.0, "class": ["b", "c"]},
    }
    batch = collate_examples([one, two])
    assert batch["noisy"].shape == (2, 2, 5)
    assert batch["labels"]["azimuth"].shape == (2, 2) and math.isnan(batch["labels"]["azimuth"][0, 1])
    assert torch.equal(batch["labels"]["snr_db"], torch.tensor([3.0, 4.0]))
    assert batch["labels"]["class"] == [["a"], ["b", "c"]]
    with pytest.raises(ValueError, match="shapes differ"):
        collate_examples([one, {**two, "noisy": torch.ones(2, 6)}])
    with pytest.raises(ValueError, match="empty"):
        collate_examples([])


def test_row_labels_convert_every_degree_column_and_unknown_distances():
    labels = row_labels(
        {
            "id": "x",
            "azimuth_deg": [90.0, -90.0],
            "distance_m": [None, 2.0],
            "rt60_s": 0.3,
            "noisy_path": "a.flac",
            "index": 3,
        }
    )
    assert torch.allclose(labels["azimuth"], torch.tensor([math.pi / 2, -math.pi / 2]))
    assert math.isnan(labels["distance"][0]) and labels["distance"][1] == 2.0
    assert labels["rt60_s"] == 0.3 and "noisy_path" not in labels and "index" not in labels
