"""The write side of one run: what ``Store.record_run`` does inside its transaction.

Built for runs of 100,000 discrepancies. The run's ids go into a temporary table; the stored
rows among them are read back as they will be once seen again, and one ``UPDATE`` moves their
``last_seen``; a row whose values and lifecycle state stay is already its own view, so only new
or changed rows cost Python work and are written, with driver-level bulk statements (see
``bulk.py``). The writes run on a write-behind thread (``pipeline.py``) while the next slice of
rows is built. Each discrepancy's masked JSON is encoded once, for its outbox event, and handed
to the run's report. Resolution by absence first counts, per scope, the stored unresolved rows
against what the run found inside the scope, and only looks for the missing ones when the
counts differ. Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from operator import itemgetter
from typing import Any, cast

import orjson
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
from sqlalchemy.engine import Connection

from detector.model import Discrepancy, Kind, ObservedChange, Scope, SourceReport, SourceStatus
from detector.storage import lifecycle
from detector.storage.bulk import Codec, Statement
from detector.storage.models import (
    ALERT_EVENTS,
    CURSORS,
    DISCREPANCIES,
    OBSERVED_CHANGES,
    RECORD_HASHES,
    RUN_SOURCES,
    EventType,
)
from detector.storage.pipeline import WriteBehind
from detector.storage.views import DiscrepancyView, SourceView

__all__ = [
    "RunRecorder",
    "change_id",
    "chunks",
    "upsert",
    "write_record_hashes",
]

CHUNK = 5000
SLICE = 10_000
"""Found discrepancies built per hand-over to the write-behind thread."""


@functools.cache
def _scratch_tables(dialect: str) -> tuple[Table, Table]:
    """The per-transaction scratch tables ``fw_seen`` and ``fw_scope_keys`` for ``dialect``.

    Dropped at commit on PostgreSQL (``ON COMMIT DROP``), explicitly on SQLite. The PostgreSQL
    option is given only there: naming a dialect's option loads that dialect's whole package,
    a fiftieth of a second of every command's start-up on a SQLite store.
    """
    options: dict[str, Any] = {"postgresql_on_commit": "DROP"} if dialect == "postgresql" else {}
    scratch = MetaData()
    seen = Table(
        "fw_seen",
        scratch,
        Column("id", String(64), primary_key=True),
        prefixes=["TEMPORARY"],
        **options,
    )
    scope_keys = Table(
        "fw_scope_keys",
        scratch,
        Column("scope_no", Integer, primary_key=True),
        Column("key", Text, primary_key=True),
        prefixes=["TEMPORARY"],
        **options,
    )
    return seen, scope_keys


_COLUMNS: tuple[str, ...] = tuple(c.name for c in DISCREPANCIES.columns)
if DiscrepancyView._fields != _COLUMNS:  # pragma: no cover
    raise RuntimeError("DiscrepancyView must list the discrepancies columns in order")

# What a sighting may rewrite (a row whose values and state stay only gets last_seen moved).
_REWRITTEN = (
    "severity", "status", "owner_value", "system_value", "writer", "changed_at",
    "owner_changed_at", "personal", "detail", "first_seen", "detected_at", "opened_at",
    "resolved_at", "ack_note", "acked_at", "last_alerted_at",
)  # fmt: skip
_REWRITE_ROW = itemgetter(*(_COLUMNS.index(c) for c in (*_REWRITTEN, "id")))
_EVENT_COLUMNS = tuple(c.name for c in ALERT_EVENTS.columns if c.name != "id")
_KIND = itemgetter(_COLUMNS.index("kind"))
_STATUS = itemgetter(_COLUMNS.index("status"))

# Hot-path statements, written for the driver ("?" becomes "%s" on PostgreSQL). Identifiers
# are this module's own constants; every value is a bound parameter.
# The stored rows of the run's ids ({seen}) are read as they will be once seen again (last_seen
# and last_run_id bound), then moved by one UPDATE that the write-behind thread runs while the
# rows go through the lifecycle. On SQLite, {seen} collects the rowids by probing the primary
# key once per id seen (so an incremental run with ten ids does not scan a table of a million)
# and then visits the rows in rowid order, three times faster than probing row by row; on
# PostgreSQL the planner chooses. ({columns}: every column, as ``Codec.columns_in`` lists them.)
_SEEN_SQLITE = "rowid IN (SELECT d.rowid FROM fw_seen s CROSS JOIN discrepancies d ON d.id = s.id)"
_SEEN_POSTGRES = "id IN (SELECT id FROM fw_seen)"
_LOAD_SEEN = "SELECT {columns} FROM discrepancies WHERE {seen}"
_TOUCH_SEEN = "UPDATE discrepancies SET last_seen = ?, last_run_id = ? WHERE {seen}"
_MOVED = ("last_seen", "last_run_id")
_ANY_STORED = "SELECT 1 FROM discrepancies WHERE entity = ? AND system = ? LIMIT 1"
_IN_SCOPE = (
    "FROM discrepancies d WHERE d.entity = ? AND d.system = ? AND d.kind IN ({kinds}) "
    "AND d.status IN ('open', 'pending', 'acknowledged')"
)
_IN_SCOPE_KEYS = ' AND d."key" IN (SELECT k."key" FROM fw_scope_keys k WHERE k.scope_no = ?)'
_NOT_SEEN = " AND NOT EXISTS (SELECT 1 FROM fw_seen s WHERE s.id = d.id)"
_SELECT_ALL = "SELECT {columns} "
_RUN_EVENT_IDS = "SELECT id FROM alert_events WHERE run_id = ? ORDER BY id"


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
        self,
        conn: Connection,
        run_id: int,
        now: datetime,
        reminder_after: timedelta,
        behind: WriteBehind,
    ) -> None:
        self.conn = conn
        self.behind = behind
        self.codec = Codec(conn)
        self._seen, self._scope_keys = _scratch_tables(conn.dialect.name)
        self.run_id = run_id
        self.now = now
        self.reminder_after = reminder_after
        self.tally: Counter[str] = Counter()
        self.resolved = 0
        self.json_texts: dict[str, str] = {}
        self.kinds: Counter[str] = Counter()
        """Discrepancies found, by kind (set by ``write_discrepancies``)."""
        self.statuses: Counter[str] = Counter()
        """Discrepancies found, by status after this run."""
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
                select(RUN_SOURCES.c.status)
                .where(
                    RUN_SOURCES.c.system == system,
                    RUN_SOURCES.c.entity == entity,
                    RUN_SOURCES.c.run_id < self.run_id,
                )
                .order_by(RUN_SOURCES.c.run_id.desc())
                .limit(1)
            ).scalar()
            ok = row["status"] == SourceStatus.OK.value
            if not ok and previous in (None, SourceStatus.OK.value):
                event = EventType.SOURCE_FAILED
            elif ok and previous is not None and previous != SourceStatus.OK.value:
                event = EventType.SOURCE_RECOVERED
            else:
                continue
            payload = orjson.dumps(SourceView.from_row(row).to_json()).decode()
            self._add_event(event, None, None, entity, None, system, None, row["status"], payload)
        if rows:
            self.conn.execute(insert(RUN_SOURCES), list(rows.values()))

    # -- discrepancies --------------------------------------------------------------------------

    def write_discrepancies(
        self, found: Mapping[str, Discrepancy], scopes: Sequence[Scope]
    ) -> list[DiscrepancyView]:
        """Upsert what the run found, resolve what its scopes cover but it did not find.

        Found discrepancies go a slice at a time: each slice's rows and events are handed to the
        write-behind thread while the next slice is built (see ``pipeline.py``).
        """
        found_in = {(d.entity, d.system) for d in found.values()}
        had_rows = self._pairs_with_rows(found_in | {(s.entity, s.system) for s in scopes})
        stored = self._touch_seen(found) if had_rows & found_in else {}
        views: list[DiscrepancyView] = []
        items = list(found.items())
        for start in range(0, len(items), SLICE):
            new, rewritten, raised = self._sighted(items[start : start + SLICE], stored, views)
            self._discrepancy_events(raised)
            self.behind.submit(self.codec.execute, self._insert_new(new))
            rows = list(map(_REWRITE_ROW, rewritten))
            update = self.codec.update_statements(DISCREPANCIES, _REWRITTEN, rows)
            self.behind.submit(self.codec.execute, update)
            self._flush_events()
        # Python work the write-behind thread's statements can run under:
        self.kinds = Counter(map(_KIND, views))
        self.statuses = Counter(map(_STATUS, views))
        groups = Counter((d.entity, d.system, d.kind, d.owner, d.field) for d in found.values())
        self.behind.drain()
        self._resolve_absent(found, groups, [s for s in scopes if (s.entity, s.system) in had_rows])
        if self._seen_filled:
            _drop_scratch(self.conn, self._seen)
        return views

    def _sighted(
        self,
        items: Sequence[tuple[str, Discrepancy]],
        stored: Mapping[str, DiscrepancyView],
        views: list[DiscrepancyView],
    ) -> tuple[list[DiscrepancyView], list[DiscrepancyView], list[tuple[str, DiscrepancyView]]]:
        """Apply the lifecycle to found discrepancies: their views go to ``views``; returns the
        new ones, the stored ones to rewrite, and the (event, view) pairs raised."""
        now, run_id, reminder_after = self.now, self.run_id, self.reminder_after
        new: list[DiscrepancyView] = []
        rewritten: list[DiscrepancyView] = []
        raised: list[tuple[str, DiscrepancyView]] = []
        on_seen = lifecycle.on_seen
        for did, disc in items:
            row = stored.get(did)
            step = on_seen(row, disc, now, reminder_after)
            if step is None and row is not None and _same_values(row, disc):
                views.append(row)  # the common re-run: as stored, last_seen already moved
                continue
            # No step means the stored state stands (and there is a stored row).
            state = step if step is not None else cast(DiscrepancyView, row)
            view = DiscrepancyView(
                did, str(disc.kind), disc.entity, disc.key, disc.field, disc.owner, disc.system,
                str(disc.severity), state.status, disc.owner_value, disc.system_value,
                disc.writer, disc.changed_at, disc.owner_changed_at, state.first_seen, now,
                state.detected_at, state.opened_at, state.resolved_at, state.ack_note,
                state.acked_at, state.last_alerted_at, bool(disc.personal), disc.detail, run_id,
            )  # fmt: skip
            views.append(view)
            if step is not None and step.event is not None:
                raised.append((step.event, view))
            (new if row is None else rewritten).append(view)
        return new, rewritten, raised

    def _pairs_with_rows(self, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """The (entity, system) pairs that have stored discrepancies, before this run writes.

        Where there are none (a first run), everything found is new and nothing can have gone
        missing: the run skips loading what is stored and resolving by absence there.
        """
        sql = _ANY_STORED.replace("?", self.codec.mark)
        return {pair for pair in pairs if self.conn.exec_driver_sql(sql, pair).first()}

    def _touch_seen(self, found: Mapping[str, Discrepancy]) -> dict[str, DiscrepancyView]:
        """Move ``last_seen`` of every stored row found again; return those rows, by id.

        The rows are read first, as they will be after the move; the move itself is handed to
        the write-behind thread.
        """
        self._fill_seen(found)
        codec = self.codec
        seen = _SEEN_POSTGRES if codec.postgres else _SEEN_SQLITE
        moved = (codec.dt_out(self.now), self.run_id)
        rows = self._load(_LOAD_SEEN.replace("{seen}", seen), moved, bound=_MOVED)
        touch = _TOUCH_SEEN.replace("{seen}", seen).replace("?", codec.mark)
        self.behind.submit(codec.execute, [(touch, moved)])
        return dict(zip(map(itemgetter(0), rows), rows, strict=True))

    def _insert_new(self, views: Sequence[DiscrepancyView]) -> list[Statement]:
        """The statements inserting first sightings, a batch per (kind, status).

        Which columns are NULL or shared follows kind and status (a missing record has no
        field, a value mismatch no writer, a pending one no ``opened_at``), so a batch's
        statements bind fewer values per row (see ``bulk.py``).
        """
        batches: dict[tuple[str, str], list[DiscrepancyView]] = {}
        for view in views:
            batches.setdefault((view.kind, view.status), []).append(view)
        return [
            statement
            for batch in batches.values()
            for statement in self.codec.insert_statements(DISCREPANCIES, _COLUMNS, batch)
        ]

    def _fill_seen(self, found: Mapping[str, Discrepancy]) -> None:
        """Put the run's ids into the ``fw_seen`` scratch table (once)."""
        if not self._seen_filled:
            _create_scratch(self.conn, self._seen)
            self.codec.insert(self._seen, ("id",), list(zip(sorted(found), strict=True)))
            if self.codec.postgres:
                self.conn.exec_driver_sql("ANALYZE fw_seen")  # temp tables get no autovacuum
            self._seen_filled = True

    def _load(
        self, sql: str, params: Sequence[Any] = (), bound: Collection[str] = ()
    ) -> list[DiscrepancyView]:
        """Whole ``discrepancies`` rows of ``sql`` (its ``{columns}`` filled in), decoded.

        Columns in ``bound`` are read as parameters, bound first (see ``Codec.columns_in``).
        """
        codec = self.codec
        sql = sql.replace("?", codec.mark).replace(
            "{columns}", codec.columns_in(DISCREPANCIES, _COLUMNS, bound)
        )
        result = self.conn.exec_driver_sql(sql, tuple(params))
        rows = result.cursor.fetchall()  # plain driver tuples: no Row objects
        result.close()
        rows = codec.rows_in(DISCREPANCIES, _COLUMNS, rows)
        return list(map(partial(tuple.__new__, DiscrepancyView), rows))

    def _resolve_absent(
        self,
        found: Mapping[str, Discrepancy],
        groups: Counter[tuple[str, str, Kind, str | None, str | None]],
        scopes: Sequence[Scope],
    ) -> None:
        """Resolve stored, unresolved discrepancies inside a scope that this run did not find.

        A scope holds (entity, system), ``kinds``, and optionally ``keys``, ``owner`` and
        ``fields`` (see :class:`~detector.model.Scope`); an empty ``keys`` or ``fields`` holds
        nothing. ``groups`` counts what the run found by (entity, system, kind, owner, field).
        """
        conn, codec = self.conn, self.codec
        live = [
            (n, s)
            for n, s in enumerate(scopes)
            if s.kinds and s.keys != frozenset() and s.fields != frozenset()
        ]
        keyed = [(n, s) for n, s in live if s.keys is not None]
        if keyed:
            _create_scratch(conn, self._scope_keys)
            codec.insert(
                self._scope_keys,
                ("scope_no", "key"),
                [(n, k) for n, s in keyed for k in s.keys or ()],
            )
        gone: dict[str, DiscrepancyView] = {}
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
            for row in self._load(_SELECT_ALL + where + _NOT_SEEN, params):
                gone[row.id] = row
        if keyed:
            _drop_scratch(conn, self._scope_keys)
        if not gone:
            return
        codec.update_by_id(
            DISCREPANCIES,
            ("status", "resolved_at"),
            [(lifecycle.RESOLVED, self.now, did) for did in gone],
        )
        self.resolved = len(gone)
        raised = []
        for row in gone.values():
            event = lifecycle.on_absent(row)
            if event is not None:
                raised.append(
                    (event, row._replace(status=lifecycle.RESOLVED, resolved_at=self.now))
                )
        self._discrepancy_events(raised)

    # -- events ---------------------------------------------------------------------------------

    def _discrepancy_events(self, raised: Sequence[tuple[str, DiscrepancyView]]) -> None:
        """Collect (event, view) pairs as outbox events, each view's masked JSON as payload.

        The JSON texts are kept in ``json_texts`` for the run's report. Built list by list
        rather than event by event: a first run raises 100,000 of them.
        """
        now, run_id = self.now, self.run_id
        texts = [view.json_text() for _, view in raised]
        self.json_texts.update(zip([view.id for _, view in raised], texts, strict=True))
        self.tally.update(event for event, _ in raised)
        self._events += [
            (now, event, v.id, run_id, v.kind, v.entity, v.field, v.system, v.severity, v.status, text)
            for (event, v), text in zip(raised, texts, strict=True)
        ]  # fmt: skip

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
        payload: str,
    ) -> None:
        """Collect an outbox event; ``payload`` is its JSON text."""
        self.tally[event] += 1
        self._events.append((
            self.now, event, discrepancy_id, self.run_id, kind, entity, field, system, severity,
            status, payload,
        ))  # fmt: skip

    def _flush_events(self) -> None:
        """Hand the events collected so far to the write-behind thread."""
        if self._events:
            statements = self.codec.insert_statements(ALERT_EVENTS, _EVENT_COLUMNS, self._events)
            self.behind.submit(self.codec.execute, statements)
            self._events = []

    def write_events(self) -> tuple[int, ...]:
        """Insert the events still collected into the outbox; return this run's event ids."""
        self._flush_events()
        self.behind.drain()
        sql = _RUN_EVENT_IDS.replace("?", self.codec.mark)
        result = self.conn.exec_driver_sql(sql, (self.run_id,))
        ids = result.cursor.fetchall()
        result.close()
        return tuple(map(itemgetter(0), ids))

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
        upsert(self.conn, OBSERVED_CHANGES, list(rows.values()), ("id",), ())


def _same_values(row: DiscrepancyView, d: Discrepancy) -> bool:
    """Whether the run found what is stored (the identity columns are equal by the id)."""
    return (
        row.owner_value == d.owner_value
        and row.system_value == d.system_value
        and row.severity == d.severity
        and row.writer == d.writer
        and row.changed_at == d.changed_at
        and row.owner_changed_at == d.owner_changed_at
        and row.personal == d.personal
        and row.detail == d.detail
    )


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
    upsert(conn, RECORD_HASHES, rows, ("system", "entity", "key"), ("hash",))


def _create_scratch(conn: Connection, table: Table) -> None:
    if conn.dialect.name != "postgresql":
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{table.name}")
    table.create(conn)


def _drop_scratch(conn: Connection, table: Table) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(table.delete())  # ON COMMIT DROP removes the table itself
    else:
        table.drop(conn)


def _dialect_insert(dialect: str) -> Callable[[Table], Any]:
    """The dialect's own ``insert`` (the one with ``ON CONFLICT``), imported on first use.

    Importing ``sqlalchemy.dialects.postgresql`` also loads its asyncpg, pg8000 and psycopg
    modules: a fiftieth of a second of every command's start-up on a SQLite store, which never
    needs them. A PostgreSQL engine has loaded that package already.
    """
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert  # noqa: PLC0415

        return sqlite_insert
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert  # noqa: PLC0415

    return postgresql_insert


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
        stmt = _dialect_insert(dialect)(table)
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
