"""The ``tryton`` connector and ``fieldwarden reconcile`` against a REAL Tryton server.

The session fixture (``conftest.py``) initialises an SQLite database with trytond-admin, starts
trytond on loopback and seeds a company, a currency and products with prices and stock through
Tryton's own JSON-RPC API. Each test edits the way a Tryton user does (a template's list price,
a confirmed inventory, a stock move) and reads relative to the state it found, so the tests do
not depend on their order.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ConnectorContext, FieldSpec, ResourceSpec
from connectors.tryton import TrytonConnector, TrytonOptions
from detector.errors import InvalidPayloadError, SourceFatalError
from tests.integration.tryton_server import (
    SEED_PRODUCTS,
    Shop,
    TrytonRpc,
    TrytonServer,
    backdate,
    change_stock,
    current_state,
    set_stock,
    set_template_price,
    trytond_missing_reason,
)

pytestmark = pytest.mark.skipif(
    trytond_missing_reason() is not None, reason=trytond_missing_reason() or ""
)

REPO = Path(__file__).resolve().parents[2]
UNTOUCHED = ("SKU-0001", "SKU-0004", "SKU-0005")  # no test edits these


def product_spec(*fields: tuple[str, str], key: str = "code") -> ResourceSpec:
    return ResourceSpec(
        system="erp",
        entity="product",
        resource="product.product",
        key=(FieldSpec("key", key),),
        fields=tuple(FieldSpec(name, path) for name, path in fields),
    )


PRICE_STOCK = product_spec(("price", "list_price_used"), ("stock", "quantity"))


@pytest.fixture
def connector_for(tryton_shop: tuple[TrytonServer, Shop], tmp_path: Path) -> Iterator[Any]:
    server, _ = tryton_shop
    made: list[Any] = []

    def make(**options: Any) -> Any:
        values: dict[str, Any] = {
            "url": server.url,
            "database": server.database,
            "username": server.login,
            "password": server.password,
            "backoff_factor": 0,
            **options,
        }
        connector = TrytonConnector("erp", TrytonOptions(**values), ConnectorContext(tmp_path))
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()


def rows_by_key(frame: Any, key: str = "code") -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in frame.data.to_dicts()}


# --- the connector against the live server --------------------------------------------------


def test_read_gives_prices_and_quantities_as_tryton_holds_them(
    tryton_shop: tuple[TrytonServer, Shop], tryton_rpc: TrytonRpc, connector_for: Any
) -> None:
    _, shop = tryton_shop
    spec = product_spec(
        ("price", "list_price_used"), ("stock", "quantity"), ("title", "template.name")
    )
    rows = rows_by_key(connector_for().read(spec))

    truth = current_state(tryton_rpc, shop)
    assert set(rows) == set(truth)
    for sku, (price, quantity) in truth.items():
        assert rows[sku]["list_price_used"] == str(price)
        assert Decimal(rows[sku]["quantity"]) == Decimal(str(quantity))
    for sku in UNTOUCHED:  # exactly the seeded text: Decimal digits kept, no float noise
        name, price, stock = SEED_PRODUCTS[sku]
        assert rows[sku]["list_price_used"] == str(price)  # e.g. "45.00", company in context
        assert rows[sku]["quantity"] == f"{stock}.0"  # warehouse in context (else 0.0)
        assert rows[sku]["template.name"] == name  # dotted many2one path flattened


def test_company_and_locations_options(
    tryton_shop: tuple[TrytonServer, Shop], connector_for: Any
) -> None:
    _, shop = tryton_shop
    default = rows_by_key(connector_for().read(PRICE_STOCK))
    by_code = rows_by_key(
        connector_for(company=shop.company, locations=[shop.warehouse_code]).read(PRICE_STOCK)
    )
    by_storage_id = rows_by_key(connector_for(locations=[shop.storage]).read(PRICE_STOCK))
    assert default == by_code == by_storage_id
    # The customer location holds nothing of the seeded stock.
    elsewhere = rows_by_key(connector_for(locations=[shop.customer]).read(PRICE_STOCK))
    assert elsewhere["SKU-0005"]["quantity"] == "0.0"


def test_paging_and_keys(connector_for: Any) -> None:
    everything = connector_for().read(PRICE_STOCK)
    paged = connector_for(page_size=2).read(PRICE_STOCK)  # 3+ pages of 2
    assert (
        paged.data.drop("__row__").sort("code").equals(everything.data.drop("__row__").sort("code"))
    )
    some = connector_for(page_size=1).read(
        PRICE_STOCK, keys=[("SKU-0001",), ("SKU-0005",), ("NO-SUCH-SKU",)]
    )
    assert sorted(some.data["code"].to_list()) == ["SKU-0001", "SKU-0005"]


def test_price_and_stock_edits_are_read_and_reported_as_changes(
    tryton_shop: tuple[TrytonServer, Shop], tryton_rpc: TrytonRpc, connector_for: Any
) -> None:
    _, shop = tryton_shop
    before = current_state(tryton_rpc, shop)
    since = datetime.now(UTC) - timedelta(milliseconds=1)

    new_price = before["SKU-0002"][0] + Decimal("1.25")
    set_template_price(tryton_rpc, shop, "SKU-0002", new_price)  # the price lives on the template
    set_stock(tryton_rpc, shop, "SKU-0003", int(before["SKU-0003"][1]) - 4)  # an inventory count
    change_stock(tryton_rpc, shop, "SKU-0003", 10)  # and a receipt

    connector = connector_for()
    rows = rows_by_key(connector.read(PRICE_STOCK))
    assert rows["SKU-0002"]["list_price_used"] == str(new_price)
    assert Decimal(rows["SKU-0003"]["quantity"]) == Decimal(str(before["SKU-0003"][1])) + 6

    changes = list(connector.read_changes(PRICE_STOCK, since))
    # A template write is a price change of its variant; stock moves are quantity changes.
    assert {(c.key, c.field) for c in changes} == {
        (("SKU-0002",), "list_price_used"),
        (("SKU-0003",), "quantity"),
    }
    assert {c.changed_by for c in changes} == {"admin"}
    assert all(c.changed_at >= since for c in changes)
    assert all(c.changed_at.tzinfo is not None for c in changes)
    assert len([c for c in changes if c.key == ("SKU-0003",)]) == 2  # inventory move + receipt
    # Nothing since "now": the cursor excludes what came before.
    assert list(connector.read_changes(PRICE_STOCK, datetime.now(UTC) + timedelta(seconds=1))) == []


def test_changes_name_the_integration_user(
    tryton_shop: tuple[TrytonServer, Shop], tryton_rpc: TrytonRpc, connector_for: Any
) -> None:
    """Each integration its own Tryton user: write_uid then says which system wrote."""
    server, shop = tryton_shop
    login = f"pim-sync-{uuid.uuid4().hex[:8]}"
    password = "Sync-" + uuid.uuid4().hex
    groups = tryton_rpc.model("res.group", "search", [], 0, None, None)
    tryton_rpc.model(
        "res.user",
        "create",
        [
            {
                "name": "PIM sync",
                "login": login,
                "password": password,
                "groups": [["add", groups]],
                "companies": [["add", [shop.company]]],
                "company": shop.company,
            }
        ],
    )
    bot = server.client(login=login, password=password)
    bot.context = {"company": shop.company}
    since = datetime.now(UTC) - timedelta(milliseconds=1)
    try:
        bot.model("product.template", "write", [shop.templates["SKU-0001"]], {"name": "Blue Mug"})
    finally:
        bot.close()
    spec = product_spec(("title", "template.name"), ("price", "list_price_used"))
    changes = list(connector_for().read_changes(spec, since))
    assert {(c.key, c.field, c.changed_by) for c in changes} == {
        (("SKU-0001",), "template.name", login),
        (("SKU-0001",), "list_price_used", login),  # record level: a template write may reprice
    }


def test_unknown_field_is_an_error_naming_the_method(connector_for: Any) -> None:
    spec = product_spec(("price", "no_such_field"))
    with pytest.raises(InvalidPayloadError) as caught:
        connector_for().read(spec)
    message = str(caught.value)
    assert "model.product.product.search_read" in message
    assert "no_such_field" in message


def test_bad_credentials_fail_without_the_password(
    tryton_shop: tuple[TrytonServer, Shop], tmp_path: Path
) -> None:
    server, _ = tryton_shop
    secret = "wrong-" + uuid.uuid4().hex
    # A throwaway login: five failures would lock the login (HTTP 429) for a while.
    options = TrytonOptions(
        url=server.url,
        database=server.database,
        username=f"intruder-{uuid.uuid4().hex[:8]}",
        password=secret,
        backoff_factor=0,
    )
    with (
        TrytonConnector("erp", options, ConnectorContext(tmp_path)) as connector,
        pytest.raises(SourceFatalError) as caught,
    ):
        connector.read(PRICE_STOCK)
    assert "login failed" in str(caught.value)
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value.__dict__)


def test_unknown_database_is_fatal(tryton_shop: tuple[TrytonServer, Shop], tmp_path: Path) -> None:
    server, _ = tryton_shop
    options = TrytonOptions(
        url=server.url, database="nope", username="admin", password="x" * 12, backoff_factor=0
    )
    with (
        TrytonConnector("erp", options, ConnectorContext(tmp_path)) as connector,
        pytest.raises(SourceFatalError, match="'nope' not found"),
    ):
        connector.read(PRICE_STOCK)


# --- fieldwarden reconcile end to end ---------------------------------------------------------


def write_reconcile_setup(
    root: Path, server: TrytonServer, state: dict[str, Any], *, price_lag: str | None = None
) -> Path:
    """A config with Tryton as owner (erp) and a CSV storefront agreeing with ``state``."""
    storefront = root / "storefront"
    storefront.mkdir(parents=True)
    with (storefront / "variants.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "price", "inventory_quantity"])
        for sku, (price, quantity) in sorted(state.items()):
            writer.writerow([sku, str(price), str(int(quantity))])
    lag = f", lag: {price_lag}" if price_lag else ""
    config = root / "fieldwarden.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            storage: sqlite:///fieldwarden.db
            systems:
              erp:
                connector: tryton
                url: "{server.url}"
                database: {server.database}
                username: {server.login}
                password: "${{FW_TEST_TRYTON_PASSWORD}}"
                backoff_factor: 0
              storefront:
                connector: csv
                directory: storefront
            entities:
              product:
                systems:
                  erp:
                    resource: product.product
                    key: code
                    fields: {{price: list_price_used, stock: quantity}}
                  storefront:
                    resource: variants
                    key: sku
                    fields: {{price: price, stock: inventory_quantity}}
            ownership:
              product.price: {{owner: erp, readers: [storefront], compare: money{lag}, severity: high}}
              product.stock: {{owner: erp, readers: [storefront], compare: integer, severity: high}}
            alerts:
              - {{type: log, path: alerts.jsonl}}
            """
        ),
        encoding="utf-8",
    )
    return config


def run_reconcile(config: Path, server: TrytonServer) -> tuple[int, dict[str, Any], str]:
    env = {**os.environ, "FW_TEST_TRYTON_PASSWORD": server.password}
    env.pop("FIELDWARDEN_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-m", "detector", "reconcile", "-c", str(config), "--format", "json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert server.password not in output
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"reconcile exit {result.returncode}, no JSON on stdout:\n{output[-4000:]}")
    return result.returncode, document, output


def test_reconcile_finds_exactly_the_price_and_stock_edits(
    tryton_shop: tuple[TrytonServer, Shop], tryton_rpc: TrytonRpc, tmp_path: Path
) -> None:
    server, shop = tryton_shop
    state = current_state(tryton_rpc, shop)
    config = write_reconcile_setup(tmp_path, server, state)

    code, document, output = run_reconcile(config, server)
    assert code == 0, output[-4000:]
    assert document["discrepancies"] == [], output[-4000:]
    assert {(s["system"], s["status"]) for s in document["sources"]} == {
        ("erp", "ok"),
        ("storefront", "ok"),
    }
    erp = next(s for s in document["sources"] if s["system"] == "erp")
    assert erp["records"] == len(state)

    # Edit in Tryton, through its own API: a price on the template and a stock level.
    price_sku, stock_sku = "SKU-0002", "SKU-0003"
    new_price = state[price_sku][0] + Decimal("2.00")
    new_stock = int(state[stock_sku][1]) + 5
    set_template_price(tryton_rpc, shop, price_sku, new_price)
    change_stock(tryton_rpc, shop, stock_sku, 5)

    code, document, output = run_reconcile(config, server)
    assert code == 1, output[-4000:]
    found = {
        (d["kind"], d["entity"], d["key"], d["field"], d["owner"], d["system"])
        for d in document["discrepancies"]
    }
    assert found == {
        ("value_mismatch", "product", price_sku, "price", "erp", "storefront"),
        ("value_mismatch", "product", stock_sku, "stock", "erp", "storefront"),
    }, output[-4000:]
    by_field = {d["field"]: d for d in document["discrepancies"]}
    assert by_field["price"]["owner_value"] == str(new_price)
    assert by_field["price"]["system_value"] == str(state[price_sku][0])
    assert Decimal(by_field["stock"]["owner_value"]) == new_stock
    assert by_field["stock"]["system_value"] == str(int(state[stock_sku][1]))
    assert all(d["status"] == "open" for d in document["discrepancies"])


def test_reconcile_counts_lag_from_the_tryton_edit(
    tryton_shop: tuple[TrytonServer, Shop], tryton_rpc: TrytonRpc, tmp_path: Path
) -> None:
    """Tryton's change signal reaches the engine: ``lag`` counts from the owner's edit.

    Seen for the first time, a mismatch whose Tryton edit is older than the lag is open at
    once; one edited just now is pending (sync in flight). Without the change log both would
    be pending, since lag would then count from first sight.
    """
    server, shop = tryton_shop
    state = current_state(tryton_rpc, shop)
    config = write_reconcile_setup(tmp_path, server, state, price_lag="1h")

    set_template_price(tryton_rpc, shop, "SKU-0002", state["SKU-0002"][0] + Decimal("1.00"))
    backdate(server, shop, "SKU-0002", timedelta(hours=2))  # as if edited two hours ago
    set_template_price(tryton_rpc, shop, "SKU-0003", state["SKU-0003"][0] + Decimal("1.00"))

    code, document, output = run_reconcile(config, server)
    assert code == 1, output[-4000:]
    statuses = {(d["key"], d["field"]): d["status"] for d in document["discrepancies"]}
    assert statuses == {("SKU-0002", "price"): "open", ("SKU-0003", "price"): "pending"}, output[
        -4000:
    ]
