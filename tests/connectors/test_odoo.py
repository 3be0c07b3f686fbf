"""Odoo JSON-RPC connector: login, offset pages, errors inside a 200, many2one values, changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses.registries import OrderedRegistry
from structlog.testing import capture_logs

from connectors.base import FieldSpec, ResourceSpec
from connectors.odoo import OdooConnector
from detector.errors import (
    InvalidPayloadError,
    PaginationLoopError,
    SourceFatalError,
    SourceRetriableError,
)
from tests.connectors.cases.odoo import JSONRPC, PASSWORD, FakeOdoo, connector, spec


@pytest.fixture
def served() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def ordered() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        yield rsps


@pytest.fixture
def odoo(tmp_path: Path, slept: list[float]) -> OdooConnector:
    return connector(tmp_path)


def serve(mock: responses.RequestsMock, fake: FakeOdoo | None = None) -> FakeOdoo:
    fake = fake or FakeOdoo()
    mock.add_callback(responses.POST, JSONRPC, callback=fake, content_type="application/json")
    return fake


def rpc(result: Any = None, error: Any = None, rid: int = 1) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": rid}
    if error is not None:
        body["error"] = error
    else:
        body["result"] = result
    return body


FIELDS_META = {
    "default_code": {"type": "char"},
    "list_price": {"type": "float"},
    "qty_available": {"type": "float"},
    "categ_id": {"type": "many2one", "relation": "product.category"},
}


def test_reads_every_page_after_logging_in(
    odoo: OdooConnector, served: responses.RequestsMock
) -> None:
    fake = serve(served)
    frame = odoo.read(spec())
    assert frame.data["default_code"].to_list() == ["CAP-GRY", "CAP-BLU", "SCARF-RED"]
    assert frame.data["categ_id"].to_list() == ["All / Saleable"] * 3
    assert fake.calls == [
        ("common", "login"),
        ("product.product", "fields_get"),
        ("product.product", "search_read"),
        ("product.product", "search_read"),
    ]
    first = json.loads(served.calls[2].request.body or b"")
    assert first["params"]["args"][5] == [[]]
    assert first["params"]["args"][6]["offset"] == 0
    assert json.loads(served.calls[3].request.body or b"")["params"]["args"][6]["offset"] == 2


def test_gateway_throttle_then_success(
    odoo: OdooConnector, ordered: responses.RequestsMock
) -> None:
    ordered.post(JSONRPC, json=rpc(7))
    ordered.post(JSONRPC, status=429, headers={"Retry-After": "3"})
    ordered.post(JSONRPC, status=503)
    ordered.post(JSONRPC, json=rpc(FIELDS_META))
    ordered.post(
        JSONRPC,
        json=rpc(
            [
                {
                    "id": 1,
                    "default_code": "A",
                    "list_price": 1.5,
                    "qty_available": 2.0,
                    "categ_id": False,
                }
            ]
        ),
    )
    frame = odoo.read(spec())
    assert frame.data.select("default_code", "categ_id").rows() == [("A", None)]


def test_persistent_5xx(
    tmp_path: Path, ordered: responses.RequestsMock, slept: list[float]
) -> None:
    odoo = connector(tmp_path, max_retries=1)
    ordered.post(JSONRPC, status=502)
    ordered.post(JSONRPC, status=502)
    with pytest.raises(SourceRetriableError, match="HTTP 502"):
        odoo.read(spec())


def test_error_inside_a_200_fails_the_read(
    odoo: OdooConnector, ordered: responses.RequestsMock
) -> None:
    ordered.post(JSONRPC, json=rpc(7))
    ordered.post(JSONRPC, json=rpc(FIELDS_META))
    error = {
        "code": 200,
        "message": "Odoo Server Error",
        "data": {
            "name": "psycopg2.errors.QueryCanceled",
            "debug": "Traceback ... canceling statement due to statement timeout",
            "message": "canceling statement due to statement timeout",
            "arguments": ["canceling statement due to statement timeout"],
        },
    }
    ordered.post(JSONRPC, json=rpc(error=error))
    with pytest.raises(InvalidPayloadError, match="statement timeout"):
        odoo.read(spec())


def test_access_error_is_fatal(odoo: OdooConnector, ordered: responses.RequestsMock) -> None:
    ordered.post(JSONRPC, json=rpc(7))
    denied = {
        "code": 200,
        "message": "Odoo Server Error",
        "data": {
            "name": "odoo.exceptions.AccessError",
            "message": "You are not allowed to access 'Product' (product.product).",
        },
    }
    ordered.post(JSONRPC, json=rpc(error=denied))
    with pytest.raises(SourceFatalError, match="access denied"):
        odoo.read(spec())


def test_bad_credentials_never_show_the_password(
    tmp_path: Path, served: responses.RequestsMock, slept: list[float]
) -> None:
    odoo = connector(tmp_path, password="wrong-" + PASSWORD)
    serve(served)
    with capture_logs() as logs, pytest.raises(SourceFatalError, match="authentication") as err:
        odoo.read(spec())
    assert PASSWORD not in str(err.value)
    assert PASSWORD not in repr(logs)
    assert PASSWORD not in repr(odoo.options)


def test_odoo_echoing_the_password_is_scrubbed(
    odoo: OdooConnector, ordered: responses.RequestsMock
) -> None:
    ordered.post(JSONRPC, json=rpc(7))
    echo = {
        "message": "Odoo Server Error",
        "data": {"name": "builtins.TypeError", "message": f"bad args ('shop', 7, '{PASSWORD}')"},
    }
    ordered.post(JSONRPC, json=rpc(error=echo))
    with pytest.raises(InvalidPayloadError) as err:
        odoo.read(spec())
    assert PASSWORD not in str(err.value)
    assert "***" in str(err.value)


def test_truncated_body(odoo: OdooConnector, ordered: responses.RequestsMock) -> None:
    ordered.post(JSONRPC, json=rpc(7))
    ordered.post(
        JSONRPC,
        body='{"jsonrpc": "2.0", "id": 2, "result": {"default_co',
        content_type="application/json",
    )
    with pytest.raises(InvalidPayloadError, match="truncated"):
        odoo.read(spec())


def test_html_error_page_with_json_content_type(
    odoo: OdooConnector, ordered: responses.RequestsMock
) -> None:
    ordered.post(
        JSONRPC, body="<html><body>502 Bad Gateway</body></html>", content_type="application/json"
    )
    with pytest.raises(InvalidPayloadError):
        odoo.read(spec())


def test_server_ignoring_the_offset_is_a_loop(
    odoo: OdooConnector, ordered: responses.RequestsMock
) -> None:
    page = [{"id": 1, "default_code": "A"}, {"id": 2, "default_code": "B"}]
    ordered.post(JSONRPC, json=rpc(7))
    ordered.post(JSONRPC, json=rpc(FIELDS_META))
    ordered.post(JSONRPC, json=rpc(page))
    ordered.post(JSONRPC, json=rpc(page))
    with pytest.raises(PaginationLoopError, match="same page"):
        odoo.read(spec())


def test_fields_of_the_wrong_type(odoo: OdooConnector, ordered: responses.RequestsMock) -> None:
    ordered.post(JSONRPC, json=rpc(7))
    ordered.post(JSONRPC, json=rpc(FIELDS_META))
    ordered.post(
        JSONRPC,
        json=rpc(
            [
                {
                    "id": 1,
                    "default_code": "A",
                    "list_price": "12,50",
                    "qty_available": {"x": 1},
                    "categ_id": "not-a-pair",
                },
                "garbage",
                {"id": 3, "default_code": False, "list_price": 1.0},
            ]
        ),
    )
    ordered.post(JSONRPC, json=rpc([]))
    frame = odoo.read(spec())
    assert frame.data.select("list_price", "qty_available", "categ_id").rows() == [
        ("12,50", '{"x":1}', "not-a-pair")
    ]
    assert len(frame.problems) == 2  # a non-object and a record whose key is False
    assert frame.records_read == 3


def test_result_that_is_not_a_list(odoo: OdooConnector, ordered: responses.RequestsMock) -> None:
    ordered.post(JSONRPC, json=rpc(7))
    ordered.post(JSONRPC, json=rpc(FIELDS_META))
    ordered.post(JSONRPC, json=rpc({"records": []}))
    with pytest.raises(InvalidPayloadError, match="expected a list"):
        odoo.read(spec())


def test_keys_become_a_domain(odoo: OdooConnector, served: responses.RequestsMock) -> None:
    serve(served)
    frame = odoo.read(spec(), keys=[("SCARF-RED",)])
    assert frame.data["default_code"].to_list() == ["SCARF-RED"]
    search = json.loads(served.calls[2].request.body or b"")
    assert search["params"]["args"][5] == [[["default_code", "in", ["SCARF-RED"]]]]


def test_domain_option_is_applied(odoo: OdooConnector, served: responses.RequestsMock) -> None:
    serve(served)
    frame = odoo.read(spec(domain=[["product_tmpl_id", "=", 13]]))
    assert frame.data["default_code"].to_list() == ["SCARF-RED"]


def test_unknown_field_and_bad_names_are_fatal(
    odoo: OdooConnector, served: responses.RequestsMock
) -> None:
    serve(served)
    bogus = ResourceSpec(
        "erp",
        "product",
        "product.product",
        (FieldSpec("key", "default_code"),),
        (FieldSpec("x", "bogus_field"),),
    )
    with pytest.raises(SourceFatalError, match="unknown field"):
        odoo.read(bogus)
    bad_model = ResourceSpec("erp", "product", "Product; drop", (FieldSpec("key", "id"),), ())
    with pytest.raises(SourceFatalError, match="not an Odoo model"):
        odoo.read(bad_model)


def test_stock_quant_follows_many2one_to_the_sku(
    odoo: OdooConnector, served: responses.RequestsMock
) -> None:
    fake = serve(served)
    quants = ResourceSpec(
        "erp",
        "inventory",
        "stock.quant",
        (FieldSpec("key.0", "product_id.default_code"), FieldSpec("key.1", "location_id")),
        (FieldSpec("stock", "quantity"), FieldSpec("product_id", "product_id.id")),
    )
    frame = odoo.read(quants)
    assert frame.data.rows() == [("CAP-BLU", "WH/Stock", "0.0", "2", 1)]
    assert ("product.product", "read") in fake.calls


def test_changes_poll_variant_template_and_quants(
    odoo: OdooConnector, served: responses.RequestsMock
) -> None:
    serve(served)
    changes = list(
        odoo.read_changes(spec(change_fields=["list_price"]), datetime(2024, 5, 1, tzinfo=UTC))
    )
    assert sorted((c.key, c.field, c.changed_by, c.changed_at.isoformat()) for c in changes) == [
        (("CAP-BLU",), "list_price", None, "2024-05-04T10:00:00+00:00"),
        (("CAP-GRY",), "list_price", "ERP Sync Bot", "2024-05-02T09:14:00+00:00"),
        (("SCARF-RED",), "list_price", "PIM Connector", "2024-05-03T08:00:00+00:00"),
    ]
    domains = [json.loads(c.request.body or b"")["params"]["args"] for c in served.calls[1:]]
    assert ["write_date", ">=", "2024-05-01 00:00:00"] in domains[1][5][0]


def test_writer_without_a_name_is_its_uid() -> None:
    from connectors.odoo import _writer  # noqa: PLC0415  # private helper under test

    assert _writer([7, "ERP Sync Bot"]) == "ERP Sync Bot"
    assert _writer(None, 7) == "uid:7"
    assert _writer([7, False]) == "uid:7"
    assert _writer(False) is None


def test_session_is_not_rebuilt_per_call(
    odoo: OdooConnector, served: responses.RequestsMock
) -> None:
    serve(served)
    odoo.read(spec())
    session = odoo.client.session
    odoo.read(spec())
    assert odoo.client.session is session
    assert isinstance(session, requests.Session)
    odoo.close()
