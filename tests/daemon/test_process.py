"""``fieldwarden run`` as a real process: schedule, detection, resolution, locks, clean stop, crash."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from detector.cli import main
from detector.storage import DiscrepancyFilter, Store
from detector.storage.store import CRASH_ENV
from tests.daemon.conftest import DaemonProcess, open_store, wait_until
from tests.daemon.stack import STOREFRONT_ROWS, write_changes, write_storefront

DISCREPANCIES_CLI = "discrepancies" in main.commands


def _open(config: Path) -> list[dict[str, Any]]:
    """What is wrong right now, through ``fieldwarden discrepancies`` once that command exists."""
    if DISCREPANCIES_CLI:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "detector",
                "discrepancies",
                "-c",
                str(config),
                "--format",
                "json",
            ],
            cwd=config.parent,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode in (0, 1), done.stderr
        assert "database is locked" not in done.stderr
        items: list[dict[str, Any]] = json.loads(done.stdout)
        return items
    with open_store(config) as store:
        return [d.to_json() for d in store.discrepancies(DiscrepancyFilter(status="open"))]


def _mismatch_on_b(store: Store) -> bool:
    return any(
        d.kind == "value_mismatch" and d.key == "B" and d.field == "price"
        for d in store.discrepancies(DiscrepancyFilter(status="open"))
    )


def _runs(store: Store) -> list[Any]:
    return store.runs(limit=None)


def test_daemon_detects_resolves_refuses_a_twin_and_stops_cleanly(
    stack: Path, start_daemon: Any
) -> None:
    daemon: DaemonProcess = start_daemon(stack)
    with open_store(stack) as store:
        wait_until(
            lambda: {r.mode for r in _runs(store) if r.status == "ok"} >= {"full"},
            "a first full run",
            log=lambda: daemon.log,
        )
        assert not store.discrepancies(DiscrepancyFilter(status="open"))

        twin = start_daemon(stack)
        assert twin.proc.wait(timeout=30) != 0
        assert "another fieldwarden daemon" in twin.log
        assert "already running" in twin.log

        broken = [dict(r, price="18.99") if r["sku"] == "B" else r for r in STOREFRONT_ROWS]
        write_storefront(stack.parent, broken)
        wait_until(lambda: _mismatch_on_b(store), "the mismatch to open", log=lambda: daemon.log)
        seen = _open(stack)  # the CLI reads while the daemon keeps writing
        assert any(d["kind"] == "value_mismatch" and d["key"] == "B" for d in seen)

        alert_log = stack.parent / "alerts.jsonl"
        wait_until(  # the dispatch job delivers the outbox
            lambda: alert_log.exists() and '"opened"' in alert_log.read_text(encoding="utf-8"),
            "the opened alert in the alert log",
            log=lambda: daemon.log,
        )

        write_storefront(stack.parent, STOREFRONT_ROWS)
        wait_until(
            lambda: not _mismatch_on_b(store), "the mismatch to resolve", log=lambda: daemon.log
        )
        assert not [d for d in _open(stack) if d["key"] == "B"]

        assert daemon.stop(signal.SIGTERM) == 0
        runs = _runs(store)
        assert runs
        assert not [r for r in runs if r.status == "running"]
        assert {r.mode for r in runs} >= {"full", "incremental"}
    log = daemon.log
    assert "daemon_stopped" in log
    assert "database is locked" not in log
    assert "job_failed" not in log


def test_kill_mid_run_leaves_no_half_written_run_and_keeps_the_cursor(
    stack: Path, start_daemon: Any
) -> None:
    root = stack.parent
    # nightly full runs: after the first one, every run the daemons record is incremental
    stack.write_text(
        stack.read_text().replace("full: {every: 1s}", 'full: {cron: "0 2 * * *"}'), "utf-8"
    )
    write_changes(
        root,
        [
            {
                "sku": "A",
                "field": "price",
                "changed_at": "2026-01-01T10:00:00Z",
                "changed_by": "erp-sync",
                "old_value": "9",
                "new_value": "10.00",
            }
        ],
    )
    first = start_daemon(stack)
    with open_store(stack) as store:
        wait_until(
            lambda: store.cursor("storefront", "product") is not None,
            "the first cursor",
            log=lambda: first.log,
        )
        assert first.stop() == 0
        cursor = store.cursor("storefront", "product")
        runs_before = {r.id for r in _runs(store)}

        write_changes(
            root,
            [
                {
                    "sku": "A",
                    "field": "price",
                    "changed_at": "2026-01-01T10:00:00Z",
                    "changed_by": "erp-sync",
                    "old_value": "9",
                    "new_value": "10.00",
                },
                {
                    "sku": "B",
                    "field": "price",
                    "changed_at": "2026-02-01T10:00:00Z",
                    "changed_by": "jane",
                    "old_value": "20.00",
                    "new_value": "18.99",
                },
            ],
        )
        write_storefront(
            root, [dict(r, price="18.99") if r["sku"] == "B" else r for r in STOREFRONT_ROWS]
        )
        crashing = start_daemon(stack, {CRASH_ENV: "record_run.discrepancies"})
        assert crashing.proc.wait(timeout=30) == 137  # os._exit(137): what kill -9 leaves

        new = [r for r in _runs(store) if r.id not in runs_before]
        assert [(r.mode, r.status) for r in new] == [("incremental", "running")]  # never recorded
        assert new[0].sources == ()  # nothing of it was written
        assert store.cursor("storefront", "product") == cursor
        assert not _mismatch_on_b(store)

        again = start_daemon(stack)
        wait_until(lambda: _mismatch_on_b(store), "the rerun to find it", log=lambda: again.log)
        wait_until(
            lambda: store.cursor("storefront", "product") != cursor,
            "the cursor to advance",
            log=lambda: again.log,
        )
        assert again.stop() == 0
        statuses = {r.id: r.status for r in _runs(store)}
        assert statuses[new[0].id] == "aborted"
        assert "running" not in statuses.values()
        assert store.cursor("storefront", "product") == "2026-02-01T10:00:00+00:00"
        writes = store.discrepancies(DiscrepancyFilter(status="all", kinds=("non_owner_write",)))
        assert [(d.key, d.writer) for d in writes] == [("B", "jane")]  # once, despite re-reads
