"""The ``akeneo`` connector: products from the Akeneo PIM REST API, attribute values addressed
by locale, channel and currency.

Options: ``url`` (the PIM, e.g. ``https://pim.example.com``), ``client_id`` / ``client_secret``
(an API connection) with ``username`` / ``password`` (its API user), or a pre-issued ``token``;
``identifier_attribute`` (default ``sku``): the identifier attribute, read as ``identifier``
when the API does not return that member; ``page_size`` (at most 100); the shared HTTP options.

Authentication is the password grant on ``/api/oauth/v1/token`` (client id and secret as HTTP
Basic). The token is renewed with its refresh token shortly before ``expires_in`` runs out (the
password grant again if the refresh is refused) and once after a 401.

``resource``: ``products`` (read through ``/api/rest/v1/products-uuid``), ``products-uuid`` or
``product-models``; pages follow ``_links.next.href`` with ``pagination_type=search_after``.

Mapping paths: the product's own members (``identifier``, ``uuid``, ``enabled``, ``family``,
``categories``, ``parent``, ``updated``) and attribute values as

    values.<attribute>                    neither localizable nor scopable: values.sku
    values.<attribute>[<locale>]          values.name[en_US]
    values.<attribute>[<channel>]         values.ean[ecommerce]
    values.<attribute>[<locale>,<channel>]values.description[en_US,ecommerce]
    values.<attribute>[<CUR>]             a price's amount in one currency: values.price[EUR]
    values.<attribute>[<locale>,<channel>,<CUR>]

A qualifier like ``en_US`` is a locale, three capitals a currency, anything else a channel.
A value matches only with exactly that locale and channel (a localizable attribute mapped
without a locale reads as empty). Other data (metrics, option lists) is rendered as JSON.

With ``keys`` (key ``identifier`` or ``values.<identifier_attribute>``), products are searched
with an ``IN`` filter on the identifier attribute, 50 at a time.

Changes: Akeneo's REST API has no field history and no author per change (the Event Platform
has authors but no diffs), so ``supports_changes`` is False: the engine derives changes by
comparing record hashes between runs. :meth:`AkeneoConnector.read_updated` reads only the
products updated since a time (the ``updated`` filter), for incremental runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from pydantic import Field, model_validator

from connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorOptions,
    KeyTuple,
    ResourceSpec,
    SourceFrame,
)
from connectors.http import HttpClient, HttpOptions, NextUrlPaginator
from connectors.oauth import BearerClient, Token, TokenManager, request_token
from connectors.records import filter_keys, frame_from_records
from connectors.vendor import chunks, get_listing, window_start
from detector.errors import SourceFatalError

__all__ = ["AkeneoConnector", "AkeneoOptions", "ValuePath", "parse_value_path"]

_ENDPOINTS = {
    "products": "api/rest/v1/products-uuid",
    "products-uuid": "api/rest/v1/products-uuid",
    "product-models": "api/rest/v1/product-models",
}
_VALUE_PATH = re.compile(r"values\.([^.\[\]]+)(?:\[([^\[\]]*)\])?")
_LOCALE = re.compile(r"[a-z]{2,3}(_[A-Za-z0-9]+)+")
_CURRENCY = re.compile(r"[A-Z]{3}")
_KEYS_PER_SEARCH = 50


class AkeneoOptions(HttpOptions):
    """Options of the ``akeneo`` connector."""

    identifier_attribute: str = "sku"
    page_size: int | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _needs_credentials(self) -> AkeneoOptions:
        grant = (self.client_id, self.client_secret, self.username, self.password)
        if self.token is None and not all(grant):
            raise ValueError(
                "akeneo needs `client_id`, `client_secret`, `username` and `password`, or a `token`"
            )
        return self


@dataclass(frozen=True, slots=True)
class ValuePath:
    """One ``values.<attribute>[...]`` mapping path, parsed."""

    attribute: str
    locale: str | None = None
    scope: str | None = None
    currency: str | None = None


def parse_value_path(path: str) -> ValuePath | None:
    """The attribute, locale, channel and currency a mapping path names (None: not a value)."""
    match = _VALUE_PATH.fullmatch(path)
    if match is None:
        return None
    locale = scope = currency = None
    for token in (t.strip() for t in (match.group(2) or "").split(",") if t.strip()):
        if _LOCALE.fullmatch(token):
            locale = token
        elif _CURRENCY.fullmatch(token):
            currency = token
        else:
            scope = token
    return ValuePath(match.group(1), locale, scope, currency)


def _value(values: Any, where: ValuePath) -> Any:
    entries = values.get(where.attribute) if isinstance(values, Mapping) else None
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if (
            isinstance(entry, Mapping)
            and entry.get("locale") == where.locale
            and entry.get("scope") == where.scope
        ):
            data = entry.get("data")
            if where.currency is None:
                return data
            for price in data if isinstance(data, list) else []:
                if isinstance(price, Mapping) and price.get("currency") == where.currency:
                    return price.get("amount")
            return None
    return None


class AkeneoConnector(Connector):
    """Reads Akeneo products and product models; see the module docstring."""

    name = "akeneo"
    Options = AkeneoOptions
    supports_changes = False
    supports_keys = True

    def __init__(self, system: str, options: ConnectorOptions, context: ConnectorContext) -> None:
        super().__init__(system, options, context)  # checks the options type
        self._options = cast("AkeneoOptions", options)
        self._auth_client: HttpClient | None = None
        self._client: BearerClient | None = None

    # --- auth -------------------------------------------------------------------------------

    def _fetch_token(self, previous: Token | None) -> Token:
        options = self._options
        if self._auth_client is None:
            self._auth_client = HttpClient(options, self.context, system=self.system)
        assert options.client_id is not None
        assert options.client_secret is not None
        assert options.password is not None
        basic = (options.client_id, options.client_secret.get_secret_value())
        if previous is not None and previous.refresh_token is not None:
            refresh = previous.refresh_token.get_secret_value()
            try:
                return request_token(
                    self._auth_client,
                    "api/oauth/v1/token",
                    json={"grant_type": "refresh_token", "refresh_token": refresh},
                    auth=basic,
                    secrets=(refresh,),
                    grant="refresh_token",
                )
            except SourceFatalError:
                pass  # refresh token expired or revoked: log in again
        password = options.password.get_secret_value()
        return request_token(
            self._auth_client,
            "api/oauth/v1/token",
            json={
                "grant_type": "password",
                "username": options.username or "",
                "password": password,
            },
            auth=basic,
            secrets=(password, basic[1]),
            grant="password",
        )

    @property
    def client(self) -> BearerClient:
        if self._client is None:
            options = self._options
            tokens = TokenManager.configured(options.token, self._fetch_token, system=self.system)
            self._client = BearerClient(options, self.context, system=self.system, tokens=tokens)
        return self._client

    def close(self) -> None:
        for client in (self._client, self._auth_client):
            if client is not None:
                client.close()
        self._client = self._auth_client = None

    # --- records ----------------------------------------------------------------------------

    def _endpoint(self, spec: ResourceSpec) -> str:
        endpoint = _ENDPOINTS.get(spec.resource or "")
        if endpoint is None:
            raise SourceFatalError(
                f"akeneo reads resource products, products-uuid or product-models, not {spec.resource!r}",
                system=self.system,
                entity=spec.entity,
            )
        return endpoint

    def _flatten(self, record: Any, value_paths: Sequence[tuple[str, ValuePath]]) -> Any:
        if not isinstance(record, Mapping):
            return record
        flat = dict(record)
        values = record.get("values")
        for path, where in value_paths:
            flat[path] = _value(values, where)
        if "identifier" not in flat:
            ident = _value(values, ValuePath(self._options.identifier_attribute))
            if ident is not None:
                flat["identifier"] = ident
        return flat

    def _fetch_all(
        self, spec: ResourceSpec, search: Mapping[str, Any] | None
    ) -> tuple[list[Any], bool]:
        endpoint = self._endpoint(spec)
        value_paths = [(p, v) for p in spec.paths if (v := parse_value_path(p)) is not None]
        params: dict[str, Any] = {
            "pagination_type": "search_after",
            "limit": self._options.page_size or 100,
        }
        if search:
            params["search"] = json.dumps(search, separators=(",", ":"))
        paginator = NextUrlPaginator(
            records_path="_embedded.items",
            next_path="_links.next.href",
            max_pages=self._options.max_pages,
            system=self.system,
        )
        records, complete = get_listing(self.client, endpoint, params, paginator)
        return [self._flatten(r, value_paths) for r in records], complete

    def read(self, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None) -> SourceFrame:
        attribute = self._options.identifier_attribute
        searchable = (
            keys is not None
            and len(spec.key) == 1
            and spec.resource in ("products", "products-uuid")
            and spec.key[0].path in ("identifier", f"values.{attribute}")
        )
        if keys is None or not searchable:
            records, complete = self._fetch_all(spec, None)
            return filter_keys(frame_from_records(records, spec, complete=complete), spec, keys)
        found: list[Any] = []
        complete = True
        for batch in chunks(sorted({k[0] for k in keys}), _KEYS_PER_SEARCH):
            search = {attribute: [{"operator": "IN", "value": list(batch)}]}
            records, done = self._fetch_all(spec, search)
            found.extend(records)
            complete = complete and done
        return filter_keys(frame_from_records(found, spec, complete=complete), spec, keys)

    def read_updated(self, spec: ResourceSpec, since: datetime | None) -> SourceFrame:
        """Products updated after ``since`` (last 7 days when None), for incremental runs."""
        stamp = window_start(since).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        records, complete = self._fetch_all(spec, {"updated": [{"operator": ">", "value": stamp}]})
        return frame_from_records(records, spec, complete=complete)
