"""Odoo: external JSON-RPC (``/jsonrpc``, ``execute_kw`` + ``search_read``), read-only.

``resource`` is the model name (``product.product``, ``product.template``, ``stock.quant``,
``res.partner``, or any other model the API user may read). Options: ``url``, ``database``,
``username`` (the login), ``password`` (password or API key), ``page_size`` (default 500),
``context`` (e.g. ``{lang: en_US}``). Per entity: ``options.domain`` (an Odoo domain such as
``[["active", "=", true]]``) and ``options.change_fields``.

Values, decided once for every model:

* a many2one arrives as ``[id, "Display Name"]``: the bare path (``categ_id``) is the display name;
  ``categ_id.id`` is the id and ``categ_id.<field>`` reads that field of the related record (one
  level, e.g. ``product_id.default_code`` on ``stock.quant`` for the SKU). Use ids or codes for
  keys, names for display fields;
* Odoo's ``false`` for an empty non-boolean field is empty (None), not the text ``false``;
* ``write_date`` and other datetimes are naive UTC strings and are read as UTC.

Changes: ``write_date >= since`` on the model, with ``write_uid`` as the writer (its name, or
``uid:ID``). Odoo keeps the last writer only and no field, so each change names the field ``*``
unless ``options.change_fields`` lists the paths a record change stands for. For
``product.product`` the template and the stock quants are polled too, because a name or list
price edit only touches ``product.template`` and a stock move only ``stock.quant``: their changes
are reported on every variant of the template / the quant's product. ``mail.tracking.value``
history is not read (see the README's known gaps).

Errors come back inside HTTP 200 (``{"error": ...}``) and fail the read; a failed login
(``common.login`` answering ``false``) is ``SourceFatalError("authentication failed")``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests
import structlog
from pydantic import Field, SecretStr

from connectors.base import Change, KeyTuple, ResourceSpec, SourceFrame
from connectors.http.client import JsonResponse
from connectors.http.connector import HttpConnector, parse_timestamp
from connectors.http.pagination import OffsetPaginator
from connectors.http.settings import HttpOptions
from connectors.http.validate import check_jsonrpc
from connectors.records import filter_keys, frame_from_records, render_value
from detector.errors import SourceFatalError

__all__ = ["RECORD_CHANGE", "OdooConnector", "OdooOptions"]

RECORD_CHANGE = "*"
_log = structlog.get_logger(__name__)
_MODEL = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
_FIELD = re.compile(r"^[a-z_][a-z0-9_]*$")
_DISPLAY = ("name", "display_name")
_KEY_CHUNK = 500


class OdooOptions(HttpOptions):
    database: str
    username: str
    password: SecretStr
    """The user's password or, better, an API key (Preferences > Account Security)."""
    page_size: int | None = Field(default=500, gt=0, le=10_000)
    context: dict[str, Any] = Field(default_factory=dict)
    """Odoo context for every call (``lang``, ``tz``, ``allowed_company_ids``)."""
    poll_related: bool = True
    """For product.product changes, also poll product.template and stock.quant."""


def _odoo_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _writer(value: Any, uid: Any = None) -> str | None:
    """``write_uid`` as an actor: the user's name, else ``uid:ID``."""
    if isinstance(value, str) and value:
        return value
    if value in (None, False) and isinstance(uid, int) and not isinstance(uid, bool):
        return f"uid:{uid}"
    if isinstance(value, list) and value:
        name = value[1] if len(value) > 1 else None
        return str(name) if name else f"uid:{value[0]}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"uid:{value}"
    return None


class OdooConnector(HttpConnector):
    """Reads any Odoo model through ``search_read``."""

    name = "odoo"
    Options = OdooOptions
    supports_changes = True
    supports_keys = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._uid: int | None = None
        self._ids = itertools.count(1)

    @property
    def odoo_options(self) -> OdooOptions:
        assert isinstance(self.options, OdooOptions)
        return self.options

    # -- JSON-RPC --------------------------------------------------------------------------
    def _check(self, body: Any, response: requests.Response) -> Any:
        return check_jsonrpc(
            body,
            system=self.system,
            url=str(response.url).split("?")[0],
            secrets=self.client.secrets,
        )

    def _call(self, service: str, method: str, args: Sequence[Any]) -> JsonResponse:
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": list(args)},
            "id": next(self._ids),
        }
        return self.client.post_json("jsonrpc", json=payload, check=self._check)

    @property
    def uid(self) -> int:
        if self._uid is None:
            options = self.odoo_options
            uid = self._call(
                "common",
                "login",
                [options.database, options.username, options.password.get_secret_value()],
            ).data
            if not isinstance(uid, int) or isinstance(uid, bool) or uid <= 0:
                raise SourceFatalError(
                    "authentication failed (Odoo login refused)", system=self.system
                )
            self._uid = uid
        return self._uid

    def _execute(
        self, model: str, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> JsonResponse:
        options = self.odoo_options
        context = {**options.context, **kwargs.get("context", {})}
        return self._call(
            "object",
            "execute_kw",
            [
                options.database,
                self.uid,
                options.password.get_secret_value(),
                model,
                method,
                list(args),
                {**kwargs, "context": context},
            ],
        )

    def execute(
        self, model: str, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> Any:
        """``execute_kw`` of ``model.method(*args, **kwargs)``: the result."""
        return self._execute(model, method, args, kwargs).data

    def search_read(
        self, model: str, domain: list[Any], fields: Sequence[str]
    ) -> tuple[list[Any], bool]:
        """Every record of ``model`` matching ``domain`` (offset paging, ordered by id)."""
        limit = self.odoo_options.page_size or 500
        paginator = OffsetPaginator(
            limit=limit, max_pages=self.odoo_options.max_pages, system=self.system
        )

        def fetch(offset: int | None) -> JsonResponse:
            kwargs = {"fields": list(fields), "offset": offset or 0, "limit": limit}
            return self._execute(model, "search_read", [domain], {**kwargs, "order": "id asc"})

        records: list[Any] = []
        for page in paginator.pages(fetch):
            records.extend(page.records)
        return records, paginator.complete

    # -- reading ---------------------------------------------------------------------------
    def _model(self, spec: ResourceSpec) -> str:
        model = self.require_resource(spec)
        if not _MODEL.match(model):
            raise self.fatal(spec, f"{model!r} is not an Odoo model name")
        return model

    def _fields_meta(self, spec: ResourceSpec, model: str, roots: Iterable[str]) -> dict[str, Any]:
        wanted = sorted(set(roots))
        for name in wanted:
            if not _FIELD.match(name):
                raise self.fatal(spec, f"{name!r} is not an Odoo field name")
        meta = self.execute(model, "fields_get", [wanted], {"attributes": ["type", "relation"]})
        if not isinstance(meta, Mapping):
            raise self.invalid(spec, "fields_get did not return an object")
        unknown = [n for n in wanted if n not in meta]
        if unknown:
            raise self.fatal(spec, f"unknown field(s) {unknown} on Odoo model {model!r}")
        return dict(meta)

    def _records(
        self, spec: ResourceSpec, domain: list[Any], extra: Sequence[str] = ()
    ) -> tuple[list[Any], bool]:
        model = self._model(spec)
        paths = [*spec.paths, *extra]
        roots = {p.split(".", 1)[0] for p in paths}
        meta = self._fields_meta(spec, model, roots)
        raw, complete = self.search_read(model, domain, sorted(roots))
        related = self._related(spec, meta, raw, paths)
        return [self._flatten(r, meta, related) for r in raw], complete

    def _related(
        self, spec: ResourceSpec, meta: Mapping[str, Any], raw: list[Any], paths: Sequence[str]
    ) -> dict[str, dict[int, Mapping[str, Any]]]:
        """For ``m2o.field`` paths: the related records, by id, per many2one field."""
        wanted: dict[str, set[str]] = {}
        for path in paths:
            root, _, rest = path.partition(".")
            if rest and rest != "id" and rest not in _DISPLAY:
                info = meta.get(root) or {}
                if info.get("type") != "many2one" or not _FIELD.match(rest):
                    raise self.fatal(
                        spec, f"path {path!r}: only many2one fields can be followed, one level"
                    )
                wanted.setdefault(root, set()).add(rest)
        out: dict[str, dict[int, Mapping[str, Any]]] = {}
        for root, names in wanted.items():
            ids = sorted(
                {
                    r[root][0]
                    for r in raw
                    if isinstance(r, Mapping) and isinstance(r.get(root), list) and r[root]
                }
            )
            comodel = str(meta[root]["relation"])
            records: dict[int, Mapping[str, Any]] = {}
            for start in range(0, len(ids), _KEY_CHUNK):
                chunk = ids[start : start + _KEY_CHUNK]
                found = self.execute(comodel, "read", [chunk], {"fields": sorted(names)})
                for record in found or []:
                    if isinstance(record, Mapping) and "id" in record:
                        records[int(record["id"])] = record
            out[root] = records
        return out

    @staticmethod
    def _flatten(
        record: Any,
        meta: Mapping[str, Any],
        related: Mapping[str, Mapping[int, Mapping[str, Any]]],
    ) -> Any:
        if not isinstance(record, Mapping):
            return record
        out: dict[str, Any] = {}
        for name, raw in record.items():
            kind = (meta.get(name) or {}).get("type")
            value = None if raw is False and kind != "boolean" else raw
            if kind == "many2one":
                pair = value if isinstance(value, list) and len(value) == 2 else None
                out[name] = pair[1] if pair else value
                out[f"{name}.id"] = pair[0] if pair else None
                for alias in _DISPLAY:
                    out[f"{name}.{alias}"] = pair[1] if pair else None
                linked = related.get(name, {}).get(pair[0]) if pair else None
                for sub, sub_value in (linked or {}).items():
                    if sub != "id":
                        out[f"{name}.{sub}"] = None if sub_value is False else sub_value
            else:
                out[name] = value
        return out

    def _domain(self, spec: ResourceSpec) -> list[Any]:
        domain = spec.options.get("domain") or []
        if not isinstance(domain, list):
            raise self.fatal(spec, "options.domain must be a list (an Odoo domain)")
        return list(domain)

    def read(self, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None) -> SourceFrame:
        domain = self._domain(spec)
        key_path = spec.key_paths[0] if len(spec.key_paths) == 1 else None
        if keys is not None and key_path is not None and _FIELD.match(key_path):
            values = sorted({k[0] for k in keys})
            domain = [*domain, [key_path, "in", values]]
        records, complete = self._records(spec, domain)
        return filter_keys(frame_from_records(records, spec, complete=complete), spec, keys)

    # -- changes ---------------------------------------------------------------------------
    def read_changes(self, spec: ResourceSpec, since: datetime | None) -> Iterator[Change]:
        model = self._model(spec)
        start = self.since_or_default(since)
        stamp = _odoo_time(start)
        fields = [str(f) for f in spec.options.get("change_fields") or [RECORD_CHANGE]]
        changed = [["write_date", ">=", stamp]]
        records, _ = self._records(
            spec, [*self._domain(spec), *changed], extra=("id", "write_date", "write_uid")
        )
        events: list[tuple[Any, Any, Any]] = [
            (r, r.get("write_date"), _writer(r.get("write_uid"), r.get("write_uid.id")))
            for r in records
            if isinstance(r, Mapping)
        ]
        if model == "product.product" and self.odoo_options.poll_related:
            events.extend(self._related_changes(spec, changed))
        for record, at, by in events:
            key = self._key(spec, record)
            try:
                changed_at = parse_timestamp(at)
            except ValueError:
                changed_at = None
            if key is None or changed_at is None or changed_at < start:
                continue
            for name in fields:
                yield Change(key=key, field=name, changed_at=changed_at, changed_by=by)

    def _related_changes(
        self, spec: ResourceSpec, changed: list[Any]
    ) -> Iterator[tuple[Any, Any, Any]]:
        templates, _ = self.search_read(
            "product.template", changed, ["id", "write_date", "write_uid"]
        )
        quants, _ = self.search_read(
            "stock.quant", changed, ["product_id", "write_date", "write_uid"]
        )
        by_template = {t["id"]: t for t in templates if isinstance(t, Mapping)}
        by_product: dict[int, list[Mapping[str, Any]]] = {}
        for quant in quants:
            if isinstance(quant, Mapping) and isinstance(quant.get("product_id"), list):
                by_product.setdefault(int(quant["product_id"][0]), []).append(quant)
        domain: list[Any] = []
        if by_template:
            domain.append(["product_tmpl_id", "in", sorted(by_template)])
        if by_product:
            domain.append(["id", "in", sorted(by_product)])
        if not domain:
            return
        if len(domain) == 2:
            domain.insert(0, "|")
        variants, _ = self._records(
            spec, [*self._domain(spec), *domain], extra=("id", "product_tmpl_id")
        )
        for variant in variants:
            if not isinstance(variant, Mapping):
                continue
            template = by_template.get(variant.get("product_tmpl_id.id"))
            if template is not None:
                yield variant, template.get("write_date"), _writer(template.get("write_uid"))
            for quant in by_product.get(variant.get("id") or -1, []):
                yield variant, quant.get("write_date"), _writer(quant.get("write_uid"))

    @staticmethod
    def _key(spec: ResourceSpec, record: Mapping[str, Any]) -> KeyTuple | None:
        parts = [record.get(p) for p in spec.key_paths]
        if any(p is None or p == "" for p in parts):
            return None
        return tuple(render_value(p) or "" for p in parts)
