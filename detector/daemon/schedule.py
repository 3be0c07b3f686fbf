"""From the config's ``schedule`` to APScheduler jobs: which jobs, which triggers, how late is too late.

Jobs (ids as they appear in logs, ``/healthz`` and metrics):

* ``full``: a full reconcile of every entity without a ``schedule.full`` of its own;
  ``full:<entity>`` for an entity with one. Default: ``cron: "0 2 * * *"`` (02:00 daily).
* ``incremental:<entity>``: one per entity, on the entity's ``schedule.incremental`` or the
  global one. Default: ``every: 5m``.
* ``dispatch``: delivers the alert outbox. ``schedule.dispatch``, default ``every: 30s``.

``every`` schedules are interval triggers in UTC (no DST at all); ``cron`` schedules follow the
process's local time zone (set ``TZ`` in the container). APScheduler 3's cron trigger fires a
time the spring DST change skips once (an hour later), but a time the autumn change repeats
*twice* (``0 2 * * *`` in Europe/Berlin fires at 02:00 CEST and again at 02:00 CET), so cron
triggers are wrapped in ``OncePerWallClock``, which drops the second occurrence of the wall-clock
time it just fired at (as cron does for fixed-time jobs). A clock jump needs no help: run times
are compared with the real clock, and ``coalesce`` turns every run a forward jump skipped into one.

Misfire policy (``misfire_grace_time``): APScheduler's default of 1 s silently drops a run that
starts a little late (a suspended host, a long GC pause, a clock step). We allow a run to start
up to one period late for ``every`` schedules (later than that the next regular run is due
anyway) and up to ``min(period, 1h)`` for ``cron`` ones (a nightly full run delayed by an hour
still runs; one delayed further is logged ``job_missed`` and left to the next night: it would
otherwise land in business hours). With ``coalesce`` any number of missed runs become one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from detector.config import Config
from detector.config.models import ScheduleSpecModel
from detector.durations import format_duration

__all__ = [
    "DEFAULT_DISPATCH",
    "DEFAULT_FULL",
    "DEFAULT_INCREMENTAL",
    "JobPlan",
    "OncePerWallClock",
    "make_trigger",
    "misfire_grace",
    "plan_jobs",
    "trigger_period",
]

DEFAULT_INCREMENTAL = ScheduleSpecModel(every=timedelta(minutes=5))
DEFAULT_FULL = ScheduleSpecModel(cron="0 2 * * *")
DEFAULT_DISPATCH = ScheduleSpecModel(every=timedelta(seconds=30))

JobKind = Literal["full", "incremental", "dispatch"]


@dataclass(frozen=True, slots=True)
class JobPlan:
    id: str
    kind: JobKind
    entities: tuple[str, ...]
    spec: ScheduleSpecModel
    trigger: BaseTrigger
    period: timedelta
    """The time between two fires (for cron: the next two); health allows 3 of them."""
    misfire_grace: timedelta

    @property
    def describe(self) -> str:
        if self.spec.every is not None:
            return f"every {format_duration(self.spec.every)}"
        return f"cron {self.spec.cron}"


class OncePerWallClock(BaseTrigger):  # type: ignore[misc]  # apscheduler has no type hints
    """A cron trigger that fires a wall-clock time once, even when DST repeats the hour."""

    def __init__(self, inner: CronTrigger) -> None:
        self.inner = inner

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        fire: datetime | None = self.inner.get_next_fire_time(previous_fire_time, now)
        if previous_fire_time is None:
            return fire
        last = _wall(previous_fire_time, self.inner.timezone)
        while fire is not None and _wall(fire, self.inner.timezone) == last:
            fire = self.inner.get_next_fire_time(fire, fire)
        return fire

    def __str__(self) -> str:
        return f"once per wall-clock time: {self.inner}"


def _wall(value: datetime, tz: tzinfo) -> datetime:
    return value.astimezone(tz).replace(tzinfo=None, fold=0)


def make_trigger(spec: ScheduleSpecModel, tz: tzinfo) -> BaseTrigger:
    if spec.every is not None:
        return IntervalTrigger(seconds=spec.every.total_seconds(), timezone=UTC)
    assert spec.cron is not None
    return OncePerWallClock(CronTrigger.from_crontab(spec.cron, timezone=tz))


def trigger_period(spec: ScheduleSpecModel, trigger: BaseTrigger, now: datetime) -> timedelta:
    if spec.every is not None:
        return spec.every
    first: datetime | None = trigger.get_next_fire_time(None, now)
    second: datetime | None = trigger.get_next_fire_time(first, first) if first else None
    if first is None or second is None:
        return timedelta(days=1)
    period: timedelta = second - first
    return period


def misfire_grace(spec: ScheduleSpecModel, period: timedelta) -> timedelta:
    """See the module docstring: one period for ``every``, ``min(period, 1h)`` for ``cron``."""
    grace = period if spec.every is not None else min(period, timedelta(hours=1))
    return max(grace, timedelta(seconds=1))


def plan_jobs(config: Config, tz: tzinfo, now: datetime | None = None) -> list[JobPlan]:
    now = now or datetime.now(UTC)
    schedule = config.model.schedule
    plans: list[JobPlan] = []

    def add(job_id: str, kind: JobKind, entities: tuple[str, ...], spec: ScheduleSpecModel) -> None:
        trigger = make_trigger(spec, tz)
        period = trigger_period(spec, trigger, now)
        plans.append(
            JobPlan(job_id, kind, entities, spec, trigger, period, misfire_grace(spec, period))
        )

    shared_full: list[str] = []
    for name, entity in config.model.entities.items():
        own = entity.schedule
        if own is not None and own.full is not None:
            add(f"full:{name}", "full", (name,), own.full)
        else:
            shared_full.append(name)
    if shared_full:
        add("full", "full", tuple(shared_full), schedule.full or DEFAULT_FULL)
    for name, entity in config.model.entities.items():
        own = entity.schedule
        spec = (own.incremental if own else None) or schedule.incremental or DEFAULT_INCREMENTAL
        add(f"incremental:{name}", "incremental", (name,), spec)
    add("dispatch", "dispatch", (), schedule.dispatch or DEFAULT_DISPATCH)
    return plans
