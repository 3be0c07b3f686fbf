"""Two locks around the storage: one daemon per database, and one run at a time.

* **The daemon lock** (``DaemonLock``): ``fieldwarden run`` takes it at start and holds it until
  it stops; a second daemon against the same storage is refused with a message naming the
  holder. APScheduler's memory job store must never be shared, so two daemons would run every
  job twice.
* **The run lock** (``RunLock``): every run (daemon jobs and a one-off ``reconcile``) holds it
  from ``abort_stale_runs`` to the commit of its results, so runs never interleave and no run
  can mark another one's ``running`` row as aborted. It is reentrant within a thread (an
  incremental job holds it while it reads change logs and then calls ``run_once``), excludes
  other threads of the process, and other processes.

Across processes both are held by the operating system or the database, so a ``kill -9``
releases them at once:

* SQLite file: ``fcntl.flock`` on a lock file beside the database (``<db>.daemon.lock``,
  ``<db>.run.lock``); the holder writes its pid into it for the message.
* PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a dedicated
  connection, keyed by database and schema; closing the connection releases it.
* Other databases, and SQLite in memory: in-process locking only.

``detector.storage.engine`` is imported where it is used, not at the top: importing it imports
the whole storage package (the ORM models), and ``fieldwarden reconcile --help`` imports this
module for ``DEFAULT_RUN_LOCK_WAIT_S`` while it has no storage to lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import structlog
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from detector.errors import LockedError, StorageError

__all__ = [
    "DEFAULT_RUN_LOCK_WAIT_S",
    "DaemonLock",
    "RunLock",
    "run_lock",
]

log = structlog.get_logger()

DEFAULT_RUN_LOCK_WAIT_S = 120.0
"""How long a run waits for another run (daemon job or reconcile) before refusing."""

_POLL_S = 0.05


def _lock_key(purpose: str, database: str, schema: str) -> int:
    """A signed 64-bit advisory-lock key for (purpose, database, schema)."""
    digest = hashlib.blake2b(f"fieldwarden:{purpose}:{database}:{schema}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def _sqlite_path(url: URL) -> Path | None:
    """The SQLite database file the locks sit beside (absolute), or None for other backends."""
    from detector.storage.engine import sqlite_file  # noqa: PLC0415 - see the module docstring

    path = sqlite_file(url)
    return None if path is None else path.resolve()


class _OsLock:
    """The cross-process half of a lock: a flock'ed file, or a PostgreSQL advisory lock."""

    def __init__(self, url: str, purpose: str) -> None:
        from detector.storage.engine import safe_url  # noqa: PLC0415 - see the module docstring

        self._url = make_url(url)
        self._purpose = purpose
        self._where = safe_url(self._url)
        path = _sqlite_path(self._url)
        self.path = path.with_name(f"{path.name}.{purpose}.lock") if path else None
        self._file: IO[str] | None = None
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self._key: int | None = None
        self.postgres = self._url.get_backend_name() == "postgresql"

    @property
    def where(self) -> str:
        return self._where

    def try_acquire(self) -> bool:
        if self.path is not None:
            return self._try_file()
        if self.postgres:
            return self._try_postgres()
        return True

    def holder(self) -> str:
        """Who holds the lock, as far as we can tell (for messages)."""
        if self.path is not None:
            try:
                pid = self.path.read_text(encoding="utf-8").strip()
            except OSError:
                pid = ""
            return f"pid {pid}" if pid else "another process"
        if self.postgres and self._conn is not None and self._key is not None:
            unsigned = self._key & 0xFFFF_FFFF_FFFF_FFFF
            query = text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                " AND l.classid = :classid AND l.objid = :objid"
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            with contextlib.suppress(SQLAlchemyError):
                name = self._conn.execute(
                    query, {"classid": unsigned >> 32, "objid": unsigned & 0xFFFF_FFFF}
                ).scalar()
                if name:
                    return str(name)
            return "another session"
        return "another thread"

    def _try_file(self) -> bool:
        assert self.path is not None
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        except OSError as exc:
            handle.close()
            raise StorageError(f"cannot lock {self.path}: {exc.strerror}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def _try_postgres(self) -> bool:
        try:
            if self._conn is None:
                self._engine = create_engine(
                    self._url,
                    poolclass=NullPool,
                    hide_parameters=True,
                    connect_args={
                        "application_name": f"fieldwarden {self._purpose} pid {os.getpid()}"
                        f" on {socket.gethostname()}"[:63]
                    },
                )
                conn = self._engine.connect()
                conn.execution_options(isolation_level="AUTOCOMMIT")
                row = conn.execute(text("SELECT current_database(), current_schema()")).one()
                self._key = _lock_key(self._purpose, str(row[0]), str(row[1]))
                self._conn = conn
            got = self._conn.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
            ).scalar()
        except SQLAlchemyError as exc:
            self._drop_connection()
            raise StorageError(
                f"cannot take the {self._purpose} lock on {self._where}: {type(exc).__name__}"
            ) from None
        return bool(got)

    def alive(self) -> bool:
        """False when a PostgreSQL lock's session was lost (server restart): the lock is gone."""
        if self._conn is None:
            return True
        try:
            self._conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            self._drop_connection()
            return False
        return True

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.seek(0)
                self._file.truncate()
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
        self._drop_connection()

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._conn.close()
            self._conn = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


class DaemonLock:
    """One ``fieldwarden run`` per storage. ``acquire`` refuses at once when another holds it."""

    def __init__(self, url: str) -> None:
        self._lock = _OsLock(url, "daemon")
        self._held = False

    def acquire(self) -> None:
        if not self._lock.try_acquire():
            holder = self._lock.holder()
            self._lock.release()
            raise LockedError(
                f"another fieldwarden daemon ({holder}) is already running against "
                f"the storage {self._lock.where}; only one daemon may run per database. "
                "Stop it first, or point this one at another storage."
            )
        self._held = True
        log.info(
            "daemon_lock_acquired", storage=self._lock.where, lock_file=str(self._lock.path or "")
        )

    def ensure(self) -> None:
        """Re-take a lock lost with its PostgreSQL session; refuse if another daemon took it."""
        if self._held and not self._lock.alive():
            log.warning("daemon_lock_lost", storage=self._lock.where)
            self._held = False
            self.acquire()

    def release(self) -> None:
        if self._held:
            self._lock.release()
            self._held = False

    def __enter__(self) -> DaemonLock:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


class RunLock:
    """One run at a time per storage; reentrant within a thread. Get it with :func:`run_lock`."""

    def __init__(self, url: str) -> None:
        self._os = _OsLock(url, "run")
        self._thread_lock = threading.RLock()
        self._depth = 0

    @contextlib.contextmanager
    def hold(
        self, wait: float = DEFAULT_RUN_LOCK_WAIT_S, *, purpose: str = "run"
    ) -> Iterator[None]:
        """Hold the lock, waiting at most ``wait`` seconds; raises ``LockedError`` after that."""
        deadline = time.monotonic() + max(wait, 0.0)
        if not self._thread_lock.acquire(timeout=max(wait, 0.0)):
            raise self._busy(wait, "another run of this process")
        try:
            if self._depth == 0:
                waited = False
                while not self._os.try_acquire():
                    if not waited:
                        log.info("run_lock_waiting", storage=self._os.where, purpose=purpose)
                        waited = True
                    if time.monotonic() >= deadline:
                        holder = self._os.holder()
                        self._os.release()
                        raise self._busy(wait, holder)
                    time.sleep(_POLL_S)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._os.release()
        finally:
            self._thread_lock.release()

    def _busy(self, wait: float, holder: str) -> LockedError:
        return LockedError(
            f"another run ({holder}; a daemon job or a reconcile) is using the storage "
            f"{self._os.where}; waited {wait:g}s for it to finish. Try again later, or wait "
            "longer with --lock-wait."
        )


_RUN_LOCKS: dict[str, RunLock] = {}
_RUN_LOCKS_GUARD = threading.Lock()


def run_lock(url: str) -> RunLock:
    """The process-wide run lock of the storage at ``url``."""
    parsed = make_url(url)
    path = _sqlite_path(parsed)
    identity = str(path) if path is not None else parsed.render_as_string(hide_password=True)
    with _RUN_LOCKS_GUARD:
        lock = _RUN_LOCKS.get(identity)
        if lock is None:
            lock = _RUN_LOCKS[identity] = RunLock(url)
        return lock
