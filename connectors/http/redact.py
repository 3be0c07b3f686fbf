"""Keeping secrets out of messages and logs: URLs without query strings, vendor text scrubbed."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact_url", "scrub"]

_SNIPPET = 200


def redact_url(url: str) -> str:
    """``url`` without user info, query string or fragment: safe for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret value replaced by ``***`` and cut to a short snippet."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "…"
