"""Write-behind: a run's bulk inserts execute on one background thread while Python builds more.

Recording a first run of 100,000 discrepancies is two kinds of work of about the same size: Python
building rows (lifecycle steps, views, each outbox payload's JSON) and the database storing them.
Both sqlite3 and psycopg release the GIL while the database works, so handing each batch of
statements to a single writer thread lets the two overlap instead of taking turns.

The rules that keep this exactly equivalent to executing in place:

* one writer thread, so statements run in the order they were submitted;
* the caller's thread does not touch the connection while statements are pending: it calls
  :meth:`WriteBehind.drain` before any statement of its own (a read, or one that needs the rows
  written so far);
* after a statement fails, nothing more runs: the failure is raised by the next ``drain`` and
  the transaction is rolled back by its owner, as it would have been in place;
* :meth:`WriteBehind.close` waits for the writer even when the caller is already failing, so
  a rollback never races a statement still executing.

While the writer is open, the interpreter's thread switch interval is shortened (and restored
on close). A statement's work ends with the writer waiting for the GIL, which the busy caller
would otherwise keep for the default 5 ms each time: with hundreds of statements, the writer
spent more time waiting than the database spent writing.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from types import TracebackType
from typing import Any, Self

__all__ = ["WriteBehind"]

SWITCH_INTERVAL_S = 0.0002
"""The thread switch interval while a writer is open (Python's default is 0.005 s)."""


class _ShortSwitches:
    """The process's thread switch interval, shortened while any writer is open.

    The interval is global to the interpreter, so writers open at the same time (two stores in
    one process) share one shortening: the first to open saves the interval, the last to close
    restores it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = 0
        self._saved = 0.0

    def enter(self) -> None:
        with self._lock:
            if self._open == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, SWITCH_INTERVAL_S))
            self._open += 1

    def leave(self) -> None:
        with self._lock:
            self._open -= 1
            if self._open == 0:
                sys.setswitchinterval(self._saved)


_SWITCHES = _ShortSwitches()


class WriteBehind:
    """Runs submitted writes in order on one background thread; ``drain`` waits for them."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fieldwarden-write")
        self._pending: list[Future[None]] = []
        self._failed = False
        self._closed = False
        _SWITCHES.enter()

    def submit(self, write: Callable[..., None], *args: Any) -> None:
        """Queue ``write(*args)``; it runs after everything submitted before it."""
        self._pending.append(self._pool.submit(self._run, write, args))

    def _run(self, write: Callable[..., None], args: tuple[Any, ...]) -> None:
        if self._failed:
            return  # an earlier statement failed: the transaction is lost, run nothing more
        try:
            write(*args)
        except BaseException:
            self._failed = True
            raise

    def drain(self) -> None:
        """Wait until every submitted write has run; raise the first failure, if any."""
        pending, self._pending = self._pending, []
        first: BaseException | None = None
        for future in pending:
            error = future.exception()
            if error is not None and first is None:
                first = error
        if first is not None:
            raise first

    def close(self) -> None:
        """Wait for the writer and stop it (idempotent)."""
        if self._closed:
            return
        try:
            self.drain()
        finally:
            self._pool.shutdown(wait=True)
            self._closed = True
            _SWITCHES.leave()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        # Already failing: wait for the writer so the rollback cannot race it, and let the
        # original error propagate rather than a secondary one from a queued statement.
        with suppress(BaseException):  # the caller's error is the one to report
            self.close()
