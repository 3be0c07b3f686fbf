"""Engines and error translation: how the store talks to SQLite and PostgreSQL.

SQLite (the default, one host) runs in WAL mode so the CLI reads while the daemon writes, with a
``busy_timeout`` so a writer waits for the lock instead of failing at once, foreign keys on,
and every *write* transaction opened with ``BEGIN IMMEDIATE``: it takes the write lock up front,
so a transaction that reads then writes can never fail half-way with ``SQLITE_BUSY_SNAPSHOT``.
Reads use a plain (deferred) ``BEGIN`` and never take the write lock. A new database file is
created with mode 0600. A SQLite file on a network filesystem (NFS, SMB/CIFS, sshfs: the type
of the mount holding its folder, from ``/proc/mounts``) is refused at open: WAL keeps its index
in shared memory that only one host can see, and such filesystems' locks are unreliable, so the
database would corrupt silently. PostgreSQL gets a pre-pinged pool (it survives a server restart) and
write transactions serialise on an advisory lock, the counterpart of ``BEGIN IMMEDIATE``.

Every database error leaves the store as :class:`~detector.errors.StorageError` (or
:class:`~detector.errors.LockedError` for a lock timeout) whose message names the database
without its password or query string. Statement parameters (which may hold personal data) are
kept out of error messages with ``hide_parameters``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from detector.errors import LockedError, StorageError
from detector.storage.types import as_utc

__all__ = [
    "BUSY_TIMEOUT_S",
    "NETWORK_FILESYSTEMS",
    "SQLITE_FLAG",
    "SQLITE_UTC",
    "WRITE_OPTION",
    "create_store_engine",
    "mount_fs_type",
    "safe_url",
    "sqlite_file",
    "translate_errors",
]

BUSY_TIMEOUT_S = 10.0
"""How long a writer waits for the database lock before :class:`LockedError`."""

WRITE_OPTION = "fieldwarden_write"
"""Execution option marking a connection whose transactions write (``BEGIN IMMEDIATE``)."""

PG_WRITE_LOCK_KEY = 0x6677_7264  # "fwrd": one advisory lock per database for Fieldwarden writers

SQLITE_UTC = "fieldwarden_utc"
SQLITE_FLAG = "fieldwarden_flag"
"""sqlite3 converters for the bulk reads of ``record_run``: a result column aliased
``"first_seen [fieldwarden_utc]"`` comes back as an aware UTC datetime, one aliased
``[fieldwarden_flag]`` as a bool, decoded by the sqlite3 module as it reads the row instead of
in a second pass over 100,000 rows. Only such aliases trigger them (``PARSE_COLNAMES``), so every
other query, SQLAlchemy's included, reads as before."""


@lru_cache(maxsize=4096)  # a run's timestamps repeat: mostly its own ``now``
def _sqlite_utc(text: bytes) -> datetime:
    return as_utc(datetime.fromisoformat(text.decode()))


def _sqlite_flag(text: bytes) -> bool:
    return int(text) != 0


sqlite3.register_converter(SQLITE_UTC, _sqlite_utc)
sqlite3.register_converter(SQLITE_FLAG, _sqlite_flag)


def safe_url(url: str | URL) -> str:
    """The URL as it may appear in messages: no password, no query string."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "<unparseable database URL>"
    return parsed.set(query={}).render_as_string(hide_password=True)


def _is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def sqlite_file(url: str | URL) -> Path | None:
    """The file a SQLite URL names (None for in-memory or URI databases, or another backend)."""
    url = make_url(url) if isinstance(url, str) else url
    if not _is_sqlite(url):
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


NETWORK_FILESYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs"})
"""Mount types a SQLite database in WAL mode must not live on."""

MOUNTS = Path("/proc/mounts")


def _unescape_mount(field: str) -> str:
    r"""``/proc/mounts`` writes space, tab, newline and backslash as octal (``\040``)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mount_fs_type(folder: Path, mounts: Path = MOUNTS) -> str | None:
    """The type of the filesystem mounted at ``folder`` or its nearest mounted ancestor.

    Read from ``mounts`` (``/proc/mounts``); None where it cannot be read (not Linux).
    """
    try:
        text = mounts.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    target = os.path.realpath(folder)
    best_point, best_type = "", None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = _unescape_mount(parts[1])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best_point):  # a later mount over the same point wins
            best_point, best_type = point, parts[2]
    return best_type


def _refuse_network_filesystem(path: Path) -> None:
    fstype = mount_fs_type(path.parent)
    if fstype in NETWORK_FILESYSTEMS:
        raise StorageError(
            f"refusing to open the SQLite database {path}: its folder is on a network filesystem"
            f" ({fstype}); SQLite's WAL mode needs shared memory on one host and reliable file"
            " locks, so the database would corrupt. Put it on a local disk, or use PostgreSQL"
            " (storage: postgresql+psycopg://...)"
        )


def _create_private_file(path: Path) -> None:
    """Create a new database file readable by its owner only (SQLite copies the mode to -wal)."""
    if path.exists():
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StorageError(f"cannot create the database file {path}: {exc.strerror}") from None
    os.close(fd)
    os.chmod(path, 0o600)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module; the "begin" hook emits BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # Bigger pages suit bulk runs; only takes effect on a new, empty database file.
        cursor.execute("PRAGMA page_size = 8192")
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable across app crashes in WAL mode
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA temp_store = MEMORY")  # the per-run scratch tables
        cursor.execute("PRAGMA cache_size = -32768")  # 32 MiB: a 100k-row run fits
        # The store checkpoints on a background thread after each run (walcheckpoint.py)
        # rather than inside the commit that fills the WAL.
        cursor.execute("PRAGMA wal_autocheckpoint = 0")
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _on_postgres_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(WRITE_OPTION, False):
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(BUSY_TIMEOUT_S * 1000)}ms'")
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_WRITE_LOCK_KEY})")


def create_store_engine(url: str) -> Engine:
    """An engine configured for the store (see the module docstring)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"invalid storage URL {safe_url(url)!r}: {exc}") from None
    try:
        if _is_sqlite(parsed):
            path = sqlite_file(parsed)
            if path is not None:
                _refuse_network_filesystem(path)
                _create_private_file(path)
            engine = create_engine(
                parsed,
                hide_parameters=True,
                connect_args={"timeout": BUSY_TIMEOUT_S, "detect_types": sqlite3.PARSE_COLNAMES},
            )
            event.listen(engine, "connect", _on_sqlite_connect)
            event.listen(engine, "begin", _on_sqlite_begin)
        else:
            engine = create_engine(parsed, hide_parameters=True, pool_pre_ping=True)
            if parsed.get_backend_name() == "postgresql":
                event.listen(engine, "begin", _on_postgres_begin)
    except (ArgumentError, ImportError) as exc:
        raise StorageError(f"cannot use storage {safe_url(parsed)!r}: {exc}") from None
    return engine


def _is_lock_error(exc: DBAPIError) -> bool:
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        return "locked" in str(orig) or "busy" in str(orig)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return sqlstate == "55P03"  # lock_not_available (lock_timeout)


@contextmanager
def translate_errors(url: URL, operation: str) -> Iterator[None]:
    """Re-raise database errors as StorageError/LockedError with a password-free message."""
    try:
        yield
    except StorageError:
        raise
    except SQLAlchemyError as exc:
        reason = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)
        reason = reason.strip().splitlines()[0] if reason.strip() else type(exc).__name__
        # Keep the original as the cause for debugging, unless it would carry the password.
        cause: BaseException | None = exc
        if url.password:
            secret = str(url.password)
            reason = reason.replace(secret, "***")
            if secret in str(exc) or secret in repr(exc.args):
                cause = None
        where = safe_url(url)
        if isinstance(exc, DBAPIError) and _is_lock_error(exc):
            raise LockedError(
                f"{operation}: the storage {where} is locked by another writer "
                f"(waited {BUSY_TIMEOUT_S:g}s): {reason}"
            ) from cause
        raise StorageError(f"{operation} failed on {where}: {reason}") from cause
