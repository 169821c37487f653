"""MC-SimCLR speed: NT-Xent against pytorch-metric-learning, the batched augmentation chain against a per-clip
loop, pretraining throughput and FLOP utilisation, and the cost of gathering negatives across processes.

Each comparison first checks that both sides compute the same thing, then times them in pairs (each round
times the peer and then ours; a ratio is the median of the per-round ratios, robust to bursts of load on a
shared machine):

* ``nt_xent``: :class:`spatialrep.losses.NTXentLoss` forward + backward against pytorch-metric-learning's
  ``NTXentLoss`` (labels ``(0..N-1, 0..N-1)``), embeddings of 128 dims, batches of 256 and 1024 clips (2N
  embeddings): values and gradients equal to 1e-5, goal ratio (theirs / ours) ≥ 1. Their ``NTXentLoss`` needs
  a 34 GB pair mask at 1024 clips and is skipped above 4 GB; their ``SupConLoss`` (the same loss with one
  positive per anchor, on the 2N x 2N matrix) is compared at both sizes.
* ``augment``: :meth:`McSimclrAugment.views` on a batch of 2 s four-channel clips (two 1 s views, every step
  on, the ``array4_mel_gcc`` front-end included) against the same chain run clip by clip (the same functions
  on batches of one, Mixup's partner passed by hand). Goal ≥ 3×. The front-end is the same computation on
  both sides and dominates; ``augment_ops`` times the augmentations alone (waveform steps, then
  RandomResizedCrop and ChannelDrop on precomputed maps).
* ``pretraining``: clips per second of a full pretraining step (augmentation, front-end, CRNN, projector,
  NT-Xent, backward, Adam) at the small recipe's size on one thread; its FLOPs (``torch.utils.flop_counter``)
  per second against a large matrix product measured in the same run (the utilisation).
* ``gather``: NT-Xent forward + backward with negatives gathered from 2 CPU processes (gloo) against the same
  local batch without gathering, in the same processes.
* With a GPU (``--gpu``): 200 steps of the paper configuration (batch 256, two 2 s views, bf16). Not run when
  no GPU is present (recorded as such).

Threads: one (OMP/BLAS limited before torch loads): the GRU opens a parallel region per frame, and on a shared
CPU more threads made steps many times slower (docs/mcsimclr.md).

Run: ``.venv/bin/python benchmarks/bench_mcsimclr.py [--rounds 5] [--quick]`` (one to two minutes).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from typing import Any  # noqa: E402

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
from _common import write_result  # noqa: E402
from pytorch_metric_learning.losses import NTXentLoss as ReferenceNTXent  # noqa: E402
from pytorch_metric_learning.losses import SupConLoss as ReferenceSupCon  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from spatialrep.features.augment import (  # noqa: E402
    McSimclrAugment,
    channel_drop,
    channel_swap,
    mixup,
    random_crops,
    random_resized_crop,
)
from spatialrep.features.frontend import FeatureFrontEnd, feature_preset  # noqa: E402
from spatialrep.geometry import array_symmetries, make_array  # noqa: E402
from spatialrep.losses import NTXentLoss  # noqa: E402
from spatialrep.methods.mcsimclr import McSimclrConfig, McSimclrPretrainer, pretrain_step  # noqa: E402
from spatialrep.models import EncoderConfig  # noqa: E402
from spatialrep.train import StepContext  # noqa: E402

RATE = 16000
DIM = 128


def paired(peer: Callable[[], Any], ours: Callable[[], Any], rounds: int) -> dict[str, float]:
    """Median times of both and the median of per-round ratios (peer / ours)."""
    peer(), ours()
    peer_times, our_times, ratios = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        peer()
        middle = time.perf_counter()
        ours()
        end = time.perf_counter()
        peer_times.append(middle - start)
        our_times.append(end - middle)
        ratios.append((middle - start) / (end - middle))
    return {
        "peer_median_s": statistics.median(peer_times),
        "ours_median_s": statistics.median(our_times),
        "ratio_peer_over_ours": statistics.median(ratios),
    }


# ------------------------------------------------------------------------------------------------ NT-Xent


NTXENT_MEMORY_LIMIT = 4 * 1024**3
"""pytorch-metric-learning's ``NTXentLoss`` builds a (positive pairs x negative pairs) mask:
``2N · 2N(2N - 2)`` floats, 0.5 GB at N = 256 but 34 GB at N = 1024. Above this many bytes it is not run
(recorded as such)."""


def _nt_xent_memory(batch: int) -> int:
    embeddings = 2 * batch
    return embeddings * embeddings * (embeddings - 2) * 4


def bench_nt_xent(batch: int, rounds: int) -> dict[str, Any]:
    """Ours against pytorch-metric-learning's ``NTXentLoss`` and ``SupConLoss`` (with one positive per anchor,
    as here, SupCon's denominator is every other embedding: the same loss, computed on the 2N x 2N matrix)."""
    g = torch.Generator().manual_seed(batch)
    a = torch.randn(batch, DIM, generator=g)
    b = a + 0.5 * torch.randn(batch, DIM, generator=g)
    labels = torch.cat((torch.arange(batch), torch.arange(batch)))
    ours_loss = NTXentLoss(0.1)

    def run_ours() -> tuple[torch.Tensor, torch.Tensor]:
        x, y = a.clone().requires_grad_(), b.clone().requires_grad_()
        loss = ours_loss(x, y)
        loss.backward()
        return loss.detach(), torch.cat((x.grad, y.grad))  # type: ignore[arg-type]

    def reference_run(reference: torch.nn.Module) -> Callable[[], tuple[torch.Tensor, torch.Tensor]]:
        def run() -> tuple[torch.Tensor, torch.Tensor]:
            z = torch.cat((a, b)).requires_grad_()
            loss = reference(z, labels)
            loss.backward()
            return loss.detach(), z.grad  # type: ignore[return-value]

        return run

    result: dict[str, Any] = {"clips": batch, "embeddings": 2 * batch, "dim": DIM}
    peers = {"NTXentLoss": ReferenceNTXent(temperature=0.1), "SupConLoss": ReferenceSupCon(temperature=0.1)}
    for name, reference in peers.items():
        if name == "NTXentLoss" and _nt_xent_memory(batch) > NTXENT_MEMORY_LIMIT:
            result[name] = {
                "not_run": f"its pair mask needs {_nt_xent_memory(batch) / 1024**3:.0f} GB "
                f"(limit {NTXENT_MEMORY_LIMIT / 1024**3:.0f} GB on this machine)"
            }
            continue
        run_reference = reference_run(reference)
        (l1, g1), (l2, g2) = run_ours(), run_reference()
        loss_diff, grad_diff = float((l1 - l2).abs()), float((g1 - g2).abs().max())
        if loss_diff > 1e-5 or grad_diff > 1e-5:
            raise RuntimeError(f"NT-Xent differs from {name}: loss {loss_diff}, grad {grad_diff}")
        timing = paired(run_reference, run_ours, rounds)
        result[name] = {
            "loss_abs_diff": loss_diff,
            "grad_max_abs_diff": grad_diff,
            **timing,
            "goal_ratio": 1.0,
            "meets_goal": timing["ratio_peer_over_ours"] >= 1.0,
        }
    return result


# ------------------------------------------------------------------------------------------------ augment


def _per_clip_mixed_views(
    audio: torch.Tensor, symmetries: Any, augment: McSimclrAugment, crop: int, g: torch.Generator
) -> Iterator[tuple[int, torch.Tensor]]:
    """The peer loop's waveform part, clip by clip: ChannelSwap shared by both views, then per view a crop and
    Mixup. Yields ``(clip index, mixed view)`` lazily, so the caller's draws interleave as in the loop."""
    batch = audio.shape[0]
    swapped = [channel_swap(audio[i : i + 1], symmetries, g, probability=augment.channel_swap)[0]
               for i in range(batch)]  # fmt: skip
    for _ in range(2):
        views = [random_crops(clip, crop, g) for clip in swapped]
        for i in range(batch):
            applied = float(torch.rand(1, generator=g)) < augment.mixup
            weight = augment.mixup_max * float(torch.rand(1, generator=g)) * applied
            partner = views[(i + 1 + int(torch.randint(0, batch - 1, (1,), generator=g))) % batch]
            yield i, (1.0 - weight) * views[i] + weight * partner


def bench_augment(batch: int, rounds: int) -> dict[str, Any]:
    augment = McSimclrAugment()
    frontend = FeatureFrontEnd(feature_preset("array4_mel_gcc"))
    symmetries = array_symmetries(make_array("circular4"))
    mel = [True] * 4 + [False] * 6
    audio = 0.1 * torch.randn(batch, 4, 2 * RATE, generator=torch.Generator().manual_seed(0))
    crop = RATE

    def batched() -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(1)
        return augment.views(audio, g, crop=crop, symmetries=symmetries, frontend=frontend, mel_maps=mel)

    def per_clip() -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(1)
        out = []
        for _, mixed in _per_clip_mixed_views(audio, symmetries, augment, crop, g):
            maps = random_resized_crop(frontend(mixed), g, mel_maps=mel, probability=augment.resized_crop)
            out.append(channel_drop(maps, g, probability=augment.channel_drop))
        return out

    first, _ = batched()
    loop = per_clip()
    if first.shape[1:] != loop[0].shape[1:] or len(loop) != 2 * batch:
        raise RuntimeError("the per-clip loop produces other shapes than the batched chain")
    timing = paired(per_clip, batched, rounds)
    return {"clips": batch, "clip_s": 2.0, "view_s": 1.0, **timing, "goal_ratio": 3.0,
            "meets_goal": timing["ratio_peer_over_ours"] >= 3.0}  # fmt: skip


def bench_augment_ops(batch: int, rounds: int) -> dict[str, Any]:
    """The augmentations alone, without the front-end (the same feature computation on both sides, timed
    in ``benchmarks/bench_features.py``): ChannelSwap, the two crops and Mixup on the waveforms,
    RandomResizedCrop and ChannelDrop on precomputed maps of both views, batched against the same functions
    clip by clip."""
    augment = McSimclrAugment()
    symmetries = array_symmetries(make_array("circular4"))
    mel = [True] * 4 + [False] * 6
    g0 = torch.Generator().manual_seed(0)
    audio = 0.1 * torch.randn(batch, 4, 2 * RATE, generator=g0)
    maps = torch.randn(batch, 10, 64, 101, generator=g0)
    crop = RATE

    def batched() -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(1)
        swapped, _, _ = channel_swap(audio, symmetries, g, probability=augment.channel_swap)
        out = []
        for _ in range(2):
            view = random_crops(swapped, crop, g)
            out.append(mixup(view, g, probability=augment.mixup, max_weight=augment.mixup_max))
            cropped = random_resized_crop(maps, g, mel_maps=mel, probability=augment.resized_crop)
            out.append(channel_drop(cropped, g, probability=augment.channel_drop))
        return out

    def per_clip() -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(1)
        out = []
        for i, mixed in _per_clip_mixed_views(audio, symmetries, augment, crop, g):
            out.append(mixed)
            cropped = random_resized_crop(maps[i : i + 1], g, mel_maps=mel, probability=augment.resized_crop)
            out.append(channel_drop(cropped, g, probability=augment.channel_drop))
        return out

    timing = paired(per_clip, batched, rounds)
    return {"clips": batch, "clip_s": 2.0, "view_s": 1.0, "maps": [10, 64, 101], **timing, "goal_ratio": 3.0,
            "meets_goal": timing["ratio_peer_over_ours"] >= 3.0}  # fmt: skip


# ------------------------------------------------------------------------------------------- pretraining


def _matmul_gflops() -> float:
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    start = time.perf_counter()
    for _ in range(10):
        a @ b
    return 10 * 2 * 1024**3 / (time.perf_counter() - start) / 1e9


def bench_pretraining(batch: int, steps: int, conv: int, gru: int) -> dict[str, Any]:
    config = McSimclrConfig(
        encoder=EncoderConfig("crnn", {"conv_channels": conv, "gru_hidden": gru}),
        projector=EncoderConfig("mlp", {"hidden_sizes": [2 * gru], "output_dim": gru}),
        crop_s=1.0,
    )
    torch.manual_seed(0)
    model = McSimclrPretrainer(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    audio = {"noisy": 0.1 * torch.randn(batch, 4, 2 * RATE, generator=torch.Generator().manual_seed(0))}

    def step(k: int) -> None:
        loss = pretrain_step(model, audio, StepContext("train", k, torch.Generator().manual_seed(k)))["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    with FlopCounterMode(display=False) as counter:
        step(0)
    flops = counter.get_total_flops()
    times = []
    for k in range(1, steps + 1):
        start = time.perf_counter()
        step(k)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    peak = _matmul_gflops()
    return {
        "batch": batch,
        "conv_channels": conv,
        "gru_hidden": gru,
        "views_s": 1.0,
        "step_median_s": median,
        "clips_per_s": batch / median,
        "gflop_per_step": flops / 1e9,
        "achieved_gflops": flops / median / 1e9,
        "matmul_gflops_same_run": peak,
        "utilisation_of_matmul": flops / median / 1e9 / peak,
    }


# ------------------------------------------------------------------------------------------------ gather


def _gather_worker(rank: int, init: str, batch: int, rounds: int, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    try:
        g = torch.Generator().manual_seed(rank)
        a, b = torch.randn(batch, DIM, generator=g), torch.randn(batch, DIM, generator=g)

        def run(gather: bool) -> None:
            x, y = a.clone().requires_grad_(), b.clone().requires_grad_()
            NTXentLoss(0.1, gather_distributed=gather)(x, y).backward()

        run(True), run(False)
        ratios = []
        for _ in range(rounds):
            dist.barrier()
            start = time.perf_counter()
            run(False)
            middle = time.perf_counter()
            dist.barrier()
            middle2 = time.perf_counter()
            run(True)
            end = time.perf_counter()
            ratios.append(((end - middle2), (middle - start)))
        torch.save(ratios, f"{out}/gather{rank}.pt")
    finally:
        dist.destroy_process_group()


def bench_gather(batch: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        mp.spawn(_gather_worker, args=(f"file://{folder}/init", batch, rounds, folder), nprocs=2, join=True)
        pairs = torch.load(f"{folder}/gather0.pt", weights_only=False)
    gathered = statistics.median(p[0] for p in pairs)
    local = statistics.median(p[1] for p in pairs)
    return {
        "processes": 2,
        "local_clips": batch,
        "gathered_median_s": gathered,
        "local_median_s": local,
        "overhead_ratio": gathered / local,
        "note": "gathered contrasts against 2x the negatives, so part of the ratio is the larger loss",
    }


def bench_gpu(steps: int) -> dict[str, Any]:
    """``steps`` pretraining steps of the paper configuration on the GPU (batch 256, two 2 s views of 4 s
    clips, bf16 autocast), synthetic audio; the first 10 steps are warm-up."""
    device = torch.device("cuda")
    config = McSimclrConfig(crop_s=2.0)
    torch.manual_seed(0)
    model = McSimclrPretrainer(config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    audio = {"noisy": 0.1 * torch.randn(256, 4, 4 * RATE, device=device)}
    times = []
    for k in range(steps + 10):
        torch.cuda.synchronize()
        start = time.perf_counter()
        generator = torch.Generator(device=device).manual_seed(k)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = pretrain_step(model, audio, StepContext("train", k, generator))["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        torch.cuda.synchronize()
        if k >= 10:
            times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {"device": torch.cuda.get_device_name(), "steps": steps, "batch": 256, "step_median_s": median,
            "clips_per_s": 256 / median, "total_s": sum(times)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller batches, fewer steps")
    parser.add_argument("--gpu", action="store_true", help="also the 200-step paper-config run on a GPU")
    args = parser.parse_args()
    torch.set_num_threads(1)
    quick = args.quick
    results: dict[str, Any] = {"threads": torch.get_num_threads(), "quick": quick}
    results["nt_xent"] = [bench_nt_xent(b, args.rounds) for b in (256, 1024)]
    print("nt_xent", results["nt_xent"])
    results["augment"] = bench_augment(16 if quick else 32, args.rounds)
    print("augment", results["augment"])
    results["augment_ops"] = bench_augment_ops(16 if quick else 32, args.rounds)
    print("augment_ops", results["augment_ops"])
    results["pretraining"] = {
        "tiny": bench_pretraining(16, 3 if quick else 5, 16, 32),
        "small": bench_pretraining(32, 3 if quick else 5, 32, 64),
    }
    print("pretraining", results["pretraining"])
    results["gather"] = bench_gather(256, args.rounds)
    print("gather", results["gather"])
    if args.gpu and torch.cuda.is_available():
        results["gpu_paper_steps"] = bench_gpu(200)
    else:
        results["gpu_paper_steps"] = "not run" + (
            "" if torch.cuda.is_available() else ": no GPU was available"
        )
    path = write_result("mcsimclr", {"benchmark": "mcsimclr", "rounds": args.rounds, **results})
    print(f"written {path}")


if __name__ == "__main__":
    main()
