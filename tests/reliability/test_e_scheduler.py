"""E. Scheduler (plan scenarios 21, 23-26): the daemon (``fieldwarden run``) as real processes.

Runs only where ``detector.daemon`` exists. Each daemon is ``python -m detector run`` with a
schedule whose full job starts at once (catch-up), stderr to a file that the test polls.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from detector.storage import Store
from tests.reliability import results
from tests.reliability.conftest import Sweep, log_events
from tests.reliability.faultserver import Reply, Seen
from tests.reliability.harness import Stack

pytest.importorskip("detector.daemon")
ROOT = Path(__file__).resolve().parents[2]


def _wait_for(path: Path, needle: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and needle in path.read_text(encoding="utf-8", errors="replace"):
            return True
        time.sleep(0.05)
    return False


@contextmanager
def daemon(stack: Stack, sweep: Sweep, name: str) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    log = stack.root / f"{name}.stderr"
    with log.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "detector", "run", "-c", str(stack.path), "--shutdown-timeout", "10s"],
            cwd=ROOT, env=stack.env(), stdout=subprocess.DEVNULL, stderr=err,
        )
    try:
        yield process, log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        sweep.add(f"{name} stderr", log.read_text(encoding="utf-8", errors="replace"))


def _scheduled(stack: Stack) -> Stack:
    stack.schedule = {"full": {"every": "1h"}}  # no full run yet: one starts at once
    stack.write()
    return stack


def _slow(stack: Stack, seconds: float) -> None:
    rows = stack.shop

    def handle(_request: Seen) -> Reply:
        return Reply(200, {"data": rows}, delay=seconds)

    stack.server.handler = handle


def test_21_sigterm_during_a_run_stops_cleanly_with_exit_0(stack: Stack, sweep: Sweep) -> None:
    _scheduled(stack)
    _slow(stack, 2.0)
    stack.shop_options["timeout"] = 10
    stack.write()
    with daemon(stack, sweep, "daemon") as (process, log):
        assert _wait_for(log, "job_started"), log.read_text()
        deadline = time.monotonic() + 30
        while not stack.server.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        stopped_in = time.monotonic() - started
    with Store.open(stack.config().storage_url) as store:
        store.abort_stale_runs()
        statuses = [r.status for r in store.runs(limit=None)]
    ok = code == 0 and stopped_in < 15 and "running" not in statuses and all(s in ("ok", "partial", "aborted") for s in statuses)
    results.fault("E", 21, "SIGTERM during a run", survived=ok, seconds=round(stopped_in, 2), statuses=statuses)
    assert code == 0, log.read_text()[-2000:]
    assert stopped_in < 15
    assert ok, statuses


def test_25_a_second_daemon_on_the_same_database_refuses_to_start(stack: Stack, sweep: Sweep) -> None:
    _scheduled(stack)
    with daemon(stack, sweep, "first") as (first, first_log):
        assert _wait_for(first_log, "daemon_started"), first_log.read_text()
        with daemon(stack, sweep, "second") as (second, second_log):
            code = second.wait(timeout=60)
            message = second_log.read_text(encoding="utf-8", errors="replace")
        alive = first.poll() is None
    ok = code != 0 and "another fieldwarden daemon" in message and alive
    results.fault("E", 25, "second daemon on the same database", survived=ok, rc=code)
    assert ok, (code, message[-1000:])


TICKER = textwrap.dedent(
    """
    import os, sys
    from detector.locking import run_lock
    url, marker, ticks = sys.argv[1], sys.argv[2], int(sys.argv[3])
    duplicates = 0
    for _ in range(ticks):
        with run_lock(url).hold(60):
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                duplicates += 1
                continue
            os.close(fd)
            os.unlink(marker)
    print(duplicates)
    """
)


def test_25_two_processes_by_a_thousand_ticks_never_run_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fw.db'}"
    Store.open(url).close()
    marker = tmp_path / "executing"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TICKER, url, str(marker), "1000"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    duplicates = sum(int((out.strip().splitlines() or ["0"])[-1]) for out, _err in outputs)
    ok = all(p.returncode == 0 for p in procs) and duplicates == 0
    results.record("duplicate_executions", count=duplicates, ticks=2000)
    results.fault("E", 25, "2 processes x 1000 ticks on the run lock", survived=ok)
    assert ok, outputs


@pytest.mark.slow
def test_26_a_one_off_reconcile_while_the_daemon_runs_waits_or_refuses_clearly(stack: Stack, sweep: Sweep) -> None:
    _scheduled(stack)
    _slow(stack, 3.0)
    stack.shop_options["timeout"] = 10
    stack.write()
    with daemon(stack, sweep, "daemon") as (_process, log):
        assert _wait_for(log, "job_started"), log.read_text()
        done = subprocess.run(
            [sys.executable, "-m", "detector", "reconcile", "-c", str(stack.path), "--lock-wait", "1s", "--format", "json"],
            cwd=ROOT, env=stack.env(), capture_output=True, text=True, timeout=120, check=False,
        )
    sweep.add("reconcile stdout", done.stdout)
    sweep.add("reconcile stderr", done.stderr)
    refused = done.returncode == 4 and "another run" in done.stderr
    waited = done.returncode in (0, 1, 3)
    results.fault("E", 26, "reconcile while the daemon runs", survived=refused or waited, rc=done.returncode)
    assert refused or waited, (done.returncode, done.stderr[-1000:])
    assert "Traceback" not in done.stderr


# -- 23/24. missed and overlapping runs, through the daemon's own APScheduler ------------------
#
# The scheduler is the one ``Daemon._build_scheduler`` builds (coalesce, max_instances=1, the
# daemon's misfire grace), started in a thread; ``Daemon._execute`` is replaced by a recorder so
# that what is measured is the scheduling, not the runs. "Down" is the scheduler not getting to
# a job for a while (a suspended host): its next run time is moved into the past.


@contextmanager
def _scheduler(stack: Stack, execute: Any) -> Iterator[Any]:
    from detector.config import load_config  # noqa: PLC0415
    from detector.daemon import Daemon  # noqa: PLC0415

    daemon = Daemon(load_config(stack.path), install_signals=False, timezone=UTC)
    if execute is not None:
        daemon._execute = execute  # type: ignore[method-assign]
    daemon._lock.acquire()
    daemon._store = Store.open(stack.config().storage_url)
    daemon.scheduler = daemon._build_scheduler()
    thread = threading.Thread(target=daemon.scheduler.start, daemon=True)
    thread.start()
    try:
        yield daemon
    finally:
        daemon.scheduler.shutdown(wait=True)
        thread.join(timeout=10)
        daemon._store.close()
        daemon._lock.release()


def _until(check: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return bool(check())


def _quiet_schedule(stack: Stack, full: dict[str, str]) -> None:
    stack.schedule = {"full": full, "incremental": {"every": "1h"}, "dispatch": {"every": "1h"}}
    stack.write()


def test_23_restart_after_three_missed_full_runs_catches_up_once(stack: Stack, logbuf: Any) -> None:
    """Down for 3 periods (last full run 3 h ago, every 1h): one catch-up run at start, not 3."""
    _quiet_schedule(stack, {"every": "1h"})
    three_ago = datetime.now(UTC) - timedelta(hours=3, minutes=1)
    stack.run(now=lambda: three_ago)
    calls: list[str] = []

    def execute(plan: Any) -> str:
        calls.append(plan.id)
        return "ok"

    with _scheduler(stack, execute) as daemon:
        _until(lambda: "full" in calls)
        time.sleep(0.5)  # a second (coalesced-away) run would be submitted at once
        next_full = daemon.scheduler.get_job("full").next_run_time
    full_runs = calls.count("full")
    caught_up = any(e.get("event") == "full_catch_up" for e in log_events(logbuf))
    ok = full_runs == 1 and caught_up and next_full > datetime.now(UTC) + timedelta(minutes=50)
    results.record("duplicate_executions", count=max(full_runs - 1, 0), ticks=3)
    results.fault("E", 23, "restart after 3 missed intervals: one catch-up", survived=ok, runs=full_runs)
    assert ok, (calls, caught_up, next_full)


def test_23_suspended_three_intervals_within_grace_runs_once_coalesced(stack: Stack, logbuf: Any) -> None:
    """An interval job 3 periods late: its newest missed time is within grace: exactly one run."""
    _quiet_schedule(stack, {"every": "20s"})
    stack.run()  # a recent full run: no start-up catch-up
    calls: list[str] = []

    def execute(plan: Any) -> str:
        calls.append(plan.id)
        return "ok"

    with _scheduler(stack, execute) as daemon:
        _until(lambda: calls.count("incremental:product") >= 1)
        before = calls.count("full")
        daemon.scheduler.modify_job("full", next_run_time=datetime.now(UTC) - timedelta(seconds=61))
        _until(lambda: calls.count("full") > before)
        time.sleep(0.5)
    runs = calls.count("full") - before
    missed = [e for e in log_events(logbuf) if e.get("event") == "job_missed"]
    ok = runs == 1 and not missed
    results.record("duplicate_executions", count=max(runs - 1, 0), ticks=3)
    results.fault("E", 23, "suspended 3 intervals within grace: one coalesced run", survived=ok, runs=runs)
    assert ok, (calls, missed)


def test_23_suspended_past_the_grace_time_is_logged_missed_not_run(stack: Stack, logbuf: Any) -> None:
    """A nightly cron job whose last due time is 3 h old (grace 1 h): ``job_missed``, no run."""
    due = datetime.now(UTC) - timedelta(hours=3)
    _quiet_schedule(stack, {"cron": f"{due.minute} {due.hour} * * *"})
    stack.run()
    calls: list[str] = []

    def execute(plan: Any) -> str:
        calls.append(plan.id)
        return "ok"

    with _scheduler(stack, execute) as daemon:
        _until(lambda: "incremental:product" in calls)
        daemon.scheduler.modify_job("full", next_run_time=due - timedelta(days=3))
        _until(lambda: any(e.get("event") == "job_missed" for e in log_events(logbuf)))
        time.sleep(0.3)
        next_full = daemon.scheduler.get_job("full").next_run_time
    missed = [e for e in log_events(logbuf) if e.get("event") == "job_missed"]
    ok = (
        "full" not in calls
        and [e.get("job") for e in missed] == ["full"]
        and next_full > datetime.now(UTC)
    )
    results.fault("E", 23, "suspended past the grace time: job_missed", survived=ok, missed=len(missed))
    assert ok, (calls, missed, next_full)


def test_24_a_run_longer_than_its_interval_skips_the_next_and_logs_it(stack: Stack, logbuf: Any) -> None:
    _quiet_schedule(stack, {"every": "1s"})
    stack.run()
    calls: list[str] = []
    running = [0]
    overlap = [0]
    guard = threading.Lock()

    def execute(plan: Any) -> str:
        with guard:
            running[0] += 1
            overlap[0] = max(overlap[0], running[0])
        calls.append(plan.id)
        if plan.id == "full":
            time.sleep(2.6)  # longer than two intervals
        with guard:
            running[0] -= 1
        return "ok"

    with _scheduler(stack, execute):
        _until(lambda: any(e.get("event") == "job_skipped" for e in log_events(logbuf)), timeout=6)
        _until(lambda: calls.count("full") >= 2, timeout=6)
    skipped = [e for e in log_events(logbuf) if e.get("event") == "job_skipped"]
    ok = (
        bool(skipped)
        and all(e.get("job") == "full" and e.get("reason") == "previous run still running" for e in skipped)
        and overlap[0] == 1
    )
    results.record("duplicate_executions", count=overlap[0] - 1, ticks=len(calls))
    results.fault("E", 24, "run longer than its interval: next skipped", survived=ok, skipped=len(skipped))
    assert ok, (calls, skipped, overlap)
