"""``spatialrep demo``: the main job on the embedded default data.

It runs the tiny benchmark (:mod:`spatialrep.experiments.benchmark`): renders binaural speech (MIT KEMAR head,
espeak voices, simulated rooms, diffuse noise), 4-mic array events and binaural sound events with fixed test
suites, draws spatial-quality pairs, trains every method on the same data with two seeds, evaluates them, the
classic baselines and the trivial floors on every suite, writes the tables, plots and ``report.html``, and
ends with the report's path and a ``localize`` and a ``score`` command to try.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from spatialrep.cli.arguments import positive_int


def _scene_overview(manifest_rows: list[dict], path: Path) -> None:
    """Scatter of source directions and histograms of RT60 and SNR over the dataset."""
    import numpy as np

    from spatialrep.io.figures import pyplot, save_figure

    plt = pyplot()

    az = np.array([a for r in manifest_rows for a in r["azimuth_deg"]])
    dist = np.array([d for r in manifest_rows for d in r["distance_m"]])
    rt60 = np.array([r["rt60_s"] for r in manifest_rows])
    snr = np.array([r["snr_db"] for r in manifest_rows])
    fig = plt.figure(figsize=(11, 3.6))
    polar = fig.add_subplot(1, 3, 1, projection="polar")
    polar.set_theta_zero_location("N")  # 0° = front, up; +90° = left, counter-clockwise as in SOFA
    polar.scatter(np.deg2rad(az), dist, s=14)
    polar.set_title("source azimuth (0° front, +90° left) and distance (m)", fontsize=8)
    ax = fig.add_subplot(1, 3, 2)
    ax.hist(rt60, bins=10)
    ax.set_xlabel("RT60 (s)")
    ax.set_ylabel("examples")
    ax = fig.add_subplot(1, 3, 3)
    ax.hist(snr, bins=10)
    ax.set_xlabel("SNR (dB)")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def run(args: argparse.Namespace) -> int:
    import torch

    from spatialrep.data.manifest import find_manifest, read_rows, resolve_path
    from spatialrep.experiments.runner import run_experiment
    from spatialrep.features.frontend import FeatureFrontEnd, feature_preset
    from spatialrep.features.plot import save_feature_plot
    from spatialrep.io.audio import read_audio

    out = Path(args.out)
    start = time.perf_counter()
    print(
        "[1/2] the tiny benchmark: render fixed test suites (binaural: in-domain, unseen rooms, unseen "
        "heads, low SNR, other sources; 4-mic array; binaural events; spatial-quality pairs), train SFD, "
        "GCCPHAT-DNN, DSpAST, SCE, MC-SimCLR, SpatialAST, a conformer and SQM-BS on the same data with 2 "
        "seeds, evaluate them, the classic baselines and the trivial floors on every suite ..."
    )
    result = run_experiment("benchmark", out, scale="tiny", workers=args.workers, progress=not args.quiet)

    print("[2/2] drawing a scene overview and the spatial features of one test example ...")
    rows = read_rows(find_manifest(out / "data" / "binaural-train"))
    overview = out / "overview.png"
    _scene_overview(rows, overview)
    suite = out / "data" / "binaural-in-domain"
    example = read_rows(find_manifest(suite))[0]
    audio, rate = read_audio(resolve_path(suite, example["noisy_path"]))
    front = FeatureFrontEnd(feature_preset("binaural_default", sample_rate=rate))
    features_png = out / "example_features.png"
    save_feature_plot(
        front,
        torch.from_numpy(audio).float(),
        features_png,
        title=f"{example['noisy_path']}: azimuth {example['azimuth_deg'][0]:.1f}°, "
        f"RT60 {example['rt60_s']:.2f} s, SNR {example['snr_db']:.1f} dB",
    )
    elapsed = time.perf_counter() - start
    print()
    print(f"Done in {elapsed / 60:.1f} min. What was made, in {out}/:")
    print("  report.html                 everything below in one page: open it in a browser")
    print("  report.md, results.*        the tables above (every model, classic localizer, floor, suite)")
    print("  suites_*.png, error_vs_*.png, azimuth_confusion_*.png, embeddings_*.png   the plots")
    print("  data/                       the training data and the fixed test suites (manifest.csv, FLAC)")
    print("  models/, eval/              every trained model (safetensors + model.json) and its predictions")
    print(f"  {overview.name:27s} source directions, RT60 and SNR of the binaural training data")
    print(f"  {features_png.name:27s} log-mel, IPD, ILD and GCC-PHAT of one test clip")
    print()
    print("The tiny suite checks the pipeline; its numbers mean little (3 min of training audio, few steps).")
    print("The CPU reference is `spatialrep benchmark --suite small` (docs/benchmark.md).")
    print()
    print(f"Report: {(out / 'report.html').resolve()}")
    if result.try_model is not None:
        print("Localize a file with the best learned model (add --json for machines):")
        print(f"  .venv/bin/spatialrep localize {result.try_file} --model {result.try_model}")
        print("or with a classic localizer:")
        print(f"  .venv/bin/spatialrep localize {result.try_file} --model gcc-phat-itd")
    clean = suite / example["clean_direct_path"] if example.get("clean_direct_path") else None
    if clean is not None:
        print("How far the noisy mixture's spatial cues are from the clean direct sound's (0 = identical):")
        print(f"  .venv/bin/spatialrep score {clean} {suite / example['noisy_path']} --metric cue")
        sqm = out / "models" / "sqm-bs" / "seed0" / "model"
        if (sqm / "best").is_dir():
            print("and with the SQM-BS model the benchmark trained (a learned spatial-quality distance):")
            print(f"  .venv/bin/spatialrep score {clean} {suite / example['noisy_path']} --model {sqm}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser(
        "demo",
        help="the main job: the tiny benchmark of every method, with its HTML report",
        description="The main job on the embedded default data: `spatialrep benchmark --suite tiny` (render "
        "fixed test suites, train every method on the same data with 2 seeds, evaluate every model, the "
        "classic baselines and the trivial floors on every suite, write report.html), then scene and "
        "feature plots. Rerunning resumes.",
    )
    parser.add_argument("--out", default="demo-output", help="output folder (default: demo-output)")
    parser.add_argument(
        "--workers", type=positive_int, default=None, help="rendering processes (default: every core)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)
