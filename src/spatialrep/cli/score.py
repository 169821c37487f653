"""``spatialrep score``: the spatial-quality distance of a test recording from a reference.

The work is :func:`spatialrep.inference.score.score_files`; this module only parses and prints.
"""

from __future__ import annotations

import argparse
import json


def run(args: argparse.Namespace) -> int:
    from spatialrep.inference.score import score_files

    result = score_files(
        args.reference,
        args.test,
        model=args.model,
        metric=args.metric,
        mono=args.mono,
        reference_mono=args.ref_mono,
        test_mono=args.test_mono,
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        count = len(result.segments)
        print(
            f"{result.test} vs {result.reference}: D = {result.score:.6g} "
            f"({result.metric}, mean of {count} segment{'s' * (count != 1)} at {result.sample_rate} Hz; "
            "0 = identical, larger = spatially further)"
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser(
        "score",
        help="spatial-quality distance of a binaural recording from a reference (SQM-BS)",
        description="Score how far the spatialization of TEST is from REF with a trained SQM-BS model "
        "(--metric deep: the deep-feature distance, Eq. 2; embedding: 1 - cos of its embeddings) or the "
        "classic binaural-cue distance (--metric cue: ILD, ITD, IACC; no model needed). Files at another "
        "sample rate are resampled; the distance is averaged over aligned segments of the model's training "
        "length. A file scored against itself gives 0.",
    )
    parser.add_argument("reference", metavar="REF", help="reference binaural file (channel 0 = left)")
    parser.add_argument("test", metavar="TEST", help="test binaural file")
    parser.add_argument(
        "--model", default=None, help="a trained SQM-BS run folder (not needed for --metric cue)"
    )
    parser.add_argument("--mono", default=None, help="the dry mono of both files (one channel)")
    parser.add_argument("--ref-mono", default=None, help="the dry mono of REF")
    parser.add_argument("--test-mono", default=None, help="the dry mono of TEST")
    parser.add_argument("--metric", choices=("deep", "embedding", "cue"), default="deep", help="default deep")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=run)
