"""Options every HTTP connector shares, with the names fixed by SPEC.md.

Vendor options models subclass :class:`HttpOptions` and add their own fields (``store_hash``,
``database`` for Odoo and Tryton, ...) or narrow defaults (a vendor's public ``url``). Secrets are
``SecretStr`` so that they never show in a repr, a log line or a pydantic error.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from connectors.base import ConnectorOptions
from detector.errors import SourceFatalError

__all__ = ["USER_AGENT", "HttpOptions", "resolve_ca_bundle"]


def _package_version() -> str:
    try:
        return version("fieldwarden")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


USER_AGENT = f"fieldwarden/{_package_version()}"
"""Sent on every request, so a vendor's logs show which integration called."""


class HttpOptions(ConnectorOptions):
    """System-level options shared by every HTTP connector (the SPEC names)."""

    url: str
    """Base URL of the API (vendors may default it); overridable everywhere, e.g. to a sandbox."""
    token: SecretStr | None = None
    username: str | None = None
    """A login name; not a secret (the password is)."""
    password: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    api_version: str | None = None
    ca_bundle: Path | None = None
    """PEM bundle to verify the server with, relative to the config file's folder.
    Verification itself can never be switched off."""
    timeout: float = Field(default=30.0, gt=0, le=600)
    """Seconds, applied to connecting and to each read of the response (requests semantics)."""
    page_size: int | None = Field(default=None, gt=0, le=10_000)
    """Records per page; None means the connector's own default for the vendor."""
    max_pages: int = Field(default=10_000, gt=0)
    """Pagination stops with PaginationLoopError after this many pages of one listing."""
    retry_after_cap: float = Field(default=300.0, ge=0)
    """Longest wait (seconds) a vendor may ask for; above it the read fails as rate limited."""
    max_retries: int = Field(default=5, ge=0, le=20)
    """Retries of one request on 429/5xx/connection errors/timeouts (and vendor throttling)."""
    backoff_factor: float = Field(default=0.5, ge=0, le=60)
    """Exponential backoff base in seconds between retries without a Retry-After; 0 in tests."""
    max_response_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    """Largest response body read (64 MiB); a bigger one fails the read as invalid_payload."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not carry credentials; use username/password or token")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query string or fragment")
        return value.rstrip("/")


def resolve_ca_bundle(ca_bundle: Path | None, base_dir: Path | None) -> str | bool:
    """The ``verify`` value for requests: the bundle's absolute path, or True (system CAs)."""
    if ca_bundle is None:
        return True
    path = ca_bundle if ca_bundle.is_absolute() or base_dir is None else base_dir / ca_bundle
    if not path.is_file():
        raise SourceFatalError(f"ca_bundle {str(path)!r} is not a readable file")
    return str(path)
