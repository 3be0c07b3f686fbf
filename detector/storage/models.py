"""The storage schema as SQLAlchemy Core tables.

The store reads and writes these tables through Core (bulk statements on the hot path, since a
run can touch 100,000 rows); nothing maps rows to objects, so the schema is plain ``Table``
definitions, which also spares every command importing the ORM (a twentieth of a second). They
document the schema and give Alembic its target metadata. Every timestamp is an aware UTC
datetime (:class:`~detector.storage.types.UTCDateTime`).

Changing a table means adding a migration under ``migrations/versions``; a test compares the
migrated schema with this metadata.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from detector.storage.types import JSONValue, UTCDateTime

__all__ = [
    "ALERT_DELIVERIES",
    "ALERT_EVENTS",
    "CURSORS",
    "DISCREPANCIES",
    "OBSERVED_CHANGES",
    "RECORD_HASHES",
    "RUNS",
    "RUN_SOURCES",
    "DeliveryStatus",
    "EventType",
    "metadata",
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


metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _count(name: str) -> Column[int]:
    """A counter column: NOT NULL, 0 when not given."""
    return Column(name, Integer, nullable=False, default=0, server_default="0")


def _at(name: str, *, nullable: bool) -> Column[datetime]:
    return Column(name, UTCDateTime(), nullable=nullable)


RUNS = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mode", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    _at("started_at", nullable=False),
    _at("finished_at", nullable=True),
    _count("records"),
    _count("values_compared"),
    _count("discrepancies"),
    _count("opened"),
    _count("resolved"),
    _count("reopened"),
    Column("by_kind", JSONValue),
    Column("error", Text),
    CheckConstraint(_one_of("status", RUN_STATUSES), name="status"),
    Index("ix_runs_status", "status"),
)
"""One reconciliation, inserted ``running`` when it starts and finished by ``record_run``."""

RUN_SOURCES = Table(
    "run_sources",
    metadata,
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("system", String(200), primary_key=True),
    Column("entity", String(200), primary_key=True),
    Column("status", String(16), nullable=False),
    _count("records"),
    _count("problems"),
    Column("error", Text),
    Column("error_kind", String(64)),
    Column("duration_s", Float, nullable=False, default=0.0, server_default="0"),
    Column("problem_samples", JSONValue),
    Index("ix_run_sources_system_entity", "system", "entity", "run_id"),
)
"""How reading one (system, entity) went in one run."""

DISCREPANCIES = Table(
    "discrepancies",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("entity", String(200), nullable=False),
    Column("key", Text),
    Column("field", String(200)),
    Column("owner", String(200)),
    Column("system", String(200), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("owner_value", Text),
    Column("system_value", Text),
    Column("writer", Text),
    _at("changed_at", nullable=True),
    _at("owner_changed_at", nullable=True),
    _at("first_seen", nullable=False),
    _at("last_seen", nullable=False),
    _at("detected_at", nullable=False),
    _at("opened_at", nullable=True),
    _at("resolved_at", nullable=True),
    Column("ack_note", Text),
    _at("acked_at", nullable=True),
    _at("last_alerted_at", nullable=True),
    Column("personal", Boolean, nullable=False, default=False, server_default=false()),
    Column("detail", Text),
    Column("last_run_id", ForeignKey("runs.id", ondelete="SET NULL")),
    CheckConstraint(_one_of("status", DISCREPANCY_STATUSES), name="status"),
    # Serves resolution by scope (counts come from the index alone) and keyed lookups.
    Index("ix_discrepancies_scope", "entity", "system", "kind", "status", "key"),
    Index("ix_discrepancies_status", "status"),
)
"""One problem, keyed by its SPEC fingerprint, carried across runs.

``first_seen`` is the very first sighting; ``detected_at`` starts the current episode (it moves
when a resolved discrepancy comes back) and is what ``lag`` counts from when the owner's change
log says nothing.
"""

ALERT_EVENTS = Table(
    "alert_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _at("at", nullable=False),
    Column("event", String(32), nullable=False),
    Column("discrepancy_id", ForeignKey("discrepancies.id", ondelete="SET NULL")),
    Column("run_id", ForeignKey("runs.id", ondelete="SET NULL")),
    Column("kind", String(32)),
    Column("entity", String(200)),
    Column("field", String(200)),
    Column("system", String(200)),
    Column("severity", String(16)),
    Column("status", String(16)),
    Column("payload", JSONValue, nullable=False),
    CheckConstraint(_one_of("event", EVENT_TYPES), name="event"),
    Index("ix_alert_events_at", "at"),
    Index("ix_alert_events_run_id", "run_id"),
)
"""The outbox: one lifecycle event, written in the run's transaction, delivered after it.

``payload`` is a snapshot (the SPEC discrepancy object, personal values masked, or the source
report); the denormalised kind/entity/field/system/severity/status columns let the ``alerts``
command and the sinks filter without parsing JSON. ``discrepancy_id`` has no index: nothing
looks events up by it, and a run writing 100,000 events would pay for one.
"""

ALERT_DELIVERIES = Table(
    "alert_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", ForeignKey("alert_events.id", ondelete="CASCADE"), nullable=False),
    Column("sink", String(200), nullable=False),
    Column("status", String(16), nullable=False, default="pending", server_default="pending"),
    _count("attempts"),
    _at("next_attempt_at", nullable=True),
    Column("last_error", Text),
    _at("delivered_at", nullable=True),
    CheckConstraint(_one_of("status", DELIVERY_STATUSES), name="status"),
    UniqueConstraint("event_id", "sink"),
    Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
)
"""One event's delivery to one sink; rows are created and advanced by the dispatcher."""

CURSORS = Table(
    "cursors",
    metadata,
    Column("system", String(200), primary_key=True),
    Column("entity", String(200), primary_key=True),
    Column("value", Text, nullable=False),
    _at("updated_at", nullable=False),
    Column("run_id", ForeignKey("runs.id", ondelete="SET NULL")),
)
"""Where a (system, entity) change log resumes; written only together with its run."""

OBSERVED_CHANGES = Table(
    "observed_changes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("entity", String(200), nullable=False),
    Column("field", String(200), nullable=False),
    Column("system", String(200), nullable=False),
    Column("acting_system", String(200), nullable=False),
    Column("actor", Text),
    _at("changed_at", nullable=False),
    Column("run_id", ForeignKey("runs.id", ondelete="SET NULL")),
    Index("ix_observed_changes_changed_at", "changed_at"),
    Index("ix_observed_changes_entity_field", "entity", "field"),
)
"""A change-log entry kept as evidence of who writes a field; ``id`` dedupes overlap re-reads."""

RECORD_HASHES = Table(
    "record_hashes",
    metadata,
    Column("system", String(200), primary_key=True),
    Column("entity", String(200), primary_key=True),
    Column("key", Text, primary_key=True),
    Column("hash", String(128), nullable=False),
)
"""Per-record content hash for systems without a change log (changes derived by comparing)."""
