"""Webhooks: ``format: slack`` (Block Kit, paced to one message a second) or ``json``.

``json`` posts the event itself (``Alert.to_json()``) or, for a digest, ``{"digest": true,
"counts": ..., "first": [...]}``. Headers configured on the sink (secrets) are sent as given.
"""

from __future__ import annotations

from typing import Any

from detector.alerts.model import Alert, Digest
from detector.alerts.sinks.base import Sink, SinkContext
from detector.alerts.sinks.http import check, post_json
from detector.alerts.sinks.slack import slack_alert, slack_digest

__all__ = ["SLACK_INTERVAL", "WebhookSink"]

SLACK_INTERVAL = 1.05
"""Seconds between two Slack messages: Slack accepts about one a second per channel."""


class WebhookSink(Sink):
    type = "webhook"

    def __init__(self, name: str, model: Any, context: SinkContext) -> None:
        super().__init__(name, model, context)
        self.format: str = model.format
        if self.format == "slack":
            self.min_interval = SLACK_INTERVAL

    def send_alert(self, alert: Alert) -> None:
        self._post(slack_alert(alert) if self.format == "slack" else alert.to_json())

    def send_digest(self, digest: Digest) -> None:
        n = self.context.first_n
        self._post(slack_digest(digest, n) if self.format == "slack" else digest.to_json(n))

    def preflight(self) -> None:
        check(
            self.model.url.get_secret_value(),
            sink=self.name,
            allow_private=self.model.allow_private,
            resolve=self.context.resolve,
        )

    def _post(self, body: Any) -> None:
        headers = {name: value.get_secret_value() for name, value in self.model.headers.items()}
        post_json(
            self.context.session,
            self.model.url.get_secret_value(),
            body,
            sink=self.name,
            timeout=self.model.timeout,
            allow_private=self.model.allow_private,
            resolve=self.context.resolve,
            headers=headers,
        )
