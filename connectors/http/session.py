"""The one session factory every HTTP connector uses.

``build_session(options, base_dir=...)`` returns a :class:`FieldwardenSession`:

* a timeout on every request, even when the caller passes none (:class:`TimeoutHTTPAdapter`);
* :class:`~connectors.http.retry.CappedRetry` mounted for http and https;
* TLS verification always on: ``verify`` is the configured ``ca_bundle`` or True, never False;
* ``User-Agent: fieldwarden/<version>`` and ``Accept: application/json``;
* a redirect to another scheme/host/port is refused (``SourceFatalError``) rather than followed
  with our credentials; credentials go in through :class:`HeaderAuth`, not ``session.headers``,
  so a session's repr or headers never show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.util.retry import Retry

from connectors.http.redact import redact_url
from connectors.http.retry import build_retry
from connectors.http.settings import USER_AGENT, HttpOptions, resolve_ca_bundle
from detector.errors import SourceFatalError

__all__ = [
    "FieldwardenSession",
    "HeaderAuth",
    "TimeoutHTTPAdapter",
    "build_session",
    "same_origin",
]

Timeout = float | tuple[float, float]


class TimeoutHTTPAdapter(HTTPAdapter):
    """An adapter that puts its default timeout on every request sent without one."""

    def __init__(self, *, timeout: Timeout, max_retries: Retry | int = 0, **kwargs: Any) -> None:
        self.timeout = timeout
        super().__init__(max_retries=max_retries, **kwargs)

    def send(  # type: ignore[override]  # requests' own positional signature
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Timeout | None = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        if timeout is None:
            timeout = self.timeout
        if verify is False:  # nothing of ours sets it; refuse anyone who tries
            raise SourceFatalError("TLS verification cannot be disabled")
        return super().send(
            request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
        )


def same_origin(old_url: str, new_url: str) -> bool:
    """True when both URLs share scheme, host and port (http -> https on one host also passes)."""
    old, new = urlsplit(old_url), urlsplit(new_url)
    if (old.hostname or "").lower() != (new.hostname or "").lower():
        return False
    default = {"http": 80, "https": 443}
    old_port = old.port or default.get(old.scheme)
    new_port = new.port or default.get(new.scheme)
    if old.scheme == new.scheme:
        return old_port == new_port
    return old.scheme == "http" and new.scheme == "https" and new_port == 443


class FieldwardenSession(requests.Session):
    """A Session that refuses cross-origin redirects (they would carry our credentials) and
    keeps its configured CA bundle even when ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` are set."""

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: Any,
        stream: bool | None,
        verify: bool | str | None,
        cert: Any,
    ) -> Any:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        # requests lets the environment's bundle replace session.verify (psf/requests#3829),
        # which would silently ignore a ca_bundle from config in most containers.
        if verify is None and isinstance(self.verify, str):
            settings["verify"] = self.verify
        return settings

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        old = response.request.url or ""
        new = prepared_request.url or ""
        if not same_origin(old, new):
            raise SourceFatalError(
                f"refused a redirect to another host ({redact_url(new)})", url=redact_url(old)
            )
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]


class HeaderAuth(AuthBase):
    """Adds secret headers (``X-Shopify-Access-Token``, ``Authorization``...) at send time."""

    def __init__(self, headers: Mapping[str, SecretStr | str]) -> None:
        self._headers = dict(headers)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        for name, value in self._headers.items():
            request.headers[name] = (
                value.get_secret_value() if isinstance(value, SecretStr) else value
            )
        return request

    def __repr__(self) -> str:
        return f"HeaderAuth({sorted(self._headers)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HeaderAuth) and other._headers == self._headers

    __hash__ = None  # type: ignore[assignment]  # mutable-ish, compared by value like requests' auths


def build_session(
    options: HttpOptions,
    *,
    base_dir: Path | None = None,
    retry: Retry | None = None,
    user_agent: str = USER_AGENT,
) -> FieldwardenSession:
    """A session configured from ``options`` as described in the module docstring."""
    session = FieldwardenSession()
    session.verify = resolve_ca_bundle(options.ca_bundle, base_dir)
    session.headers["User-Agent"] = user_agent
    session.headers["Accept"] = "application/json"
    adapter = TimeoutHTTPAdapter(
        timeout=options.timeout,
        max_retries=retry
        or build_retry(
            max_retries=options.max_retries,
            backoff_factor=options.backoff_factor,
            retry_after_cap=options.retry_after_cap,
        ),
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
