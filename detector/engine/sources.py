"""Reading every source of a run, turning each failure into a located report instead of a crash.

A source that fails, returns nothing, or returns far fewer records than its last good run is not
evidence that records were deleted: it is marked failed or suspect, and the diff engine then
reports no missing/orphan keys against it (an outage is not a deletion).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import structlog

from connectors.base import Connector, ConnectorContext, KeyTuple, ResourceSpec, SourceFrame
from detector.config import Config
from detector.errors import SourceError
from detector.model import SourceReport, SourceStatus
from detector.secrets import redact

__all__ = ["ConnectorPool", "SourceRead", "read_source"]

log = structlog.get_logger()
MAX_PROBLEM_SAMPLES = 5


@dataclass(slots=True)
class SourceRead:
    spec: ResourceSpec
    frame: SourceFrame | None
    report: SourceReport


class ConnectorPool:
    """One connector instance per system for the length of a run; closed together at the end.

    Safe to share between threads: an incremental run reads an entity's systems side by side.
    """

    def __init__(self, config: Config, context: ConnectorContext | None = None) -> None:
        self._config = config
        self._context = context or ConnectorContext(base_dir=config.base_dir)
        self._open: dict[str, Connector] = {}
        self._lock = threading.Lock()

    def get(self, system: str) -> Connector:
        with self._lock:
            connector = self._open.get(system)
            if connector is None:
                settings = self._config.systems[system]
                connector = settings.connector_class(system, settings.options, self._context)
                self._open[system] = connector
            return connector

    def close(self) -> None:
        for system, connector in self._open.items():
            try:
                connector.close()
            except Exception as exc:  # closing must never hide the run's own outcome
                log.warning("connector_close_failed", system=system, error=str(exc))
        self._open.clear()


def _error_text(exc: BaseException) -> str:
    return redact(str(exc)) or type(exc).__name__


def read_source(
    pool: ConnectorPool,
    spec: ResourceSpec,
    *,
    last_good: int | None,
    suspect_below: float,
    keys: Collection[KeyTuple] | None = None,
    on_progress: Callable[[str, str], None] | None = None,
) -> SourceRead:
    """Read one (system, entity); never raises for a source problem."""
    started = time.perf_counter()
    report = SourceReport(system=spec.system, entity=spec.entity, status=SourceStatus.OK)
    if on_progress is not None:
        on_progress(spec.system, spec.entity)
    try:
        frame = pool.get(spec.system).read(spec, keys=keys)
    except SourceError as exc:
        report.status = SourceStatus.FAILED
        report.error = _error_text(exc)
        report.error_kind = exc.status_label
        report.duration_s = time.perf_counter() - started
        log.warning(
            "source_failed",
            system=spec.system,
            entity=spec.entity,
            error=report.error,
            kind=report.error_kind,
        )
        return SourceRead(spec, None, report)
    except Exception as exc:  # a connector bug must fail this source, not the whole run
        report.status = SourceStatus.FAILED
        report.error = f"{type(exc).__name__}: {_error_text(exc)}"
        report.error_kind = "connector_error"
        report.duration_s = time.perf_counter() - started
        log.error("source_crashed", system=spec.system, entity=spec.entity, error=report.error)
        return SourceRead(spec, None, report)
    report.duration_s = time.perf_counter() - started
    report.records = frame.height
    report.problems = len(frame.problems)
    report.problem_samples = [_error_text(p) for p in frame.problems[:MAX_PROBLEM_SAMPLES]]
    if not frame.complete:
        report.status = SourceStatus.INCOMPLETE
        report.error = "the source returned fewer records than it declared"
        report.error_kind = "incomplete"
    elif keys is None and last_good:
        if frame.height == 0:
            report.status = SourceStatus.SUSPECT
            report.error = f"returned no records (last good run: {last_good})"
            report.error_kind = "suspect_empty"
        elif frame.height < suspect_below * last_good:
            report.status = SourceStatus.SUSPECT
            report.error = f"returned {frame.height} records, below {suspect_below:.0%} of the last good run ({last_good})"
            report.error_kind = "suspect_shrunk"
    if report.status is not SourceStatus.OK:
        log.warning(
            "source_not_trusted", system=spec.system, entity=spec.entity, reason=report.error_kind
        )
    log.info(
        "source_read",
        system=spec.system,
        entity=spec.entity,
        records=frame.height,
        problems=report.problems,
        seconds=round(report.duration_s, 3),
    )
    return SourceRead(spec, frame, report)


def last_good_count(counts: Mapping[tuple[str, str], int], system: str, entity: str) -> int | None:
    return counts.get((system, entity))
