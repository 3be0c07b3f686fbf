"""The ``salesforce`` connector: sObjects through the REST API's SOQL query, with field history.

Options:

``url``            where tokens are requested: your My Domain URL (``https://acme.my.salesforce.com``)
                   or ``https://login.salesforce.com`` (default; ``https://test.salesforce.com``
                   for sandboxes)
``client_id`` / ``client_secret``
                   OAuth client credentials flow of a connected (external client) app
``assertion``      a signed JWT for the JWT bearer flow (``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``).
                   Fieldwarden does not sign JWTs itself (that needs a private key library it
                   does not depend on): pass the assertion from ``${ENV}``, minted by your
                   secret store; it is re-posted whenever a new access token is needed
``token``          a pre-issued access token instead (never renewed); then ``instance_url``
``instance_url``   the API host; default: the ``instance_url`` of the token response
                   (with ``token``: ``url``)
``api_version``    default ``62.0``
``page_size``      SOQL batch size (200-2000, ``Sforce-Query-Options``)

``resource`` is the sObject API name (``Product2``, ``PricebookEntry``, ``Account``,
``Contact``, ``Custom__c``); mapping paths are field API names, and relationship paths such as
``Product2.ProductCode`` read the related record from the nested JSON. Queries page through the
relative ``nextRecordsUrl`` until ``done``. With ``keys``, the key fields are filtered in SOQL
(``IN`` lists, values quoted with SOQL escapes), so key fields must be text fields.

Changes come from the object's field history (``Product2History``, ``AccountHistory``,
``ContactHistory``, ``Custom__History``; ``changes:`` in the mapping names another history
object): rows with ``CreatedDate >= since`` for the mapped fields (Field History Tracking must
be on for them). ``PricebookEntry`` has no history object in Salesforce, so its change log is
empty (price changes are only visible as differences); set the entity option
``history: false`` to skip the history query for any other object.

Actor (``Change.changed_by``): the ``CreatedById`` of the history row, the 18-character user id
as the API returns it (``005XX000001Sv7dYAC``): name your integration user's id in ``writers``.

``403 REQUEST_LIMIT_EXCEEDED`` is rate limiting (``RateLimitedError``), not bad credentials;
``401 INVALID_SESSION_ID`` renews the token once (not a pre-issued one) and then fails.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

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
from connectors.http import HttpClient, HttpOptions, NextUrlPaginator, redact_url, scrub
from connectors.oauth import BearerClient, Token, TokenManager, request_token
from connectors.records import extract_path, frame_from_records, render_value
from connectors.vendor import (
    get_listing,
    parse_timestamp,
    require_identifier,
    sql_key_filters,
    utc_stamp,
    window_start,
)
from detector.errors import SourceFatalError

__all__ = ["SalesforceConnector", "SalesforceOptions", "soql_quote"]

_log = structlog.get_logger(__name__)

_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")
_NO_HISTORY = frozenset({"pricebookentry"})
_KEYS_PER_QUERY = 200
_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class SalesforceOptions(HttpOptions):
    """Options of the ``salesforce`` connector."""

    url: str = "https://login.salesforce.com"
    instance_url: str | None = None
    api_version: str | None = "62.0"
    assertion: SecretStr | None = None
    page_size: int | None = Field(default=None, ge=200, le=2000)

    @field_validator("instance_url")
    @classmethod
    def _check_instance(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname or parts.query or parts.username:
            raise ValueError("must be an https:// URL with a host and nothing else")
        return value.rstrip("/")

    @field_validator("api_version")
    @classmethod
    def _check_version(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"v?\d+\.\d", value):
            raise ValueError("must look like 62.0")
        return value.removeprefix("v") if value else value

    @model_validator(mode="after")
    def _needs_credentials(self) -> SalesforceOptions:
        if (
            self.token is None
            and self.assertion is None
            and not (self.client_id and self.client_secret)
        ):
            raise ValueError(
                "salesforce needs `client_id` and `client_secret`, an `assertion` (JWT bearer), or a `token`"
            )
        return self


_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def soql_quote(value: str) -> str:
    """``value`` as a SOQL string literal (backslash escapes, as SOQL defines them)."""
    return "'" + "".join(_ESCAPES.get(ch, ch) for ch in value) + "'"


class _SalesforceClient(BearerClient):
    def validate_response(self, response: requests.Response) -> None:
        if response.status_code == 400:
            # Salesforce quotes the whole SOQL (key values included) in query errors: keep the
            # error code and the message's last line only.
            detail = _error_summary(response)
            raise SourceFatalError(
                f"request rejected (HTTP 400): {scrub(detail, self.secrets)}",
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
    first = body[0] if isinstance(body, list) and body else body
    if not isinstance(first, Mapping):
        return "unrecognised error body"
    lines = [line.strip() for line in str(first.get("message", "")).splitlines() if line.strip()]
    return f"{first.get('errorCode', 'ERROR')}: {lines[-1] if lines else ''}".strip()


class SalesforceConnector(Connector):
    """Reads Salesforce sObjects and their field history; see the module docstring."""

    name = "salesforce"
    Options = SalesforceOptions
    supports_changes = True
    supports_keys = True

    def __init__(self, system: str, options: ConnectorOptions, context: ConnectorContext) -> None:
        super().__init__(system, options, context)  # checks the options type
        self._options = cast("SalesforceOptions", options)
        self._auth_client: HttpClient | None = None
        self._client: _SalesforceClient | None = None
        self._tokens: TokenManager | None = None

    # --- auth and client ------------------------------------------------------------------

    def _fetch_token(self, previous: Token | None) -> Token:
        options = self._options
        if self._auth_client is None:
            self._auth_client = HttpClient(options, self.context, system=self.system)
        if options.assertion is not None:
            form = {"grant_type": _JWT_GRANT, "assertion": options.assertion.get_secret_value()}
            grant = "jwt-bearer"
        else:
            assert options.client_id is not None
            assert options.client_secret is not None
            form = {
                "grant_type": "client_credentials",
                "client_id": options.client_id,
                "client_secret": options.client_secret.get_secret_value(),
            }
            grant = "client_credentials"
        return request_token(
            self._auth_client,
            f"{options.url}/services/oauth2/token",
            form=form,
            secrets=tuple(form.values()),
            grant=grant,
            keep=("instance_url",),
        )

    @property
    def client(self) -> _SalesforceClient:
        if self._client is None:
            options = self._options
            self._tokens = TokenManager.configured(
                options.token, self._fetch_token, system=self.system
            )
            instance = options.instance_url
            if instance is None:
                instance = (
                    options.url
                    if options.token is not None
                    else str(self._tokens.get().extra.get("instance_url") or options.url)
                )
            headers = (
                {"Sforce-Query-Options": f"batchSize={options.page_size}"}
                if options.page_size
                else {}
            )
            self._client = _SalesforceClient(
                options,
                self.context,
                system=self.system,
                tokens=self._tokens,
                base_url=instance.rstrip("/"),
                headers=headers,
            )
        return self._client

    def close(self) -> None:
        for client in (self._client, self._auth_client):
            if client is not None:
                client.close()
        self._client = self._auth_client = None

    # --- querying --------------------------------------------------------------------------

    def query(self, soql: str) -> tuple[list[Any], bool]:
        """Every record of one SOQL query (following ``nextRecordsUrl``) and whether complete."""
        paginator = NextUrlPaginator(
            records_path="records",
            next_path="nextRecordsUrl",
            total_path="totalSize",
            max_pages=self._options.max_pages,
            system=self.system,
        )
        path = f"services/data/v{self._options.api_version}/query"
        return get_listing(self.client, path, {"q": soql}, paginator)

    def _paths(self, spec: ResourceSpec, paths: Sequence[str]) -> list[str]:
        for path in paths:
            if not _PATH.fullmatch(path):
                raise SourceFatalError(
                    f"salesforce mapping paths are field API names or relationship paths "
                    f"(Product2.ProductCode), got {path!r}",
                    system=self.system,
                    entity=spec.entity,
                )
        return list(paths)

    def read(self, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None) -> SourceFrame:
        return self._read(spec, keys=keys)

    def read_updated(self, spec: ResourceSpec, since: datetime | None) -> SourceFrame:
        """Records whose ``SystemModstamp`` is after ``since`` (last 7 days when None)."""
        return self._read(spec, condition=f"SystemModstamp > {utc_stamp(window_start(since))}")

    def _read(
        self,
        spec: ResourceSpec,
        *,
        keys: Collection[KeyTuple] | None = None,
        condition: str | None = None,
    ) -> SourceFrame:
        obj = require_identifier(spec, spec.resource, "`resource` (an sObject name)", self.name)
        # Names are checked identifiers and values go through soql_quote.
        select = f"SELECT {', '.join(self._paths(spec, spec.paths))} FROM {obj}"  # noqa: S608
        if keys is not None and not keys:
            return frame_from_records([], spec)
        filters = (
            list(sql_key_filters(spec.key_paths, keys, soql_quote, _KEYS_PER_QUERY))
            if keys is not None
            else [None]
        )
        records: list[Any] = []
        complete = True
        for key_filter in filters:
            where = " AND ".join(f"({c})" for c in (condition, key_filter) if c)
            batch, done = self.query(select + (f" WHERE {where}" if where else ""))
            records.extend(batch)
            complete = complete and done
        return frame_from_records(records, spec, complete=complete)

    # --- changes ---------------------------------------------------------------------------

    def read_changes(self, spec: ResourceSpec, since: datetime | None) -> Iterator[Change]:
        obj = require_identifier(spec, spec.resource, "`resource` (an sObject name)", self.name)
        if spec.options.get("history") is False:
            return
        history = spec.changes
        if history is None and obj.lower() in _NO_HISTORY:
            _log.info("salesforce_no_field_history", system=self.system, object=obj)
            return
        if history is None:
            history = f"{obj[:-3]}__History" if obj.endswith("__c") else f"{obj}History"
        history = require_identifier(spec, history, "`changes` (a history object)", self.name)
        parent = "Parent" if history.endswith("__History") else obj
        tracked: dict[str, list[str]] = {}
        for field_spec in spec.fields:
            if "." not in field_spec.path:
                tracked.setdefault(field_spec.path.lower(), []).append(field_spec.path)
        if not tracked:
            return
        key_paths = self._paths(spec, spec.key_paths)
        names = sorted({paths[0] for paths in tracked.values()})
        columns = [f"{parent}.{k}" for k in key_paths]
        columns += ["Field", "OldValue", "NewValue", "CreatedById", "CreatedBy.Name", "CreatedDate"]
        conditions = (
            f"CreatedDate >= {utc_stamp(window_start(since))}",
            f"Field IN ({', '.join(soql_quote(n) for n in names)})",
        )
        # Checked identifiers only; values go through soql_quote.
        soql = f"SELECT {', '.join(columns)} FROM {history} WHERE {' AND '.join(conditions)}"  # noqa: S608
        soql += " ORDER BY CreatedDate, Id"
        records, _ = self.query(soql)
        for row in records:
            if not isinstance(row, Mapping):
                continue
            key = tuple(render_value(extract_path(row, f"{parent}.{k}")) or "" for k in key_paths)
            changed_at = parse_timestamp(row.get("CreatedDate"))
            paths = tracked.get(str(row.get("Field", "")).lower())
            if not all(key) or changed_at is None or not paths:
                continue
            for path in paths:
                yield Change(
                    key=key,
                    field=path,
                    changed_at=changed_at,
                    changed_by=render_value(row.get("CreatedById")),
                    old_value=render_value(row.get("OldValue")),
                    new_value=render_value(row.get("NewValue")),
                )
