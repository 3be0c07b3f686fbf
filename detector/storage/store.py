"""The store: one transaction per run, and the reads behind the commands.

``record_run`` is the heart of it. In ONE write transaction it finishes the run row, inserts
the per-source reports, upserts the run's discrepancies, resolves the stored ones the run's
scopes cover but that were not found again, writes lifecycle events to the alert outbox, and
stores the change-log cursors and observed writers (``recording.py`` does the writing). Either
all of it commits or none of it: a crash leaves the run ``running`` (``abort_stale_runs`` marks
it ``aborted`` at the next start) and the cursors where they were, so the next run re-reads
what this one read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from sqlalchemy import Table, and_, case, delete, func, insert, select, update
from sqlalchemy.engine import URL, Connection, Engine, Row, make_url
from sqlalchemy.sql import Select

from detector.errors import StorageError
from detector.gcpause import paused_gc
from detector.model import Discrepancy, ObservedChange, RunResult, RunStatus, SourceStatus
from detector.storage import lifecycle
from detector.storage.engine import WRITE_OPTION, create_store_engine, safe_url, translate_errors
from detector.storage.migrate import current_revision, head_revision, upgrade
from detector.storage.models import (
    ALERT_DELIVERIES,
    ALERT_EVENTS,
    CURSORS,
    DISCREPANCIES,
    OBSERVED_CHANGES,
    RECORD_HASHES,
    RUN_SOURCES,
    RUNS,
    EventType,
)
from detector.storage.pipeline import WriteBehind
from detector.storage.recording import RunRecorder, chunks, write_record_hashes
from detector.storage.views import (
    DeliveryView,
    DiscrepancyFilter,
    DiscrepancyView,
    EventView,
    RunOutcome,
    RunView,
    SourceView,
)
from detector.storage.walcheckpoint import WalCheckpointer

__all__ = [
    "CRASH_ENV",
    "DEFAULT_REMINDER",
    "AmbiguousIdError",
    "DiscrepancyNotFoundError",
    "Store",
    "checkpoint",
]

DEFAULT_REMINDER = timedelta(hours=24)
CRASH_ENV = "RECON_CRASH_AT"


_SEVERITY_ORDER = case(
    {"critical": 3, "high": 2, "medium": 1, "low": 0}, value=DISCREPANCIES.c.severity, else_=-1
)
_HEX = re.compile(r"[0-9a-f]{1,64}")


class DiscrepancyNotFoundError(LookupError):
    """No stored discrepancy has this id (or id prefix)."""


class AmbiguousIdError(LookupError):
    """An id prefix matches more than one discrepancy; ``candidates`` lists some of them."""

    def __init__(self, prefix: str, candidates: Sequence[str]) -> None:
        self.prefix = prefix
        self.candidates = list(candidates)
        super().__init__(
            f"id prefix {prefix!r} matches several discrepancies: {', '.join(candidates)}"
        )


def checkpoint(label: str) -> None:
    """A named point inside ``record_run``'s transaction.

    The crash tests set ``RECON_CRASH_AT=<label>`` to kill the process right there
    (``os._exit(137)``, like ``kill -9``); unit tests monkeypatch this function to raise.
    Labels: ``record_run.sources``, ``record_run.discrepancies``, ``record_run.events``,
    ``record_run.before_commit``.
    """
    if os.environ.get(CRASH_ENV) == label:
        os._exit(137)


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value.isoformat()}")


class Store:
    """Fieldwarden's storage: SQLite by default, PostgreSQL in production.

    ``Store(url)`` only connects; ``Store.open(url)`` also migrates the schema to head, which is
    what every command should use. Every method raises :class:`~detector.errors.StorageError`
    (``LockedError`` when another writer holds the lock too long) on database failure.
    """

    def __init__(self, url: str) -> None:
        self._engine: Engine = create_store_engine(url)
        self._url: URL = make_url(url)
        self._write_engine: Engine = self._engine.execution_options(**{WRITE_OPTION: True})
        self._wal = WalCheckpointer(self._engine) if self.dialect == "sqlite" else None

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect and migrate to head (refusing a database newer than this code)."""
        store = cls(url)
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
        return store

    # -- lifecycle of the store itself --------------------------------------------------------

    @property
    def url(self) -> str:
        """The database URL without password or query string (safe to print)."""
        return safe_url(self._url)

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def migrate(self) -> tuple[str | None, str]:
        """Apply pending migrations; returns (revision before, head)."""
        with self._write("migrate storage") as conn:
            return upgrade(conn)

    def schema_revision(self) -> str | None:
        with self._read("read schema revision") as conn:
            return current_revision(conn)

    @staticmethod
    def head_revision() -> str:
        return head_revision()

    def close(self) -> None:
        if self._wal is not None:
            self._wal.wait()
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self, operation: str) -> Iterator[Connection]:
        """A write transaction: BEGIN IMMEDIATE on SQLite, the writers' advisory lock on PG."""
        with translate_errors(self._url, operation), self._write_engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self, operation: str) -> Iterator[Connection]:
        """A read transaction: never takes the write lock, sees one consistent snapshot."""
        with translate_errors(self._url, operation), self._engine.connect() as conn:
            yield conn

    # -- runs -----------------------------------------------------------------------------------

    def begin_run(self, mode: str, started_at: datetime) -> int:
        """Insert a ``running`` run and commit at once, so a crash leaves evidence."""
        _require_aware(started_at, "started_at")
        with self._write("begin run") as conn:
            result = conn.execute(
                insert(RUNS).values(
                    mode=mode, status=RunStatus.RUNNING.value, started_at=started_at
                )
            )
            key = result.inserted_primary_key
            if key is None:  # pragma: no cover - every supported backend reports it
                raise StorageError("the database did not report the new run's id")
            return int(key[0])

    def abort_stale_runs(self, now: datetime | None = None) -> int:
        """Mark runs left ``running`` by a crashed process as ``aborted``; returns how many.

        Call it at start-up, before this process begins a run of its own.
        """
        now = now or datetime.now(UTC)
        _require_aware(now, "now")
        with self._write("abort stale runs") as conn:
            result = conn.execute(
                update(RUNS)
                .where(RUNS.c.status == RunStatus.RUNNING.value)
                .values(
                    status=RunStatus.ABORTED.value,
                    finished_at=now,
                    error="aborted: the process stopped before the run was recorded",
                )
            )
            return int(result.rowcount)

    def fail_run(self, run_id: int, error: str, *, finished_at: datetime) -> None:
        """Finish a run that could not be recorded (engine crash, storage refused) as ``failed``."""
        _require_aware(finished_at, "finished_at")
        with self._write("fail run") as conn:
            conn.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id, RUNS.c.status == RunStatus.RUNNING.value)
                .values(status=RunStatus.FAILED.value, finished_at=finished_at, error=error)
            )

    def record_run(
        self,
        run_id: int,
        result: RunResult,
        *,
        now: datetime,
        reminder_after: timedelta = DEFAULT_REMINDER,
        record_hashes: Mapping[tuple[str, str], Mapping[str, str]] | None = None,
    ) -> RunOutcome:
        """Commit everything a run found, in one transaction (see the module docstring).

        ``record_hashes`` maps (system, entity) to {key: hash} for systems without a change
        log; like cursors, they are committed only with the run.
        """
        _require_aware(now, "now")
        found: dict[str, Discrepancy] = {d.id: d for d in result.discrepancies}
        with paused_gc(), self._write("record run") as conn:
            status = conn.execute(select(RUNS.c.status).where(RUNS.c.id == run_id)).scalar()
            if status is None:
                raise StorageError(f"run {run_id} does not exist")
            if status != RunStatus.RUNNING.value:
                raise StorageError(f"run {run_id} is {status}, not running: it cannot be recorded")

            with WriteBehind() as behind:
                recorder = RunRecorder(conn, run_id, now, reminder_after, behind)
                recorder.write_sources(result.sources)
                checkpoint("record_run.sources")
                views = recorder.write_discrepancies(found, result.scopes)
                checkpoint("record_run.discrepancies")
                event_ids = recorder.write_events()
                checkpoint("record_run.events")
                recorder.write_cursors(result.cursors)
                recorder.write_changes(result.changes)
                for (system, entity), hashes in (record_hashes or {}).items():
                    write_record_hashes(conn, system, entity, hashes)

                tally = recorder.tally
                conn.execute(
                    update(RUNS)
                    .where(RUNS.c.id == run_id)
                    .values(
                        status=result.status.value,
                        finished_at=result.finished_at,
                        records=result.records,
                        values_compared=result.values_compared,
                        discrepancies=len(found),
                        opened=tally[EventType.OPENED],
                        resolved=recorder.resolved,
                        reopened=tally[EventType.REOPENED],
                        by_kind=dict(recorder.kinds),
                    )
                )
                checkpoint("record_run.before_commit")

        if self._wal is not None:
            self._wal.start()  # the run's WAL goes into the database file while the caller goes on
        statuses = recorder.statuses
        return RunOutcome(
            run_id=run_id,
            status=result.status.value,
            opened=tally[EventType.OPENED],
            reopened=tally[EventType.REOPENED],
            resolved=recorder.resolved,
            reminders=tally[EventType.REMINDER],
            pending=statuses[lifecycle.PENDING],
            open=statuses[lifecycle.OPEN],
            acknowledged=statuses[lifecycle.ACKNOWLEDGED],
            event_ids=event_ids,
            discrepancies=views,
            json_texts=recorder.json_texts,
        )

    # -- discrepancies ----------------------------------------------------------------------

    def discrepancies(self, filters: DiscrepancyFilter | None = None) -> list[DiscrepancyView]:
        """Stored discrepancies matching ``filters`` (default: status open), most severe first."""
        f = filters or DiscrepancyFilter()
        d = DISCREPANCIES
        query: Select[Any] = select(d)
        statuses = f.statuses()
        if statuses is not None:
            query = query.where(d.c.status.in_(sorted(statuses)))
        query = _filter_common(query, d, f)
        if f.since is not None:
            query = query.where(d.c.detected_at >= f.since)
        query = query.order_by(
            _SEVERITY_ORDER.desc(), d.c.entity, d.c.field, d.c.system, d.c.key, d.c.id
        )
        if f.limit is not None:
            query = query.limit(f.limit)
        with self._read("read discrepancies") as conn:
            return [DiscrepancyView.from_row(row._mapping) for row in conn.execute(query)]

    def get_discrepancy(self, id_or_prefix: str) -> DiscrepancyView | None:
        """The discrepancy with this id or unique id prefix; None when there is none.

        Raises :class:`AmbiguousIdError` when the prefix matches several.
        """
        with self._read("read discrepancy") as conn:
            row = _find_discrepancy(conn, id_or_prefix)
        return None if row is None else DiscrepancyView.from_row(row._mapping)

    def acknowledge(
        self, id_or_prefix: str, note: str | None = None, *, now: datetime
    ) -> DiscrepancyView:
        """Acknowledge a current discrepancy: it stays open, reminders stop.

        Raises :class:`DiscrepancyNotFoundError` (also for a resolved one: there is nothing to
        acknowledge) or :class:`AmbiguousIdError`.
        """
        _require_aware(now, "now")
        with self._write("acknowledge discrepancy") as conn:
            row = _find_discrepancy(conn, id_or_prefix)
            if row is None:
                raise DiscrepancyNotFoundError(f"no discrepancy with id {id_or_prefix!r}")
            if row.status == lifecycle.RESOLVED:
                raise DiscrepancyNotFoundError(
                    f"discrepancy {row.id} is resolved: there is nothing to acknowledge"
                )
            conn.execute(
                update(DISCREPANCIES)
                .where(DISCREPANCIES.c.id == row.id)
                .values(status=lifecycle.ACKNOWLEDGED, ack_note=note, acked_at=now)
            )
            updated = conn.execute(select(DISCREPANCIES).where(DISCREPANCIES.c.id == row.id)).one()
        return DiscrepancyView.from_row(updated._mapping)

    def discrepancy_counts(self) -> dict[tuple[str, str, str], int]:
        """Current (not resolved) discrepancies by (status, kind, severity), for metrics."""
        d = DISCREPANCIES
        query = (
            select(d.c.status, d.c.kind, d.c.severity, func.count())
            .where(d.c.status != lifecycle.RESOLVED)
            .group_by(d.c.status, d.c.kind, d.c.severity)
        )
        with self._read("count discrepancies") as conn:
            return {(r[0], r[1], r[2]): int(r[3]) for r in conn.execute(query)}

    # -- runs (reads) -------------------------------------------------------------------------

    def runs(self, limit: int | None = 20) -> list[RunView]:
        """The newest runs first, each with its source reports."""
        query = select(RUNS).order_by(RUNS.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._read("read runs") as conn:
            return self._with_sources(conn, list(conn.execute(query)))

    def last_run(
        self, *, mode: str | None = None, status: str | Collection[str] | None = None
    ) -> RunView | None:
        """The newest run, optionally of one mode and/or with one of some statuses."""
        query = select(RUNS).order_by(RUNS.c.id.desc()).limit(1)
        if mode is not None:
            query = query.where(RUNS.c.mode == mode)
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            query = query.where(RUNS.c.status.in_(wanted))
        with self._read("read last run") as conn:
            views = self._with_sources(conn, list(conn.execute(query)))
        return views[0] if views else None

    def get_run(self, run_id: int) -> RunView | None:
        with self._read("read run") as conn:
            rows = list(conn.execute(select(RUNS).where(RUNS.c.id == run_id)))
            views = self._with_sources(conn, rows)
        return views[0] if views else None

    @staticmethod
    def _with_sources(conn: Connection, rows: list[Row[Any]]) -> list[RunView]:
        ids = [row.id for row in rows]
        by_run: dict[int, list[SourceView]] = {run_id: [] for run_id in ids}
        if ids:
            query = (
                select(RUN_SOURCES)
                .where(RUN_SOURCES.c.run_id.in_(ids))
                .order_by(RUN_SOURCES.c.run_id, RUN_SOURCES.c.entity, RUN_SOURCES.c.system)
            )
            for source in conn.execute(query):
                by_run[source.run_id].append(SourceView.from_row(source._mapping))
        return [RunView.from_row(row._mapping, by_run[row.id]) for row in rows]

    def last_ok_source_counts(self) -> dict[tuple[str, str], int]:
        """(system, entity) -> records read in the last run where that source was ok.

        The engine compares a new read against it to call a source suspect (far fewer records
        than its last good run).
        """
        s = RUN_SOURCES
        last_ok = (
            select(s.c.system, s.c.entity, func.max(s.c.run_id).label("run_id"))
            .where(s.c.status == SourceStatus.OK.value)
            .group_by(s.c.system, s.c.entity)
            .subquery()
        )
        query = select(s.c.system, s.c.entity, s.c.records).join(
            last_ok,
            and_(
                s.c.system == last_ok.c.system,
                s.c.entity == last_ok.c.entity,
                s.c.run_id == last_ok.c.run_id,
            ),
        )
        with self._read("read last good source counts") as conn:
            return {(r.system, r.entity): int(r.records) for r in conn.execute(query)}

    # -- cursors, observed changes, record hashes ----------------------------------------------

    def cursor(self, system: str, entity: str) -> str | None:
        """Where (system, entity)'s change log resumes; None before its first successful run."""
        query = select(CURSORS.c.value).where(
            CURSORS.c.system == system, CURSORS.c.entity == entity
        )
        with self._read("read cursor") as conn:
            value = conn.execute(query).scalar()
        return None if value is None else str(value)

    def delete_cursor(self, system: str, entity: str) -> str | None:
        """Forget (system, entity)'s change-log cursor; returns the value it held (None: none).

        The next run then reads the change log as on its first run (``settings.change_window``).
        """
        where = and_(CURSORS.c.system == system, CURSORS.c.entity == entity)
        with self._write("reset cursor") as conn:
            value = conn.execute(select(CURSORS.c.value).where(where)).scalar()
            if value is not None:
                conn.execute(delete(CURSORS).where(where))
        return None if value is None else str(value)

    def cursors(self) -> dict[tuple[str, str], str]:
        with self._read("read cursors") as conn:
            return {
                (r.system, r.entity): r.value
                for r in conn.execute(select(CURSORS.c.system, CURSORS.c.entity, CURSORS.c.value))
            }

    def observed_changes(
        self, since: datetime | None = None, *, entity: str | None = None
    ) -> list[ObservedChange]:
        """Observed change-log writes, oldest first (evidence for ``discover``)."""
        c = OBSERVED_CHANGES
        query = select(c).order_by(c.c.changed_at, c.c.id)
        if since is not None:
            query = query.where(c.c.changed_at >= since)
        if entity is not None:
            query = query.where(c.c.entity == entity)
        with self._read("read observed changes") as conn:
            return [
                ObservedChange(
                    entity=r.entity,
                    field=r.field,
                    system=r.system,
                    acting_system=r.acting_system,
                    actor=r.actor,
                    changed_at=r.changed_at,
                )
                for r in conn.execute(query)
            ]

    def prune_observed_changes(self, older_than: datetime) -> int:
        """Delete observed changes from before ``older_than`` (retention); returns how many."""
        _require_aware(older_than, "older_than")
        with self._write("prune observed changes") as conn:
            result = conn.execute(
                delete(OBSERVED_CHANGES).where(OBSERVED_CHANGES.c.changed_at < older_than)
            )
            return int(result.rowcount)

    def record_hashes(
        self, system: str, entity: str, keys: Iterable[str] | None = None
    ) -> dict[str, str]:
        """Stored record hashes of (system, entity): all of them, or those of ``keys``."""
        h = RECORD_HASHES
        base = select(h.c.key, h.c.hash).where(h.c.system == system, h.c.entity == entity)
        with self._read("read record hashes") as conn:
            if keys is None:
                return {r.key: r.hash for r in conn.execute(base)}
            out: dict[str, str] = {}
            for chunk in chunks(list(dict.fromkeys(keys))):
                out.update((r.key, r.hash) for r in conn.execute(base.where(h.c.key.in_(chunk))))
            return out

    def put_record_hashes(
        self, system: str, entity: str, hashes: Mapping[str, str], *, replace: bool = False
    ) -> None:
        """Upsert record hashes; ``replace`` also forgets keys not in ``hashes`` (a full read).

        Prefer ``record_run(..., record_hashes=...)``, which commits them with the run.
        """
        with self._write("write record hashes") as conn:
            if replace:
                conn.execute(
                    delete(RECORD_HASHES).where(
                        RECORD_HASHES.c.system == system, RECORD_HASHES.c.entity == entity
                    )
                )
            write_record_hashes(conn, system, entity, hashes)

    # -- the alert outbox (reads) -----------------------------------------------------------

    def events(
        self,
        since: datetime | None = None,
        filters: DiscrepancyFilter | None = None,
        limit: int | None = None,
        *,
        after_id: int | None = None,
        event_types: Collection[str] = (),
        run_id: int | None = None,
    ) -> list[EventView]:
        """Outbox events in id order, each with its deliveries.

        ``filters`` apply to the snapshot taken when the event was written (default status
        ``all``; ``open`` selects opened/reopened/reminder events, ``resolved`` resolutions;
        source events match only ``all``). With ``after_id`` (``alerts --follow``) the first
        ``limit`` events after it are returned; otherwise the newest ``limit``.
        """
        f = filters or DiscrepancyFilter(status="all")
        e = ALERT_EVENTS
        query: Select[Any] = select(e)
        since = since or f.since
        if since is not None:
            query = query.where(e.c.at >= since)
        statuses = f.statuses()
        if statuses is not None:
            query = query.where(e.c.status.in_(sorted(statuses)), e.c.discrepancy_id.is_not(None))
        query = _filter_common(query, e, f)
        if event_types:
            query = query.where(e.c.event.in_(list(event_types)))
        if run_id is not None:
            query = query.where(e.c.run_id == run_id)
        limit = limit if limit is not None else f.limit
        newest_first = after_id is None and limit is not None
        if after_id is not None:
            query = query.where(e.c.id > after_id)
        query = query.order_by(e.c.id.desc() if newest_first else e.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self._read("read alert events") as conn:
            rows = list(conn.execute(query))
            if newest_first:
                rows.reverse()
            deliveries: dict[int, list[DeliveryView]] = {row.id: [] for row in rows}
            for chunk in chunks(list(deliveries)):
                dq = select(ALERT_DELIVERIES).where(ALERT_DELIVERIES.c.event_id.in_(chunk))
                for d in conn.execute(
                    dq.order_by(ALERT_DELIVERIES.c.event_id, ALERT_DELIVERIES.c.sink)
                ):
                    deliveries[d.event_id].append(
                        DeliveryView(
                            sink=d.sink,
                            status=d.status,
                            attempts=d.attempts,
                            next_attempt_at=d.next_attempt_at,
                            last_error=d.last_error,
                            delivered_at=d.delivered_at,
                        )
                    )
        return [
            EventView(
                id=row.id,
                at=row.at,
                event=row.event,
                run_id=row.run_id,
                discrepancy_id=row.discrepancy_id,
                payload=row.payload,
                deliveries=tuple(deliveries[row.id]),
            )
            for row in rows
        ]


def _filter_common(query: Select[Any], table: Table, f: DiscrepancyFilter) -> Select[Any]:
    if f.entities:
        query = query.where(table.c.entity.in_(list(f.entities)))
    if f.fields:
        query = query.where(table.c.field.in_(list(f.fields)))
    if f.systems:
        query = query.where(table.c.system.in_(list(f.systems)))
    if f.kinds:
        query = query.where(table.c.kind.in_(list(f.kinds)))
    severities = f.severities()
    if severities is not None:
        query = query.where(table.c.severity.in_(list(severities)))
    return query


def _find_discrepancy(conn: Connection, id_or_prefix: str) -> Row[Any] | None:
    wanted = id_or_prefix.strip().lower()
    if not _HEX.fullmatch(wanted):
        return None
    d = DISCREPANCIES
    exact = conn.execute(select(d).where(d.c.id == wanted)).first()
    if exact is not None:
        return exact
    rows = list(conn.execute(select(d).where(d.c.id.like(wanted + "%")).order_by(d.c.id).limit(5)))
    if len(rows) > 1:
        raise AmbiguousIdError(wanted, [r.id for r in rows])
    return rows[0] if rows else None
