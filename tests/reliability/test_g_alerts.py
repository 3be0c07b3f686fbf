"""G. Alerts (plan scenarios 34-39): dedup, resolve/reopen, grouping, retries from the outbox,
an SMTP outage, and what payloads may carry. Webhooks go to a loopback receiver."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from detector.alerts import dispatch
from detector.cli import main
from detector.storage import Store
from tests.reliability import results
from tests.reliability.conftest import Sweep
from tests.reliability.faultserver import FaultServer, Reply, Seen, serve
from tests.reliability.harness import PII_EMAIL, PII_PHONE, SECRET, Stack, catalog


@pytest.fixture
def receiver() -> Iterator[FaultServer]:
    with serve(lambda _r: Reply(200, {"ok": True})) as running:
        yield running


def _hook(receiver: FaultServer, **extra: object) -> dict[str, object]:
    return {"type": "webhook", "url": f"{receiver.url}/hook", "format": "json", "allow_private": True, **extra}


def _bodies(receiver: FaultServer, sweep: Sweep) -> list[dict[str, object]]:
    out = []
    for request in receiver.requests:
        sweep.add("webhook body", request.body)
        sweep.add("webhook headers", json.dumps({k: v for k, v in request.headers.items() if k.lower() != "x-token"}))
        out.append(request.json())
    return out


def _events(bodies: list[dict[str, object]], key: str) -> list[str]:
    found = []
    for body in bodies:
        items = body.get("first") if body.get("digest") else [body]
        for item in items or []:  # type: ignore[union-attr]
            disc = item.get("discrepancy") or {}
            if disc.get("key") == key:
                found.append(str(item["event"]))
    return found


def test_34_a_standing_discrepancy_notifies_once_then_only_after_the_repeat_interval(
    stack: Stack, receiver: FaultServer, sweep: Sweep
) -> None:
    stack.alerts = [_hook(receiver)]
    stack.settings = {"reminder_after": "6h"}
    for _ in range(10):
        stack.run()
    ten_runs = _events(_bodies(receiver, sweep), "P002")
    later = datetime.now(UTC) + timedelta(hours=7)
    stack.run(now=lambda: later)
    with Store.open(stack.config().storage_url) as store:
        dispatch(stack.config(), store, now=later)
    after = _events(_bodies(receiver, sweep), "P002")
    results.record("extra_notifications", cause="same discrepancy on 10 runs", extra=len(ten_runs) - 1, real=1)
    assert ten_runs == ["opened"]
    assert after == ["opened", "reminder"]


def test_35_a_fix_resolves_once_under_the_same_key_and_a_recurrence_reopens(
    stack: Stack, receiver: FaultServer, sweep: Sweep
) -> None:
    stack.alerts = [_hook(receiver)]
    stack.run()
    fixed = [dict(r, price="20.00") if r["sku"] == "P002" else r for r in stack.shop]
    stack.server.handler = catalog(fixed)
    stack.run()
    stack.run()
    stack.server.handler = catalog(stack.shop)
    stack.run()
    bodies = _bodies(receiver, sweep)
    ids = {
        (item.get("discrepancy") or {}).get("id")  # type: ignore[union-attr]
        for item in bodies
        if (item.get("discrepancy") or {}).get("key") == "P002"  # type: ignore[union-attr]
    }
    assert _events(bodies, "P002") == ["opened", "resolved", "reopened"]
    assert len(ids) == 1


def test_36_five_thousand_discrepancies_are_grouped_within_vendor_limits(
    tmp_path: Path, server: FaultServer, receiver: FaultServer, sweep: Sweep
) -> None:
    stack = Stack(tmp_path, server, count=5000)
    stack.alerts = [_hook(receiver), _hook(receiver, format="slack", name="slack")]
    stack.server.handler = catalog([dict(r, price="0.01") for r in stack.shop])
    stack.run()
    with Store.open(stack.config().storage_url) as store:
        events = store.events(limit=None)
        undelivered = [d for e in events for d in e.deliveries if d.status != "delivered"]
        if undelivered:  # Slack pacing hands some back for the next dispatch
            for _ in range(5):
                dispatch(stack.config(), store, now=datetime.now(UTC) + timedelta(hours=1))
    bodies = _bodies(receiver, sweep)
    sizes = [len(r.body) for r in receiver.requests]
    committed = len(events)
    results.record("alert_grouping", events=committed, messages=len(bodies), largest_bytes=max(sizes))
    assert committed >= 5000
    assert len(bodies) <= 4, len(bodies)
    assert max(sizes) < 512 * 1024  # PagerDuty's payload limit; Slack's 40k-character text is smaller
    assert max(sizes) < 40_000


def test_36_five_thousand_discrepancies_reach_pagerduty_as_few_events_within_its_limits(
    tmp_path: Path, server: FaultServer, receiver: FaultServer, sweep: Sweep
) -> None:
    """Events API v2 over a real loopback server: <= 2 events, each within PagerDuty's limits."""
    from pydantic import SecretStr  # noqa: PLC0415

    from detector.alerts.sinks import PagerDutySink, SinkContext  # noqa: PLC0415
    from detector.config.models import PagerDutySinkModel  # noqa: PLC0415

    stack = Stack(tmp_path, server, count=5000)
    stack.server.handler = catalog([dict(r, price="0.01") for r in stack.shop])
    stack.run()
    model = PagerDutySinkModel(type="pagerduty", routing_key=SecretStr("R" * 32), url=f"{receiver.url}/v2/enqueue")
    sink = PagerDutySink("pagerduty", model, SinkContext(), allow_private=True)
    with Store.open(stack.config().storage_url) as store:
        report = dispatch(stack.config(), store, sinks=[sink])
        events = store.events(limit=None)
        deliveries = [d for e in events for d in e.deliveries if d.sink == "pagerduty"]
    bodies = _bodies(receiver, sweep)
    sizes = [len(r.body) for r in receiver.requests]
    delivered = sum(1 for d in deliveries if d.status == "delivered")
    committed = len(events)
    results.record("alert_grouping", channel="pagerduty", events=committed, messages=len(bodies), largest_bytes=max(sizes, default=0))
    results.record("alerts", cause="pagerduty 5000 grouped", committed=committed, delivered=delivered, lost=committed - delivered)
    assert committed >= 5000
    assert 1 <= len(bodies) <= 2, len(bodies)
    assert delivered == committed, report
    assert max(sizes) < 512 * 1024  # Events API v2: a whole event is at most 512 KB
    for body in bodies:
        assert body["routing_key"] == "R" * 32
        assert body["event_action"] == "trigger"
        assert len(str(body["dedup_key"])) <= 255
        assert len(body["payload"]["summary"]) <= 1024  # type: ignore[index]
        assert body["payload"]["severity"] in ("critical", "error", "warning", "info")  # type: ignore[index]
    summaries = [str(b["payload"]["summary"]) for b in bodies]  # type: ignore[index]
    assert any(re.search(r"\b5,0\d\d opened", s) for s in summaries), summaries


def test_37_webhook_429_5xx_timeouts_retry_from_the_outbox_and_400_is_dead(
    stack: Stack, receiver: FaultServer, sweep: Sweep
) -> None:
    stack.alerts = [_hook(receiver, timeout=0.5)]
    answers = [Reply(429, None, headers={"Retry-After": "120"}), Reply(503), Reply(200, None, delay=2)]

    def handle(_request: Seen) -> Reply:
        return answers.pop(0) if answers else Reply(200, {"ok": True})

    receiver.handler = handle
    stack.run()  # attempt 1: 429
    clock = datetime.now(UTC)
    with Store.open(stack.config().storage_url) as store:
        for step in range(1, 6):  # the daemon's later dispatches, as a fresh process each time
            dispatch(stack.config(), store, now=clock + timedelta(hours=step))
        statuses = Counter(d.status for e in store.events() for d in e.deliveries)
    committed = sum(statuses.values())
    results.record("alerts", cause="webhook 429/503/timeout", committed=committed, delivered=statuses["delivered"], lost=committed - statuses["delivered"])
    assert statuses == {"delivered": committed}, statuses
    # a 400 is final: dead, and surfaced by `fieldwarden alerts`
    receiver.handler = lambda _r: Reply(400, {"error": "invalid_payload"})
    stack.server.handler = catalog([dict(r, price="5.00") if r["sku"] == "P005" else r for r in stack.shop])
    stack.run()
    with Store.open(stack.config().storage_url) as store:
        dead = [d for e in store.events() for d in e.deliveries if d.status == "dead"]
    shown = CliRunner().invoke(main, ["alerts", "-c", str(stack.path)])
    sweep.add("alerts", shown.output)
    _bodies(receiver, sweep)
    assert len(dead) == 1
    assert "dead" in shown.output


def test_38_smtp_down_does_not_hold_back_other_channels_and_email_is_retried(
    stack: Stack, receiver: FaultServer, sweep: Sweep
) -> None:
    import socket  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stack.alerts = [
        _hook(receiver),
        {"type": "email", "smtp_url": f"smtp://127.0.0.1:{port}", "from": "fw@example.com", "to": ["ops@example.com"], "starttls": False, "timeout": 1},
    ]
    stack.run()
    with Store.open(stack.config().storage_url) as store:
        by_sink = {(d.sink, d.status) for e in store.events() for d in e.deliveries}
    posts_while_down = len(receiver.requests)
    _bodies(receiver, sweep)
    assert ("webhook", "delivered") in by_sink
    assert ("email", "pending") in by_sink, by_sink

    # SMTP comes back on the same port: the queued email goes out on a later dispatch, once
    from aiosmtpd.controller import Controller  # noqa: PLC0415

    received: list[str] = []

    class Inbox:
        async def handle_DATA(self, _server: object, _session: object, envelope: object) -> str:  # noqa: N802 - aiosmtpd's hook name
            content = envelope.content  # type: ignore[attr-defined]
            received.append(content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content))
            return "250 OK"

    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with Store.open(stack.config().storage_url) as store:
            later = datetime.now(UTC)
            for _ in range(10):  # each dispatch a retry interval later, until the backoff lets it go
                later += timedelta(hours=1)
                dispatch(stack.config(), store, now=later)
                if received:
                    break
            statuses = Counter((d.sink, d.status) for e in store.events(limit=None) for d in e.deliveries)
    finally:
        controller.stop()
    for text in received:
        sweep.add("email", text)
    committed = sum(n for (sink, _), n in statuses.items() if sink == "email")
    delivered = statuses[("email", "delivered")]
    results.record("alerts", cause="SMTP down then back", committed=committed, delivered=delivered, lost=committed - delivered)
    results.fault("G", 38, "SMTP down, then back: queued email delivered", survived=bool(received) and delivered == committed)
    assert received, statuses
    assert delivered == committed, statuses
    assert len(received) == 1  # the run's events in one message, sent once
    assert len(receiver.requests) == posts_while_down  # the webhook was not sent again


def test_39_alert_payloads_carry_no_secret_and_no_raw_personal_data(
    stack: Stack, receiver: FaultServer, sweep: Sweep
) -> None:
    stack.alerts = [
        {"type": "log", "path": "alerts.jsonl"},
        _hook(receiver, headers={"X-Token": f"${{{'FW_CANARY_TOKEN'}}}"}),
        _hook(receiver, format="slack", name="slack"),
    ]
    stack.run()
    bodies = [r.body.decode() for r in receiver.requests]
    _bodies(receiver, sweep)
    log = (stack.root / "alerts.jsonl").read_text(encoding="utf-8")
    texts = [*bodies, log]
    leaks = [t for t in texts if SECRET in t or PII_EMAIL in t or PII_PHONE in t]
    masked = any("***" in t for t in texts)
    token_header = [r.headers.get("X-Token") for r in receiver.requests if r.headers.get("X-Token")]
    results.record("alert_payload_leaks", payloads=len(texts), leaks=len(leaks))
    assert leaks == []
    assert masked
    assert token_header
    assert set(token_header) == {SECRET}
