"""``spatialrep demo``: the main job on the embedded default data.

At this stage of the toolkit it renders a small binaural dataset (MIT KEMAR head, espeak speech, simulated
rooms, diffuse noise) through the same code as ``spatialrep simulate``, summarises it, and draws a scene
overview and one example's spatial features for a person to look at.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DEMO_PRESET = "binaural-speech-tiny"
DEMO_OVERRIDES = ("scene.duration_s=2.0",)
"""2 s clips instead of the tiny preset's 0.5 s, so the feature plot shows a few words of speech."""


def _scene_overview(manifest_rows: list[dict], path: Path) -> None:
    """Scatter of source directions and histograms of RT60 and SNR over the dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    az = np.array([a for r in manifest_rows for a in r["azimuth_deg"]])
    dist = np.array([d for r in manifest_rows for d in r["distance_m"]])
    rt60 = np.array([r["rt60_s"] for r in manifest_rows])
    snr = np.array([r["snr_db"] for r in manifest_rows])
    fig = plt.figure(figsize=(11, 3.6))
    polar = fig.add_subplot(1, 3, 1, projection="polar")
    polar.set_theta_zero_location("N")  # type: ignore[attr-defined]  # 0° = front, up; +90° = left, counter-clockwise as in SOFA
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
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    import torch

    from spatialrep.data.info import dataset_summary, format_summary
    from spatialrep.data.manifest import find_manifest, read_rows, resolve_path
    from spatialrep.data.presets import load_dataset_config
    from spatialrep.data.writer import render_dataset
    from spatialrep.features.frontend import FeatureFrontEnd, feature_preset
    from spatialrep.features.plot import save_feature_plot
    from spatialrep.io.audio import read_audio

    out = Path(args.out)
    config = load_dataset_config(DEMO_PRESET, [*DEMO_OVERRIDES, *(args.set or ())])
    config = dataclasses.replace(config, num_examples=args.num)
    print(f"[1/3] rendering {config.name} ({config.num_examples} binaural examples) into {out}/ ...")
    start = time.perf_counter()
    report = render_dataset(config, out, workers=args.workers, progress=True)
    elapsed = time.perf_counter() - start
    summary = dataset_summary(out)
    print(
        f"      done in {elapsed:.1f} s ({report.rendered_shards} shard(s) rendered, "
        f"{report.skipped_shards} already finished)"
    )
    print(format_summary(summary))

    print("[2/3] drawing a scene overview ...")
    rows = read_rows(find_manifest(out))
    overview = out / "overview.png"
    _scene_overview(rows, overview)

    print("[3/3] drawing the spatial features of one test example ...")
    test_rows = [r for r in rows if r["split"] == "test"] or rows
    example = test_rows[0]
    audio, rate = read_audio(resolve_path(out, example["noisy_path"]))
    front = FeatureFrontEnd(feature_preset("binaural_default", sample_rate=rate))
    features_png = out / "example_features.png"
    save_feature_plot(
        front,
        torch.from_numpy(audio).float(),
        features_png,
        title=f"{example['noisy_path']}: azimuth {example['azimuth_deg'][0]:.1f}°, "
        f"RT60 {example['rt60_s']:.2f} s, SNR {example['snr_db']:.1f} dB",
    )
    print()
    print(f"What was made, in {out}/:")
    print("  manifest.csv          one row per example with every label (angles in degrees)")
    print("  dataset.json          resolved config, library versions, seed, counts")
    print("  <split>/...flac       noisy, clean_direct and dry signals (24-bit FLAC)")
    print(f"  {overview.name:21s} source directions, RT60 and SNR of the whole dataset")
    print(f"  {features_png.name:21s} log-mel, IPD, ILD and GCC-PHAT of {example['noisy_path']}")
    print()
    print("Next: render a larger set with e.g.")
    print("  .venv/bin/spatialrep simulate --preset binaural-speech --out data/binaural-speech --hours 1")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser(
        "demo",
        help="render a small binaural dataset from the embedded data and describe it",
        description="The main job on the embedded default data: renders the binaural-speech-tiny preset "
        "(MIT KEMAR head, espeak speech, simulated rooms, diffuse noise) with `spatialrep simulate`'s code, "
        "prints a summary and writes plots. Rerunning resumes (finished shards are kept).",
    )
    parser.add_argument("--out", default="demo-output", help="output folder (default: demo-output)")
    parser.add_argument("--num", type=int, default=48, help="number of examples (default: 48)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: every core)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a preset value")
    parser.set_defaults(func=run)
