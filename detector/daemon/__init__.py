"""The daemon behind ``fieldwarden run``: APScheduler jobs, locks, health and metrics.

* ``daemon.py``: the ``Daemon`` (start-up, scheduler, jobs, clean stop);
* ``schedule.py``: the config's ``schedule`` as jobs and triggers, and the misfire policy;
* ``incremental.py``: the incremental job (changed keys from change logs or record hashes);
* ``health.py`` / ``metrics.py``: ``/healthz`` and Prometheus ``/metrics``.

The locks (one daemon per storage, one run at a time) live in ``detector.locking`` because
``reconcile`` takes the run lock too.
"""

from detector.daemon.daemon import DEFAULT_SHUTDOWN_TIMEOUT_S, Daemon
from detector.daemon.incremental import collect_changes, run_incremental
from detector.daemon.schedule import JobPlan, plan_jobs

__all__ = [
    "DEFAULT_SHUTDOWN_TIMEOUT_S",
    "Daemon",
    "JobPlan",
    "collect_changes",
    "plan_jobs",
    "run_incremental",
]
