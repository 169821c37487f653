"""``spatialrep info``: what this installation can simulate (receivers, arrays, sources, noise, presets)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def collect_info() -> dict[str, Any]:
    """Everything ``spatialrep info`` shows, as plain data."""
    import numpy
    import torch

    import spatialrep
    from spatialrep.data.presets import list_presets
    from spatialrep.geometry.arrays import list_arrays
    from spatialrep.simulate.noise import NOISE_TYPES
    from spatialrep.simulate.receiver_factory import list_receivers
    from spatialrep.simulate.sources import list_source_banks

    return {
        "version": spatialrep.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "receivers": list_receivers(),
        "arrays": list_arrays(),
        "source_banks": list_source_banks(),
        "noise_types": list(NOISE_TYPES),
        "presets": list_presets(),
    }


def run(args: argparse.Namespace) -> int:
    info = collect_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"spatialrep {info['version']} (torch {info['torch']}, numpy {info['numpy']})")
    print("receivers:    " + ", ".join(info["receivers"]))
    print("arrays:       " + ", ".join(info["arrays"]))
    print("source banks:")
    for spec, description in info["source_banks"].items():
        print(f"  {spec:22s} {description}")
    print("noise types:  " + ", ".join(info["noise_types"]))
    print("presets:      " + ", ".join(info["presets"]))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info",
        help="list receivers, arrays, source banks, noise types and dataset presets",
        description="List what this installation can simulate: receivers (HRTF sets, spherical heads, "
        "arrays), source banks, noise types and dataset presets.",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=run)
