"""Running independent pieces of a reconciliation side by side, results in their given order.

The engine's work is chains of polars operations, each of which releases the GIL but runs
mostly on one core. Threads keep every core busy without copying frames between processes;
the result order never depends on which job finished first, so output stays deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import polars as pl

__all__ = ["in_parallel"]

J = TypeVar("J")
R = TypeVar("R")


def in_parallel(
    work: Callable[[J], R], jobs: Sequence[J], *, cost: Callable[[J], int] | None = None
) -> list[R]:
    """``work`` for every job on as many threads as polars has cores; results in job order.

    With ``cost``, the costliest jobs start first, so no long job is left to run alone at the
    end. A job's exception is raised here, as if the jobs had run one after the other.
    """
    workers = min(len(jobs), pl.thread_pool_size())
    if workers < 2:
        return [work(job) for job in jobs]
    order = list(range(len(jobs)))
    if cost is not None:
        order.sort(key=lambda n: -cost(jobs[n]))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fieldwarden-engine") as pool:
        done = dict(zip(order, pool.map(work, [jobs[n] for n in order]), strict=True))
    return [done[n] for n in range(len(jobs))]
