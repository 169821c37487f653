"""``spatialrep localize``: direction over time and for the whole clip, from any localizer.

``--model`` is a trained model's folder (SFD and its baselines, SCE / WSCE, the feed-forward regressor) or a
classic localizer's name (``gcc-phat-itd``, ``srp-phat``, ``music``, steered for ``--receiver``). One file
prints text (or ``--json``); several files or folders, or ``--out``, give CSV rows (one per file, or per
segment with ``--segments``). The work is :mod:`spatialrep.inference`; this module only parses and prints.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any

from spatialrep.cli.arguments import positive_float

_SHARED_HELP = (
    "a trained model's folder (or its best/ or last/), or a classic localizer: gcc-phat-itd, srp-phat, music "
    "(their validated defaults) or a named variant such as gcc-phat-itd-clip (list: docs/evaluation.md)"
)


def _angle(value: float) -> str:
    return "   n/a" if math.isnan(value) else f"{value:+6.1f}°"


def _print_result(result: dict[str, Any], stream: bool) -> None:
    mode = "streaming" if stream else "offline"
    clip = result["clip"]
    with_elevation = "elevation_deg" in clip
    where = f"azimuth {_angle(clip['azimuth_deg']).strip()}"
    if with_elevation:
        where += f", elevation {_angle(clip['elevation_deg']).strip()}"
    with_class = "class" in clip
    if with_class:
        where += f", class {clip['class'] or 'n/a'}"
    if "no_source" in clip:
        where += f" (no source: {clip['no_source']})"
    print(f"{result['file']}: {where} (whole clip, {mode}, {result['model_type']})")
    print(
        "  start_s   end_s  azimuth"
        + ("  elevation" if with_elevation else "")
        + ("  class" if with_class else "")
    )
    for seg in result["segments"]:
        line = f"  {seg['start_s']:7.2f} {seg['end_s']:7.3f}  {_angle(seg['azimuth_deg'])}"
        if with_elevation:
            line += f"  {_angle(seg['elevation_deg'])}"
        if with_class:
            line += f"  {seg.get('class') or 'n/a'}"
        print(line)


def run(args: argparse.Namespace) -> int:
    from spatialrep.experiments.report import plain
    from spatialrep.inference import localize_file, localize_paths, write_rows

    single = (
        len(args.files) == 1
        and not Path(args.files[0]).is_dir()
        and args.out is None
        and not args.segments_csv
    )
    if args.out is not None and Path(args.out).is_dir():
        raise ValueError(f"--out {args.out} is a folder; give the path of the CSV file to write")
    if not single and (args.json or args.logits):
        raise ValueError("--json and --logits describe one file; with several files or --out, rows are CSV")
    # The resampling notice must reach the user whatever the warning filters say.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if single:
            result = localize_file(
                args.files[0],
                args.model,
                stream=args.stream,
                segment_s=args.segment,
                chunk_s=args.chunk,
                receiver=args.receiver,
                logits=args.logits,
                progress=not args.quiet,
            )
        else:
            rows = list(
                localize_paths(
                    args.files,
                    args.model,
                    segments=args.segments_csv,
                    stream=args.stream,
                    segment_s=args.segment,
                    chunk_s=args.chunk,
                    receiver=args.receiver,
                    progress=not args.quiet,
                )
            )
    for warning in caught:
        if issubclass(warning.category, UserWarning) and "resampling" in str(warning.message):
            print(f"spatialrep: warning: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if not single:
        text = write_rows(rows, args.out)
        failed = [row for row in rows if row.get("error")]
        for row in failed:
            print(f"spatialrep: error: {row['file']}: {row['error']}", file=sys.stderr)
        if args.out is None:
            sys.stdout.write(text)
        else:
            print(f"{len(rows)} rows ({len(failed)} failed) written to {args.out}", file=sys.stderr)
        return 2 if failed else 0
    if args.json:
        if not args.logits or result["frame_logits"] is None:
            result.pop("frame_logits")
        print(json.dumps(plain(result), indent=2, allow_nan=False))  # NaN (no source) becomes null
        return 0
    _print_result(result, args.stream)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser(
        "localize",
        help="estimate the direction of recordings with a trained model or a classic localizer",
        description="Estimate the azimuth (degrees, 0 = front, +90 = left) of recordings over time and for "
        "the whole clip with a trained model (a fine-tuned SFD localizer or its baselines; an SCE / WSCE "
        "embedding or the feed-forward regressor, which also give elevation; an MC-SimCLR model for 4-mic "
        "array files, which also names the sound class) or a classic localizer "
        "(gcc-phat-itd, srp-phat, music or a named variant, steered for --receiver). Audio at another sample "
        "rate (4-384 kHz) is resampled; silence (below -70 dBFS) gets no direction. "
        "One file prints text or --json; several files or folders (or --out) give CSV rows, one per file or "
        "per segment (--segments), with the model loaded once. Files of any length are read and localized in "
        "blocks of 10 s, in bounded memory.",
    )
    parser.add_argument(
        "files",
        nargs="+",
        metavar="PATH",
        help="audio files or folders with the model's channel count (binaural: channel 0 = left)",
    )
    parser.add_argument("--model", required=True, help=_SHARED_HELP)
    parser.add_argument(
        "--receiver",
        default="kemar",
        help="classic localizers: the head or array to steer for (default kemar)",
    )
    parser.add_argument("--json", action="store_true", help="one file: print machine-readable JSON")
    parser.add_argument("--logits", action="store_true", help="with --json: include the frame logits")
    parser.add_argument(
        "--stream", action="store_true", help="process the audio chunk by chunk (causal models)"
    )
    parser.add_argument(
        "--segment",
        type=positive_float,
        default=None,
        help="seconds per segment (default 0.1 frame-wise, 0.5 clip-level)",
    )
    parser.add_argument(
        "--chunk", type=positive_float, default=0.1, help="seconds per --stream chunk (default 0.1)"
    )
    parser.add_argument(
        "--segments",
        dest="segments_csv",
        action="store_true",
        help="CSV rows per segment instead of per file",
    )
    parser.add_argument("--out", default=None, help="write the CSV rows to this file")
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar (shown for files over ~1 s of work)"
    )
    parser.set_defaults(func=run)
