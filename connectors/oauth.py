"""OAuth 2.0 bearer tokens for the API connectors: fetched on demand, renewed before expiry.

A :class:`TokenManager` hands out the current access token. It asks its ``fetch`` callable for a
new one when there is none yet, when the one it holds expires within ``margin`` seconds (or
within a tenth of its lifetime, whichever is shorter), and after :meth:`TokenManager.invalidate`
(the API rejected the token). ``fetch`` receives the previous token, so a vendor with refresh
tokens (Akeneo) can use ``grant_type=refresh_token`` and fall back to its full grant.

A pre-issued token (option ``token``) is wrapped with :meth:`TokenManager.static`: it is never
renewed, so a rejection of it is final. :meth:`TokenManager.configured` picks between the two.

:class:`BearerClient` is an :class:`~connectors.http.HttpClient` that sends
``Authorization: Bearer <token>`` from a manager and, when the API answers 401, renews the token
once and repeats the request; a second 401 fails as bad credentials.

Token endpoints take form bodies (RFC 6749), which ``HttpClient`` does not send, so
:func:`request_token` posts through the client's session itself, mapping transport failures and
statuses the way the HTTP layer does: 400/401/403/422 from a token endpoint are bad credentials
(``SourceFatalError`` naming the OAuth ``error`` code, or a vendor's short message, only), 429/5xx go through the shared
``validate_response``. No token, secret or assertion ever appears in a message or a log event.

Log events: ``oauth_token_fetched`` (system, grant, expires_in), ``oauth_token_rejected``.

All clock reads go through :func:`now`, which tests monkeypatch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import structlog
from pydantic import SecretStr
from requests.auth import AuthBase

from connectors.base import ConnectorContext
from connectors.http import HttpClient, HttpOptions, decode_json, redact_url, scrub
from detector.errors import (
    InvalidPayloadError,
    SourceFatalError,
    SourceRetriableError,
)

__all__ = ["BearerClient", "Token", "TokenManager", "now", "request_token"]

_log = structlog.get_logger(__name__)


def now() -> float:
    """Monotonic seconds; the one clock of this module (tests replace it)."""
    return time.monotonic()


@dataclass(frozen=True)
class Token:
    """One access token as a token endpoint issued it."""

    access_token: SecretStr
    expires_at: float | None = None
    """``now()`` value after which the token is no longer valid; None when unknown."""
    lifetime: float | None = None
    refresh_token: SecretStr | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Other members of the token response that a connector needs (Salesforce ``instance_url``)."""

    @classmethod
    def from_response(cls, body: Mapping[str, Any], *, keep: tuple[str, ...] = ()) -> Token:
        """A token from a token endpoint's JSON body (``access_token``, ``expires_in``...)."""
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise InvalidPayloadError("the token endpoint answered without an access_token")
        lifetime: float | None
        try:
            lifetime = float(body["expires_in"]) if body.get("expires_in") is not None else None
        except (TypeError, ValueError):
            lifetime = None
        refresh = body.get("refresh_token")
        return cls(
            access_token=SecretStr(access),
            expires_at=now() + lifetime if lifetime is not None else None,
            lifetime=lifetime,
            refresh_token=SecretStr(refresh) if isinstance(refresh, str) and refresh else None,
            extra={k: body[k] for k in keep if k in body},
        )


class TokenManager:
    """The current token of one system; see the module docstring."""

    def __init__(
        self,
        fetch: Callable[[Token | None], Token] | None,
        *,
        system: str,
        margin: float = 60.0,
        initial: Token | None = None,
    ) -> None:
        self._fetch = fetch
        self.system = system
        self.margin = margin
        self._token = initial
        self._stale = False
        self.issued: list[str] = []
        """Every access token handed out, so that clients can scrub them from messages."""
        if initial is not None:
            self.issued.append(initial.access_token.get_secret_value())

    @classmethod
    def static(cls, token: SecretStr, *, system: str, **extra: Any) -> TokenManager:
        """A pre-issued token: used as is, never renewed."""
        return cls(None, system=system, initial=Token(token, extra=extra))

    @classmethod
    def configured(
        cls, token: SecretStr | None, fetch: Callable[[Token | None], Token], *, system: str
    ) -> TokenManager:
        """The pre-issued ``token`` when the options give one (never renewed), else ``fetch``."""
        return cls.static(token, system=system) if token is not None else cls(fetch, system=system)

    @property
    def renewable(self) -> bool:
        return self._fetch is not None

    def _expiring(self, token: Token) -> bool:
        if token.expires_at is None:
            return False
        margin = self.margin
        if token.lifetime is not None:
            margin = min(margin, token.lifetime / 10)
        return now() >= token.expires_at - margin

    def get(self) -> Token:
        token = self._token
        if token is not None and not self._stale and not self._expiring(token):
            return token
        if self._fetch is None:
            if token is None:  # pragma: no cover - static managers always hold a token
                raise SourceFatalError("no access token configured", system=self.system)
            return token
        token = self._fetch(token)
        self._token, self._stale = token, False
        self.issued.append(token.access_token.get_secret_value())
        return token

    def invalidate(self) -> None:
        """The API rejected the current token: fetch a new one next time (if renewable)."""
        self._stale = True


def _transport_error(exc: requests.RequestException, context: dict[str, Any]) -> Exception:
    if isinstance(exc, requests.exceptions.SSLError):
        return SourceFatalError("TLS verification failed", **context)
    if isinstance(exc, requests.exceptions.Timeout):
        return SourceRetriableError("token request timed out", **context)
    if isinstance(exc, requests.exceptions.RetryError | requests.exceptions.ConnectionError):
        return SourceRetriableError(f"token request failed ({type(exc).__name__})", **context)
    return SourceFatalError(f"token request failed ({type(exc).__name__})", **context)


def request_token(
    client: HttpClient,
    url: str,
    *,
    form: Mapping[str, str] | None = None,
    json: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    secrets: tuple[str, ...] = (),
    grant: str,
    keep: tuple[str, ...] = (),
) -> Token:
    """POST a token request (form or JSON body) through ``client``'s session; see the docstring."""
    target = client.url_for(url) if not url.startswith("http") else url
    context: dict[str, Any] = {"system": client.system, "url": redact_url(target)}
    try:
        response = client.session.request(
            "POST",
            target,
            data=dict(form) if form is not None else None,
            json=dict(json) if json is not None else None,
            auth=auth,
            headers={"Accept": "application/json"},
            timeout=client.options.timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise _transport_error(exc, context) from None
    status = response.status_code
    if status in (400, 401, 403, 422):
        code = _oauth_error_code(response)
        hint = f": {scrub(code, (*client.secrets, *secrets))}" if code else ""
        raise SourceFatalError(
            f"authentication failed at the token endpoint (HTTP {status}{hint})",
            status=status,
            **context,
        )
    client.validate_response(response)
    body = decode_json(response, system=client.system)
    if not isinstance(body, Mapping):
        raise InvalidPayloadError("the token endpoint answered with a non-object", **context)
    try:
        token = Token.from_response(body, keep=keep)
    except InvalidPayloadError as exc:
        raise InvalidPayloadError(exc.message, **context) from None
    _log.info("oauth_token_fetched", system=client.system, grant=grant, expires_in=token.lifetime)
    return token


def _oauth_error_code(response: requests.Response) -> str:
    """The RFC 6749 ``error`` code of a token error body (never its free-text description)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, str):
            return error[:80]
        message = body.get("message")  # Akeneo: {"code": 422, "message": "No user found..."}
        if isinstance(message, str):
            return message[:80]
    if isinstance(body, list) and body and isinstance(body[0], Mapping):  # Salesforce-style list
        return str(body[0].get("errorCode", ""))[:80]
    return ""


class _Bearer(AuthBase):
    def __init__(self, client: BearerClient) -> None:
        self._client = client

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self._client.current_token().access_token.get_secret_value()
        request.headers["Authorization"] = f"Bearer {token}"
        return request

    def __repr__(self) -> str:
        return "Bearer(***)"


class _TokenRejected(Exception):  # noqa: N818 - an internal signal, caught in BearerClient.request
    pass


class BearerClient(HttpClient):
    """An HttpClient authenticating with a :class:`TokenManager`; renews once on a 401."""

    def __init__(
        self,
        options: HttpOptions,
        context: ConnectorContext,
        *,
        system: str,
        tokens: TokenManager,
        base_url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.tokens = tokens
        self._renewing = False
        super().__init__(
            options, context, system=system, auth=_Bearer(self), base_url=base_url, headers=headers
        )
        self._base_secrets = self.secrets

    def current_token(self) -> Token:
        token = self.tokens.get()
        self.secrets = (*self._base_secrets, *self.tokens.issued)
        return token

    def is_token_rejection(self, response: requests.Response) -> bool:
        """Whether this response means "renew the token and try again" (override per vendor)."""
        return response.status_code == 401

    def validate_response(self, response: requests.Response) -> None:
        if not self._renewing and self.tokens.renewable and self.is_token_rejection(response):
            raise _TokenRejected
        super().validate_response(response)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        try:
            return super().request(method, path_or_url, params=params, json=json, headers=headers)
        except _TokenRejected:
            _log.info("oauth_token_rejected", system=self.system, url=redact_url(path_or_url))
            self.tokens.invalidate()
            self._renewing = True
            try:
                return super().request(
                    method, path_or_url, params=params, json=json, headers=headers
                )
            finally:
                self._renewing = False
