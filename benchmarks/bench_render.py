"""Rendering throughput of the default binaural scene configuration, in hours of audio per CPU-minute.

Default config: KEMAR head, 16 kHz, 4 s clips of espeak speech, shoebox rooms with RT60 0.2–0.9 s (hybrid
BRIRs), diffuse noise at SNR -5..20 dB. One process; CPU time measured with ``time.process_time``. Goal: ≥ 2 h
of audio per CPU-minute (issue 2).

Run: ``.venv/bin/python benchmarks/bench_render.py [--num 40]``
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import write_result

from spatialrep.simulate.render import SceneRenderer
from spatialrep.simulate.sampling import sample_scene
from spatialrep.simulate.scene_config import SceneConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num", type=int, default=40, help="scenes to render")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    config = SceneConfig()
    renderer = SceneRenderer(config)
    renderer.render(sample_scene(config, args.seed, 10_000))  # warm-up: caches, lazy imports
    per_scene = []
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    for index in range(args.num):
        t0 = time.process_time()
        renderer.render(sample_scene(config, args.seed, index))
        per_scene.append(time.process_time() - t0)
    cpu = time.process_time() - cpu_start
    wall = time.perf_counter() - wall_start
    audio_hours = args.num * config.duration_s / 3600
    result = {
        "benchmark": "render_default_binaural",
        "config": {
            "receiver": config.receiver,
            "duration_s": config.duration_s,
            "rt60_range_s": config.rt60_range_s,
            "brir_mode": config.brir_mode,
            "sample_rate": config.sample_rate,
        },
        "num_scenes": args.num,
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "median_cpu_seconds_per_scene": statistics.median(per_scene),
        "hours_audio_per_cpu_minute": audio_hours / (cpu / 60),
        "goal_hours_audio_per_cpu_minute": 2.0,
    }
    result["meets_goal"] = result["hours_audio_per_cpu_minute"] >= 2.0
    path = write_result("render", result)
    print(
        f"{result['hours_audio_per_cpu_minute']:.2f} h of audio per CPU-minute "
        f"(median {result['median_cpu_seconds_per_scene'] * 1000:.0f} ms CPU per 4 s scene) -> {path}"
    )


if __name__ == "__main__":
    main()
