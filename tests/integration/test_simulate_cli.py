"""`spatialrep simulate` and `spatialrep dataset` in subprocesses: kill -9 and resume, bad input, import."""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spatialrep.cli import simulate as simulate_cli

CLI = [sys.executable, "-m", "spatialrep"]
RENDER = ["simulate", "--preset", "binaural-speech-tiny", "--num", "32", "--set", "shard_size=2", "--quiet"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=ENV)


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def finished_shards(out):
    """Renamed (finished) shard folders; a shard being written sits in a hidden temporary folder."""
    return [p for p in out.glob("*/*/shard.csv") if not p.parent.name.startswith(".")]


@pytest.mark.slow
def test_killed_render_resumes_to_the_bytes_of_an_uninterrupted_one(tmp_path):
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    done = run_cli(*RENDER, "--out", str(reference), "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert "32 examples" in done.stdout

    process = subprocess.Popen(
        [*CLI, *RENDER, "--out", str(resumed), "--workers", "2"],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    while not finished_shards(resumed):
        assert process.poll() is None, "the render ended before a shard was seen"
        assert time.monotonic() < deadline, "no shard finished in time"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (resumed / "dataset.json").exists(), "the kill came too late to test resuming"
    finished = len(finished_shards(resumed))
    time.sleep(0.5)  # pool workers die with their parent: nothing more gets written
    assert len(finished_shards(resumed)) == finished < 16

    again = run_cli(*RENDER, "--out", str(resumed), "--workers", "1")
    assert again.returncode == 0, again.stderr
    assert "found finished" in again.stdout
    assert not list(resumed.rglob(".tmp-*"))
    assert tree(resumed) == tree(reference)

    info = run_cli("dataset", "info", str(resumed))
    assert info.returncode == 0, info.stderr
    assert "32 examples" in info.stdout and "train" in info.stdout and "budget 10min" in info.stdout
    summary = json.loads(run_cli("dataset", "info", str(resumed), "--json").stdout)
    assert summary["splits"]["train"]["num_examples"] == 24 and summary["classes"] == {"speech": 32}

    other = run_cli(*RENDER[:-1], "--seed", "3", "--out", str(resumed))
    assert other.returncode == 2
    assert "another config" in other.stderr and "--overwrite" in other.stderr
    assert len(other.stderr.strip().splitlines()) == 1


def test_bad_input_gives_one_line_and_exit_2(tmp_path):
    unknown = run_cli("simulate", "--preset", "binaural-nothing", "--out", str(tmp_path / "x"))
    assert unknown.returncode == 2
    assert "unknown preset 'binaural-nothing'" in unknown.stderr and "binaural-speech-tiny" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
    bad_set = run_cli(
        "simulate",
        "--preset",
        "binaural-speech-tiny",
        "--out",
        str(tmp_path / "y"),
        "--set",
        "scene.duration_s=-1",
    )
    assert bad_set.returncode == 2 and "duration_s" in bad_set.stderr
    missing = run_cli("dataset", "info", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "no manifest" in missing.stderr


def test_dataset_import_cli(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(audio / "rec.wav", 0.05 * np.random.default_rng(1).standard_normal((8000, 2)), 16000)
    labels = tmp_path / "labels.csv"
    labels.write_text("file,azimuth_deg,elevation_deg,distance_m,class\nrec.wav,45,0,2,speech\n")
    done = run_cli(
        "dataset",
        "import",
        "--audio",
        str(audio),
        "--labels",
        str(labels),
        "--out",
        str(tmp_path / "ds"),
        "--receiver",
        "kemar",
    )
    assert done.returncode == 0, done.stderr
    assert "imported 1 examples" in done.stdout
    labels.write_text("file,azimuth_deg,elevation_deg,class\nrec.wav,45,0,speech\n")
    bad = run_cli(
        "dataset", "import", "--audio", str(audio), "--labels", str(labels), "--out", str(tmp_path / "ds2")
    )
    assert bad.returncode == 2 and "distance_m" in bad.stderr


def test_hours_become_a_number_of_examples():
    def args(**kw):
        base = {"preset": "binaural-speech-tiny", "set": None, "seed": None, "num": None, "hours": None}
        return argparse.Namespace(**{**base, **kw})

    assert simulate_cli.build_config(args(hours=0.002)).num_examples == 15  # 7.2 s of 0.5 s clips
    assert simulate_cli.build_config(args(num=5, seed=9)).num_examples == 5
    assert (
        simulate_cli.build_config(args(seed=9, set=["scene.duration_s=0.25"], hours=0.001)).num_examples == 15
    )
