"""Alert sinks, one class per config ``type``, looked up in :data:`SINKS`.

``build_sinks(models, context)`` turns the config's ``alerts`` list into sink objects with
stable names: the sink's ``name`` when set, else its type, numbered from the second sink of
a type on (``webhook``, ``webhook-2``). Deliveries are stored under that name, so renaming a
sink (or inserting a second one of a type before the first) starts it afresh.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from detector.alerts.sinks.base import Sink, SinkContext, SinkModel
from detector.alerts.sinks.email import EmailSink
from detector.alerts.sinks.log import LogSink
from detector.alerts.sinks.pagerduty import PagerDutySink
from detector.alerts.sinks.webhook import WebhookSink

__all__ = [
    "SINKS",
    "EmailSink",
    "LogSink",
    "PagerDutySink",
    "Sink",
    "SinkContext",
    "WebhookSink",
    "build_sinks",
    "sink_names",
]

SINKS: Mapping[str, type[Sink]] = {
    sink.type: sink for sink in (LogSink, WebhookSink, EmailSink, PagerDutySink)
}


def sink_names(models: Iterable[SinkModel]) -> list[str]:
    """The delivery name of each configured sink, in config order (unique)."""
    names: list[str] = []
    per_type: Counter[str] = Counter()
    taken: set[str] = set()
    for model in models:
        per_type[model.type] += 1
        base = model.name or (
            model.type if per_type[model.type] == 1 else f"{model.type}-{per_type[model.type]}"
        )
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        names.append(name)
    return names


def build_sinks(models: Iterable[SinkModel], context: SinkContext) -> list[Sink]:
    """One sink object per configured sink (see the module docstring for names)."""
    models = list(models)
    return [
        SINKS[model.type](name, model, context)
        for name, model in zip(sink_names(models), models, strict=True)
    ]
