"""Entry point of the ``spatialrep`` command: one subcommand per module in this package.

Every subcommand module exposes ``register(subparsers)`` which adds its parser and sets ``func`` (a callable
taking the parsed namespace and returning an exit code). Library errors become one line on stderr and a
non-zero exit; tracebacks are shown only with ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from collections.abc import Sequence

from spatialrep import __version__

# Subcommand modules, in the order --help lists them.
_COMMANDS = ("demo", "simulate", "dataset", "features", "experiment", "localize", "info")

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spatialrep",
        description="Learning robust spatial audio representations: simulate scenes, compute spatial "
        "features, train and evaluate localization encoders.",
    )
    parser.add_argument("--version", action="version", version=f"spatialrep {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(f"spatialrep.cli.{name}").register(subparsers)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"spatialrep: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USER_ERROR
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.showwarning = _show_warning
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("spatialrep: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, KeyError) as exc:
        if args.debug:
            raise
        print(f"spatialrep: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
