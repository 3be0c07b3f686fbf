"""``HttpClient``: one system's HTTP access, built on the shared session, for a connector to use.

A connector creates one client per instance (lazily) and calls ``get_json`` / ``post_json`` /
``request_json``. The client

* uses ``ConnectorContext.session`` when the runtime (or a test) hands one in, else
  :func:`~connectors.http.session.build_session` from the options (and closes only its own);
* passes the timeout on every call, so even a plain injected session never waits forever;
* adds credentials per request through :class:`~connectors.http.session.HeaderAuth`;
* follows redirects itself, only within the base URL's origin (else ``SourceFatalError``), and
  refuses absolute URLs (e.g. a server-sent next link) that leave that origin;
* maps transport failures to ``SourceError``\\ s without quoting the library's message (it holds
  the full URL, query string included);
* runs :meth:`validate_response` (override it per vendor) and :meth:`check_payload` (override it
  for errors inside a 200); a check may raise ``RetryLater(seconds)`` for throttling reported in
  the body (GraphQL ``THROTTLED``): the client sleeps up to ``retry_after_cap`` and retries up to
  ``max_retries`` times, else raises ``RateLimitedError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import structlog
from pydantic import SecretStr
from requests.auth import AuthBase

from connectors.base import ConnectorContext
from connectors.http import retry as _retry
from connectors.http.redact import redact_url
from connectors.http.session import HeaderAuth, build_session, same_origin
from connectors.http.settings import HttpOptions
from connectors.http.validate import RetryLater, decode_json, validate_response
from detector.errors import (
    InvalidPayloadError,
    RateLimitedError,
    SourceFatalError,
    SourceRetriableError,
)

__all__ = ["HttpClient", "JsonResponse"]

_log = structlog.get_logger(__name__)
_MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class JsonResponse:
    """A decoded (and checked) JSON body together with the response it came from."""

    data: Any
    response: requests.Response

    @property
    def url(self) -> str:
        """The response URL without query string (safe to log)."""
        return redact_url(self.response.url or "")


class HttpClient:
    """HTTP access for one system; see the module docstring."""

    def __init__(
        self,
        options: HttpOptions,
        context: ConnectorContext,
        *,
        system: str,
        auth: Mapping[str, SecretStr | str] | AuthBase | None = None,
        base_url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.options = options
        self.context = context
        self.system = system
        self.base_url = (base_url or options.url).rstrip("/")
        self.headers = dict(headers or {})
        if isinstance(auth, Mapping):
            self.auth: AuthBase | None = HeaderAuth(auth)
            extra = [v.get_secret_value() if isinstance(v, SecretStr) else v for v in auth.values()]
        else:
            self.auth = auth
            extra = []
        self.secrets: tuple[str, ...] = tuple(
            s
            for s in (
                *(
                    v.get_secret_value()
                    for v in (options.token, options.password, options.client_secret)
                    if v is not None
                ),
                *extra,
            )
            if s
        )
        self._session: requests.Session | None = context.session
        self._owns_session = context.session is None

    # -- session ---------------------------------------------------------------------------
    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = build_session(self.options, base_dir=self.context.base_dir)
        return self._session

    def close(self) -> None:
        if self._owns_session and self._session is not None:
            self._session.close()
            self._session = None

    # -- URLs ------------------------------------------------------------------------------
    def url_for(self, path_or_url: str) -> str:
        """Absolute URL for an API path (joined to ``base_url``) or a same-origin absolute URL."""
        if urlsplit(path_or_url).scheme:
            if not same_origin(self.base_url, path_or_url):
                raise SourceFatalError(
                    f"refused to follow a URL on another host ({redact_url(path_or_url)})",
                    system=self.system,
                    url=redact_url(self.base_url),
                )
            return path_or_url
        if path_or_url.startswith("?"):
            return self.base_url + path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}" if path_or_url else self.base_url

    # -- hooks -----------------------------------------------------------------------------
    def validate_response(self, response: requests.Response) -> None:
        """Raise for a non-2xx response (see ``connectors.http.validate``); override per vendor."""
        validate_response(response, system=self.system, secrets=self.secrets)

    def check_payload(self, data: Any, response: requests.Response) -> Any:
        """Errors inside a 200 (override): return the data to use, raise, or raise RetryLater."""
        return data

    # -- requests --------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send one request (with transport retries) and validate its status."""
        url = self.url_for(path_or_url)
        merged = {**self.headers, **(headers or {})}
        for _ in range(_MAX_REDIRECTS + 1):
            response = self._send(method, url, params=params, json=json, headers=merged)
            if response.status_code not in _REDIRECTS or "Location" not in response.headers:
                self.validate_response(response)
                return response
            target = urljoin(response.url or url, response.headers["Location"])
            if not same_origin(url, target):
                raise SourceFatalError(
                    f"refused a redirect to another host ({redact_url(target)})",
                    system=self.system,
                    url=redact_url(url),
                    status=response.status_code,
                )
            if response.status_code == 303:
                method, json = "GET", None
            url, params = target, None
        raise SourceFatalError(
            f"more than {_MAX_REDIRECTS} redirects", system=self.system, url=redact_url(url)
        )

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str],
    ) -> requests.Response:
        context: dict[str, Any] = {"system": self.system, "url": redact_url(url)}
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                json=json,
                headers=headers,
                auth=self.auth,
                timeout=self.options.timeout,
                allow_redirects=False,
                stream=True,
            )
            self._read_body(response, context)
            return response
        # The library's own messages contain the full URL (query string included), so each is
        # replaced by a message of ours and the chain is cut (``from None``).
        except requests.exceptions.SSLError:
            raise SourceFatalError("TLS verification failed", **context) from None
        except requests.exceptions.Timeout:
            raise SourceRetriableError(
                f"timed out after {self.options.timeout:g}s", **context
            ) from None
        except requests.exceptions.RetryError:
            raise SourceRetriableError("retries exhausted", **context) from None
        except requests.exceptions.ConnectionError as exc:
            raise SourceRetriableError(
                f"connection failed ({type(exc).__name__})", **context
            ) from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
            raise InvalidPayloadError("response body truncated or undecodable", **context) from None
        except requests.exceptions.RequestException as exc:
            raise SourceFatalError(f"request failed ({type(exc).__name__})", **context) from None

    def _read_body(self, response: requests.Response, context: dict[str, Any]) -> None:
        """Read the (streamed) body into ``response.content``, refusing one over the size cap.

        A declared ``Content-Length`` over the cap is refused before reading anything; an
        undeclared (chunked) body is refused as soon as it grows past the cap, so a hostile or
        broken endpoint cannot make the daemon hold an unbounded body in memory.
        """
        limit = self.options.max_response_bytes
        declared = response.headers.get("Content-Length", "")
        too_large = InvalidPayloadError(
            f"response body larger than the {limit:,} byte limit (max_response_bytes)",
            status=response.status_code,
            **context,
        )
        if declared.isdigit() and int(declared) > limit:
            response.close()
            raise too_large
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(chunk_size=64 * 1024):
            size += len(chunk)
            if size > limit:
                response.close()
                raise too_large
            chunks.append(chunk)
        response._content = b"".join(chunks)  # what requests' own .content does after reading
        response.close()

    def request_json(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        check: Callable[[Any, requests.Response], Any] | None = None,
    ) -> JsonResponse:
        """Send, validate, decode JSON and check the payload; retry body-level throttling."""
        attempt = 0
        while True:
            response = self.request(method, path_or_url, params=params, json=json, headers=headers)
            data = decode_json(response, system=self.system)
            try:
                checked = (check or self.check_payload)(data, response)
            except RetryLater as later:
                attempt += 1
                self._wait_throttled(later, attempt, response)
                continue
            return JsonResponse(checked, response)

    def _wait_throttled(self, later: RetryLater, attempt: int, response: requests.Response) -> None:
        url = redact_url(response.url or "")
        cap = self.options.retry_after_cap
        if later.seconds > cap:
            _log.warning(
                "http_rate_limited", system=self.system, url=url, retry_after=later.seconds, cap=cap
            )
            raise RateLimitedError(
                f"{later.reason}; asked to wait {later.seconds:.0f}s, over the {cap:g}s cap",
                retry_after=later.seconds,
                system=self.system,
                url=url,
            )
        if attempt > self.options.max_retries:
            _log.warning("http_rate_limited", system=self.system, url=url, attempts=attempt)
            raise RateLimitedError(
                f"{later.reason}; still throttled after {attempt - 1} retries",
                retry_after=later.seconds,
                system=self.system,
                url=url,
            )
        _log.info(
            "http_throttled", system=self.system, url=url, wait=later.seconds, attempt=attempt
        )
        _retry.sleep(later.seconds)

    def get_json(
        self, path_or_url: str, *, params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> JsonResponse:
        return self.request_json("GET", path_or_url, params=params, **kwargs)

    def post_json(self, path_or_url: str, *, json: Any, **kwargs: Any) -> JsonResponse:
        return self.request_json("POST", path_or_url, json=json, **kwargs)
