"""``spatialrep experiment NAME --scale S | --config FILE [--set k=v] --out DIR``: run or resume one.

Every experiment registered in :mod:`spatialrep.experiments` is served the same way; its scales are the
recipes shipped in ``spatialrep/recipes/NAME/``.
"""

from __future__ import annotations

import argparse

from spatialrep.cli.arguments import positive_int


def run(args: argparse.Namespace) -> int:
    from spatialrep.experiments.runner import run_experiment

    if args.scale is not None and args.config is not None:
        raise ValueError("give --scale or --config, not both")
    scale = args.scale if args.scale is not None or args.config is not None else "tiny"
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    result = run_experiment(
        args.name,
        args.out,
        scale=scale,
        config_file=args.config,
        overrides=args.set,
        workers=args.workers,
        progress=not args.quiet,
    )
    print(f"Results in {args.out}/: report.html (tables and plots in one page), results.md, results.csv, ")
    print("results.json and the plots (*.png).")
    if result.try_model is not None:
        print(f"A trained model: {result.try_model}")
        if result.try_command is not None:
            print(f"Try it:  {result.try_command}")
        else:
            print(f"Try it:  spatialrep localize {result.try_file or 'FILE.wav'} --model {result.try_model}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    from spatialrep.recipes import list_recipe_experiments, list_scales

    names = list_recipe_experiments()
    scales = "; ".join(f"{name}: {', '.join(list_scales(name))}" for name in names)
    parser = subparsers.add_parser(
        "experiment",
        help=f"run a method comparison ({', '.join(names)}) from a recipe; resumable",
        description="Train and evaluate every model of an experiment on fixed test sets and write "
        "results.csv, results.json, results.md and plots into --out, with the resolved recipe as "
        f"recipe.yaml. Rerunning the same command resumes where a killed run stopped. Scales: {scales}. "
        "tiny takes minutes and its numbers are not meaningful; small is the CPU reference.",
    )
    parser.add_argument("name", choices=names, help="which experiment")
    parser.add_argument("--scale", default=None, help="a shipped recipe (default: tiny)")
    parser.add_argument("--config", default=None, help="a recipe YAML file instead of --scale")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field (repeatable)"
    )
    parser.add_argument("--out", required=True, help="output folder (created; rerun to resume)")
    parser.add_argument(
        "--workers", type=positive_int, default=None, help="rendering processes (default: all cores)"
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="torch threads for training and inference (default: torch's, one per core; on a CPU shared "
        "with other jobs 1 is often several times faster; a recipe's own threads field wins)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)
