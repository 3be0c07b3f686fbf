"""One daemon per storage; one run at a time, shared by daemon jobs and ``reconcile``."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from detector.cli import main
from detector.config import load_config
from detector.errors import LockedError
from detector.locking import DaemonLock, run_lock


def test_a_second_daemon_lock_on_the_same_storage_is_refused(stack: Path) -> None:
    url = load_config(stack).storage_url
    with (
        DaemonLock(url),
        pytest.raises(LockedError, match=r"another fieldwarden daemon \(.*pid \d+"),
    ):
        DaemonLock(url).acquire()
    with DaemonLock(url):  # released: the next one may start
        pass


def test_the_run_lock_is_reentrant_in_a_thread_and_excludes_others(stack: Path) -> None:
    lock = run_lock(load_config(stack).storage_url)
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with lock.hold(0.2):
                pass
        except LockedError as exc:
            errors.append(exc)

    with lock.hold(1), lock.hold(1):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(errors) == 1
    assert "another run" in str(errors[0])
    with lock.hold(0.2):  # free again
        pass


def _hold_from_another_thread(url: str, seconds: float) -> threading.Event:
    held = threading.Event()

    def hold() -> None:
        with run_lock(url).hold(5):
            held.set()
            time.sleep(seconds)

    threading.Thread(target=hold, daemon=True).start()
    assert held.wait(5)
    return held


def test_reconcile_refuses_clearly_while_a_run_holds_the_storage(stack: Path) -> None:
    _hold_from_another_thread(load_config(stack).storage_url, 2.0)
    result = CliRunner().invoke(main, ["reconcile", "-c", str(stack), "--lock-wait", "0.3s"])
    assert result.exit_code == 4
    assert "another run" in result.output
    assert "waited 0.3s" in result.output


def test_reconcile_waits_for_a_running_job_then_runs(stack: Path) -> None:
    _hold_from_another_thread(load_config(stack).storage_url, 0.5)
    started = time.monotonic()
    result = CliRunner().invoke(main, ["reconcile", "-c", str(stack), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 0.3
