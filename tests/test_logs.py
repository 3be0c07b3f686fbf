"""Logs are data: snake_case events, secrets redacted, personal data masked, no forged lines."""

from __future__ import annotations

import io
import json

import structlog

from detector.logs import configure_logging, scrub_text
from detector.secrets import clear_secrets, register_secret


def test_secrets_and_personal_data_never_reach_the_log() -> None:
    register_secret("sk_CANARY_1234567890")
    try:
        stream = io.StringIO()
        configure_logging("info", stream=stream, json=True)
        structlog.get_logger().info(
            "source_failed",
            error="401 for token sk_CANARY_1234567890",
            customer="canary+pii@example.com",
            phone="+1 555 010 0123",
        )
        line = json.loads(stream.getvalue().strip())
        assert line["event"] == "source_failed"
        text = stream.getvalue()
        assert "sk_CANARY" not in text
        assert "canary+pii@example.com" not in text
        assert "555 010 0123" not in text
        assert "c***@example.com" in text
    finally:
        clear_secrets()
        configure_logging("warning", stream=io.StringIO())


def test_values_cannot_forge_log_lines() -> None:
    assert scrub_text('ok\n{"event": "fake"}\x1b[31m') == 'ok\\n{"event": "fake"}?'


def test_dates_and_counts_are_not_mistaken_for_phone_numbers() -> None:
    assert (
        scrub_text("run at 2026-11-27T10:00:00Z read 1000000 rows")
        == "run at 2026-11-27T10:00:00Z read 1000000 rows"
    )
