"""``HttpConnector``: the chores every API connector shares, so vendor modules stay small.

A vendor connector subclasses it, sets ``name`` and ``Options`` (an ``HttpOptions`` subclass),
overrides :meth:`make_client` (or just :meth:`auth_headers`) and implements ``read``. It gets a
lazily built :class:`~connectors.http.client.HttpClient` as ``self.client``, closed by
``close()``; :func:`parse_timestamp` for vendor timestamps; :meth:`since_or_default` for the
first change-log read (SPEC: the last 7 days for APIs).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, cast

from pydantic import SecretStr

from connectors.base import Connector, ConnectorContext, ConnectorOptions, ResourceSpec
from connectors.http.client import HttpClient
from connectors.http.settings import HttpOptions
from detector.errors import InvalidPayloadError, SourceFatalError

__all__ = ["DEFAULT_CHANGES_WINDOW", "HttpConnector", "parse_timestamp"]

DEFAULT_CHANGES_WINDOW = timedelta(days=7)
"""How far back the first change-log read of an API goes (SPEC)."""


def parse_timestamp(value: Any) -> datetime | None:
    """A vendor timestamp as an aware datetime: ISO 8601 (``Z`` or offset), Odoo's naive UTC
    ``2024-05-02 09:14:00``, or epoch seconds/milliseconds; None for empty values.

    Raises ValueError for anything else, so callers can report the record.
    """
    if value is None or value == "" or value is False:
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        seconds = float(value) / (1000 if float(value) > 1e11 else 1)
        return datetime.fromtimestamp(seconds, tz=UTC)
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    else:
        raise ValueError(f"not a timestamp: {type(value).__name__}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class HttpConnector(Connector):
    """Base of the HTTP connectors: options typing, a lazy client, resource checks."""

    Options: ClassVar[type[ConnectorOptions]] = HttpOptions

    def __init__(self, system: str, options: ConnectorOptions, context: ConnectorContext) -> None:
        super().__init__(system, options, context)  # checks the options type
        self.http_options: HttpOptions = cast("HttpOptions", options)
        self._client: HttpClient | None = None

    # -- client ----------------------------------------------------------------------------
    def auth_headers(self) -> Mapping[str, SecretStr | str]:
        """Secret headers to send on every request (``{"X-Auth-Token": options.token}``)."""
        return {}

    def make_client(self) -> HttpClient:
        return HttpClient(
            self.http_options, self.context, system=self.system, auth=self.auth_headers()
        )

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- helpers ---------------------------------------------------------------------------
    def require_resource(self, spec: ResourceSpec, known: Collection[str] | None = None) -> str:
        """``spec.resource``, checked against ``known`` resource names when given."""
        if spec.resource is None:
            raise SourceFatalError(
                f"the {self.name} connector reads a 'resource', not a 'query'",
                system=spec.system,
                entity=spec.entity,
            )
        if known is not None and spec.resource not in known:
            raise SourceFatalError(
                f"unknown {self.name} resource {spec.resource!r}; "
                f"known: {', '.join(sorted(known))}",
                system=spec.system,
                entity=spec.entity,
            )
        return spec.resource

    @staticmethod
    def since_or_default(since: datetime | None) -> datetime:
        """``since`` (made aware, UTC assumed) or the default first-read window."""
        if since is None:
            return datetime.now(UTC) - DEFAULT_CHANGES_WINDOW
        return since if since.tzinfo is not None else since.replace(tzinfo=UTC)

    def invalid(self, spec: ResourceSpec, message: str) -> InvalidPayloadError:
        return InvalidPayloadError(message, system=spec.system, entity=spec.entity)

    def fatal(self, spec: ResourceSpec, message: str) -> SourceFatalError:
        return SourceFatalError(message, system=spec.system, entity=spec.entity)
