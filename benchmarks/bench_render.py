"""Rendering throughput of the default binaural scene configuration, in hours of audio per CPU-minute.

Default config: KEMAR head, 16 kHz, 4 s clips of espeak speech, shoebox rooms with RT60 0.2–0.9 s (hybrid
BRIRs), diffuse noise at SNR -5..20 dB (white, pink, speech-shaped or babble). One process, one thread; CPU
time measured with ``time.process_time`` around ``sample_scene`` + ``render`` of every scene.

Paths timed in the same run, over the same ``--num`` scenes per round, in an order that rotates every round
(so load from elsewhere on a shared machine hits all of them):

* ``v1-reference``: render version ``v1`` on the reference code of its fast paths
  (:func:`spatialrep.simulate.fastpath.reference_path`): the renderer before issue 17;
* ``v1``: render version ``v1`` with the bit-identical fast paths (what datasets got before render versions);
* ``v2``: render version ``v2`` (the default) in a worker that has rendered these scenes before: its pools
  hold the clips they use (the steady state of a long render, where every pooled clip has been synthesised);
* ``v2-cold``: ``v2`` with empty pools and caches (a fresh renderer per round): what a worker's first scenes
  cost.

Before timing, gates: ``v1`` and ``v1-reference`` render bit-identical signals, and a fresh ``v2`` renderer
renders bit-identically to the warm one (pool order does not matter). The per-room cache of the decay model is
cleared before each pass, as every room of a real dataset is new. Also measured once: the CPU time to fill a
split's pools completely (``source_pool_size`` targets and the babble pool), a one-time cost per split and
worker; the JSON then gives the amortised rate of a worker rendering 1 000 and 10 000 scenes of one split
(steady-state time per scene plus the whole fill, an upper bound). Reported: the median over rounds of each
path's hours per CPU-minute and the medians of the per-round ratios. Goal: ≥ 2 h of audio per CPU-minute
(issue 17).

``--profile N`` also writes ``results/render_profile.txt``: cProfile's top functions (by own time and by
cumulative time, CPU seconds) over N scenes on the ``v1-reference``, ``v1`` and ``v2`` paths.

Run: ``.venv/bin/python benchmarks/bench_render.py [--num 40] [--rounds 5] [--profile 40]`` (a few minutes).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import cProfile  # noqa: E402
import dataclasses  # noqa: E402
import io  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _common import write_result  # noqa: E402

from spatialrep.simulate import fastpath, rooms  # noqa: E402
from spatialrep.simulate.render import BABBLE_POOL_SIZE, SceneRenderer  # noqa: E402
from spatialrep.simulate.sampling import sample_scene  # noqa: E402
from spatialrep.simulate.scene_config import SceneConfig  # noqa: E402

GOAL = 2.0
PATHS = ("v1-reference", "v1", "v2", "v2-cold")
SIGNALS = ("noisy", "clean_direct", "clean_reverb", "dry", "noise")


def _context(name: str) -> contextlib.AbstractContextManager[None]:
    # Every room of a real dataset is new: forget the decay models of rooms seen in earlier passes.
    rooms._decay_model.cache_clear()
    return fastpath.reference_path() if name == "v1-reference" else contextlib.nullcontext()


def _differs(a: object, b: object) -> list[str]:
    return [s for s in SIGNALS if not np.array_equal(getattr(a, s), getattr(b, s))]


def profile_paths(renderers: dict[str, SceneRenderer], seed: int, num: int) -> str:
    """cProfile summaries of ``num`` scenes on the v1-reference, v1 and (warm) v2 paths, as text."""
    out = io.StringIO()
    for name in ("v1-reference", "v1", "v2"):
        renderer = renderers[name]
        profiler = cProfile.Profile(time.process_time)  # CPU seconds: less sensitive to a busy machine
        with _context(name):
            start = time.process_time()
            profiler.enable()
            for index in range(num):
                renderer.render(sample_scene(renderer.config, seed, index))
            profiler.disable()
            cpu = time.process_time() - start
        out.write(f"===== {name} path: {num} scenes, {cpu:.2f} s CPU under cProfile =====\n")
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(15)
        stats.sort_stats("cumulative").print_stats(25)
    return out.getvalue()


def pool_fill_seconds(config: SceneConfig, seed: int) -> dict[str, float]:
    """CPU seconds to synthesise a whole split's target pool and babble pool in a fresh renderer."""
    renderer = SceneRenderer(config)
    pool_seed = sample_scene(config, seed, 0).pool_seed
    out = {}
    start = time.process_time()
    assert renderer.target_pool is not None
    for k in range(renderer.target_pool.size):
        renderer.target_pool.clip(pool_seed, k)
    out["targets"] = time.process_time() - start
    start = time.process_time()
    renderer._pooled_babble(pool_seed)  # builds the pool object
    assert renderer._babble_pool is not None
    for k in range(BABBLE_POOL_SIZE):
        renderer._babble_pool.clip(pool_seed, k)
    out["babble"] = time.process_time() - start
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num", type=int, default=40, help="scenes per round and path")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (each times every path once)")
    parser.add_argument("--check", type=int, default=8, help="scenes of the equality gates")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", type=int, default=0, help="scenes to profile per path (0: none)")
    args = parser.parse_args()

    config = SceneConfig()  # the default binaural preset: render version v2
    v1_config = dataclasses.replace(config, render_version="v1")
    v1 = SceneRenderer(v1_config)
    renderers = {"v1-reference": v1, "v1": v1, "v2": SceneRenderer(config)}
    for name in ("v1", "v1-reference", "v2"):  # warm-up: caches, lazy imports, voice files
        with _context(name):
            renderers[name].render(sample_scene(renderers[name].config, args.seed, 10_000))

    mismatches, noise_types = [], []
    for index in range(args.check):
        spec = sample_scene(v1_config, args.seed, 20_000 + index)
        noise_types.append(spec.noise_type)
        rooms._decay_model.cache_clear()  # so that each path computes the room's decay model itself
        fast = v1.render(spec)
        with _context("v1-reference"):
            reference = v1.render(spec)
        mismatches += [f"v1 scene {index} {s}" for s in _differs(fast, reference)]
    fresh = SceneRenderer(config)
    for index in reversed(range(args.check)):  # the warm renderer fills its pools in the other order
        renderers["v2"].render(sample_scene(config, args.seed, 20_000 + index))
    for index in range(args.check):
        spec = sample_scene(config, args.seed, 20_000 + index)
        mismatches += [
            f"v2 scene {index} {s}" for s in _differs(fresh.render(spec), renderers["v2"].render(spec))
        ]
    if mismatches:
        raise SystemExit(f"equality gate failed: {mismatches}")

    for index in range(args.num):  # the warm v2 worker has rendered these scenes before
        renderers["v2"].render(sample_scene(config, args.seed, index))
    cpu: dict[str, list[float]] = {name: [] for name in PATHS}
    per_scene: dict[str, list[float]] = {name: [] for name in PATHS}
    for round_ in range(args.rounds):
        shift = round_ % len(PATHS)
        for name in PATHS[shift:] + PATHS[:shift]:
            renderer = SceneRenderer(config) if name == "v2-cold" else renderers[name]
            with _context(name):
                total = 0.0
                for index in range(args.num):
                    t0 = time.process_time()
                    renderer.render(sample_scene(renderer.config, args.seed, index))
                    spent = time.process_time() - t0
                    per_scene[name].append(spent)
                    total += spent
            cpu[name].append(total)
    fill = pool_fill_seconds(config, args.seed)

    audio_hours = args.num * config.duration_s / 3600
    rate = {name: [audio_hours / (c / 60) for c in values] for name, values in cpu.items()}

    def ratios(slow: str, fast: str) -> list[float]:
        return [s / f for s, f in zip(cpu[slow], cpu[fast])]

    warm_scene = statistics.median(c / args.num for c in cpu["v2"])
    amortised = {
        str(n): n * config.duration_s / 3600 / ((n * warm_scene + sum(fill.values())) / 60)
        for n in (1000, 10_000)
    }
    result = {
        "benchmark": "render_default_binaural",
        "config": {
            "receiver": config.receiver,
            "duration_s": config.duration_s,
            "rt60_range_s": config.rt60_range_s,
            "brir_mode": config.brir_mode,
            "noise_types": config.noise_types,
            "sample_rate": config.sample_rate,
            "render_version": config.render_version,
            "source_pool_size": config.source_pool_size,
            "babble_pool_size": BABBLE_POOL_SIZE,
        },
        "threads": 1,
        "num_scenes": args.num,
        "rounds": args.rounds,
        "equality_gates": {
            "scenes": args.check,
            "noise_types": noise_types,
            "v1_fast_equals_reference": True,
            "v2_fresh_equals_warm": True,
        },
        **{
            name: {
                "cpu_seconds_per_round": cpu[name],
                "median_cpu_seconds_per_scene": statistics.median(per_scene[name]),
                "hours_audio_per_cpu_minute": statistics.median(rate[name]),
            }
            for name in PATHS
        },
        "speedup_v2_over_v1": statistics.median(ratios("v1", "v2")),
        "speedup_v2_over_v1_reference": statistics.median(ratios("v1-reference", "v2")),
        "speedup_v1_over_v1_reference": statistics.median(ratios("v1-reference", "v1")),
        "speedup_v2_cold_over_v1": statistics.median(ratios("v1", "v2-cold")),
        "speedup_v2_over_v1_per_round": [round(r, 3) for r in ratios("v1", "v2")],
        "pool_fill_cpu_seconds": fill,
        "amortised_hours_audio_per_cpu_minute_by_scenes_per_worker": amortised,
        "hours_audio_per_cpu_minute": statistics.median(rate["v2"]),
        "goal_hours_audio_per_cpu_minute": GOAL,
    }
    result["meets_goal"] = result["hours_audio_per_cpu_minute"] >= GOAL
    path = write_result("render", result)
    if args.profile:
        profile = path.with_name("render_profile.txt")
        profile.write_text(profile_paths(renderers, args.seed, args.profile))
        print(f"profile -> {profile}")
    print(
        f"v2 {result['v2']['hours_audio_per_cpu_minute']:.2f} h of audio per CPU-minute (v1 "
        f"{result['v1']['hours_audio_per_cpu_minute']:.2f}, v1-reference "
        f"{result['v1-reference']['hours_audio_per_cpu_minute']:.2f}, v2 with empty pools "
        f"{result['v2-cold']['hours_audio_per_cpu_minute']:.2f}); v2/v1 {result['speedup_v2_over_v1']:.2f}x, "
        f"median of {args.rounds} rounds; pools filled in {sum(fill.values()):.1f} s CPU per split and "
        "worker "
        f"(amortised over 1000 / 10000 scenes: {amortised['1000']:.2f} / {amortised['10000']:.2f}); "
        f"goal {GOAL} -> {path}"
    )


if __name__ == "__main__":
    main()
