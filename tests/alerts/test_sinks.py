"""Each sink's message: Slack blocks, PagerDuty events, the e-mail digest over real SMTP."""

from __future__ import annotations

import email
import email.policy
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr, TypeAdapter

from detector.alerts import Alert, Digest, SinkContext
from detector.alerts.sinks import SINKS, EmailSink, build_sinks, sink_names
from detector.alerts.sinks.email import parse_smtp_url
from detector.alerts.sinks.pagerduty import pagerduty_event
from detector.alerts.sinks.slack import slack_alert, slack_digest
from detector.config.models import AlertSinkModel, EmailSinkModel
from detector.errors import AlertDeliveryError
from tests.alerts.conftest import Mailbox, _Handler, free_port

AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def alert(event: str = "opened", event_id: int = 1, **payload: Any) -> Alert:
    base: dict[str, Any] = {
        "id": "5597577b8c716b5f35aa", "kind": "value_mismatch", "entity": "product", "key": "B",
        "field": "price", "owner": "erp", "system": "storefront", "owner_value": "20.00",
        "system_value": "19.00", "severity": "high", "status": "open",
    }  # fmt: skip
    base.update(payload)
    return Alert(
        event_id=event_id, at=AT, event=event, run_id=7, discrepancy_id=base["id"], payload=base
    )


def source_alert(event: str = "source_failed") -> Alert:
    payload = {
        "system": "erp",
        "entity": "product",
        "records": 0,
        "status": "failed",
        "error": "timeout",
    }
    return Alert(event_id=9, at=AT, event=event, run_id=7, discrepancy_id=None, payload=payload)


def sink_model(raw: dict[str, Any]) -> Any:
    return TypeAdapter(AlertSinkModel).validate_python(raw)


# -- registry ------------------------------------------------------------------------------


def test_registry_has_one_class_per_config_type() -> None:
    assert set(SINKS) == {"log", "webhook", "email", "pagerduty"}


def test_sink_names_are_stable_and_unique() -> None:
    models = [
        sink_model({"type": "log", "path": "alerts.jsonl"}),
        sink_model({"type": "webhook", "url": "https://a.example"}),
        sink_model({"type": "webhook", "url": "https://b.example"}),
        sink_model({"type": "webhook", "url": "https://c.example", "name": "webhook-2"}),
        sink_model({"type": "pagerduty", "routing_key": "k" * 32, "name": "oncall"}),
    ]
    assert sink_names(models) == ["log", "webhook", "webhook-2", "webhook-2-2", "oncall"]
    sinks = build_sinks(models, SinkContext())
    assert [type(s).__name__ for s in sinks] == [
        "LogSink",
        "WebhookSink",
        "WebhookSink",
        "WebhookSink",
        "PagerDutySink",
    ]


# -- Slack ---------------------------------------------------------------------------------


def test_slack_shows_owner_and_reader_side_by_side() -> None:
    body = slack_alert(alert())
    section = next(b for b in body["blocks"] if b["type"] == "section")
    texts = [f["text"] for f in section["fields"]]
    assert texts == ["*Owner (erp)*\n20.00", "*Reader (storefront)*\n19.00"]
    assert body["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Opened: product.price on storefront"},
    }
    assert (
        body["text"]
        == "opened: product.price on storefront (key B) [value_mismatch, high]: erp 20.00 vs 19.00"
    )


def test_slack_text_is_inert_and_link_free() -> None:
    hostile = alert(system_value="<!channel> <https://evil.example|click> & \x1b[31m", key="k\nx")
    body = slack_alert(hostile)
    flat = repr(body)
    assert "<!channel>" not in flat
    assert "<https://" not in flat
    assert "https://" not in body["text"]
    assert "\x1b" not in flat
    assert "&lt;!channel&gt;" in body["text"]


def test_slack_digest_counts_and_lists_the_first_few() -> None:
    alerts = [
        alert(event_id=i, id=f"{i:020d}", key=f"K{i}", severity="low" if i % 2 else "critical")
        for i in range(40)
    ]
    body = slack_digest(Digest.of(alerts), 5)
    flat = repr(body)
    assert "run 7: 40 opened" in body["text"]
    assert "product.price: 40" in flat
    assert "critical: 20" in flat
    assert "and 35 more" in flat
    assert len(body["blocks"]) <= 50


# -- PagerDuty -----------------------------------------------------------------------------


def test_pagerduty_trigger_and_resolve_share_the_discrepancy_id() -> None:
    trigger = pagerduty_event(alert(), "ROUTING")
    resolve = pagerduty_event(alert("resolved"), "ROUTING")
    assert trigger["event_action"] == "trigger"
    assert resolve == {
        "routing_key": "ROUTING",
        "event_action": "resolve",
        "dedup_key": "5597577b8c716b5f35aa",
    }
    assert trigger["dedup_key"] == resolve["dedup_key"]
    assert trigger["payload"]["severity"] == "error"
    assert trigger["payload"]["source"] == "fieldwarden:storefront"
    assert len(trigger["payload"]["summary"]) <= 1024


def test_pagerduty_source_events_trigger_and_resolve_by_source() -> None:
    failed = pagerduty_event(source_alert(), "R")
    recovered = pagerduty_event(source_alert("source_recovered"), "R")
    assert (failed["event_action"], recovered["event_action"]) == ("trigger", "resolve")
    assert failed["dedup_key"] == recovered["dedup_key"] == "source:erp:product"


def test_pagerduty_dedup_key_fits_in_255() -> None:
    long = alert(id="x" * 400)
    assert len(pagerduty_event(long, "R")["dedup_key"]) == 255


# -- e-mail --------------------------------------------------------------------------------


def test_smtp_url_parsing() -> None:
    target = parse_smtp_url("smtp://fw%40example.com:p%3Ass@mail.example.com:2525")
    assert (target.host, target.port, target.username, target.password, target.implicit_tls) == (
        "mail.example.com", 2525, "fw@example.com", "p:ss", False,
    )  # fmt: skip
    assert parse_smtp_url("smtps://mail.example.com").port == 465
    assert parse_smtp_url("smtp://mail.example.com").port == 587
    with pytest.raises(ValueError, match="smtp://"):
        parse_smtp_url("http://mail.example.com")


def email_sink(
    port: int, *, starttls: bool, context: SinkContext | None = None, user: str = ""
) -> EmailSink:
    model = EmailSinkModel.model_validate({
        "type": "email", "smtp_url": f"smtp://{user}127.0.0.1:{port}", "starttls": starttls,
        "from": "fw@example.com", "to": ["ops@example.com", "oncall@example.com"], "timeout": 5,
    })  # fmt: skip
    return EmailSink("email", model, context or SinkContext())


def parsed(data: str) -> EmailMessage:
    message = email.message_from_string(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_one_digest_per_run_reaches_a_real_smtp_server(mailbox: Mailbox) -> None:
    sink = email_sink(mailbox.port, starttls=False)
    sink.send_digest(Digest.of([alert(), alert("resolved", 2, id="1" * 20, key="C")]))
    [got] = mailbox.messages
    assert got["to"] == ["ops@example.com", "oncall@example.com"]
    message = parsed(got["data"])
    assert message["Subject"] == "[fieldwarden] run 7: 1 opened, 1 resolved"
    body = message.get_body()
    assert body is not None
    text = body.get_content()
    assert "product.price: 2" in text
    assert "opened: product.price on storefront (key B)" in text


def test_starttls_required_but_not_offered_is_a_final_failure(mailbox: Mailbox) -> None:
    sink = email_sink(mailbox.port, starttls=True)
    with pytest.raises(AlertDeliveryError) as caught:
        sink.send_digest(Digest.of([alert()]))
    assert not caught.value.retriable
    assert "STARTTLS" in str(caught.value)
    assert not mailbox.messages


def test_smtp_down_is_retriable() -> None:
    sink = email_sink(free_port(), starttls=False)
    with pytest.raises(AlertDeliveryError) as caught:
        sink.send_digest(Digest.of([alert()]))
    assert caught.value.retriable
    assert "127.0.0.1" in str(caught.value)


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


@pytest.fixture
def tls_mailbox(tls_files: tuple[Path, Path]) -> Iterator[Mailbox]:
    key, cert = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    box = Mailbox(port=free_port())
    controller = Controller(
        _Handler(box),
        hostname="127.0.0.1",
        port=box.port,
        tls_context=server_context,
        require_starttls=True,
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def test_starttls_with_a_real_server_and_a_trusted_certificate(
    tls_mailbox: Mailbox, tls_files: tuple[Path, Path]
) -> None:
    client = ssl.create_default_context(cafile=str(tls_files[1]))
    sink = email_sink(tls_mailbox.port, starttls=True, context=SinkContext(ssl_context=client))
    sink.send_digest(Digest.of([alert()]))
    assert len(tls_mailbox.messages) == 1


def test_starttls_with_an_untrusted_certificate_is_refused(tls_mailbox: Mailbox) -> None:
    sink = email_sink(tls_mailbox.port, starttls=True)  # system trust store: self-signed is unknown
    with pytest.raises(AlertDeliveryError) as caught:
        sink.send_digest(Digest.of([alert()]))
    assert not caught.value.retriable
    assert not tls_mailbox.messages


def test_the_smtp_password_never_appears_in_errors() -> None:
    sink = email_sink(free_port(), starttls=False, user="fw:S3cretPassw0rd@")
    with pytest.raises(AlertDeliveryError) as caught:
        sink.send_digest(Digest.of([alert()]))
    assert "S3cretPassw0rd" not in str(caught.value)


def test_secret_type_keeps_the_smtp_url_out_of_reprs() -> None:
    model = EmailSinkModel.model_validate(
        {"type": "email", "smtp_url": "smtp://u:pw123456@h", "from": "a@b.c", "to": ["d@e.f"]}
    )
    assert isinstance(model.smtp_url, SecretStr)
    assert "pw123456" not in repr(model)
