"""``spatialrep demo``: the main job on the embedded default data.

It runs the SFD experiment at the tiny scale (:mod:`spatialrep.experiments.sfd`): renders binaural speech
(MIT KEMAR head, espeak voices, simulated rooms, diffuse noise), pretrains SFD on every spatial target,
fine-tunes it and the supervised baselines at two label budgets with three seeds, evaluates them and the
classic localizers on one test set, prints the table, writes the plots, and ends with a ``localize`` command
to try the trained model on a file.
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
        "[1/2] SFD at the tiny scale: render binaural speech (KEMAR, simulated rooms, diffuse noise), "
        "pretrain a causal Conformer on each spatial target, fine-tune with 20 s and 1 min of labels "
        "(3 seeds), compare with STFT-DNN, GCCPHAT-DNN and classic localizers on one test set ..."
    )
    result = run_experiment("sfd", out, scale="tiny", workers=args.workers, progress=not args.quiet)

    print("[2/2] drawing a scene overview and the spatial features of one test example ...")
    data = out / "data"
    rows = read_rows(find_manifest(data))
    overview = out / "overview.png"
    _scene_overview(rows, overview)
    example = next(r for r in rows if r["split"] == "test")
    audio, rate = read_audio(resolve_path(data, example["noisy_path"]))
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
    print("  results.md / .csv / .json   the table above: MAE, median, acc5, acc10 per model, budget, SNR")
    print("  mae_vs_snr.png              MAE per SNR band, one line per model")
    print("  mae_vs_labels.png           MAE against minutes of labelled audio")
    print("  data/                       the rendered dataset (manifest.csv, FLAC signals, label budgets)")
    print(
        "  pretrain/, finetune/        every trained model (safetensors + model.json), eval/ its predictions"
    )
    print(f"  {overview.name:27s} source directions, RT60 and SNR of the dataset")
    print(f"  {features_png.name:27s} log-mel, IPD, ILD and GCC-PHAT of one test clip")
    print()
    print("The tiny scale checks the pipeline; its numbers mean little (2.5 min of training audio). The CPU")
    print("reference is `spatialrep experiment sfd --scale small --out runs/sfd-small` (about an hour).")
    print()
    print(f"Trained model: {result.try_model}")
    print("Localize a file with it (add --stream for chunk-by-chunk causal processing, --json for machines):")
    print(f"  .venv/bin/spatialrep localize {result.try_file} --model {result.try_model}")
    print("or compare with a classic localizer on the same file:")
    print(f"  .venv/bin/spatialrep localize {result.try_file} --model gcc-phat-itd")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser(
        "demo",
        help="the main job: SFD pretraining, fine-tuning and baselines at the tiny scale",
        description="The main job on the embedded default data: `spatialrep experiment sfd --scale tiny` "
        "(render binaural speech with the MIT KEMAR head in simulated rooms with diffuse noise, pretrain SFD "
        "on each spatial target, fine-tune at two label budgets with 3 seeds, compare with supervised and "
        "classic baselines), then scene and feature plots. Rerunning resumes.",
    )
    parser.add_argument("--out", default="demo-output", help="output folder (default: demo-output)")
    parser.add_argument(
        "--workers", type=positive_int, default=None, help="rendering processes (default: every core)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)
