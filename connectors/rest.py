"""``rest``: a configurable connector for in-house or unsupported JSON APIs, no code needed.

System options (besides the shared ``url``, ``timeout``, ``page_size``, ``max_pages``...):

* ``token`` + ``auth_header`` (default ``Authorization``): the header's whole value, e.g.
  ``token: "Bearer ${INVENTORY_API_TOKEN}"``; or ``username``/``password`` for HTTP Basic;
* ``headers``: extra, non-secret headers (``Accept-Language``...);
* ``error_path``: where the API reports an error inside a 200 (``error``, ``meta.errors``): a
  non-empty value there fails the read;
* defaults for every entity: ``records_path`` and ``pagination`` (below).

Per entity, under the mapping's ``options``:

* ``records_path``: JSON path to the list of records (``data``, ``result.items``; ``""`` when the
  body is the list itself);
* ``pagination``: ``{style: none | next_url | cursor | offset | page | link, ...}`` with
  ``next_path`` (next_url), ``cursor_path`` + ``cursor_param`` (cursor), ``has_more_path``,
  ``offset_param``/``limit_param`` (offset), ``page_param``/``limit_param``/``total_pages_path``
  (page), ``total_path`` (declared record count, checked);
* ``params``: fixed query parameters;
* changes, either from a change-log endpoint (the mapping's ``changes:``) whose rows hold
  ``key`` (or the key paths), ``field``, ``changed_at``, ``changed_by``, ``old_value``,
  ``new_value`` (rename them with ``change_paths``), or from the resource itself with
  ``changed_since_param`` (the query parameter taking the cursor), ``changed_at_path`` (the
  record's modification time) and optionally ``changed_by_path``; record-level changes name the
  field ``*`` unless ``change_fields`` lists the paths they stand for. ``since_format``:
  ``iso`` (default), ``epoch`` or ``epoch_ms``; ``changes_records_path`` and
  ``changes_pagination`` when the change log is shaped differently from the resource.

``resource`` is the endpoint path relative to ``url`` (``v1/products``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from typing import Any, Literal

import requests
import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from requests.auth import AuthBase, HTTPBasicAuth

from connectors.base import Change, KeyTuple, ResourceSpec, SourceFrame
from connectors.http.client import HttpClient, JsonResponse
from connectors.http.connector import HttpConnector, parse_timestamp
from connectors.http.pagination import (
    CursorPaginator,
    LinkHeaderPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    SinglePagePaginator,
    drain,
)
from connectors.http.redact import redact_url, scrub
from connectors.http.session import HeaderAuth
from connectors.http.settings import HttpOptions
from connectors.records import extract_path, filter_keys, frame_from_records, render_value
from detector.errors import InvalidPayloadError

__all__ = ["PaginationConfig", "RestConnector", "RestEntityOptions", "RestOptions"]

RECORD_CHANGE = "*"
_log = structlog.get_logger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PaginationConfig(_Strict):
    style: Literal["none", "next_url", "cursor", "offset", "page", "link"] = "none"
    next_path: str | None = None
    cursor_path: str | None = None
    cursor_param: str = "cursor"
    has_more_path: str | None = None
    offset_param: str = "offset"
    limit_param: str = "limit"
    page_param: str = "page"
    total_pages_path: str | None = None
    total_path: str | None = None

    @model_validator(mode="after")
    def _needs(self) -> PaginationConfig:
        if self.style == "next_url" and not self.next_path:
            raise ValueError("style next_url needs next_path")
        if self.style == "cursor" and not self.cursor_path:
            raise ValueError("style cursor needs cursor_path")
        return self


class ChangePaths(_Strict):
    key: str | list[str] | None = None
    """Path of the whole key (parts joined by ``|``), or one path per key part; default: the
    entity's key paths, else ``key``."""
    field: str = "field"
    changed_at: str = "changed_at"
    changed_by: str | None = "changed_by"
    old_value: str | None = "old_value"
    new_value: str | None = "new_value"


class RestEntityOptions(_Strict):
    """What an entity mapping's ``options`` may say for the rest connector."""

    records_path: str | None = None
    pagination: PaginationConfig | None = None
    params: dict[str, str] = Field(default_factory=dict)
    changed_since_param: str | None = None
    changed_at_path: str | None = None
    changed_by_path: str | None = None
    change_fields: list[str] = Field(default_factory=list)
    since_format: Literal["iso", "epoch", "epoch_ms"] = "iso"
    change_paths: ChangePaths = Field(default_factory=ChangePaths)
    changes_records_path: str | None = None
    changes_pagination: PaginationConfig | None = None


class RestOptions(HttpOptions):
    auth_header: str = "Authorization"
    """Header that carries ``token`` (its whole value: ``Bearer ...``, ``Token ...``, a key)."""
    headers: dict[str, str] = Field(default_factory=dict)
    records_path: str = ""
    pagination: PaginationConfig = Field(default_factory=PaginationConfig)
    error_path: str | None = None
    """JSON path that, when present and not empty in a 200 body, means the call failed."""


def _since_value(moment: datetime, form: str) -> str:
    if form == "epoch":
        return str(int(moment.timestamp()))
    if form == "epoch_ms":
        return str(int(moment.timestamp() * 1000))
    return moment.isoformat()


class RestConnector(HttpConnector):
    """Reads any JSON API described in configuration."""

    name = "rest"
    Options = RestOptions
    supports_changes = True

    @property
    def rest_options(self) -> RestOptions:
        assert isinstance(self.options, RestOptions)
        return self.options

    def make_client(self) -> HttpClient:
        options = self.rest_options
        auth: AuthBase | dict[str, SecretStr] | None = None
        if options.token is not None:
            auth = HeaderAuth({options.auth_header: options.token})
        elif options.username is not None and options.password is not None:
            auth = HTTPBasicAuth(options.username, options.password.get_secret_value())
        return HttpClient(
            options, self.context, system=self.system, auth=auth, headers=options.headers
        )

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> JsonResponse:
        return self.client.get_json(path, params=params, check=self._check)

    def _check(self, data: Any, response: requests.Response) -> Any:
        error_path = self.rest_options.error_path
        if error_path and isinstance(data, Mapping):
            error = extract_path(data, error_path)
            if error not in (None, "", False, [], {}):
                text = scrub(render_value(error) or "", self.client.secrets)
                raise InvalidPayloadError(
                    f"error inside a 200 response: {text}",
                    system=self.system,
                    url=redact_url(response.url or ""),
                    status=response.status_code,
                )
        return data

    def _entity(self, spec: ResourceSpec) -> RestEntityOptions:
        try:
            return RestEntityOptions.model_validate(dict(spec.options))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise self.fatal(spec, f"invalid rest options: {problems}") from None

    def _walk(
        self,
        spec: ResourceSpec,
        path: str,
        entity: RestEntityOptions,
        params: Mapping[str, str],
        records_path: str,
        pagination: PaginationConfig | None = None,
    ) -> tuple[list[Any], bool]:
        options = self.rest_options
        config = pagination or entity.pagination or options.pagination
        limit = options.page_size
        base = {**entity.params, **params}
        common: dict[str, Any] = {
            "records_path": records_path,
            "total_path": config.total_path,
            "max_pages": options.max_pages,
            "system": self.system,
        }

        def sized(query: Mapping[str, str]) -> dict[str, str]:
            return {**query, config.limit_param: str(limit)} if limit else dict(query)

        if config.style in ("none", "next_url", "link"):

            def fetch_url(url: str | None) -> JsonResponse:
                if url is None:
                    return self._get(path, params=sized(base))
                return self._get(url)

            if config.style == "next_url":
                return drain(
                    NextUrlPaginator(next_path=config.next_path or "", **common), fetch_url
                )
            if config.style == "link":
                return drain(LinkHeaderPaginator(**common), fetch_url)
            return drain(SinglePagePaginator(**common), fetch_url)
        if config.style == "cursor":

            def fetch_cursor(cursor: str | None) -> JsonResponse:
                query = sized(base)
                if cursor is not None:
                    query[config.cursor_param] = cursor
                return self._get(path, params=query)

            cursor_paginator = CursorPaginator(
                cursor_path=config.cursor_path or "", has_more_path=config.has_more_path, **common
            )
            return drain(cursor_paginator, fetch_cursor)
        size = limit or 100
        if config.style == "offset":

            def fetch_offset(offset: int | None) -> JsonResponse:
                query = {
                    **base,
                    config.offset_param: str(offset or 0),
                    config.limit_param: str(size),
                }
                return self._get(path, params=query)

            return drain(OffsetPaginator(limit=size, **common), fetch_offset)

        def fetch_page(page: int | None) -> JsonResponse:
            query = {**base, config.page_param: str(page or 1), config.limit_param: str(size)}
            return self._get(path, params=query)

        page_paginator = PageNumberPaginator(
            page_size=size, total_pages_path=config.total_pages_path, **common
        )
        return drain(page_paginator, fetch_page)

    def read(self, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None) -> SourceFrame:
        path = self.require_resource(spec)
        entity = self._entity(spec)
        records_path = (
            entity.records_path
            if entity.records_path is not None
            else self.rest_options.records_path
        )
        records, complete = self._walk(spec, path, entity, {}, records_path)
        return filter_keys(frame_from_records(records, spec, complete=complete), spec, keys)

    # -- changes ---------------------------------------------------------------------------
    def read_changes(self, spec: ResourceSpec, since: datetime | None) -> Iterator[Change]:
        path = self.require_resource(spec)
        entity = self._entity(spec)
        start = self.since_or_default(since)
        params = (
            {entity.changed_since_param: _since_value(start, entity.since_format)}
            if entity.changed_since_param
            else {}
        )
        if spec.changes:
            records_path = (
                entity.changes_records_path
                if entity.changes_records_path is not None
                else (
                    entity.records_path
                    if entity.records_path is not None
                    else self.rest_options.records_path
                )
            )
            rows, _ = self._walk(
                spec, spec.changes, entity, params, records_path, entity.changes_pagination
            )
            yield from self._log_changes(spec, entity, rows, start)
            return
        if not entity.changed_at_path:
            return
        records_path = (
            entity.records_path
            if entity.records_path is not None
            else self.rest_options.records_path
        )
        records, _ = self._walk(spec, path, entity, params, records_path)
        fields = entity.change_fields or [RECORD_CHANGE]
        for record in records:
            if not isinstance(record, Mapping):
                continue
            key = self._key(record, spec.key_paths)
            changed_at = self._time(spec, extract_path(record, entity.changed_at_path))
            if key is None or changed_at is None or changed_at < start:
                continue
            by = (
                render_value(extract_path(record, entity.changed_by_path))
                if entity.changed_by_path
                else None
            )
            for name in fields:
                yield Change(key=key, field=name, changed_at=changed_at, changed_by=by)

    def _log_changes(
        self, spec: ResourceSpec, entity: RestEntityOptions, rows: list[Any], start: datetime
    ) -> Iterator[Change]:
        paths = entity.change_paths
        for position, row in enumerate(rows, start=1):
            if not isinstance(row, Mapping):
                self._skip(spec, position, "not an object")
                continue
            key = self._change_key(spec, paths, row)
            name = render_value(extract_path(row, paths.field))
            changed_at = self._time(spec, extract_path(row, paths.changed_at))
            if key is None or not name or changed_at is None:
                self._skip(spec, position, "key, field or changed_at missing or invalid")
                continue
            if changed_at < start:
                continue
            yield Change(
                key=key,
                field=name,
                changed_at=changed_at,
                changed_by=render_value(extract_path(row, paths.changed_by))
                if paths.changed_by
                else None,
                old_value=render_value(extract_path(row, paths.old_value))
                if paths.old_value
                else None,
                new_value=render_value(extract_path(row, paths.new_value))
                if paths.new_value
                else None,
            )

    def _change_key(
        self, spec: ResourceSpec, paths: ChangePaths, row: Mapping[str, Any]
    ) -> KeyTuple | None:
        if isinstance(paths.key, list):
            return self._key(row, tuple(paths.key))
        if paths.key is not None:
            whole = render_value(extract_path(row, paths.key))
            return tuple(whole.split("|")) if whole else None
        direct = self._key(row, spec.key_paths)
        if direct is not None:
            return direct
        whole = render_value(row.get("key"))
        return tuple(whole.split("|")) if whole else None

    @staticmethod
    def _key(record: Mapping[str, Any], key_paths: tuple[str, ...]) -> KeyTuple | None:
        parts = [render_value(extract_path(record, p)) for p in key_paths]
        if any(not p for p in parts):
            return None
        return tuple(p for p in parts if p)

    def _time(self, spec: ResourceSpec, value: Any) -> datetime | None:
        try:
            return parse_timestamp(value)
        except ValueError:
            return None

    def _skip(self, spec: ResourceSpec, position: int, reason: str) -> None:
        _log.warning(
            "change_row_invalid",
            system=spec.system,
            resource=spec.changes or spec.resource,
            row=position,
            reason=reason,
        )
