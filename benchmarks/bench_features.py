"""Feature front-end and SRP-PHAT speed, as ratios against peers measured in the same run.

Each comparison first checks that both sides compute the same thing (GCC / phasor features |Δ| ≤ 1e-4,
log-mel ≤ 0.01 dB, identical SRP argmax) and only then times them (median of repeats):

* ``binaural_stack``: ``FeatureFrontEnd(feature_preset("binaural_default"))`` (log-mel L/R, mel cos/sin IPD,
  mel ILD, GCC-PHAT, 16 kHz) vs a straightforward per-clip numpy/librosa implementation of the same features
  (one ``librosa.stft`` per clip, shared by all its features). Goal ≥ 3× (stretch 8×).
* ``dcase_stack``: ``feature_preset("dcase_4ch")`` (64 log-mels + GCC-PHAT over 6 pairs × 64 lags, 24 kHz) vs
  the same kind of numpy/librosa reference. Goal ≥ 3×.
* ``logmel``: ``functional.log_mel`` vs ``librosa.feature.melspectrogram`` + ``power_to_db``. Goal ≥ 0.8×
  (regression guard).
* ``srp``: ``SRPPhat.localize`` (and the functional ``srp_localize``) vs ``pyroomacoustics.doa.SRP`` on the
  same STFT grid, frequency bins and 360-direction azimuth grid, STFT included on both sides. Goal ≥ 3×.

``batched_torch_ops_1thr`` runs the planar path with its unit spectra as torch passes instead of the one-pass
numba kernel (``features/unit_kernel.py``; what CUDA tensors get), and ``batched_interleaved_1thr`` the
former interleaved pair path (before the fused planar mel-IPD/GCC-PHAT of ``features/fused.py``), for
comparison. Each batch holds 16 clips; "batched" variants
process them as one ``(16, C, time)`` tensor, "per_clip" ones loop over clips of mixed lengths (4–10 s)
exactly as the reference does. Threads: the references always run on one thread (OMP/BLAS limited to 1 before
numpy loads); ours on 1 and on 2 torch threads. Timing is paired: each round times the reference and then
every variant, and a speed-up is the median of the per-round ratios (robust to bursts of load from elsewhere
on a shared machine). One-thread comparisons (the goals) time both sides in CPU seconds of the calling thread
(``time.thread_time``), so waiting for a core on a busy machine counts for neither, and neither does an idle
OpenMP worker that torch left spinning after a two-thread variant (``process_time`` counted it: ~10 ms per
call); two-thread variants are timed in wall seconds against the reference's wall time. Real-time factors are
seconds of audio (per clip, not per channel) per second of compute.

Run: ``.venv/bin/python benchmarks/bench_features.py [--rounds 7] [--quick]`` (about a minute).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import pyroomacoustics as pra  # noqa: E402
import torch  # noqa: E402
from _common import write_result  # noqa: E402

from spatialrep.features import functional as F  # noqa: E402
from spatialrep.features.frontend import FeatureConfig, FeatureFrontEnd, feature_preset  # noqa: E402
from spatialrep.features.srp import SRPPhat, srp_bins, srp_localize, steering_from_array  # noqa: E402
from spatialrep.geometry import circular_array, spherical_to_cartesian  # noqa: E402

BATCH = 16
GCC_TOL = 1e-4
DB_TOL = 0.01


# ------------------------------------------------------------------------------------------- references


class NumpyStack:
    """Per-clip numpy/librosa implementation of a :class:`FeatureConfig` stack (float32, like ours)."""

    def __init__(self, cfg: FeatureConfig) -> None:
        self.cfg = cfg
        self.win = cfg.win_length or cfg.n_fft
        self.fb = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels).astype(
            np.float32
        )
        self.fb_unit = self.fb / self.fb.sum(axis=1, keepdims=True)
        self.pairs = cfg.resolved_pairs
        up = cfg.gcc_upsample
        n_out = cfg.n_fft * up
        lags = np.arange(cfg.num_lags) - cfg.num_lags // 2  # type: ignore[operator]
        self.lag_index = np.mod(lags, n_out)
        self.nyq_scale = np.ones((cfg.n_fft // 2 + 1, 1), np.float32)
        if up > 1:
            self.nyq_scale[-1] = 0.5

    def __call__(self, clip: np.ndarray) -> dict[str, np.ndarray]:
        cfg = self.cfg
        spec = librosa.stft(
            clip, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=self.win, window="hann", center=True,
            pad_mode="constant",
        )  # fmt: skip
        power = np.abs(spec) ** 2
        logmel = librosa.power_to_db(self.fb @ power, ref=1.0, amin=1e-10, top_db=None)
        out = {"logmel": logmel}
        i = [p[0] for p in self.pairs]
        j = [p[1] for p in self.pairs]
        cross = spec[i] * np.conj(spec[j])
        unit = cross / (np.abs(cross) + 1e-12)
        if "ipd_cos_sin_mel" in cfg.features:
            cs = np.stack((self.fb_unit @ unit.real, self.fb_unit @ unit.imag), axis=1)
            out["ipd_cos_sin_mel"] = cs.reshape(-1, *cs.shape[2:])
        if "ild_mel" in cfg.features:
            out["ild_mel"] = logmel[i] - logmel[j]
        corr = np.fft.irfft(unit * self.nyq_scale, n=cfg.n_fft * cfg.gcc_upsample, axis=-2) * cfg.gcc_upsample
        out["gcc_phat"] = corr[:, self.lag_index]
        return out


def check_stack(ours: dict[str, torch.Tensor], ref: dict[str, np.ndarray]) -> dict[str, float]:
    errors = {}
    for name, value in ref.items():
        ours_np = ours[name].double().numpy()
        if name == "logmel":
            # Only where the mel power is well above the floor, where clamping and adding the floor agree.
            mask = value > -60
            err = float(np.max(np.abs(ours_np - value)[mask]))
            tol = DB_TOL
        else:
            err = float(np.max(np.abs(ours_np - value)))
            tol = DB_TOL if name == "ild_mel" else GCC_TOL
        if not err <= tol:
            raise SystemExit(f"equality gate failed for {name}: max |Δ| = {err:.3g} > {tol}")
        errors[name] = err
    return errors


# --------------------------------------------------------------------------------------------- helpers


def make_clips(
    rng: np.random.Generator, channels: int, sample_rate: int, lengths_s: list[float]
) -> list[np.ndarray]:
    """Correlated multichannel noise (a delayed, filtered common source plus a little independent noise)."""
    clips = []
    for length in lengths_s:
        n = int(length * sample_rate)
        source = rng.standard_normal(n + 64)
        chans = [source[8 * c : 8 * c + n] + 0.1 * rng.standard_normal(n) for c in range(channels)]
        clips.append((0.1 * np.stack(chans)).astype(np.float32))
    return clips


def _clock(threads: int) -> Callable[[], float]:
    """The calling thread's CPU time for one-thread runs (time spent waiting for a core on a shared machine is
    not the code's, nor is an idle OpenMP worker's spinning), wall time for multi-thread ones."""
    return time.thread_time if threads == 1 else time.perf_counter


def paired(
    reference: Callable[[], object], variants: dict[str, tuple[Callable[[], object], int]], rounds: int
) -> dict[str, dict[str, Any]]:
    """Time the reference and every variant (callable, torch threads) alternately, ``rounds`` times.

    Each round runs the reference once and then each variant once, so a burst of load from elsewhere on the
    machine slows both sides of a ratio; the speed-up is the median of the per-round ratios. The reference
    (numpy/librosa/pyroomacoustics) always runs on one thread.
    """
    torch.set_num_threads(1)
    reference()
    for fn, threads in variants.values():
        torch.set_num_threads(threads)
        fn()
    ref_times: dict[str, list[float]] = {"cpu": [], "wall": []}
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(rounds):
        torch.set_num_threads(1)
        cpu, wall = time.thread_time(), time.perf_counter()
        reference()
        ref_times["cpu"].append(time.thread_time() - cpu)
        ref_times["wall"].append(time.perf_counter() - wall)
        for key, (fn, threads) in variants.items():
            torch.set_num_threads(threads)
            clock = _clock(threads)
            start = clock()
            fn()
            times[key].append(clock() - start)
    torch.set_num_threads(1)
    out = {}
    for key, values in times.items():
        threads = variants[key][1]
        reference_times = ref_times["cpu" if threads == 1 else "wall"]
        ratios = [r / v for r, v in zip(reference_times, values)]
        out[key] = {
            "timer": "thread_time" if threads == 1 else "perf_counter",
            "reference_s": statistics.median(reference_times),
            "ours_s": statistics.median(values),
            "speedup": statistics.median(ratios),
            "speedup_per_round": [round(v, 3) for v in ratios],
            "threads": variants[key][1],
        }
    return out


def with_rtf(entry: dict[str, Any], audio_s: float, goal: float) -> dict[str, Any]:
    return {
        **entry,
        "rtf_reference": audio_s / entry["reference_s"],
        "rtf_ours": audio_s / entry["ours_s"],
        "goal_speedup": goal,
        "meets_goal": entry["speedup"] >= goal,
    }


def bench_stack(name: str, rng: np.random.Generator, rounds: int, quick: bool) -> dict[str, Any]:
    cfg = feature_preset(name)
    front = FeatureFrontEnd(cfg)
    ref = NumpyStack(cfg)
    fixed_s = 6.0
    mixed = list(np.linspace(4.0, 10.0, BATCH))
    if quick:
        mixed = mixed[:4]
    fixed_clips = make_clips(rng, cfg.num_channels, cfg.sample_rate, [fixed_s] * BATCH)
    mixed_clips = make_clips(rng, cfg.num_channels, cfg.sample_rate, mixed)
    batch = torch.from_numpy(np.stack(fixed_clips))
    mixed_t = [torch.from_numpy(c) for c in mixed_clips]

    with torch.inference_mode():
        errors = check_stack(front.compute(mixed_t[0]), ref(mixed_clips[0]))
        check_stack({k: v[3] for k, v in front.compute(batch).items()}, ref(fixed_clips[3]))
        result: dict[str, Any] = {"config": cfg.to_dict(), "max_abs_error": errors, "clips": BATCH}
        # The interleaved pair path that the fused planar one replaced (features/fused.py), for comparison.
        interleaved = FeatureFrontEnd(cfg, block_frames=512)  # its own block size
        interleaved._planar = False
        variants: dict[str, tuple[Callable[[], object], int]] = {
            f"batched_{t}thr": (lambda: front(batch), t) for t in (1, 2)
        }
        if front._planar:
            torch_ops = FeatureFrontEnd(cfg)
            torch_ops.cpu_kernel = False  # the planar path's unit spectra as torch passes (as on CUDA)
            check_stack({k: v[3] for k, v in torch_ops.compute(batch).items()}, ref(fixed_clips[3]))
            variants["batched_torch_ops_1thr"] = (lambda: torch_ops(batch), 1)
            variants["batched_interleaved_1thr"] = (lambda: interleaved(batch), 1)
        fixed = paired(lambda: [ref(c) for c in fixed_clips], variants, rounds)
        per_clip = paired(
            lambda: [ref(c) for c in mixed_clips],
            {f"per_clip_{t}thr": (lambda: [front(c) for c in mixed_t], t) for t in (1, 2)},
            rounds,
        )
    for key, entry in fixed.items():
        result[key] = with_rtf(entry, fixed_s * BATCH, 3.0)
    for key, entry in per_clip.items():
        result[key] = with_rtf(entry, float(sum(mixed)), 3.0)
    result["batched_clip_s"] = fixed_s
    result["per_clip_lengths_s"] = [float(v) for v in mixed]
    return result


def bench_logmel(rng: np.random.Generator, rounds: int) -> dict[str, Any]:
    sr, n_fft, hop, n_mels = 16000, 512, 160, 64
    clips = make_clips(rng, 1, sr, [6.0] * 8)
    mono = [c[0] for c in clips]
    fb = F.mel_filterbank(sr, n_fft, n_mels)

    def ours(c: torch.Tensor) -> torch.Tensor:
        return F.log_mel_from_stft(F.stft(c, n_fft, hop), fb)

    def theirs(c: np.ndarray) -> np.ndarray:
        mel = librosa.feature.melspectrogram(
            y=c, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, center=True, pad_mode="constant"
        )
        return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)

    tensors = [torch.from_numpy(c)[None] for c in mono]
    with torch.inference_mode():
        a = ours(tensors[0])[0].double().numpy()
        b = theirs(mono[0])
        mask = b > -60
        err = float(np.max(np.abs(a - b)[mask]))
        if not err <= DB_TOL:
            raise SystemExit(f"equality gate failed for log-mel: {err:.3g} dB")
        timing = paired(
            lambda: [theirs(c) for c in mono], {"1thr": (lambda: [ours(c) for c in tensors], 1)}, rounds
        )
    return {"max_abs_error_db": err, "clips": len(mono), "clip_s": 6.0, **with_rtf(timing["1thr"], 48.0, 0.8)}


def bench_srp(rng: np.random.Generator, rounds: int) -> dict[str, Any]:
    fs, n_fft, hop = 16000, 512, 256
    freq_range = (300.0, 3500.0)
    array = circular_array(4, 0.10)
    grid = np.deg2rad(np.arange(360.0))
    k_low, k_high = srp_bins(fs, n_fft, freq_range)
    true_az = rng.uniform(0, 2 * np.pi, BATCH)
    n = int(2.0 * fs)
    clips = []
    for az in true_az:
        # Fractional plane-wave delays applied in the frequency domain, plus 10 dB SNR sensor noise.
        tau = -(array.positions @ spherical_to_cartesian(az, 0.0)) / 343.0
        src = rng.standard_normal(2 * n)
        spectrum = np.fft.rfft(src)
        freqs = np.fft.rfftfreq(2 * n, 1 / fs)
        sig = np.stack([np.fft.irfft(spectrum * np.exp(-2j * np.pi * freqs * t))[:n] for t in tau])
        sig += np.sqrt(0.1) * rng.standard_normal(sig.shape)
        clips.append(sig.astype(np.float32))
    batch = torch.from_numpy(np.stack(clips))
    steering = steering_from_array(array, grid, 0.0, fs, n_fft)
    module = SRPPhat(steering, fs, n_fft, hop, freq_range=freq_range)
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)  # periodic Hann, as ours

    doa = pra.doa.algorithms["SRP"](array.positions.T, fs, n_fft, azimuth=grid)
    bins = np.arange(k_low, k_high)

    def theirs() -> list[int]:
        out = []
        for clip in clips:
            spec = librosa.stft(
                clip, n_fft=n_fft, hop_length=hop, window=window, center=True, pad_mode="constant"
            )
            doa.locate_sources(spec, freq_bins=bins)
            out.append(int(np.argmax(doa.grid.values)))
        return out

    with torch.inference_mode():
        ours_idx = module.localize(batch).tolist()
        func_idx = srp_localize(batch, steering, fs, n_fft, hop, freq_range=freq_range).tolist()
        their_idx = theirs()
        if ours_idx != their_idx or func_idx != their_idx:
            raise SystemExit(
                f"equality gate failed for SRP argmax: ours {ours_idx} vs pyroomacoustics {their_idx}"
            )
        errors = np.rad2deg(np.abs(np.angle(np.exp(1j * (grid[ours_idx] - true_az)))))
        variants: dict[str, tuple[Callable[[], object], int]] = {}
        for t in (1, 2):
            variants[f"module_batched_{t}thr"] = (lambda: module.localize(batch), t)
            variants[f"functional_batched_{t}thr"] = (
                lambda: srp_localize(batch, steering, fs, n_fft, hop, freq_range=freq_range),
                t,
            )
            variants[f"module_per_clip_{t}thr"] = (lambda: [module.localize(c) for c in batch], t)
        timing = paired(theirs, variants, rounds)
    result: dict[str, Any] = {
        "clips": BATCH,
        "clip_s": 2.0,
        "directions": len(grid),
        "freq_bins": [k_low, k_high],
        "max_azimuth_error_deg": float(errors.max()),
    }
    for key, entry in timing.items():
        result[key] = with_rtf(entry, 2.0 * BATCH, 3.0)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7, help="paired timing rounds per comparison")
    parser.add_argument("--quick", action="store_true", help="fewer clips and repeats (smoke test)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rounds = 2 if args.quick else args.rounds
    rng = np.random.default_rng(args.seed)
    results = {
        "binaural_stack": bench_stack("binaural_default", rng, rounds, args.quick),
        "dcase_stack": bench_stack("dcase_4ch", rng, rounds, args.quick),
        "logmel": bench_logmel(rng, rounds),
        "srp": bench_srp(rng, rounds),
    }
    path = write_result("features", {"benchmark": "features", "rounds": rounds, **results})
    for key in ("binaural_stack", "dcase_stack"):
        r = results[key]
        b1, b2, p1 = r["batched_1thr"], r["batched_2thr"], r["per_clip_1thr"]
        print(
            f"{key}: batched {b1['speedup']:.1f}x (1 thr) / {b2['speedup']:.1f}x (2 thr), "
            f"per clip {p1['speedup']:.1f}x; RTF ours {b1['rtf_ours']:.0f}"
        )
    print(f"logmel: {results['logmel']['speedup']:.2f}x vs librosa")
    s = results["srp"]
    mod, func, loop = s["module_batched_1thr"], s["functional_batched_1thr"], s["module_per_clip_1thr"]
    print(
        f"srp: module {mod['speedup']:.1f}x, functional {func['speedup']:.1f}x, "
        f"per clip {loop['speedup']:.1f}x vs pyroomacoustics (1 thr); "
        f"max azimuth error {s['max_azimuth_error_deg']:.1f} deg"
    )
    print(f"-> {path}")


if __name__ == "__main__":
    main()
