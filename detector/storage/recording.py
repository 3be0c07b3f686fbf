"""The write side of one run: what ``Store.record_run`` does inside its transaction.

Built for runs of 100,000 discrepancies. The run's ids go into a temporary table; the stored
rows are loaded with one join (only the columns the lifecycle needs); every row seen again
gets its ``last_seen`` moved by a single ``UPDATE``; only new or changed rows are written, with
driver-level ``executemany`` (see ``bulk.py``). Resolution by absence first counts, per scope,
the stored unresolved rows against what the run found inside the scope, and only looks for
the missing ones when the counts differ. Nothing here commits: the caller owns the
transaction.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from detector.model import Discrepancy, ObservedChange, Scope, SourceReport, SourceStatus
from detector.storage import lifecycle
from detector.storage.bulk import Codec
from detector.storage.models import Base, EventType
from detector.storage.types import UTCDateTime
from detector.storage.views import (
    DISCREPANCY_FIELDS,
    DiscrepancyView,
    SourceView,
)

__all__ = [
    "RunRecorder",
    "change_id",
    "chunks",
    "paused_gc",
    "upsert",
    "write_record_hashes",
]

CHUNK = 5000

SOURCES = Base.metadata.tables["run_sources"]
DISCREPANCIES = Base.metadata.tables["discrepancies"]
EVENTS = Base.metadata.tables["alert_events"]
CURSORS = Base.metadata.tables["cursors"]
CHANGES = Base.metadata.tables["observed_changes"]
HASHES = Base.metadata.tables["record_hashes"]

# Per-transaction scratch tables (dropped at commit on PostgreSQL, explicitly on SQLite).
_SCRATCH = MetaData()
SEEN = Table(
    "fw_seen",
    _SCRATCH,
    Column("id", String(64), primary_key=True),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
SCOPE_KEYS = Table(
    "fw_scope_keys",
    _SCRATCH,
    Column("scope_no", Integer, primary_key=True),
    Column("key", Text, primary_key=True),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


class _Stored(NamedTuple):
    """A whole stored discrepancy row, decoded (timestamps aware UTC, ``personal`` a bool)."""

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
    opened_at: datetime | None
    resolved_at: datetime | None
    ack_note: str | None
    acked_at: datetime | None
    last_alerted_at: datetime | None
    personal: bool
    detail: str | None
    last_run_id: int | None


class _Seen(NamedTuple):
    """What a sighting needs of a stored row: its values (to spot changes) and its state."""

    id: str
    severity: str
    status: str
    owner_value: str | None
    system_value: str | None
    writer: str | None
    changed_at: datetime | None
    owner_changed_at: datetime | None
    personal: bool
    detail: str | None
    first_seen: datetime
    detected_at: datetime
    opened_at: datetime | None
    resolved_at: datetime | None
    ack_note: str | None
    acked_at: datetime | None
    last_alerted_at: datetime | None


_Row = TypeVar("_Row", _Stored, _Seen)

_COLUMNS: tuple[str, ...] = tuple(c.name for c in DISCREPANCIES.columns)
_TIMESTAMPS = frozenset(c.name for c in DISCREPANCIES.columns if isinstance(c.type, UTCDateTime))
if _Stored._fields != _COLUMNS or DISCREPANCY_FIELDS != _COLUMNS:  # pragma: no cover
    raise RuntimeError("_Stored and DiscrepancyView must list the discrepancies columns in order")

# What a sighting may rewrite (a row whose values and state stay only gets last_seen moved).
_REWRITTEN = _Seen._fields[1:]
_CURRENT = ("open", "pending", "acknowledged")
_EVENT_COLUMNS = tuple(c.name for c in EVENTS.columns if c.name != "id")

# Hot-path statements, written for the driver ("?" becomes "%s" on PostgreSQL). Identifiers
# are this module's own constants; every value is a bound parameter.
_SEEN_COLUMNS = ", ".join(f'd."{c}"' for c in _Seen._fields)
# "id IN (SELECT ...)" probes the primary key once per id seen, so an incremental run with ten
# ids does not scan a table of a million (a JOIN lets SQLite pick the scan).
_LOAD_SEEN = f"SELECT {_SEEN_COLUMNS} FROM discrepancies d WHERE d.id IN (SELECT id FROM fw_seen)"  # noqa: S608
_TOUCH_SEEN = (
    "UPDATE discrepancies SET last_seen = ?, last_run_id = ? WHERE id IN (SELECT id FROM fw_seen)"
)
_ANY_STORED = "SELECT 1 FROM discrepancies WHERE entity = ? AND system = ? LIMIT 1"
_IN_SCOPE = (
    "FROM discrepancies d WHERE d.entity = ? AND d.system = ? AND d.kind IN ({kinds}) "
    "AND d.status IN ('open', 'pending', 'acknowledged')"
)
_IN_SCOPE_KEYS = ' AND d."key" IN (SELECT k."key" FROM fw_scope_keys k WHERE k.scope_no = ?)'
_NOT_SEEN = " AND NOT EXISTS (SELECT 1 FROM fw_seen s WHERE s.id = d.id)"
_SELECT_ALL = "SELECT " + ", ".join(f'd."{c}"' for c in _COLUMNS) + " "


_JSON = json.JSONEncoder(separators=(",", ":"))


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector around a bulk write.

    A 100,000-row run allocates millions of tuples that are never cyclic garbage; letting the
    collector walk them over and over costs about a third of the run. Collection resumes (and
    catches up) as soon as the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def change_id(change: ObservedChange) -> str:
    """Stable id of a change-log entry, so an overlapping re-read stores no duplicate."""
    payload = json.dumps(
        [
            change.entity,
            change.field,
            change.system,
            change.acting_system,
            change.actor,
            change.changed_at.astimezone(UTC).isoformat(),
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


class RunRecorder:
    """Writes one run's results on a connection inside the caller's write transaction.

    Events are collected as the steps run (``tally`` counts them by type) and inserted by
    ``write_events``; ``resolved`` counts the discrepancies resolved by absence.
    """

    def __init__(
        self, conn: Connection, run_id: int, now: datetime, reminder_after: timedelta
    ) -> None:
        self.conn = conn
        self.codec = Codec(conn)
        self.run_id = run_id
        self.now = now
        self.reminder_after = reminder_after
        self.tally: Counter[str] = Counter()
        self.resolved = 0
        self._events: list[tuple[Any, ...]] = []
        self._seen_filled = False

    # -- sources ------------------------------------------------------------------------------

    def write_sources(self, reports: Sequence[SourceReport]) -> None:
        """Insert the source reports; a change between ok and not ok raises a source event."""
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for report in reports:
            rows[(report.system, report.entity)] = {
                "run_id": self.run_id,
                "system": report.system,
                "entity": report.entity,
                "status": SourceStatus(report.status).value,
                "records": report.records,
                "problems": report.problems,
                "error": report.error,
                "error_kind": report.error_kind,
                "duration_s": report.duration_s,
                "problem_samples": list(report.problem_samples) or None,
            }
        for (system, entity), row in rows.items():
            previous = self.conn.execute(
                select(SOURCES.c.status)
                .where(
                    SOURCES.c.system == system,
                    SOURCES.c.entity == entity,
                    SOURCES.c.run_id < self.run_id,
                )
                .order_by(SOURCES.c.run_id.desc())
                .limit(1)
            ).scalar()
            ok = row["status"] == SourceStatus.OK.value
            if not ok and previous in (None, SourceStatus.OK.value):
                event = EventType.SOURCE_FAILED
            elif ok and previous is not None and previous != SourceStatus.OK.value:
                event = EventType.SOURCE_RECOVERED
            else:
                continue
            payload = SourceView.from_row(row).to_json()
            self._add_event(event, None, None, entity, None, system, None, row["status"], payload)
        if rows:
            self.conn.execute(insert(SOURCES), list(rows.values()))

    # -- discrepancies --------------------------------------------------------------------------

    def write_discrepancies(
        self, found: Mapping[str, Discrepancy], scopes: Sequence[Scope]
    ) -> list[DiscrepancyView]:
        """Upsert what the run found, resolve what its scopes cover but it did not find."""
        conn, codec, now, run_id = self.conn, self.codec, self.now, self.run_id
        dt_out, bool_out, reminder_after = codec.dt_out, codec.bool_out, self.reminder_after
        now_db = dt_out(now)

        stored: dict[str, _Seen] = {}
        groups = {(d.entity, d.system) for d in found.values()}
        if any(
            conn.exec_driver_sql(_ANY_STORED.replace("?", codec.mark), g).first() for g in groups
        ):
            self._fill_seen(found)
            stored = {row.id: row for row in self._load(_Seen, _LOAD_SEEN)}
        # else: nothing stored yet where this run looked (a first run): all of it is new.
        if stored:
            # Every row seen again moves last_seen in one statement; rows whose values or
            # state changed are rewritten below.
            conn.exec_driver_sql(_TOUCH_SEEN.replace("?", codec.mark), (now_db, run_id))

        inserts: list[tuple[Any, ...]] = []
        rewrites: list[tuple[Any, ...]] = []
        views: list[DiscrepancyView] = []
        on_seen = lifecycle.on_seen
        for did, disc in found.items():
            row = stored.get(did)
            step = on_seen(row, disc, now, reminder_after)
            # No step means the stored state stands (and there is a stored row).
            state = step if step is not None else cast(_Seen, row)
            kind = str(disc.kind)
            severity = str(disc.severity)
            personal = bool(disc.personal)
            view = DiscrepancyView(
                did, kind, disc.entity, disc.key, disc.field, disc.owner, disc.system, severity,
                state.status, disc.owner_value, disc.system_value, disc.writer, disc.changed_at,
                disc.owner_changed_at, state.first_seen, now, state.detected_at, state.opened_at,
                state.resolved_at, state.ack_note, state.acked_at, state.last_alerted_at,
                personal, disc.detail, run_id,
            )  # fmt: skip
            views.append(view)
            if step is not None and step.event is not None:
                self._discrepancy_event(step.event, view)
            if row is None:
                inserts.append((
                    did, kind, disc.entity, disc.key, disc.field, disc.owner, disc.system,
                    severity, state.status, disc.owner_value, disc.system_value, disc.writer,
                    dt_out(disc.changed_at), dt_out(disc.owner_changed_at),
                    dt_out(state.first_seen), now_db, dt_out(state.detected_at),
                    dt_out(state.opened_at), dt_out(state.resolved_at), state.ack_note,
                    dt_out(state.acked_at), dt_out(state.last_alerted_at), bool_out(personal),
                    disc.detail, run_id,
                ))  # fmt: skip
            elif (
                step is not None
                or row.severity != severity
                or row.owner_value != disc.owner_value
                or row.system_value != disc.system_value
                or row.writer != disc.writer
                or row.changed_at != disc.changed_at
                or row.owner_changed_at != disc.owner_changed_at
                or row.personal != personal
                or row.detail != disc.detail
            ):
                rewrites.append((
                    severity, state.status, disc.owner_value, disc.system_value, disc.writer,
                    dt_out(disc.changed_at), dt_out(disc.owner_changed_at), bool_out(personal),
                    disc.detail, dt_out(state.first_seen), dt_out(state.detected_at),
                    dt_out(state.opened_at), dt_out(state.resolved_at), state.ack_note,
                    dt_out(state.acked_at), dt_out(state.last_alerted_at), did,
                ))  # fmt: skip

        codec.insert(DISCREPANCIES, _COLUMNS, inserts)
        codec.update_by_id(DISCREPANCIES, _REWRITTEN, rewrites)
        self._resolve_absent(found, scopes)
        if self._seen_filled:
            _drop_scratch(conn, SEEN)
        return views

    def _fill_seen(self, found: Mapping[str, Discrepancy]) -> None:
        """Put the run's ids into the ``fw_seen`` scratch table (once)."""
        if not self._seen_filled:
            _create_scratch(self.conn, SEEN)
            self.codec.insert(SEEN, ("id",), list(zip(sorted(found), strict=True)))
            if self.codec.postgres:
                self.conn.exec_driver_sql("ANALYZE fw_seen")  # temp tables get no autovacuum
            self._seen_filled = True

    def _load(self, shape: type[_Row], sql: str, params: Sequence[Any] = ()) -> list[_Row]:
        """Rows of ``sql`` decoded into ``shape`` (timestamps aware UTC, flags bool)."""
        dt_in = self.codec.dt_in
        fields = shape._fields
        result = self.conn.exec_driver_sql(sql.replace("?", self.codec.mark), tuple(params))
        rows = result.cursor.fetchall()  # plain driver tuples: no Row objects
        result.close()
        if not rows:
            return []
        # Decode column by column: a run's timestamps repeat, so each distinct value is parsed
        # once and the rest is C-level mapping.
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
        for i, name in enumerate(fields):
            if name in _TIMESTAMPS:
                decoded = {value: dt_in(value) for value in set(columns[i])}
                columns[i] = list(map(decoded.__getitem__, columns[i]))
        flag = fields.index("personal")
        columns[flag] = list(map(bool, columns[flag]))
        return list(map(partial(tuple.__new__, shape), zip(*columns, strict=True)))

    def _resolve_absent(self, found: Mapping[str, Discrepancy], scopes: Sequence[Scope]) -> None:
        """Resolve stored, unresolved discrepancies inside a scope that this run did not find.

        A scope holds (entity, system), ``kinds``, and optionally ``keys``, ``owner`` and
        ``fields`` (see :class:`~detector.model.Scope`); an empty ``keys`` or ``fields`` holds
        nothing.
        """
        conn, codec = self.conn, self.codec
        live = [
            (n, s)
            for n, s in enumerate(scopes)
            if s.kinds and s.keys != frozenset() and s.fields != frozenset()
        ]
        keyed = [(n, s) for n, s in live if s.keys is not None]
        if keyed:
            _create_scratch(conn, SCOPE_KEYS)
            codec.insert(
                SCOPE_KEYS, ("scope_no", "key"), [(n, k) for n, s in keyed for k in s.keys or ()]
            )
        groups = Counter((d.entity, d.system, d.kind, d.owner, d.field) for d in found.values())
        gone: dict[str, _Stored] = {}
        for n, scope in live:
            kinds = sorted(str(k) for k in scope.kinds)
            where = _IN_SCOPE.format(kinds=", ".join("?" * len(kinds)))
            params: list[Any] = [scope.entity, scope.system, *kinds]
            if scope.owner is not None:
                where += " AND d.owner = ?"
                params.append(scope.owner)
            if scope.fields is not None:
                names = sorted(scope.fields)
                where += f" AND d.field IN ({', '.join('?' * len(names))})"
                params.extend(names)
            if scope.keys is not None:
                where += _IN_SCOPE_KEYS
                params.append(n)
                inside = sum(1 for d in found.values() if d.key in scope.keys and _covers(scope, d))
            else:
                inside = sum(
                    count
                    for (entity, system, kind, owner, field), count in groups.items()
                    if entity == scope.entity
                    and system == scope.system
                    and kind in scope.kinds
                    and (scope.owner is None or owner == scope.owner)
                    and (scope.fields is None or field in scope.fields)
                )
            # Every discrepancy found is unresolved by now: a count above what the run found
            # inside the scope means some stored ones were not found again.
            count_sql = ("SELECT count(*) " + where).replace("?", codec.mark)
            if conn.exec_driver_sql(count_sql, tuple(params)).scalar_one() <= inside:
                continue
            self._fill_seen(found)
            for row in self._load(_Stored, _SELECT_ALL + where + _NOT_SEEN, params):
                gone[row.id] = row
        if keyed:
            _drop_scratch(conn, SCOPE_KEYS)
        if not gone:
            return
        resolved_at = codec.dt_out(self.now)
        codec.update_by_id(
            DISCREPANCIES,
            ("status", "resolved_at"),
            [(lifecycle.RESOLVED, resolved_at, did) for did in gone],
        )
        self.resolved = len(gone)
        for row in gone.values():
            event = lifecycle.on_absent(row)
            if event is not None:
                view = DiscrepancyView(
                    *row._replace(status=lifecycle.RESOLVED, resolved_at=self.now)
                )
                self._discrepancy_event(event, view)

    # -- events ---------------------------------------------------------------------------------

    def _discrepancy_event(self, event: str, view: DiscrepancyView) -> None:
        self._add_event(
            event, view.id, view.kind, view.entity, view.field, view.system, view.severity,
            view.status, view.to_json(mask=True),
        )  # fmt: skip

    def _add_event(
        self,
        event: str,
        discrepancy_id: str | None,
        kind: str | None,
        entity: str,
        field: str | None,
        system: str,
        severity: str | None,
        status: str,
        payload: Mapping[str, Any],
    ) -> None:
        self.tally[event] += 1
        self._events.append((
            self.codec.dt_out(self.now), event, discrepancy_id, self.run_id, kind, entity, field,
            system, severity, status, _JSON.encode(payload),
        ))  # fmt: skip

    def write_events(self) -> tuple[int, ...]:
        """Insert the collected events into the outbox; return this run's event ids."""
        self.codec.insert(EVENTS, _EVENT_COLUMNS, self._events)
        ids = self.conn.execute(
            select(EVENTS.c.id).where(EVENTS.c.run_id == self.run_id).order_by(EVENTS.c.id)
        ).scalars()
        return tuple(int(i) for i in ids)

    # -- the rest of the run ------------------------------------------------------------------

    def write_cursors(self, cursors: Mapping[tuple[str, str], str]) -> None:
        rows = [
            {
                "system": system,
                "entity": entity,
                "value": value,
                "updated_at": self.now,
                "run_id": self.run_id,
            }
            for (system, entity), value in cursors.items()
        ]
        upsert(self.conn, CURSORS, rows, ("system", "entity"), ("value", "updated_at", "run_id"))

    def write_changes(self, changes: Sequence[ObservedChange]) -> None:
        rows = {}
        for c in changes:
            cid = change_id(c)
            rows[cid] = {
                "id": cid,
                "entity": c.entity,
                "field": c.field,
                "system": c.system,
                "acting_system": c.acting_system,
                "actor": c.actor,
                "changed_at": c.changed_at,
                "run_id": self.run_id,
            }
        upsert(self.conn, CHANGES, list(rows.values()), ("id",), ())


def _covers(scope: Scope, d: Discrepancy) -> bool:
    """Whether ``d`` falls in ``scope`` (keys aside)."""
    return (
        d.entity == scope.entity
        and d.system == scope.system
        and d.kind in scope.kinds
        and (scope.owner is None or d.owner == scope.owner)
        and (scope.fields is None or d.field in scope.fields)
    )


def write_record_hashes(
    conn: Connection, system: str, entity: str, hashes: Mapping[str, str]
) -> None:
    rows = [
        {"system": system, "entity": entity, "key": key, "hash": value}
        for key, value in hashes.items()
    ]
    upsert(conn, HASHES, rows, ("system", "entity", "key"), ("hash",))


def _create_scratch(conn: Connection, table: Table) -> None:
    if conn.dialect.name != "postgresql":
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{table.name}")
    table.create(conn)


def _drop_scratch(conn: Connection, table: Table) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(table.delete())  # ON COMMIT DROP removes the table itself
    else:
        table.drop(conn)


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    update_columns: Sequence[str],
) -> None:
    """Insert rows, updating ``update_columns`` (or skipping the row) when the key exists."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        stmt = sqlite_dialect.insert(table) if dialect == "sqlite" else pg.insert(table)
        if update_columns:
            stmt = stmt.on_conflict_do_update(
                index_elements=list(keys), set_={c: stmt.excluded[c] for c in update_columns}
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
        for chunk in chunks(rows):
            conn.execute(stmt, list(chunk))
        return
    # Other backends: delete-then-insert (or skip existing), one statement per row.
    for row in rows:  # pragma: no cover - SQLite and PostgreSQL are the supported backends
        match = and_(*(table.c[k] == row[k] for k in keys))
        if update_columns:
            conn.execute(delete(table).where(match))
        elif conn.execute(select(func.count()).select_from(table).where(match)).scalar():
            continue
        conn.execute(insert(table).values(**row))
