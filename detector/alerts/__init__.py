"""Alerts: the outbox dispatcher and its sinks (log, webhook/Slack, email, PagerDuty).

``dispatch(config, store)`` is what ``detector.service`` calls after a run commits, and what
the daemon calls on its dispatch schedule. See ``dispatcher.py`` for delivery guarantees
(at least once, backoff, dead deliveries, digests, pacing) and ``sinks/`` for each sink.
"""

from detector.alerts.dispatcher import DispatchPolicy, DispatchReport, Pacer, dispatch
from detector.alerts.model import Alert, Digest, protect
from detector.alerts.netguard import DestinationRefusedError, check_destination
from detector.alerts.sinks import SINKS, Sink, SinkContext, build_sinks, sink_names

__all__ = [
    "SINKS",
    "Alert",
    "DestinationRefusedError",
    "Digest",
    "DispatchPolicy",
    "DispatchReport",
    "Pacer",
    "Sink",
    "SinkContext",
    "build_sinks",
    "check_destination",
    "dispatch",
    "protect",
    "sink_names",
]
