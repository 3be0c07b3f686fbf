"""Timing probe for the storage bounds of the performance issue (not a test; no asserts).

    .venv/bin/python tests/storage/perf_probe.py [N] [URL] [--repeat K]

On a fresh database each time (K times, default 3; the best and the median are printed, with
CPU time too, since a shared machine inflates wall time), it times ``record_run`` for:

1. a first run that opens N discrepancies (bound: < 3 s for 100,000 on SQLite);
2. a re-run with nothing changed, which only moves last_seen (bound: < 1 s);
3. a re-run where 1% of the values changed and 1% are no longer found (resolved).

Building the inputs and ``begin_run`` are outside the timings.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from detector.model import Discrepancy, Kind, RunResult, Scope, Severity, SourceReport, SourceStatus
from detector.storage import Store

T0 = datetime(2026, 11, 27, 10, tzinfo=UTC)
SCOPE = Scope("product", "storefront", frozenset({Kind.VALUE_MISMATCH}))


def make(n: int, drift: bool = False) -> list[Discrepancy]:
    return [
        Discrepancy(
            kind=Kind.VALUE_MISMATCH,
            entity="product",
            key=f"SKU-{i:07d}",
            field="price",
            owner="erp",
            system="storefront",
            severity=Severity.HIGH,
            owner_value=f"{i % 1000}.99",
            system_value=f"{i % 1000}.{'59' if drift and i % 100 == 0 else '49'}",
        )
        for i in range(n)
    ]


def timed_run(store: Store, found: list[Discrepancy], now: datetime) -> tuple[float, float]:
    result = RunResult(
        mode="full",
        started_at=now,
        finished_at=now,
        sources=[SourceReport("storefront", "product", SourceStatus.OK, records=len(found))],
        discrepancies=found,
        scopes=[SCOPE],
    )
    run_id = store.begin_run("full", now)
    wall, cpu = time.perf_counter(), time.process_time()
    store.record_run(run_id, result, now=now)
    return time.perf_counter() - wall, time.process_time() - cpu


def one_round(url: str, n: int) -> list[tuple[float, float]]:
    with Store.open(url) as store:
        first = timed_run(store, make(n), T0)
        same = timed_run(store, make(n), T0 + timedelta(minutes=5))
        changed = timed_run(store, make(n, drift=True)[: n - n // 100], T0 + timedelta(minutes=10))
    return [first, same, changed]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=100_000)
    parser.add_argument("url", nargs="?")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rounds = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            url = args.url or f"sqlite:///{Path(tmp) / 'probe.db'}"
            rounds.append(one_round(url, args.n))
            if args.url:
                print("note: a given URL is reused; use a fresh database for each round")
                break
    labels = [
        f"first run, {args.n} opened",
        "re-run, nothing changed (last_seen only)",
        "re-run, 1% changed, 1% resolved",
    ]
    for i, label in enumerate(labels):
        walls = [r[i][0] for r in rounds]
        cpus = [r[i][1] for r in rounds]
        print(
            f"{label:42s} wall best {min(walls):.2f}s median {statistics.median(walls):.2f}s"
            f" | CPU best {min(cpus):.2f}s median {statistics.median(cpus):.2f}s"
        )


if __name__ == "__main__":
    main()
