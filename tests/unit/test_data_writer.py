"""Rendering to disk: determinism across workers, resume, refusals, failures mid-shard, splits, budgets."""

import fcntl
import hashlib
import json
import math
import os
import warnings
from pathlib import Path

import pytest
import soundfile as sf

import spatialrep.data.writer as writer
from spatialrep.data.datasets import ManifestDataset
from spatialrep.data.executors import run_tasks
from spatialrep.data.manifest import ManifestError, read_rows
from spatialrep.data.presets import load_dataset_config
from spatialrep.data.writer import DatasetExistsError, ShardError, render_dataset

# Small but with several shards per split, an unseen head for the test split and disjoint voices.
OVERRIDES = ["num_examples=10", "shard_size=3", "splits.test.overrides.receiver=sphere"]


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes), the lock file excepted."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != writer.LOCK
    }


@pytest.fixture(scope="module")
def config():
    return load_dataset_config("binaural-speech-tiny", OVERRIDES)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, config):
    out = tmp_path_factory.mktemp("reference")
    with pytest.warns(UserWarning, match=r"10h \(5 s\) are longer than the train split \(4 s\)"):
        report = render_dataset(config, out, workers=1)
    assert report.rendered_shards == 5 and report.skipped_shards == 0
    return out


def test_layout_manifest_and_dataset_json(reference, config):
    rows = read_rows(reference / "manifest.csv")
    assert [r["split"] for r in rows] == ["train"] * 8 + ["val"] + [
        "test"
    ]  # 7.5/1.25/1.25 by largest remainder
    assert [r["index"] for r in rows] == [*range(8), 0, 0]
    for row in rows:
        for signal in ("noisy", "clean_direct", "dry"):
            assert (reference / row[f"{signal}_path"]).is_file()
        assert len(row["azimuth_deg"]) == row["num_sources"] == 1 and row["class"] == ["speech"]
        assert -90 <= row["azimuth_deg"][0] <= 90 and row["elevation_deg"] == [0.0]
        assert 0.2 <= row["rt60_s"] <= 0.4 and -5 <= row["snr_db"] <= 20
    info = json.loads((reference / "dataset.json").read_text())
    assert info["num_examples"] == 10 and info["seed"] == 0 and info["name"] == "binaural-speech-tiny"
    assert info["splits"]["train"]["num_examples"] == 8 and info["splits"]["train"]["num_shards"] == 3
    assert math.isclose(info["duration_s"], 5.0) and "numpy" in info["versions"]
    assert info["plan"]["config"]["scene"]["duration_s"] == 0.5
    assert load_dataset_config(reference / "config.yaml") == config
    assert not list(reference.rglob(".tmp-*"))


def test_identical_bytes_with_one_or_two_workers(reference, config, tmp_path):
    render_dataset(config, tmp_path, workers=2)
    assert tree(tmp_path) == tree(reference)


def test_splits_are_disjoint_in_voices_rooms_and_heads(reference):
    rows = read_rows(reference / "manifest.csv")

    def voices(split):
        return {r["source_id"][0].split(":")[1] for r in rows if r["split"] == split}

    assert not voices("train") & voices("test") and not voices("train") & voices("val")
    rooms = {s: {r["room_id"] for r in rows if r["split"] == s} for s in ("train", "test")}
    assert not rooms["train"] & rooms["test"]
    assert {r["receiver"] for r in rows if r["split"] == "test"} == {"sphere"}
    assert {r["receiver"] for r in rows if r["split"] == "train"} == {"mit_kemar_normal_pinna"}


def test_budgets_are_nested_manifest_views(reference):
    manifest_lines = set((reference / "manifest.csv").read_text().splitlines()[1:])
    budgets = {}
    for name in ("10min", "1h"):
        lines = (reference / "budgets" / f"{name}.csv").read_text().splitlines()
        assert lines[0] == (reference / "manifest.csv").read_text().splitlines()[0]
        assert set(lines[1:]) <= manifest_lines
        budgets[name] = [r["id"] for r in read_rows(reference / "budgets" / f"{name}.csv")]
    assert all(i.startswith("train-") for i in budgets["1h"])
    assert set(budgets["10min"]) < set(budgets["1h"])
    assert [len(budgets[n]) for n in ("10min", "1h")] == [2, 5]  # 1 s, 2.5 s of 0.5 s clips
    # The 10h budget (5 s) is longer than the train split (8 x 0.5 s): not made, and asking for it says why.
    info = json.loads((reference / "dataset.json").read_text())
    assert info["budgets"]["10h"] == {"requested_s": 5.0, "available": False, "train_split_s": 4.0}
    assert not (reference / "budgets" / "10h.csv").exists()
    with pytest.raises(
        ManifestError, match=r"'10h'.*5.0 s of labelled audio but the train split holds 4.0 s"
    ):
        ManifestDataset(reference, budget="10h")


def test_resume_skips_finished_shards_and_ends_with_the_same_bytes(reference, config, tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    for name, data in tree(reference).items():
        if not name.startswith("train/00001/") and name not in ("manifest.csv", "dataset.json"):
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(data)
    stale = out / "train" / ".tmp-00001-123-abcd"  # what a killed run leaves
    stale.mkdir()
    (stale / "train-0000003.noisy.flac").write_bytes(b"partial")
    report = render_dataset(config, out, workers=1)
    assert (report.rendered_shards, report.skipped_shards) == (1, 4)
    assert tree(out) == tree(reference)
    again = render_dataset(config, out, workers=1)
    assert (again.rendered_shards, again.skipped_shards) == (0, 5)
    assert tree(out) == tree(reference)


def copy_tree(source: Path, out: Path, keep=lambda name: True) -> None:
    for name, data in tree(source).items():
        if keep(name):
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(data)


def test_shard_json_records_every_file_of_the_shard(reference, config):
    for folder in sorted(p.parent for p in reference.glob("*/*/shard.csv")):
        record = json.loads((folder / "shard.json").read_text())
        names = sorted(p.name for p in folder.iterdir() if p.name != "shard.json")
        assert record["format"] == "spatialrep-shard" and record["shard"] == str(
            folder.relative_to(reference)
        )
        assert sorted(record["files"]) == names and "shard.csv" in names and len(names) > 1
        for name, entry in record["files"].items():
            data = (folder / name).read_bytes()
            assert entry == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        assert str(reference) not in (folder / "shard.json").read_text()
    assert "shard.json" not in (reference / "manifest.csv").read_text()
    assert writer.check_shards(reference, writer.plan_dataset(config).shards(), workers=4) == []


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        ("train-0000004.noisy.flac", _truncate, r"train-0000004\.noisy\.flac is \d+ bytes, \d+ expected"),
        ("train-0000004.dry.flac", _flip_a_byte, r"train-0000004\.dry\.flac does not match its sha256"),
        ("train-0000005.clean_direct.flac", Path.unlink, r"train-0000005\.clean_direct\.flac is missing"),
        ("shard.csv", _flip_a_byte, r"shard\.csv does not match its sha256"),
        ("shard.csv", Path.unlink, r"shard\.csv is missing"),
        ("shard.json", lambda p: p.write_text("{"), r"shard\.json is unreadable"),
    ],
    ids=["truncated", "flipped-byte", "deleted", "flipped-shard.csv", "deleted-shard.csv", "bad-shard.json"],
)
def test_a_damaged_shard_is_rendered_again_on_rerun(reference, config, tmp_path, name, damage, message):
    # A finished dataset (dataset.json written) rerun: the damaged shard is rendered again, the rest of the
    # folder rewritten byte for byte.
    copy_tree(reference, tmp_path)
    damage(tmp_path / "train" / "00001" / name)
    with pytest.warns(UserWarning, match=rf"^train/00001: {message}.*; re-rendering the shard$"):
        report = render_dataset(config, tmp_path, workers=1)
    assert (report.rendered_shards, report.skipped_shards) == (1, 4)
    assert tree(tmp_path) == tree(reference)


def test_a_damaged_shard_is_rendered_again_on_resume(reference, config, tmp_path):
    copy_tree(reference, tmp_path, keep=lambda n: not n.startswith("train/00002/") and n != "dataset.json")
    _truncate(tmp_path / "val" / "00000" / "val-0000000.noisy.flac")
    with pytest.warns(UserWarning, match=r"val/00000: val-0000000\.noisy\.flac is \d+ bytes, \d+ expected"):
        report = render_dataset(config, tmp_path, workers=1)
    assert (report.rendered_shards, report.skipped_shards) == (2, 3)
    assert tree(tmp_path) == tree(reference)


def test_shards_without_shard_json_are_checked_for_their_files_only(reference, config, tmp_path):
    copy_tree(reference, tmp_path, keep=lambda name: not name.endswith("/shard.json"))
    _flip_a_byte(tmp_path / "train" / "00000" / "train-0000001.noisy.flac")  # not detectable: kept as is
    legacy = tree(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = render_dataset(config, tmp_path, workers=1)
    assert not [w for w in caught if "re-rendering" in str(w.message)]
    assert (report.rendered_shards, report.skipped_shards) == (0, 5)
    assert tree(tmp_path) == legacy
    (tmp_path / "test" / "00000" / "test-0000000.dry.flac").unlink()
    with pytest.warns(UserWarning, match=r"test/00000: test-0000000\.dry\.flac is missing; re-rendering"):
        report = render_dataset(config, tmp_path, workers=1)
    assert (report.rendered_shards, report.skipped_shards) == (1, 4)
    assert tree(tmp_path / "test") == tree(reference / "test")  # rendered again, with its shard.json


def test_another_config_is_refused_unless_overwrite(reference, config, tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    for name, data in tree(reference).items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    other = load_dataset_config("binaural-speech-tiny", [*OVERRIDES, "seed=5", "num_examples=3"])
    with pytest.raises(DatasetExistsError, match=r"another config.*seed.*resume.*--overwrite"):
        render_dataset(other, out, workers=1)
    assert tree(out) == tree(reference)
    render_dataset(other, out, workers=1, overwrite=True)
    rows = read_rows(out / "manifest.csv")
    assert len(rows) == 3 and not (out / "train" / "00002").exists()
    assert json.loads((out / "dataset.json").read_text())["seed"] == 5


def test_foreign_folder_is_refused_even_with_overwrite(config, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(DatasetExistsError, match=r"not empty and holds no spatialrep dataset.*notes.txt"):
            render_dataset(config, tmp_path, workers=1, overwrite=overwrite)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "mine"
    with pytest.raises(DatasetExistsError, match="is a file"):
        render_dataset(config, tmp_path / "notes.txt", workers=1)


def test_a_locked_folder_is_refused(config, tmp_path):
    cheap = load_dataset_config(
        "binaural-speech-tiny",
        ["num_examples=1", "splits.train.size=1", "splits.val.size=0", "splits.test.size=0"],
    )
    tmp_path.joinpath(writer.LOCK).touch()
    with tmp_path.joinpath(writer.LOCK).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with pytest.raises(DatasetExistsError, match="another process"):
            render_dataset(cheap, tmp_path, workers=1)


def test_write_failure_mid_shard_leaves_no_partial_shard(config, tmp_path, monkeypatch):
    calls = []
    real_write = writer.write_audio

    def failing_write(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_write(path, *args, **kwargs)

    monkeypatch.setattr(writer, "write_audio", failing_write)
    with pytest.raises(ShardError, match=r"shard train/00000.*No space left"):
        render_dataset(config, tmp_path, workers=1)
    assert len(calls) == 3
    assert not (tmp_path / "train" / "00000").exists()
    assert not list(tmp_path.rglob(".tmp-*")) and not list(tmp_path.rglob("*.flac"))
    assert not (tmp_path / "manifest.csv").exists() and not (tmp_path / "dataset.json").exists()


def test_an_orphaned_worker_publishes_no_shard(config, tmp_path, monkeypatch):
    """Where the kernel does not kill pool workers with their parent, they still publish nothing."""
    import spatialrep.data.executors as executors

    monkeypatch.setattr(executors, "_parent_pid", os.getppid() + 1)  # the starting process is gone
    assert executors.orphaned()
    with pytest.raises(ShardError, match="has ended"):
        render_dataset(config, tmp_path, workers=1)
    assert not list(tmp_path.glob("*/0*")) and not list(tmp_path.rglob(".tmp-*"))
    monkeypatch.setattr(executors, "_parent_pid", None)  # this process: not a pool worker
    assert not executors.orphaned()


def test_grid_dataset_places_targets_on_the_grid(tmp_path):
    config = load_dataset_config(
        "binaural-grid-tiny", ["num_examples=7", "splits.train.size=5", "splits.test.size=2", "shard_size=5"]
    )
    render_dataset(config, tmp_path, workers=1)
    rows = read_rows(tmp_path / "manifest.csv")
    train = [r for r in rows if r["split"] == "train"]
    assert sorted(round(r["azimuth_deg"][0], 4) for r in train) == [-90.0, -45.0, 0.0, 45.0, 90.0]
    assert {r["room_id"].split("-rt")[0] for r in rows} == {"shoebox-5.00x4.00x3.00"}
    assert {r["class"][0] for r in train} == {"white"}
    assert {r["class"][0] for r in rows if r["split"] == "test"} == {"speech"}


def test_run_tasks_guards_and_errors():
    with pytest.raises(ValueError, match=r"unknown executor 'dask'.*local, ray"):
        list(run_tasks(abs, [1], executor="dask"))
    with pytest.raises(ValueError, match="workers"):
        list(run_tasks(abs, [1], workers=0))
    assert sorted(run_tasks(abs, [-1, -2, 3], workers=1)) == [1, 2, 3]
    with pytest.raises(ValueError, match="math domain"):
        list(run_tasks(math.sqrt, [4.0, -1.0], workers=1))


@pytest.mark.slow
def test_ray_executor_gives_the_same_bytes(reference, config, tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        render_dataset(config, tmp_path, executor="ray")
    finally:
        ray.shutdown()
    assert tree(tmp_path) == tree(reference)


def test_resuming_with_other_library_versions_warns(reference, config, tmp_path, monkeypatch):
    for name, data in tree(reference).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    real = writer.library_versions
    monkeypatch.setattr(writer, "library_versions", lambda: {**real(), "numpy": "0.0.1"})
    with pytest.warns(UserWarning, match=r"other library versions.*numpy .* -> 0\.0\.1"):
        report = render_dataset(config, tmp_path, workers=1)
    assert report.skipped_shards == 5


def test_missing_ray_is_one_clear_error(monkeypatch):
    import builtins

    from spatialrep.data.executors import ExecutorUnavailableError

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ExecutorUnavailableError, match=r"spatialrep\[ray\]") as caught:
        list(run_tasks(abs, [1], executor="ray"))
    assert isinstance(caught.value, ValueError)


def test_progress_bar_shows_rate_and_time_left(tmp_path, capsys):
    cheap = load_dataset_config(
        "binaural-speech-tiny",
        ["num_examples=2", "shard_size=1", "splits.train.size=2", "splits.val.size=0", "splits.test.size=0"],
    )
    render_dataset(cheap, tmp_path, workers=1, progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "ex/s" in err and "<00:00" in err
    render_dataset(cheap, tmp_path / "quiet", workers=1)
    assert capsys.readouterr().err == ""


def test_array_preset_renders_four_channels(tmp_path):
    config = load_dataset_config("array4-events-tiny", ["num_examples=3", "shard_size=3"])
    render_dataset(config, tmp_path, workers=1)
    rows = read_rows(tmp_path / "manifest.csv")
    assert {r["num_channels"] for r in rows} == {4} and {r["receiver"] for r in rows} == {"circular4"}
    data, rate = sf.read(tmp_path / rows[0]["noisy_path"], always_2d=True)
    assert data.shape == (8000, 4) and rate == 16000
    assert all(-40 <= e <= 40 for r in rows for e in r["elevation_deg"])


def test_sizes_are_checked_before_anything_is_written(tmp_path, monkeypatch, config):
    import shutil as shutil_module
    from collections import namedtuple

    from spatialrep.data.config import MAX_EXAMPLES
    from spatialrep.data.writer import estimated_bytes

    with pytest.raises(ValueError, match=r"num_examples=10,000,001 is more than the 10,000,000"):
        load_dataset_config("binaural-speech-tiny", [f"num_examples={MAX_EXAMPLES + 1}"])
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil_module, "disk_usage", lambda path: usage(10**6, 10**6 - 1000, 1000))
    out = tmp_path / "new" / "dataset"
    with pytest.raises(ValueError, match=r"may need up to .* GB but .* has 0.0 GB free"):
        render_dataset(config, out, workers=1)
    assert not (tmp_path / "new").exists()  # nothing left behind
    assert estimated_bytes(config) >= config.num_examples * 0.5 * 16000 * 2 * 2  # >= 16-bit noisy stereo
