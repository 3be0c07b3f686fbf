"""What the store hands back: frozen views with the SPEC's JSON shapes, and read filters.

Views carry the raw stored values (the engine and the sinks may need them); ``to_json()``
renders the user-facing shape and masks personal values unless told otherwise, so command
output and alert payloads never show a raw email or phone number.

:class:`DiscrepancyView` is a named tuple rather than a frozen dataclass: a run builds one per
discrepancy it found (100,000 and more), and a frozen dataclass costs ten times as much to build;
a named tuple is just as immutable, and the store can make one straight from a database row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from detector.model import Kind, Severity
from detector.privacy import mask_value

__all__ = [
    "DeliveryView",
    "DiscrepancyFilter",
    "DiscrepancyView",
    "EventView",
    "RunOutcome",
    "RunView",
    "SourceView",
    "iso",
    "mask_value",
]

STATUS_FILTERS: Mapping[str, frozenset[str] | None] = {
    "open": frozenset({"open", "acknowledged"}),
    "pending": frozenset({"pending"}),
    "acknowledged": frozenset({"acknowledged"}),
    "resolved": frozenset({"resolved"}),
    "current": frozenset({"open", "pending", "acknowledged"}),
    "all": None,
}
"""``--status`` values: ``open`` is what is wrong now (acknowledged ones stay open, pending ones
are still inside their lag); ``current`` is everything not resolved."""


def iso(value: datetime | None) -> str | None:
    """``2026-11-27T10:00:00Z``: UTC, whole seconds, as in SPEC."""
    return None if value is None else _iso(value)


@lru_cache(maxsize=4096)  # a run's timestamps are mostly its own ``now``
def _iso(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class DiscrepancyView(NamedTuple):
    """One stored discrepancy as it stands after the last write (fields: the table's columns)."""

    id: str
    kind: str
    entity: str
    key: str | None
    field: str | None
    owner: str | None
    system: str
    severity: str
    status: str
    owner_value: str | None
    system_value: str | None
    writer: str | None
    changed_at: datetime | None
    owner_changed_at: datetime | None
    first_seen: datetime
    last_seen: datetime
    detected_at: datetime
    """Start of the current episode (moves when a resolved discrepancy comes back)."""
    opened_at: datetime | None
    """When it last became open (alerted)."""
    resolved_at: datetime | None
    ack_note: str | None
    acked_at: datetime | None
    last_alerted_at: datetime | None
    personal: bool
    detail: str | None
    last_run_id: int | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> DiscrepancyView:
        """From a ``discrepancies`` row mapping (column names equal field names)."""
        return cls(**{name: row[name] for name in cls._fields})

    def to_json(self, *, mask: bool = True) -> dict[str, Any]:
        """SPEC's discrepancy object (plus ack/resolution details when they apply)."""
        hide = mask and self.personal
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "entity": self.entity,
            "key": self.key,
            "field": self.field,
            "owner": self.owner,
            "system": self.system,
            "owner_value": mask_value(self.owner_value) if hide else self.owner_value,
            "system_value": mask_value(self.system_value) if hide else self.system_value,
            "severity": self.severity,
            "status": self.status,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
        }
        if self.kind == Kind.NON_OWNER_WRITE:
            out["writer"] = self.writer
            out["changed_at"] = iso(self.changed_at)
        if self.detail is not None and not hide:
            out["detail"] = self.detail
        if self.status == "acknowledged":
            out["acked_at"] = iso(self.acked_at)
            out["ack_note"] = self.ack_note
        if self.status == "resolved":
            out["resolved_at"] = iso(self.resolved_at)
        return out

    def json_text(self) -> str:
        """``to_json()`` (masked) as compact JSON text: an outbox payload, and a report item."""
        return orjson.dumps(self.to_json()).decode()


@dataclass(frozen=True, slots=True)
class SourceView:
    """How reading one (system, entity) went in one run."""

    run_id: int
    system: str
    entity: str
    status: str
    records: int
    problems: int
    error: str | None
    error_kind: str | None
    duration_s: float
    problem_samples: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> SourceView:
        """From a ``run_sources`` row mapping."""
        return cls(
            run_id=row["run_id"],
            system=row["system"],
            entity=row["entity"],
            status=row["status"],
            records=row["records"],
            problems=row["problems"],
            error=row["error"],
            error_kind=row["error_kind"],
            duration_s=row["duration_s"],
            problem_samples=tuple(row["problem_samples"] or ()),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "entity": self.entity,
            "records": self.records,
            "status": self.status,
            "problems": self.problems,
            "error": self.error,
            "error_kind": self.error_kind,
            "duration_s": round(self.duration_s, 3),
        }


@dataclass(frozen=True, slots=True)
class RunView:
    """One run with its per-source reports."""

    id: int
    mode: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    records: int
    values_compared: int
    discrepancies: int
    opened: int
    resolved: int
    reopened: int
    by_kind: Mapping[str, int]
    error: str | None
    sources: tuple[SourceView, ...] = ()

    @classmethod
    def from_row(cls, row: Mapping[Any, Any], sources: Iterable[SourceView] = ()) -> RunView:
        """From a ``runs`` row mapping and the run's sources."""
        return cls(
            id=row["id"],
            mode=row["mode"],
            status=row["status"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            records=row["records"],
            values_compared=row["values_compared"],
            discrepancies=row["discrepancies"],
            opened=row["opened"],
            resolved=row["resolved"],
            reopened=row["reopened"],
            by_kind=dict(row["by_kind"] or {}),
            error=row["error"],
            sources=tuple(sources),
        )

    def to_json(self) -> dict[str, Any]:
        """SPEC's run object plus ``sources`` (and a ``summary`` of its counts)."""
        return {
            "id": self.id,
            "mode": self.mode,
            "status": self.status,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "error": self.error,
            "summary": {
                "records": self.records,
                "values_compared": self.values_compared,
                "discrepancies": self.discrepancies,
                "by_kind": dict(self.by_kind),
                "opened": self.opened,
                "resolved": self.resolved,
                "reopened": self.reopened,
            },
            "sources": [source.to_json() for source in self.sources],
        }


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """One event's delivery to one sink."""

    sink: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    delivered_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sink": self.sink, "status": self.status, "attempts": self.attempts}
        if self.last_error is not None:
            out["last_error"] = self.last_error
        return out


@dataclass(frozen=True, slots=True)
class EventView:
    """One outbox event: a discrepancy's lifecycle step or a source's failure/recovery."""

    id: int
    at: datetime
    event: str
    run_id: int | None
    discrepancy_id: str | None
    payload: Mapping[str, Any]
    """Snapshot at the time of the event: SPEC discrepancy object (masked) or source report."""
    deliveries: tuple[DeliveryView, ...] = ()

    @property
    def is_source_event(self) -> bool:
        return self.discrepancy_id is None and self.event.startswith("source_")

    def to_json(self) -> dict[str, Any]:
        """SPEC's alert event: ``{"id", "at", "event", "discrepancy", "deliveries"}``."""
        out: dict[str, Any] = {
            "id": self.id,
            "at": iso(self.at),
            "event": self.event,
            "run_id": self.run_id,
            "discrepancy": None if self.is_source_event else dict(self.payload),
        }
        if self.is_source_event:
            out["source"] = dict(self.payload)
        out["deliveries"] = [delivery.to_json() for delivery in self.deliveries]
        return out


@dataclass(frozen=True, slots=True)
class DiscrepancyFilter:
    """Filters shared by ``discrepancies`` and ``alerts`` (empty tuples mean "any")."""

    status: str = "open"
    entities: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    systems: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    min_severity: str | None = None
    since: datetime | None = None
    """Discrepancies: current episode detected at or after; events: emitted at or after."""
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUS_FILTERS:
            known = ", ".join(STATUS_FILTERS)
            raise ValueError(f"unknown status {self.status!r}; use one of {known}")
        if self.min_severity is not None:
            Severity(self.min_severity)  # raises ValueError naming the bad value
        if self.limit is not None and self.limit < 0:
            raise ValueError("limit must be >= 0")

    def statuses(self) -> frozenset[str] | None:
        return STATUS_FILTERS[self.status]

    def severities(self) -> tuple[str, ...] | None:
        if self.min_severity is None:
            return None
        floor = Severity(self.min_severity).rank
        return tuple(s.value for s in Severity if s.rank >= floor)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What ``record_run`` did: lifecycle counts, the outbox event ids, the current views."""

    run_id: int
    status: str
    opened: int
    reopened: int
    resolved: int
    reminders: int
    pending: int
    open: int
    acknowledged: int
    event_ids: tuple[int, ...] = ()
    discrepancies: list[DiscrepancyView] = field(default_factory=list)
    """The run's discrepancies as stored after it (status, first_seen, ... filled in)."""
    json_texts: Mapping[str, str] = field(default_factory=dict)
    """``json_text()`` of the discrepancies this run wrote an outbox event for, by id, as
    written to the outbox: the run's report reuses it instead of encoding them again."""
