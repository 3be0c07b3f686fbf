"""alert_deliveries: enqueue by sink filter, leased claims, outcomes, dead listing (every backend)."""

from __future__ import annotations

from datetime import timedelta

from detector.model import Severity, SourceReport, SourceStatus
from detector.storage import Store
from detector.storage.deliveries import (
    Attempt,
    SinkFilter,
    claim_due,
    dead_deliveries,
    delivery_counts,
    enqueue,
    record_attempts,
)
from tests.storage.conftest import T0, Runner, mismatch

LEASE = timedelta(minutes=5)
SINCE = T0 - timedelta(days=1)


def _three_events(runner: Runner) -> None:
    runner.run([
        mismatch("A", severity=Severity.HIGH),
        mismatch("B", severity=Severity.LOW, field_name="title"),
        mismatch("C", severity=Severity.MEDIUM, system="pos"),
    ])  # fmt: skip


def test_enqueue_is_idempotent_and_follows_filters(store: Store, runner: Runner) -> None:
    _three_events(runner)
    assert enqueue(store, SinkFilter(sink="all"), since=SINCE) == 3
    assert enqueue(store, SinkFilter(sink="all"), since=SINCE) == 0
    assert enqueue(store, SinkFilter(sink="high", min_severity="high"), since=SINCE) == 1
    assert enqueue(store, SinkFilter(sink="title", fields=("product.title",)), since=SINCE) == 1
    assert enqueue(store, SinkFilter(sink="pos", systems=("pos",)), since=SINCE) == 1
    assert enqueue(store, SinkFilter(sink="kind", kinds=("missing_in_reader",)), since=SINCE) == 0
    assert enqueue(store, SinkFilter(sink="late"), since=T0 + timedelta(seconds=1)) == 0
    assert delivery_counts(store) == {
        ("all", "pending"): 3, ("high", "pending"): 1, ("title", "pending"): 1, ("pos", "pending"): 1,
    }  # fmt: skip


def test_source_events_pass_field_and_kind_filters_and_count_as_high(
    store: Store, runner: Runner
) -> None:
    runner.run(
        [], sources=[SourceReport("storefront", "product", SourceStatus.FAILED, error="down")]
    )
    assert (
        enqueue(
            store, SinkFilter(sink="f", fields=("price",), kinds=("value_mismatch",)), since=SINCE
        )
        == 1
    )
    assert enqueue(store, SinkFilter(sink="h", min_severity="high"), since=SINCE) == 1
    assert enqueue(store, SinkFilter(sink="c", min_severity="critical"), since=SINCE) == 0
    assert enqueue(store, SinkFilter(sink="e", entities=("customer",)), since=SINCE) == 0


def test_a_claim_is_leased(store: Store, runner: Runner) -> None:
    _three_events(runner)
    enqueue(store, SinkFilter(sink="s"), since=SINCE)
    claimed = claim_due(store, "s", now=T0, lease=LEASE, limit=2)
    assert [c.event.id for c in claimed] == sorted(c.event.id for c in claimed)
    assert len(claimed) == 2
    assert claimed[0].event.payload["key"] == "A"
    assert len(claim_due(store, "s", now=T0, lease=LEASE, limit=10)) == 1
    assert claim_due(store, "s", now=T0 + timedelta(minutes=4), lease=LEASE, limit=10) == []
    assert len(claim_due(store, "s", now=T0 + timedelta(minutes=6), lease=LEASE, limit=10)) == 3


def test_outcomes(store: Store, runner: Runner) -> None:
    _three_events(runner)
    enqueue(store, SinkFilter(sink="s"), since=SINCE)
    a, b, c = claim_due(store, "s", now=T0, lease=LEASE, limit=10)
    later = T0 + timedelta(minutes=1)
    record_attempts(
        store,
        [
            Attempt(a.delivery_id, "delivered"),
            Attempt(b.delivery_id, "retry", error="503", next_attempt_at=later),
            Attempt(c.delivery_id, "dead", error="400 bad request"),
        ],
        now=T0,
    )
    by_key = {e.payload["key"]: e.deliveries[0] for e in store.events()}
    assert (by_key["A"].status, by_key["A"].attempts, by_key["A"].delivered_at) == (
        "delivered",
        1,
        T0,
    )
    assert (by_key["B"].status, by_key["B"].attempts, by_key["B"].next_attempt_at) == (
        "pending",
        1,
        later,
    )
    assert (by_key["C"].status, by_key["C"].last_error) == ("dead", "400 bad request")
    assert [d.attempts for d in claim_due(store, "s", now=later, lease=LEASE, limit=10)] == [1]

    [dead] = dead_deliveries(store)
    assert (dead.sink, dead.attempts, dead.last_error, dead.event) == (
        "s",
        1,
        "400 bad request",
        "opened",
    )
    # a finished delivery is never moved again
    record_attempts(store, [Attempt(a.delivery_id, "dead", error="late")], now=later)
    assert store.events()[0].deliveries[0].status == "delivered"


def test_released_deliveries_are_not_counted_as_attempts(store: Store, runner: Runner) -> None:
    _three_events(runner)
    enqueue(store, SinkFilter(sink="s"), since=SINCE)
    claimed = claim_due(store, "s", now=T0, lease=LEASE, limit=10)
    later = T0 + timedelta(seconds=2)
    record_attempts(
        store, [Attempt(c.delivery_id, "released", next_attempt_at=later) for c in claimed], now=T0
    )
    assert claim_due(store, "s", now=T0 + timedelta(seconds=1), lease=LEASE, limit=10) == []
    again = claim_due(store, "s", now=later, lease=LEASE, limit=10)
    assert [c.attempts for c in again] == [0, 0, 0]
