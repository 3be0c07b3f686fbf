"""Contract case for the odoo connector, served by a small fake Odoo JSON-RPC endpoint."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import responses

from connectors.base import ConnectorContext, FieldSpec, ResourceSpec
from connectors.odoo import OdooConnector, OdooOptions
from tests.connectors.contract import ContractCase

URL = "https://erp.example.com"
JSONRPC = f"{URL}/jsonrpc"
DATABASE = "shop"
PASSWORD = "odoo_CANARY_api_key_0123456789"

FIELDS: dict[str, dict[str, dict[str, str]]] = {
    "product.product": {
        "id": {"type": "integer"},
        "default_code": {"type": "char"},
        "name": {"type": "char"},
        "barcode": {"type": "char"},
        "list_price": {"type": "float"},
        "qty_available": {"type": "float"},
        "active": {"type": "boolean"},
        "categ_id": {"type": "many2one", "relation": "product.category"},
        "product_tmpl_id": {"type": "many2one", "relation": "product.template"},
        "write_date": {"type": "datetime"},
        "write_uid": {"type": "many2one", "relation": "res.users"},
    },
    "product.template": {
        "id": {"type": "integer"},
        "name": {"type": "char"},
        "list_price": {"type": "float"},
        "write_date": {"type": "datetime"},
        "write_uid": {"type": "many2one", "relation": "res.users"},
    },
    "stock.quant": {
        "id": {"type": "integer"},
        "product_id": {"type": "many2one", "relation": "product.product"},
        "location_id": {"type": "many2one", "relation": "stock.location"},
        "quantity": {"type": "float"},
        "write_date": {"type": "datetime"},
        "write_uid": {"type": "many2one", "relation": "res.users"},
    },
}


def product(
    pid: int, code: str | bool, name: str, price: float, qty: float, **kw: Any
) -> dict[str, Any]:
    return {
        "id": pid,
        "default_code": code,
        "name": name,
        "barcode": False,
        "list_price": price,
        "qty_available": qty,
        "active": True,
        "categ_id": [1, "All / Saleable"],
        "product_tmpl_id": [10 + pid, name],
        "write_date": "2024-04-01 00:00:00",
        "write_uid": [2, "Mitchell Admin"],
        **kw,
    }


def data() -> dict[str, list[dict[str, Any]]]:
    return {
        "product.product": [
            product(
                1,
                "CAP-GRY",
                "Wool Cap",
                24.0,
                12.0,
                write_date="2024-05-02 09:14:00",
                write_uid=[7, "ERP Sync Bot"],
            ),
            product(2, "CAP-BLU", "Wool Cap", 24.0, 0.0),
            product(3, "SCARF-RED", "Scarf", 39.9, 5.0),
        ],
        "product.template": [
            {
                "id": 11,
                "name": "Wool Cap",
                "list_price": 24.0,
                "write_date": "2024-04-01 00:00:00",
                "write_uid": [2, "Mitchell Admin"],
            },
            {
                "id": 13,
                "name": "Scarf",
                "list_price": 39.9,
                "write_date": "2024-05-03 08:00:00",
                "write_uid": [9, "PIM Connector"],
            },
        ],
        "stock.quant": [
            {
                "id": 100,
                "product_id": [2, "[CAP-BLU] Wool Cap"],
                "location_id": [8, "WH/Stock"],
                "quantity": 0.0,
                "write_date": "2024-05-04 10:00:00",
                "write_uid": False,
            },
        ],
    }


def _value(record: dict[str, Any], name: str) -> Any:
    value = record.get(name)
    return value[0] if isinstance(value, list) and len(value) == 2 else value


def _term(record: dict[str, Any], term: list[Any]) -> bool:
    name, op, wanted = term
    value = _value(record, name)
    if op == "=":
        return bool(value == wanted)
    if op == "in":
        return value in wanted
    if op == ">=":
        return value is not None and value is not False and value >= wanted
    raise AssertionError(f"fake odoo does not know operator {op}")


def _matches(record: dict[str, Any], domain: list[Any]) -> bool:
    def evaluate(items: list[Any]) -> tuple[bool, list[Any]]:
        head, *rest = items
        if head == "|":
            left, rest = evaluate(rest)
            right, rest = evaluate(rest)
            return left or right, rest
        if head == "&":
            left, rest = evaluate(rest)
            right, rest = evaluate(rest)
            return left and right, rest
        return _term(record, head), rest

    remaining = list(domain)
    result = True
    while remaining:
        ok, remaining = evaluate(remaining)
        result = result and ok
    return result


@dataclass
class FakeOdoo:
    records: dict[str, list[dict[str, Any]]] = field(default_factory=data)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body or b"{}")
        params = body["params"]
        answer: dict[str, Any] = {"jsonrpc": "2.0", "id": body["id"]}
        if params["service"] == "common":
            db, login, password = params["args"]
            ok = (db, login, password) == (DATABASE, "sync@example.com", PASSWORD)
            self.calls.append(("common", "login"))
            return 200, {}, json.dumps({**answer, "result": 7 if ok else False})
        db, uid, password, model, method, args, kwargs = params["args"]
        assert (db, uid, password) == (DATABASE, 7, PASSWORD)
        self.calls.append((model, method))
        meta = FIELDS[model]
        if method == "fields_get":
            return (
                200,
                {},
                json.dumps({**answer, "result": {n: meta[n] for n in args[0] if n in meta}}),
            )
        rows = self.records[model]
        if method == "read":
            found = [r for r in rows if r["id"] in args[0]]
            result = [
                {"id": r["id"], **{f: r.get(f, False) for f in kwargs["fields"]}} for r in found
            ]
            return 200, {}, json.dumps({**answer, "result": result})
        assert method == "search_read", method
        for name in kwargs["fields"]:
            if name not in meta:
                error = {
                    "code": 200,
                    "message": "Odoo Server Error",
                    "data": {"name": "builtins.ValueError", "message": f"Invalid field {name!r}"},
                }
                return 200, {}, json.dumps({**answer, "error": error})
        found = sorted((r for r in rows if _matches(r, args[0])), key=lambda r: r["id"])
        window = found[kwargs["offset"] : kwargs["offset"] + kwargs["limit"]]
        result = [{"id": r["id"], **{f: r.get(f, False) for f in kwargs["fields"]}} for r in window]
        return 200, {}, json.dumps({**answer, "result": result})


def spec(**options: Any) -> ResourceSpec:
    return ResourceSpec(
        system="erp",
        entity="product",
        resource="product.product",
        key=(FieldSpec("key", "default_code"),),
        fields=(
            FieldSpec("price", "list_price"),
            FieldSpec("stock", "qty_available"),
            FieldSpec("category", "categ_id"),
        ),
        options=options,
    )


def connector(tmp_path: Path, *, plain: bool = False, **options: Any) -> OdooConnector:
    settings = OdooOptions.model_validate(
        {
            "url": URL,
            "database": DATABASE,
            "username": "sync@example.com",
            "password": PASSWORD,
            "page_size": 2,
            "backoff_factor": 0,
            **options,
        }
    )
    context = ConnectorContext(base_dir=tmp_path, session=requests.Session() if plain else None)
    return OdooConnector("erp", settings, context)


def case(tmp_path: Path) -> ContractCase:
    fake = FakeOdoo()

    def mock(rsps: responses.RequestsMock) -> None:
        rsps.add_callback(responses.POST, JSONRPC, callback=fake, content_type="application/json")

    return ContractCase(
        connector=connector(tmp_path, plain=True),
        spec=spec(),
        expected=[
            {
                "default_code": "CAP-GRY",
                "list_price": "24.0",
                "qty_available": "12.0",
                "categ_id": "All / Saleable",
            },
            {
                "default_code": "CAP-BLU",
                "list_price": "24.0",
                "qty_available": "0.0",
                "categ_id": "All / Saleable",
            },
            {
                "default_code": "SCARF-RED",
                "list_price": "39.9",
                "qty_available": "5.0",
                "categ_id": "All / Saleable",
            },
        ],
        subset=[("CAP-BLU",), ("SCARF-RED",)],
        mock=mock,
        since=datetime(2024, 5, 1, tzinfo=UTC),
        min_changes=3,
    )
