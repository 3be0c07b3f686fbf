"""The outbox dispatcher end to end: real CSV stack, real SQLite store, real loopback servers."""

from __future__ import annotations

import email
import email.policy
import json
import os
import socket
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from detector.alerts import DispatchPolicy, DispatchReport, Pacer, SinkContext, dispatch
from detector.alerts.sinks import PagerDutySink
from detector.config import Config, load_config
from detector.config.models import PagerDutySinkModel
from detector.service import open_store, run_once
from detector.storage import EventView
from detector.storage.deliveries import claim_due
from tests.alerts.conftest import ZERO, Mailbox, Receiver
from tests.alerts.stack import CANARIES, build, fix_prices

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def run(config: Config, at: datetime = T0) -> None:
    run_once(config, deliver_alerts=False, now=lambda: at)


def deliver(config: Config, *, pacer: Pacer | None = None, **kwargs: Any) -> DispatchReport:
    kwargs.setdefault("policy", ZERO)
    with open_store(config) as store:
        return dispatch(config, store, pacer=pacer or Pacer(sleep=lambda _s: None), **kwargs)


def events(config: Config) -> list[EventView]:
    with open_store(config) as store:
        return store.events()


def statuses(config: Config) -> Counter[tuple[str, str]]:
    return Counter((d.sink, d.status) for e in events(config) for d in e.deliveries)


def _email_text(data: str) -> str:
    message = email.message_from_string(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body()
    assert body is not None
    return f"{message['Subject']}\n{body.get_content()}"


def log_lines(root: Path) -> list[dict[str, Any]]:
    path = root / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


LOG = "  - {type: log, path: alerts.jsonl}\n"


def webhook(url: str, fmt: str = "json", extra: str = "") -> str:
    return f'  - {{type: webhook, url: "{url}", format: {fmt}, allow_private: true{extra}}}\n'


def test_one_opened_per_discrepancy_across_runs(tmp_path: Path) -> None:
    config = load_config(build(tmp_path, LOG, wrong=2))
    for hour in range(3):
        run(config, T0 + timedelta(hours=hour))
        deliver(config)
    lines = log_lines(tmp_path)
    assert [line["event"] for line in lines] == ["opened", "opened"]
    assert len({line["discrepancy"]["id"] for line in lines}) == 2
    assert statuses(config) == {("log", "delivered"): 2}


def test_run_once_delivers_after_commit_through_the_service(tmp_path: Path) -> None:
    config = load_config(build(tmp_path, LOG))
    run_once(config)  # deliver_alerts=True: detector.service imports detector.alerts.dispatch
    assert [line["event"] for line in log_lines(tmp_path)] == ["opened"]


def test_fixed_value_sends_resolved_under_the_same_key(tmp_path: Path, receiver: Receiver) -> None:
    config = load_config(build(tmp_path, LOG + webhook(receiver.url)))
    pd_model = PagerDutySinkModel(
        type="pagerduty", routing_key=SecretStr("R" * 32), url=receiver.url + "/pd"
    )
    run(config)
    deliver(config)
    fix_prices(tmp_path)
    run(config, T0 + timedelta(hours=1))
    deliver(config)
    lines = log_lines(tmp_path)
    assert [line["event"] for line in lines] == ["opened", "resolved"]
    assert lines[0]["discrepancy"]["id"] == lines[1]["discrepancy"]["id"]
    assert [b["event"] for b in receiver.bodies()] == ["opened", "resolved"]

    # PagerDuty added later: it gets both events (within the backlog), trigger then resolve
    receiver.requests.clear()
    with open_store(config) as store:
        sink = PagerDutySink("pagerduty", pd_model, SinkContext(), allow_private=True)
        dispatch(config, store, sinks=[sink], policy=ZERO)
    bodies = receiver.bodies()
    assert [b["event_action"] for b in bodies] == ["trigger", "resolve"]
    assert bodies[0]["dedup_key"] == bodies[1]["dedup_key"] == lines[0]["discrepancy"]["id"]


def test_killed_between_commit_and_delivery_the_next_dispatch_delivers_everything(
    tmp_path: Path,
) -> None:
    config_path = build(tmp_path, LOG, wrong=3)
    script = (
        "import os, sys\n"
        "import detector.alerts\n"
        "detector.alerts.dispatch = lambda *a, **k: os._exit(137)  # kill -9 right after the commit\n"
        "from detector.config import load_config\n"
        "from detector.service import run_once\n"
        f"run_once(load_config({str(config_path)!r}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, check=False)
    assert done.returncode == 137
    config = load_config(config_path)
    committed = events(config)
    assert len(committed) == 3
    assert all(not e.deliveries for e in committed)
    assert not log_lines(tmp_path)

    deliver(config)
    assert sorted(line["id"] for line in log_lines(tmp_path)) == [e.id for e in committed]
    assert statuses(config) == {("log", "delivered"): 3}


def test_a_dispatcher_dying_mid_send_leaves_leased_rows_that_come_back(tmp_path: Path) -> None:
    config = load_config(build(tmp_path, LOG, wrong=2))
    run(config)
    policy = DispatchPolicy(backoff_base=0, lease=timedelta(minutes=5))
    with open_store(config) as store:
        from detector.storage.deliveries import SinkFilter, enqueue  # noqa: PLC0415

        enqueue(store, SinkFilter(sink="log"), since=T0 - timedelta(days=1))
        assert len(claim_due(store, "log", now=T0, lease=policy.lease, limit=10)) == 2
        # ...and the process dies here. Inside the lease nobody else sends them:
        assert deliver(config, now=T0 + timedelta(minutes=1), policy=policy).delivered == 0
    report = deliver(config, now=T0 + timedelta(minutes=6), policy=policy)
    assert report.delivered == 2
    assert len(log_lines(tmp_path)) == 2


def test_5000_new_discrepancies_make_one_digest_per_sink(
    tmp_path: Path, receiver: Receiver, mailbox: Mailbox
) -> None:
    alerts = (
        LOG
        + webhook(receiver.url + "?sink=json", "json")
        + webhook(receiver.url + "?sink=slack", "slack")
        + f'  - {{type: email, smtp_url: "smtp://127.0.0.1:{mailbox.port}", starttls: false, from: fw@example.com, to: [ops@example.com]}}\n'
    )
    config = load_config(build(tmp_path, alerts, products=5000, wrong=5000))
    pd_model = PagerDutySinkModel(
        type="pagerduty", routing_key=SecretStr("R" * 32), url=receiver.url + "?sink=pd"
    )
    run(config)
    report = deliver(config)
    with open_store(config) as store:
        dispatch(
            config,
            store,
            policy=ZERO,
            sinks=[PagerDutySink("pagerduty", pd_model, SinkContext(), allow_private=True)],
        )

    assert report.delivered == 4 * 5000
    assert sorted(r["path"].rsplit("=", 1)[1] for r in receiver.requests) == ["json", "pd", "slack"]
    assert len(mailbox.messages) == 1
    assert len(log_lines(tmp_path)) == 5000  # the alert log keeps every event, in one write
    by_path = {r["path"].rsplit("=", 1)[1]: r for r in receiver.requests}
    digest = by_path["json"]["json"]
    assert digest["events"] == 5000
    assert digest["counts"]["field"] == {"product.price": 5000}
    assert len(digest["first"]) == 10
    assert len(by_path["slack"]["raw"]) < 40_000
    assert by_path["pd"]["json"]["payload"]["summary"].startswith("Fieldwarden run 1: 5,000 opened")
    assert "5,000 opened" in mailbox.messages[0]["data"]


def test_429_then_200_from_a_real_server_is_delivered_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.answers.append((429, {"Retry-After": "0"}))
    config = load_config(build(tmp_path, webhook(receiver.url)))
    run(config)
    report = deliver(config)
    assert report.delivered == 1
    assert len(receiver.requests) == 2
    [event] = events(config)
    assert [(d.status, d.attempts, d.last_error) for d in event.deliveries] == [
        ("delivered", 2, None)
    ]


def test_retry_after_is_honoured_without_sleeping(tmp_path: Path, receiver: Receiver) -> None:
    receiver.answers.append((503, {"Retry-After": "120"}))
    config = load_config(build(tmp_path, webhook(receiver.url)))
    run(config)
    policy = DispatchPolicy(backoff_base=1, retry_after_cap=600)
    report = deliver(config, now=T0, policy=policy)
    assert (report.delivered, report.retrying) == (0, 1)
    [delivery] = events(config)[0].deliveries
    assert delivery.status == "pending"
    assert delivery.next_attempt_at == T0 + timedelta(seconds=120)
    assert "503" in (delivery.last_error or "")
    assert deliver(config, now=T0 + timedelta(seconds=119), policy=policy).messages == 0
    assert deliver(config, now=T0 + timedelta(seconds=121), policy=policy).delivered == 1


def test_backoff_doubles_and_retry_after_is_capped() -> None:
    policy = DispatchPolicy(backoff_base=30, backoff_cap=600, retry_after_cap=300)
    assert [policy.delay(n, None) for n in (1, 2, 3, 6)] == [30, 60, 120, 600]
    assert policy.delay(1, 10_000) == 300
    assert policy.delay(1, 45) == 45


def test_a_400_is_dead_at_once_logged_and_kept(tmp_path: Path, receiver: Receiver) -> None:
    receiver.answers.append((400, {}))
    config = load_config(build(tmp_path, webhook(receiver.url)))
    run(config)
    with capture_logs() as logs:
        report = deliver(config)
    assert (report.dead, len(receiver.requests)) == (1, 1)
    [dead] = [entry for entry in logs if entry["event"] == "alert_delivery_dead"]
    assert dead["sink"] == "webhook"
    assert dead["attempts"] == 1
    assert "400" in dead["error"]
    assert statuses(config) == {("webhook", "dead"): 1}
    assert deliver(config).messages == 0  # dead is final


def test_retriable_failures_die_after_max_attempts(tmp_path: Path, receiver: Receiver) -> None:
    receiver.answers.extend([(503, {})] * 5)
    config = load_config(build(tmp_path, webhook(receiver.url, extra=", max_attempts: 3")))
    run(config)
    report = deliver(config, policy=DispatchPolicy(backoff_base=0, rounds=5))
    assert report.dead == 1
    assert len(receiver.requests) == 3
    [delivery] = events(config)[0].deliveries
    assert (delivery.status, delivery.attempts) == ("dead", 3)


def test_a_redirect_is_a_failure_and_not_followed(tmp_path: Path, receiver: Receiver) -> None:
    receiver.answers.append((302, {"Location": "http://169.254.169.254/latest/meta-data"}))
    config = load_config(build(tmp_path, webhook(receiver.url)))
    run(config)
    assert deliver(config).dead == 1
    assert len(receiver.requests) == 1


def test_an_alert_log_on_a_full_disk_fails_the_delivery_not_the_dispatcher(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    config = load_config(build(tmp_path, "  - {type: log, path: /dev/full}\n" + LOG))
    run(config)
    report = deliver(config, policy=DispatchPolicy(backoff_base=60))
    assert (report.retrying, report.delivered) == (1, 1)  # the other sink is unaffected
    by_sink = {d.sink: d for d in events(config)[0].deliveries}
    assert by_sink["log"].status == "pending"
    assert "space" in (by_sink["log"].last_error or "").lower()
    assert by_sink["log-2"].status == "delivered"


def test_a_private_destination_is_refused_unless_allowed(
    tmp_path: Path, receiver: Receiver
) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    alerts = (
        f'  - {{type: webhook, url: "{receiver.url}", name: ip}}\n'
        f'  - {{type: webhook, url: "http://localhost:{port}/hook", name: dns}}\n'
        f'  - {{type: webhook, url: "http://localhost:{port}/hook", name: allowed, allow_private: true}}\n'
    )
    config = load_config(build(tmp_path, alerts))
    run(config)
    report = deliver(config)
    assert report.by_sink["ip"]["dead"] == 1
    assert report.by_sink["dns"]["dead"] == 1
    assert report.by_sink["allowed"]["delivered"] == 1
    assert len(receiver.requests) == 1
    errors = {d.sink: d.last_error or "" for d in events(config)[0].deliveries}
    assert "loopback" in errors["ip"]
    assert "loopback" in errors["dns"]
    assert receiver.url not in errors["ip"]  # a webhook's path is its secret


def test_sink_filters_pick_events(tmp_path: Path, receiver: Receiver) -> None:
    alerts = (
        webhook(receiver.url + "?f=high", extra=", name: high, min_severity: high")
        + webhook(receiver.url + "?f=customer", extra=", name: customer, entities: [customer]")
        + webhook(receiver.url + "?f=phone", extra=", name: phone, fields: [customer.phone]")
        + webhook(receiver.url + "?f=kind", extra=", name: kind, kinds: [missing_in_reader]")
    )
    config = load_config(build(tmp_path, alerts, pii=True))
    run(config)
    deliver(config)
    got = Counter(r["path"].rsplit("=", 1)[1] for r in receiver.requests)
    assert got == {"high": 1, "customer": 2, "phone": 1}


def test_slack_is_paced_to_one_message_a_second(
    tmp_path: Path, receiver: Receiver, pacer: Pacer
) -> None:
    config = load_config(build(tmp_path, webhook(receiver.url, "slack"), wrong=3))
    run(config)
    report = deliver(config, pacer=pacer, policy=DispatchPolicy(backoff_base=0, pace_budget=5))
    assert report.delivered == 3
    assert pacer.clock() >= 2.0  # two waits of at least a second (fake clock: no real sleep)


def test_slack_messages_beyond_the_pacing_budget_wait_for_the_next_dispatch(
    tmp_path: Path, receiver: Receiver, pacer: Pacer
) -> None:
    config = load_config(build(tmp_path, webhook(receiver.url, "slack"), wrong=3))
    run(config)
    report = deliver(
        config, pacer=pacer, now=T0, policy=DispatchPolicy(backoff_base=0, pace_budget=0)
    )
    assert (report.delivered, report.deferred) == (1, 2)
    pending = [d for e in events(config) for d in e.deliveries if d.status == "pending"]
    assert [d.attempts for d in pending] == [0, 0]  # handed back, not counted as attempts
    assert len(receiver.requests) == 1


def test_masked_values_are_nowhere_raw_in_logs_or_alert_payloads(
    tmp_path: Path, receiver: Receiver, mailbox: Mailbox
) -> None:
    alerts = (
        LOG
        + webhook(receiver.url + "?sink=json", "json")
        + webhook(receiver.url + "?sink=slack", "slack")
        + f'  - {{type: email, smtp_url: "smtp://127.0.0.1:{mailbox.port}", starttls: false, from: fw@example.com, to: [ops@example.com]}}\n'
    )
    config = load_config(build(tmp_path, alerts, pii=True))
    pd_model = PagerDutySinkModel(
        type="pagerduty", routing_key=SecretStr("R" * 32), url=receiver.url + "?sink=pd"
    )
    with capture_logs() as logs:
        run(config)
        deliver(
            config,
            pacer=Pacer(sleep=lambda _s: None, clock=lambda: 0.0),
            policy=DispatchPolicy(backoff_base=0, pace_budget=10),
        )
        with open_store(config) as store:
            dispatch(
                config,
                store,
                policy=ZERO,
                sinks=[PagerDutySink("pagerduty", pd_model, SinkContext(), allow_private=True)],
            )

    assert statuses(config) == {
        (sink, "delivered"): 3 for sink in ("log", "webhook", "webhook-2", "email", "pagerduty")
    }
    outputs = {
        "logs": repr(logs),
        "alert log": (tmp_path / "alerts.jsonl").read_text(),
        "webhooks": "\n".join(r["raw"] for r in receiver.requests),
        "email": "\n".join(m["data"] for m in mailbox.messages),
        "email text": "\n".join(_email_text(m["data"]) for m in mailbox.messages),
    }
    assert len(receiver.requests) == 3 * 3  # slack, json, PagerDuty x (price, email, phone)
    for where, text in outputs.items():
        for canary in CANARIES:
            assert canary not in text, f"{canary!r} raw in {where}"
    assert "c***@example.com" in outputs["webhooks"]
    # the database keeps the full value
    with open_store(config) as store:
        raw = {d.field: d.system_value for d in store.discrepancies()}
    assert raw["email"] == "canary.reader@example.com"


def test_a_destination_that_never_answers_times_out_and_is_retried(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (kernel backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        config = load_config(build(tmp_path, webhook(url, extra=", timeout: 0.2")))
        run(config)
        report = deliver(config, policy=DispatchPolicy(backoff_base=60))
    assert report.retrying == 1
    [delivery] = events(config)[0].deliveries
    assert delivery.status == "pending"
    assert "timed out" in (delivery.last_error or "")


def test_source_failures_and_recoveries_are_alerted(
    tmp_path: Path, receiver: Receiver, pacer: Pacer
) -> None:
    config = load_config(build(tmp_path, LOG + webhook(receiver.url, "slack"), wrong=0))
    run(config)
    variants = tmp_path / "shop" / "variants.csv"
    saved = variants.read_text()
    variants.unlink()
    run(config, T0 + timedelta(hours=1))
    variants.write_text(saved)
    run(config, T0 + timedelta(hours=2))
    deliver(config, pacer=pacer, policy=DispatchPolicy(backoff_base=0, pace_budget=5))
    lines = log_lines(tmp_path)
    assert [line["event"] for line in lines] == ["source_failed", "source_recovered"]
    assert lines[0]["discrepancy"] is None
    assert lines[0]["source"]["system"] == "shop"
    assert [b["blocks"][0]["text"]["text"] for b in receiver.bodies()] == [
        "Source failed: shop/product",
        "Source recovered: shop/product",
    ]
