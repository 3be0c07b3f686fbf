"""``fieldwarden run``: the scheduler, its jobs, the locks, and a clean stop.

Start-up, in order: take the daemon lock (a second daemon on the same storage is refused),
open and migrate the store, mark runs left ``running`` by a crash as ``aborted`` (under the run
lock, so a one-off reconcile's live run is never touched), seed the metrics, plan the jobs
(``schedule.py``), start the HTTP server when asked, and hand the main thread to APScheduler's
``BlockingScheduler``.

Jobs run in a one-thread executor ("runs"), so full and incremental runs of this daemon follow
each other; the dispatch job has its own thread and a lock shared with the runs' own delivery.
``coalesce`` and ``max_instances=1`` hold for every job: a run due while the previous one of the
same job still runs is skipped and logged ``job_skipped``. Every run also takes the storage's
run lock (``detector.locking``), which a one-off ``reconcile`` takes too.

Stop: SIGTERM or SIGINT shuts the scheduler down (queued jobs are skipped); the running job
gets ``shutdown_timeout`` seconds to finish, and the process exits 0. If it is still running
then, the process exits 0 at once: the database rolls the open transaction back, the run row
stays ``running`` and the next start marks it ``aborted``, and the cursors stay where they were
(they are committed only with a run). A second signal exits at once the same way.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from types import FrameType
from typing import Any

import structlog
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
    SchedulerEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from tzlocal import get_localzone

from detector.config import Config
from detector.daemon.health import Health, HealthServer
from detector.daemon.incremental import run_incremental
from detector.daemon.metrics import Metrics
from detector.daemon.schedule import JobPlan, plan_jobs
from detector.errors import LockedError
from detector.locking import DaemonLock, run_lock
from detector.service import RunReport, run_once
from detector.storage import Store
from detector.storage.store import checkpoint

__all__ = ["DEFAULT_JOB_LOCK_WAIT_S", "DEFAULT_SHUTDOWN_TIMEOUT_S", "Daemon"]

log = structlog.get_logger()

DEFAULT_SHUTDOWN_TIMEOUT_S = 8.0
"""Below Docker's default 10 s stop grace period, so we exit before a SIGKILL."""
DEFAULT_JOB_LOCK_WAIT_S = 60.0
"""How long a daemon job waits for a one-off reconcile to finish before skipping its turn."""


class Daemon:
    def __init__(
        self,
        config: Config,
        *,
        http: tuple[str, int] | None = None,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT_S,
        lock_wait: float = DEFAULT_JOB_LOCK_WAIT_S,
        timezone: tzinfo | None = None,
        install_signals: bool = True,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.http = http
        self.shutdown_timeout = shutdown_timeout
        self.lock_wait = lock_wait
        self.timezone = timezone or get_localzone()
        self.install_signals = install_signals
        self.now = now
        self.health = Health()
        self.metrics = Metrics()
        self.plans: dict[str, JobPlan] = {}
        self.scheduler: BlockingScheduler | None = None
        self.server: HealthServer | None = None
        self._store: Store | None = None
        self._lock = DaemonLock(config.storage_url)
        self._stop = threading.Event()
        self._done = threading.Event()
        self._active = 0
        self._active_cond = threading.Condition()
        self._dispatch_lock = threading.Lock()
        self._alerts_missing_logged = False

    @property
    def store(self) -> Store:
        assert self._store is not None, "the daemon is not started"
        return self._store

    # -- lifecycle ------------------------------------------------------------------------------

    def run(self) -> int:
        """Run until stopped; returns the exit code (0). Raises ``LockedError`` when refused."""
        self._lock.acquire()
        try:
            self._store = Store.open(self.config.storage_url)
            with run_lock(self.config.storage_url).hold(self.lock_wait, purpose="start-up"):
                stale = self.store.abort_stale_runs(self.now())
            if stale:
                log.warning("stale_runs_aborted", count=stale)
            self.metrics.seed(self.store)
            self.scheduler = self._build_scheduler()
            if self.http is not None:
                self.server = HealthServer(self.http[0], self.http[1], self.health, self.metrics)
                self.server.start()
            if self.install_signals:
                self._install_signals()
            threading.Thread(target=self._stopper, name="fieldwarden-stopper", daemon=True).start()
            log.info(
                "daemon_started",
                pid=os.getpid(),
                storage=self.store.url,
                jobs={p.id: p.describe for p in self.plans.values()},
                timezone=str(self.timezone),
            )
            if not self._stop.is_set():
                self.health.scheduler_running = True
                self.scheduler.start()  # blocks until the stopper shuts it down
            self.health.scheduler_running = False
            self._done.set()
            if not self._wait_idle(self.shutdown_timeout):
                log.warning(
                    "shutdown_timeout",
                    seconds=self.shutdown_timeout,
                    detail="the running job is abandoned: its transaction rolls back and the next start marks its run aborted",
                )
                self._hard_exit()
            log.info("daemon_stopped")
            return 0
        finally:
            self._done.set()
            if self.server is not None:
                self.server.stop()
            if self._store is not None:
                self._store.close()
            self._lock.release()

    def request_stop(self, reason: str = "requested") -> None:
        """Stop the scheduler (thread-safe; what SIGTERM/SIGINT do)."""
        if self._stop.is_set():
            return
        log.info("shutdown_requested", reason=reason, timeout_s=self.shutdown_timeout)
        self._stop.set()

    def _stopper(self) -> None:
        """Shut the scheduler down from a thread of its own once a stop is requested."""
        self._stop.wait()
        while not self._done.is_set():
            scheduler = self.scheduler
            if scheduler is not None:
                try:
                    scheduler.shutdown(wait=False)
                    return
                except SchedulerNotRunningError:
                    pass  # not started yet: run() sees the flag, or start() is about to run
            time.sleep(0.05)

    def _install_signals(self) -> None:
        def on_signal(signum: int, _frame: FrameType | None) -> None:
            name = signal.Signals(signum).name
            if self._stop.is_set():
                log.warning("shutdown_forced", signal=name)
                self._hard_exit()
            self.request_stop(name)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    def _wait_idle(self, timeout: float) -> bool:
        with self._active_cond:
            return self._active_cond.wait_for(lambda: self._active == 0, timeout=timeout)

    @staticmethod
    def _hard_exit() -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(0)

    # -- scheduling -----------------------------------------------------------------------------

    def _build_scheduler(self) -> BlockingScheduler:
        scheduler = BlockingScheduler(
            timezone=self.timezone,
            executors={
                "default": ThreadPoolExecutor(1),  # runs: one at a time in this daemon
                "dispatch": ThreadPoolExecutor(1),
            },
            job_defaults={"coalesce": True, "max_instances": 1},
        )  # the default job store is a MemoryJobStore: never shared between schedulers
        scheduler.add_listener(
            self._on_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED | EVENT_JOB_ERROR
        )
        now = self.now()
        for plan in plan_jobs(self.config, self.timezone, now):
            self.plans[plan.id] = plan
            self.health.register(plan.id, plan.period.total_seconds())
            scheduler.add_job(
                self._run_job,
                trigger=plan.trigger,
                args=[plan.id],
                id=plan.id,
                name=plan.id,
                executor="dispatch" if plan.kind == "dispatch" else "default",
                misfire_grace_time=int(plan.misfire_grace.total_seconds()),
                next_run_time=self._first_run(plan, now),
            )

        def next_run(job_id: str) -> datetime | None:
            job = scheduler.get_job(job_id)
            return None if job is None else job.next_run_time

        self.health.next_run = next_run
        return scheduler

    def _first_run(self, plan: JobPlan, now: datetime) -> datetime | None:
        """Incremental and dispatch jobs start at once; a full job catches up a missed run.

        The job store is in memory, so after downtime the store's run history says whether a
        full run was missed: if the last one started more than a period ago, one runs now
        (coalesced: one, however many were missed). Otherwise the trigger decides.
        """
        if plan.kind != "full":
            return now
        last = self.store.last_run(mode="full", status=("ok", "partial", "failed"))
        if last is None or last.started_at < now - plan.period:
            log.info(
                "full_catch_up",
                job=plan.id,
                last_full_run_id=last.id if last else None,
                hours_since=round((now - last.started_at).total_seconds() / 3600, 2)
                if last
                else None,
            )
            return now
        fire: datetime | None = plan.trigger.get_next_fire_time(None, now)
        return fire

    def _on_event(self, event: SchedulerEvent) -> None:
        job_id = getattr(event, "job_id", "?")
        if event.code == EVENT_JOB_MAX_INSTANCES:
            assert isinstance(event, JobSubmissionEvent)
            log.warning(
                "job_skipped",
                job=job_id,
                reason="previous run still running",
            )
            self.metrics.skipped.labels(job_id, "overlap").inc()
        elif event.code == EVENT_JOB_MISSED:
            assert isinstance(event, JobExecutionEvent)
            log.warning(
                "job_missed",
                job=job_id,
                reason="later than its misfire grace time",
            )
            self.metrics.skipped.labels(job_id, "missed").inc()
        elif event.code == EVENT_JOB_ERROR:  # _run_job catches everything; a bug if seen
            log.error("job_crashed", job=job_id, error=str(getattr(event, "exception", "")))

    # -- jobs -------------------------------------------------------------------------------------

    def _run_job(self, job_id: str) -> None:
        plan = self.plans[job_id]
        if self._stop.is_set():
            log.info("job_skipped", job=job_id, reason="shutting down")
            return
        with self._active_cond:
            self._active += 1
        self.health.started(job_id)
        started = time.monotonic()
        status, completed = "error", False
        if plan.kind != "dispatch":
            log.info("job_started", job=job_id)
        try:
            checkpoint(f"daemon.{plan.kind}.start")
            self._lock.ensure()
            status = self._execute(plan)
            completed = True
        except LockedError as exc:
            status = "skipped"
            log.warning("job_skipped", job=job_id, reason="storage busy", error=str(exc))
            self.metrics.skipped.labels(job_id, "storage_busy").inc()
        except Exception as exc:
            log.error("job_failed", job=job_id, error=f"{type(exc).__name__}: {exc}")
            self.metrics.failures.labels(job_id).inc()
        finally:
            self.health.finished(job_id, status, completed=completed)
            if plan.kind != "dispatch" or not completed:
                log.info(
                    "job_finished",
                    job=job_id,
                    status=status,
                    seconds=round(time.monotonic() - started, 3),
                )
            with self._active_cond:
                self._active -= 1
                self._active_cond.notify_all()

    def _execute(self, plan: JobPlan) -> str:
        if plan.kind == "dispatch":
            self._dispatch()
            return "ok"
        report: RunReport | None
        if plan.kind == "full":
            report = run_once(
                self.config,
                entities=plan.entities,
                deliver_alerts=False,
                store=self.store,
                now=self.now,
                lock_wait=self.lock_wait,
            )
        else:
            outcome = run_incremental(
                self.config, plan.entities[0], self.store, lock_wait=self.lock_wait, now=self.now
            )
            report = outcome.report
        if report is None:
            return "no_changes"
        self.metrics.observe_run(report)
        self._dispatch()
        self.metrics.refresh(self.store)
        return report.outcome.status

    def _dispatch(self) -> None:
        """Deliver the alert outbox (``detector.alerts.dispatch``), one dispatcher at a time."""
        try:
            alerts: Any = importlib.import_module("detector.alerts")
        except ImportError:
            if not self._alerts_missing_logged:
                log.warning("alerts_unavailable", detail="detector.alerts is not installed")
                self._alerts_missing_logged = True
            return
        with self._dispatch_lock:
            try:
                alerts.dispatch(self.config, self.store)
            except Exception as exc:  # the outbox keeps the events; the next dispatch retries
                log.error("alert_dispatch_failed", error=f"{type(exc).__name__}: {exc}")
        with contextlib.suppress(Exception):
            self.metrics.refresh_deliveries(self.store)
