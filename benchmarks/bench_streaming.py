"""Streaming inference speed of the causal Conformer: one STFT frame per step, batch 1, one thread.

Setup (the SFD front-end at 16 kHz): hop 10 ms (160 samples), window 25 ms (400 samples, Hann) zero-padded to
``n_fft = 512``, so each step receives 2 channels × (real, imaginary) × 257 bins = 1028 features. The encoder
is the default :class:`~spatialrep.models.CausalConformer` (2 layers, d_model 256, 4 heads, kernel 15), in
eval mode under ``torch.inference_mode``, once with unbounded attention context (the cache grows with the
stream) and once with ``left_context=100`` frames (1 s).

Before timing, streaming is checked against the offline causal forward (max |Δ| ≤ 1e-5). Each step is timed
on its own over a 20 s stream (2000 steps, after 50 warm-up steps); we report the median and p99 step time,
the real-time factor (median step time / 10 ms hop; goal ≤ 0.2, stretch ≤ 0.05; p99 must stay below the hop),
and the per-step time of the STFT of one two-channel frame (``torch.fft.rfft``), measured the same way.

Algorithmic latency: with causal framing (``center=False``), a frame can be encoded as soon as its last
windowed sample arrives, so its oldest sample is one window (400 samples, 25 ms) old; the encoder adds no
look-ahead. ``torch.stft`` centres the 400-sample window in the 512-sample frame, so a front-end that waits
for the whole frame adds the 56 trailing zero-weight samples (456 samples, 28.5 ms); computing the FFT of the
newest 400 samples instead gives the same spectrum up to a known linear phase ``exp(2j pi k 56 / 512)``.
``center=True`` framing is not causal: it looks ``n_fft // 2`` samples ahead.

Deployment (``deploy``, issue 17): the whole localizer per hop — front-end, encoder step and azimuth
classifier of the default :class:`~spatialrep.methods.sfd.SfdLocalizer` (random weights; timing does not
depend on them), attention context 1 s (100 frames) — in three variants, timed in turns of 50 hops each (so
slow drifts in the load of a shared machine hit all of them alike), 160 new samples per call, batch 1, one
thread:

* ``pytorch_float32``: ``SfdLocalizer.open_stream(context_s=1.0).step`` (``torch.stft`` of the buffered
  frame, ``forward_step``, classifier);
* ``onnx_float32`` / ``onnx_int8``: ``spatialrep export`` (``--int8``: onnxruntime dynamic quantisation) run
  by ``spatialrep.deploy.StreamingLocalizer.push`` (numpy buffering + one ``InferenceSession.run``; the
  front-end is inside the graph). ``*_session_only`` times the ``run`` call alone.

Before timing, the ONNX outputs are checked against the PyTorch stream's (float32: max |Δ logit| ≤ 1e-4).
Goal: median RTF ≤ 0.05 and p99 below the hop for the best variant. The runner computes frame ``t`` as soon
as its last windowed sample arrives (25 ms algorithmic latency); ``SfdStream`` waits for the whole 512-sample
frame (28.5 ms).

Run: ``.venv/bin/python benchmarks/bench_streaming.py [--steps 2000]`` (about a minute; needs the ``deploy``
extra).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result

from spatialrep.deploy import StreamingLocalizer
from spatialrep.deploy.export import export_onnx, quantize_int8
from spatialrep.methods.sfd import SfdConfig, SfdLocalizer
from spatialrep.models import CausalConformer

SAMPLE_RATE = 16_000
HOP = 160
WIN = 400
N_FFT = 512
CHANNELS = 2
INPUT_DIM = CHANNELS * 2 * (N_FFT // 2 + 1)
HOP_S = HOP / SAMPLE_RATE


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _summary(times: list[float]) -> dict[str, float]:
    median = statistics.median(times)
    return {
        "median_ms": 1e3 * median,
        "p99_ms": 1e3 * _percentile(times, 99),
        "max_ms": 1e3 * max(times),
        "rtf_median": median / HOP_S,
        "rtf_p99": _percentile(times, 99) / HOP_S,
    }


def bench_encoder(left_context: int | None, steps: int, warmup: int = 50) -> dict[str, object]:
    torch.manual_seed(0)
    model = CausalConformer(INPUT_DIM, left_context=left_context).eval()
    frames = torch.randn(1, warmup + steps, INPUT_DIM)
    with torch.inference_mode():
        check = frames[:, :300]
        max_diff = float((model.forward_streaming(check, 1) - model.forward_features(check)).abs().max())
        if max_diff > 1e-5:
            raise RuntimeError(f"streaming differs from offline: {max_diff}")
        state = model.init_state(1)
        times = []
        for t in range(warmup + steps):
            start = time.perf_counter()
            _, state = model.forward_step(frames[:, t : t + 1], state)
            if t >= warmup:
                times.append(time.perf_counter() - start)
    return {
        "left_context": left_context,
        "parameters": sum(p.numel() for p in model.parameters()),
        "streaming_vs_offline_max_abs_diff": max_diff,
        **_summary(times),
    }


def bench_stft_frame(steps: int) -> dict[str, float]:
    window = torch.nn.functional.pad(torch.hann_window(WIN), ((N_FFT - WIN) // 2, (N_FFT - WIN + 1) // 2))
    audio = torch.randn(CHANNELS, N_FFT + HOP * steps)
    times = []
    with torch.inference_mode():
        for t in range(steps):
            start = time.perf_counter()
            spec = torch.fft.rfft(audio[:, t * HOP : t * HOP + N_FFT] * window)
            torch.stack((spec.real, spec.imag), dim=1).reshape(1, 1, INPUT_DIM)
            times.append(time.perf_counter() - start)
    return _summary(times)


CONTEXT_S = 1.0


def _timed_round_robin(
    calls: dict[str, Callable[[int], object]], steps: int, warmup: int, block: int = 50
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU (this thread's) time of every call: blocks of ``block`` hops per variant in turn, so slow
    drifts in the load of a shared machine hit all variants alike while each block runs with its own weights
    cached. CPU time leaves out the waits while another process holds the core."""
    wall: dict[str, list[float]] = {name: [] for name in calls}
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    for first in range(0, warmup + steps, block):
        for name, call in calls.items():
            for t in range(first, min(first + block, warmup + steps)):
                start, start_cpu = time.perf_counter(), time.thread_time()
                call(t)
                if t >= warmup:
                    wall[name].append(time.perf_counter() - start)
                    cpu[name].append(time.thread_time() - start_cpu)
    return wall, cpu


def _lean_pytorch_step(model: SfdLocalizer) -> Callable[[torch.Tensor], torch.Tensor]:
    """The PyTorch peer without :class:`SfdStream`'s bookkeeping: rfft of one windowed frame ``(2, n_fft)``,
    the encoder's ``forward_step`` (a copy bounded to the context) and the classifier."""
    kwargs = {**model.config.encoder.kwargs, "left_context": round(CONTEXT_S / HOP_S)}
    bounded = SfdLocalizer(model.config.replace(encoder={"kwargs": kwargs})).eval()
    bounded.load_state_dict(model.state_dict())
    encoder = bounded.encoder
    assert isinstance(encoder, CausalConformer)
    window = torch.nn.functional.pad(torch.hann_window(WIN), ((N_FFT - WIN) // 2, (N_FFT - WIN + 1) // 2))
    state = [encoder.init_state(1)]

    def step(frame: torch.Tensor) -> torch.Tensor:
        spec = torch.fft.rfft(frame * window)
        x = torch.stack((spec.real, spec.imag), dim=1).reshape(1, 1, INPUT_DIM)
        features, state[0] = encoder.forward_step(x, state[0])
        return bounded.classifier.head(features)

    return step


def bench_deploy(steps: int, warmup: int = 50) -> dict[str, object]:
    torch.manual_seed(0)
    model = SfdLocalizer(SfdConfig()).eval()
    audio = 0.1 * torch.randn(1, CHANNELS, HOP * (warmup + steps + 4))
    with tempfile.TemporaryDirectory() as folder:
        float_path = export_onnx(model, Path(folder) / "sfd.onnx", context_s=CONTEXT_S)
        int8_path = quantize_int8(float_path, Path(folder) / "sfd-int8.onnx")
        sizes_mb = {
            "onnx_float32": float_path.stat().st_size / 1e6,
            "onnx_int8": int8_path.stat().st_size / 1e6,
        }
        runners = {"onnx_float32": StreamingLocalizer(float_path), "onnx_int8": StreamingLocalizer(int8_path)}
    # Check against the PyTorch stream over 3 s (300 frames: three times the context) before timing.
    check = audio[..., : 3 * SAMPLE_RATE]
    with torch.inference_mode():
        reference = model.open_stream(SAMPLE_RATE, context_s=CONTEXT_S).step(check)[0].numpy()
    agreement: dict[str, dict[str, float]] = {}
    for name, runner in runners.items():
        logits = runner.push(check[0].numpy())[: len(reference)]
        runner.reset()
        agreement[name] = {
            "max_abs_logit_diff": float(np.abs(logits - reference).max()),
            "frame_argmax_agreement": float((logits.argmax(-1) == reference.argmax(-1)).mean()),
        }
    if agreement["onnx_float32"]["max_abs_logit_diff"] > 1e-4:
        raise RuntimeError(f"ONNX float32 differs from PyTorch: {agreement['onnx_float32']}")
    hops = [audio[..., t * HOP : (t + 1) * HOP] for t in range(warmup + steps + 4)]
    hops_np = [h[0].numpy() for h in hops]
    # Start the PyTorch stream and the runners on the same first 3 hops so every timed call yields a frame.
    stream = model.open_stream(SAMPLE_RATE, context_s=CONTEXT_S)
    with torch.inference_mode():
        for h in hops[:3]:
            stream.step(h)
    for runner in runners.values():
        runner.push(np.concatenate(hops_np[:3], axis=1))
    window = np.ascontiguousarray(audio[0, :, :WIN].numpy())
    lean = _lean_pytorch_step(model)
    frames = [audio[0, :, t * HOP : t * HOP + N_FFT] for t in range(warmup + steps)]

    def pytorch(t: int) -> object:
        with torch.inference_mode():
            return lean(frames[t])

    def pytorch_sfd_stream(t: int) -> object:
        with torch.inference_mode():
            return stream.step(hops[t + 3])

    calls: dict[str, Callable[[int], object]] = {
        "pytorch_float32": pytorch,
        "pytorch_float32_sfd_stream": pytorch_sfd_stream,
        "onnx_float32": lambda t: runners["onnx_float32"].push(hops_np[t + 3]),
        "onnx_int8": lambda t: runners["onnx_int8"].push(hops_np[t + 3]),
        "onnx_float32_session_only": lambda t: runners["onnx_float32"].step(window),
        "onnx_int8_session_only": lambda t: runners["onnx_int8"].step(window),
    }
    wall, cpu = _timed_round_robin(calls, steps, warmup)
    variants: dict[str, dict[str, float]] = {}
    for name in calls:
        variants[name] = _summary(wall[name])
        variants[name].update({f"cpu_{key}": value for key, value in _summary(cpu[name]).items()})
    main_variants = ("pytorch_float32", "onnx_float32", "onnx_int8")
    best = min(main_variants, key=lambda name: variants[name]["median_ms"])
    for name in calls:
        variants[name]["speedup_vs_pytorch"] = (
            variants["pytorch_float32"]["median_ms"] / variants[name]["median_ms"]
        )
    return {
        "model": "SfdLocalizer defaults (1028 STFT features, causal Conformer 2 x d_model 256, 37 classes)",
        "parameters": sum(p.numel() for p in model.parameters()),
        "context_frames": round(CONTEXT_S / HOP_S),
        "onnx_file_mb": sizes_mb,
        "agreement_with_pytorch": agreement,
        "algorithmic_latency_ms": {
            "onnx_runner": 1e3 * WIN / SAMPLE_RATE,
            "pytorch_sfd_stream": 1e3 * (WIN + (N_FFT - WIN) // 2) / SAMPLE_RATE,
        },
        **variants,
        "best": best,
        "goal_met": {
            "rtf_median_le_0.05": variants[best]["rtf_median"] <= 0.05,
            "p99_below_hop_wall": variants[best]["p99_ms"] < 1e3 * HOP_S,
            "p99_below_hop_cpu": variants[best]["cpu_p99_ms"] < 1e3 * HOP_S,
        },
        "load_average_1min_at_end": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {
        "setup": {
            "sample_rate": SAMPLE_RATE,
            "hop_samples": HOP,
            "win_samples": WIN,
            "n_fft": N_FFT,
            "input_dim": INPUT_DIM,
            "batch": 1,
            "threads": 1,
            "frames_per_step": 1,
            "steps": args.steps,
            "model": "CausalConformer defaults (2 layers, d_model 256, 4 heads, ff x4, kernel 15, alibi)",
        },
        "latency": {
            "algorithmic_ms": 1e3 * WIN / SAMPLE_RATE,
            "algorithmic_ms_torch_stft_framing": 1e3 * (WIN + (N_FFT - WIN) // 2) / SAMPLE_RATE,
            "note": "window length: a frame is computable once its last windowed sample arrives",
        },
        "goals": {"rtf_median": 0.2, "rtf_median_stretch": 0.05, "p99_ms_below": 1e3 * HOP_S},
        "encoder_unbounded": bench_encoder(None, args.steps),
        "encoder_left_context_100": bench_encoder(100, args.steps),
        "stft_frame": bench_stft_frame(args.steps),
        "deploy": bench_deploy(args.steps),
    }
    path = write_result("streaming", results)
    for key in ("encoder_unbounded", "encoder_left_context_100", "stft_frame"):
        entry = results[key]
        assert isinstance(entry, dict)
        print(
            f"{key:26s} median {entry['median_ms']:.3f} ms  p99 {entry['p99_ms']:.3f} ms  "
            f"RTF {entry['rtf_median']:.3f}"
        )
    deploy = results["deploy"]
    assert isinstance(deploy, dict)
    for key, entry in deploy.items():
        if isinstance(entry, dict) and "median_ms" in entry:
            print(
                f"deploy {key:27s} median {entry['median_ms']:.3f} ms  p99 {entry['p99_ms']:.3f} ms  "
                f"(CPU p99 {entry['cpu_p99_ms']:.3f} ms)  RTF {entry['rtf_median']:.3f}"
            )
    print(f"best {deploy['best']}; goals met: {deploy['goal_met']}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
