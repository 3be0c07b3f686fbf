"""The one HTTP layer every API connector uses.

Public API (stable; everything else is internal):

``HttpOptions``
    pydantic options base with the SPEC names: ``url`` (required unless a vendor defaults it),
    ``token``/``password``/``client_secret`` (SecretStr), ``username``, ``client_id``,
    ``api_version``, ``ca_bundle`` (relative to the config folder), ``timeout`` (30 s),
    ``page_size``, ``max_pages`` (10 000), ``retry_after_cap`` (300 s), ``max_retries`` (5),
    ``backoff_factor`` (0.5; 0 in tests), ``max_response_bytes`` (64 MiB; a bigger body is
    ``InvalidPayloadError``). Subclass it for vendor options (Odoo and Tryton add
    ``database``). ``resolve_ca_bundle(path, base_dir)`` gives the ``verify`` value; ``USER_AGENT``
    is ``fieldwarden/<version>``.
``HttpClient(options, context, system=..., auth={"Header": SecretStr(...)}, base_url=None)``
    ``get_json(path, params=)``, ``post_json(path, json=)``, ``request_json(method, path, ...,
    check=)`` -> ``JsonResponse(data, response)``; ``request(...)`` -> validated Response.
    Override ``validate_response(response)`` for status handling and ``check_payload(data,
    response)`` for errors inside a 200 (raise ``RetryLater(seconds, reason)`` to be retried).
    ``close()`` closes the session only when the client built it.
``build_session(options, base_dir=)``, ``FieldwardenSession``, ``TimeoutHTTPAdapter``,
``HeaderAuth``
    the session factory: timeouts always, ``CappedRetry`` on 429/5xx/connect/read errors (POST
    included: our POSTs are reads), TLS always verified, User-Agent, cross-host redirects refused.
``CappedRetry`` / ``build_retry`` / ``retry_after_from_headers``
    transport retries; a ``Retry-After`` (or BigCommerce reset header) above the cap is not slept:
    the 429 surfaces as ``RateLimitedError``. Tests patch ``connectors.http.retry.sleep``.
``validate_response``, ``decode_json``, ``check_graphql``, ``check_jsonrpc``, ``RetryLater``,
``redact_url``, ``scrub``, ``is_rate_limit_403``
    status -> SourceError mapping, JSON decoding (floats as Decimal), errors inside a 200.
``Paginator`` and ``CursorPaginator``, ``NextUrlPaginator``, ``LinkHeaderPaginator``,
``OffsetPaginator``, ``PageNumberPaginator``, ``SinglePagePaginator``, ``Page``, ``drain``
    ``for page in paginator.pages(fetch): ...``; loops and the page cap raise
    ``PaginationLoopError``; ``paginator.complete`` is False when a declared total disagrees;
    ``drain(paginator, fetch)`` -> (all records, complete).

``HttpConnector`` (base class: ``auth_headers()``/``make_client()``, lazy ``self.client``,
``close()``, ``require_resource``, ``since_or_default``), ``parse_timestamp``,
``DEFAULT_CHANGES_WINDOW`` (7 days, the SPEC's first change-log read for APIs)
    what vendor connector modules share.

Log events (structlog): ``http_retry``, ``http_retry_after_over_cap``, ``http_throttled``,
``http_rate_limited``, ``http_page`` (debug), ``http_pagination_loop``, ``http_total_mismatch``.
None of them carries a secret or a query string.

The names above are imported from their modules on first use (PEP 562 ``__getattr__``), so
``from connectors.http.retry import ...`` (the alert sinks' HTTP helper does it) imports the
retry module alone, not the whole HTTP client, session and pagination stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.http.client import HttpClient, JsonResponse
    from connectors.http.connector import DEFAULT_CHANGES_WINDOW, HttpConnector, parse_timestamp
    from connectors.http.pagination import (
        CursorPaginator,
        LinkHeaderPaginator,
        NextUrlPaginator,
        OffsetPaginator,
        Page,
        PageNumberPaginator,
        Paginator,
        SinglePagePaginator,
        drain,
    )
    from connectors.http.redact import redact_url, scrub
    from connectors.http.retry import CappedRetry, build_retry, retry_after_from_headers
    from connectors.http.session import (
        FieldwardenSession,
        HeaderAuth,
        TimeoutHTTPAdapter,
        build_session,
    )
    from connectors.http.settings import USER_AGENT, HttpOptions, resolve_ca_bundle
    from connectors.http.validate import (
        RetryLater,
        check_graphql,
        check_jsonrpc,
        decode_json,
        is_rate_limit_403,
        validate_response,
    )

_EXPORTS: dict[str, str] = {
    "HttpClient": "client",
    "JsonResponse": "client",
    "DEFAULT_CHANGES_WINDOW": "connector",
    "HttpConnector": "connector",
    "parse_timestamp": "connector",
    "CursorPaginator": "pagination",
    "LinkHeaderPaginator": "pagination",
    "NextUrlPaginator": "pagination",
    "OffsetPaginator": "pagination",
    "Page": "pagination",
    "PageNumberPaginator": "pagination",
    "Paginator": "pagination",
    "SinglePagePaginator": "pagination",
    "drain": "pagination",
    "redact_url": "redact",
    "scrub": "redact",
    "CappedRetry": "retry",
    "build_retry": "retry",
    "retry_after_from_headers": "retry",
    "FieldwardenSession": "session",
    "HeaderAuth": "session",
    "TimeoutHTTPAdapter": "session",
    "build_session": "session",
    "USER_AGENT": "settings",
    "HttpOptions": "settings",
    "resolve_ca_bundle": "settings",
    "RetryLater": "validate",
    "check_graphql": "validate",
    "check_jsonrpc": "validate",
    "decode_json": "validate",
    "is_rate_limit_403": "validate",
    "validate_response": "validate",
}
"""Public name -> the module under ``connectors.http`` that defines it."""


if not TYPE_CHECKING:  # hidden from mypy: it checks the imports above, and typos stay errors

    def __getattr__(name: str) -> Any:
        """Import a public name's module on first use and keep the name here from then on."""
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    """The public names too, imported or not (``dir()``, ``help()`` and completion list them)."""
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "DEFAULT_CHANGES_WINDOW",
    "USER_AGENT",
    "CappedRetry",
    "CursorPaginator",
    "FieldwardenSession",
    "HeaderAuth",
    "HttpClient",
    "HttpConnector",
    "HttpOptions",
    "JsonResponse",
    "LinkHeaderPaginator",
    "NextUrlPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "Paginator",
    "RetryLater",
    "SinglePagePaginator",
    "TimeoutHTTPAdapter",
    "build_retry",
    "build_session",
    "check_graphql",
    "check_jsonrpc",
    "decode_json",
    "drain",
    "is_rate_limit_403",
    "parse_timestamp",
    "redact_url",
    "resolve_ca_bundle",
    "retry_after_from_headers",
    "scrub",
    "validate_response",
]
