"""The daemon's Prometheus metrics, in a registry of its own (never the global one).

==========================================================  =====================================
``fieldwarden_runs_total{mode,status}``                     runs recorded by this process
``fieldwarden_run_duration_seconds{mode}``                  histogram of run wall time
``fieldwarden_open_discrepancies{kind,severity,status}``    current (not resolved) discrepancies
``fieldwarden_source_last_success_timestamp_seconds``       last read of each {system,entity} that
                                                            was ok (seeded from the stored runs)
``fieldwarden_alert_deliveries{sink,status}``               outbox deliveries by status
``fieldwarden_jobs_skipped_total{job,reason}``              runs skipped (overlap, busy, missed)
``fieldwarden_job_failures_total{job}``                     jobs that raised (storage, bugs)
==========================================================  =====================================

Discrepancy and delivery counts are read from the store after each run and dispatch, not at
scrape time, so a scrape never touches the database.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import func, select

from detector.service import RunReport
from detector.storage import Store
from detector.storage.models import ALERT_DELIVERIES

__all__ = ["Metrics", "delivery_counts"]


def delivery_counts(store: Store) -> dict[tuple[str, str], int]:
    """(sink, status) -> deliveries in the outbox."""
    query = select(ALERT_DELIVERIES.c.sink, ALERT_DELIVERIES.c.status, func.count()).group_by(
        ALERT_DELIVERIES.c.sink, ALERT_DELIVERIES.c.status
    )
    # The store has no public aggregate for deliveries yet; this is a read-only query through
    # its read transaction (same error translation as every other read).
    with store._read("count alert deliveries") as conn:
        return {(str(r[0]), str(r[1])): int(r[2]) for r in conn.execute(query)}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.runs = Counter(
            "fieldwarden_runs",
            "Runs recorded, by mode and status.",
            ["mode", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "fieldwarden_run_duration_seconds",
            "Wall time of a run, by mode.",
            ["mode"],
            buckets=(0.1, 0.5, 1, 2.5, 5, 15, 30, 60, 300, 900, 1800, 3600),
            registry=self.registry,
        )
        self.discrepancies = Gauge(
            "fieldwarden_open_discrepancies",
            "Current (not resolved) discrepancies by kind, severity and status.",
            ["kind", "severity", "status"],
            registry=self.registry,
        )
        self.source_last_success = Gauge(
            "fieldwarden_source_last_success_timestamp_seconds",
            "Unix time of the last read of each source that was ok.",
            ["system", "entity"],
            registry=self.registry,
        )
        self.deliveries = Gauge(
            "fieldwarden_alert_deliveries",
            "Alert deliveries in the outbox, by sink and status (pending, delivered, dead).",
            ["sink", "status"],
            registry=self.registry,
        )
        self.skipped = Counter(
            "fieldwarden_jobs_skipped",
            "Job runs skipped, by job and reason.",
            ["job", "reason"],
            registry=self.registry,
        )
        self.failures = Counter(
            "fieldwarden_job_failures",
            "Jobs that raised an error, by job.",
            ["job"],
            registry=self.registry,
        )

    def observe_run(self, report: RunReport) -> None:
        result = report.result
        self.runs.labels(result.mode, report.outcome.status).inc()
        self.duration.labels(result.mode).observe(
            max((result.finished_at - result.started_at).total_seconds(), 0.0)
        )
        finished = result.finished_at.timestamp()
        for source in result.sources:
            if str(source.status) == "ok":
                self.source_last_success.labels(source.system, source.entity).set(finished)

    def refresh(self, store: Store) -> None:
        counts = store.discrepancy_counts()
        self.discrepancies.clear()
        for (status, kind, severity), count in counts.items():
            self.discrepancies.labels(kind, severity, status).set(count)
        self.refresh_deliveries(store)

    def refresh_deliveries(self, store: Store) -> None:
        counts = delivery_counts(store)
        self.deliveries.clear()
        for (sink, status), count in counts.items():
            self.deliveries.labels(sink, status).set(count)

    def seed(self, store: Store, runs: int = 200) -> None:
        """Last good read per source from the stored history, then the current counts."""
        latest: dict[tuple[str, str], float] = {}
        for run in store.runs(limit=runs):
            finished: Any = run.finished_at
            if finished is None:
                continue
            for source in run.sources:
                if source.status == "ok":
                    key = (source.system, source.entity)
                    latest[key] = max(latest.get(key, 0.0), finished.timestamp())
        for (system, entity), ts in latest.items():
            self.source_last_success.labels(system, entity).set(ts)
        self.refresh(store)
