"""Checkpointing SQLite's write-ahead log on a background thread, after a run's commit.

By default, the commit that grows the WAL past 1,000 pages also copies the whole WAL into the
database file (a checkpoint) before returning. A run of 100,000 discrepancies writes about
50 MB of WAL, and that copy is a seventh of a second inside ``record_run``, with nothing else
to do meanwhile. So the store's SQLite connections run with ``wal_autocheckpoint = 0``
(``engine.py``) and the store checkpoints explicitly instead:

* after each recorded run, :meth:`WalCheckpointer.start` runs a ``PASSIVE`` checkpoint on a
  connection of its own, while the caller goes on (rendering the report, delivering alerts);
  a passive checkpoint never blocks or waits for readers and writers;
* :meth:`WalCheckpointer.wait` (called by ``Store.close``) waits for it, and SQLite's close of
  the last connection to the database checkpoints whatever is left and removes the WAL, as it
  always did.

A checkpoint that fails is logged and left to the next one: it loses nothing, since committed
transactions are durable in the WAL itself.
"""

from __future__ import annotations

import threading

import structlog
from sqlalchemy.engine import Engine

__all__ = ["WalCheckpointer"]

log = structlog.get_logger()


class WalCheckpointer:
    """At most one background ``PRAGMA wal_checkpoint(PASSIVE)`` at a time, on ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Checkpoint in the background (after any checkpoint still running)."""
        self.wait()
        self._thread = threading.Thread(
            target=self._checkpoint, name="fieldwarden-wal-checkpoint", daemon=True
        )
        self._thread.start()

    def wait(self) -> None:
        """Return once no checkpoint is running."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _checkpoint(self) -> None:
        try:
            # The driver's own connection, outside any transaction: a checkpoint inside a read
            # transaction could not copy pages newer than that transaction's snapshot.
            raw = self._engine.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").close()  # type: ignore[union-attr]
            finally:
                raw.close()
        except Exception as exc:
            log.warning("wal_checkpoint_failed", error=str(exc))
