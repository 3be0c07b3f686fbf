"""Contract case for the tryton connector, and ``FakeTryton``: a responses-served JSON-RPC server.

``FakeTryton`` answers ``POST {URL}/{DB}/rpc/`` the way trytond 8.2 does (shapes confirmed on a
real server): login returns ``[user_id, token, null]``; wrong passwords answer 401 and the sixth
failure 429; model calls without the ``Authorization: Session ...`` header answer 401, without a
trailing context dict 422; prices are null unless the context names the company and quantities
0.0 unless it names locations; dotted fields come back as ``{"template.": {...}}``; Decimals and
datetimes as ``__class__`` dicts; an unknown field or model is HTTP 200 with an ``error``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import responses

from connectors.base import ConnectorContext, FieldSpec, ResourceSpec
from connectors.tryton import TrytonConnector, TrytonOptions
from tests.connectors.contract import ContractCase

URL = "https://erp.example.com"
DB = "shop"
ENDPOINT = f"{URL}/{DB}/rpc/"
LOGIN = "fieldwarden"
PASSWORD = "tryton-CANARY-pw-0123456789"
TOKEN = "5e55104c4e7a11d0c0ffee"
COMPANY = 1
WAREHOUSE = 5


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def wire(value: Any) -> Any:
    """Python -> Tryton JSON (independent of the connector's own encoder)."""
    if isinstance(value, dict):
        return {k: wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wire(v) for v in value]
    if isinstance(value, datetime):
        naive = value.astimezone(UTC)
        return {
            "__class__": "datetime",
            **{
                k: getattr(naive, k)
                for k in ("year", "month", "day", "hour", "minute", "second", "microsecond")
            },
        }
    return value


def unwire(value: Any) -> Any:
    if isinstance(value, list):
        return [unwire(v) for v in value]
    if isinstance(value, dict):
        if value.get("__class__") == "datetime":
            parts = {k: value[k] for k in ("year", "month", "day", "hour", "minute", "second")}
            return datetime(**parts, microsecond=value.get("microsecond", 0), tzinfo=UTC)
        return {k: unwire(v) for k, v in value.items()}
    return value


def price(text: str) -> dict[str, str]:
    return {"__class__": "Decimal", "decimal": text}


TEMPLATES: dict[int, dict[str, Any]] = {
    10: {
        "id": 10,
        "name": "Blue Mug",
        "write_date": dt("2024-05-02T09:14:00"),
        "create_date": dt("2024-01-01T08:00:00"),
        "write_uid": 2,
        "create_uid": 1,
    },
    11: {
        "id": 11,
        "name": "Red Teapot",
        "write_date": None,
        "create_date": dt("2024-01-01T08:00:00"),
        "write_uid": None,
        "create_uid": 1,
    },
}


def _product(
    pid: int, code: str, template: int, list_price: str, qty: float, **extra: Any
) -> dict[str, Any]:
    return {
        "id": pid,
        "code": code,
        "template": template,
        "list_price_used": price(list_price),
        "quantity": qty,
        "write_date": None,
        "create_date": dt("2024-01-01T08:00:00"),
        "write_uid": None,
        "create_uid": 1,
        **extra,
    }


PRODUCTS: list[dict[str, Any]] = [
    _product(1, "MUG-BLU", 10, "12.50", 7.0),
    _product(2, "MUG-BLU-XL", 10, "14.00", 0.0, write_date=dt("2024-05-03T10:00:00"), write_uid=3),
    _product(3, "TEA-RED", 11, "34.00", 3.0),
    _product(4, "", 11, "1.00", 1.0),  # no code: a problem, not a row
    _product(5, "TEA-RED-S", 11, "29.90", 12.0),
]
MOVES: list[dict[str, Any]] = [
    {
        "id": 100,
        "product": 3,
        "write_date": dt("2024-05-04T07:30:00"),
        "create_date": dt("2024-05-04T07:29:00"),
        "write_uid": 2,
        "create_uid": 2,
    },
    {
        "id": 101,
        "product": 5,
        "write_date": dt("2024-04-01T00:00:00"),
        "create_date": dt("2024-04-01T00:00:00"),
        "write_uid": 1,
        "create_uid": 1,
    },
]
USERS = {1: "admin", 2: "erp-sync", 3: "pim-sync"}
MODELS = {
    "product.product": PRODUCTS,
    "stock.move": MOVES,
    "product.template": list(TEMPLATES.values()),
    "stock.location": [{"id": WAREHOUSE, "code": "WH", "type": "warehouse"}],
}


def _get(record: Mapping[str, Any], path: str) -> Any:
    head, _, rest = path.partition(".")
    value = record.get(head)
    if not rest:
        return value
    if head == "template" and isinstance(value, int):
        return _get(TEMPLATES[value], rest)
    raise KeyError(path)


def _matches(record: Mapping[str, Any], domain: Sequence[Any]) -> bool:
    if domain and domain[0] in ("OR", "AND"):
        results = [_matches(record, [clause]) for clause in domain[1:]]
        return any(results) if domain[0] == "OR" else all(results)
    for clause in domain:
        if clause and clause[0] in ("OR", "AND"):
            if not _matches(record, clause):
                return False
            continue
        path, op, value = clause[0], clause[1], clause[2]
        if op == "child_of":
            continue  # every fake move touches the warehouse
        current = _get(record, path)
        if op == "in" and current not in value:
            return False
        if op == "=" and current != value:
            return False
        if op == ">=" and (current is None or current < value):
            return False
    return True


def _read_fields(
    record: Mapping[str, Any], fields: Sequence[str], context: Mapping[str, Any]
) -> dict[str, Any]:
    row: dict[str, Any] = {"id": record["id"]}
    for name in fields:
        if name not in record and "." not in name:
            raise KeyError(name)
        if "." in name:
            head, _, rest = name.partition(".")
            nested = row.setdefault(f"{head}.", {"id": record[head]})
            nested[rest] = _get(record, name)
        elif name == "list_price_used" and "company" not in context:
            row[name] = None  # the trap: no company, no price, no error
        elif name == "quantity" and not context.get("locations"):
            row[name] = 0.0  # the trap: no locations, no stock
        else:
            row[name] = record[name]
    return row


@dataclass
class FakeTryton:
    """A JSON-RPC Tryton behind ``responses``; records every call for assertions."""

    password: str = PASSWORD
    calls: list[dict[str, Any]] = field(default_factory=list)
    failed_logins: int = 0
    logins: int = 0
    overrides: dict[str, tuple[int, Any]] = field(default_factory=dict)
    """method -> (status, body) to answer every time instead: a dict is sent as JSON-RPC
    members (``{"error": ...}``), a string as it is (with ``content_type``)."""
    once: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    """method -> answers to give first, one per call, before answering normally."""
    content_type: str = "application/json"

    def register(self, rsps: responses.RequestsMock) -> None:
        rsps.add_callback(responses.POST, ENDPOINT, callback=self.callback)

    def _canned(self, rid: int, status: int, payload: Any) -> tuple[int, dict[str, str], str]:
        if isinstance(payload, str):
            return status, {"Content-Type": self.content_type}, payload
        return status, {"Content-Type": "application/json"}, json.dumps({"id": rid, **payload})

    def methods(self) -> list[str]:
        return [c["method"] for c in self.calls]

    def callback(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body or b"{}")
        self.calls.append({**body, "headers": dict(request.headers)})
        method, params, rid = body["method"], body["params"], body["id"]
        if self.once.get(method):
            return self._canned(rid, *self.once[method].pop(0))
        if method in self.overrides:
            return self._canned(rid, *self.overrides[method])
        if method == "common.db.login":
            return self._login(rid, params)
        expected = "Session " + base64.b64encode(f"{LOGIN}:7:{TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return 401, {"Content-Type": "text/html"}, "<h1>Unauthorized</h1>"
        if method == "common.db.logout":
            return self._result(rid, None)
        if not params or not isinstance(params[-1], dict):
            return 422, {"Content-Type": "text/html"}, "<p>Missing context argument</p>"
        context = params[-1]
        if method == "model.res.user.get_preferences":
            return self._result(rid, {"company": COMPANY, "language": "en"})
        if method == "model.res.user.read":
            ids, fields = params[0], params[1]
            return self._result(
                rid,
                [
                    {"id": i, "login": USERS[i], "name": USERS[i].title()}
                    for i in ids
                    if i in USERS and fields
                ],
            )
        model, _, call = method.removeprefix("model.").rpartition(".")
        if call != "search_read" or model not in MODELS:
            return self._error(rid, [f"'{model}'", ""])
        domain, offset, limit, order, fields = unwire(params[:5])
        assert order == [["id", "ASC"]], order
        rows = sorted((r for r in MODELS[model] if _matches(r, domain)), key=lambda r: r["id"])
        try:
            page = [_read_fields(r, fields, context) for r in rows[offset : offset + limit]]
        except KeyError as exc:
            return self._error(rid, [f"'{exc.args[0]}'", ""])
        return self._result(rid, wire(page))

    def _login(self, rid: int, params: list[Any]) -> tuple[int, dict[str, str], str]:
        user, parameters = params[0], params[1]
        if self.failed_logins >= 5:
            return 429, {"Content-Type": "text/html"}, "<h1>Too Many Requests</h1>"
        if user != LOGIN or parameters.get("password") != self.password:
            self.failed_logins += 1
            return 401, {"Content-Type": "text/html"}, "<h1>Unauthorized</h1>"
        self.logins += 1
        return self._result(rid, [7, TOKEN, None])

    @staticmethod
    def _result(rid: int, result: Any) -> tuple[int, dict[str, str], str]:
        return 200, {"Content-Type": "application/json"}, json.dumps({"id": rid, "result": result})

    @staticmethod
    def _error(rid: int, error: Any) -> tuple[int, dict[str, str], str]:
        return 200, {"Content-Type": "application/json"}, json.dumps({"id": rid, "error": error})


def spec(*fields: tuple[str, str]) -> ResourceSpec:
    return ResourceSpec(
        system="erp",
        entity="product",
        resource="product.product",
        key=(FieldSpec("key", "code"),),
        fields=tuple(FieldSpec(n, p) for n, p in fields)
        or (
            FieldSpec("price", "list_price_used"),
            FieldSpec("stock", "quantity"),
            FieldSpec("title", "template.name"),
        ),
    )


def connector(tmp_path: Path, *, plain: bool = True, **options: Any) -> TrytonConnector:
    settings = TrytonOptions.model_validate(
        {
            "url": URL,
            "database": DB,
            "username": LOGIN,
            "password": PASSWORD,
            "page_size": 2,
            "backoff_factor": 0,
            **options,
        }
    )
    context = ConnectorContext(base_dir=tmp_path, session=requests.Session() if plain else None)
    return TrytonConnector("erp", settings, context)


EXPECTED = [
    {"code": "MUG-BLU", "list_price_used": "12.50", "quantity": "7.0", "template.name": "Blue Mug"},
    {
        "code": "MUG-BLU-XL",
        "list_price_used": "14.00",
        "quantity": "0.0",
        "template.name": "Blue Mug",
    },
    {
        "code": "TEA-RED",
        "list_price_used": "34.00",
        "quantity": "3.0",
        "template.name": "Red Teapot",
    },
    {
        "code": "TEA-RED-S",
        "list_price_used": "29.90",
        "quantity": "12.0",
        "template.name": "Red Teapot",
    },
]


def case(tmp_path: Path) -> ContractCase:
    return ContractCase(
        connector=connector(tmp_path),
        spec=spec(),
        expected=[dict(row) for row in EXPECTED],
        subset=[("MUG-BLU-XL",), ("TEA-RED-S",)],
        mock=FakeTryton().register,
        since=datetime(2024, 5, 1, tzinfo=UTC),
        min_changes=3,
    )
