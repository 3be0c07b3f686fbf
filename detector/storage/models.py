"""The storage schema as typed ORM models.

The store writes these tables mostly through Core (bulk ``executemany`` on ``Model.__table__``)
because a run can touch 100,000 rows; the mapped classes document the schema, give Alembic its
target metadata and serve the small reads. Every timestamp is an aware UTC datetime
(:class:`~detector.storage.types.UTCDateTime`).

Changing a model means adding a migration under ``migrations/versions``; a test compares the
migrated schema with this metadata.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from detector.storage.types import JSONValue, UTCDateTime

__all__ = [
    "AlertDelivery",
    "AlertEvent",
    "Base",
    "Cursor",
    "DeliveryStatus",
    "EventType",
    "ObservedChangeRow",
    "RecordHash",
    "Run",
    "RunSource",
    "StoredDiscrepancy",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RUN_STATUSES = ("running", "ok", "partial", "failed", "aborted")
DISCREPANCY_STATUSES = ("open", "pending", "acknowledged", "resolved")
EVENT_TYPES = ("opened", "resolved", "reopened", "reminder", "source_failed", "source_recovered")
DELIVERY_STATUSES = ("pending", "delivered", "dead")


class EventType:
    """The lifecycle events written to the outbox (``alert_events.event``)."""

    OPENED = "opened"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    REMINDER = "reminder"
    SOURCE_FAILED = "source_failed"
    SOURCE_RECOVERED = "source_recovered"


class DeliveryStatus:
    """States of one event's delivery to one sink (``alert_deliveries.status``)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Run(Base):
    """One reconciliation, inserted ``running`` when it starts and finished by ``record_run``."""

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(_one_of("status", RUN_STATUSES), name="status"),
        Index("ix_runs_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mode: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    records: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    values_compared: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    discrepancies: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    opened: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    resolved: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reopened: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    by_kind: Mapped[dict[str, int] | None] = mapped_column(JSONValue)
    error: Mapped[str | None] = mapped_column(Text)


class RunSource(Base):
    """How reading one (system, entity) went in one run."""

    __tablename__ = "run_sources"
    __table_args__ = (Index("ix_run_sources_system_entity", "system", "entity", "run_id"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    system: Mapped[str] = mapped_column(String(200), primary_key=True)
    entity: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    records: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    problems: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(String(64))
    duration_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    problem_samples: Mapped[list[str] | None] = mapped_column(JSONValue)


class StoredDiscrepancy(Base):
    """One problem, keyed by its SPEC fingerprint, carried across runs.

    ``first_seen`` is the very first sighting; ``detected_at`` starts the current episode (it
    moves when a resolved discrepancy comes back) and is what ``lag`` counts from when the
    owner's change log says nothing.
    """

    __tablename__ = "discrepancies"
    __table_args__ = (
        CheckConstraint(_one_of("status", DISCREPANCY_STATUSES), name="status"),
        # Serves resolution by scope (counts come from the index alone) and keyed lookups.
        Index("ix_discrepancies_scope", "entity", "system", "kind", "status", "key"),
        Index("ix_discrepancies_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(200))
    key: Mapped[str | None] = mapped_column(Text)
    field: Mapped[str | None] = mapped_column(String(200))
    owner: Mapped[str | None] = mapped_column(String(200))
    system: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    owner_value: Mapped[str | None] = mapped_column(Text)
    system_value: Mapped[str | None] = mapped_column(Text)
    writer: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime | None]
    owner_changed_at: Mapped[datetime | None]
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    detected_at: Mapped[datetime]
    opened_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    ack_note: Mapped[str | None] = mapped_column(Text)
    acked_at: Mapped[datetime | None]
    last_alerted_at: Mapped[datetime | None]
    personal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    detail: Mapped[str | None] = mapped_column(Text)
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))


class AlertEvent(Base):
    """The outbox: one lifecycle event, written in the run's transaction, delivered after it.

    ``payload`` is a snapshot (the SPEC discrepancy object, personal values masked, or the
    source report); the denormalised kind/entity/field/system/severity/status columns let the
    ``alerts`` command and the sinks filter without parsing JSON. ``discrepancy_id`` has no
    index: nothing looks events up by it, and a run writing 100,000 events would pay for one.
    """

    __tablename__ = "alert_events"
    __table_args__ = (
        CheckConstraint(_one_of("event", EVENT_TYPES), name="event"),
        Index("ix_alert_events_at", "at"),
        Index("ix_alert_events_run_id", "run_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(32))
    discrepancy_id: Mapped[str | None] = mapped_column(
        ForeignKey("discrepancies.id", ondelete="SET NULL")
    )
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    kind: Mapped[str | None] = mapped_column(String(32))
    entity: Mapped[str | None] = mapped_column(String(200))
    field: Mapped[str | None] = mapped_column(String(200))
    system: Mapped[str | None] = mapped_column(String(200))
    severity: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str | None] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONValue)


class AlertDelivery(Base):
    """One event's delivery to one sink; rows are created and advanced by the dispatcher."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        CheckConstraint(_one_of("status", DELIVERY_STATUSES), name="status"),
        UniqueConstraint("event_id", "sink"),
        Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("alert_events.id", ondelete="CASCADE"))
    sink: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]


class Cursor(Base):
    """Where a (system, entity) change log resumes; written only together with its run."""

    __tablename__ = "cursors"

    system: Mapped[str] = mapped_column(String(200), primary_key=True)
    entity: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))


class ObservedChangeRow(Base):
    """A change-log entry kept as evidence of who writes a field; ``id`` dedupes overlap re-reads."""

    __tablename__ = "observed_changes"
    __table_args__ = (
        Index("ix_observed_changes_changed_at", "changed_at"),
        Index("ix_observed_changes_entity_field", "entity", "field"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    entity: Mapped[str] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(200))
    system: Mapped[str] = mapped_column(String(200))
    acting_system: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime]
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))


class RecordHash(Base):
    """Per-record content hash for systems without a change log (changes derived by comparing)."""

    __tablename__ = "record_hashes"

    system: Mapped[str] = mapped_column(String(200), primary_key=True)
    entity: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    hash: Mapped[str] = mapped_column(String(128))
