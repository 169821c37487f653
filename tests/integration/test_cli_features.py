"""``spatialrep features``: caching a dataset's features (resume, stale caches) and plotting one example."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from spatialrep.cli import features as cli
from spatialrep.data.feature_cache import FeatureCache, StaleCacheError, cache_features
from spatialrep.data.manifest import write_manifest
from spatialrep.features.frontend import FeatureFrontEnd, feature_preset
from spatialrep.io.audio import write_audio


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["features", *argv])
    return int(args.func(args))


@pytest.fixture
def dataset(tmp_path):
    """A tiny dataset in the documented layout: manifest.csv (id, split, <signal>_path, labels), FLACs."""
    root = tmp_path / "ds"
    rng = np.random.default_rng(0)
    rows = []
    for k, (split, seconds) in enumerate([("train", 1.0), ("train", 1.0), ("train", 0.5), ("test", 1.0)]):
        path = f"{split}/00000/{split}-{k:07d}.noisy.flac"
        write_audio(root / path, 0.1 * rng.standard_normal((2, int(16000 * seconds))), 16000)
        row = {"id": f"{split}-{k:07d}", "split": split, "noisy_path": path, "clean_direct_path": path}
        rows.append({**row, "azimuth_deg": [10.0 * k]})
    write_manifest(root / "manifest.csv", rows)
    (root / "dataset.json").write_text(json.dumps({"sample_rate": 16000, "fingerprint": "abc"}))
    return root


def test_cache_writes_one_file_per_example_and_resumes(dataset, tmp_path):
    out = tmp_path / "cache"
    assert run_cli(str(dataset), "--stack", "binaural_default", "--out", str(out), "--quiet") == 0
    info = json.loads((out / "features.json").read_text())
    config = feature_preset("binaural_default")
    assert info["complete"] and info["num_examples"] == 4 and info["config_hash"] == config.config_hash()
    assert info["channel_names"] == FeatureFrontEnd(config).channel_names
    cache = FeatureCache(out)
    assert cache.ids == ["train-0000000", "train-0000001", "train-0000002", "test-0000003"]
    assert (
        cache[0].shape == (6, 64, 101) and cache[2].shape == (6, 64, 51) and cache[0].dtype == torch.float32
    )
    # The cached tensor is the front-end's output for that file.
    from spatialrep.io.audio import read_audio

    audio, _ = read_audio(dataset / "train/00000/train-0000001.noisy.flac")
    expected = FeatureFrontEnd(config)(torch.from_numpy(audio).float())
    torch.testing.assert_close(cache.load("train-0000001"), expected, atol=1e-5, rtol=0)
    assert len(FeatureCache(out, split="test")) == 1
    # Resume: a deleted example is recomputed, the others are skipped.
    (out / "train" / "train-0000002.safetensors").unlink()
    mtime = (out / "train" / "train-0000000.safetensors").stat().st_mtime_ns
    report = cache_features(dataset, config, out)
    assert (report.computed, report.skipped) == (1, 3)
    assert (out / "train" / "train-0000000.safetensors").stat().st_mtime_ns == mtime
    assert not list(out.rglob("*.part"))


def test_training_reads_the_cache_through_the_manifest_dataset(dataset, tmp_path):
    from spatialrep.data.datasets import ManifestDataset
    from spatialrep.data.manifest import ManifestError

    out = tmp_path / "cache"
    assert run_cli(str(dataset), "--stack", "binaural_default", "--out", str(out), "--quiet") == 0
    train = ManifestDataset(dataset, split="train", signals=(), features=FeatureCache(out))
    item = train[1]
    assert set(item) == {"features", "labels"} and item["features"].shape == (6, 64, 101)
    torch.testing.assert_close(item["features"], FeatureCache(out).load("train-0000001"), rtol=0, atol=0)
    assert ManifestDataset(dataset, features=FeatureCache(out))[3]["noisy"].shape == (2, 16000)
    (out / "index.csv").write_text(
        "id,split,path,frames\ntrain-0000000,train,train/train-0000000.safetensors,101\n"
    )
    with pytest.raises(ManifestError, match=r"lacks 2 example\(s\).*first: train-0000001"):
        ManifestDataset(dataset, split="train", features=FeatureCache(out))


def test_stale_cache_is_refused_then_overwritten(dataset, tmp_path):
    out = tmp_path / "cache"
    run_cli(str(dataset), "--out", str(out), "--quiet", "--split", "train")
    assert len(FeatureCache(out)) == 3
    with pytest.raises(StaleCacheError, match="config hash"):
        run_cli(str(dataset), "--out", str(out), "--quiet", "--set", "n_mels=32", "--set", "num_lags=32")
    run_cli(
        str(dataset),
        "--out",
        str(out),
        "--quiet",
        "--set",
        "n_mels=32",
        "--set",
        "num_lags=32",
        "--overwrite",
    )
    cache = FeatureCache(out)
    assert len(cache) == 4 and cache[0].shape == (6, 32, 101)
    with pytest.raises(StaleCacheError, match="signal"):
        cache_features(dataset, cache.config, out, signal="clean_direct")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(StaleCacheError, match="not empty"):
        cache_features(dataset, cache.config, tmp_path / "foreign")


def test_default_folder_and_mismatches(dataset):
    run_cli(str(dataset), "--quiet")
    assert (dataset / "features" / "binaural_default-noisy" / "index.csv").is_file()
    with pytest.raises(ValueError, match="16000 Hz but the feature config expects 24000 Hz"):
        run_cli(str(dataset), "--stack", "dcase_4ch", "--quiet")
    with pytest.raises(ValueError, match="expects 4 channels"):
        run_cli(str(dataset), "--set", "num_channels=4", "--quiet", "--out", str(dataset / "x"))
    with pytest.raises(
        ValueError, match="unknown feature stack 'nope'; valid: array4_mel_gcc, binaural_default, dcase_4ch"
    ):
        run_cli(str(dataset), "--stack", "nope")
    with pytest.raises(ValueError, match="no signal"):
        run_cli(str(dataset), "--signal", "clean", "--quiet")
    with pytest.raises(ValueError, match="batch_size"):
        cache_features(dataset, feature_preset("binaural_default"), batch_size=0)
    with pytest.raises(ValueError, match="not a feature cache"):
        FeatureCache(dataset)


def test_plot_dataset_example_and_audio_file(dataset, tmp_path):
    png = tmp_path / "example.png"
    assert run_cli(str(dataset), "--plot", str(png), "--example", "test-0000003") == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    wav = tmp_path / "clip.wav"
    write_audio(wav, 0.1 * np.random.default_rng(1).standard_normal((4, 12000)), 24000)
    png2 = tmp_path / "clip.png"
    assert run_cli(str(wav), "--stack", "dcase_4ch", "--plot", str(png2)) == 0
    assert png2.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="24000 Hz but the feature stack expects 16000 Hz"):
        run_cli(str(wav), "--plot", str(png2))
    with pytest.raises(ValueError, match="expects 2"):
        run_cli(str(wav), "--plot", str(png2), "--set", "sample_rate=24000")
    with pytest.raises(ValueError, match="no example 'zzz'"):
        run_cli(str(dataset), "--plot", str(png), "--example", "zzz")
    with pytest.raises(ValueError, match="audio file: caching needs a dataset"):
        run_cli(str(wav))
