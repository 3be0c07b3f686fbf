"""The discrepancy lifecycle as stored across runs, and the outbox events it writes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from detector.model import Kind, Scope, SourceReport, SourceStatus
from detector.storage import AmbiguousIdError, DiscrepancyFilter, DiscrepancyNotFoundError
from tests.storage.conftest import T0, Runner, mismatch, scope


def test_first_sighting_opens_and_writes_one_opened_event(runner: Runner) -> None:
    outcome = runner.run([mismatch("SKU-1"), mismatch("SKU-2")])

    assert (outcome.opened, outcome.open, outcome.pending) == (2, 2, 0)
    assert runner.events() == ["opened", "opened"]
    assert len(outcome.event_ids) == 2
    view = outcome.discrepancies[0]
    assert view.status == "open"
    assert view.first_seen == view.last_seen == view.opened_at == T0


def test_seen_again_keeps_id_and_first_seen_moves_last_seen_and_updates_values(
    runner: Runner,
) -> None:
    first = runner.run([mismatch("SKU-1", system_value="18.99")]).discrepancies[0]
    again = runner.run([mismatch("SKU-1", system_value="17.50")]).discrepancies[0]

    assert again.id == first.id
    assert again.first_seen == first.first_seen == T0
    assert again.last_seen == T0 + runner.step
    stored = runner.store.get_discrepancy(first.id)
    assert stored is not None
    assert (stored.system_value, stored.last_seen) == ("17.50", again.last_seen)
    assert len(runner.store.discrepancies(DiscrepancyFilter(status="all"))) == 1


def test_exactly_one_opened_event_across_repeated_runs(runner: Runner) -> None:
    for _ in range(5):
        runner.run([mismatch("SKU-1")])

    opened = runner.store.events(event_types=["opened"])
    assert len(opened) == 1
    assert all(runner.events(i) == [] for i in range(1, 5))


def test_absent_inside_scope_resolves_with_a_resolved_event(runner: Runner) -> None:
    runner.run([mismatch("SKU-1"), mismatch("SKU-2")])
    outcome = runner.run([mismatch("SKU-2")])

    assert outcome.resolved == 1
    assert runner.events() == ["resolved"]
    resolved = runner.store.discrepancies(DiscrepancyFilter(status="resolved"))
    assert [(d.key, d.resolved_at) for d in resolved] == [("SKU-1", T0 + runner.step)]
    event = runner.store.events(event_types=["resolved"])[0]
    assert event.payload["status"] == "resolved"
    assert event.payload["key"] == "SKU-1"


@pytest.mark.parametrize(
    "scopes",
    [
        pytest.param([], id="no scope (source failed or suspect)"),
        pytest.param([scope(system="pim")], id="other system"),
        pytest.param([scope(kinds={Kind.MISSING_IN_READER})], id="other kinds"),
        pytest.param([scope(keys={"SKU-2"})], id="keys not including it"),
        pytest.param([scope(entity="customer")], id="other entity"),
        pytest.param([scope(owner="pim")], id="other owner"),
        pytest.param([scope(fields={"title"})], id="other fields"),
        pytest.param([scope(fields=set())], id="no fields"),
    ],
)
def test_absent_outside_every_scope_stays_open(runner: Runner, scopes: list[Scope]) -> None:
    runner.run([mismatch("SKU-1"), mismatch("SKU-2")])
    outcome = runner.run([mismatch("SKU-2")], scopes=scopes)

    assert outcome.resolved == 0
    assert runner.events() == []
    still = runner.store.discrepancies(DiscrepancyFilter(status="open"))
    assert sorted(str(d.key) for d in still) == ["SKU-1", "SKU-2"]


def test_keyed_scope_resolves_only_its_keys(runner: Runner) -> None:
    runner.run([mismatch("SKU-1"), mismatch("SKU-2"), mismatch("SKU-3")])
    outcome = runner.run([], scopes=[scope(keys={"SKU-1", "SKU-3", "SKU-9"})])

    assert outcome.resolved == 2
    current = runner.store.discrepancies(DiscrepancyFilter(status="open"))
    assert [d.key for d in current] == ["SKU-2"]


def test_owner_and_field_scopes_resolve_only_what_they_cover(runner: Runner) -> None:
    """One owner down: the reader's findings against the other owner still resolve."""
    runner.run(
        [
            mismatch("SKU-1"),
            mismatch("SKU-1", field_name="title", owner="pim"),
            mismatch("SKU-1", field_name="stock"),
        ]
    )
    outcome = runner.run([], scopes=[scope(owner="pim"), scope(owner="erp", fields={"stock"})])

    assert outcome.resolved == 2
    current = runner.store.discrepancies(DiscrepancyFilter(status="open"))
    assert [(d.owner, d.field) for d in current] == [("erp", "price")]


def test_seen_after_resolution_reopens_with_a_reopened_event(runner: Runner) -> None:
    runner.run([mismatch("SKU-1")])
    runner.run([])
    outcome = runner.run([mismatch("SKU-1")])

    assert (outcome.reopened, outcome.opened) == (1, 0)
    assert runner.events() == ["reopened"]
    view = outcome.discrepancies[0]
    assert view.status == "open"
    assert view.first_seen == T0
    assert view.resolved_at is None
    assert view.detected_at == view.opened_at == runner.now - runner.step


def test_lag_keeps_it_pending_silently_then_opens_once(runner: Runner) -> None:
    lagging = mismatch("SKU-1", lag=timedelta(minutes=15))
    first = runner.run([lagging])
    assert (first.pending, first.open, first.opened) == (1, 0, 0)
    assert first.discrepancies[0].status == "pending"

    runner.run([lagging], at=T0 + timedelta(minutes=10))
    assert runner.events() == []

    later = runner.run([lagging], at=T0 + timedelta(minutes=16))
    assert (later.opened, later.open, later.pending) == (1, 1, 0)
    assert runner.events() == ["opened"]
    assert later.discrepancies[0].opened_at == T0 + timedelta(minutes=16)
    assert later.discrepancies[0].first_seen == T0


def test_lag_counts_from_the_owner_change_when_known(runner: Runner) -> None:
    old_change = mismatch(
        "SKU-1", lag=timedelta(minutes=15), owner_changed_at=T0 - timedelta(minutes=20)
    )
    fresh_change = mismatch(
        "SKU-2", lag=timedelta(minutes=15), owner_changed_at=T0 - timedelta(minutes=5)
    )
    outcome = runner.run([old_change, fresh_change])

    statuses = {d.key: d.status for d in outcome.discrepancies}
    assert statuses == {"SKU-1": "open", "SKU-2": "pending"}
    assert outcome.opened == 1


def test_pending_that_disappears_resolves_without_an_event(runner: Runner) -> None:
    runner.run([mismatch("SKU-1", lag=timedelta(hours=1))])
    outcome = runner.run([])

    assert outcome.resolved == 1
    assert runner.events() == []
    assert runner.store.events() == []


def test_reminder_after_the_repeat_interval_then_not_again_until_the_next(runner: Runner) -> None:
    runner.run([mismatch("SKU-1")])
    runner.run([mismatch("SKU-1")], at=T0 + timedelta(hours=23))
    assert runner.events() == []

    outcome = runner.run([mismatch("SKU-1")], at=T0 + timedelta(hours=24))
    assert runner.events() == ["reminder"]
    assert outcome.reminders == 1
    assert outcome.discrepancies[0].last_alerted_at == T0 + timedelta(hours=24)

    runner.run([mismatch("SKU-1")], at=T0 + timedelta(hours=30))
    assert runner.events() == []
    runner.run([mismatch("SKU-1")], at=T0 + timedelta(hours=48))
    assert runner.events() == ["reminder"]


def test_acknowledged_stays_acknowledged_and_gets_no_reminders(runner: Runner) -> None:
    view = runner.run([mismatch("SKU-1")]).discrepancies[0]
    acked = runner.store.acknowledge(view.id[:8], "supplier fixing it", now=T0)
    assert (acked.status, acked.ack_note, acked.acked_at) == ("acknowledged", "supplier fixing it", T0)

    outcome = runner.run([mismatch("SKU-1")], at=T0 + timedelta(days=3))
    assert runner.events() == []
    assert outcome.discrepancies[0].status == "acknowledged"
    assert outcome.acknowledged == 1
    assert runner.store.discrepancies(DiscrepancyFilter(status="open"))[0].status == "acknowledged"


def test_acknowledged_that_resolves_and_comes_back_alerts_again(runner: Runner) -> None:
    view = runner.run([mismatch("SKU-1")]).discrepancies[0]
    runner.store.acknowledge(view.id, "known", now=T0)

    runner.run([])
    assert runner.events() == ["resolved"]
    outcome = runner.run([mismatch("SKU-1")])

    assert runner.events() == ["reopened"]
    back = outcome.discrepancies[0]
    assert (back.status, back.ack_note, back.acked_at) == ("open", None, None)


def test_acknowledge_refuses_unknown_resolved_and_ambiguous_ids(runner: Runner) -> None:
    runner.run([mismatch(f"SKU-{i}") for i in range(40)])
    ids = [d.id for d in runner.store.discrepancies(DiscrepancyFilter(status="all"))]

    with pytest.raises(DiscrepancyNotFoundError):
        runner.store.acknowledge("ffffffffffffffffffff", now=T0)
    with pytest.raises(DiscrepancyNotFoundError):
        runner.store.acknowledge("not-hex!", now=T0)
    shared = next(
        a[:1] for a in ids if sum(1 for b in ids if b.startswith(a[:1])) > 1
    )  # 40 ids over 16 hex digits: some first digit repeats
    with pytest.raises(AmbiguousIdError):
        runner.store.acknowledge(shared, now=T0)

    runner.run([])
    with pytest.raises(DiscrepancyNotFoundError, match="resolved"):
        runner.store.acknowledge(ids[0], now=T0)


def test_source_events_once_per_transition(runner: Runner) -> None:
    ok = [SourceReport("storefront", "product", SourceStatus.OK, records=10)]
    failed = [
        SourceReport(
            "storefront", "product", SourceStatus.FAILED, error="timeout", error_kind="source_error"
        )
    ]
    runner.run(sources=ok)
    assert runner.events() == []
    runner.run(sources=failed, scopes=[])
    assert runner.events() == ["source_failed"]
    runner.run(sources=failed, scopes=[])
    assert runner.events() == []
    runner.run(sources=ok)
    assert runner.events() == ["source_recovered"]
    runner.run(sources=ok)
    assert runner.events() == []

    event = runner.store.events(event_types=["source_failed"])[0]
    assert event.discrepancy_id is None
    assert event.to_json()["source"]["error"] == "timeout"


def test_a_source_failing_on_its_first_run_raises_source_failed(runner: Runner) -> None:
    runner.run(sources=[SourceReport("crm", "customer", SourceStatus.SUSPECT)], scopes=[])
    assert runner.events() == ["source_failed"]


def test_bulk_runs_across_chunk_boundaries(runner: Runner) -> None:
    """Enough rows to cross the driver batches; same lifecycle as for two rows."""
    n = 6_200
    first = runner.run([mismatch(f"SKU-{i:05d}") for i in range(n)])
    assert first.opened == n
    changed = [mismatch(f"SKU-{i:05d}", system_value="1.00") for i in range(0, n - 100, 2)]
    unchanged = [mismatch(f"SKU-{i:05d}") for i in range(1, n - 100, 2)]
    second = runner.run(changed + unchanged)

    assert (second.opened, second.resolved, second.open) == (0, 100, n - 100)
    assert len(runner.store.events(event_types=["opened"])) == n
    values = {
        d.key: d.system_value for d in runner.store.discrepancies(DiscrepancyFilter(limit=None))
    }
    assert values["SKU-00000"] == "1.00"
    assert values["SKU-00001"] == "18.99"
    assert len(values) == n - 100
