"""Shopify: the GraphQL Admin API (versioned), read-only.

Resources (``resource:`` of an entity mapping):

==================  ==========================  ==========================================
resource            GraphQL connection          typical paths
==================  ==========================  ==========================================
``variants``        ``productVariants``         ``sku``, ``price``, ``compareAtPrice``,
                                                ``inventoryQuantity``, ``barcode``,
                                                ``inventoryItem.unitCost.amount``,
                                                ``product.title``, ``product.descriptionHtml``
``products``        ``products``                ``handle``, ``title``, ``descriptionHtml``,
                                                ``vendor``, ``status``
``customers``       ``customers``               ``email``, ``phone`` (aliases of
                                                ``defaultEmailAddress.emailAddress`` and
                                                ``defaultPhoneNumber.phoneNumber``),
                                                ``firstName``, ``lastName``
``inventory_levels``  ``inventoryItems`` with   ``sku``, ``location`` (name), ``location_id``,
                    their ``inventoryLevels``   ``available``, ``on_hand``, ``committed``,
                                                ``incoming`` (one record per item and location)
==================  ==========================  ==========================================

For ``products``/``variants``/``customers`` the GraphQL selection is built from the mapped paths
(``product.title`` selects ``product { title }``), so any scalar field of the type can be mapped;
a field Shopify does not know fails the read with Shopify's own message. Per-entity ``options``:
``query`` (a Shopify search filter such as ``status:active``), ``locations`` (inventory: names
or ids to keep) and ``change_fields`` (see below).

Changes: records with ``updated_at:>=since``; Shopify keeps no field-level history, so each
change names the field ``*`` (record changed) unless the mapping lists ``change_fields`` (the
paths a record change is attributed to, e.g. ``[price, compareAtPrice]`` when only price syncs
write there). The writer comes from ``events`` (the app's title, or ``staff``) for the record,
or for a variant's product when the variant has none. Inventory quantities carry their own
``updatedAt``, so inventory changes are per quantity name (``available`` ...), without writer.

Throttling: the cost-based leaky bucket is read from every response's ``extensions.cost``: when
the bucket cannot pay for the next page the connector waits for it (up to ``retry_after_cap``),
and a ``THROTTLED`` error is retried after the computed wait.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import requests
import structlog
from pydantic import Field, SecretStr, field_validator

from connectors.base import Change, KeyTuple, ResourceSpec, SourceFrame
from connectors.http import retry as _retry
from connectors.http.client import JsonResponse
from connectors.http.connector import HttpConnector, parse_timestamp
from connectors.http.pagination import CursorPaginator
from connectors.http.settings import HttpOptions
from connectors.http.validate import check_graphql
from connectors.records import extract_path, filter_keys, frame_from_records
from detector.errors import SourceFatalError

__all__ = ["RECORD_CHANGE", "ShopifyConnector", "ShopifyOptions"]

RECORD_CHANGE = "*"
"""Field name of a change that says "this record changed" without saying which field."""

_log = structlog.get_logger(__name__)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEY_CHUNK = 50
_QUANTITY_NAMES = ("available", "on_hand", "committed", "incoming")
_EVENT_FIELDS = (
    "id createdAt action appTitle attributeToApp attributeToUser "
    "... on BasicEvent { subjectId subjectType }"
)


class ShopifyOptions(HttpOptions):
    """``url`` is the shop's base URL, e.g. ``https://my-shop.myshopify.com``."""

    token: SecretStr
    """Admin API access token (custom app), sent as ``X-Shopify-Access-Token``."""
    api_version: str | None = "2025-04"
    page_size: int | None = Field(default=100, gt=0, le=250)
    events: bool = True
    """Read ``events`` to attribute changes to an app or staff (needs the events scope)."""

    @field_validator("api_version")
    @classmethod
    def _check_version(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{4}-\d{2}|unstable", value):
            raise ValueError("must look like 2025-04 (or 'unstable')")
        return value


@dataclass(frozen=True, slots=True)
class _Resource:
    connection: str
    subject_type: str
    always: tuple[str, ...] = ("id", "updatedAt")
    search: Mapping[str, str] = field(default_factory=dict)
    """Key path -> Shopify search field, for fetching by keys. Only exact-match fields: any
    other key (gid ids, titles) reads the resource and filters, never risking a false miss."""
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Record path -> path it is copied from (deprecated or convenience names)."""


_RESOURCES: dict[str, _Resource] = {
    "variants": _Resource(
        "productVariants",
        "PRODUCT_VARIANT",
        always=("id", "updatedAt", "product.id"),
        search={"sku": "sku", "barcode": "barcode"},
    ),
    "products": _Resource("products", "PRODUCT", search={"handle": "handle"}),
    "customers": _Resource(
        "customers",
        "CUSTOMER",
        search={"email": "email", "defaultEmailAddress.emailAddress": "email"},
        aliases={
            "email": "defaultEmailAddress.emailAddress",
            "phone": "defaultPhoneNumber.phoneNumber",
        },
    ),
}
_INVENTORY = "inventory_levels"
_INVENTORY_PATHS = frozenset(
    {"sku", "location", "location_id", "inventory_item_id", "updatedAt", *_QUANTITY_NAMES}
)


def _selection(paths: Iterable[str]) -> str:
    """GraphQL selection for dotted paths: ``a.b``, ``a.c``, ``d`` -> ``a { b c } d``."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})

    def render(node: Mapping[str, Any]) -> str:
        return " ".join(f"{k} {{ {render(v)} }}" if v else k for k, v in node.items())

    return render(tree)


def _search_value(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _actor(event: Mapping[str, Any]) -> str | None:
    title = event.get("appTitle")
    if title and (event.get("attributeToApp") or not event.get("attributeToUser")):
        return str(title)
    if event.get("attributeToUser"):
        return "staff"
    return None


class ShopifyConnector(HttpConnector):
    """Reads products, variants, inventory levels and customers from Shopify's GraphQL API."""

    name = "shopify"
    Options = ShopifyOptions
    supports_changes = True
    supports_keys = True
    resources: ClassVar[frozenset[str]] = frozenset({*_RESOURCES, _INVENTORY})

    @property
    def shop_options(self) -> ShopifyOptions:
        assert isinstance(self.options, ShopifyOptions)
        return self.options

    def auth_headers(self) -> Mapping[str, SecretStr | str]:
        return {"X-Shopify-Access-Token": self.shop_options.token}

    @property
    def endpoint(self) -> str:
        return f"admin/api/{self.shop_options.api_version}/graphql.json"

    # -- GraphQL plumbing ------------------------------------------------------------------
    def _check(self, body: Any, response: requests.Response) -> Any:
        check_graphql(body, system=self.system, url=str(response.url).split("?")[0])
        self._pace(body)
        return body

    def _pace(self, body: Mapping[str, Any]) -> None:
        """Wait before the next query when the bucket cannot pay for one like the last."""
        try:
            cost = body["extensions"]["cost"]
            status = cost["throttleStatus"]
            needed = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
            rate = float(status["restoreRate"])
        except (KeyError, TypeError, ValueError):
            return
        if needed <= 0 or rate <= 0:
            return
        wait = needed / rate
        if wait <= self.shop_options.retry_after_cap:
            _log.info("shopify_bucket_wait", system=self.system, wait=wait)
            _retry.sleep(wait)

    def _walk(
        self, query: str, connection: str, variables: Mapping[str, Any]
    ) -> tuple[list[Any], CursorPaginator]:
        paginator = CursorPaginator(
            records_path=f"data.{connection}.nodes",
            cursor_path=f"data.{connection}.pageInfo.endCursor",
            has_more_path=f"data.{connection}.pageInfo.hasNextPage",
            max_pages=self.shop_options.max_pages,
            system=self.system,
        )

        def fetch(cursor: str | None) -> JsonResponse:
            payload = {"query": query, "variables": {**variables, "after": cursor}}
            return self.client.post_json(self.endpoint, json=payload, check=self._check)

        nodes: list[Any] = []
        for page in paginator.pages(fetch):
            nodes.extend(page.records)
        return nodes, paginator

    def _query(self, connection: str, selection: str) -> str:
        return (
            "query Read($first: Int!, $after: String, $query: String) { "
            f"{connection}(first: $first, after: $after, query: $query) {{ "
            f"nodes {{ {selection} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        )

    # -- reading ---------------------------------------------------------------------------
    def _paths(self, spec: ResourceSpec, resource: _Resource) -> list[str]:
        wanted = [resource.aliases.get(p, p) for p in spec.paths]
        for path in wanted:
            if not all(_NAME.match(part) for part in path.split(".")):
                raise self.fatal(
                    spec,
                    f"shopify path {path!r} is not a dotted GraphQL field path "
                    "(lists and arguments are not supported)",
                )
        return [*resource.always, *wanted]

    def _search(self, spec: ResourceSpec, *extra: str) -> str | None:
        parts = [str(spec.options["query"])] if spec.options.get("query") else []
        parts.extend(extra)
        return " AND ".join(f"({p})" for p in parts) if parts else None

    def _records(self, spec: ResourceSpec, search: str | None) -> tuple[list[Any], bool]:
        resource = self.require_resource(spec, self.resources)
        first = self.shop_options.page_size or 100
        if resource == _INVENTORY:
            return self._inventory(spec, search)
        meta = _RESOURCES[resource]
        query = self._query(meta.connection, _selection(self._paths(spec, meta)))
        nodes, paginator = self._walk(query, meta.connection, {"first": first, "query": search})
        for node in nodes:
            if isinstance(node, dict):
                for alias, source in meta.aliases.items():
                    node.setdefault(alias, extract_path(node, source))
        return nodes, paginator.complete

    def _inventory(self, spec: ResourceSpec, search: str | None) -> tuple[list[Any], bool]:
        unknown = sorted(set(spec.paths) - _INVENTORY_PATHS)
        if unknown:
            raise self.fatal(
                spec,
                f"unknown inventory_levels paths {unknown}; known: {sorted(_INVENTORY_PATHS)}",
            )
        names = ", ".join(f'"{n}"' for n in _QUANTITY_NAMES)
        selection = (
            "id sku updatedAt inventoryLevels(first: 50) { nodes { location { id name } "
            f"quantities(names: [{names}]) {{ name quantity updatedAt }} }} "
            "pageInfo { hasNextPage } }"
        )
        first = min(self.shop_options.page_size or 50, 100)
        nodes, paginator = self._walk(
            self._query("inventoryItems", selection),
            "inventoryItems",
            {"first": first, "query": search},
        )
        keep = {str(v) for v in spec.options.get("locations") or []}
        complete = paginator.complete
        records: list[Any] = []
        for item in nodes:
            if not isinstance(item, dict):
                records.append(item)  # frame_from_records reports it
                continue
            levels = item.get("inventoryLevels") or {}
            if extract_path(levels, "pageInfo.hasNextPage"):
                complete = False
                _log.warning("shopify_inventory_levels_truncated", system=self.system)
            for level in levels.get("nodes") or []:
                location = level.get("location") or {}
                if keep and not keep & {str(location.get("name")), str(location.get("id"))}:
                    continue
                record: dict[str, Any] = {
                    "sku": item.get("sku"),
                    "inventory_item_id": item.get("id"),
                    "location": location.get("name"),
                    "location_id": location.get("id"),
                    "updatedAt": item.get("updatedAt"),
                    "_quantity_updated": {},
                }
                for quantity in level.get("quantities") or []:
                    record[quantity.get("name")] = quantity.get("quantity")
                    record["_quantity_updated"][quantity.get("name")] = quantity.get("updatedAt")
                records.append(record)
        return records, complete

    def read(self, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None) -> SourceFrame:
        resource = self.require_resource(spec, self.resources)
        search_field = None
        if keys is not None:
            meta = _RESOURCES.get(resource)
            first_key = spec.key_paths[0]
            if meta is not None:
                search_field = meta.search.get(first_key)
            elif resource == _INVENTORY and first_key == "sku":
                search_field = "sku"
        if keys is None or search_field is None:
            records, complete = self._records(spec, self._search(spec))
            frame = frame_from_records(records, spec, complete=complete)
            return filter_keys(frame, spec, keys)
        values = sorted({k[0] for k in keys if k and k[0]})
        records, complete = [], True
        for start in range(0, len(values), _KEY_CHUNK):
            chunk = values[start : start + _KEY_CHUNK]
            clause = " OR ".join(f"{search_field}:{_search_value(v)}" for v in chunk)
            found, chunk_complete = self._records(spec, self._search(spec, clause))
            records.extend(found)
            complete = complete and chunk_complete
        return filter_keys(frame_from_records(records, spec, complete=complete), spec, keys)

    # -- changes ---------------------------------------------------------------------------
    def read_changes(self, spec: ResourceSpec, since: datetime | None) -> Iterator[Change]:
        resource = self.require_resource(spec, self.resources)
        start = self.since_or_default(since)
        if resource == _INVENTORY:
            yield from self._inventory_changes(spec, start)
            return
        meta = _RESOURCES[resource]
        records, _ = self._records(spec, self._search(spec, f"updated_at:>='{_iso(start)}'"))
        events = self._events(meta.subject_type, start) if self.shop_options.events else {}
        if resource == "variants" and self.shop_options.events:
            product_events = self._events("PRODUCT", start)
        else:
            product_events = {}
        fields = [str(f) for f in spec.options.get("change_fields") or [RECORD_CHANGE]]
        for record in records:
            key = self._key(spec, record)
            if key is None:
                continue
            found = events.get(str(record.get("id")), [])
            if not found and product_events:
                found = product_events.get(str(extract_path(record, "product.id")), [])
            entries = [(e.get("createdAt"), _actor(e)) for e in found]
            if not entries:
                entries = [(record.get("updatedAt"), None)]
            for at, actor in entries:
                changed_at = self._timestamp(spec, at)
                if changed_at is None or changed_at < start:
                    continue
                for name in fields:
                    yield Change(key=key, field=name, changed_at=changed_at, changed_by=actor)

    def _inventory_changes(self, spec: ResourceSpec, start: datetime) -> Iterator[Change]:
        records, _ = self._inventory(spec, self._search(spec))
        for record in records:
            key = self._key(spec, record)
            if key is None:
                continue
            for name, at in record.get("_quantity_updated", {}).items():
                changed_at = self._timestamp(spec, at)
                if changed_at is not None and changed_at >= start:
                    yield Change(
                        key=key,
                        field=name,
                        changed_at=changed_at,
                        new_value=None if record.get(name) is None else str(record.get(name)),
                    )

    def _events(self, subject_type: str, start: datetime) -> dict[str, list[Mapping[str, Any]]]:
        query = (
            "query Events($first: Int!, $after: String, $query: String) { "
            "events(first: $first, after: $after, query: $query, sortKey: CREATED_AT) { "
            f"nodes {{ {_EVENT_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        )
        search = f"subject_type:{subject_type} AND created_at:>='{_iso(start)}'"
        try:
            nodes, _ = self._walk(query, "events", {"first": 250, "query": search})
        except SourceFatalError as exc:  # no read_events scope: attribution is optional
            _log.warning("shopify_events_unavailable", system=self.system, error=exc.message[:200])
            return {}
        by_subject: dict[str, list[Mapping[str, Any]]] = {}
        for node in nodes:
            if isinstance(node, dict) and node.get("subjectId"):
                by_subject.setdefault(str(node["subjectId"]), []).append(node)
        return by_subject

    def _key(self, spec: ResourceSpec, record: Any) -> KeyTuple | None:
        if not isinstance(record, Mapping):
            return None
        parts = [extract_path(record, p) for p in spec.key_paths]
        if any(p is None or p == "" for p in parts):
            return None
        return tuple(str(p) for p in parts)

    def _timestamp(self, spec: ResourceSpec, value: Any) -> datetime | None:
        try:
            return parse_timestamp(value)
        except ValueError:
            _log.warning(
                "change_row_invalid",
                system=spec.system,
                resource=spec.resource,
                reason="unparseable timestamp",
            )
            return None
