"""``spatialrep simulate``: render a dataset preset to disk (sharded, resumable, local pool or Ray)."""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import TYPE_CHECKING

from spatialrep.cli.arguments import positive_int

if TYPE_CHECKING:
    from spatialrep.data.config import DatasetConfig


def build_config(args: argparse.Namespace) -> DatasetConfig:
    """The dataset config the arguments ask for: the preset, ``--set`` overrides, then seed and size."""
    from spatialrep.data.presets import load_dataset_config

    config = load_dataset_config(args.preset, args.set or ())
    if args.seed is not None:
        config = dataclasses.replace(config, seed=args.seed)
    if args.num is not None:
        config = dataclasses.replace(config, num_examples=args.num)
    elif args.hours is not None:
        if not (math.isfinite(args.hours) and args.hours > 0):
            raise ValueError(f"--hours must be a positive number, got {args.hours}")
        num = max(1, math.ceil(args.hours * 3600 / config.example_duration_s - 1e-9))
        config = dataclasses.replace(config, num_examples=num)
    return config


def run(args: argparse.Namespace) -> int:
    from spatialrep.data.presets import list_presets
    from spatialrep.data.writer import render_dataset

    if args.list_presets:
        print("\n".join(list_presets()))
        return 0
    if args.preset is None or args.out is None:
        raise ValueError("simulate needs --preset NAME and --out DIR (see --list-presets)")
    config = build_config(args)
    report = render_dataset(
        config,
        args.out,
        workers=args.workers,
        executor=args.executor,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    info = report.info
    splits = ", ".join(f"{k} {v['num_examples']}" for k, v in info["splits"].items())
    resumed = f", {report.skipped_shards} found finished" if report.skipped_shards else ""
    print(
        f"{info['name']}: {info['num_examples']} examples ({info['hours']:.3f} h; {splits}) in {args.out} — "
        f"{report.rendered_shards} shard(s) rendered{resumed}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser(
        "simulate",
        help="render a dataset preset to disk (FLAC, manifest, label budgets)",
        description="Render a dataset: audio files (FLAC), manifest.csv with every label, nested label "
        "budgets and dataset.json. Rendering is sharded; rerunning the same command after an interruption "
        "resumes it and gives the same bytes as an uninterrupted run, whatever the number of workers.",
    )
    parser.add_argument("--preset", help="preset name (see --list-presets) or a YAML file")
    parser.add_argument("--out", help="output folder")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--hours", type=float, help="total hours of audio over all splits")
    size.add_argument("--num", type=positive_int, help="total number of examples over all splits")
    parser.add_argument("--seed", type=int, help="base seed (default: the preset's)")
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="parallel worker processes (default: every core); with --executor ray, the CPUs of "
        "a local Ray instance when RAY_ADDRESS is not set",
    )
    parser.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local process pool, or a Ray cluster (pip install 'spatialrep[ray]'; the output "
        "folder must be on storage every node sees)",
    )
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set scene.region=horizontal (repeatable)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a dataset of another config found in the output folder",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    parser.set_defaults(func=run)
