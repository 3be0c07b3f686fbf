"""What sinks send: an :class:`Alert` (one outbox event) or a :class:`Digest` (a run's events).

Both are built from the outbox snapshot, which the store wrote with personal values already
masked; :func:`protect` masks once more whatever could still carry personal data or secrets
(an email address used as a key, a source error quoting a value), so no sink can leak a raw
value whatever it renders. The full values stay in the database only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from detector.privacy import mask_text
from detector.secrets import redact
from detector.storage.deliveries import SOURCE_EVENT_SEVERITY, SOURCE_EVENTS
from detector.storage.views import EventView, iso

__all__ = ["Alert", "Digest", "protect"]

_SEVERITY_RANK = {"critical": 3, "high": 2, "medium": 1, "low": 0}
_FREE_TEXT = ("key", "detail", "error", "writer", "ack_note")
"""Payload entries that are free text from other systems: masked for emails and phones."""


def protect(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A payload fit to leave the database: secrets redacted, personal data masked.

    Values (``owner_value``/``system_value``) were masked by the store when their field is
    personal; free-text entries (a key that is an email address, an error message) get
    :func:`~detector.privacy.mask_text`. Other values are left as the system holds them:
    masking every long number would also hide prices and barcodes.
    """
    out: dict[str, Any] = {}
    for name, value in payload.items():
        if isinstance(value, str):
            text = redact(value)
            out[name] = mask_text(text) if name in _FREE_TEXT else text
        else:
            out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class Alert:
    """One lifecycle event as sinks see it (payload protected)."""

    event_id: int
    at: datetime
    event: str
    run_id: int | None
    discrepancy_id: str | None
    payload: Mapping[str, Any]
    """The SPEC discrepancy object, or the source report for source events."""

    @classmethod
    def from_event(cls, view: EventView) -> Alert:
        return cls(
            event_id=view.id,
            at=view.at,
            event=view.event,
            run_id=view.run_id,
            discrepancy_id=view.discrepancy_id,
            payload=protect(view.payload),
        )

    @property
    def is_source_event(self) -> bool:
        return self.event in SOURCE_EVENTS

    @property
    def severity(self) -> str:
        if self.is_source_event:
            return SOURCE_EVENT_SEVERITY
        return str(self.payload.get("severity") or "medium")

    @property
    def field_name(self) -> str:
        """``product.price``; the entity alone for record-level kinds and source events."""
        entity = str(self.payload.get("entity") or "")
        field = self.payload.get("field")
        return f"{entity}.{field}" if field else entity

    @property
    def system(self) -> str:
        return str(self.payload.get("system") or "")

    def to_json(self) -> dict[str, Any]:
        """The event itself, as the ``json`` webhook and the alert log carry it."""
        out: dict[str, Any] = {
            "id": self.event_id,
            "at": iso(self.at),
            "event": self.event,
            "run_id": self.run_id,
            "discrepancy": None if self.is_source_event else dict(self.payload),
        }
        if self.is_source_event:
            out["source"] = dict(self.payload)
        return out

    def headline(self) -> str:
        """One plain line: ``opened: product.price on storefront (key B): erp 20.00 vs 19.00``."""
        p = self.payload
        if self.is_source_event:
            what = "failed" if self.event == "source_failed" else "recovered"
            text = f"source {what}: {p.get('system')}/{p.get('entity')}"
            if p.get("error"):
                text += f": {p.get('error')}"
            return text
        text = f"{self.event}: {self.field_name} on {p.get('system')}"
        if p.get("key") is not None:
            text += f" (key {p.get('key')})"
        text += f" [{p.get('kind')}, {p.get('severity')}]"
        if p.get("field"):
            text += f": {p.get('owner')} {_shown(p.get('owner_value'))} vs {_shown(p.get('system_value'))}"
        return text


def _shown(value: Any) -> str:
    return "(empty)" if value is None or value == "" else str(value)


@dataclass(frozen=True, slots=True)
class Digest:
    """A run's events for one sink, summarised: counts plus the most severe few."""

    run_id: int | None
    alerts: tuple[Alert, ...]

    @classmethod
    def of(cls, alerts: Sequence[Alert]) -> Digest:
        run_ids = {a.run_id for a in alerts}
        return cls(run_id=run_ids.pop() if len(run_ids) == 1 else None, alerts=tuple(alerts))

    def __len__(self) -> int:
        return len(self.alerts)

    def counts(self) -> dict[str, dict[str, int]]:
        """Counts by event, field, system and severity (most frequent first)."""
        tallies: dict[str, Counter[str]] = {
            "event": Counter(a.event for a in self.alerts),
            "field": Counter(a.field_name for a in self.alerts),
            "system": Counter(a.system for a in self.alerts),
            "severity": Counter(a.severity for a in self.alerts),
        }
        return {name: dict(tally.most_common()) for name, tally in tallies.items()}

    def first(self, n: int) -> list[Alert]:
        """The ``n`` most severe events, source events first, then in outbox order."""
        ranked = sorted(
            self.alerts,
            key=lambda a: (not a.is_source_event, -_SEVERITY_RANK.get(a.severity, 0), a.event_id),
        )
        return ranked[:n]

    def title(self) -> str:
        """``run 12: 4,998 opened, 2 resolved``."""
        where = f"run {self.run_id}" if self.run_id is not None else "several runs"
        events = ", ".join(f"{count:,} {event}" for event, count in self.counts()["event"].items())
        return f"{where}: {events}"

    def to_json(self, first_n: int) -> dict[str, Any]:
        return {
            "digest": True,
            "run_id": self.run_id,
            "events": len(self.alerts),
            "counts": self.counts(),
            "first": [a.to_json() for a in self.first(first_n)],
        }
