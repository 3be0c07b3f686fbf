"""Jobs from the config's schedule, misfire policy, DST, health and metrics."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.triggers.cron import CronTrigger
from structlog.testing import capture_logs

from detector.cli import main
from detector.config import load_config
from detector.config.models import ScheduleSpecModel
from detector.daemon import Daemon, plan_jobs
from detector.daemon.health import Health, HealthServer
from detector.daemon.metrics import Metrics
from detector.daemon.schedule import make_trigger
from detector.service import run_once
from detector.storage import Store
from tests.engine.stack import build_stack

BERLIN = ZoneInfo("Europe/Berlin")


def test_defaults_and_per_entity_schedules(tmp_path: Path) -> None:
    path = build_stack(tmp_path)
    path.write_text(
        path.read_text().replace(
            "  inventory:\n",
            "  inventory:\n    schedule: {incremental: {every: 30s}, full: {cron: '0 3 * * *'}}\n",
        ),
        encoding="utf-8",
    )
    plans = {p.id: p for p in plan_jobs(load_config(path), UTC)}
    assert set(plans) == {
        "full",
        "full:inventory",
        "incremental:product",
        "incremental:inventory",
        "dispatch",
    }
    assert plans["full"].entities == ("product",)
    assert plans["full"].describe == "cron 0 2 * * *"
    assert plans["full"].period == timedelta(days=1)
    assert plans["full"].misfire_grace == timedelta(hours=1)
    assert plans["incremental:product"].describe == "every 5m"
    assert plans["incremental:product"].misfire_grace == timedelta(minutes=5)
    assert plans["incremental:inventory"].describe == "every 30s"
    assert plans["dispatch"].describe == "every 30s"


def _fires(spec: ScheduleSpecModel, start: datetime, end: datetime) -> list[datetime]:
    """Fire times as the scheduler asks for them: previous fire, and a clock just past it."""
    trigger = make_trigger(spec, BERLIN)
    fires: list[datetime] = []
    previous: datetime | None = None
    now = start
    while (fire := trigger.get_next_fire_time(previous, now)) is not None and fire <= end:
        fires.append(fire)
        previous, now = fire, fire.astimezone(UTC) + timedelta(seconds=1)
    return fires


@pytest.mark.parametrize("cron", ["30 2 * * *", "0 2 * * *", "0 3 * * *"])
def test_a_dst_change_fires_a_nightly_job_once_per_night(cron: str) -> None:
    nightly = ScheduleSpecModel(cron=cron)  # 02:xx is skipped in March, repeated in October
    for start in (datetime(2026, 3, 27, tzinfo=BERLIN), datetime(2026, 10, 23, tzinfo=BERLIN)):
        fires = _fires(nightly, start, start + timedelta(days=4))
        days = [f.astimezone(BERLIN).date() for f in fires]
        assert len(days) == 4
        assert len(set(days)) == 4


def test_the_plain_apscheduler_cron_trigger_would_fire_twice() -> None:
    """Why ``OncePerWallClock`` exists; if APScheduler fixes it, this test says so."""
    trigger = CronTrigger.from_crontab("0 2 * * *", timezone=BERLIN)
    first = trigger.get_next_fire_time(None, datetime(2026, 10, 25, tzinfo=BERLIN))
    second = trigger.get_next_fire_time(first, first.astimezone(UTC) + timedelta(seconds=1))
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)
    assert second.astimezone(BERLIN).hour == first.astimezone(BERLIN).hour == 2


def test_health_turns_unhealthy_when_a_job_falls_behind() -> None:
    clock = [1000.0]
    health = Health(clock=lambda: clock[0])
    health.register("incremental:product", 1.0)
    health.scheduler_running = True
    assert health.check()[0]
    clock[0] += 61.5
    healthy, body = health.check()
    assert not healthy
    assert body["jobs"]["incremental:product"]["healthy"] is False
    health.started("incremental:product")
    health.finished("incremental:product", "ok", completed=True)
    assert health.check()[0]
    health.scheduler_running = False
    assert health.check() == (False, health.check()[1])


def test_http_serves_healthz_and_metrics(tmp_path: Path) -> None:
    config = load_config(build_stack(tmp_path))
    metrics = Metrics()
    with Store.open(config.storage_url) as store:
        report = run_once(config, deliver_alerts=False, store=store)
        metrics.observe_run(report)
        metrics.refresh(store)
    health = Health()
    health.register("full", 60)
    server = HealthServer("127.0.0.1", 0, health, metrics)
    server.start()
    try:
        host, port = server.address
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=5)
        assert refused.value.code == 503
        assert json.loads(refused.value.read())["scheduler"] == "stopped"
        health.scheduler_running = True
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=5) as response:
            assert response.status == 200
            assert json.loads(response.read())["jobs"]["full"]["healthy"] is True
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    finally:
        server.stop()
    assert 'fieldwarden_runs_total{mode="full",status="ok"} 1.0' in text
    assert "fieldwarden_run_duration_seconds_bucket" in text
    assert (
        'fieldwarden_open_discrepancies{kind="value_mismatch",severity="high",status="open"} 1.0'
        in text
    )
    assert (
        'fieldwarden_source_last_success_timestamp_seconds{entity="product",system="erp"}' in text
    )
    assert "fieldwarden_alert_deliveries" in text


def test_an_overlapping_run_is_skipped_and_logged(tmp_path: Path) -> None:
    daemon = Daemon(load_config(build_stack(tmp_path)), install_signals=False)
    event = JobSubmissionEvent(EVENT_JOB_MAX_INSTANCES, "full", "default", [datetime.now(UTC)])
    with capture_logs() as logs:
        daemon._on_event(event)
    assert [(e["event"], e["job"]) for e in logs] == [("job_skipped", "full")]


def test_run_options_parse_and_are_documented() -> None:
    from detector.cli.run import parse_listen  # noqa: PLC0415 - the command's helper

    assert parse_listen("127.0.0.1:9108") == ("127.0.0.1", 9108)
    assert parse_listen("[::1]:9108") == ("::1", 9108)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen("9108")
    doc = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    command = main.commands["run"]
    for param in command.params:
        for opt in param.opts:
            if opt.startswith("--") and opt != "--help":
                assert opt in doc, f"{opt} is not documented in README.md"
        if isinstance(param.envvar, str):
            assert param.envvar in doc
