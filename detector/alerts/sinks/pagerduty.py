"""PagerDuty Events API v2.

A discrepancy event triggers (``opened``, ``reopened``, ``reminder``) or resolves
(``resolved``) the PagerDuty alert whose ``dedup_key`` is the discrepancy id, so a fix closes
the page and a recurrence opens a new one. Source events use ``source:<system>:<entity>``
(failed triggers, recovered resolves). A digest is one trigger keyed by the run
(``fieldwarden-run:<id>``) summarising its events: the individual discrepancies in it are not
paged one by one, so later resolves of those ids find no PagerDuty alert (PagerDuty accepts
and ignores them) and the digest's alert is resolved by hand.
"""

from __future__ import annotations

from typing import Any

from detector.alerts.model import Alert, Digest
from detector.alerts.sinks.base import Sink, SinkContext
from detector.alerts.sinks.http import check, post_json

__all__ = ["PagerDutySink", "pagerduty_event"]

_SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info"}
_RESOLVING = frozenset({"resolved", "source_recovered"})
_SUMMARY_LIMIT = 1024
_KEY_LIMIT = 255


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dedup_key(alert: Alert) -> str:
    if alert.is_source_event:
        key = f"source:{alert.payload.get('system')}:{alert.payload.get('entity')}"
    else:
        key = alert.discrepancy_id or f"event:{alert.event_id}"
    return key[:_KEY_LIMIT]


def pagerduty_event(alert: Alert, routing_key: str) -> dict[str, Any]:
    """The Events API v2 body for one event."""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "resolve" if alert.event in _RESOLVING else "trigger",
        "dedup_key": dedup_key(alert),
    }
    if body["event_action"] == "trigger":
        p = alert.payload
        body["payload"] = {
            "summary": _cut(f"Fieldwarden {alert.headline()}", _SUMMARY_LIMIT),
            "source": f"fieldwarden:{p.get('system')}",
            "severity": _SEVERITY.get(alert.severity, "warning"),
            "timestamp": alert.to_json()["at"],
            "component": str(p.get("entity") or ""),
            "group": alert.field_name,
            "class": str(p.get("kind") or alert.event),
            "custom_details": alert.to_json(),
        }
    return body


def pagerduty_digest(digest: Digest, routing_key: str, first_n: int) -> dict[str, Any]:
    rank = {"low": 0, "medium": 1, "high": 2, "critical": 3}
    worst = max((a.severity for a in digest.alerts), key=lambda s: rank.get(s, 1), default="medium")
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": f"fieldwarden-run:{digest.run_id}"[:_KEY_LIMIT],
        "payload": {
            "summary": _cut(f"Fieldwarden {digest.title()}", _SUMMARY_LIMIT),
            "source": "fieldwarden",
            "severity": _SEVERITY.get(worst, "warning"),
            "class": "digest",
            "custom_details": digest.to_json(first_n),
        },
    }


class PagerDutySink(Sink):
    type = "pagerduty"

    def __init__(
        self, name: str, model: Any, context: SinkContext, *, allow_private: bool = False
    ) -> None:
        super().__init__(name, model, context)
        self.allow_private = allow_private
        """Only tests point PagerDuty at a loopback server."""

    def send_alert(self, alert: Alert) -> None:
        self._post(pagerduty_event(alert, self.model.routing_key.get_secret_value()))

    def send_digest(self, digest: Digest) -> None:
        key = self.model.routing_key.get_secret_value()
        self._post(pagerduty_digest(digest, key, self.context.first_n))

    def preflight(self) -> None:
        check(
            self.model.url,
            sink=self.name,
            allow_private=self.allow_private,
            resolve=self.context.resolve,
        )

    def _post(self, body: dict[str, Any]) -> None:
        post_json(
            self.context.session,
            self.model.url,
            body,
            sink=self.name,
            timeout=self.model.timeout,
            allow_private=self.allow_private,
            resolve=self.context.resolve,
        )
