"""Entry point of the ``spatialrep`` command: one subcommand per module in this package.

Every subcommand module exposes ``register(subparsers)`` which adds its parser and sets ``func`` (a callable
taking the parsed namespace and returning an exit code). Library errors become one line on stderr and a
non-zero exit; tracebacks are shown only with ``--debug``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence

from spatialrep import __version__

# Subcommand modules, in the order --help lists them.
_COMMANDS = (
    "demo", "simulate", "dataset", "features", "experiment", "benchmark", "localize", "score", "embed",
    "report", "export", "info",
)  # fmt: skip

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


class Stopped(BaseException):
    """Raised by the signal handlers of :func:`main`: a ``BaseException`` rather than a ``KeyboardInterrupt``
    so that libraries which catch interrupts and call ``sys.exit`` (Lightning exits with status 1) pass it on
    unchanged, after their own clean-up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, frame: object) -> None:
    raise Stopped(signum)


@contextlib.contextmanager
def _stoppable() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Stopped` while the command runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Exit status: 0 done, 2 bad input (one line on stderr), 130 interrupted (SIGINT /
    Ctrl-C), 143 terminated (SIGTERM); an interrupted or terminated command resumes when rerun."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USER_ERROR
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.showwarning = _show_warning
    try:
        with _stoppable():
            return int(args.func(args) or 0)
    except (KeyboardInterrupt, Stopped) as exc:
        signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
        word = "terminated" if signum == signal.SIGTERM else "interrupted"
        print(f"spatialrep: {word}; rerun the same command to resume", file=sys.stderr)
        return 128 + int(signum)
    except (ValueError, TypeError, OSError, KeyError) as exc:
        if args.debug:
            raise
        print(f"spatialrep: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
