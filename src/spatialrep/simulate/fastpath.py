"""Switch between the simulator's fast paths and the reference code they replace.

Every fast path gives bit-identical results to its reference (checked by
``tests/unit/test_render_fastpath.py``, timed by ``benchmarks/bench_render.py``); the reference stays
available so both can be timed and compared in one process:

* eSpeak voices are selected by voice file instead of by name, which skips the scan of every voice file that
  ``espeak_SetVoiceByName`` makes on each fresh library instance (:mod:`~spatialrep.simulate.sources.speech`);
* the anti-aliasing filter of :func:`spatialrep.dsp.resample` is designed once per rate pair;
* the expected decay model of a room shape (:mod:`~spatialrep.simulate.rooms`) is evaluated in cache-sized
  row blocks.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from spatialrep import dsp

REFERENCE_ENV = "SPATIALREP_RENDER_REFERENCE"
"""Set to ``1`` to start every process (dataset workers included) on the reference paths."""

_STATE = {"fast": os.environ.get(REFERENCE_ENV, "0") in ("", "0")}
if not _STATE["fast"]:
    dsp.set_filter_cache(False)


def enabled() -> bool:
    """Whether the fast paths are in use (the default)."""
    return _STATE["fast"]


@contextlib.contextmanager
def reference_path() -> Iterator[None]:
    """Run the enclosed code on the reference paths (for benchmarks and equality tests); not thread-safe."""
    previous = _STATE["fast"], dsp.filter_cache_enabled()
    _STATE["fast"] = False
    dsp.set_filter_cache(False)
    try:
        yield
    finally:
        _STATE["fast"] = previous[0]
        dsp.set_filter_cache(previous[1])
