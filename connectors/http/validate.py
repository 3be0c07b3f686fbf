"""Turning HTTP responses into data or into the right ``SourceError``.

    status / body                                     raises
    401, 403                                          SourceFatalError("authentication failed")
    403 naming REQUEST_LIMIT_EXCEEDED (Salesforce)    RateLimitedError (see is_rate_limit_403)
    404                                               SourceFatalError naming the endpoint
    other 4xx                                         SourceFatalError
    429 (retries spent or Retry-After over the cap)   RateLimitedError(retry_after=...)
    5xx (retries spent)                               SourceRetriableError
    3xx that reached us                               SourceFatalError
    empty body, non-JSON, invalid or truncated JSON   InvalidPayloadError
    GraphQL ``errors`` in a 200                       InvalidPayloadError / SourceFatalError,
                                                      THROTTLED -> RetryLater (the client waits or
                                                      raises RateLimitedError over the cap)
    JSON-RPC ``error`` in a 200                       InvalidPayloadError (SourceFatalError: access)

Messages carry the URL *without* its query string or user info (:func:`redact_url`), and any
vendor text quoted in them is passed through :func:`scrub` with the connector's secrets first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import requests

from connectors.http.redact import redact_url, scrub
from connectors.http.retry import retry_after_from_headers
from detector.errors import (
    InvalidPayloadError,
    RateLimitedError,
    SourceFatalError,
    SourceRetriableError,
)

__all__ = [
    "RetryLater",
    "check_graphql",
    "check_jsonrpc",
    "decode_json",
    "is_rate_limit_403",
    "validate_response",
]


class RetryLater(Exception):  # noqa: N818  # a signal to the client, not an error to report
    """Raised by a payload check when the vendor throttled us inside a 200 (GraphQL cost)."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason


def is_rate_limit_403(response: requests.Response) -> bool:
    """Salesforce answers an exhausted API allowance with 403 REQUEST_LIMIT_EXCEEDED."""
    return b"REQUEST_LIMIT_EXCEEDED" in (response.content or b"")[:4096]


def _body_hint(response: requests.Response, secrets: Iterable[str]) -> str:
    try:
        text = response.content.decode(response.encoding or "utf-8", errors="replace")
    except (AttributeError, LookupError):
        return ""
    return scrub(text, secrets)


def validate_response(
    response: requests.Response,
    *,
    system: str | None = None,
    secrets: Iterable[str] = (),
) -> None:
    """Raise the SourceError that ``response``'s status means; return for 2xx."""
    status = response.status_code
    url = redact_url(response.url or "")
    context: dict[str, Any] = {"system": system, "url": url, "status": status}
    if 200 <= status < 300:
        return
    if status == 429 or (status == 403 and is_rate_limit_403(response)):
        wait = retry_after_from_headers(response.headers)
        detail = f"; asked to wait {wait:.0f}s" if wait is not None else ""
        raise RateLimitedError(f"rate limited (HTTP {status}){detail}", retry_after=wait, **context)
    if status in (401, 403):
        raise SourceFatalError(f"authentication failed (HTTP {status})", **context)
    if status == 404:
        raise SourceFatalError(f"endpoint not found (HTTP 404): {url}", **context)
    if 300 <= status < 400:
        raise SourceFatalError(f"unexpected redirect (HTTP {status})", **context)
    hint = _body_hint(response, secrets)
    suffix = f": {hint}" if hint else ""
    if status >= 500:
        raise SourceRetriableError(f"server error (HTTP {status}){suffix}", **context)
    raise SourceFatalError(f"request rejected (HTTP {status}){suffix}", **context)


def decode_json(response: requests.Response, *, system: str | None = None) -> Any:
    """The JSON body of a 2xx response; numbers with a fraction come back as ``Decimal``.

    Decimals keep a price exactly as the vendor wrote it (``"24.00"`` stays ``24.00``).
    """
    context: dict[str, Any] = {
        "system": system,
        "url": redact_url(response.url or ""),
        "status": response.status_code,
    }
    content = response.content
    if not content or not content.strip():
        raise InvalidPayloadError("empty response body where JSON was expected", **context)
    ctype = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype and not (
        ctype == "application/json" or ctype.endswith("+json") or ctype == "text/json"
    ):
        raise InvalidPayloadError(f"expected JSON, got content type {ctype!r}", **context)
    try:
        return json.loads(content, parse_float=Decimal)
    except RecursionError:
        raise InvalidPayloadError("JSON nested too deeply", **context) from None
    except (ValueError, UnicodeDecodeError) as exc:
        where = f" at byte {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        raise InvalidPayloadError(
            f"invalid or truncated JSON{where} ({len(content)} bytes)", **context
        ) from None


def check_graphql(body: Any, *, system: str | None = None, url: str | None = None) -> Any:
    """The ``data`` of a GraphQL response; ``errors`` (even beside data) are a failure.

    A THROTTLED error raises :class:`RetryLater` with the cost-based wait when the response's
    ``extensions.cost`` says how long the bucket needs (Shopify), else one second.
    """
    context: dict[str, Any] = {"system": system, "url": url}
    if not isinstance(body, Mapping):
        raise InvalidPayloadError("GraphQL response is not an object", **context)
    errors = body.get("errors")
    if errors:
        items = errors if isinstance(errors, list) else [errors]
        codes = {
            str(e.get("extensions", {}).get("code", "")) if isinstance(e, Mapping) else ""
            for e in items
        }
        if "THROTTLED" in codes:
            raise RetryLater(_graphql_throttle_wait(body), "GraphQL query throttled")
        messages = "; ".join(
            str(e.get("message", "")) if isinstance(e, Mapping) else str(e) for e in items
        )
        text = scrub(messages)
        if codes & {"ACCESS_DENIED", "UNAUTHENTICATED", "FORBIDDEN"}:
            raise SourceFatalError(f"authentication failed: {text}", **context)
        raise InvalidPayloadError(f"GraphQL errors in a 200 response: {text}", **context)
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise InvalidPayloadError("GraphQL response has no data", **context)
    return data


def _graphql_throttle_wait(body: Mapping[str, Any]) -> float:
    try:
        cost = body["extensions"]["cost"]
        status = cost["throttleStatus"]
        needed = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        rate = float(status["restoreRate"])
    except (KeyError, TypeError, ValueError):
        return 1.0
    if rate <= 0:
        return 1.0
    return max(needed / rate, 0.0) + 0.1


_ACCESS_NAMES = ("AccessDenied", "AccessError", "SessionExpired", "NotLogged")


def check_jsonrpc(
    body: Any,
    *,
    system: str | None = None,
    url: str | None = None,
    secrets: Iterable[str] = (),
) -> Any:
    """The ``result`` of a JSON-RPC response; an ``error`` member inside the 200 is a failure."""
    context: dict[str, Any] = {"system": system, "url": url}
    if not isinstance(body, Mapping):
        raise InvalidPayloadError("JSON-RPC response is not an object", **context)
    error = body.get("error")
    if error is not None:
        text = scrub(_jsonrpc_message(error), secrets)
        if any(name in text for name in _ACCESS_NAMES):
            raise SourceFatalError(f"access denied: {text}", **context)
        raise InvalidPayloadError(f"JSON-RPC error in a 200 response: {text}", **context)
    if "result" not in body:
        raise InvalidPayloadError("JSON-RPC response has neither result nor error", **context)
    return body["result"]


def _jsonrpc_message(error: Any) -> str:
    if isinstance(error, Mapping):
        data = error.get("data")
        name = data.get("name") if isinstance(data, Mapping) else None
        message = data.get("message") if isinstance(data, Mapping) else None
        parts = [str(p) for p in (name, message or error.get("message")) if p]
        return ": ".join(parts) or "unknown error"
    if isinstance(error, list):  # Tryton: [exception name, args]
        return ": ".join(str(p) for p in error[:2])
    return str(error)
