"""``spatialrep experiment NAME --scale S --out DIR``: run (or resume) a comparison experiment."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

# name -> (module, runner function, scales)
EXPERIMENTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "sfd": ("spatialrep.experiments.sfd", "run_sfd_experiment", ("tiny", "small", "paper")),
    "sce": ("spatialrep.experiments.sce", "run_sce_experiment", ("tiny", "small")),
}


def run(args: argparse.Namespace) -> int:
    module_name, function, scales = EXPERIMENTS[args.name]
    if args.scale not in scales:
        raise ValueError(f"experiment {args.name} has no scale {args.scale!r}; valid: {', '.join(scales)}")
    runner = getattr(importlib.import_module(module_name), function)
    kwargs: dict[str, Any] = {"progress": not args.quiet}
    if args.name == "sfd":
        kwargs["workers"] = args.workers
    result = runner(args.scale, args.out, **kwargs)
    print(f"Results in {args.out}/: results.md, results.csv, results.json and the plots (*.png).")
    model = result.get("best_model") or result.get("paths", {}).get("models", {}).get("wsce")
    if model is not None:
        print(f"A trained model: {model}")
        test_file = result.get("test_file") or "FILE.wav"
        print(f"Try it:  spatialrep localize {test_file} --model {model}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser(
        "experiment",
        help="run a method comparison (sfd, sce) at a given scale; resumable",
        description="Train and evaluate every model of an experiment on one fixed test set and write "
        "results.csv, results.json, results.md and plots into --out. Rerunning the same command resumes "
        "where a killed run stopped. Scales: tiny (minutes on a laptop; numbers not meaningful), small (the "
        "CPU reference), paper (sfd only; a GPU recipe).",
    )
    parser.add_argument("name", choices=sorted(EXPERIMENTS), help="which experiment")
    parser.add_argument("--scale", default="tiny", help="tiny, small or paper (default: tiny)")
    parser.add_argument("--out", required=True, help="output folder (created; rerun to resume)")
    parser.add_argument("--workers", type=int, default=None, help="rendering processes (default: all cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)
