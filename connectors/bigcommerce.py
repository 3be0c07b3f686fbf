"""BigCommerce: the v3 REST API (catalog, inventory, customers), read-only.

``url`` defaults to ``https://api.bigcommerce.com``; requests go to
``{url}/stores/{store_hash}/v3/...`` with the ``X-Auth-Token`` header.

==================  =======================================  ====================================
resource            endpoint                                 records
==================  =======================================  ====================================
``products``        ``catalog/products``                     one per product (``sku``, ``name``,
                                                             ``price``, ``cost_price``, ...)
``variants``        ``catalog/products?include=variants``    one per variant (``sku``, ``price``,
                                                             ``calculated_price``,
                                                             ``inventory_level``...), with the
                                                             parent under ``product.`` (e.g.
                                                             ``product.name``)
``inventory``       ``inventory/items``                      one per SKU and location:
                                                             ``sku``, ``location_id``,
                                                             ``available_to_sell``,
                                                             ``total_inventory_onhand``
``customers``       ``customers``                            one per customer (``email``,
                                                             ``first_name``, ``phone``...)
==================  =======================================  ====================================

A variant's ``price`` is null when it inherits the product's; map ``calculated_price`` for the
price the storefront charges. Paging is ``page``/``limit`` up to ``meta.pagination.total_pages``;
a ``meta.pagination.total`` that disagrees with the records received marks the read incomplete.

Changes: ``date_modified:min`` (products, variants via their product, customers). BigCommerce
records no writer and no field, so each change names the field ``*`` unless the entity's
``options.change_fields`` lists the paths a record change stands for. Inventory has no change
signal in the API (none are reported).

Throttling: a 429 waits ``X-Rate-Limit-Time-Reset-Ms`` (up to ``retry_after_cap``, else the
read fails as rate limited); when a response says ``X-Rate-Limit-Requests-Left: 0`` the next
request waits for the window to reset instead of provoking the 429.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

import requests
import structlog
from pydantic import Field, SecretStr, field_validator

from connectors.base import Change, KeyTuple, ResourceSpec, SourceFrame
from connectors.http import retry as _retry
from connectors.http.client import JsonResponse
from connectors.http.connector import HttpConnector, parse_timestamp
from connectors.http.pagination import PageNumberPaginator
from connectors.http.settings import HttpOptions
from connectors.records import extract_path, filter_keys, frame_from_records

__all__ = ["RECORD_CHANGE", "BigCommerceConnector", "BigCommerceOptions"]

RECORD_CHANGE = "*"
_log = structlog.get_logger(__name__)

_ENDPOINTS = {
    "products": "catalog/products",
    "variants": "catalog/products",
    "inventory": "inventory/items",
    "customers": "customers",
}
_CHANGE_SIGNAL = {"products", "variants", "customers"}


class BigCommerceOptions(HttpOptions):
    url: str = "https://api.bigcommerce.com"
    store_hash: str
    token: SecretStr
    """Store API account access token, sent as ``X-Auth-Token``."""
    page_size: int | None = Field(default=250, gt=0, le=250)

    @field_validator("store_hash")
    @classmethod
    def _check_hash(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9]+", value):
            raise ValueError("must be the store hash (letters and digits), e.g. abc123xyz")
        return value


def _flatten_variants(product: Mapping[str, Any]) -> list[Any]:
    parent = {k: v for k, v in product.items() if k != "variants"}
    variants = product.get("variants")
    if not isinstance(variants, list):
        return []
    return [
        {**variant, "product": parent} if isinstance(variant, Mapping) else variant
        for variant in variants
    ]


def _flatten_inventory(item: Mapping[str, Any]) -> list[Any]:
    identity = item.get("identity") if isinstance(item.get("identity"), Mapping) else {}
    assert isinstance(identity, Mapping)
    rows: list[Any] = []
    for location in item.get("locations") or []:
        if not isinstance(location, Mapping):
            rows.append(location)
            continue
        rows.append({**identity, **location})
    return rows


class BigCommerceConnector(HttpConnector):
    """Reads catalog products and variants, inventory and customers from BigCommerce v3."""

    name = "bigcommerce"
    Options = BigCommerceOptions
    supports_changes = True
    resources: ClassVar[frozenset[str]] = frozenset(_ENDPOINTS)

    @property
    def bc_options(self) -> BigCommerceOptions:
        assert isinstance(self.options, BigCommerceOptions)
        return self.options

    def auth_headers(self) -> Mapping[str, SecretStr | str]:
        return {"X-Auth-Token": self.bc_options.token}

    def _path(self, resource: str) -> str:
        return f"stores/{self.bc_options.store_hash}/v3/{_ENDPOINTS[resource]}"

    def _check(self, data: Any, response: requests.Response) -> Any:
        left = response.headers.get("X-Rate-Limit-Requests-Left")
        reset = _retry.retry_after_from_headers(
            {"X-Rate-Limit-Time-Reset-Ms": response.headers.get("X-Rate-Limit-Time-Reset-Ms", "")}
        )
        quota_spent = left is not None and left.strip() == "0"
        if quota_spent and reset and reset <= self.bc_options.retry_after_cap:
            _log.info("bigcommerce_quota_wait", system=self.system, wait=reset)
            _retry.sleep(reset)
        return data

    def _records(self, spec: ResourceSpec, params: Mapping[str, str]) -> tuple[list[Any], bool]:
        resource = self.require_resource(spec, self.resources)
        limit = self.bc_options.page_size or 250
        paginator = PageNumberPaginator(
            page_size=limit,
            records_path="data",
            total_pages_path="meta.pagination.total_pages",
            total_path="meta.pagination.total",
            max_pages=self.bc_options.max_pages,
            system=self.system,
        )
        query = {str(k): str(v) for k, v in (spec.options.get("params") or {}).items()}
        query.update(params)
        if resource == "variants":
            query["include"] = "variants"

        def fetch(page: int | None) -> JsonResponse:
            return self.client.get_json(
                self._path(resource),
                params={**query, "page": str(page or 1), "limit": str(limit)},
                check=self._check,
            )

        records: list[Any] = []
        for page in paginator.pages(fetch):
            for record in page.records:
                if resource == "variants" and isinstance(record, Mapping):
                    records.extend(_flatten_variants(record))
                elif resource == "inventory" and isinstance(record, Mapping):
                    records.extend(_flatten_inventory(record))
                else:
                    records.append(record)
        return records, paginator.complete

    def read(self, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None) -> SourceFrame:
        records, complete = self._records(spec, {})
        return filter_keys(frame_from_records(records, spec, complete=complete), spec, keys)

    def read_changes(self, spec: ResourceSpec, since: datetime | None) -> Iterator[Change]:
        resource = self.require_resource(spec, self.resources)
        if resource not in _CHANGE_SIGNAL:
            return
        start = self.since_or_default(since)
        stamp = start.isoformat()
        records, _ = self._records(spec, {"date_modified:min": stamp})
        fields = [str(f) for f in spec.options.get("change_fields") or [RECORD_CHANGE]]
        modified_path = "product.date_modified" if resource == "variants" else "date_modified"
        for record in records:
            if not isinstance(record, Mapping):
                continue
            parts = [extract_path(record, p) for p in spec.key_paths]
            if any(p is None or p == "" for p in parts):
                continue
            try:
                changed_at = parse_timestamp(extract_path(record, modified_path))
            except ValueError:
                _log.warning(
                    "change_row_invalid",
                    system=spec.system,
                    resource=spec.resource,
                    reason="unparseable date_modified",
                )
                continue
            if changed_at is None or changed_at < start:
                continue
            key = tuple(str(p) for p in parts)
            for name in fields:
                yield Change(key=key, field=name, changed_at=changed_at)
