"""Migrations, connection settings, file mode, locking and error messages."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection

from detector.errors import LockedError, StorageError
from detector.storage import Store
from detector.storage import engine as engine_module
from detector.storage.migrate import SCHEMA_HEAD, VERSION_TABLE, alembic_config, head_revision
from detector.storage.models import metadata
from tests.storage.conftest import T0, Runner, mismatch

TABLES = {
    "runs",
    "run_sources",
    "discrepancies",
    "alert_events",
    "alert_deliveries",
    "cursors",
    "observed_changes",
    "record_hashes",
}


def test_migrations_create_the_schema_on_an_empty_database(store_url: str) -> None:
    with Store.open(store_url) as store:
        assert store.schema_revision() == head_revision()
    engine = create_engine(store_url)
    try:
        assert TABLES | {VERSION_TABLE} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_are_idempotent_and_keep_data(store_url: str) -> None:
    with Store.open(store_url) as store:
        Runner(store).run([mismatch("SKU-1")])
    with Store.open(store_url) as store:
        before, head = store.migrate()
        assert before == head == head_revision()
        assert [d.key for d in store.discrepancies()] == ["SKU-1"]


def _schema(conn: Connection) -> dict[str, Any]:
    """Everything the inspector reports about every table, for comparing two ways of building it."""
    inspector = inspect(conn)
    return {
        table: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table),
            "foreign_keys": inspector.get_foreign_keys(table),
            "indexes": sorted(inspector.get_indexes(table), key=lambda i: str(i["name"])),
            "unique": inspector.get_unique_constraints(table),
            "checks": sorted(
                (c["name"], " ".join(c["sqltext"].split()))
                for c in inspector.get_check_constraints(table)
            ),
        }
        for table in sorted(inspector.get_table_names())
    }


def test_a_new_database_built_at_head_equals_one_built_by_every_migration(store_url: str) -> None:
    """A new store skips Alembic (migrate._create_at_head): it must build what the migrations build."""
    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        with engine.connect() as conn:
            migrated = _schema(conn)
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
            )
            assert compare_metadata(context, metadata) == []
            stamp = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one()
        with engine.begin() as conn:
            metadata.drop_all(conn)
            conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        with Store.open(store_url) as store:
            assert store.schema_revision() == stamp == SCHEMA_HEAD
        with engine.connect() as conn:
            assert _schema(conn) == migrated
    finally:
        engine.dispose()


def test_a_database_newer_than_the_code_is_refused(store_url: str) -> None:
    Store.open(store_url).close()
    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0099_from_the_future'"))
    finally:
        engine.dispose()
    with pytest.raises(StorageError, match="newer"):
        Store.open(store_url)


def test_new_sqlite_files_are_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "fw.db"
    with Store.open(f"sqlite:///{path}") as store:
        Runner(store).run([mismatch("SKU-1")])
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with store._read("pragmas") as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    wal = Path(f"{path}-wal")
    if wal.exists():
        assert stat.S_IMODE(wal.stat().st_mode) & 0o077 == 0


def test_timestamps_come_back_aware_utc(store: Store) -> None:
    Runner(store).run([mismatch("SKU-1")])
    view = store.discrepancies()[0]
    assert view.first_seen == T0
    assert view.first_seen.utcoffset() is not None
    assert view.first_seen.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_readers_are_not_blocked_by_an_open_read_transaction(tmp_path: Path) -> None:
    """WAL + deferred reads: a long CLI read does not stop the daemon's write."""
    url = f"sqlite:///{tmp_path / 'fw.db'}"
    with Store.open(url) as daemon, Store.open(url) as cli:
        runner = Runner(daemon)
        runner.run([mismatch("SKU-1")])
        with cli._read("long read") as conn:
            conn.exec_driver_sql("SELECT count(*) FROM discrepancies").scalar()
            outcome = runner.run([mismatch("SKU-1"), mismatch("SKU-2")])
            assert outcome.opened == 1
            # The reader keeps its snapshot until its transaction ends.
            assert conn.exec_driver_sql("SELECT count(*) FROM discrepancies").scalar() == 1
        assert len(cli.discrepancies()) == 2


def test_a_held_write_lock_times_out_as_locked_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "fw.db"
    monkeypatch.setattr(engine_module, "BUSY_TIMEOUT_S", 0.2)
    with Store.open(f"sqlite:///{path}") as store:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(LockedError, match="locked"):
                store.begin_run("full", T0)
            assert len(store.discrepancies()) == 0  # reads still work
        finally:
            other.execute("ROLLBACK")
            other.close()
        store.begin_run("full", T0)


def test_errors_never_show_the_password() -> None:
    secret = "s3cret-Canary-PW"
    url = f"postgresql+psycopg://fw:{secret}@127.0.0.1:1/fieldwarden?sslmode=disable"
    with pytest.raises(StorageError) as caught:
        Store.open(url)
    message = str(caught.value)
    assert secret not in message
    assert "127.0.0.1" in message
    assert secret not in repr(caught.value.__cause__ or "")


def test_an_unusable_sqlite_path_is_a_storage_error(tmp_path: Path) -> None:
    missing_dir = tmp_path / "no" / "such" / "dir" / "fw.db"
    with pytest.raises(StorageError):
        Store.open(f"sqlite:///{missing_dir}")


def test_an_invalid_url_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match="invalid storage URL"):
        Store("not a url at all")


def test_the_fast_path_head_is_alembics_head() -> None:
    from detector.storage.migrate import SCHEMA_HEAD  # noqa: PLC0415

    assert head_revision() == SCHEMA_HEAD
