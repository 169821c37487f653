"""Rendering throughput of the default binaural scene configuration, in hours of audio per CPU-minute.

Default config: KEMAR head, 16 kHz, 4 s clips of espeak speech, shoebox rooms with RT60 0.2–0.9 s (hybrid
BRIRs), diffuse noise at SNR -5..20 dB (white, pink, speech-shaped or babble). One process, one thread; CPU
time measured with ``time.process_time`` around ``sample_scene`` + ``render`` of every scene.

Two paths in the same run: the default fast paths and the reference code they replace
(:func:`spatialrep.simulate.fastpath.reference_path`). First an equality gate renders scenes both ways and
requires every signal to be bit-identical; then ``--rounds`` rounds each render the same ``--num`` scenes on
both paths, alternating which goes first, so load from elsewhere on a shared machine hits both; the per-room
cache of the decay model is cleared before each pass, as every room of a real dataset is new. Reported:
the median over rounds of each path's hours per CPU-minute and the median of the per-round ratios. Goal: ≥ 2 h
of audio per CPU-minute (issue 17).

``--profile N`` also writes ``results/render_profile.txt``: cProfile's top functions (by own time and by
cumulative time, CPU seconds) over N scenes on each path.

Run: ``.venv/bin/python benchmarks/bench_render.py [--num 40] [--rounds 5] [--profile 40]`` (a few minutes).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import cProfile  # noqa: E402
import io  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _common import write_result  # noqa: E402

from spatialrep.simulate import fastpath, rooms  # noqa: E402
from spatialrep.simulate.render import SceneRenderer  # noqa: E402
from spatialrep.simulate.sampling import sample_scene  # noqa: E402
from spatialrep.simulate.scene_config import SceneConfig  # noqa: E402

GOAL = 2.0


def _path(name: str) -> contextlib.AbstractContextManager[None]:
    # Every room of a real dataset is new: forget the decay models of rooms seen in earlier passes.
    rooms._decay_model.cache_clear()
    return fastpath.reference_path() if name == "reference" else contextlib.nullcontext()


def profile_paths(renderer: SceneRenderer, config: SceneConfig, seed: int, num: int) -> str:
    """cProfile summaries of ``num`` scenes on each path (sampling included), as text."""
    out = io.StringIO()
    for name in ("reference", "fast"):
        profiler = cProfile.Profile(time.process_time)  # CPU seconds: less sensitive to a busy machine
        with _path(name):
            start = time.process_time()
            profiler.enable()
            for index in range(num):
                renderer.render(sample_scene(config, seed, index))
            profiler.disable()
            cpu = time.process_time() - start
        out.write(f"===== {name} path: {num} scenes, {cpu:.2f} s CPU under cProfile =====\n")
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(15)
        stats.sort_stats("cumulative").print_stats(25)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num", type=int, default=40, help="scenes per round and path")
    parser.add_argument("--rounds", type=int, default=5, help="paired rounds")
    parser.add_argument("--check", type=int, default=8, help="scenes of the equality gate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", type=int, default=0, help="scenes to profile per path (0: none)")
    args = parser.parse_args()

    config = SceneConfig()
    renderer = SceneRenderer(config)
    for name in ("fast", "reference"):  # warm-up: caches, lazy imports, voice files
        with _path(name):
            renderer.render(sample_scene(config, args.seed, 10_000))

    mismatches = []
    noise_types = []
    for index in range(args.check):
        spec = sample_scene(config, args.seed, 20_000 + index)
        noise_types.append(spec.noise_type)
        rooms._decay_model.cache_clear()  # so that each path computes the room's decay model itself
        fast = renderer.render(spec)
        with _path("reference"):
            reference = renderer.render(spec)
        for signal in ("noisy", "clean_direct", "clean_reverb", "dry", "noise"):
            if not np.array_equal(getattr(fast, signal), getattr(reference, signal)):
                mismatches.append(f"scene {index} {signal}")
    if mismatches:
        raise SystemExit(f"equality gate failed: fast and reference renders differ in {mismatches}")

    cpu: dict[str, list[float]] = {"fast": [], "reference": []}
    per_scene: dict[str, list[float]] = {"fast": [], "reference": []}
    for round_ in range(args.rounds):
        order = ("fast", "reference") if round_ % 2 == 0 else ("reference", "fast")
        for name in order:
            with _path(name):
                total = 0.0
                for index in range(args.num):
                    t0 = time.process_time()
                    renderer.render(sample_scene(config, args.seed, index))
                    spent = time.process_time() - t0
                    per_scene[name].append(spent)
                    total += spent
            cpu[name].append(total)
    audio_hours = args.num * config.duration_s / 3600
    rate = {name: [audio_hours / (c / 60) for c in values] for name, values in cpu.items()}
    ratios = [r / f for f, r in zip(cpu["fast"], cpu["reference"])]
    result = {
        "benchmark": "render_default_binaural",
        "config": {
            "receiver": config.receiver,
            "duration_s": config.duration_s,
            "rt60_range_s": config.rt60_range_s,
            "brir_mode": config.brir_mode,
            "noise_types": config.noise_types,
            "sample_rate": config.sample_rate,
        },
        "threads": 1,
        "num_scenes": args.num,
        "rounds": args.rounds,
        "equality_gate": {"scenes": args.check, "noise_types": noise_types, "bit_identical": True},
        "reference": {
            "cpu_seconds_per_round": cpu["reference"],
            "median_cpu_seconds_per_scene": statistics.median(per_scene["reference"]),
            "hours_audio_per_cpu_minute": statistics.median(rate["reference"]),
        },
        "fast": {
            "cpu_seconds_per_round": cpu["fast"],
            "median_cpu_seconds_per_scene": statistics.median(per_scene["fast"]),
            "hours_audio_per_cpu_minute": statistics.median(rate["fast"]),
        },
        "speedup": statistics.median(ratios),
        "speedup_per_round": [round(r, 3) for r in ratios],
        "hours_audio_per_cpu_minute": statistics.median(rate["fast"]),
        "goal_hours_audio_per_cpu_minute": GOAL,
    }
    result["meets_goal"] = result["hours_audio_per_cpu_minute"] >= GOAL
    path = write_result("render", result)
    if args.profile:
        profile = path.with_name("render_profile.txt")
        profile.write_text(profile_paths(renderer, config, args.seed, args.profile))
        print(f"profile -> {profile}")
    print(
        f"{result['fast']['hours_audio_per_cpu_minute']:.2f} h of audio per CPU-minute (reference path "
        f"{result['reference']['hours_audio_per_cpu_minute']:.2f}; speed-up {result['speedup']:.2f}x, "
        "median of "
        f"{args.rounds} paired rounds; goal {GOAL}) -> {path}"
    )


if __name__ == "__main__":
    main()
