"""The discrepancy lifecycle: which status a sighting leads to, and which event it raises.

Pure functions, no I/O: the store applies them to thousands of rows per run.

    (new) ──seen──> pending ──lag elapsed──> open ──ack──> acknowledged
                      │                       │                 │
                      └─absent in scope─> resolved <─absent in scope┘
                                              │
                                              └──seen again──> open (reopened) or pending

Events: ``opened`` when a discrepancy first becomes open (never while pending); ``reopened``
when one that had been open and resolved becomes open again; ``resolved`` only for one that
had been open or acknowledged (a pending one disappears silently: nobody was told about it);
``reminder`` when an open, unacknowledged one was last alerted ``reminder_after`` ago. Once
open, a discrepancy does not fall back to pending, even if the owner changes the value again:
that would emit a second ``opened`` for one problem. Reopening clears the acknowledgement, so
an acknowledged problem that was fixed and comes back alerts again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple, Protocol

from detector.model import Discrepancy
from detector.storage.models import EventType

__all__ = ["Step", "StoredState", "live_status", "on_absent", "on_seen"]

OPEN = "open"
PENDING = "pending"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"
_ZERO = timedelta(0)


class StoredState(Protocol):
    """The stored columns the lifecycle reads (a row of ``discrepancies``)."""

    @property
    def status(self) -> str: ...
    @property
    def first_seen(self) -> datetime: ...
    @property
    def detected_at(self) -> datetime: ...
    @property
    def opened_at(self) -> datetime | None: ...
    @property
    def last_alerted_at(self) -> datetime | None: ...
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def ack_note(self) -> str | None: ...
    @property
    def acked_at(self) -> datetime | None: ...


class Step(NamedTuple):
    """The stored state after one sighting, and the event it raises (or None)."""

    status: str
    event: str | None
    first_seen: datetime
    detected_at: datetime
    opened_at: datetime | None
    last_alerted_at: datetime | None
    resolved_at: datetime | None
    ack_note: str | None
    acked_at: datetime | None


def live_status(found: Discrepancy, detected_at: datetime, now: datetime) -> str:
    """``pending`` while inside the field's lag, counted from the owner's last change when known,
    else from when this episode was first detected; ``open`` after that (or without a lag)."""
    lag = found.lag
    if lag is None or lag <= _ZERO:
        return OPEN
    since = found.owner_changed_at or detected_at
    return PENDING if now - since < lag else OPEN


def on_seen(
    stored: StoredState | None, found: Discrepancy, now: datetime, reminder_after: timedelta
) -> Step | None:
    """Where a discrepancy found by this run goes, given what was stored (None: never seen).

    Returns None when the stored state stays exactly as it is (only ``last_seen`` moves): the
    common case of a re-run, which the store then writes in bulk.
    """
    if stored is None:
        return _first_sighting(found, now)
    if stored.status == RESOLVED:
        return _back_after_resolution(stored, found, now)
    if stored.status == PENDING:
        return _still_pending(stored, found, now)
    if stored.status == OPEN:
        return _still_open(stored, now, reminder_after)
    return None  # acknowledged: stays so while it keeps being seen


def _first_sighting(found: Discrepancy, now: datetime) -> Step:
    return _opened(now) if live_status(found, now, now) == OPEN else _pending(now)


# A run's first sightings all share one of two steps: built once per ``now``, not per row.
@lru_cache(maxsize=4)
def _opened(now: datetime) -> Step:
    return Step(OPEN, EventType.OPENED, now, now, now, now, None, None, None)


@lru_cache(maxsize=4)
def _pending(now: datetime) -> Step:
    return Step(PENDING, None, now, now, None, None, None, None, None)


def _back_after_resolution(stored: StoredState, found: Discrepancy, now: datetime) -> Step:
    # A new episode: lag counts afresh and the old acknowledgement no longer applies.
    if live_status(found, now, now) == OPEN:
        event = EventType.REOPENED if stored.opened_at is not None else EventType.OPENED
        return Step(OPEN, event, stored.first_seen, now, now, now, None, None, None)
    return Step(
        PENDING, None, stored.first_seen, now, stored.opened_at, stored.last_alerted_at,
        None, None, None,
    )  # fmt: skip


def _still_pending(stored: StoredState, found: Discrepancy, now: datetime) -> Step | None:
    if live_status(found, stored.detected_at, now) != OPEN:
        return None
    # Pending again after a resolution of something once alerted: tell it as a reopening.
    event = EventType.REOPENED if stored.opened_at is not None else EventType.OPENED
    return Step(OPEN, event, stored.first_seen, stored.detected_at, now, now, None, None, None)


def _still_open(stored: StoredState, now: datetime, reminder_after: timedelta) -> Step | None:
    last = stored.last_alerted_at or stored.opened_at or stored.detected_at
    if now - last < reminder_after:
        return None
    return Step(
        OPEN, EventType.REMINDER, stored.first_seen, stored.detected_at, stored.opened_at,
        now, None, None, None,
    )  # fmt: skip


def on_absent(stored: StoredState) -> str | None:
    """The event for resolving a stored discrepancy: only if this episode was ever alerted."""
    if stored.status == OPEN:
        return EventType.RESOLVED
    if stored.status == ACKNOWLEDGED:
        # Acknowledged while still pending: nobody was ever told it opened.
        opened = stored.opened_at
        return EventType.RESOLVED if opened is not None and opened >= stored.detected_at else None
    return None
