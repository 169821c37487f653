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

Run: ``.venv/bin/python benchmarks/bench_streaming.py [--steps 2000]`` (under a minute).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result

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
    }
    path = write_result("streaming", results)
    for key in ("encoder_unbounded", "encoder_left_context_100", "stft_frame"):
        entry = results[key]
        assert isinstance(entry, dict)
        print(
            f"{key:26s} median {entry['median_ms']:.3f} ms  p99 {entry['p99_ms']:.3f} ms  "
            f"RTF {entry['rtf_median']:.3f}"
        )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
