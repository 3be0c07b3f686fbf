"""Slack messages (Block Kit) for one event and for a digest.

Owner and reader values sit side by side in a two-column section. Every piece of stored text
is escaped for Slack (``&``, ``<``, ``>``), so a value cannot mention ``<!channel>`` or smuggle a
link, and URL schemes in the plain-text ``text`` fallback are defanged (``https[:]//``) so
the notification text carries no link. Lengths are cut to Block Kit's limits.
"""

from __future__ import annotations

import re
from typing import Any

from detector.alerts.model import Alert, Digest

__all__ = ["slack_alert", "slack_digest"]

_SCHEME = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*)://")
_VALUE_LIMIT = 300
_HEADER_LIMIT = 150
_TEXT_LIMIT = 2900

_EVENT_TITLES = {
    "opened": "Opened",
    "reopened": "Reopened",
    "resolved": "Resolved",
    "reminder": "Still open",
    "source_failed": "Source failed",
    "source_recovered": "Source recovered",
}


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(value: Any, limit: int = _VALUE_LIMIT) -> str:
    """Stored text made inert for Slack: escaped, defanged, control characters and length cut."""
    text = "" if value is None else str(value)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = _SCHEME.sub(r"\1[:]//", escape(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _field(label: str, value: Any) -> dict[str, Any]:
    shown = "(empty)" if value is None or value == "" else plain(value)
    return {"type": "mrkdwn", "text": f"*{plain(label, 100)}*\n{shown}"}


def slack_alert(alert: Alert) -> dict[str, Any]:
    p = alert.payload
    title = _EVENT_TITLES.get(alert.event, alert.event)
    blocks: list[dict[str, Any]] = []
    if alert.is_source_event:
        header = f"{title}: {p.get('system')}/{p.get('entity')}"
        blocks.append(_header(header))
        fields = [_field("Status", p.get("status")), _field("Records", p.get("records"))]
        if p.get("error"):
            fields.append(_field("Error", p.get("error")))
        blocks.append({"type": "section", "fields": fields})
    else:
        header = f"{title}: {alert.field_name} on {p.get('system')}"
        blocks.append(_header(header))
        if p.get("field"):
            blocks.append({
                "type": "section",
                "fields": [
                    _field(f"Owner ({p.get('owner')})", p.get("owner_value")),
                    _field(f"Reader ({p.get('system')})", p.get("system_value")),
                ],
            })  # fmt: skip
        context = [
            f"key {plain(p.get('key'), 200)}",
            plain(p.get("kind"), 50),
            plain(p.get("severity"), 20),
            f"id {plain(alert.discrepancy_id, 64)[:12]}",
        ]
        if p.get("writer"):
            context.append(f"written by {plain(p.get('writer'), 100)}")
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]}
        )
    return {"text": plain(alert.headline(), _TEXT_LIMIT), "blocks": blocks}


def slack_digest(digest: Digest, first_n: int) -> dict[str, Any]:
    counts = digest.counts()
    blocks: list[dict[str, Any]] = [_header(f"Fieldwarden {digest.title()}")]
    for name in ("field", "system", "severity"):
        top = list(counts[name].items())[:10]
        lines = "\n".join(f"{plain(key or '-', 80)}: {count:,}" for key, count in top)
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*By {name}*\n{lines}"}}
        )
    first = digest.first(first_n)
    listing = "\n".join(f"• {plain(a.headline(), 280)}" for a in first)
    more = len(digest) - len(first)
    if more > 0:
        listing += f"\n… and {more:,} more (fieldwarden alerts)"
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": listing[:_TEXT_LIMIT]}})
    summary = "; ".join(f"{plain(k, 80)} {v:,}" for k, v in list(counts["field"].items())[:5])
    text = f"Fieldwarden {plain(digest.title(), 200)} ({summary})"
    return {"text": text[:_TEXT_LIMIT], "blocks": blocks}


def _header(text: str) -> dict[str, Any]:
    # header blocks are plain_text: only length and control characters matter there
    cut = "".join(ch if ch.isprintable() else " " for ch in text)
    if len(cut) > _HEADER_LIMIT:
        cut = cut[: _HEADER_LIMIT - 1] + "…"
    return {"type": "header", "text": {"type": "plain_text", "text": cut}}
