"""``/healthz`` and ``/metrics`` on a small ``http.server`` thread.

``/healthz`` answers 200 while the scheduler runs and every job's last run finished recently
enough: within ``max(3 periods, 1 period + 60 s)`` of now (the 60 s leave room for the run
itself on one-second schedules). A job that has not run yet is measured from the daemon's
start. Otherwise 503. The JSON body gives the detail per job.

``/metrics`` is the Prometheus text format of the daemon's own registry (``Metrics``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from detector.daemon.metrics import Metrics

__all__ = ["Health", "HealthServer", "JobHealth"]

log = structlog.get_logger()

SLACK_S = 60.0


@dataclass(slots=True)
class JobHealth:
    period_s: float
    registered_at: float
    last_started: float | None = None
    last_finished: float | None = None
    last_status: str | None = None
    running: bool = False
    runs: int = 0

    @property
    def max_age_s(self) -> float:
        return max(3 * self.period_s, self.period_s + SLACK_S)


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


class Health:
    """What the jobs did, thread-safe; ``check()`` decides healthy or not."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[str, JobHealth] = {}
        self.scheduler_running = False
        self.next_run: Callable[[str], datetime | None] = lambda _job: None

    def register(self, job_id: str, period_s: float) -> None:
        with self._lock:
            self._jobs[job_id] = JobHealth(period_s, self._clock())

    def started(self, job_id: str) -> None:
        with self._lock:
            job = self._jobs[job_id]
            job.running = True
            job.last_started = self._clock()

    def finished(self, job_id: str, status: str, *, completed: bool) -> None:
        """``completed``: the job did its work (any run status); False for errors and skips."""
        with self._lock:
            job = self._jobs[job_id]
            job.running = False
            job.last_status = status
            if completed:
                job.last_finished = self._clock()
                job.runs += 1

    def check(self) -> tuple[bool, dict[str, Any]]:
        now = self._clock()
        with self._lock:
            jobs: dict[str, Any] = {}
            healthy = self.scheduler_running
            for job_id, job in self._jobs.items():
                since = job.last_finished if job.last_finished is not None else job.registered_at
                age = now - since
                ok = age <= job.max_age_s
                healthy = healthy and ok
                next_run = self.next_run(job_id)
                jobs[job_id] = {
                    "healthy": ok,
                    "running": job.running,
                    "runs": job.runs,
                    "last_status": job.last_status,
                    "last_started_at": _iso(job.last_started),
                    "last_finished_at": _iso(job.last_finished),
                    "age_s": round(age, 3),
                    "max_age_s": job.max_age_s,
                    "next_run_at": next_run.astimezone(UTC).isoformat() if next_run else None,
                }
        body = {
            "status": "ok" if healthy else "unhealthy",
            "scheduler": "running" if self.scheduler_running else "stopped",
            "jobs": jobs,
        }
        return healthy, body


class HealthServer:
    """A ``ThreadingHTTPServer`` in a daemon thread serving ``/healthz`` and ``/metrics``."""

    def __init__(self, host: str, port: int, health: Health, metrics: Metrics) -> None:
        handler = _handler(health, metrics)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fieldwarden-http", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()
        host, port = self.address
        log.info("http_listening", host=host, port=port, paths=["/healthz", "/metrics"])

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(health: Health, metrics: Metrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "fieldwarden"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                healthy, body = health.check()
                self._send(200 if healthy else 503, "application/json", json.dumps(body).encode())
            elif path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(metrics.registry))
            else:
                self._send(
                    404, "text/plain; charset=utf-8", b"not found: try /healthz or /metrics\n"
                )

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http_request", line=format % args)

    return Handler
