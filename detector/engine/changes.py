"""Change logs: who wrote which field, and what that means against the ownership map.

From each system's change log we derive three things: ``non_owner_write`` discrepancies (a field
written by an actor that does not act for the field's owner; actors not in the system's
``writers`` act for the system itself), when the owner last changed a value (``lag`` counts from
it), and observed writers kept for ``discover``. Cursors advance to the newest entry read and are
committed with the run's results, never before.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import polars as pl
import structlog

from connectors.base import Change, Connector, ResourceSpec
from detector.config import Config
from detector.engine.mapping import KEY_SEPARATOR, match_expr
from detector.errors import SourceError
from detector.model import Discrepancy, Kind, ObservedChange
from detector.secrets import redact

__all__ = [
    "ChangeLog",
    "ChangeSummary",
    "display_key_of",
    "match_keys",
    "parse_cursor",
    "read_change_log",
    "summarise_changes",
]

log = structlog.get_logger()


@dataclass(slots=True)
class ChangeLog:
    system: str
    entity: str
    changes: list[Change]
    cursor: str | None
    error: str | None = None


def parse_cursor(text: str | None) -> datetime | None:
    """A stored cursor as a datetime; a corrupt one is reported by the caller, never trusted."""
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def read_change_log(
    connector: Connector,
    spec: ResourceSpec,
    stored_cursor: str | None,
    *,
    lookback: timedelta,
    now: datetime,
) -> ChangeLog:
    """Read changes since the stored cursor minus ``lookback`` (late timestamps are common)."""
    try:
        cursor = parse_cursor(stored_cursor)
    except ValueError:
        return ChangeLog(
            spec.system,
            spec.entity,
            [],
            stored_cursor,
            error="cursor_invalid: stored cursor is not a timestamp",
        )
    if cursor is not None and cursor > now + timedelta(minutes=5):
        return ChangeLog(
            spec.system,
            spec.entity,
            [],
            stored_cursor,
            error="cursor_invalid: stored cursor is in the future",
        )
    since = cursor - lookback if cursor is not None else None
    try:
        changes = list(connector.read_changes(spec, since))
    except SourceError as exc:
        log.warning(
            "change_log_failed", system=spec.system, entity=spec.entity, error=redact(str(exc))
        )
        return ChangeLog(spec.system, spec.entity, [], stored_cursor, error=redact(str(exc)))
    except Exception as exc:  # a connector bug: no cursor advance, the run goes on
        log.error(
            "change_log_crashed", system=spec.system, entity=spec.entity, error=redact(str(exc))
        )
        return ChangeLog(
            spec.system,
            spec.entity,
            [],
            stored_cursor,
            error=f"{type(exc).__name__}: {redact(str(exc))}",
        )
    newest = max((c.changed_at for c in changes), default=None)
    new_cursor = stored_cursor
    if newest is not None and (cursor is None or newest > cursor):
        new_cursor = newest.astimezone(UTC).isoformat()
    return ChangeLog(spec.system, spec.entity, changes, new_cursor)


@dataclass(slots=True)
class ChangeSummary:
    non_owner_writes: list[Discrepancy] = field(default_factory=list)
    observed: list[ObservedChange] = field(default_factory=list)
    owner_changed_at: dict[tuple[str, str, str], datetime] = field(default_factory=dict)
    """(owner system, field, matched key) -> newest change of that value in the owner."""


def _canonical_field(spec: ResourceSpec, name: str) -> str | None:
    for field_spec in spec.fields:
        if name in (field_spec.path, field_spec.name):
            return field_spec.name
    return None


def display_key_of(spec: ResourceSpec, raw: tuple[str, ...]) -> str:
    """A raw key as the engine shows it: each part through its ``map``, joined by ``|``."""
    parts = [part.value_map.get(value, value) for part, value in zip(spec.key, raw, strict=False)]
    return KEY_SEPARATOR.join(parts)


def match_keys(keys: list[str], key_compare: str) -> list[str]:
    """Keys as the entity's ``key_compare`` matches them (the engine's MATCH column, for a list)."""
    if not keys:
        return []
    frame = pl.DataFrame({"k": keys}, schema={"k": pl.Utf8})
    return frame.select(match_expr(pl.col("k"), key_compare)).to_series().to_list()


def summarise_changes(config: Config, logs: Iterable[ChangeLog]) -> ChangeSummary:
    summary = ChangeSummary()
    latest: dict[str, Discrepancy] = {}
    for change_log in logs:
        system = config.systems[change_log.system]
        entity = config.model.entities[change_log.entity]
        spec = config.resource_spec(change_log.entity, change_log.system)
        displays = [display_key_of(spec, c.key) for c in change_log.changes]
        matches = match_keys(displays, entity.key_compare)
        for change, key, match in zip(change_log.changes, displays, matches, strict=True):
            field_name = _canonical_field(spec, change.field)
            if field_name is None:
                continue
            acting = system.acting_system(change.changed_by)
            summary.observed.append(
                ObservedChange(
                    change_log.entity,
                    field_name,
                    change_log.system,
                    acting,
                    change.changed_by,
                    change.changed_at,
                )
            )
            entry = config.ownership.get(change_log.entity, field_name)
            if entry is None or entry.owner is None:
                continue
            if change_log.system == entry.owner and acting == entry.owner:
                slot = (entry.owner, field_name, match)
                previous = summary.owner_changed_at.get(slot)
                if previous is None or change.changed_at > previous:
                    summary.owner_changed_at[slot] = change.changed_at
            if acting == entry.owner:
                continue
            found = Discrepancy(
                Kind.NON_OWNER_WRITE,
                change_log.entity,
                key,
                field_name,
                entry.owner,
                change_log.system,
                entry.severity,
                owner_value=change.old_value,
                system_value=change.new_value,
                writer=change.changed_by,
                changed_at=change.changed_at,
                personal=entry.personal or entry.rule.type in ("email", "phone"),
                detail=f"written by {change.changed_by or 'an unknown actor'} acting for {acting}",
            )
            current = latest.get(found.id)
            if current is None or (
                current.changed_at is not None and change.changed_at > current.changed_at
            ):
                latest[found.id] = found
    summary.non_owner_writes = list(latest.values())
    return summary
