"""The delivery side of the alert outbox: what the dispatcher reads and writes.

``alert_events`` is written by ``Store.record_run`` in the run's transaction; this module owns
``alert_deliveries``, one row per (event, sink), moving ``pending -> delivered | dead``:

* :func:`enqueue` creates the missing pending rows for one sink: every event inside the
  backlog window that matches the sink's filters and has no row for it yet (``INSERT ...
  SELECT ... WHERE NOT EXISTS``, so it is idempotent and a crash between commit and delivery
  loses nothing: the next dispatch enqueues what was committed).
* :func:`claim_due` takes a sink's due pending rows and leases them (``next_attempt_at`` moves
  ``lease`` ahead), so two dispatchers never send the same row at once, and a dispatcher that
  dies mid-send leaves rows that become due again when the lease ends (at least once).
* :func:`record_attempts` stores each outcome: delivered, retry at a time, dead, or released
  (handed back unattempted, e.g. to keep a Slack channel under its rate).
* :func:`dead_deliveries` and :func:`delivery_counts` surface what could not be delivered.

Functions take a :class:`~detector.storage.Store` and use its transaction helpers, so they get
the same locking (``BEGIN IMMEDIATE`` / advisory lock) and error translation as the store.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from detector.storage.models import ALERT_DELIVERIES, ALERT_EVENTS, DeliveryStatus, EventType
from detector.storage.recording import chunks
from detector.storage.store import Store
from detector.storage.views import EventView

__all__ = [
    "SOURCE_EVENTS",
    "Attempt",
    "ClaimedDelivery",
    "DeadDelivery",
    "SinkFilter",
    "claim_due",
    "dead_deliveries",
    "delivery_counts",
    "enqueue",
    "record_attempts",
]


SOURCE_EVENTS = (EventType.SOURCE_FAILED, EventType.SOURCE_RECOVERED)
SOURCE_EVENT_SEVERITY = "high"
"""Source events carry no severity of their own; ``min_severity`` treats them as ``high``."""

_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


@dataclass(frozen=True, slots=True)
class SinkFilter:
    """Which events one sink receives (empty tuples mean "any").

    ``fields`` match the bare field (``price``) or ``entity.field`` (``product.price``).
    Filters on field and kind concern discrepancies: source events pass them, and match on
    entity and system like any other event.
    """

    sink: str
    min_severity: str = "low"
    entities: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    systems: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.min_severity not in _RANK:
            raise ValueError(f"unknown severity {self.min_severity!r}")

    def severities(self) -> list[str]:
        floor = _RANK[self.min_severity]
        return [name for name, rank in _RANK.items() if rank >= floor]

    def where(self) -> ColumnElement[bool]:
        """The filter as a SQL condition on ``alert_events``."""
        e = ALERT_EVENTS.c
        is_source = e.event.in_(SOURCE_EVENTS)
        conditions: list[ColumnElement[bool]] = []
        severities = self.severities()
        if SOURCE_EVENT_SEVERITY in severities:
            conditions.append(or_(e.severity.in_(severities), is_source))
        else:
            conditions.append(and_(e.severity.in_(severities), ~is_source))
        if self.entities:
            conditions.append(e.entity.in_(self.entities))
        if self.systems:
            conditions.append(e.system.in_(self.systems))
        if self.fields:
            qualified = e.entity + literal(".", String) + e.field
            conditions.append(or_(is_source, e.field.in_(self.fields), qualified.in_(self.fields)))
        if self.kinds:
            conditions.append(or_(is_source, e.kind.in_(self.kinds)))
        return and_(*conditions)


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A pending delivery leased to this dispatcher, with the event it carries."""

    delivery_id: int
    sink: str
    attempts: int
    """Attempts made before this one."""
    event: EventView
    severity: str | None


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of sending one delivery (or of deciding not to send it now)."""

    delivery_id: int
    outcome: Literal["delivered", "retry", "dead", "released"]
    error: str | None = None
    next_attempt_at: datetime | None = None
    """For ``retry`` and ``released``: when the delivery becomes due again."""


@dataclass(frozen=True, slots=True)
class DeadDelivery:
    """A delivery that gave up: the sink refused it or it ran out of attempts."""

    event_id: int
    event: str
    at: datetime
    discrepancy_id: str | None
    sink: str
    attempts: int
    last_error: str | None


def enqueue(store: Store, sink: SinkFilter, *, since: datetime) -> int:
    """Create pending rows for ``sink``'s matching events at or after ``since``; returns how many."""
    e, d = ALERT_EVENTS.c, ALERT_DELIVERIES.c
    already = exists().where(d.event_id == e.id, d.sink == sink.sink)
    source = select(
        e.id,
        literal(sink.sink, String),
        literal(DeliveryStatus.PENDING, String),
        literal(0, Integer),
    ).where(e.at >= since, sink.where(), ~already)
    statement = (
        insert(ALERT_DELIVERIES)
        .from_select(["event_id", "sink", "status", "attempts"], source)
        .returning(d.id)
    )
    with store._write("enqueue alert deliveries") as conn:
        return len(conn.execute(statement).all())


def claim_due(
    store: Store, sink: str, *, now: datetime, lease: timedelta, limit: int
) -> list[ClaimedDelivery]:
    """Lease up to ``limit`` of ``sink``'s due pending deliveries, oldest event first."""
    e, d = ALERT_EVENTS.c, ALERT_DELIVERIES.c
    query = (
        select(
            d.id.label("delivery_id"),
            d.attempts,
            e.id,
            e.at,
            e.event,
            e.run_id,
            e.discrepancy_id,
            e.payload,
            e.severity,
        )
        .join_from(ALERT_DELIVERIES, ALERT_EVENTS, d.event_id == e.id)
        .where(
            d.sink == sink,
            d.status == DeliveryStatus.PENDING,
            or_(d.next_attempt_at.is_(None), d.next_attempt_at <= now),
        )
        .order_by(e.id)
        .limit(limit)
    )
    with store._write("claim alert deliveries") as conn:
        rows = list(conn.execute(query))
        for chunk in chunks([row.delivery_id for row in rows]):
            conn.execute(
                update(ALERT_DELIVERIES).where(d.id.in_(chunk)).values(next_attempt_at=now + lease)
            )
    return [
        ClaimedDelivery(
            delivery_id=row.delivery_id,
            sink=sink,
            attempts=row.attempts,
            event=EventView(
                id=row.id,
                at=row.at,
                event=row.event,
                run_id=row.run_id,
                discrepancy_id=row.discrepancy_id,
                payload=row.payload,
            ),
            severity=row.severity,
        )
        for row in rows
    ]


def record_attempts(store: Store, attempts: Sequence[Attempt], *, now: datetime) -> None:
    """Store the outcome of each attempt (one transaction, one statement per outcome)."""
    if not attempts:
        return
    d = ALERT_DELIVERIES.c
    counted = d.attempts + 1
    statements: dict[str, Any] = {
        "delivered": update(ALERT_DELIVERIES).values(
            status=DeliveryStatus.DELIVERED,
            attempts=counted,
            delivered_at=now,
            last_error=None,
            next_attempt_at=None,
        ),
        "retry": update(ALERT_DELIVERIES).values(
            attempts=counted,
            last_error=bindparam("b_error"),
            next_attempt_at=bindparam("b_next"),
        ),
        "dead": update(ALERT_DELIVERIES).values(
            status=DeliveryStatus.DEAD,
            attempts=counted,
            last_error=bindparam("b_error"),
            next_attempt_at=None,
        ),
        "released": update(ALERT_DELIVERIES).values(next_attempt_at=bindparam("b_next")),
    }
    by_outcome: dict[str, list[dict[str, Any]]] = {}
    for attempt in attempts:
        params: dict[str, Any] = {"b_id": attempt.delivery_id}
        if attempt.outcome in ("retry", "dead"):
            params["b_error"] = _cut(attempt.error)
        if attempt.outcome in ("retry", "released"):
            params["b_next"] = attempt.next_attempt_at or now
        by_outcome.setdefault(attempt.outcome, []).append(params)
    with store._write("record alert delivery attempts") as conn:
        for outcome, rows in by_outcome.items():
            statement = statements[outcome].where(
                d.id == bindparam("b_id"), d.status == DeliveryStatus.PENDING
            )
            for chunk in chunks(rows):
                conn.execute(statement, list(chunk))


def dead_deliveries(
    store: Store, *, since: datetime | None = None, sinks: Collection[str] = (), limit: int = 100
) -> list[DeadDelivery]:
    """Dead deliveries, newest event first."""
    e, d = ALERT_EVENTS.c, ALERT_DELIVERIES.c
    query = (
        select(e.id, e.event, e.at, e.discrepancy_id, d.sink, d.attempts, d.last_error)
        .join_from(ALERT_DELIVERIES, ALERT_EVENTS, d.event_id == e.id)
        .where(d.status == DeliveryStatus.DEAD)
        .order_by(e.id.desc(), d.sink)
        .limit(limit)
    )
    if since is not None:
        query = query.where(e.at >= since)
    if sinks:
        query = query.where(d.sink.in_(list(sinks)))
    with store._read("read dead alert deliveries") as conn:
        return [
            DeadDelivery(
                event_id=row.id,
                event=row.event,
                at=row.at,
                discrepancy_id=row.discrepancy_id,
                sink=row.sink,
                attempts=row.attempts,
                last_error=row.last_error,
            )
            for row in conn.execute(query)
        ]


def delivery_counts(store: Store) -> dict[tuple[str, str], int]:
    """Deliveries by (sink, status), for ``alerts`` and metrics."""
    d = ALERT_DELIVERIES.c
    query = select(d.sink, d.status, func.count()).group_by(d.sink, d.status)
    with store._read("count alert deliveries") as conn:
        return {(row[0], row[1]): int(row[2]) for row in conn.execute(query)}


def _cut(error: str | None, limit: int = 500) -> str | None:
    if error is None or len(error) <= limit:
        return error
    return error[:limit] + "…"
