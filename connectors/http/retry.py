"""Transport-level retries: urllib3 ``Retry`` with a cap on how long a vendor may make us wait.

``CappedRetry`` retries 429/500/502/503/504 and connection/read errors with exponential backoff,
honours ``Retry-After`` (seconds, fractional seconds such as Shopify's ``2.0``, or an HTTP date)
and BigCommerce's ``X-Rate-Limit-Time-Reset-Ms``, and when the wait asked for exceeds
``retry_after_cap`` it stops at once instead of sleeping: the 429 is handed back to the caller,
whose ``validate_response`` raises ``RateLimitedError``. (urllib3 >= 2.6 has ``retry_after_max``,
but it *clamps* the sleep and retries anyway, and older 2.x releases lack it, so the cap is ours.)

POST is in ``allowed_methods`` on purpose: every POST our connectors send is a read (GraphQL
queries, JSON-RPC ``search_read``/``login``), so repeating it is safe. Do not use this session
for writes.

All sleeping goes through :func:`sleep` in this module, resolved at call time, so tests replace
it (``monkeypatch.setattr("connectors.http.retry.sleep", fake)``) and nothing really waits.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import structlog
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from connectors.http.redact import redact_url

__all__ = [
    "RETRY_METHODS",
    "RETRY_STATUSES",
    "CappedRetry",
    "build_retry",
    "retry_after_from_headers",
    "sleep",
]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST"})

_log = structlog.get_logger(__name__)


def sleep(seconds: float) -> None:
    """The one place the HTTP layer waits; tests monkeypatch it."""
    time.sleep(seconds)


def retry_after_from_headers(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait, from ``Retry-After`` or a vendor reset header."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw = lowered.get("retry-after")
    if raw is not None:
        raw = raw.strip()
        try:
            return max(float(raw), 0.0)
        except ValueError:
            parsed = email.utils.parsedate_tz(raw)
            if parsed is not None:
                return max(float(email.utils.mktime_tz(parsed)) - time.time(), 0.0)
    reset_ms = lowered.get("x-rate-limit-time-reset-ms")  # BigCommerce
    if reset_ms is not None:
        try:
            return max(float(reset_ms) / 1000.0, 0.0)
        except ValueError:
            return None
    return None


class CappedRetry(Retry):
    """urllib3 Retry that refuses to wait longer than ``retry_after_cap`` seconds."""

    def __init__(self, *args: Any, retry_after_cap: float = 300.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after_cap = retry_after_cap

    def new(self, **kw: Any) -> Self:
        kw.setdefault("retry_after_cap", self.retry_after_cap)
        return super().new(**kw)

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        return retry_after_from_headers(response.headers)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if response is not None:
            wait = self.get_retry_after(response)
            if wait is not None and wait > self.retry_after_cap:
                _log.warning(
                    "http_retry_after_over_cap",
                    status=response.status,
                    retry_after=wait,
                    cap=self.retry_after_cap,
                    url=redact_url(url or ""),
                )
                # MaxRetryError makes urllib3 (raise_on_status=False) hand the response back
                # unchanged and without sleeping; validate_response turns it into RateLimitedError.
                raise MaxRetryError(
                    _pool,  # type: ignore[arg-type]  # urllib3 itself passes None here
                    redact_url(url or ""),
                    ResponseError(f"server asked to wait {wait:.0f}s, over the cap"),
                )
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        _log.info(
            "http_retry",
            method=method,
            url=redact_url(url or ""),
            status=response.status if response is not None else None,
            error=type(error).__name__ if error is not None else None,
            attempt=len(new.history),
        )
        return new

    def sleep_for_retry(self, response: BaseHTTPResponse) -> bool:
        wait = self.get_retry_after(response)
        if wait is None:
            return False
        if wait > 0:
            sleep(min(wait, self.retry_after_cap))
        return True

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        if (
            self.respect_retry_after_header
            and response is not None
            and self.sleep_for_retry(response)
        ):
            return
        backoff = self.get_backoff_time()
        if backoff > 0:
            sleep(backoff)


def build_retry(
    *,
    max_retries: int,
    backoff_factor: float,
    retry_after_cap: float,
) -> CappedRetry:
    """The Retry every Fieldwarden session mounts (see the module docstring for the policy)."""
    return CappedRetry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        redirect=False,
        other=0,
        allowed_methods=RETRY_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=60.0,
        backoff_jitter=min(backoff_factor, 1.0),
        raise_on_status=False,
        raise_on_redirect=False,
        respect_retry_after_header=True,
        retry_after_cap=retry_after_cap,
    )
