"""``spatialrep benchmark --suite tiny|small [--methods ...] --out DIR``: every method, the same suites.

The work is the ``benchmark`` experiment (:mod:`spatialrep.experiments.benchmark`); this module only parses,
narrows the recipe to ``--methods`` and prints where the report is.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from spatialrep.cli.arguments import positive_int


def _narrowed(config: Any, methods: list[str] | None) -> Any:
    """The recipe with only ``methods`` (and only the tasks they answer)."""
    if not methods:
        return config
    from spatialrep.experiments.runner import benchmark_entries

    unknown = [m for m in methods if m not in config.methods]
    if unknown:
        raise ValueError(f"--methods {unknown}: not in this recipe; it has {', '.join(config.methods)}")
    entries = benchmark_entries()
    tasks = {entries[m].task for m in methods}
    kept = {name: (task if name in tasks else None) for name, task in config.tasks.items()}
    return dataclasses.replace(config, methods={m: config.methods[m] for m in methods}, **kept)


def run(args: argparse.Namespace) -> int:
    from spatialrep.experiments.runner import load_recipe, run_experiment

    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    scale = None if args.config is not None else args.suite
    config = load_recipe("benchmark", scale=scale, config_file=args.config, overrides=args.set)
    result = run_experiment(
        "benchmark",
        args.out,
        config=_narrowed(config, args.methods),
        workers=args.workers,
        progress=not args.quiet,
    )
    print(f"Report: {args.out}/report.html (also report.md, results.csv, results.json and the plots)")
    if result.try_model is not None:
        model, file = result.try_model, result.try_file
        print(f"Try the best learned localizer: spatialrep localize {file} --model {model}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    from spatialrep.recipes import list_scales

    parser = subparsers.add_parser(
        "benchmark",
        help="every method side by side on the same fixed test suites, with a one-page HTML report",
        description="Render fixed test suites once (binaural localization: in-domain, unseen rooms, unseen "
        "heads, low SNR, other sources; 4-mic array: in-domain, low SNR; binaural events: in-domain, low "
        "SNR; spatial quality: seen and unseen heads/rooms), train every method of the recipe on the same "
        "training data for every seed, evaluate every model, the classic baselines and the trivial floors "
        "on every suite, and write report.html, report.md, results.csv/json and plots into --out. Resumable: "
        f"rerun the same command. Suites: {', '.join(list_scales('benchmark'))}.",
    )
    parser.add_argument("--suite", default="tiny", help="a shipped benchmark recipe (default: tiny)")
    parser.add_argument("--config", default=None, help="a benchmark recipe YAML file instead of --suite")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field (repeatable)"
    )
    parser.add_argument("--methods", nargs="+", default=None, help="only these methods of the recipe")
    parser.add_argument("--out", required=True, help="output folder (created; rerun to resume)")
    parser.add_argument(
        "--workers", type=positive_int, default=None, help="rendering processes (default: all cores)"
    )
    parser.add_argument(
        "--threads", type=positive_int, default=None, help="torch threads (on a shared CPU 1 is often faster)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)
