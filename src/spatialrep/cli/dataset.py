"""``spatialrep dataset``: import real recordings as a dataset, and summarise a dataset folder."""

from __future__ import annotations

import argparse
import json


def run_import(args: argparse.Namespace) -> int:
    from spatialrep.data.importer import import_recordings

    info = import_recordings(
        args.audio,
        args.labels,
        args.out,
        receiver=args.receiver,
        split=args.split,
        name=args.name,
        overwrite=args.overwrite,
    )
    print(
        f"imported {info['num_examples']} examples ({info['hours']:.3f} h) from {args.audio} into {args.out}"
    )
    return 0


def run_info(args: argparse.Namespace) -> int:
    from spatialrep.data.info import dataset_summary, format_summary

    summary = dataset_summary(args.path)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser(
        "dataset",
        help="import recordings as a dataset, or summarise a dataset",
        description="Work with dataset folders: import existing recordings with a label CSV, or summarise "
        "one.",
    )
    commands = parser.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)

    importer = commands.add_parser(
        "import",
        help="build a manifest over existing binaural or array recordings and a label CSV",
        description="Build a dataset folder (manifest.csv, dataset.json) over existing recordings. The label "
        "CSV has columns file, azimuth_deg, elevation_deg, distance_m, class and optionally start_s, end_s: "
        "one row per source, per file or per time span. The audio is not copied.",
    )
    importer.add_argument("--audio", required=True, help="folder of the recordings")
    importer.add_argument("--labels", required=True, help="label CSV")
    importer.add_argument("--out", required=True, help="output folder (new or empty)")
    importer.add_argument(
        "--receiver", help="receiver name (e.g. kemar, array:circular4); checks channel counts"
    )
    importer.add_argument(
        "--split",
        default="test",
        choices=("train", "val", "test"),
        help="split of every example (default: test)",
    )
    importer.add_argument("--name", help="dataset name (default: the audio folder's name)")
    importer.add_argument("--overwrite", action="store_true", help="replace a dataset in the output folder")
    importer.set_defaults(func=run_import)

    info = commands.add_parser(
        "info",
        help="summarise a dataset folder or manifest",
        description="Print counts per split, hours, classes, label ranges and budgets of a dataset.",
    )
    info.add_argument("path", help="dataset folder or manifest CSV")
    info.add_argument("--json", action="store_true", help="print machine-readable JSON")
    info.set_defaults(func=run_info)
