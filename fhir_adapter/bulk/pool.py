"""Ordered, bounded parallel map over worker processes (the standard library's pool, used so).

``ProcessPoolExecutor.map`` submits every task at once and keeps every result until it is read;
here at most a few tasks per worker are in flight, so memory stays bounded however many tasks
there are, and results come back in task order. ``jobs=1`` runs in this process: no pool.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from fhir_adapter.errors import InputError

T = TypeVar("T")
R = TypeVar("R")

#: Tasks in flight per worker: enough to keep each busy while the parent reads a result.
IN_FLIGHT_PER_JOB = 3


def check_jobs(jobs: int) -> int:
    """``jobs`` if it is a usable process count (0 means one per CPU), else an InputError."""
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 0:
        raise InputError(
            f"must be a whole number >= 0, not {jobs!r}",
            field="--jobs",
            fix="give the number of worker processes, e.g. --jobs 2 (0: one per CPU)",
        )
    return jobs or os.cpu_count() or 1


def _context() -> multiprocessing.context.BaseContext:
    """Workers start clean (no copy of this process's threads, state or settings), the same on
    every platform: forkserver where there is one, else spawn. What a worker needs is passed."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def ordered_map(
    fn: Callable[[T], R],
    tasks: Iterable[T],
    *,
    jobs: int = 1,
    initializer: Callable[..., Any] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[R]:
    """``fn`` applied to every task, results in task order, over ``jobs`` processes.

    ``fn``, the tasks and results must pickle when ``jobs > 1``; ``initializer(*initargs)`` runs
    once in each worker (in this process when ``jobs == 1``) to build per-process state.
    """
    jobs = check_jobs(jobs)
    if jobs == 1:
        if initializer is not None:
            initializer(*initargs)
        yield from map(fn, tasks)
        return
    limit = jobs * IN_FLIGHT_PER_JOB
    with ProcessPoolExecutor(
        jobs, mp_context=_context(), initializer=initializer, initargs=initargs
    ) as pool:
        pending: deque[Future[R]] = deque()
        try:
            for task in tasks:
                pending.append(pool.submit(fn, task))
                if len(pending) >= limit:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()
