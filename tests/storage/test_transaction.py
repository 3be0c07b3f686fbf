"""A run commits whole or not at all; cursors move only with it; stale runs are aborted."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from detector.errors import StorageError
from detector.model import ObservedChange, RunResult, SourceReport, SourceStatus
from detector.storage import DiscrepancyFilter, Store
from detector.storage import store as store_module
from detector.storage.bulk import Codec, Statement
from detector.storage.models import metadata
from detector.storage.views import DiscrepancyView
from tests.storage.conftest import T0, Runner, mismatch

CHECKPOINTS = [
    "record_run.sources",
    "record_run.discrepancies",
    "record_run.events",
    "record_run.before_commit",
]


class CrashError(Exception):
    pass


def _row_counts(store: Store) -> dict[str, int]:
    with store._read("count rows") as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in metadata.tables.items()
        }


_Stored = tuple[dict[str, int], str | None, list[DiscrepancyView]]


def _stored(store: Store) -> _Stored:
    """What a run that fails while recording must leave as it was (but for its running row)."""
    counts = _row_counts(store)
    return (
        counts,
        store.cursor("storefront", "product"),
        store.discrepancies(DiscrepancyFilter(status="all")),
    )


def _assert_nothing_written(store: Store, before: _Stored) -> None:
    counts, cursor, views = before
    assert _stored(store) == ({**counts, "runs": counts["runs"] + 1}, cursor, views)


def test_cursors_are_stored_with_the_run(runner: Runner) -> None:
    assert runner.store.cursor("storefront", "product") is None
    runner.run(cursors={("storefront", "product"): "2026-11-27T10:00:00Z"})
    runner.run(
        cursors={("storefront", "product"): "2026-11-27T10:05:00Z", ("erp", "product"): "42"}
    )

    assert runner.store.cursor("storefront", "product") == "2026-11-27T10:05:00Z"
    assert runner.store.cursors() == {
        ("storefront", "product"): "2026-11-27T10:05:00Z",
        ("erp", "product"): "42",
    }


@pytest.mark.parametrize("label", CHECKPOINTS)
def test_a_failure_anywhere_in_record_run_writes_nothing(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, label: str
) -> None:
    runner.run([mismatch("SKU-1"), mismatch("SKU-2")], cursors={("storefront", "product"): "c1"})
    before = _stored(runner.store)

    def crash(at: str) -> None:
        if at == label:
            raise CrashError(at)

    monkeypatch.setattr(store_module, "checkpoint", crash)
    with pytest.raises(CrashError):
        runner.run(
            [mismatch("SKU-2", system_value="1.00"), mismatch("SKU-3")],
            cursors={("storefront", "product"): "c2"},
            sources=[SourceReport("storefront", "product", SourceStatus.FAILED)],
            changes=[ObservedChange("product", "price", "storefront", "pim", "bot", T0)],
        )

    _assert_nothing_written(runner.store, before)  # only the begin_run row
    assert runner.store.cursor("storefront", "product") == "c1"
    crashed = runner.store.runs(limit=1)[0]
    assert (crashed.status, crashed.sources) == ("running", ())

    assert runner.store.abort_stale_runs(T0 + timedelta(hours=1)) == 1
    aborted = runner.store.get_run(crashed.id)
    assert aborted is not None
    assert (aborted.status, aborted.finished_at) == ("aborted", T0 + timedelta(hours=1))

    monkeypatch.undo()
    again = runner.run([mismatch("SKU-2", system_value="1.00"), mismatch("SKU-3")])
    assert (again.opened, again.resolved) == (1, 1)


@pytest.mark.parametrize(
    "refused",
    [
        'INSERT INTO "discrepancies"',
        'INSERT INTO "alert_events"',
        "UPDATE discrepancies SET last_seen",
    ],
)
def test_a_write_refused_on_the_write_behind_thread_writes_nothing(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, refused: str
) -> None:
    runner.run([mismatch("SKU-1"), mismatch("SKU-2")], cursors={("storefront", "product"): "c1"})
    before = _stored(runner.store)
    execute = Codec.execute
    threads: set[str] = set()

    def refuse(codec: Codec, statements: Sequence[Statement]) -> None:
        for sql, _ in statements:
            if sql.startswith(refused):
                threads.add(threading.current_thread().name)
                raise CrashError(sql[:40])
        execute(codec, statements)

    monkeypatch.setattr(Codec, "execute", refuse)
    with pytest.raises(CrashError):
        runner.run(
            [mismatch("SKU-2", system_value="1.00"), mismatch("SKU-3")],
            cursors={("storefront", "product"): "c2"},
        )

    assert threads
    assert threading.current_thread().name not in threads
    _assert_nothing_written(runner.store, before)
    assert runner.store.cursor("storefront", "product") == "c1"
    assert runner.store.runs(limit=1)[0].status == "running"


def test_begin_run_commits_a_running_row_at_once(store: Store) -> None:
    run_id = store.begin_run("incremental", T0)
    run = store.last_run()
    assert run is not None
    assert (run.id, run.mode, run.status, run.finished_at) == (
        run_id,
        "incremental",
        "running",
        None,
    )
    assert store.abort_stale_runs(T0) == 1
    assert store.abort_stale_runs(T0) == 0


def test_record_run_refuses_unknown_and_finished_runs(runner: Runner) -> None:
    runner.run([mismatch("SKU-1")])
    result = RunResult("full", T0, T0)
    with pytest.raises(StorageError, match="not running"):
        runner.store.record_run(runner.runs[-1], result, now=T0)
    with pytest.raises(StorageError, match="does not exist"):
        runner.store.record_run(9999, result, now=T0)


def test_fail_run_finishes_a_running_run_as_failed(store: Store) -> None:
    run_id = store.begin_run("full", T0)
    store.fail_run(run_id, "engine crashed", finished_at=T0 + timedelta(seconds=3))
    run = store.get_run(run_id)
    assert run is not None
    assert (run.status, run.error) == ("failed", "engine crashed")


def test_run_row_gets_status_and_counts(runner: Runner) -> None:
    sources = [
        SourceReport("erp", "product", SourceStatus.OK, records=100),
        SourceReport("storefront", "product", SourceStatus.FAILED, error="boom"),
    ]
    runner.run([mismatch("SKU-1"), mismatch("SKU-2")], sources=sources)
    run = runner.store.runs(limit=1)[0]

    assert run.status == "partial"
    assert (run.discrepancies, run.opened, run.by_kind) == (2, 2, {"value_mismatch": 2})
    assert [(s.system, s.status, s.records) for s in run.sources] == [
        ("erp", "ok", 100),
        ("storefront", "failed", 0),
    ]


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.begin_run("full", datetime(2026, 1, 1))  # naive on purpose
