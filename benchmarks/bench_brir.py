"""Hybrid vs exact binaural room impulse response synthesis: speed ratio and accuracy gate.

For a few shoebox rooms with RT60 from 0.2 to 0.9 s (sizes drawn at random, receiver and source placed at a
random relative direction and distance), renders the response of the default binaural receiver (MIT KEMAR at
16 kHz; the spherical head if the HRTF module is unavailable) with ``mode="exact"`` (every image source up to
the 60 dB decay) and ``mode="hybrid"`` (image sources up to the transition, then a diffuse tail), for
``--realizations`` generator seeds (each seed fixes the image jitter, the same in both modes, and the hybrid's
tail noise). Gate per room:

* the direct path is identical (same samples);
* the Schroeder curves differ by at most 1 dB over the first 20 dB of decay;
* the T30 of the hybrid is within 10 % of the exact one's.

Curves and T30 use the channel-summed energy averaged over the realizations: a single exact rendering is
itself only reproducible to about 1 dB (two exact renderings that differ only in their image jitter differ by
0.5-1.2 dB), so a single-draw comparison tests luck as much as the model. The single-draw gaps, the per-ear
gaps and the exact-vs-exact gaps are recorded next to it. Timing: one exact rendering, median of ``--repeats``
hybrid ones. Goal: median exact time / median hybrid time >= 10.

Run: ``.venv/bin/python benchmarks/bench_brir.py [--repeats 5] [--rooms 5] [--realizations 3]`` (about 1-2
minutes on 2 cores).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from _common import median_time, write_result  # noqa: E402

from spatialrep.simulate.receivers import Receiver  # noqa: E402
from spatialrep.simulate.room_analysis import edc_deviation, estimate_rt60, schroeder_edc  # noqa: E402
from spatialrep.simulate.room_response import room_response  # noqa: E402
from spatialrep.simulate.rooms import RoomSampler, ShoeboxRoom, place_receiver_and_source  # noqa: E402

SAMPLE_RATE = 16000
EDC_TOLERANCE_DB = 1.0
RT60_TOLERANCE = 0.10
GOAL_RATIO = 10.0


def default_binaural(sample_rate: int) -> Receiver:
    try:
        from spatialrep.simulate.hrtf import load_default_hrtf
    except ImportError:
        from spatialrep.simulate.spherical_head import SphericalHead

        return SphericalHead(sample_rate)
    return load_default_hrtf(sample_rate)


def per_ear_deviation(reference: np.ndarray, test: np.ndarray, decay_db: float = 20.0) -> float:
    a, b = schroeder_edc(reference), schroeder_edc(test)
    return float(np.max(np.abs(a - b)[a >= -decay_db]))


def bench_room(
    receiver: Receiver,
    room: ShoeboxRoom,
    rng: np.random.Generator,
    repeats: int,
    realizations: int,
    transition: float | None,
) -> dict[str, Any]:
    azimuth = float(rng.uniform(-np.pi, np.pi))
    elevation = float(rng.uniform(-0.3, 0.5))
    distance = float(rng.uniform(1.0, 2.5))
    place = place_receiver_and_source(
        room,
        rng,
        azimuth,
        elevation,
        distance,
        receiver_margin=0.6,
        source_margin=0.4,
        receiver_height=(1.2, 1.8),
    )
    seed = int(rng.integers(2**32))

    def render(mode: str, k: int = 0) -> Any:
        return room_response(
            room, receiver, place.receiver, place.source, np.random.default_rng(seed + k),
            receiver_yaw=place.yaw, mode=mode, transition_time=transition if mode == "hybrid" else None,
        )  # fmt: skip

    start = time.perf_counter()
    exacts = [render("exact")]
    exact_time = time.perf_counter() - start
    hybrid_time, hybrid_times = median_time(lambda: render("hybrid"), repeats=repeats, warmup=1)
    exacts += [render("exact", k) for k in range(1, realizations)]
    hybrids = [render("hybrid", k) for k in range(realizations)]  # same seeds: same image jitter as exacts

    # Realization-averaged energy (channels summed): what both modes model, free of one jitter draw's luck.
    exact_energy = np.mean([np.sum(r.full**2, axis=0) for r in exacts], axis=0)
    hybrid_energy = np.mean([np.sum(r.full**2, axis=0) for r in hybrids], axis=0)
    rt60_exact = estimate_rt60(np.sqrt(exact_energy), SAMPLE_RATE)
    rt60_hybrid = estimate_rt60(np.sqrt(hybrid_energy), SAMPLE_RATE)
    edc_gap = edc_deviation(np.sqrt(exact_energy), np.sqrt(hybrid_energy))
    single_gaps = [edc_deviation(e.full, h.full) for e, h in zip(exacts, hybrids)]
    single_rt60_errors = [
        abs(estimate_rt60(h.full, SAMPLE_RATE) / estimate_rt60(e.full, SAMPLE_RATE) - 1.0)
        for e, h in zip(exacts, hybrids)
    ]
    gate = {
        "direct_identical": all(np.array_equal(e.direct, h.direct) for e, h in zip(exacts, hybrids)),
        "edc_within_1db": edc_gap <= EDC_TOLERANCE_DB,
        "rt60_within_10pct": abs(rt60_hybrid / rt60_exact - 1.0) <= RT60_TOLERANCE,
    }
    exact, hybrid = exacts[0], hybrids[0]
    return {
        "room": {
            "id": room.id,
            "size_m": list(room.size),
            "rt60_s": room.rt60,
            "absorption": room.absorption,
        },
        "source": {"azimuth_rad": azimuth, "elevation_rad": elevation, "distance_m": distance},
        "taps": int(exact.full.shape[-1]),
        "num_images_exact": exact.num_images,
        "num_images_hybrid": hybrid.num_images,
        "transition_time_s": hybrid.transition_time,
        "exact_time_s": exact_time,
        "hybrid_time_s": hybrid_time,
        "hybrid_times_s": hybrid_times,
        "ratio": exact_time / hybrid_time,
        "realizations": realizations,
        "t30_exact_s": rt60_exact,
        "t30_hybrid_s": rt60_hybrid,
        "drr_exact_db": exact.drr_db,
        "drr_hybrid_db": hybrid.drr_db,
        "edc_gap_db": edc_gap,
        "edc_gap_single_db": single_gaps,
        "t30_error_single": single_rt60_errors,
        "edc_gap_per_ear_single_db": [per_ear_deviation(e.full, h.full) for e, h in zip(exacts, hybrids)],
        "edc_gap_exact_vs_exact_db": [edc_deviation(exacts[0].full, e.full) for e in exacts[1:]],
        "gate": gate,
        "passed": all(gate.values()),
    }


def _fmt(values: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rooms", type=int, default=5)
    parser.add_argument("--realizations", type=int, default=3, help="image-jitter draws averaged by the gate")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--transition", type=float, default=None, help="hybrid transition time, s (default: auto)"
    )
    args = parser.parse_args()

    receiver = default_binaural(SAMPLE_RATE)
    rng = np.random.default_rng(args.seed)
    sampler = RoomSampler(size_range=((4.0, 9.0), (3.0, 7.0), (2.5, 3.5)), rt60_range=(0.2, 0.9))
    targets = np.linspace(0.2, 0.9, args.rooms)
    rooms = []
    for k, rt60 in enumerate(targets):
        drawn = sampler.sample(rng)
        rooms.append(ShoeboxRoom(f"bench{k}_rt{rt60:.2f}", drawn.size, float(rt60)))
    results = [
        bench_room(receiver, room, rng, args.repeats, args.realizations, args.transition) for room in rooms
    ]
    for r in results:
        print(
            f"{r['room']['id']:>16}: exact {r['exact_time_s']:7.3f} s  "
            f"hybrid {r['hybrid_time_s'] * 1e3:6.1f} ms  "
            f"x{r['ratio']:6.1f}  T30 {r['t30_exact_s']:.3f}/{r['t30_hybrid_s']:.3f} s  "
            f"EDC gap {r['edc_gap_db']:.2f} dB (single draws {_fmt(r['edc_gap_single_db'])}, exact vs exact "
            f"{_fmt(r['edc_gap_exact_vs_exact_db'])})  {'PASS' if r['passed'] else 'FAIL'}"
        )
    exact_median = statistics.median(r["exact_time_s"] for r in results)
    hybrid_median = statistics.median(r["hybrid_time_s"] for r in results)
    summary = {
        "receiver": receiver.name,
        "sample_rate": SAMPLE_RATE,
        "median_exact_time_s": exact_median,
        "median_hybrid_time_s": hybrid_median,
        "ratio": exact_median / hybrid_median,
        "goal_ratio": GOAL_RATIO,
        "ratio_met": exact_median / hybrid_median >= GOAL_RATIO,
        "all_gates_passed": all(r["passed"] for r in results),
        "tolerances": {"edc_db": EDC_TOLERANCE_DB, "edc_range_db": 20.0, "rt60_relative": RT60_TOLERANCE},
    }
    print(
        f"median exact {exact_median:.3f} s, median hybrid {hybrid_median * 1e3:.1f} ms, ratio "
        f"{summary['ratio']:.1f}x (goal {GOAL_RATIO}x), "
        f"gates {'passed' if summary['all_gates_passed'] else 'FAILED'}"
    )
    path = write_result("brir", {"summary": summary, "rooms": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
