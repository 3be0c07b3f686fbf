"""POSTing JSON to a webhook-like destination, and sorting the answer into retry or give up.

Every request: the destination checked first (``netguard``), an explicit timeout, redirects
never followed (a redirect is a failure: following it could carry the alert somewhere the check
never saw). 429, 408, 5xx, timeouts and connection errors are retriable, with ``Retry-After``
passed on; any other answer outside 2xx is final.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from connectors.http.retry import retry_after_from_headers
from detector.alerts.netguard import DestinationRefusedError, Resolver, check_destination, describe
from detector.errors import AlertDeliveryError
from detector.logs import scrub_text

__all__ = ["RETRIABLE_STATUSES", "check", "post_json"]

RETRIABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_SNIPPET = 160


def check(url: str, *, sink: str, allow_private: bool, resolve: Resolver) -> None:
    """``check_destination`` as a delivery failure: refused is final, unresolvable retriable."""
    try:
        check_destination(url, allow_private=allow_private, resolve=resolve)
    except DestinationRefusedError as exc:
        raise AlertDeliveryError(
            f"destination refused: {exc}", sink=sink, retriable=False
        ) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise AlertDeliveryError(
            f"cannot resolve {describe(url)}: {reason}", sink=sink, retriable=True
        ) from None


def post_json(
    session: requests.Session,
    url: str,
    body: Any,
    *,
    sink: str,
    timeout: float,
    allow_private: bool,
    resolve: Resolver,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """POST ``body`` as JSON; return the 2xx response or raise ``AlertDeliveryError``."""
    where = describe(url)
    try:
        check_destination(url, allow_private=allow_private, resolve=resolve)
    except DestinationRefusedError as exc:
        raise AlertDeliveryError(
            f"destination refused: {exc}", sink=sink, retriable=False
        ) from None
    except OSError as exc:
        raise AlertDeliveryError(
            f"cannot resolve {where}: {exc}", sink=sink, retriable=True
        ) from None
    try:
        response = session.post(
            url, json=body, headers=dict(headers or {}), timeout=timeout, allow_redirects=False
        )
    except requests.Timeout:
        raise AlertDeliveryError(
            f"{where} timed out after {timeout}s", sink=sink, retriable=True
        ) from None
    except requests.RequestException as exc:
        reason = type(exc).__name__
        raise AlertDeliveryError(
            f"{where} unreachable ({reason})", sink=sink, retriable=True
        ) from None
    status = response.status_code
    if 200 <= status < 300:
        return response
    snippet = scrub_text(" ".join(response.text[:_SNIPPET].split()))
    if 300 <= status < 400:
        raise AlertDeliveryError(
            f"{where} answered a redirect ({status}); redirects are not followed",
            sink=sink,
            retriable=False,
        )
    retriable = status in RETRIABLE_STATUSES
    raise AlertDeliveryError(
        f"{where} answered {status}" + (f": {snippet}" if snippet else ""),
        sink=sink,
        retriable=retriable,
        retry_after=retry_after_from_headers(response.headers) if retriable else None,
    )
