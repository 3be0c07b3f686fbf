"""F. Database and disk (plan scenarios 28-33)."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

import detector.storage.engine as storage_engine
from detector.errors import LockedError, StorageError
from detector.storage import Store
from tests.reliability import results
from tests.reliability.conftest import Sweep, log_events
from tests.reliability.harness import Stack, catalog
from tests.reliability.scenarios import source

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_ENV = "FIELDWARDEN_TEST_POSTGRES_URL"


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)] if ordered else 0.0


# -- 28. the CLI reads while the daemon writes -------------------------------------------------


def test_28_cli_reads_never_block_or_see_a_partial_run_while_runs_commit(stack: Stack, sweep: Sweep) -> None:
    stack.run()
    rows = [dict(r) for r in stack.shop]
    stack.server.handler = catalog(rows)
    writer_errors: list[str] = []

    def writer() -> None:
        for n in range(2):
            rows[3]["price"] = f"{n}.50"  # a change each run: resolutions and openings to commit
            done = subprocess.run(
                [sys.executable, "-m", "detector", "reconcile", "-c", str(stack.path), "--format", "json"],
                cwd=ROOT, env=stack.env(), capture_output=True, text=True, timeout=120, check=False,
            )
            sweep.add("writer stderr", done.stderr)
            if done.returncode not in (0, 1):
                writer_errors.append(done.stderr[-500:])

    thread = threading.Thread(target=writer)
    latencies: list[float] = []
    partial: list[object] = []
    read_errors: list[str] = []
    with Store.open(stack.config().storage_url) as reader:
        thread.start()
        while thread.is_alive():
            started = time.perf_counter()
            try:
                runs = reader.runs(limit=10)
                reader.discrepancies()
            except StorageError as exc:
                read_errors.append(str(exc))
                continue
            latencies.append(time.perf_counter() - started)
            partial.extend(r.id for r in runs if r.status not in ("running", "aborted") and len(r.sources) != 4)
            time.sleep(0.005)
        thread.join(timeout=300)
        # a long read transaction held open while a run commits
        with reader._read("long read") as conn:
            before = conn.execute(text("SELECT count(*) FROM runs")).scalar()
            committed = time.perf_counter()
            stack.run()
            commit_s = time.perf_counter() - committed
            after = conn.execute(text("SELECT count(*) FROM runs")).scalar()
    p95_ms = _p95(latencies) * 1000
    results.record("cli_read_latency", p95_ms=round(p95_ms, 2), samples=len(latencies), locked_errors=len(read_errors))
    results.record("db_locked_errors", count=len(read_errors) + len(writer_errors))
    ok = not read_errors and not writer_errors and not partial and before == after and commit_s < storage_engine.BUSY_TIMEOUT_S
    results.fault("F", 28, "CLI reads during daemon writes (WAL)", survived=ok, p95_ms=round(p95_ms, 2))
    assert not writer_errors, writer_errors
    assert not read_errors, read_errors
    assert not partial, partial
    assert before == after  # one consistent snapshot for the whole read
    assert latencies


# -- 29. two writers, read-then-write ----------------------------------------------------------


def test_29_two_writers_read_then_write_never_hit_busy_snapshot(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fw.db'}"
    Store.open(url).close()
    errors: list[str] = []
    waits: list[float] = []

    def writer(n: int) -> None:
        store = Store(url)
        try:
            for i in range(1000):
                started = time.perf_counter()
                try:
                    with store._write("read then write") as conn:
                        count = conn.execute(text("SELECT count(*) FROM runs")).scalar() or 0
                        conn.execute(
                            text("INSERT INTO runs (mode, status, started_at) VALUES ('full', 'ok', :at)"),
                            {"at": f"2026-01-01 00:00:{count % 60:02d}.{n}{i:05d}"},
                        )
                except StorageError as exc:
                    errors.append(str(exc))
                waits.append(time.perf_counter() - started)
        finally:
            store.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    with Store(url) as store, store._read("count") as conn:
        total = conn.execute(text("SELECT count(*) FROM runs")).scalar()
    p95_ms = _p95(waits) * 1000
    ok = not errors and total == 2000
    results.fault("F", 29, "2 writers x 1000 read-then-write", survived=ok)
    results.record("db_locked_errors", count=len(errors))
    results.record("lock_wait", p95_ms=round(p95_ms, 2))
    assert errors == []
    assert total == 2000


# -- 30. a lock held past the timeout --------------------------------------------------------


def test_30_a_lock_held_past_busy_timeout_is_db_busy_then_the_next_run_succeeds(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.run()
    monkeypatch.setattr(storage_engine, "BUSY_TIMEOUT_S", 0.3)
    holder = sqlite3.connect(stack.db, timeout=0.1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(LockedError) as caught:
            stack.run(lock_wait=1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    after = stack.run()
    with Store.open(stack.config().storage_url) as store:
        statuses = [r.status for r in store.runs(limit=None)]
    ok = "locked" in str(caught.value) and source(after, "shop").status.value == "ok" and "running" not in statuses
    results.fault("F", 30, "lock held past busy_timeout", survived=ok)
    assert ok, (str(caught.value), statuses)


# -- 31. disk full ------------------------------------------------------------------------------


def test_31_database_disk_full_rolls_back_and_the_next_run_succeeds(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, logbuf: object
) -> None:
    stack.run()
    pages = sqlite3.connect(stack.db).execute("PRAGMA page_count").fetchone()[0]
    original = storage_engine._on_sqlite_connect

    def full_disk(dbapi_connection: object, record: object) -> None:
        original(dbapi_connection, record)
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    monkeypatch.setattr(storage_engine, "_on_sqlite_connect", full_disk)
    rows = [dict(r, price="0.01") for r in stack.shop]  # 20 new mismatches: pages needed
    stack.server.handler = catalog(rows)
    with pytest.raises(StorageError) as caught:
        stack.run()
    monkeypatch.setattr(storage_engine, "_on_sqlite_connect", original)
    with Store.open(stack.config().storage_url) as store:
        runs = store.runs(limit=None)
    recorded_ok = [r.id for r in runs[:-1] if r.id > 1 and r.status == "ok"]
    alerted = [
        e
        for e in log_events(logbuf)  # type: ignore[arg-type]
        if e.get("event") == "storage_write_failed" and e.get("level") == "error"
    ]
    logged = bool(alerted) and "full" in str(alerted[0].get("error"))
    after = stack.run()
    ok = not recorded_ok and logged and source(after, "shop").status.value == "ok"
    results.fault("F", 31, "database disk full (max_page_count)", survived=ok)
    assert "full" in str(caught.value), caught.value
    assert logged, "no storage_write_failed error event on the log stream"
    assert not recorded_ok
    assert all(r.status != "running" for r in Store.open(stack.config().storage_url).runs(limit=None))


def test_31_the_daemon_stays_up_through_a_full_disk_and_runs_the_next_tick(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, logbuf: io.StringIO
) -> None:
    """The daemon's own scheduler and jobs: ticks fail on a full disk, then one succeeds once freed."""
    from tests.reliability.test_e_scheduler import _scheduler, _until  # noqa: PLC0415

    stack.schedule = {"full": {"every": "1s"}, "incremental": {"every": "1h"}, "dispatch": {"every": "1h"}}
    stack.write()
    stack.run()
    pages = sqlite3.connect(stack.db).execute("PRAGMA page_count").fetchone()[0]
    original = storage_engine._on_sqlite_connect
    disk_full = [True]

    def full_disk(dbapi_connection: object, record: object) -> None:
        original(dbapi_connection, record)
        if disk_full[0]:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            cursor.execute(f"PRAGMA max_page_count = {pages}")
            cursor.close()

    def events(name: str) -> list[dict[str, object]]:
        return [e for e in log_events(logbuf) if e.get("event") == name]

    monkeypatch.setattr(storage_engine, "_on_sqlite_connect", full_disk)
    stack.server.handler = catalog([dict(r, price="0.01") for r in stack.shop])
    with _scheduler(stack, None) as daemon:
        failed_tick = _until(lambda: any(e.get("job") == "full" for e in events("storage_write_failed") + events("job_failed")))
        ok_during = [r.id for r in daemon.store.runs(limit=None) if r.status == "ok" and r.id > 1 and r.mode == "full"]
        disk_full[0] = False  # the disk is freed: new connections get no page cap
        daemon.store._engine.dispose()
        recovered = _until(
            lambda: any(e.get("job") == "full" and e.get("status") in ("ok", "partial") for e in events("job_finished")),
            timeout=15,
        )
        running = daemon.scheduler.running
    alerted = [e for e in events("storage_write_failed") if e.get("level") == "error"]
    ok = failed_tick and bool(alerted) and not ok_during and recovered and running
    results.fault("F", 31, "database disk full under the daemon: next tick runs", survived=ok)
    assert ok, (failed_tick, ok_during, recovered, running, events("job_finished")[-2:])


def test_31_logs_on_dev_full_do_not_stop_a_run(stack: Stack, sweep: Sweep) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is not available")
    with open("/dev/full", "w", encoding="utf-8") as full:
        done = subprocess.run(
            [sys.executable, "-m", "detector", "--log-level", "debug", "reconcile", "-c", str(stack.path), "--format", "json"],
            cwd=ROOT, env=stack.env(), stdout=subprocess.PIPE, stderr=full, text=True, timeout=120, check=False,
        )
    sweep.add("stdout", done.stdout)
    ok = done.returncode == 1 and '"discrepancies"' in done.stdout
    results.fault("F", 31, "logs to /dev/full", survived=ok, rc=done.returncode)
    assert ok, done.returncode


# -- 32. PostgreSQL connections dropped mid-life -------------------------------------------------


@pytest.mark.postgres
def test_32_postgres_connections_killed_between_runs_recover(tmp_path: Path, server: object) -> None:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    schema = f"fw_rel_{uuid.uuid4().hex[:10]}"
    app = f"fwrel{uuid.uuid4().hex[:8]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}", "application_name": app})
    stack = Stack(tmp_path, server, storage=url.render_as_string(hide_password=False))  # type: ignore[arg-type]
    try:
        with Store.open(stack.config().storage_url) as store:
            stack.run(store=store)
            with admin.begin() as conn:  # a server restart, as the pool sees it
                killed = conn.execute(
                    text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :a"),
                    {"a": app},
                ).scalar()
            report = stack.run(store=store)
        ok = bool(killed) and source(report, "shop").status.value == "ok"
        results.fault("F", 32, "PostgreSQL backends terminated between runs", survived=ok, killed=killed)
        assert ok, killed
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# -- 33. schema versions ------------------------------------------------------------------------


def test_33_a_database_from_a_newer_version_is_refused_clearly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fw.db'}"
    Store.open(url).close()
    with sqlite3.connect(tmp_path / "fw.db") as conn:
        conn.execute("UPDATE fieldwarden_schema_version SET version_num = 'ffffffffffff'")
    with pytest.raises(StorageError) as caught:
        Store.open(url)
    ok = "ffffffffffff" in str(caught.value) or "newer" in str(caught.value)
    results.fault("F", 33, "database newer than the code", survived=ok)
    assert ok, caught.value


def test_33_an_empty_database_is_migrated_to_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fw.db'}"
    with Store.open(url) as store:
        ok = store.schema_revision() == Store.head_revision()
        mode = (tmp_path / "fw.db").stat().st_mode & 0o777
    results.fault("F", 33, "fresh database migrated to head", survived=ok)
    assert ok
    assert mode == 0o600
    assert select  # the schema is read back through SQLAlchemy in the store


@pytest.mark.parametrize("fstype", ["nfs", "nfs4", "cifs", "smb3", "fuse.sshfs"])
def test_33_a_sqlite_database_on_a_network_filesystem_is_refused_at_open(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, fstype: str
) -> None:
    asked: list[Path] = []

    def on_network(folder: Path, mounts: Path = storage_engine.MOUNTS) -> str:
        asked.append(folder)
        return fstype

    monkeypatch.setattr(storage_engine, "mount_fs_type", on_network)
    with pytest.raises(StorageError) as refused:
        stack.run()
    message = str(refused.value)
    ok = (
        "network filesystem" in message
        and f"({fstype})" in message
        and "PostgreSQL" in message
        and not stack.db.exists()  # refused before a file (or its -wal) was created
        and asked
        and Path(os.path.realpath(asked[0])) == Path(os.path.realpath(stack.db.parent))
    )
    results.fault("F", 33, f"SQLite WAL on {fstype}", survived=ok)
    assert ok, (message, asked)


def test_33_the_mount_lookup_reads_proc_mounts_for_the_folder(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/sda1 / ext4 rw,relatime 0 0\n"
        "tmpfs /tmp tmpfs rw 0 0\n"
        "server:/export /srv/data nfs4 rw,vers=4.2 0 0\n"
        "//nas/share /mnt/my\\040share cifs rw 0 0\n"
        "user@host:/home /mnt/remote fuse.sshfs rw 0 0\n",
        encoding="utf-8",
    )
    lookup = storage_engine.mount_fs_type
    assert lookup(Path("/srv/data/fieldwarden"), mounts) == "nfs4"
    assert lookup(Path("/srv/data"), mounts) == "nfs4"
    assert lookup(Path("/srv/database"), mounts) == "ext4"  # a prefix of the name is not a mount
    assert lookup(Path("/mnt/my share/db"), mounts) == "cifs"
    assert lookup(Path("/mnt/remote/x"), mounts) == "fuse.sshfs"
    assert lookup(Path("/var/lib"), mounts) == "ext4"
    assert lookup(Path("/var/lib"), tmp_path / "absent") is None
    # the real machine: the test's own folder is not refused
    assert storage_engine.mount_fs_type(tmp_path) not in storage_engine.NETWORK_FILESYSTEMS
