"""The ``netsuite`` connector: records through SuiteQL over REST, field history from SystemNote.

Options:

``account_id``     e.g. ``1234567`` or ``1234567_SB1``; gives the default ``url``
                   ``https://1234567-sb1.suitetalk.api.netsuite.com`` (set ``url`` to override)
``token``          a pre-issued OAuth 2.0 access token (never renewed), or
``assertion``      the signed JWT client assertion of an OAuth 2.0 machine-to-machine
                   (client credentials) integration. Fieldwarden does not sign JWTs (that needs a
                   private-key library it does not depend on): mint the assertion with your
                   secret store and pass it through ``${ENV}``; it is posted to ``token_url``
                   (default ``{url}/services/rest/auth/oauth2/v1/token``) whenever a new access
                   token is needed (they last about an hour), so it must outlive the process or
                   be re-issued
``timezone``       IANA name of the time zone the integration user's dates are in (default UTC)
``history_fields`` SystemNote field id -> mapping path, for history fields whose id does not end
                   in the column name (``{"ITEM.RPRICE": "baseprice"}``)
``page_size``      rows per SuiteQL page (default and maximum 1000)

Reads: ``POST /services/rest/query/v1/suiteql`` (``Prefer: transient``) with
``SELECT <mapped columns> FROM <resource> ORDER BY <key>``, paged by the ``links[rel=next]``
URL while ``hasMore``. ``resource`` is a SuiteQL table: ``item``, ``customer``,
``inventoryitemlocations`` (stock by location), ...; mapping paths are its column names. A mapping
may give a ``query:`` (any read-only SuiteQL) instead. With ``keys`` the key columns are filtered
in SuiteQL (literals quoted, ``'`` doubled). :meth:`NetSuiteConnector.read_updated` reads records
with ``lastmodifieddate`` after a time.

Changes: ``SystemNote`` rows of the resource's record type (entity option ``record_type_id``;
defaults ``item`` -10 and ``customer`` -9, verify them in your account with
``SELECT DISTINCT recordtypeid FROM systemnote``) joined to the resource for its key, from
``since`` (default: the last 7 days) in date order; past 100,000 rows (SuiteQL's cap) the query
restarts from the last date read. A note's ``field`` is matched to a mapped path through
``history_fields``, else by its last part (``ITEM.DISPLAYNAME`` -> ``displayname``); notes of
other fields are skipped and their field ids logged (``netsuite_history_fields_unmapped``).
``inventoryitemlocations`` has no system notes (stock moves through transactions).

Actor (``Change.changed_by``): ``<context>:<author>``, the SystemNote ``context`` code and
``name`` (the internal id of the employee or integration user) exactly as SuiteQL returns them,
e.g. ``UIF:-5`` (a person in the user interface) or ``WEBSERVICES:1401`` (integration user 1401
through web services; the context codes are NetSuite's own, ``discover`` lists the ones seen);
just ``<author>`` when no context is recorded. Name these in ``writers``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlencode, urljoin, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
import structlog
from pydantic import Field, SecretStr, field_validator, model_validator

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
    HttpClient,
    HttpOptions,
    JsonResponse,
    Page,
    Paginator,
    redact_url,
    scrub,
)
from connectors.oauth import BearerClient, Token, TokenManager, request_token
from connectors.records import filter_keys, frame_from_records, render_value
from connectors.vendor import require_identifier, sql_key_filters, window_start
from detector.errors import PaginationLoopError, SourceFatalError

__all__ = ["NetSuiteConnector", "NetSuiteOptions", "SuiteQLPaginator", "suiteql_quote"]

_log = structlog.get_logger(__name__)

SUITEQL = "services/rest/query/v1/suiteql"
_RECORD_TYPES = {"item": -10, "customer": -9}
_NO_HISTORY = frozenset({"inventoryitemlocations"})
_KEYS_PER_QUERY = 500
_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_STAMP = "YYYY-MM-DD HH24:MI:SS"


class NetSuiteOptions(HttpOptions):
    """Options of the ``netsuite`` connector."""

    account_id: str | None = None
    assertion: SecretStr | None = None
    token_url: str | None = None
    timezone: str = "UTC"
    history_fields: dict[str, str] = Field(default_factory=dict)
    page_size: int | None = Field(default=None, gt=0, le=1000)

    @model_validator(mode="before")
    @classmethod
    def _url_from_account(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and not data.get("url") and data.get("account_id"):
            host = str(data["account_id"]).lower().replace("_", "-")
            if not re.fullmatch(r"[a-z0-9-]+", host):
                raise ValueError("account_id must look like 1234567 or 1234567_SB1")
            return {**data, "url": f"https://{host}.suitetalk.api.netsuite.com"}
        return data

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _needs_credentials(self) -> NetSuiteOptions:
        if self.token is None and self.assertion is None:
            raise ValueError(
                "netsuite needs a `token` or an `assertion` (OAuth 2.0 client credentials)"
            )
        return self


def suiteql_quote(value: str) -> str:
    """``value`` as a SuiteQL (Oracle SQL) string literal."""
    return "'" + value.replace("'", "''") + "'"


class SuiteQLPaginator(Paginator[str]):
    """SuiteQL pages: the ``links[rel=next]`` URL while ``hasMore`` (else offset + count)."""

    def next_token(self, page: Page, token: str | None) -> str | None:
        data = page.data
        if not isinstance(data, Mapping) or not data.get("hasMore"):
            return None
        for link in data.get("links") or []:
            if isinstance(link, Mapping) and link.get("rel") == "next" and link.get("href"):
                return urljoin(page.response.url or "", str(link["href"]))
        try:
            offset = int(data.get("offset", 0)) + int(data.get("count", len(page.records)))
        except (TypeError, ValueError):
            return None
        parts = urlsplit(page.response.url or "")
        return parts._replace(
            query=urlencode({"limit": len(page.records), "offset": offset})
        ).geturl()


class _NetSuiteClient(BearerClient):
    def validate_response(self, response: requests.Response) -> None:
        if response.status_code == 400:
            raise SourceFatalError(
                f"request rejected (HTTP 400): {scrub(_error_summary(response), self.secrets)}",
                system=self.system,
                url=redact_url(response.url or ""),
                status=400,
            )
        super().validate_response(response)


def _error_summary(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "no error body"
    details = body.get("o:errorDetails") if isinstance(body, Mapping) else None
    if isinstance(details, list) and details and isinstance(details[0], Mapping):
        first = details[0]
        return f"{first.get('o:errorCode', 'ERROR')}: {str(first.get('detail', ''))[:160]}"
    return str(body.get("title", "error")) if isinstance(body, Mapping) else "error"


class NetSuiteConnector(Connector):
    """Reads NetSuite through SuiteQL, with SystemNote history; see the module docstring."""

    name = "netsuite"
    Options = NetSuiteOptions
    supports_changes = True
    supports_keys = True

    row_cap = 100_000
    """Rows one SuiteQL query can page through."""

    def __init__(self, system: str, options: ConnectorOptions, context: ConnectorContext) -> None:
        super().__init__(system, options, context)  # checks the options type
        self._options = cast("NetSuiteOptions", options)
        self._zone = ZoneInfo(self._options.timezone)
        self._auth_client: HttpClient | None = None
        self._client: _NetSuiteClient | None = None

    # --- auth and client ------------------------------------------------------------------

    def _fetch_token(self, previous: Token | None) -> Token:
        options = self._options
        assert options.assertion is not None
        if self._auth_client is None:
            self._auth_client = HttpClient(options, self.context, system=self.system)
        assertion = options.assertion.get_secret_value()
        return request_token(
            self._auth_client,
            options.token_url or f"{options.url}/services/rest/auth/oauth2/v1/token",
            form={
                "grant_type": "client_credentials",
                "client_assertion_type": _ASSERTION_TYPE,
                "client_assertion": assertion,
            },
            secrets=(assertion,),
            grant="client_credentials",
        )

    @property
    def client(self) -> _NetSuiteClient:
        if self._client is None:
            options = self._options
            tokens = TokenManager.configured(options.token, self._fetch_token, system=self.system)
            self._client = _NetSuiteClient(
                options,
                self.context,
                system=self.system,
                tokens=tokens,
                headers={"Prefer": "transient"},
            )
        return self._client

    def close(self) -> None:
        for client in (self._client, self._auth_client):
            if client is not None:
                client.close()
        self._client = self._auth_client = None

    # --- SuiteQL ----------------------------------------------------------------------------

    def suiteql(self, query: str, *, cap: int | None = None) -> tuple[list[Any], bool]:
        """Rows of one SuiteQL query and whether complete; stops early past ``cap`` rows."""
        limit = self._options.page_size or 1000

        def fetch(url: str | None) -> JsonResponse:
            if url is None:
                return self.client.post_json(
                    SUITEQL, json={"q": query}, params={"limit": limit, "offset": 0}
                )
            return self.client.post_json(url, json={"q": query})

        paginator = SuiteQLPaginator(
            records_path="items",
            total_path="totalResults",
            max_pages=self._options.max_pages,
            system=self.system,
        )
        rows: list[Any] = []
        for page in paginator.pages(fetch):
            rows.extend(page.records)
            if cap is not None and len(rows) + limit > cap and page.data.get("hasMore"):
                return rows, False
        return rows, paginator.complete

    def _columns(self, spec: ResourceSpec, paths: Sequence[str]) -> list[str]:
        return [
            require_identifier(spec, p, "mapping paths (SuiteQL column names)", self.name)
            for p in paths
        ]

    def _key_filters(self, spec: ResourceSpec, keys: Collection[KeyTuple]) -> Iterator[str]:
        columns = self._columns(spec, spec.key_paths)
        return sql_key_filters(columns, keys, suiteql_quote, _KEYS_PER_QUERY)

    @staticmethod
    def _flatten(row: Any, paths: Sequence[str]) -> Any:
        if not isinstance(row, Mapping):
            return row
        return {**row, **{p: row.get(p, row.get(p.lower())) for p in paths}}

    def _timestamp(self, value: datetime) -> str:
        text = value.astimezone(self._zone).strftime("%Y-%m-%d %H:%M:%S")
        return f"TO_TIMESTAMP('{text}', '{_STAMP}')"

    # --- records ----------------------------------------------------------------------------

    def read(self, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None) -> SourceFrame:
        if spec.query and not spec.resource:
            rows, complete = self.suiteql(spec.query)
            frame = frame_from_records(
                [self._flatten(r, spec.paths) for r in rows], spec, complete=complete
            )
            return filter_keys(frame, spec, keys)
        return self._read(spec, keys=keys)

    def read_updated(self, spec: ResourceSpec, since: datetime | None) -> SourceFrame:
        """Records whose ``lastmodifieddate`` is after ``since`` (last 7 days when None)."""
        return self._read(
            spec, condition=f"lastmodifieddate > {self._timestamp(window_start(since))}"
        )

    def _read(
        self,
        spec: ResourceSpec,
        *,
        keys: Collection[KeyTuple] | None = None,
        condition: str | None = None,
    ) -> SourceFrame:
        table = require_identifier(spec, spec.resource, "`resource` (a SuiteQL table)", self.name)
        columns = self._columns(spec, spec.paths)
        order = ", ".join(self._columns(spec, spec.key_paths))
        if keys is not None and not keys:
            return frame_from_records([], spec)
        filters = list(self._key_filters(spec, keys)) if keys is not None else [None]
        rows: list[Any] = []
        complete = True
        for key_filter in filters:
            where = " AND ".join(f"({c})" for c in (condition, key_filter) if c)
            # Checked identifiers only; values go through suiteql_quote.
            query = f"SELECT {', '.join(columns)} FROM {table}"  # noqa: S608
            query += (f" WHERE {where}" if where else "") + f" ORDER BY {order}"
            batch, done = self.suiteql(query)
            rows.extend(batch)
            complete = complete and done
        return frame_from_records(
            [self._flatten(r, spec.paths) for r in rows], spec, complete=complete
        )

    # --- changes ---------------------------------------------------------------------------

    def read_changes(self, spec: ResourceSpec, since: datetime | None) -> Iterator[Change]:
        if not spec.resource:
            return
        table = require_identifier(spec, spec.resource, "`resource` (a SuiteQL table)", self.name)
        record_type = spec.options.get("record_type_id", _RECORD_TYPES.get(table.lower()))
        if table.lower() in _NO_HISTORY or record_type is None:
            _log.info("netsuite_no_system_notes", system=self.system, table=table)
            return
        try:
            record_type = int(record_type)
        except (TypeError, ValueError):
            raise SourceFatalError(
                f"netsuite entity option record_type_id must be an integer, got {record_type!r}",
                system=self.system,
                entity=spec.entity,
            ) from None
        key_columns = self._columns(spec, spec.key_paths)
        resolve = self._field_resolver(spec)
        start = window_start(since)
        seen: set[str] = set()
        unmapped: set[str] = set()
        while True:
            rows, complete = self.suiteql(
                self._notes_query(table, record_type, key_columns, start), cap=self.row_cap
            )
            last: datetime | None = None
            for row in rows:
                if not isinstance(row, Mapping):
                    continue
                note_id = str(row.get("noteid", ""))
                changed_at = self._note_time(row.get("changed_at"))
                if changed_at is not None:
                    last = changed_at
                if note_id in seen or changed_at is None:
                    continue
                seen.add(note_id)
                raw_field = str(row.get("field") or "")
                path = resolve(raw_field)
                if path is None:
                    unmapped.add(raw_field)
                    continue
                key = tuple(
                    render_value(row.get(f"key_{i}")) or "" for i in range(len(key_columns))
                )
                if not all(key):
                    continue
                author = render_value(row.get("author"))
                context = render_value(row.get("context"))
                yield Change(
                    key=key,
                    field=path,
                    changed_at=changed_at,
                    changed_by=f"{context}:{author}" if context and author else author,
                    old_value=render_value(row.get("oldvalue")),
                    new_value=render_value(row.get("newvalue")),
                )
            if complete or len(rows) < self.row_cap - (self._options.page_size or 1000):
                break
            if last is None or last <= start:
                raise PaginationLoopError(
                    f"more than {self.row_cap} system notes share one time; cannot page past them",
                    system=self.system,
                )
            _log.info("netsuite_notes_rewindow", system=self.system, table=table, rows=len(rows))
            start = last
        if unmapped:
            _log.info(
                "netsuite_history_fields_unmapped", system=self.system, fields=sorted(unmapped)
            )

    def _notes_query(
        self, table: str, record_type: int, key_columns: Sequence[str], start: datetime
    ) -> str:
        keys = ", ".join(f"t.{c} AS key_{i}" for i, c in enumerate(key_columns))
        columns = (
            "sn.id AS noteid",
            "TO_CHAR(sn.date, 'YYYY-MM-DD\"T\"HH24:MI:SS') AS changed_at",
            "sn.field, sn.oldvalue, sn.newvalue, sn.name AS author, sn.context",
            keys,
        )
        source = f"systemnote sn JOIN {table} t ON t.id = sn.recordid"
        where = f"sn.recordtypeid = {record_type} AND sn.date >= {self._timestamp(start)}"
        # Checked identifiers and an integer only; no user values.
        query = f"SELECT {', '.join(columns)} FROM {source} WHERE {where}"  # noqa: S608
        return query + " ORDER BY sn.date, sn.id"

    def _note_time(self, value: Any) -> datetime | None:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            return None
        return parsed.replace(tzinfo=self._zone) if parsed.tzinfo is None else parsed

    def _field_resolver(self, spec: ResourceSpec) -> Callable[[str], str | None]:
        explicit = {k.upper(): v for k, v in self._options.history_fields.items()}
        by_name = {f.path.lower(): f.path for f in spec.fields}

        def resolve(raw: str) -> str | None:
            if raw.upper() in explicit:
                return explicit[raw.upper()]
            return by_name.get(raw.rsplit(".", 1)[-1].lower()) or by_name.get(raw.lower())

        return resolve
