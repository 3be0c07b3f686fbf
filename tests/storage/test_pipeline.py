"""WriteBehind: writes run in order on one thread, a failure stops the rest and is raised."""

from __future__ import annotations

import sys
import threading

import pytest

from detector.storage.pipeline import SWITCH_INTERVAL_S, WriteBehind


class RefusedError(Exception):
    pass


def test_writes_run_in_submission_order_on_one_other_thread() -> None:
    done: list[tuple[int, str]] = []
    with WriteBehind() as behind:
        for n in range(50):
            behind.submit(lambda n: done.append((n, threading.current_thread().name)), n)
        behind.drain()
        assert [n for n, _ in done] == list(range(50))
    threads = {name for _, name in done}
    assert len(threads) == 1
    assert threads != {threading.current_thread().name}


def test_drain_waits_for_a_write_still_running() -> None:
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def slow() -> None:
        started.set()
        release.wait()
        finished.append(True)

    with WriteBehind() as behind:
        behind.submit(slow)
        assert started.wait(5)
        assert finished == []
        release.set()
        behind.drain()
        assert finished == [True]


def test_after_a_failure_nothing_more_runs_and_drain_raises_the_first_error() -> None:
    ran: list[str] = []

    def refuse(what: str) -> None:
        ran.append(what)
        raise RefusedError(what)

    behind = WriteBehind()
    behind.submit(ran.append, "first")
    behind.submit(refuse, "second")
    behind.submit(refuse, "third")
    behind.submit(ran.append, "fourth")
    with pytest.raises(RefusedError, match="second"):
        behind.drain()
    assert ran == ["first", "second"]
    behind.submit(ran.append, "after")  # the transaction is lost: later writes are skipped
    behind.close()
    assert ran == ["first", "second"]


def test_the_callers_error_wins_and_the_writer_is_waited_for() -> None:
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def slow_then_refuse() -> None:
        started.set()
        release.wait()
        finished.append(True)
        raise RefusedError("queued write")

    def fail_while_writing() -> None:
        with WriteBehind() as behind:
            behind.submit(slow_then_refuse)
            assert started.wait(5)
            release.set()
            raise KeyError("caller")

    with pytest.raises(KeyError, match="caller"):
        fail_while_writing()
    assert finished == [True]  # the block did not end before the write did


def test_the_switch_interval_is_short_while_open_and_restored_after() -> None:
    before = sys.getswitchinterval()
    with WriteBehind():
        assert sys.getswitchinterval() == pytest.approx(min(before, SWITCH_INTERVAL_S))
    assert sys.getswitchinterval() == before
    behind = WriteBehind()
    behind.close()
    behind.close()  # idempotent: the interval is restored once, not overwritten
    assert sys.getswitchinterval() == before


def test_writers_open_together_restore_the_interval_once_the_last_closes() -> None:
    before = sys.getswitchinterval()
    first, second = WriteBehind(), WriteBehind()
    first.close()
    assert sys.getswitchinterval() == pytest.approx(min(before, SWITCH_INTERVAL_S))
    second.close()
    assert sys.getswitchinterval() == before
