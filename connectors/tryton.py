"""Tryton over JSON-RPC: ``search_read`` snapshots and a change signal from ``write_date``.

Transport (confirmed on a real trytond 8.2): ``POST {url}/{database}/rpc/`` with
``{"id", "method", "params"}``; ``common.db.login`` returns ``[user_id, token, ...]`` and every
later call carries ``Authorization: Session base64("login:user_id:token")``. Every model call
needs a trailing context dict (HTTP 422 without one), and this connector always sends

* ``company``: without it every price reads null, without any error (option ``company``, else
  the logged-in user's company from ``model.res.user.get_preferences``);
* ``locations``: without them every ``quantity`` reads 0.0 (option ``locations``: stock.location
  ids or location codes, else every warehouse; a warehouse counts its storage zones).

``quantity`` is Tryton's own "today" figure (done moves up to the server's date), so no
``stock_date_end`` is sent by default: a client date one time zone behind the server would
silently drop today's moves. ``stock_date_end`` exists as an option for an as-of figure.

Mapping paths are Tryton field names, dotted through many2one relations (``template.name``):
``search_read`` accepts them and answers ``{"template.": {"name": ...}}``, flattened here.
Tryton's JSON types are decoded: ``Decimal`` keeps its digits (``"24.00"``), datetimes (naive
UTC on the server) become timezone-aware UTC, dates ISO dates. Inactive records are out of scope
(Tryton's search leaves them out). ``resource`` is the model name: ``product.product`` (variants;
``code`` is the SKU, ``list_price_used`` the effective sale price, ``quantity`` the stock),
``product.template``, ``party.party``... Reading by keys uses an ``in`` domain on a single key path.

Changes. Tryton keeps no per-field history on these models (only ``_history`` models do), just
``write_date``/``write_uid`` (null until a record is first written: then ``create_date``/
``create_uid``). ``read_changes`` therefore turns each record written or created at or after
``since`` into one ``Change`` per mapped field the write could have touched, named by its mapping
path and attributed to the user's login:

* ``product.product``: a variant write touches its non-stock fields; a template write touches the
  variant fields that live on or derive from the template (``template.*``, ``list_price_used``,
  ``name``...) but not the variant's own (``list_price``, ``cost_price``, ``suffix_code``,
  ``active``); a stock move (created or written, from or to the scoped locations) touches
  ``quantity``/``forecast_quantity`` of its product;
* ``product.template``: template writes touch its non-stock fields, stock moves its stock fields;
* any other model: a write touches every mapped field.

This over-reports within a record (a name edit also "touches" the price), which only matters for
``non_owner_write`` when one Tryton record holds fields owned by different systems: give each
integration its own Tryton user, as the vendor notes advise. The first read without a cursor
looks back seven days.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, ClassVar
from urllib.parse import quote

import requests
import structlog
from pydantic import Field, SecretStr, model_validator
from requests.auth import AuthBase

from connectors.base import (
    Change,
    ConnectorContext,
    ConnectorOptions,
    KeyTuple,
    ResourceSpec,
    SourceFrame,
)
from connectors.http import (
    HttpClient,
    HttpConnector,
    HttpOptions,
    JsonResponse,
    OffsetPaginator,
    build_retry,
    build_session,
    redact_url,
    scrub,
)
from connectors.http.retry import RETRY_STATUSES
from connectors.records import filter_keys, frame_from_records, render_value
from detector.errors import (
    InvalidPayloadError,
    RateLimitedError,
    SourceError,
    SourceFatalError,
    SourceRetriableError,
)

__all__ = ["TrytonConnector", "TrytonOptions"]

_log = structlog.get_logger(__name__)

DEFAULT_PAGE_SIZE = 500
KEYS_PER_QUERY = 500
STOCK_FIELDS = frozenset({"quantity", "forecast_quantity"})
"""Computed from stock moves: a stock change writes moves, never the product or template."""
VARIANT_ONLY_FIELDS = frozenset({"suffix_code", "list_price", "cost_price", "active"})
"""product.product fields a template write cannot change."""
STOCK_MODELS = frozenset({"product.product", "product.template"})
_RETRIABLE_ERRORS = frozenset({"ConcurrencyException", "TimeOutException"})
_QUOTED_NAME = re.compile(r"^'([\w.]+)'$")
_ACCESS_HINTS = ("not allowed", "access", "permission")


class TrytonOptions(HttpOptions):
    """Options of ``tryton``; ``url``, ``timeout``, ``page_size``... come from HttpOptions."""

    database: str = Field(min_length=1)
    """Database name on the Tryton server (part of the RPC path)."""
    username: str = Field(min_length=1)  # required here
    password: SecretStr  # required here
    company: int | None = Field(default=None, gt=0)
    """company.company id for the context; default: the user's company (get_preferences)."""
    locations: tuple[int | str, ...] | None = None
    """stock.location ids or location codes (``WH``) for quantities; default: every warehouse."""
    stock_date_end: date | None = None
    """As-of date for quantities; default: none sent, i.e. the server's today."""
    language: str = "en"
    """Language code sent at login (server messages)."""

    @model_validator(mode="after")
    def _no_foreign_credentials(self) -> TrytonOptions:
        unused = [
            name
            for name in ("token", "client_id", "client_secret", "api_version")
            if getattr(self, name) is not None
        ]
        if unused:
            raise ValueError(f"tryton logs in with username/password; remove {', '.join(unused)}")
        if self.locations is not None and not self.locations:
            raise ValueError("locations must name at least one stock location (or be left out)")
        return self


# --- Tryton JSON types ---------------------------------------------------------------------


def encode(value: Any) -> Any:
    """Python values -> Tryton's JSON (``Decimal``/``datetime``/``date`` as ``__class__`` dicts)."""
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # the server stores naive UTC
            value = value.astimezone(UTC).replace(tzinfo=None)
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    return value


def _datetime(value: Mapping[str, Any]) -> datetime:
    return datetime(
        int(value["year"]),
        int(value["month"]),
        int(value["day"]),
        int(value.get("hour", 0)),
        int(value.get("minute", 0)),
        int(value.get("second", 0)),
        int(value.get("microsecond", 0)),
        tzinfo=UTC,  # the server's datetimes are naive UTC
    )


def _time(value: Mapping[str, Any]) -> time:
    return time(
        int(value.get("hour", 0)),
        int(value.get("minute", 0)),
        int(value.get("second", 0)),
        int(value.get("microsecond", 0)),
    )


_DECODERS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "Decimal": lambda v: Decimal(str(v["decimal"])),
    "datetime": _datetime,
    "date": lambda v: date(int(v["year"]), int(v["month"]), int(v["day"])),
    "time": _time,
    "timedelta": lambda v: Decimal(str(v["seconds"])),  # seconds
    "bytes": lambda v: str(v["base64"]),
}


def decode(value: Any) -> Any:
    """Tryton's JSON -> Python: Decimal, timezone-aware UTC datetime, date, time; recursively."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("__class__")
    decoder = _DECODERS.get(kind) if isinstance(kind, str) else None
    if decoder is None:
        return {k: decode(v) for k, v in value.items()}
    try:
        return decoder(value)
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise ValueError(f"malformed Tryton {kind} value") from exc


def lookup(record: Mapping[str, Any], path: str) -> Any:
    """The value at a Tryton field path; dotted paths walk the ``"relation."`` sub-records."""
    if path in record:
        return record[path]
    head, _, rest = path.partition(".")
    if not rest:
        return None
    nested = record.get(head + ".")
    if isinstance(nested, Mapping):
        return lookup(nested, rest)
    if isinstance(nested, list):  # x2many: one value per related record
        return [lookup(item, rest) for item in nested if isinstance(item, Mapping)]
    return None


# --- the RPC client ------------------------------------------------------------------------


class _SessionExpiredError(Exception):
    """A model call answered 401: the session token expired; log in again once."""


class TrytonRpcClient(HttpClient):
    """JSON-RPC over the shared HTTP layer: login, model calls, Tryton's status codes."""

    def __init__(self, options: TrytonOptions, context: ConnectorContext, *, system: str) -> None:
        self._own_session: requests.Session | None = None
        if context.session is None:
            # Tryton throttles nothing but failed logins, and a locked login answers 429 for
            # minutes: retrying a 429 would only lengthen the lock. 5xx and timeouts still retry.
            retry = build_retry(
                max_retries=options.max_retries,
                backoff_factor=options.backoff_factor,
                retry_after_cap=options.retry_after_cap,
            ).new(status_forcelist=RETRY_STATUSES - {429})
            self._own_session = build_session(options, base_dir=context.base_dir, retry=retry)
            context = ConnectorContext(base_dir=context.base_dir, session=self._own_session)
        super().__init__(options, context, system=system)
        self.tryton = options
        self.path = f"{quote(options.database, safe='')}/rpc/"
        self.user_id: int | None = None
        self._token: str | None = None
        self._method = ""
        self._next_id = 0

    @property
    def endpoint(self) -> str:
        return redact_url(self.url_for(self.path))

    # -- status and payload checks ---------------------------------------------------------
    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        method = self._method
        context: dict[str, Any] = {"system": self.system, "url": self.endpoint, "status": status}
        if method == "common.db.login":
            user, db = self.tryton.username, self.tryton.database
            if status == 401:
                raise SourceFatalError(
                    f"Tryton login failed for user {user!r} on database {db!r}: wrong user name "
                    "or password (HTTP 401); after five failures Tryton locks the login",
                    **context,
                )
            if status == 429:
                raise RateLimitedError(
                    f"Tryton login locked for user {user!r}: too many failed logins (HTTP 429); "
                    "fix the password, then wait for the lock to expire",
                    **context,
                )
            if status == 403:
                raise SourceFatalError(
                    f"Tryton refused login for user {user!r} (HTTP 403)", **context
                )
        elif status == 401 and self._token is not None:
            raise _SessionExpiredError
        if status == 404:
            raise SourceFatalError(
                f"database {self.tryton.database!r} not found on the Tryton server (HTTP 404)",
                **context,
            )
        if status == 403:
            raise SourceFatalError(
                f"Tryton refused {method} (HTTP 403): not callable over RPC, or no access",
                **context,
            )
        try:
            super().validate_response(response)
        except RateLimitedError as exc:
            raise RateLimitedError(
                f"{method}: {exc.message}", retry_after=exc.retry_after, **context
            ) from None
        except SourceError as exc:
            raise type(exc)(f"{method}: {exc.message}", **context) from None

    def _check(self, method: str, request_id: int, data: Any, response: requests.Response) -> Any:
        context: dict[str, Any] = {"system": self.system, "url": self.endpoint}
        if not isinstance(data, Mapping):
            raise InvalidPayloadError(f"{method}: JSON-RPC response is not an object", **context)
        error = data.get("error")
        if error is not None:
            raise self._rpc_error(method, error, context)
        if "result" not in data:
            raise InvalidPayloadError(f"{method}: response has neither result nor error", **context)
        if data.get("id") not in (None, request_id):
            raise InvalidPayloadError(
                f"{method}: response id {data.get('id')!r} does not answer request {request_id}",
                **context,
            )
        try:
            return decode(data["result"])
        except ValueError as exc:
            raise InvalidPayloadError(f"{method}: {exc}", **context) from None

    def _rpc_error(self, method: str, error: Any, context: dict[str, Any]) -> SourceError:
        """Tryton answers errors as HTTP 200 with ``error``: [name, args] or [text, traceback]."""
        name = str(error[0]) if isinstance(error, list) and error else str(error)
        detail = ""
        if isinstance(error, list) and len(error) > 1:
            args = error[1]
            if isinstance(args, list) and args:
                detail = str(args[0])
            elif isinstance(args, str) and "Traceback" not in args:
                detail = args
        text = scrub(f"{name}: {detail}" if detail else name, self.secrets)
        if name in _RETRIABLE_ERRORS:
            return SourceRetriableError(f"Tryton {method} failed: {text}", **context)
        if quoted := _QUOTED_NAME.match(name):
            return InvalidPayloadError(
                f"Tryton rejected {method}: unknown model or field {quoted.group(1)!r}", **context
            )
        if name == "LoginException":
            return SourceFatalError(
                f"Tryton {method}: login needs more than a password: {text}", **context
            )
        if name == "UserError" and any(hint in detail.lower() for hint in _ACCESS_HINTS):
            return SourceFatalError(f"Tryton denied {method}: {text}", **context)
        return InvalidPayloadError(f"Tryton {method} answered an error: {text}", **context)

    # -- calls -----------------------------------------------------------------------------
    def _post(self, method: str, params: Sequence[Any]) -> JsonResponse:
        self._next_id += 1
        request_id = self._next_id
        self._method = method
        body = {"id": request_id, "method": method, "params": encode(list(params))}
        return self.post_json(self.path, json=body, check=partial(self._check, method, request_id))

    def login(self) -> None:
        password = self.tryton.password.get_secret_value()
        result = self._post(
            "common.db.login", [self.tryton.username, {"password": password}, self.tryton.language]
        ).data
        if not (isinstance(result, list) and len(result) >= 2 and isinstance(result[0], int)):
            raise InvalidPayloadError(
                "common.db.login: expected [user_id, session, ...]",
                system=self.system,
                url=self.endpoint,
            )
        self.user_id, self._token = result[0], str(result[1])
        raw = f"{self.tryton.username}:{self.user_id}:{self._token}".encode()
        header = "Session " + base64.b64encode(raw).decode("ascii")
        self.auth = _SessionAuth(header)
        self.secrets = (*self.secrets, self._token, header.split(" ", 1)[1])

    def call(self, method: str, *params: Any) -> JsonResponse:
        """One RPC call (logging in first, and again once if the session expired)."""
        if self._token is None:
            self.login()
        try:
            return self._post(method, params)
        except _SessionExpiredError:
            _log.info("tryton_session_expired", system=self.system)
            self._token = None
            self.login()
        try:
            return self._post(method, params)
        except _SessionExpiredError:
            raise SourceFatalError(
                f"Tryton refused {method} (HTTP 401) right after a successful login",
                system=self.system,
                url=self.endpoint,
                status=401,
            ) from None

    def logout(self) -> None:
        if self._token is None:
            return
        try:
            self._post("common.db.logout", [])
        except (SourceError, _SessionExpiredError):
            pass  # the session expires on its own
        finally:
            self._token = None

    def close(self) -> None:
        self.logout()
        super().close()
        if self._own_session is not None:
            self._own_session.close()
            self._own_session = None


class _SessionAuth(AuthBase):
    """``Authorization: Session ...`` added at send time (never in session headers or reprs)."""

    def __init__(self, header: str) -> None:
        self._header = header

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return "SessionAuth(***)"


# --- the connector -------------------------------------------------------------------------


class TrytonConnector(HttpConnector):
    """Reads Tryton models over JSON-RPC; see the module docstring."""

    name: ClassVar[str] = "tryton"
    Options: ClassVar[type[ConnectorOptions]] = TrytonOptions
    supports_changes: ClassVar[bool] = True
    supports_keys: ClassVar[bool] = True

    def __init__(self, system: str, options: ConnectorOptions, context: ConnectorContext) -> None:
        if not isinstance(options, TrytonOptions):
            options = TrytonOptions.model_validate(options.model_dump())
        super().__init__(system, options, context)
        self.tryton: TrytonOptions = options
        self._context: dict[str, Any] | None = None

    # -- plumbing --------------------------------------------------------------------------
    def make_client(self) -> TrytonRpcClient:
        return TrytonRpcClient(self.tryton, self.context, system=self.system)

    @property
    def rpc(self) -> TrytonRpcClient:
        client = self.client
        if not isinstance(client, TrytonRpcClient):  # only a subclass overriding make_client
            raise TypeError("TrytonConnector.make_client must return a TrytonRpcClient")
        return client

    def close(self) -> None:
        super().close()  # logs out, closes the session it built
        self._context = None

    @property
    def page_size(self) -> int:
        return self.tryton.page_size or DEFAULT_PAGE_SIZE

    def model_call(
        self, model: str, method: str, *args: Any, context: Mapping[str, Any] | None = None
    ) -> Any:
        """``model.<model>.<method>(*args, context)`` with the connector's context."""
        merged = {**self.rpc_context(), **(context or {})}
        return self.rpc.call(f"model.{model}.{method}", *args, merged).data

    def rpc_context(self) -> dict[str, Any]:
        """The context every model call carries: company and locations (resolved once)."""
        if self._context is None:
            self._context = {}  # the resolving calls below run with an empty context
            resolved: dict[str, Any] = {}
            company = self._resolve_company()
            if company is not None:
                resolved["company"] = company
            locations = self._resolve_locations()
            if locations:
                resolved["locations"] = locations
            if self.tryton.stock_date_end is not None:
                resolved["stock_date_end"] = self.tryton.stock_date_end
            self._context = resolved
            _log.debug("tryton_context", system=self.system, company=company, locations=locations)
        return self._context

    def _resolve_company(self) -> int | None:
        if self.tryton.company is not None:
            return self.tryton.company
        preferences = self.rpc.call("model.res.user.get_preferences", False, {}).data
        company = preferences.get("company") if isinstance(preferences, Mapping) else None
        if isinstance(company, int):
            return company
        _log.warning(
            "tryton_no_company",
            system=self.system,
            hint="the user has no company: prices read empty; set the company option",
        )
        return None

    def _resolve_locations(self) -> list[int]:
        wanted = self.tryton.locations
        if wanted is None:
            try:
                rows = self._search_read_all(
                    "stock.location", [["type", "=", "warehouse"]], ["code"], context={}
                )
            except InvalidPayloadError as exc:
                if "unknown model or field 'stock.location'" not in str(exc):
                    raise
                return []  # no stock module: nothing reads quantities
            return [int(row["id"]) for row in rows]
        ids = [item for item in wanted if isinstance(item, int)]
        codes = [item for item in wanted if isinstance(item, str)]
        if codes:
            rows = self._search_read_all(
                "stock.location", [["code", "in", codes]], ["code"], context={}
            )
            found: dict[str, list[int]] = {}
            for row in rows:
                found.setdefault(str(row.get("code")), []).append(int(row["id"]))
            missing = [code for code in codes if code not in found]
            ambiguous = [code for code in codes if len(found.get(code, [])) > 1]
            if missing or ambiguous:
                problems = [
                    *(f"{code!r} not found" for code in missing),
                    *(f"{code!r} names several locations" for code in ambiguous),
                ]
                raise SourceFatalError(
                    f"Tryton stock locations: {'; '.join(problems)}",
                    system=self.system,
                    url=self.rpc.endpoint,
                )
            ids.extend(found[code][0] for code in codes)
        return list(dict.fromkeys(ids))

    def _search_read_all(
        self,
        model: str,
        domain: list[Any],
        fields: Sequence[str],
        *,
        context: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        return [
            row
            for page in self._search_read_pages(model, domain, fields, context=context)
            for row in page
        ]

    def _search_read_pages(
        self,
        model: str,
        domain: list[Any],
        fields: Sequence[str],
        *,
        context: Mapping[str, Any] | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """``search_read`` page by page (offset/limit, ordered by id)."""
        call_context = {**(self.rpc_context() if context is None else {}), **(context or {})}
        method = f"model.{model}.search_read"
        field_list = list(dict.fromkeys(fields))
        paginator = OffsetPaginator(
            limit=self.page_size, max_pages=self.tryton.max_pages, system=self.system
        )

        def fetch(offset: int | None) -> JsonResponse:
            return self.rpc.call(
                method,
                domain,
                offset or 0,
                self.page_size,
                [["id", "ASC"]],
                field_list,
                call_context,
            )

        for page in paginator.pages(fetch):
            rows = list(page.records)
            for row in rows:
                if not isinstance(row, dict) or not isinstance(row.get("id"), int):
                    raise InvalidPayloadError(
                        f"{method}: expected records with an id, got {type(row).__name__}",
                        system=self.system,
                        url=self.rpc.endpoint,
                    )
            yield rows

    # -- snapshots -------------------------------------------------------------------------
    def read(self, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None) -> SourceFrame:
        model = self.require_resource(spec)
        paths = spec.paths
        records: list[dict[str, Any]] = []
        if keys is None:
            domains: list[list[Any]] = [[]]
        elif not keys:
            domains = []
        elif len(spec.key_paths) == 1:
            key_path = spec.key_paths[0]
            values = sorted({key[0] for key in keys})
            domains = [
                [
                    [
                        key_path,
                        "in",
                        [_key_value(key_path, v) for v in values[i : i + KEYS_PER_QUERY]],
                    ]
                ]
                for i in range(0, len(values), KEYS_PER_QUERY)
            ]
        else:  # composite keys: each part alone would over-select; filter after reading
            domains = [[]]
        for domain in domains:
            for page in self._search_read_pages(model, domain, paths):
                records.extend({path: lookup(row, path) for path in paths} for row in page)
        frame = frame_from_records(records, spec)
        if keys is not None and len(spec.key_paths) > 1:
            frame = filter_keys(frame, spec, keys)
        _log.info("tryton_read", system=self.system, model=model, records=frame.height)
        return frame

    # -- changes ---------------------------------------------------------------------------
    def read_changes(self, spec: ResourceSpec, since: datetime | None) -> Iterator[Change]:
        model = self.require_resource(spec)
        since = self.since_or_default(since)
        key_paths = spec.key_paths
        mapped = [f.path for f in spec.fields if f.path not in key_paths]
        stock = [p for p in mapped if p in STOCK_FIELDS] if model in STOCK_MODELS else []
        record_fields = [p for p in mapped if p not in stock]

        raw: list[tuple[KeyTuple, str, datetime, int | None]] = []
        if model == "product.product":
            variant_fields = [p for p in record_fields if not p.startswith("template.")]
            template_fields = [p for p in record_fields if p not in VARIANT_ONLY_FIELDS]
            raw += self._record_changes(model, key_paths, variant_fields, since, via="")
            raw += self._record_changes(model, key_paths, template_fields, since, via="template.")
        else:
            raw += self._record_changes(model, key_paths, record_fields, since, via="")
        if stock:
            raw += self._stock_changes(model, key_paths, stock, since)

        users = self._user_logins({uid for *_, uid in raw if uid is not None})
        entries = sorted(raw, key=lambda item: (item[2], item[0], item[1]))
        for key, path, changed_at, uid in entries:
            yield Change(
                key=key,
                field=path,
                changed_at=changed_at,
                changed_by=users.get(uid) if uid is not None else None,
            )

    def _record_changes(
        self,
        model: str,
        key_paths: Sequence[str],
        fields: Sequence[str],
        since: datetime,
        *,
        via: str,
    ) -> list[tuple[KeyTuple, str, datetime, int | None]]:
        """Records of ``model`` whose own row (or ``via`` relation's row) was written since."""
        if not fields:
            return []
        stamps = [
            f"{via}{name}" for name in ("write_date", "create_date", "write_uid", "create_uid")
        ]
        domain = ["OR", [stamps[0], ">=", since], [stamps[1], ">=", since]]
        out: list[tuple[KeyTuple, str, datetime, int | None]] = []
        for page in self._search_read_pages(model, domain, [*key_paths, *stamps]):
            for row in page:
                key = _key_of(row, key_paths)
                stamp = _stamp(row, *stamps)
                if key is None or stamp is None:
                    continue
                out.extend((key, path, stamp[0], stamp[1]) for path in fields)
        return out

    def _stock_changes(
        self, model: str, key_paths: Sequence[str], fields: Sequence[str], since: datetime
    ) -> list[tuple[KeyTuple, str, datetime, int | None]]:
        """Stock moves created or written since, from or to the scoped locations."""
        link = "product" if model == "product.product" else "product.template"
        domain: list[Any] = [["OR", ["write_date", ">=", since], ["create_date", ">=", since]]]
        locations = self.rpc_context().get("locations")
        if locations:
            domain.append(
                [
                    "OR",
                    ["from_location", "child_of", locations, "parent"],
                    ["to_location", "child_of", locations, "parent"],
                ]
            )
        stamps = ("write_date", "create_date", "write_uid", "create_uid")
        moves: list[tuple[int, datetime, int | None]] = []
        for page in self._search_read_pages("stock.move", domain, [link, *stamps]):
            for row in page:
                target = lookup(row, link)
                stamp = _stamp(row, *stamps)
                if isinstance(target, int) and stamp is not None:
                    moves.append((target, stamp[0], stamp[1]))
        if not moves:
            return []
        keys: dict[int, KeyTuple] = {}
        ids = sorted({target for target, *_ in moves})
        for i in range(0, len(ids), KEYS_PER_QUERY):
            chunk = ids[i : i + KEYS_PER_QUERY]
            for page in self._search_read_pages(model, [["id", "in", chunk]], key_paths):
                for row in page:
                    key = _key_of(row, key_paths)
                    if key is not None:
                        keys[int(row["id"])] = key
        return [
            (keys[target], path, at, uid)
            for target, at, uid in moves
            if target in keys  # moves of inactive or out-of-scope records
            for path in fields
        ]

    def _user_logins(self, ids: Collection[int]) -> dict[int, str]:
        """res.user id -> login (the actor name ``writers`` maps), inactive users included."""
        if not ids:
            return {}
        try:
            rows = self.model_call(
                "res.user", "read", sorted(ids), ["login", "name"], context={"active_test": False}
            )
        except SourceError as exc:
            _log.warning("tryton_users_unreadable", system=self.system, error=str(exc))
            return {uid: f"res.user:{uid}" for uid in ids}
        found = {
            int(row["id"]): str(row.get("login") or row.get("name") or f"res.user:{row['id']}")
            for row in rows
            if isinstance(row, Mapping) and isinstance(row.get("id"), int)
        }
        return {uid: found.get(uid, f"res.user:{uid}") for uid in ids}


def _key_value(path: str, value: str) -> Any:
    """Key text as the domain needs it: integer ids for ``id`` and many2one paths."""
    if (path == "id" or path.endswith(".id")) and value.isdigit():
        return int(value)
    return value


def _key_of(row: Mapping[str, Any], key_paths: Sequence[str]) -> KeyTuple | None:
    parts = [render_value(lookup(row, path)) for path in key_paths]
    if any(part in (None, "") for part in parts):
        return None
    return tuple(str(part) for part in parts)


def _stamp(
    row: Mapping[str, Any], write_date: str, create_date: str, write_uid: str, create_uid: str
) -> tuple[datetime, int | None] | None:
    """(changed_at, user id): write_* when the record was ever written, else create_*."""
    written = lookup(row, write_date)
    if isinstance(written, datetime):
        uid = lookup(row, write_uid)
        return written, uid if isinstance(uid, int) else None
    created = lookup(row, create_date)
    if isinstance(created, datetime):
        uid = lookup(row, create_uid)
        return created, uid if isinstance(uid, int) else None
    return None
