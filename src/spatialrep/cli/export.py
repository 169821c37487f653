"""``spatialrep export``: a trained SFD localizer as one ONNX step function for device streaming.

The work is :func:`spatialrep.deploy.export.export_onnx`; this module only parses, checks the optional
``deploy`` extra and reports. See ``docs/deploy.md``.
"""

from __future__ import annotations

import argparse
import sys

from spatialrep.cli.arguments import positive_float

_MISSING = "export needs the deploy extra (onnx, onnxruntime): pip install 'spatialrep[deploy]'"


def run(args: argparse.Namespace) -> int:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        print(f"spatialrep: error: {_MISSING}", file=sys.stderr)
        return 2
    from spatialrep.deploy.export import export_onnx

    if not str(args.out).endswith(".onnx"):
        raise ValueError(f"--out {args.out} must be a .onnx file path")
    path = export_onnx(args.model, args.out, int8=args.int8, context_s=args.context_s)
    from spatialrep.deploy import StreamingLocalizer

    loaded = StreamingLocalizer(path)
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, {loaded.metadata['weights']} weights, "
        f"{len(loaded.class_azimuth_deg)} azimuth classes, {loaded.sample_rate} Hz, hop "
        f"{loaded.hop_length} samples, attention context {loaded.metadata['context_frames']} frames, "
        f"latency {1e3 * loaded.latency_s:.1f} ms); run it with spatialrep.deploy.StreamingLocalizer"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser(
        "export",
        help="export a trained SFD localizer to ONNX for streaming on a device",
        description="Write a fine-tuned SFD localizer (causal Conformer) as one ONNX step function: one call "
        "per 10 ms hop takes the newest window of binaural samples and the cached state, and returns the "
        "azimuth logits and the next state; the front-end (STFT, and GCC-PHAT for GCCPHAT-DNN) runs inside "
        "the graph. Run it with "
        "spatialrep.deploy.StreamingLocalizer (numpy and onnxruntime only). See docs/deploy.md.",
    )
    parser.add_argument(
        "--model", required=True, metavar="RUN", help="a fine-tuned SFD run's folder (or its best/ or last/)"
    )
    parser.add_argument("--out", required=True, metavar="FILE", help="the .onnx file to write")
    parser.add_argument(
        "--int8",
        action="store_true",
        help="int8 weights (onnxruntime dynamic quantisation, per-channel scales): 3x smaller, faster",
    )
    parser.add_argument(
        "--context-s",
        type=positive_float,
        default=1.0,
        metavar="S",
        help="attention looks back at most this many seconds: the fixed size of the cached state "
        "(default 1.0; the model's own bound if smaller)",
    )
    parser.set_defaults(func=run)
