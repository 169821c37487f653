"""Dataset rendering throughput with 1 and 2 workers, and disk size per hour of audio.

Renders the ``binaural-speech`` preset (KEMAR, 16 kHz, 4 s clips, rooms RT60 0.2–0.9 s, diffuse noise;
signals noisy + clean_direct + dry as 24-bit FLAC) with ``render_dataset`` end to end — sampling, rendering,
FLAC encoding, shard manifests, assembly — once with one worker (in process) and once with a pool of two, into
fresh folders. Reports examples per second (wall clock, pool start-up included), the 2-vs-1 scaling ratio,
and bytes on disk per hour of audio for each saved signal. The two outputs are checked to be byte-identical.

Run: ``.venv/bin/python benchmarks/bench_dataset.py [--num 24] [--shard-size 3]`` (about half a minute on two
cores). The scaling ratio can only approach 2 on an otherwise idle machine with at least two cores: a control
(two pure-Python busy processes) measures how many cores two processes actually get, and is recorded with the
load average.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import concurrent.futures as cf  # noqa: E402
import multiprocessing  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from _common import write_result  # noqa: E402

from spatialrep.data.manifest import read_rows  # noqa: E402
from spatialrep.data.presets import load_dataset_config  # noqa: E402
from spatialrep.data.writer import render_dataset  # noqa: E402

PRESET = "binaural-speech"


def burn(n: int) -> float:
    """Pure-Python CPU work; its time says how much CPU a process gets."""
    start = time.perf_counter()
    total = 0
    for i in range(n):
        total += i
    return time.perf_counter() - start


def cpu_parallelism(n: int = 10_000_000) -> float:
    """How many cores two processes actually get now (2.0 on an idle machine with two free cores)."""
    single = burn(n)
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(burn, [1000, 1000]))  # start both workers first
        start = time.perf_counter()
        list(pool.map(burn, [n, n]))
        both = time.perf_counter() - start
    return 2 * single / both


def files_of(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def disk_per_hour(root: Path, signals: tuple[str, ...]) -> dict[str, Any]:
    rows = read_rows(root / "manifest.csv")
    hours = sum(float(r["duration_s"]) for r in rows) / 3600
    per_signal = {s: sum((root / r[f"{s}_path"]).stat().st_size for r in rows) for s in signals}
    total = sum(per_signal.values())
    return {
        "audio_hours": hours,
        "gb_per_hour": {s: b / hours / 1e9 for s, b in per_signal.items()},
        "gb_per_hour_all_signals": total / hours / 1e9,
        "bytes_per_example": total / len(rows),
        "uncompressed_24bit_gb_per_hour_noisy": 2 * 3 * 16000 * 3600 / 1e9,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num", type=int, default=24, help="examples per run")
    parser.add_argument("--shard-size", type=int, default=3)
    args = parser.parse_args()
    overrides = [
        f"num_examples={args.num}",
        f"shard_size={args.shard_size}",
        "splits.train.size=1.0",
        "splits.val.size=0.0",
        "splits.test.size=0.0",
    ]
    config = load_dataset_config(PRESET, overrides)
    load = os.getloadavg()
    parallelism = cpu_parallelism()
    print(f"control: two busy processes get {parallelism:.2f} cores (load average {load[0]:.2f})")
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        outputs = {}
        for workers in (1, 2):
            out = Path(tmp) / f"w{workers}"
            before = os.times()
            start = time.perf_counter()
            render_dataset(config, out, workers=workers)
            wall = time.perf_counter() - start
            after = os.times()
            # user + system time of this process and of its reaped pool workers: independent of contention
            cpu = sum(after[k] - before[k] for k in range(4))
            outputs[workers] = out
            runs[f"workers_{workers}"] = {
                "wall_s": wall,
                "cpu_s": cpu,
                "cpu_s_per_example": cpu / args.num,
                "cores_used": cpu / wall,
                "examples_per_s": args.num / wall,
                "audio_s_per_wall_s": args.num * config.scene.duration_s / wall,
            }
            print(
                f"{workers} worker(s): {args.num / wall:.2f} examples/s ({wall:.1f} s wall, {cpu:.1f} s CPU)"
            )
        identical = files_of(outputs[1]) == files_of(outputs[2])
        disk = disk_per_hour(outputs[1], config.signals)
    ratio = runs["workers_2"]["examples_per_s"] / runs["workers_1"]["examples_per_s"]
    print(f"scaling 2 vs 1 workers: {ratio:.2f}x; byte-identical: {identical}")
    print(
        f"disk: {disk['gb_per_hour_all_signals']:.3f} GB per hour of audio "
        f"({', '.join(f'{s} {v:.3f}' for s, v in disk['gb_per_hour'].items())})"
    )
    path = write_result(
        "dataset",
        {
            "benchmark": "dataset",
            "preset": PRESET,
            "overrides": overrides,
            "clip_s": config.scene.duration_s,
            "signals": list(config.signals),
            "load_average_at_start": list(load),
            **runs,
            "scaling_2_vs_1": ratio,
            "control_cores_available_to_2_processes": parallelism,
            "scaling_relative_to_control": ratio / parallelism,
            "byte_identical_1_vs_2_workers": identical,
            "disk": disk,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
