"""The ``businesscentral`` connector: Dynamics 365 Business Central API v2.0 (OData v4), with
the Change Log where it is published.

Options:

``tenant``           Entra tenant id (or domain) - required
``environment``      default ``production``
``company_id``       the company's id (GUID) - required
``client_id`` / ``client_secret``
                     an Entra app registered in Business Central (client credentials); or
``token``            a pre-issued access token (never renewed)
``url``              default ``https://api.businesscentral.dynamics.com``
``api_path``         default ``api/v2.0``; ``api/<publisher>/<group>/<version>`` for custom API pages
``token_url``        default ``https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token``
``scope``            default ``https://api.businesscentral.dynamics.com/.default``
``change_log_endpoint``
                     where Change Log Entry records (table 405) are published, relative to
                     ``<url>/v2.0/<tenant>/<environment>/``; ``{company_id}`` is filled in. Either
                     a custom API page (``api/contoso/audit/v1.0/companies({company_id})/changeLogEntries``,
                     fields ``entryNo, dateAndTime, userId, tableNo, fieldNo, fieldCaption,
                     typeOfChange, oldValue, newValue, primaryKeyField1Value, changedRecordSystemId``)
                     or page 595 published as a web service
                     (``ODataV4/Company('CRONUS')/ChangeLogEntries``, fields ``Entry_No,
                     Date_and_Time, User_ID, Table_No, Field_No, Field_Caption, Old_Value,
                     New_Value, Primary_Key_Field_1_Value``)
``change_log_fields``
                     Change Log field number or caption -> mapping path, beyond the built-in
                     ones (items: 3 Description -> displayName, 18 Unit Price -> unitPrice, 22 Unit
                     Cost -> unitCost...; customers: 2 Name -> displayName, 9 Phone No. ->
                     phoneNumber, 102 E-Mail -> email...); otherwise a caption matches the mapping
                     path written in camelCase (``Unit Price`` -> ``unitPrice``)
``page_size``        ``Prefer: odata.maxpagesize`` (server default otherwise)

``resource`` is the entity set (``items``, ``customers``, ``vendors``...); mapping paths are its
top-level properties (``number``, ``displayName``, ``unitPrice``, ``inventory``). Pages follow
the absolute ``@odata.nextLink``. With ``keys``, an OData ``$filter`` on the key properties (``'``
doubled). :meth:`BusinessCentralConnector.read_updated` filters on ``lastModifiedDateTime``.

Changes: the API itself keeps no per-field history (``lastModifiedDateTime`` says that a record
changed, not which field nor who), so without ``change_log_endpoint`` the change log is empty
(the engine compares values only; ``lag`` counts from first sight). With it, the Change Log
entries of the resource's table (``items`` 27, ``customers`` 18, ``vendors`` 23; entity option
``table_no`` for others) from ``since`` (default: the last 7 days) become ``Change`` entries
keyed by ``Primary Key Field 1 Value`` (the record's No.; when the mapping's key is another
property, such as a customer's ``email``, the records are looked up by No. to find their keys;
a custom API page exposing ``changedRecordSystemId`` serves key ``id`` directly). Change Log
must be enabled for those tables and fields in *Change Log Setup*.

Actor (``Change.changed_by``): the Change Log ``User ID`` as Business Central records it: the
user name (``ADMIN``, ``CONTOSO\\JANE``) or, for an app, the name of its application user
(``BC-SYNC APP``, as listed on the Users page). Name these in ``writers``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import datetime
from typing import Any, cast

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
from connectors.http import HttpClient, HttpOptions, NextUrlPaginator
from connectors.oauth import BearerClient, Token, TokenManager, request_token
from connectors.records import filter_keys, frame_from_records, render_value
from connectors.vendor import (
    chunks,
    get_listing,
    parse_timestamp,
    require_identifier,
    utc_stamp,
    window_start,
)
from detector.errors import SourceFatalError

__all__ = ["BusinessCentralConnector", "BusinessCentralOptions", "odata_quote"]

_log = structlog.get_logger(__name__)

_TABLES = {"items": 27, "customers": 18, "vendors": 23}
_FIELDS: dict[int, dict[str, str]] = {
    27: {
        "1": "number", "No.": "number",
        "3": "displayName", "Description": "displayName",
        "8": "baseUnitOfMeasureCode", "Base Unit of Measure": "baseUnitOfMeasureCode",
        "18": "unitPrice", "Unit Price": "unitPrice",
        "22": "unitCost", "Unit Cost": "unitCost",
        "54": "blocked", "Blocked": "blocked",
    },
    18: {
        "1": "number", "No.": "number",
        "2": "displayName", "Name": "displayName",
        "5": "addressLine1", "Address": "addressLine1",
        "7": "city", "City": "city",
        "9": "phoneNumber", "Phone No.": "phoneNumber",
        "35": "country", "Country/Region Code": "country",
        "91": "postalCode", "Post Code": "postalCode",
        "102": "email", "E-Mail": "email",
    },
}  # fmt: skip
_KEYS_PER_FILTER = 20
_API_NAMES = {
    "date": "dateAndTime",
    "user": "userId",
    "table": "tableNo",
    "field_no": "fieldNo",
    "caption": "fieldCaption",
    "old": "oldValue",
    "new": "newValue",
    "pk1": "primaryKeyField1Value",
    "system_id": "changedRecordSystemId",
}
_WS_NAMES = {
    "date": "Date_and_Time",
    "user": "User_ID",
    "table": "Table_No",
    "field_no": "Field_No",
    "caption": "Field_Caption",
    "old": "Old_Value",
    "new": "New_Value",
    "pk1": "Primary_Key_Field_1_Value",
    "system_id": "Changed_Record_SystemId",
}


class BusinessCentralOptions(HttpOptions):
    """Options of the ``businesscentral`` connector."""

    url: str = "https://api.businesscentral.dynamics.com"
    tenant: str
    environment: str = "production"
    company_id: str
    api_path: str = "api/v2.0"
    token_url: str | None = None
    scope: str = "https://api.businesscentral.dynamics.com/.default"
    change_log_endpoint: str | None = None
    change_log_fields: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> BusinessCentralOptions:
        for name in ("tenant", "environment", "company_id"):
            if not re.fullmatch(r"[A-Za-z0-9._-]+", getattr(self, name)):
                raise ValueError(f"{name} must be a plain name or id")
        if not re.fullmatch(r"[A-Za-z0-9._/-]+", self.api_path.strip("/")):
            raise ValueError("api_path must look like api/v2.0")
        if self.token is None and not (self.client_id and self.client_secret):
            raise ValueError("businesscentral needs `client_id` and `client_secret`, or a `token`")
        return self


def odata_quote(value: str) -> str:
    """``value`` as an OData string literal (``'`` doubled)."""
    return "'" + value.replace("'", "''") + "'"


def _camel(caption: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", caption)
    return "".join(
        w.lower() if i == 0 else w[:1].upper() + w[1:].lower() for i, w in enumerate(words)
    )


class BusinessCentralConnector(Connector):
    """Reads Business Central entities, and its Change Log when published; see the docstring."""

    name = "businesscentral"
    Options = BusinessCentralOptions
    supports_changes = True
    """True for the class; an instance without ``change_log_endpoint`` yields no changes."""
    supports_keys = True

    def __init__(self, system: str, options: ConnectorOptions, context: ConnectorContext) -> None:
        super().__init__(system, options, context)  # checks the options type
        self._options = cast("BusinessCentralOptions", options)
        self._auth_client: HttpClient | None = None
        self._client: BearerClient | None = None

    # --- auth and client ------------------------------------------------------------------

    def _fetch_token(self, previous: Token | None) -> Token:
        options = self._options
        assert options.client_id is not None
        assert options.client_secret is not None
        url = options.token_url or (
            f"https://login.microsoftonline.com/{options.tenant}/oauth2/v2.0/token"
        )
        if self._auth_client is None:
            self._auth_client = HttpClient(options, self.context, system=self.system, base_url=url)
        secret = options.client_secret.get_secret_value()
        return request_token(
            self._auth_client,
            url,
            form={
                "grant_type": "client_credentials",
                "client_id": options.client_id,
                "client_secret": secret,
                "scope": options.scope,
            },
            secrets=(secret,),
            grant="client_credentials",
        )

    @property
    def client(self) -> BearerClient:
        if self._client is None:
            options = self._options
            tokens = TokenManager.configured(options.token, self._fetch_token, system=self.system)
            headers = (
                {"Prefer": f"odata.maxpagesize={options.page_size}"} if options.page_size else {}
            )
            self._client = BearerClient(
                options,
                self.context,
                system=self.system,
                tokens=tokens,
                base_url=f"{options.url}/v2.0/{options.tenant}/{options.environment}",
                headers=headers,
            )
        return self._client

    def close(self) -> None:
        for client in (self._client, self._auth_client):
            if client is not None:
                client.close()
        self._client = self._auth_client = None

    # --- listing ----------------------------------------------------------------------------

    def _list(self, path: str, params: Mapping[str, str]) -> tuple[list[Any], bool]:
        paginator = NextUrlPaginator(
            records_path="value",
            next_path="@odata.nextLink",
            max_pages=self._options.max_pages,
            system=self.system,
        )
        return get_listing(self.client, path, params, paginator)

    def _entity_path(self, spec: ResourceSpec) -> str:
        resource = require_identifier(spec, spec.resource, "`resource` (an entity set)", self.name)
        options = self._options
        return f"{options.api_path.strip('/')}/companies({options.company_id})/{resource}"

    @staticmethod
    def _key_filters(spec: ResourceSpec, keys: Collection[KeyTuple]) -> Iterator[str]:
        paths = spec.key_paths
        for group in chunks(sorted(set(keys)), _KEYS_PER_FILTER):
            yield " or ".join(
                "("
                + " and ".join(f"{p} eq {odata_quote(v)}" for p, v in zip(paths, key, strict=True))
                + ")"
                for key in group
            )

    # --- records ----------------------------------------------------------------------------

    def read(self, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None) -> SourceFrame:
        return self._read(spec, keys=keys)

    def read_updated(self, spec: ResourceSpec, since: datetime | None) -> SourceFrame:
        """Records with ``lastModifiedDateTime`` after ``since`` (last 7 days when None)."""
        return self._read(
            spec, condition=f"lastModifiedDateTime gt {utc_stamp(window_start(since))}"
        )

    def _read(
        self,
        spec: ResourceSpec,
        *,
        keys: Collection[KeyTuple] | None = None,
        condition: str | None = None,
    ) -> SourceFrame:
        path = self._entity_path(spec)
        for key_path in spec.key_paths:
            require_identifier(spec, key_path, "key paths (entity properties)", self.name)
        if keys is not None and not keys:
            return frame_from_records([], spec)
        filters = list(self._key_filters(spec, keys)) if keys is not None else [None]
        records: list[Any] = []
        complete = True
        for key_filter in filters:
            params: dict[str, str] = {}
            where = " and ".join(f"({c})" for c in (condition, key_filter) if c)
            if where:
                params["$filter"] = where
            batch, done = self._list(path, params)
            records.extend(batch)
            complete = complete and done
        return filter_keys(frame_from_records(records, spec, complete=complete), spec, keys)

    # --- changes ---------------------------------------------------------------------------

    def read_changes(self, spec: ResourceSpec, since: datetime | None) -> Iterator[Change]:
        options = self._options
        if options.change_log_endpoint is None:
            _log.debug("businesscentral_no_change_log", system=self.system, entity=spec.entity)
            return
        resource = require_identifier(spec, spec.resource, "`resource` (an entity set)", self.name)
        table = spec.options.get("table_no", _TABLES.get(resource))
        if table is None:
            _log.info("businesscentral_unknown_table", system=self.system, resource=resource)
            return
        try:
            table_no = int(table)
        except (TypeError, ValueError):
            raise SourceFatalError(
                f"businesscentral entity option table_no must be an integer, got {table!r}",
                system=self.system,
                entity=spec.entity,
            ) from None
        endpoint = options.change_log_endpoint.replace("{company_id}", options.company_id).lstrip(
            "/"
        )
        names = _WS_NAMES if "odatav4/" in endpoint.lower() else _API_NAMES
        start = window_start(since)
        params = {
            "$filter": f"{names['table']} eq {table_no} and {names['date']} ge {utc_stamp(start)}"
        }
        resolve = self._field_resolver(spec, table_no)
        by_id = spec.key_paths == ("id",)
        key_source = names["system_id"] if by_id else names["pk1"]
        relevant: list[tuple[Mapping[str, Any], str, datetime]] = []
        for entry in self._list(endpoint, params)[0]:
            if not isinstance(entry, Mapping):
                continue
            path = resolve(entry.get(names["field_no"]), entry.get(names["caption"]))
            changed_at = parse_timestamp(entry.get(names["date"]))
            if path is not None and changed_at is not None and changed_at >= start:
                relevant.append((entry, path, changed_at))
        numbers = {render_value(e.get(key_source)) or "" for e, _, _ in relevant} - {""}
        keys = self._keys_by_number(spec, numbers, by_id)
        for entry, path, changed_at in relevant:
            key = keys.get(render_value(entry.get(key_source)) or "")
            if key is None:
                continue
            yield Change(
                key=key,
                field=path,
                changed_at=changed_at,
                changed_by=render_value(entry.get(names["user"])),
                old_value=render_value(entry.get(names["old"])),
                new_value=render_value(entry.get(names["new"])),
            )

    def _keys_by_number(
        self, spec: ResourceSpec, numbers: set[str], by_id: bool
    ) -> dict[str, KeyTuple]:
        """Change Log primary key (No.) -> the mapping's key; looked up when the key is not No."""
        if by_id or spec.key_paths == ("number",):
            return {n: (n,) for n in numbers}
        found: dict[str, KeyTuple] = {}
        path = self._entity_path(spec)
        for group in chunks(sorted(numbers), _KEYS_PER_FILTER):
            where = " or ".join(f"number eq {odata_quote(n)}" for n in group)
            for record in self._list(path, {"$filter": where})[0]:
                if not isinstance(record, Mapping):
                    continue
                key = tuple(render_value(record.get(p)) or "" for p in spec.key_paths)
                if all(key):
                    found[str(record.get("number"))] = key
        return found

    def _field_resolver(
        self, spec: ResourceSpec, table_no: int
    ) -> Callable[[Any, Any], str | None]:
        by_path = {f.path.lower(): f.path for f in spec.fields}
        known = {**_FIELDS.get(table_no, {}), **self._options.change_log_fields}

        def resolve(number: Any, caption: Any) -> str | None:
            for ref in (render_value(number), render_value(caption)):
                if ref is not None and ref in known:
                    return by_path.get(known[ref].lower())
            if caption:
                return by_path.get(_camel(str(caption)).lower())
            return None

        return resolve
