"""Choose the default variant of each classic localizer on validation data (never a test split).

Renders a small validation-only dataset with the library's own renderer — the ``binaural-speech`` preset's
rooms (shoebox, RT60 0.2–0.9 s, hybrid BRIRs), talkers (the preset's *validation* voices) and diffuse noise
(white, pink, speech-shaped, babble), with 1 s clips, SNR uniform in −20…20 dB, frontal directions — heard by
KEMAR and by synthetic spherical heads (``make_synthetic_subjects``: radius 7.5–10 cm, ears ±100° ± 5°), plus
an anechoic KEMAR control. Only the ``val`` split of each dataset is rendered, with this script's own seed.
Then every named classic localizer (``spatialrep.methods.classic``), always built for **KEMAR**, localizes
every clip; ``localization_metrics`` summarises each condition:

==================  =====================================================================================
``in-domain``       KEMAR, reverberant, SNR −5…20 dB (the range of the ``binaural-speech`` preset)
``in-domain-rt60…`` the same with RT60 ≥ 0.5 s
``low-snr``         KEMAR, reverberant, SNR −20…−5 dB
``unseen-head``     spherical heads, reverberant, SNR −5…20 dB (the localizers still assume KEMAR)
``unseen-head-low`` spherical heads, reverberant, SNR −20…−5 dB
``in-domain-4s``    KEMAR, reverberant, SNR −5…20 dB, 4 s clips (the preset's length; reported, not scored)
``low-snr-4s``      the same at SNR −20…−5 dB
``anechoic``        KEMAR, anechoic room, SNR 10…30 dB (control)
``all``             every reverberant clip
==================  =====================================================================================

The selection score of a variant is the mean of its MAE on ``in-domain``, ``low-snr`` and ``unseen-head``
(each condition weighs the same whatever its number of clips); the default of a family is its offline variant
with the lowest score (the streaming tracker is reported, not eligible). Parameter sweeps of each family's
options (lag upsampling, ITD table method, band limits, FFT size, tracker time constant) are reported too.

Run: ``.venv/bin/python benchmarks/validate_classic.py [--data DIR] [--workers 1]`` (measured: 6.5 minutes on
two cores shared with other jobs — rendering 1,776 clips about 4.5 min, localization and sweeps about 2 min;
about 2 min when ``--data`` already holds the renders). Results:
``benchmarks/results/classic_validation.json``. The rendered data stay in ``--data`` (default a temporary
folder, removed at the end); rerunning with the same ``--data`` reuses them.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import write_result  # noqa: E402

from spatialrep import seeding  # noqa: E402
from spatialrep.data import ManifestDataset  # noqa: E402
from spatialrep.data.presets import load_dataset_config  # noqa: E402
from spatialrep.data.writer import render_dataset  # noqa: E402
from spatialrep.evaluate import angular_errors, localization_metrics  # noqa: E402
from spatialrep.methods.classic import (  # noqa: E402
    CLASSIC_FAMILIES,
    CLASSIC_VARIANTS,
    DEFAULT_VARIANT,
    classic_localizer,
)
from spatialrep.simulate.hrtf import load_default_hrtf  # noqa: E402
from spatialrep.simulate.spherical_head import make_synthetic_subjects  # noqa: E402

SAMPLE_RATE = 16000
PRESET = "binaural-speech"
SELECTION = ("in-domain", "low-snr", "unseen-head")
LOW_SNR = -5.0  # dB: low-SNR clips are below, in-domain ones at or above

# Parameter sweeps: (label, variant, keyword overrides of classic_localizer).
SWEEPS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("framemean, 16x lags", "gcc-phat-itd-framemean", {"upsample": 16}),
    ("framemean, 100-4000 Hz", "gcc-phat-itd-framemean", {"freq_range": (100.0, 4000.0)}),
    ("framemean, n_fft 512", "gcc-phat-itd-framemean", {"n_fft": 512}),
    ("snr, integer lags + parabola", "gcc-phat-itd-snr", {"upsample": 1}),
    ("snr, 16x lags, no parabola", "gcc-phat-itd-snr", {"interpolation": "none"}),
    ("snr, 100-4000 Hz", "gcc-phat-itd-snr", {"freq_range": (100.0, 4000.0)}),
    ("snr, 200-8000 Hz", "gcc-phat-itd-snr", {"freq_range": (200.0, 8000.0)}),
    ("snr, noise quantile 0.25", "gcc-phat-itd-snr", {"noise_quantile": 0.25}),
    ("snr, n_fft 512", "gcc-phat-itd-snr", {"n_fft": 512}),
    ("snr, n_fft 2048", "gcc-phat-itd-snr", {"n_fft": 2048}),
    ("snr, table by GCC-PHAT of the HRIRs", "gcc-phat-itd-snr", {"method": "gcc-phat"}),
    ("energy, integer lags + parabola", "gcc-phat-itd-energy", {"upsample": 1}),
    ("clip, integer lags + parabola", "gcc-phat-itd-clip", {"upsample": 1}),
    ("clip, lags +-1 ms (the issue's recipe)", "gcc-phat-itd-clip", {"max_lag": 16}),
    ("clip, onset ITD table", "gcc-phat-itd-clip", {"method": "onset"}),
    ("clip, table by GCC-PHAT of the HRIRs", "gcc-phat-itd-clip", {"method": "gcc-phat"}),
    ("clip, 100-4000 Hz", "gcc-phat-itd-clip", {"freq_range": (100.0, 4000.0)}),
    ("clip, n_fft 512", "gcc-phat-itd-clip", {"n_fft": 512}),
    ("clip, n_fft 2048", "gcc-phat-itd-clip", {"n_fft": 2048}),
    ("stream, accumulation clip", "gcc-phat-itd-stream", {"accumulation": "clip"}),
    ("stream, accumulation frame-mean", "gcc-phat-itd-stream", {"accumulation": "frame-mean"}),
    ("stream, time constant 0.25 s", "gcc-phat-itd-stream", {"time_constant_s": 0.25}),
    ("stream, time constant 1 s", "gcc-phat-itd-stream", {"time_constant_s": 1.0}),
    ("srp framemean, 100-4000 Hz", "srp-phat-framemean", {"freq_range": (100.0, 4000.0)}),
    ("srp framemean, n_fft 512", "srp-phat-framemean", {"n_fft": 512}),
    ("srp clip, 100-4000 Hz", "srp-phat-clip", {"freq_range": (100.0, 4000.0)}),
    ("srp freefield, clip accumulation", "srp-phat-freefield", {"accumulation": "clip"}),
    ("srp freefield, 100-4000 Hz", "srp-phat-freefield", {"freq_range": (100.0, 4000.0)}),
    ("music fnorm, 200-6000 Hz", "music-fnorm", {"freq_range": (200.0, 6000.0)}),
    ("music fnorm, n_fft 512", "music-fnorm", {"n_fft": 512}),
    ("music nofnorm, 200-6000 Hz", "music-nofnorm", {"freq_range": (200.0, 6000.0)}),
    ("music freefield, no normalisation", "music-freefield", {"frequency_normalization": False}),
    ("music freefield, 200-6000 Hz", "music-freefield", {"freq_range": (200.0, 6000.0)}),
)
BOOTSTRAP = 2000


def dataset_config(num: int, seed: int, duration_s: float, receiver: str, *, anechoic: bool = False) -> Any:
    """The preset with only a ``val`` split of ``num`` clips (the preset's validation voices)."""
    overrides = [
        f"num_examples={num}",
        f"seed={seed}",
        "shard_size=16",
        "signals=[noisy]",
        "budgets={}",
        "splits.train.size=0",
        "splits.test.size=0",
        f"splits.val.size={num}",
        f"scene.duration_s={duration_s}",
        f"scene.receiver={receiver}",
        "scene.snr_range_db=[10.0, 30.0]" if anechoic else "scene.snr_range_db=[-20.0, 20.0]",
    ]
    if anechoic:
        overrides.append("scene.room=anechoic")
    return load_dataset_config(PRESET, overrides)


def render_all(root: Path, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Render (or reuse) every validation dataset; ``{folder name: {"receiver", "anechoic", "seconds"}}``."""
    heads = make_synthetic_subjects(
        args.num_spheres, seeding.rng(args.seed, "validate-classic", "heads"), sample_rate=SAMPLE_RATE
    )
    plan = [
        ("kemar", "kemar", args.num_kemar, args.duration, False),
        ("kemar-anechoic", "kemar", args.num_anechoic, args.duration, True),
        ("kemar-4s", "kemar", args.num_long, 4.0, False),
    ]
    plan += [
        (f"sphere{k}", head.name, args.num_per_sphere, args.duration, False) for k, head in enumerate(heads)
    ]
    info: dict[str, dict[str, Any]] = {}
    for index, (name, receiver, num, duration, anechoic) in enumerate(plan):
        if num == 0:
            continue
        config = dataset_config(num, args.seed + index, duration, receiver, anechoic=anechoic)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "budgets longer than the train split": none wanted
            render_dataset(config, root / name, workers=args.workers)
        seconds = time.perf_counter() - start
        info[name] = {
            "receiver": receiver,
            "anechoic": anechoic,
            "num": num,
            "duration_s": duration,
            "render_s": round(seconds, 1),
        }
        print(f"rendered {name} ({receiver}, {num} clips) in {seconds:.1f} s", flush=True)
    return info


def load(root: Path, names: list[str]) -> dict[str, Any]:
    """Labels of every clip (one row per clip, datasets in order) and the audio, one array per dataset."""
    audio: list[np.ndarray] = []
    azimuth, snr, rt60s, group = [], [], [], []
    for name in names:
        data = ManifestDataset(root / name, split="val", signals=("noisy",))
        clips = []
        for item in data:
            labels = item["labels"]
            clips.append(np.asarray(item["noisy"], dtype=np.float32))
            azimuth.append(float(labels["azimuth"][0]))
            snr.append(float(labels["snr_db"]))
            rt60 = labels.get("rt60_s")
            rt60s.append(float(rt60) if rt60 is not None and np.isfinite(rt60) else 0.0)
            group.append(name)
        audio.append(np.stack(clips))
    return {
        "audio": audio,
        "azimuth": np.asarray(azimuth),
        "snr_db": np.asarray(snr),
        "rt60_s": np.asarray(rt60s),
        "group": np.asarray(group),
    }


def conditions(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    group, snr = data["group"], data["snr_db"]
    kemar = group == "kemar"
    sphere = np.char.startswith(group.astype(str), "sphere")
    low = snr < LOW_SNR
    return {
        "in-domain": kemar & ~low,
        "low-snr": kemar & low,
        "unseen-head": sphere & ~low,
        "unseen-head-low": sphere & low,
        "in-domain-rt60-0.5+": kemar & ~low & (data["rt60_s"] >= 0.5),
        "in-domain-4s": (group == "kemar-4s") & ~low,
        "low-snr-4s": (group == "kemar-4s") & low,
        "anechoic": group == "kemar-anechoic",
        "all": kemar | sphere,
    }


def localize_all(localizer: Any, audio: list[np.ndarray], batch: int = 32) -> tuple[np.ndarray, float]:
    """Azimuth of every clip (datasets in order) and the seconds it took."""
    found = []
    start = time.perf_counter()
    for clips in audio:
        for i in range(0, len(clips), batch):
            found.append(localizer.localize(torch.from_numpy(clips[i : i + batch]), SAMPLE_RATE).azimuth)
    seconds = time.perf_counter() - start
    return np.concatenate(found), seconds


def evaluate(
    name: str, kwargs: dict[str, Any], hrtf: Any, data: dict[str, np.ndarray], masks: dict[str, np.ndarray]
) -> tuple[dict[str, Any], np.ndarray]:
    """Metrics per condition (and the selection score) of one localizer, and its per-clip errors (deg)."""
    localizer = classic_localizer(name, hrtf, **kwargs)
    pred, seconds = localize_all(localizer, data["audio"])
    audio_s = sum(clips.shape[0] * clips.shape[-1] for clips in data["audio"]) / SAMPLE_RATE
    result: dict[str, Any] = {"ms_per_audio_s": round(1000.0 * seconds / audio_s, 3)}
    for cond, mask in masks.items():
        m = localization_metrics(pred[mask], data["azimuth"][mask])
        result[cond] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()}
    result["score_deg"] = round(float(np.mean([result[c]["mae_deg"] for c in SELECTION])), 4)
    return result, np.degrees(angular_errors(pred, data["azimuth"]))


def score_difference_ci(
    errors: np.ndarray, reference: np.ndarray, masks: dict[str, np.ndarray], seed: int
) -> list[float]:
    """95 % paired-bootstrap interval of ``score(errors) - score(reference)``, degrees.

    Clips are resampled with replacement within each selection condition (the same draw for both localizers).
    """
    rng = seeding.rng(seed, "validate-classic", "bootstrap")
    diffs = np.zeros(BOOTSTRAP)
    for cond in SELECTION:
        delta = (errors - reference)[masks[cond]]
        draws = rng.integers(0, delta.size, size=(BOOTSTRAP, delta.size))
        diffs += delta[draws].mean(axis=1) / len(SELECTION)
    low, high = np.percentile(diffs, [2.5, 97.5])
    return [round(float(low), 3), round(float(high), 3)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="folder for the rendered data (kept)")
    parser.add_argument("--num-kemar", type=int, default=960)
    parser.add_argument("--num-spheres", type=int, default=8)
    parser.add_argument("--num-per-sphere", type=int, default=80)
    parser.add_argument("--num-anechoic", type=int, default=48)
    parser.add_argument("--num-long", type=int, default=128, help="KEMAR clips of 4 s (reported, not scored)")
    parser.add_argument("--duration", type=float, default=1.0, help="clip length, seconds")
    parser.add_argument("--seed", type=int, default=1800)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-sweeps", action="store_true", help="only the named variants")
    parser.add_argument("--name", default="classic_validation", help="results file name (no .json)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    total = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        root = args.data if args.data is not None else Path(tmp)
        rendered = render_all(root, args)
        data = load(root, list(rendered))
        render_s = time.perf_counter() - total
    masks = conditions(data)
    counts = {cond: int(mask.sum()) for cond, mask in masks.items()}
    print("clips per condition:", counts, flush=True)

    hrtf = load_default_hrtf(SAMPLE_RATE)
    variants: dict[str, Any] = {}
    errors: dict[str, np.ndarray] = {}
    for name, variant in CLASSIC_VARIANTS.items():
        result, errors[name] = evaluate(name, {}, hrtf, data, masks)
        variants[name] = {
            "family": variant.family,
            "summary": variant.summary,
            "streaming": variant.streaming,
            "parameters": {k: list(v) if isinstance(v, tuple) else v for k, v in variant.binaural.items()},
            **result,
        }
        r = variants[name]
        print(
            f"{name:24s} score {r['score_deg']:6.2f}  in-domain {r['in-domain']['mae_deg']:6.2f}  "
            f"low-snr {r['low-snr']['mae_deg']:6.2f}  unseen-head {r['unseen-head']['mae_deg']:6.2f}  "
            f"anechoic {r['anechoic']['mae_deg']:5.2f}  {r['ms_per_audio_s']} ms per s of audio",
            flush=True,
        )

    chosen = {}
    for family, names in CLASSIC_FAMILIES.items():
        eligible = [n for n in names if not CLASSIC_VARIANTS[n].streaming]
        chosen[family] = min(eligible, key=lambda n: variants[n]["score_deg"])
        for name in names:
            ci = score_difference_ci(errors[name], errors[chosen[family]], masks, args.seed)
            variants[name]["score_minus_chosen_ci95_deg"] = ci
    consistent = all(chosen[f] == DEFAULT_VARIANT[f] for f in chosen)
    print("chosen by validation:", chosen, "| library defaults:", dict(DEFAULT_VARIANT), flush=True)
    for name, r in variants.items():
        print(f"  {name:24s} score - chosen: 95% CI {r['score_minus_chosen_ci95_deg']}")

    sweeps = []
    if not args.no_sweeps:
        for label, name, kwargs in SWEEPS:
            r, errs = evaluate(name, kwargs, hrtf, data, masks)
            ci = score_difference_ci(errs, errors[name], masks, args.seed)
            printable = {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}
            sweeps.append(
                {
                    "label": label,
                    "variant": name,
                    "overrides": printable,
                    "score_minus_variant_ci95_deg": ci,
                    **r,
                }
            )
            print(
                f"sweep {label:40s} score {r['score_deg']:6.2f} (vs {name}: {ci})  "
                f"in-domain {r['in-domain']['mae_deg']:6.2f}  low-snr {r['low-snr']['mae_deg']:6.2f}  "
                f"unseen-head {r['unseen-head']['mae_deg']:6.2f}",
                flush=True,
            )

    path = write_result(
        args.name,
        {
            "what": "classic localizer variants on a validation-only rendered set; defaults chosen by score",
            "command": " ".join(["benchmarks/validate_classic.py", *sys.argv[1:]]),
            "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "data": {
                "preset": PRESET,
                "split": "val",
                "datasets": rendered,
                "duration_s": args.duration,
                "seed": args.seed,
                "clips_per_condition": counts,
                "low_snr_below_db": LOW_SNR,
            },
            "selection": {
                "score": "mean MAE (deg) over " + ", ".join(SELECTION),
                "chosen": chosen,
                "library_defaults": dict(DEFAULT_VARIANT),
                "library_defaults_match": consistent,
            },
            "variants": variants,
            "sweeps": sweeps,
            "timing_s": {
                "render_and_load": round(render_s, 1),
                "total": round(time.perf_counter() - total, 1),
            },
        },
    )
    print(f"wrote {path} in {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()
