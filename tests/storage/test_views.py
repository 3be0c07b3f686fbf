"""What the commands read: SPEC's JSON shapes, filters, masking, and the smaller stores."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import insert

from detector.model import (
    Discrepancy,
    Kind,
    ObservedChange,
    RunResult,
    Severity,
    SourceReport,
    SourceStatus,
)
from detector.storage import DiscrepancyFilter, Store
from detector.storage.models import ALERT_DELIVERIES
from tests.storage.conftest import T0, Runner, mismatch, scope

DISCREPANCY_KEYS = {
    "id", "kind", "entity", "key", "field", "owner", "system", "owner_value", "system_value",
    "severity", "status", "first_seen", "last_seen",
}  # fmt: skip


def test_discrepancy_json_is_the_spec_object(runner: Runner) -> None:
    view = runner.run([mismatch("SKU-0001")]).discrepancies[0]
    out = view.to_json()

    assert set(out) == DISCREPANCY_KEYS
    assert out == {
        "id": view.id,
        "kind": "value_mismatch",
        "entity": "product",
        "key": "SKU-0001",
        "field": "price",
        "owner": "erp",
        "system": "storefront",
        "owner_value": "19.99",
        "system_value": "18.99",
        "severity": "high",
        "status": "open",
        "first_seen": "2026-11-27T10:00:00Z",
        "last_seen": "2026-11-27T10:00:00Z",
    }
    json.dumps(out)


def test_non_owner_write_adds_writer_and_changed_at(runner: Runner) -> None:
    write = Discrepancy(
        kind=Kind.NON_OWNER_WRITE,
        entity="product",
        key="SKU-1",
        field="price",
        owner="erp",
        system="storefront",
        writer="pim-sync",
        changed_at=T0 - timedelta(minutes=3),
    )
    out = runner.run([write], scopes=[]).discrepancies[0].to_json()
    assert set(out) == DISCREPANCY_KEYS | {"writer", "changed_at"}
    assert (out["writer"], out["changed_at"]) == ("pim-sync", "2026-11-27T09:57:00Z")


def test_gap_kinds_have_a_null_key(runner: Runner) -> None:
    gap = Discrepancy(
        kind=Kind.UNOWNED_FIELD, entity="product", key=None, field="weight", owner=None, system="pim"
    )
    out = runner.run([gap], scopes=[]).discrepancies[0].to_json()
    assert (out["key"], out["owner"]) == (None, None)


def test_personal_values_are_masked_in_json_and_events_but_stored_whole(runner: Runner) -> None:
    email = mismatch(
        "C-1",
        field_name="email",
        owner_value="anna.smith@example.com",
        system_value="anna@example.com",
        personal=True,
    )
    view = runner.run([email]).discrepancies[0]

    assert view.system_value == "anna@example.com"
    assert view.to_json()["owner_value"] == "a***@example.com"
    assert view.to_json(mask=False)["owner_value"] == "anna.smith@example.com"
    event = runner.store.events()[0]
    assert "anna" not in json.dumps(event.to_json())
    stored = runner.store.get_discrepancy(view.id)
    assert stored is not None
    assert stored.owner_value == "anna.smith@example.com"


def test_runs_json_is_the_run_object_plus_sources(runner: Runner) -> None:
    runner.run(
        [mismatch("SKU-1")],
        sources=[
            SourceReport("erp", "product", SourceStatus.OK, records=200, duration_s=0.25),
            SourceReport("storefront", "product", SourceStatus.OK, records=199),
        ],
    )
    out = runner.store.runs()[0].to_json()

    assert {"id", "mode", "status", "started_at", "finished_at", "sources"} <= set(out)
    assert (out["mode"], out["status"], out["started_at"]) == ("full", "ok", "2026-11-27T10:00:00Z")
    assert out["sources"][0] | {} == {
        "system": "erp",
        "entity": "product",
        "records": 200,
        "status": "ok",
        "problems": 0,
        "error": None,
        "error_kind": None,
        "duration_s": 0.25,
    }
    json.dumps(out)


def test_runs_are_newest_first_and_limited(runner: Runner) -> None:
    for _ in range(3):
        runner.run()
    assert [r.id for r in runner.store.runs(limit=2)] == runner.runs[:0:-1]
    last = runner.store.last_run(status="ok")
    assert last is not None
    assert last.id == runner.runs[-1]
    assert runner.store.last_run(mode="incremental") is None


def test_events_json_with_deliveries(runner: Runner) -> None:
    runner.run([mismatch("SKU-1")])
    event = runner.store.events()[0]
    with runner.store._write("add a delivery") as conn:
        conn.execute(
            insert(ALERT_DELIVERIES).values(
                event_id=event.id, sink="slack", status="delivered", attempts=2
            )
        )
    out = runner.store.events()[0].to_json()

    assert {"id", "at", "event", "discrepancy", "deliveries"} <= set(out)
    assert out["event"] == "opened"
    assert out["at"] == "2026-11-27T10:00:00Z"
    assert set(out["discrepancy"]) == DISCREPANCY_KEYS
    assert out["deliveries"] == [{"sink": "slack", "status": "delivered", "attempts": 2}]


def test_events_filters_since_and_follow(runner: Runner) -> None:
    runner.run([mismatch("SKU-1"), mismatch("SKU-2", field_name="title", severity=Severity.LOW)])
    runner.run([mismatch("SKU-2", field_name="title", severity=Severity.LOW)])
    store = runner.store

    assert [e.event for e in store.events()] == ["opened", "opened", "resolved"]
    assert [e.event for e in store.events(since=T0 + timedelta(minutes=1))] == ["resolved"]
    resolved = store.events(filters=DiscrepancyFilter(status="resolved"))
    assert [e.payload["key"] for e in resolved] == ["SKU-1"]
    high = store.events(filters=DiscrepancyFilter(status="all", min_severity="high"))
    assert {e.payload["key"] for e in high} == {"SKU-1"}
    titles = store.events(filters=DiscrepancyFilter(status="all", fields=("title",)))
    assert [e.payload["key"] for e in titles] == ["SKU-2"]
    newest = store.events(limit=2)
    assert [e.event for e in newest] == ["opened", "resolved"]
    first = store.events()[0]
    assert [e.id for e in store.events(after_id=first.id, limit=1)] == [first.id + 1]


def test_discrepancy_filters(runner: Runner) -> None:
    runner.run(
        [
            mismatch("SKU-1", severity=Severity.CRITICAL),
            mismatch("SKU-2", severity=Severity.LOW, field_name="title"),
            mismatch("SKU-3", system="pim", severity=Severity.MEDIUM),
            mismatch("SKU-4", lag=timedelta(hours=1)),
        ]
    )
    runner.run(
        [mismatch("SKU-1", severity=Severity.CRITICAL), mismatch("SKU-5")],
        scopes=[scope(keys={"SKU-2", "SKU-5"})],
    )
    store = runner.store

    def keys(**kwargs: object) -> list[str]:
        found = store.discrepancies(DiscrepancyFilter(**kwargs))  # type: ignore[arg-type]
        return [str(d.key) for d in found]

    assert keys() == ["SKU-1", "SKU-5", "SKU-3"]  # open, most severe first
    assert keys(status="pending") == ["SKU-4"]
    assert keys(status="resolved") == ["SKU-2"]
    assert sorted(keys(status="all")) == ["SKU-1", "SKU-2", "SKU-3", "SKU-4", "SKU-5"]
    assert keys(status="current", systems=("pim",)) == ["SKU-3"]
    assert keys(min_severity="high") == ["SKU-1", "SKU-5"]
    assert keys(since=T0 + timedelta(minutes=1)) == ["SKU-5"]
    assert keys(limit=1) == ["SKU-1"]
    assert keys(status="all", fields=("title",), kinds=("value_mismatch",)) == ["SKU-2"]
    assert store.discrepancy_counts() == {
        ("open", "value_mismatch", "critical"): 1,
        ("open", "value_mismatch", "high"): 1,
        ("open", "value_mismatch", "medium"): 1,
        ("pending", "value_mismatch", "high"): 1,
    }


def test_get_discrepancy_by_id_or_prefix(runner: Runner) -> None:
    view = runner.run([mismatch("SKU-1")]).discrepancies[0]
    assert runner.store.get_discrepancy(view.id) == view
    assert runner.store.get_discrepancy(view.id[:6].upper()) == view
    assert runner.store.get_discrepancy("0" * 20) is None
    assert runner.store.get_discrepancy("'; DROP TABLE runs;--") is None


def test_last_ok_source_counts_skip_failed_reads(runner: Runner) -> None:
    runner.run(sources=[SourceReport("erp", "product", SourceStatus.OK, records=500)])
    runner.run(sources=[SourceReport("erp", "product", SourceStatus.SUSPECT, records=3)])
    runner.run(sources=[SourceReport("pim", "product", SourceStatus.OK, records=70)])
    assert runner.store.last_ok_source_counts() == {("erp", "product"): 500, ("pim", "product"): 70}


def test_observed_changes_are_deduplicated_and_pruned(runner: Runner) -> None:
    change = ObservedChange("product", "price", "storefront", "pim", "pim-sync", T0)
    old = ObservedChange("product", "price", "storefront", "erp", None, T0 - timedelta(days=40))
    runner.run(changes=[change, old])
    runner.run(changes=[change])  # an overlapping re-read

    assert runner.store.observed_changes() == [old, change]
    assert runner.store.observed_changes(T0 - timedelta(days=1)) == [change]
    assert runner.store.prune_observed_changes(T0 - timedelta(days=30)) == 1
    assert runner.store.observed_changes() == [change]


def test_record_hashes_round_trip(store: Store) -> None:
    store.put_record_hashes("pim", "product", {"SKU-1": "a", "SKU-2": "b"})
    store.put_record_hashes("pim", "product", {"SKU-2": "c"})
    assert store.record_hashes("pim", "product") == {"SKU-1": "a", "SKU-2": "c"}
    assert store.record_hashes("pim", "product", ["SKU-2", "SKU-9"]) == {"SKU-2": "c"}
    store.put_record_hashes("pim", "product", {"SKU-3": "d"}, replace=True)
    assert store.record_hashes("pim", "product") == {"SKU-3": "d"}
    assert store.record_hashes("erp", "product") == {}


def test_record_hashes_commit_with_the_run(store: Store) -> None:
    run_id = store.begin_run("incremental", T0)
    store.record_run(
        run_id,
        RunResult("incremental", T0, T0),
        now=T0,
        record_hashes={("pim", "product"): {"SKU-1": "h1"}},
    )
    assert store.record_hashes("pim", "product") == {"SKU-1": "h1"}
