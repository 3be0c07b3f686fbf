"""The ``hubspot`` connector: HubSpot CRM v3 objects, with per-property change history.

Options: ``token`` (a private app's access token, sent as ``Authorization: Bearer``), ``url``
(default ``https://api.hubapi.com``), ``page_size`` (list pages, at most 100) and the shared HTTP
options. ``resource`` is the object type: ``contacts``, ``companies``, ``products`` (also
``deals``, ``line_items`` or a custom object's ``2-1234`` / ``p_name``).

Records are flattened so that a mapping names a property directly: ``email``, ``price``,
``hs_sku``; ``properties.email`` works as well, and so do the object's own ``id``,
``createdAt``, ``updatedAt`` and ``archived``. Values are HubSpot's strings, as stored.

Reads: ``GET /crm/v3/objects/{object}?properties=...`` paged by ``paging.next.after``. With
``keys`` (one key part), the search API with an ``IN`` filter on the key property (``id`` is
searched as ``hs_object_id``), 100 keys a request.

Changes: the search API finds the records modified since the cursor (``lastmodifieddate`` for
contacts, ``hs_lastmodifieddate`` otherwise; ``GTE``, ascending). A search returns at most
10,000 results, so past that the search restarts from the last timestamp seen (records already
seen are skipped). The mapped properties' history then comes from
``POST /crm/v3/objects/{object}/batch/read`` with ``propertiesWithHistory`` (50 records a call),
and every history entry at or after ``since`` becomes a ``Change`` whose old value is the entry
before it. ``since=None`` reads the last 7 days.

Actor (``Change.changed_by``), to be named in the system's ``writers``::

    <sourceType>:<sourceId>          INTEGRATION:2212345   (an app: its app id)
                                     API:1234567           (a private app through the API)
                                     AUTOMATION:wf-88      (a workflow)
    <sourceType>:user:<userId>       CRM_UI:user:77        (a person in the UI)
                                     IMPORT:user:77        (an import run by a person)
    <sourceType>                     CALCULATED            (no source id reported)

``updatedByUserId`` wins over ``sourceId`` (and ``sourceId: "userId:77"`` reads as
``user:77``), so a person's edits always carry ``user:<id>``.

Throttling: 429 is retried by the HTTP layer (``Retry-After`` honoured up to the cap); when it
persists, ``RateLimitedError`` names HubSpot's ``policyName`` (``SECONDLY``, ``DAILY``...) and
waits for ``X-HubSpot-RateLimit-Interval-Milliseconds`` when no ``Retry-After`` is sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import requests
import structlog
from pydantic import Field, model_validator

from connectors.base import (
    Change,
    Connector,
    ConnectorContext,
    ConnectorOptions,
    KeyTuple,
    ResourceSpec,
    SourceFrame,
)
from connectors.http import (
    CursorPaginator,
    HttpClient,
    HttpOptions,
    JsonResponse,
    redact_url,
    retry_after_from_headers,
)
from connectors.records import extract_path, filter_keys, frame_from_records, render_value
from connectors.vendor import chunks, parse_timestamp, window_start
from detector.errors import PaginationLoopError, RateLimitedError, SourceFatalError

__all__ = ["HubSpotConnector", "HubSpotOptions", "hubspot_actor"]

_log = structlog.get_logger(__name__)

_OBJECT = re.compile(r"[A-Za-z0-9_-]+")
_TOP_LEVEL = frozenset({"id", "createdAt", "updatedAt", "archived", "archivedAt"})
_KEYS_PER_SEARCH = 100
_SEARCH_LIMIT = 200
_HISTORY_BATCH = 50


class HubSpotOptions(HttpOptions):
    """Options of the ``hubspot`` connector."""

    url: str = "https://api.hubapi.com"
    page_size: int | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _needs_token(self) -> HubSpotOptions:
        if self.token is None:
            raise ValueError("hubspot needs `token` (a private app access token)")
        return self


def hubspot_actor(entry: Mapping[str, Any]) -> str | None:
    """The actor string of one ``propertiesWithHistory`` entry (format in the module docstring)."""
    source_type = entry.get("sourceType")
    user = entry.get("updatedByUserId")
    source_id = entry.get("sourceId")
    ident: str | None = None
    if user not in (None, ""):
        ident = f"user:{user}"
    elif source_id not in (None, ""):
        text = str(source_id)
        ident = f"user:{text[7:]}" if text.startswith("userId:") else text
    parts = [str(p) for p in (source_type, ident) if p]
    return ":".join(parts) or None


class _HubSpotClient(HttpClient):
    def validate_response(self, response: requests.Response) -> None:
        if response.status_code == 429:
            policy = "unknown"
            try:
                body = response.json()
                if isinstance(body, Mapping) and body.get("policyName"):
                    policy = str(body["policyName"])[:40]
            except ValueError:
                pass
            wait = retry_after_from_headers(response.headers)
            interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
            if wait is None and interval and interval.isdigit() and policy != "DAILY":
                wait = int(interval) / 1000
            raise RateLimitedError(
                f"rate limited by HubSpot ({policy} limit)",
                retry_after=wait,
                system=self.system,
                url=redact_url(response.url or ""),
                status=429,
            )
        super().validate_response(response)


def _property(path: str) -> str | None:
    """The HubSpot property a mapping path reads (None for the object's own members)."""
    if path.startswith("properties."):
        return path.removeprefix("properties.")
    if path in _TOP_LEVEL:
        return None
    return path


def _flatten(record: Any) -> Any:
    if not isinstance(record, Mapping):
        return record
    properties = record.get("properties")
    flat: dict[str, Any] = dict(properties) if isinstance(properties, Mapping) else {}
    for name in _TOP_LEVEL:
        if name in record:
            flat[name] = record[name]
    flat["properties"] = properties
    return flat


class HubSpotConnector(Connector):
    """Reads HubSpot CRM objects and their property history; see the module docstring."""

    name = "hubspot"
    Options = HubSpotOptions
    supports_changes = True
    supports_keys = True

    search_cap = 10_000
    """Results one search can return before HubSpot refuses to page further."""
    search_limit = _SEARCH_LIMIT
    """Results per search page (HubSpot's maximum)."""

    def __init__(self, system: str, options: ConnectorOptions, context: ConnectorContext) -> None:
        super().__init__(system, options, context)  # checks the options type
        self._options = cast("HubSpotOptions", options)
        self._client: _HubSpotClient | None = None

    @property
    def client(self) -> _HubSpotClient:
        if self._client is None:
            token = self._options.token
            assert token is not None  # the options validator guarantees it
            self._client = _HubSpotClient(
                self._options,
                self.context,
                system=self.system,
                auth={"Authorization": f"Bearer {token.get_secret_value()}"},
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- helpers ----------------------------------------------------------------------------

    def _object(self, spec: ResourceSpec) -> str:
        if not spec.resource or not _OBJECT.fullmatch(spec.resource):
            raise SourceFatalError(
                f"hubspot needs `resource` to be an object type such as contacts, got {spec.resource!r}",
                system=self.system,
                entity=spec.entity,
            )
        return spec.resource

    @staticmethod
    def _properties(paths: Sequence[str]) -> list[str]:
        seen: dict[str, None] = {}
        for path in paths:
            prop = _property(path)
            if prop:
                seen.setdefault(prop, None)
        return list(seen)

    @staticmethod
    def _modified_property(obj: str) -> str:
        return "lastmodifieddate" if obj == "contacts" else "hs_lastmodifieddate"

    def _paginator(self) -> CursorPaginator:
        return CursorPaginator(
            records_path="results",
            cursor_path="paging.next.after",
            max_pages=self._options.max_pages,
            system=self.system,
        )

    def _search(self, path: str, body: Mapping[str, Any]) -> Callable[[str | None], JsonResponse]:
        def fetch(after: str | None) -> JsonResponse:
            return self.client.post_json(path, json={**body, **({"after": after} if after else {})})

        return fetch

    # --- records ----------------------------------------------------------------------------

    def read(self, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None) -> SourceFrame:
        obj = self._object(spec)
        properties = self._properties(spec.paths)
        if keys is not None and len(spec.key) == 1:
            return self._read_keys(spec, obj, properties, keys)
        limit = self._options.page_size or 100
        params: dict[str, Any] = {"limit": limit, "archived": "false"}
        if properties:
            params["properties"] = ",".join(properties)
        records: list[Any] = []
        paginator = self._paginator()
        path = f"crm/v3/objects/{obj}"
        for page in paginator.pages(
            lambda after: self.client.get_json(
                path, params={**params, **({"after": after} if after else {})}
            )
        ):
            records.extend(_flatten(r) for r in page.records)
        frame = frame_from_records(records, spec, complete=paginator.complete)
        return filter_keys(frame, spec, keys)

    def _read_keys(
        self,
        spec: ResourceSpec,
        obj: str,
        properties: list[str],
        keys: Collection[KeyTuple],
    ) -> SourceFrame:
        key_path = spec.key[0].path
        key_property = _property(key_path) or ("hs_object_id" if key_path == "id" else None)
        if key_property is None:
            return filter_keys(self.read(spec), spec, keys)
        values = sorted({k[0] for k in keys})
        records: list[Any] = []
        complete = True
        for batch in chunks(values, _KEYS_PER_SEARCH):
            body: dict[str, Any] = {
                "filterGroups": [
                    {
                        "filters": [
                            {"propertyName": key_property, "operator": "IN", "values": list(batch)}
                        ]
                    }
                ],
                "properties": properties,
                "limit": self.search_limit,
            }
            paginator = self._paginator()
            for page in paginator.pages(self._search(f"crm/v3/objects/{obj}/search", body)):
                records.extend(_flatten(r) for r in page.records)
            complete = complete and paginator.complete
        # HubSpot matches some properties case-insensitively: keep exactly the keys asked for.
        return filter_keys(frame_from_records(records, spec, complete=complete), spec, keys)

    # --- changes ----------------------------------------------------------------------------

    def read_changes(self, spec: ResourceSpec, since: datetime | None) -> Iterator[Change]:
        obj = self._object(spec)
        start = window_start(since)
        tracked: dict[str, list[str]] = {}
        for field_spec in spec.fields:
            prop = _property(field_spec.path)
            if prop:
                tracked.setdefault(prop, []).append(field_spec.path)
        if not tracked:
            return
        ids = list(self._modified_ids(obj, start))
        key_properties = self._properties(spec.key_paths)
        for batch in chunks(ids, _HISTORY_BATCH):
            body = {
                "inputs": [{"id": i} for i in batch],
                "properties": key_properties,
                "propertiesWithHistory": list(tracked),
            }
            result = self.client.post_json(f"crm/v3/objects/{obj}/batch/read", json=body)
            results = result.data.get("results") if isinstance(result.data, Mapping) else None
            for record in results or []:
                yield from self._record_changes(spec, record, tracked, start)

    def _record_changes(
        self,
        spec: ResourceSpec,
        record: Any,
        tracked: Mapping[str, list[str]],
        start: datetime,
    ) -> Iterator[Change]:
        flat = _flatten(record)
        if not isinstance(flat, Mapping):
            return
        key = tuple(render_value(extract_path(flat, p)) or "" for p in spec.key_paths)
        if not all(key):
            _log.warning("hubspot_change_without_key", system=self.system, id=flat.get("id"))
            return
        history_by_property = record.get("propertiesWithHistory") or {}
        for prop, paths in tracked.items():
            entries = [
                (parse_timestamp(e.get("timestamp")), e)
                for e in history_by_property.get(prop) or []
                if isinstance(e, Mapping)
            ]
            dated = sorted(
                ((ts, e) for ts, e in entries if ts is not None), key=lambda p: p[0], reverse=True
            )
            for position, (changed_at, entry) in enumerate(dated):
                if changed_at < start:
                    break
                older = dated[position + 1][1] if position + 1 < len(dated) else None
                for path in paths:
                    yield Change(
                        key=key,
                        field=path,
                        changed_at=changed_at,
                        changed_by=hubspot_actor(entry),
                        old_value=render_value(older.get("value")) if older else None,
                        new_value=render_value(entry.get("value")),
                    )

    def _modified_ids(self, obj: str, start: datetime) -> Iterator[str]:
        """Ids of records modified at or after ``start``, re-windowing past the search cap."""
        modified = self._modified_property(obj)
        window_ms = int(start.timestamp() * 1000)
        seen: set[str] = set()
        path = f"crm/v3/objects/{obj}/search"
        while True:
            body: dict[str, Any] = {
                "filterGroups": [
                    {
                        "filters": [
                            {"propertyName": modified, "operator": "GTE", "value": str(window_ms)}
                        ]
                    }
                ],
                "sorts": [{"propertyName": modified, "direction": "ASCENDING"}],
                "properties": [modified],
                "limit": self.search_limit,
            }
            paginator = self._paginator()
            in_window = 0
            last_ms: int | None = None
            capped = False
            for page in paginator.pages(self._search(path, body)):
                for record in page.records:
                    flat = _flatten(record)
                    ident = str(flat.get("id")) if isinstance(flat, Mapping) else None
                    stamp = (
                        parse_timestamp(flat.get(modified)) if isinstance(flat, Mapping) else None
                    )
                    if stamp is not None:
                        last_ms = int(stamp.timestamp() * 1000)
                    if ident and ident not in seen:
                        seen.add(ident)
                        yield ident
                in_window += len(page.records)
                more = (
                    extract_path(page.data, "paging.next.after")
                    if isinstance(page.data, Mapping)
                    else None
                )
                if more and in_window + self.search_limit > self.search_cap:
                    capped = True
                    break
            if not capped:
                return
            if last_ms is None or last_ms <= window_ms:
                raise PaginationLoopError(
                    f"more than {self.search_cap} {obj} share one modification time; "
                    "the search cannot page past them",
                    system=self.system,
                )
            _log.info("hubspot_search_rewindow", system=self.system, object=obj, after=in_window)
            window_ms = last_ms
