"""The sink interface: one class per ``type``, one job each (render and send one message).

A sink never retries and never sleeps: it sends once and either returns (the destination
accepted the message) or raises :class:`~detector.errors.AlertDeliveryError` saying whether a
later attempt may succeed (``retriable``) and how long the destination asked us to wait
(``retry_after``). Backoff, dead-lettering, grouping and pacing belong to the dispatcher.
"""

from __future__ import annotations

import ssl
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import requests

from detector.alerts.model import Alert, Digest
from detector.alerts.netguard import Resolver, resolve_host
from detector.config.models import (
    EmailSinkModel,
    LogSinkModel,
    PagerDutySinkModel,
    WebhookSinkModel,
)
from detector.storage.deliveries import SinkFilter

__all__ = ["Sink", "SinkContext", "SinkModel"]

SinkModel = LogSinkModel | WebhookSinkModel | EmailSinkModel | PagerDutySinkModel


def _session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "fieldwarden-alerts"
    return session


@dataclass(slots=True)
class SinkContext:
    """What sinks share during one dispatch; tests hand in their own parts."""

    session: requests.Session = field(default_factory=_session)
    """HTTP for webhook and PagerDuty sinks (every call sets its own timeout)."""
    resolve: Resolver = resolve_host
    """How webhook hosts are resolved before the private-address check."""
    ssl_context: ssl.SSLContext | None = None
    """TLS for SMTP; None means the system's default trust store."""
    first_n: int = 10
    """How many events a digest lists in full (email lists five times as many)."""

    def close(self) -> None:
        self.session.close()


class Sink(ABC):
    """One configured alert destination."""

    type: ClassVar[str]
    always_digest: ClassVar[bool] = False
    """True: every run's events become one message, however few (email)."""
    writes_batches: ClassVar[bool] = False
    """True: the sink takes all of a run's events at once and renders each (the alert log)."""
    min_interval: float = 0.0
    """Seconds to leave between two messages to this sink (Slack: one per second)."""

    def __init__(self, name: str, model: Any, context: SinkContext) -> None:
        self.name = name
        self.model = model
        self.context = context
        self.max_attempts: int = model.max_attempts
        self.digest_after: int = model.digest_after
        self.filter = SinkFilter(
            sink=name,
            min_severity=str(model.min_severity),
            entities=tuple(model.entities or ()),
            fields=tuple(model.fields or ()),
            systems=tuple(model.systems or ()),
            kinds=tuple(str(k) for k in model.kinds or ()),
        )

    def preflight(self) -> None:
        """Check the destination before sending anything (raise ``AlertDeliveryError``).

        The default has nothing to check; HTTP sinks refuse a private destination here, once
        per dispatch, before any message is rendered.
        """
        return

    @abstractmethod
    def send_alert(self, alert: Alert) -> None:
        """Send one event; raise ``AlertDeliveryError`` when the destination did not take it."""

    @abstractmethod
    def send_digest(self, digest: Digest) -> None:
        """Send a run's events as one summary message."""

    def send_batch(self, alerts: Sequence[Alert]) -> None:
        """Send several events together (only sinks with ``writes_batches``)."""
        for alert in alerts:
            self.send_alert(alert)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
