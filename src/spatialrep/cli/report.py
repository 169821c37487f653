"""``spatialrep report DIR``: one self-contained HTML page (tables and plots) for an experiment folder."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from spatialrep.experiments.html_report import write_html_report

    if args.update_docs:
        from spatialrep.experiments.benchmark_docs import update_docs

        if len(args.folders) != 1:
            raise ValueError("--update-docs takes one benchmark run folder")
        for path in update_docs(args.folders[0], args.update_docs):
            print(f"updated {path}")
        return 0
    for folder in args.folders:
        out = args.out if args.out is not None and len(args.folders) == 1 else None
        print(write_html_report(folder, out))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser(
        "report",
        help="write report.html (tables and plots in one self-contained page) for experiment folders",
        description="Write DIR/report.html from an experiment folder's results.md, plots (*.png) and "
        "recipe.yaml: one file with no external resources, images inlined, no timestamp (the same folder "
        "gives the same bytes). Experiments write it when they finish; this rewrites it.",
    )
    parser.add_argument("folders", nargs="+", metavar="DIR", help="experiment output folders")
    parser.add_argument("--out", default=None, help="with one folder: write the page here instead")
    parser.add_argument(
        "--update-docs",
        nargs="+",
        default=None,
        metavar="FILE",
        help="with one benchmark run: replace the <!-- benchmark:SCALE:begin --> ... end blocks of these "
        "Markdown files with the run's tables (docs/benchmark.md, README.md)",
    )
    parser.set_defaults(func=run)
