"""Timing probe for the storage bounds of the performance issue (not a test; no asserts).

    .venv/bin/python tests/storage/perf_probe.py [N] [URL]

Times, on a fresh database: a first run that opens N discrepancies (bound: < 3 s for 100,000
on SQLite), a re-run with nothing changed (bound: < 1 s), and a run that changes 1% of the
values and resolves 1% by absence.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from detector.model import Discrepancy, Kind, RunResult, Scope, Severity, SourceReport, SourceStatus
from detector.storage import RunOutcome, Store


def make(n: int, drift: int = 0) -> list[Discrepancy]:
    out = []
    for i in range(n):
        out.append(
            Discrepancy(
                kind=Kind.VALUE_MISMATCH,
                entity="product",
                key=f"SKU-{i:07d}",
                field="price",
                owner="erp",
                system="storefront",
                severity=Severity.HIGH,
                owner_value=f"{i % 1000}.99",
                system_value=f"{(i + drift) % 1000}.49" if i % 100 == 0 else f"{i % 1000}.49",
            )
        )
    return out


def run_once(
    store: Store, found: list[Discrepancy], now: datetime
) -> tuple[str, RunOutcome]:
    scope = Scope("product", "storefront", frozenset({Kind.VALUE_MISMATCH}))
    result = RunResult(
        mode="full",
        started_at=now,
        finished_at=now,
        sources=[SourceReport("storefront", "product", SourceStatus.OK, records=len(found))],
        discrepancies=found,
        scopes=[scope],
    )
    run_id = store.begin_run("full", now)
    wall, cpu = time.perf_counter(), time.process_time()
    outcome = store.record_run(run_id, result, now=now)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return f"{wall:.2f}s wall, {cpu:.2f}s CPU", outcome


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        url = sys.argv[2] if len(sys.argv) > 2 else f"sqlite:///{Path(tmp) / 'probe.db'}"
        store = Store.open(url)
        now = datetime(2026, 11, 27, 10, tzinfo=UTC)
        took, outcome = run_once(store, make(n), now)
        print(f"first run, {outcome.opened} opened: record_run {took}")
        took, outcome = run_once(store, make(n), now + timedelta(minutes=5))
        print(f"re-run, nothing changed ({len(outcome.event_ids)} events): record_run {took}")
        changed = make(n, drift=1)[: n - n // 100]
        took, outcome = run_once(store, changed, now + timedelta(minutes=10))
        print(f"re-run, 1% changed, {outcome.resolved} resolved: record_run {took}")
        store.close()


if __name__ == "__main__":
    main()
