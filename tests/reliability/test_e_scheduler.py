"""E. Scheduler (plan scenarios 21, 25, 26): the daemon (``fieldwarden run``) as real processes.

Runs only where ``detector.daemon`` exists. Each daemon is ``python -m detector run`` with a
schedule whose full job starts at once (catch-up), stderr to a file that the test polls.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from detector.storage import Store
from tests.reliability import results
from tests.reliability.conftest import Sweep
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
