"""Storage at scale: ``Store.record_run`` with 100,000 discrepancies on SQLite.

``python -m bench.storage_bench DB_PATH [--n 100000]`` prints one JSON object:

* ``first_commit_s``: a first run that opens ``n`` discrepancies (value and record kinds);
* ``unchanged_s``: the same findings again (nothing changed: only ``last_seen`` moves);
* ``churn_s``: a third run where 1% resolved and 1% new ones opened;

each the wall time of ``record_run`` alone (one transaction, committed), with the outcome's
opened/resolved counts as a check that the store did what was asked.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from detector.model import (
    RECORD_KINDS,
    VALUE_KINDS,
    Discrepancy,
    Kind,
    RunResult,
    Scope,
    Severity,
    SourceReport,
    SourceStatus,
)
from detector.storage import Store

__all__ = ["findings", "main", "measure"]

_FIELDS = ("price", "cost", "stock", "title", "description")


def findings(n: int, offset: int = 0) -> list[Discrepancy]:
    """``n`` synthetic discrepancies: 90% value_mismatch over five fields, 10% missing_in_reader."""
    items: list[Discrepancy] = []
    for i in range(offset, offset + n):
        key = f"SKU-{i:07d}"
        if i % 10 == 9:
            items.append(
                Discrepancy(
                    Kind.MISSING_IN_READER, "product", key, None, "erp", "storefront", Severity.HIGH
                )
            )
            continue
        items.append(
            Discrepancy(
                Kind.VALUE_MISMATCH,
                "product",
                key,
                _FIELDS[i % len(_FIELDS)],
                "erp",
                "storefront",
                Severity.HIGH,
                owner_value=f"{i % 1000}.99",
                system_value=f"{i % 1000}.49",
            )
        )
    return items


def _result(at: datetime, found: list[Discrepancy]) -> RunResult:
    sources = [
        SourceReport("erp", "product", SourceStatus.OK, records=1_000_000),
        SourceReport("storefront", "product", SourceStatus.OK, records=1_000_000),
    ]
    scopes = [
        Scope("product", "storefront", frozenset(VALUE_KINDS), None, "erp", frozenset(_FIELDS)),
        Scope("product", "storefront", frozenset(RECORD_KINDS), None, "erp"),
    ]
    return RunResult(
        mode="full",
        started_at=at,
        finished_at=at,
        sources=sources,
        discrepancies=found,
        scopes=scopes,
        records=2_000_000,
        values_compared=5_000_000,
    )


def _record(store: Store, at: datetime, found: list[Discrepancy]) -> dict[str, Any]:
    run_id = store.begin_run("full", at)
    result = _result(at, found)
    started = time.perf_counter()
    outcome = store.record_run(run_id, result, now=at)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "opened": outcome.opened, "resolved": outcome.resolved}


def measure(db: Path, n: int = 100_000) -> dict[str, Any]:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = Store.open(f"sqlite:///{db}")
    try:
        t0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
        first = _record(store, t0, findings(n))
        unchanged = _record(store, t0 + timedelta(minutes=10), findings(n))
        churned = findings(n, offset=n // 100)  # 1% resolved at the start, 1% new at the end
        churn = _record(store, t0 + timedelta(minutes=20), churned)
    finally:
        store.close()
    return {
        "n": n,
        "first_commit_s": first["seconds"],
        "first_opened": first["opened"],
        "unchanged_s": unchanged["seconds"],
        "unchanged_opened": unchanged["opened"],
        "unchanged_resolved": unchanged["resolved"],
        "churn_s": churn["seconds"],
        "churn_opened": churn["opened"],
        "churn_resolved": churn["resolved"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.db, args.n)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
