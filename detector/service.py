"""Running a reconciliation end to end: storage, engine, alerts. Used by ``reconcile`` and the daemon.

The order matters for "nothing is lost": the run row is committed as ``running`` first (a crash
leaves evidence, marked ``aborted`` at the next start), the engine reads and compares, and the
store commits the results, cursors and alert events in one transaction. Alerts are delivered only
after that commit, from the outbox, so an alert committed is an alert delivered even across a crash.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from connectors.base import KeyTuple
from detector.config import Config
from detector.engine.runner import StoredFinding, reconcile
from detector.engine.sources import ConnectorPool
from detector.errors import LockedError, StorageError
from detector.gcpause import paused_gc
from detector.locking import DEFAULT_RUN_LOCK_WAIT_S, run_lock
from detector.model import Kind, RunResult, SourceStatus

if TYPE_CHECKING:
    # The storage package (the SQLAlchemy ORM and its models) is imported by the functions that
    # open a store, not here: ``fieldwarden reconcile --help`` imports this module to build the
    # command and has no store to open.
    from detector.storage import Store
    from detector.storage.views import RunOutcome

__all__ = ["RunReport", "open_store", "run_once", "store_exists"]

log = structlog.get_logger()


@dataclass(slots=True)
class RunReport:
    result: RunResult
    outcome: RunOutcome


def store_exists(config: Config) -> bool:
    """False before the first run against a SQLite file (read-only commands then have nothing to show)."""
    from detector.storage.engine import sqlite_file  # noqa: PLC0415 - see TYPE_CHECKING above

    path = sqlite_file(config.storage_url)
    return path is None or path.exists()


@contextlib.contextmanager
def open_store(config: Config) -> Iterator[Store]:
    from detector.storage import Store  # noqa: PLC0415 - see TYPE_CHECKING above

    store = Store.open(config.storage_url)
    try:
        yield store
    finally:
        store.close()


def carried_findings(store: Store, entities: Collection[str] | None = None) -> list[StoredFinding]:
    """Known non_owner_write discrepancies: open ones are kept while the written value still disagrees."""
    from detector.storage.views import DiscrepancyFilter  # noqa: PLC0415 - see TYPE_CHECKING above

    views = store.discrepancies(DiscrepancyFilter(status="all", kinds=(str(Kind.NON_OWNER_WRITE),)))
    return [
        StoredFinding(
            key=v.key or "",
            field=v.field or "",
            owner=v.owner or "",
            system=v.system,
            entity=v.entity,
            writer=v.writer,
            changed_at=v.changed_at,
            owner_value=v.owner_value,
            system_value=v.system_value,
            resolved=v.status == "resolved",
        )
        for v in views
        if not entities or v.entity in entities
    ]


def _progress_printer(
    enabled: bool,
) -> tuple[Callable[[str, str], None] | None, Callable[[], None]]:
    if not enabled:
        return None, lambda: None
    from rich.console import Console  # noqa: PLC0415 - only interactive runs draw progress

    status = Console(stderr=True).status("reading sources")
    status.start()

    def update(system: str, entity: str) -> None:
        status.update(f"reading {system}/{entity}")

    return update, status.stop


def run_once(
    config: Config,
    *,
    entities: Sequence[str] = (),
    systems: Sequence[str] = (),
    keys: Mapping[str, Collection[KeyTuple]] | None = None,
    deliver_alerts: bool = True,
    progress: bool = False,
    store: Store | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    lock_wait: float = DEFAULT_RUN_LOCK_WAIT_S,
    cursors: Mapping[tuple[str, str], str] | None = None,
    record_hashes: Mapping[tuple[str, str], Mapping[str, str]] | None = None,
    pool: ConnectorPool | None = None,
    accept_mass_missing: bool = False,
) -> RunReport:
    """One reconciliation (full, or incremental over ``keys``), recorded in one transaction.

    The run holds the storage's run lock (``detector.locking``) from the stale-run check to the
    commit, waiting at most ``lock_wait`` seconds for another run (a daemon job, a reconcile)
    before raising ``LockedError``: runs never interleave.

    For the daemon's incremental job: ``cursors`` (change-log positions it read up to) and
    ``record_hashes`` (per (system, entity), {key: hash}) are committed with the run's results,
    and only for entities whose every source was read without error, so a failed source's
    changes are read again next time. ``pool`` lets the job hand in the connectors (and the
    snapshots) it already used.
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(paused_gc())  # see gcpause.py: a run builds nothing cyclic
        if store is None:
            store = stack.enter_context(open_store(config))
        stack.enter_context(run_lock(config.storage_url).hold(lock_wait))
        started = now()
        stale = store.abort_stale_runs(started)
        if stale:
            log.warning("stale_runs_aborted", count=stale)
        mode = "incremental" if keys is not None else "full"
        run_id = store.begin_run(mode, started)
        log.info("run_started", run_id=run_id, mode=mode)
        on_progress, stop_progress = _progress_printer(progress)
        try:
            result = reconcile(
                config,
                entities=entities or None,
                systems=systems or None,
                last_good=store.last_ok_source_counts(),
                cursors=store.cursors(),
                carried=carried_findings(store, entities or None),
                keys=keys,
                now=now,
                on_progress=on_progress,
                accept_mass_missing=accept_mass_missing,
                pool=pool,
            )
            stop_progress()
            clean = _clean_entities(result)
            # cursors advance only for entities read cleanly: otherwise their changes are read again
            result.cursors = {
                k: v for k, v in {**result.cursors, **(cursors or {})}.items() if k[1] in clean
            }
            outcome = store.record_run(
                run_id,
                result,
                now=now(),
                reminder_after=config.settings.reminder_after,
                record_hashes={k: v for k, v in (record_hashes or {}).items() if k[1] in clean}
                or None,
            )
        except BaseException as exc:
            stop_progress()
            if isinstance(exc, StorageError) and not isinstance(exc, LockedError):
                # The operational alert for a database that cannot take the run (disk full, I/O
                # error) goes to the log stream: the alert outbox lives in that very database.
                log.error("storage_write_failed", run_id=run_id, error=str(exc))
            with contextlib.suppress(Exception):
                store.fail_run(run_id, f"{type(exc).__name__}: {exc}", finished_at=now())
            raise
        pruned = store.prune_observed_changes(now() - config.settings.change_retention)
        if pruned:
            log.info("observed_changes_pruned", count=pruned)
        log.info(
            "run_finished",
            run_id=run_id,
            status=outcome.status,
            records=result.records,
            discrepancies=len(outcome.discrepancies),
            opened=outcome.opened,
            resolved=outcome.resolved,
            seconds=round((result.finished_at - result.started_at).total_seconds(), 3),
        )
        if deliver_alerts:
            _deliver(config, store)
        return RunReport(result, outcome)
    raise AssertionError("unreachable")  # pragma: no cover


def _clean_entities(result: RunResult) -> set[str]:
    """Entities whose every source (and change log) was read without error in this run."""
    entities = {s.entity for s in result.sources}
    bad = {s.entity for s in result.sources if s.status is not SourceStatus.OK or s.error_kind}
    return entities - bad


def _deliver(config: Config, store: Store) -> None:
    """Deliver the outbox now; a delivery problem never fails the run (the outbox retries)."""
    try:
        alerts = importlib.import_module("detector.alerts")
    except ImportError:
        return
    try:
        alerts.dispatch(config, store)
    except Exception as exc:
        log.error("alert_dispatch_failed", error=str(exc))
