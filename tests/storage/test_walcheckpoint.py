"""SQLite: a recorded run reaches the database file by a background checkpoint, not in the commit."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from detector.storage import Store
from detector.storage.walcheckpoint import WalCheckpointer
from tests.storage.conftest import Runner, mismatch


@pytest.fixture
def sqlite_runner(tmp_path: Path) -> Iterator[tuple[Runner, Path]]:
    path = tmp_path / "fieldwarden.db"
    store = Store.open(f"sqlite:///{path}")
    try:
        yield Runner(store), path
    finally:
        store.close()


def _rows_in_database_file(path: Path) -> int:
    """Discrepancies in the main database file alone, ignoring the WAL (``immutable``)."""
    with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM discrepancies").fetchone()[0])


def test_commits_leave_the_checkpoint_to_the_store(sqlite_runner: tuple[Runner, Path]) -> None:
    runner, _ = sqlite_runner
    with runner.store._engine.connect() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 0


def test_a_recorded_run_is_checkpointed_into_the_database_file(
    sqlite_runner: tuple[Runner, Path],
) -> None:
    runner, path = sqlite_runner
    runner.run([mismatch(f"SKU-{n}") for n in range(300)])
    wal = runner.store._wal
    assert wal is not None
    wal.wait()
    assert _rows_in_database_file(path) == 300


def test_close_waits_for_the_checkpoint_and_removes_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "fieldwarden.db"
    store = Store.open(f"sqlite:///{path}")
    Runner(store).run([mismatch(f"SKU-{n}") for n in range(300)])
    store.close()
    assert not Path(f"{path}-wal").exists()
    assert _rows_in_database_file(path) == 300


def test_a_failed_checkpoint_is_logged_not_raised(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'fieldwarden.db'}")
    try:
        broken = WalCheckpointer(store._engine)
        store._engine.dispose()
        (tmp_path / "fieldwarden.db").unlink()
        (tmp_path / "fieldwarden.db").mkdir()  # no database can be opened there any more
        with capture_logs() as logs:
            broken.start()
            broken.wait()  # returns: the failure went to the log
        assert [entry["event"] for entry in logs] == ["wal_checkpoint_failed"]
    finally:
        store.close()
