"""Run independent tasks (dataset shards) in this process, a local process pool or a Ray cluster.

Tasks are pure functions of their argument, so where and in which order they run does not change the result;
results are yielded as tasks finish. ``local`` uses the ``spawn`` start method: forking a process that holds
library state (eSpeak, BLAS thread pools) is unsafe. Pool workers die with their parent, so a killed job
leaves no orphan writing shards.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS = ("local", "ray")


class ExecutorUnavailableError(ImportError, ValueError):
    """The executor's library is not installed (a ``ValueError`` too, so the CLI reports it in one line)."""


_PR_SET_PDEATHSIG = 1
_parent_pid: int | None = None  # set in local pool workers: the process that started them


def default_workers() -> int:
    """Worker count of the local pool when none is given: every core."""
    return os.cpu_count() or 1


def _die_with_parent() -> None:
    global _parent_pid
    _parent_pid = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (
            OSError,
            AttributeError,
        ):  # no prctl: orphans notice through orphaned() before they publish anything
            pass


def orphaned() -> bool:
    """True in a local pool worker whose parent has died (where the kernel did not kill it with its parent).

    Tasks check this before publishing a result (renaming a finished shard into place), so a killed job's
    workers leave nothing new behind even where ``PR_SET_PDEATHSIG`` is not honoured.
    """
    return _parent_pid is not None and os.getppid() != _parent_pid


def check_executor(executor: str, workers: int | None) -> None:
    """Refuse an unknown executor or a worker count below 1 (before anything is written).

    Raises:
        ValueError: naming the bad value.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a positive integer, got {workers!r}")


def run_tasks(
    fn: Callable[[T], R], tasks: Sequence[T], *, executor: str = "local", workers: int | None = None
) -> Iterator[R]:
    """Apply ``fn`` to every task, yielding results as they complete (in any order).

    Args:
        fn: a picklable (module-level) function.
        tasks: its arguments.
        executor: ``local`` (this process when ``workers == 1``, else a process pool) or ``ray`` (the
            cluster of ``RAY_ADDRESS``, or a local Ray instance with ``workers`` CPUs).
        workers: local processes (default: every core); for Ray, the CPUs of a local instance it starts.

    Raises:
        ValueError: an unknown executor or a worker count below 1.
        ExecutorUnavailableError: Ray is not installed.
        The first exception a task raises (remaining tasks are cancelled).
    """
    check_executor(executor, workers)
    if executor == "ray":
        yield from _run_ray(fn, tasks, workers)
        return
    workers = workers or default_workers()
    if workers == 1 or len(tasks) <= 1:
        for task in tasks:
            yield fn(task)
        return
    yield from _run_pool(fn, tasks, min(workers, len(tasks)))


def _run_pool(fn: Callable[[T], R], tasks: Sequence[T], workers: int) -> Iterator[R]:
    pool = cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_die_with_parent
    )
    futures = [pool.submit(fn, task) for task in tasks]
    try:
        for future in cf.as_completed(futures):
            yield future.result()
    finally:
        # On error or when the consumer stops early, drop what has not started.
        pool.shutdown(wait=True, cancel_futures=True)


def _call(fn: Callable[[Any], Any], task: Any) -> Any:
    return fn(task)


def _run_ray(fn: Callable[[T], R], tasks: Sequence[T], workers: int | None) -> Iterator[R]:
    try:
        import ray
    except ImportError as exc:
        raise ExecutorUnavailableError(
            "the ray executor needs Ray: pip install 'spatialrep[ray]' (or use --executor local)"
        ) from exc
    started = False
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        ray.init(
            address=address,
            num_cpus=None if address else (workers or default_workers()),
            include_dashboard=False,
            log_to_driver=False,
        )
        started = True
    remote = ray.remote(num_cpus=1, max_retries=2)(_call)
    pending = [remote.remote(fn, task) for task in tasks]
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                yield ray.get(done[0])
            except ray.exceptions.RayTaskError as exc:
                cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else None
                if cause is not None:
                    raise cause from None
                raise
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()
