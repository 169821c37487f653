"""``spatialrep embed``: embeddings of audio files and folders from any trained Embedder.

The work is :mod:`spatialrep.inference.embed`; this module only parses and prints.
"""

from __future__ import annotations

import argparse
import sys

from spatialrep.cli.arguments import positive_float

EXIT_SOME_FAILED = 1


def run(args: argparse.Namespace) -> int:
    from spatialrep.inference.embed import embed_paths

    def report(file: str, message: str) -> None:
        print(f"spatialrep: error: {message}", file=sys.stderr)

    summary = embed_paths(
        args.files,
        args.model,
        args.out,
        segment_s=args.segment,
        fmt=args.format,
        progress=not args.quiet,
        on_error=report,
    )
    done = summary.embedded + summary.skipped
    print(
        f"{done} file(s) embedded ({summary.embedded} now, {summary.skipped} already done), "
        f"{len(summary.failed)} failed; manifest: {summary.out / 'manifest.csv'}"
    )
    if summary.failed:
        listed = summary.out / "errors.csv"
        print(f"failed files are listed in {listed}; rerun to retry them", file=sys.stderr)
        return EXIT_SOME_FAILED
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser(
        "embed",
        help="embeddings of audio files from a trained model, for downstream or language-model use",
        description="Embed audio files and folders with a trained model that has embed() (SFD pretrainer or "
        "localizer, SCE / WSCE, MC-SimCLR pretrainer or model, ...): one embedding per segment, per layer "
        "(models with several representations give each). Writes one .npy per file and layer (or one "
        ".safetensors per file), manifest.csv (file, segment, start_s, end_s, model, layer, output, "
        "key, row, shape) and errors.csv for files that failed (the others are still embedded; exit "
        "status 1). "
        "Resumable: rerunning skips the files already done.",
    )
    parser.add_argument("files", nargs="+", metavar="PATH", help="audio files or folders (recursively)")
    parser.add_argument("--model", required=True, help="a trained model's folder (or its best/ or last/)")
    parser.add_argument("--out", required=True, help="output folder (a reused one must match the settings)")
    parser.add_argument(
        "--segment",
        type=positive_float,
        default=None,
        help="seconds per embedded segment (default 10; a shorter file gives one embedding)",
    )
    parser.add_argument("--format", choices=("npy", "safetensors"), default="npy", help="array format")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
