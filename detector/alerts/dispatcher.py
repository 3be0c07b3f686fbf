"""The dispatcher: delivers the alert outbox to every matching sink, at least once.

One :func:`dispatch` call:

1. **enqueue**: for each configured sink, a pending ``alert_deliveries`` row for every event in
   the backlog window that matches the sink's filters and has none yet. Events were committed
   with their run; a crash before this point loses nothing, the next dispatch enqueues them.
2. **claim** each sink's due rows (leased, so a concurrent dispatcher skips them and a crashed
   one's rows come back when the lease ends), group them by run, and turn each run's group
   into messages: the alert log takes the whole group in one write; email always sends one
   digest per run; other sinks send one message per event, or one digest when the run has
   more than the sink's ``digest_after`` events.
3. **send** each message and **record** the outcome of each of its deliveries before the next
   message: ``delivered`` only once the sink accepted it; a retriable failure (429, 5xx,
   timeout, full disk) waits ``backoff_base * 2**(attempt-1)`` (capped), or longer when the
   destination's ``Retry-After`` asks (up to ``retry_after_cap``); a final failure (a 4xx, a
   refused destination) or the sink's ``max_attempts``-th failure is ``dead``, logged as
   ``alert_delivery_dead`` and listed by ``fieldwarden alerts``.

Nothing here sleeps for a retry: a delivery not yet due is left for the next dispatch (the
daemon dispatches every 30 s). The only waiting is Slack's pacing (one message a second),
bounded per dispatch by ``pace_budget``; what does not fit is handed back for the next one.
Deliveries that are due again within the dispatch (zero backoff) are retried for up to
``rounds`` passes.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from detector.alerts.model import Alert, Digest
from detector.alerts.sinks import Sink, SinkContext, build_sinks
from detector.errors import AlertDeliveryError
from detector.storage import Store
from detector.storage.deliveries import (
    Attempt,
    ClaimedDelivery,
    claim_due,
    enqueue,
    record_attempts,
)

__all__ = ["DispatchPolicy", "DispatchReport", "Pacer", "dispatch"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DispatchPolicy:
    """How hard and how long the dispatcher tries. Tests use ``backoff_base=0``."""

    backoff_base: float = 30.0
    """Seconds before the second attempt; doubles with every further attempt."""
    backoff_cap: float = 3600.0
    retry_after_cap: float = 3600.0
    """A destination's ``Retry-After`` is honoured up to this many seconds."""
    lease: timedelta = timedelta(minutes=5)
    """How long a claimed delivery is reserved for this dispatcher."""
    backlog: timedelta = timedelta(days=7)
    """Events older than this are not enqueued for a sink (a new sink does not replay history)."""
    claim_limit: int = 20_000
    rounds: int = 3
    pace_budget: float = 3.0
    """Seconds one dispatch may wait in total to pace rate-limited sinks (Slack)."""
    first_n: int = 10
    """Events a digest lists in full (email: five times as many)."""

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after the ``attempt``-th failed attempt."""
        delay = min(self.backoff_base * 2.0 ** max(attempt - 1, 0), self.backoff_cap)
        if retry_after is not None and math.isfinite(retry_after):
            delay = max(delay, min(max(retry_after, 0.0), self.retry_after_cap))
        return delay


@dataclass(slots=True)
class Pacer:
    """When each sink last sent, across dispatches of this process."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    last_sent: dict[str, float] = field(default_factory=dict)

    def wait_for(self, sink: Sink) -> float:
        """Seconds to wait before ``sink`` may send again."""
        if sink.min_interval <= 0 or sink.name not in self.last_sent:
            return 0.0
        return max(0.0, sink.min_interval - (self.clock() - self.last_sent[sink.name]))

    def sent(self, sink: Sink) -> None:
        self.last_sent[sink.name] = self.clock()


_PACER = Pacer()


@dataclass(slots=True)
class DispatchReport:
    """What one dispatch did, per outcome: deliveries (an event to a sink), and messages sent."""

    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    deferred: int = 0
    messages: int = 0
    by_sink: dict[str, Counter[str]] = field(default_factory=dict)

    def count(self, sink: str, outcome: str, n: int) -> None:
        self.by_sink.setdefault(sink, Counter())[outcome] += n
        if outcome == "delivered":
            self.delivered += n
        elif outcome == "retry":
            self.retrying += n
        elif outcome == "dead":
            self.dead += n
        else:
            self.deferred += n


@dataclass(slots=True)
class _Message:
    deliveries: list[ClaimedDelivery]
    send: Callable[[], None]
    digest: bool


def dispatch(
    config: Any,
    store: Store,
    *,
    now: datetime | None = None,
    policy: DispatchPolicy | None = None,
    context: SinkContext | None = None,
    sinks: Sequence[Sink] | None = None,
    pacer: Pacer | None = None,
) -> DispatchReport:
    """Deliver every due outbox event to every matching sink (see the module docstring).

    ``config`` needs only ``alerts`` (the sink models). ``now`` fixes the time used for every
    stored timestamp (tests); by default the clock is read as the dispatch goes. Raises
    ``StorageError`` when the outbox cannot be read or written; a sink's failure never raises.
    """
    policy = policy or DispatchPolicy()
    own_context = context is None and sinks is None
    context = context or SinkContext(first_n=policy.first_n)
    if sinks is None:
        sinks = build_sinks(config.alerts, context)
    report = DispatchReport()
    try:
        if sinks:
            _Run(store, sinks, policy, pacer or _PACER, now, report).run()
    finally:
        if own_context:
            context.close()
    if report.dead or report.retrying or report.delivered:
        log.info(
            "alerts_dispatched",
            delivered=report.delivered,
            retrying=report.retrying,
            dead=report.dead,
            deferred=report.deferred,
            messages=report.messages,
        )
    return report


class _Run:
    """The state of one dispatch."""

    def __init__(
        self,
        store: Store,
        sinks: Sequence[Sink],
        policy: DispatchPolicy,
        pacer: Pacer,
        now: datetime | None,
        report: DispatchReport,
    ) -> None:
        self.store = store
        self.sinks = sinks
        self.policy = policy
        self.pacer = pacer
        self.fixed_now = now
        self.report = report
        self.paced = 0.0

    def now(self) -> datetime:
        return self.fixed_now or datetime.now(UTC)

    def run(self) -> None:
        since = self.now() - self.policy.backlog
        for sink in self.sinks:
            enqueue(self.store, sink.filter, since=since)
        for _ in range(self.policy.rounds):
            claimed_any = False
            for sink in self.sinks:
                claimed = claim_due(
                    self.store,
                    sink.name,
                    now=self.now(),
                    lease=self.policy.lease,
                    limit=self.policy.claim_limit,
                )
                if claimed:
                    claimed_any = True
                    self.deliver(sink, claimed)
            if not claimed_any:
                break

    def deliver(self, sink: Sink, claimed: Sequence[ClaimedDelivery]) -> None:
        try:
            sink.preflight()
        except AlertDeliveryError as exc:
            self.record(sink, self.failed(sink, claimed, exc))
            return
        messages = self.messages(sink, claimed)
        for index, message in enumerate(messages):
            wait = self.pacer.wait_for(sink)
            if wait > 0:
                if self.paced + wait > self.policy.pace_budget:
                    later = self.now() + timedelta(seconds=wait)
                    rest = [d for m in messages[index:] for d in m.deliveries]
                    self.record(
                        sink,
                        [Attempt(d.delivery_id, "released", next_attempt_at=later) for d in rest],
                    )
                    return
                self.pacer.sleep(wait)
                self.paced += wait
            self.send(sink, message)

    def messages(self, sink: Sink, claimed: Sequence[ClaimedDelivery]) -> list[_Message]:
        by_run: dict[int | None, list[ClaimedDelivery]] = {}
        for delivery in claimed:
            by_run.setdefault(delivery.event.run_id, []).append(delivery)
        messages: list[_Message] = []
        for group in by_run.values():
            alerts = [Alert.from_event(d.event) for d in group]
            if sink.writes_batches:
                messages.append(_Message(group, _bind(sink.send_batch, alerts), digest=False))
            elif sink.always_digest or len(group) > sink.digest_after:
                messages.append(
                    _Message(group, _bind(sink.send_digest, Digest.of(alerts)), digest=True)
                )
            else:
                messages.extend(
                    _Message([d], _bind(sink.send_alert, a), digest=False)
                    for d, a in zip(group, alerts, strict=True)
                )
        return messages

    def send(self, sink: Sink, message: _Message) -> None:
        error: AlertDeliveryError | None = None
        try:
            message.send()
        except AlertDeliveryError as exc:
            error = exc
        except Exception as exc:  # a bug in a sink must not stop the other sinks
            log.exception("alert_sink_error", sink=sink.name)
            error = AlertDeliveryError(
                f"internal error: {type(exc).__name__}", sink=sink.name, retriable=True
            )
        finally:
            self.pacer.sent(sink)
        self.report.messages += 1
        if error is None:
            self.record(sink, [Attempt(d.delivery_id, "delivered") for d in message.deliveries])
            log.debug(
                "alert_delivered",
                sink=sink.name,
                events=len(message.deliveries),
                digest=message.digest,
            )
            return
        self.record(sink, self.failed(sink, message.deliveries, error))

    def failed(
        self, sink: Sink, deliveries: Sequence[ClaimedDelivery], error: AlertDeliveryError
    ) -> list[Attempt]:
        """Outcomes of one failed message: dead (final error or out of attempts) or retry.

        Logged once per outcome, not once per event: a failed digest is one problem.
        """
        reason = str(error)
        dead: list[ClaimedDelivery] = []
        retry: list[ClaimedDelivery] = []
        for delivery in deliveries:
            final = not error.retriable or delivery.attempts + 1 >= sink.max_attempts
            (dead if final else retry).append(delivery)
        attempts = [Attempt(d.delivery_id, "dead", error=reason) for d in dead]
        if dead:
            log.error(
                "alert_delivery_dead",
                sink=sink.name,
                events=len(dead),
                event_id=dead[0].event.id,
                alert_event=dead[0].event.event,
                discrepancy_id=dead[0].event.discrepancy_id,
                attempts=max(d.attempts for d in dead) + 1,
                error=reason,
            )
        if retry:
            first = min(d.attempts for d in retry) + 1
            delay = self.policy.delay(first, error.retry_after)
            log.warning(
                "alert_delivery_failed",
                sink=sink.name,
                events=len(retry),
                event_id=retry[0].event.id,
                attempts=first,
                retry_in_s=round(delay, 3),
                error=reason,
            )
            attempts += [
                Attempt(
                    d.delivery_id,
                    "retry",
                    error=reason,
                    next_attempt_at=self.now()
                    + timedelta(seconds=self.policy.delay(d.attempts + 1, error.retry_after)),
                )
                for d in retry
            ]
        return attempts

    def record(self, sink: Sink, attempts: list[Attempt]) -> None:
        record_attempts(self.store, attempts, now=self.now())
        for outcome, n in Counter(a.outcome for a in attempts).items():
            self.report.count(sink.name, outcome, n)


def _bind(func: Callable[[Any], None], argument: Any) -> Callable[[], None]:
    return lambda: func(argument)
