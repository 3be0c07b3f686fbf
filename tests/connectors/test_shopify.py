"""Shopify GraphQL connector: pages, throttling, errors inside a 200, credentials, bad bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from responses.registries import OrderedRegistry
from structlog.testing import capture_logs

from connectors.base import FieldSpec, ResourceSpec
from connectors.shopify import RECORD_CHANGE, ShopifyConnector
from detector.errors import (
    InvalidPayloadError,
    PaginationLoopError,
    RateLimitedError,
    SourceFatalError,
)
from tests.connectors.cases.shopify import (
    COST,
    GRAPHQL,
    TOKEN,
    VARIANTS,
    FakeShopify,
    connector,
    spec,
)


@pytest.fixture
def mock() -> Any:
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        yield rsps


@pytest.fixture
def served() -> Any:
    """A mock whose responses may be used any number of times (for FakeShopify callbacks)."""
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def shop(tmp_path: Path, slept: list[float]) -> ShopifyConnector:
    return connector(tmp_path)


def page(nodes: list[Any], cursor: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "data": {
            "productVariants": {
                "nodes": nodes,
                "pageInfo": {"hasNextPage": cursor is not None, "endCursor": cursor},
            }
        },
        "extensions": COST,
        **extra,
    }


THROTTLED = {
    "errors": [
        {
            "message": "Throttled",
            "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits",
            },
        }
    ],
    "extensions": {
        "cost": {
            "requestedQueryCost": 202,
            "actualQueryCost": None,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": 2,
                "restoreRate": 100.0,
            },
        }
    },
}


def test_reads_every_page_with_nested_paths(
    shop: ShopifyConnector, mock: responses.RequestsMock
) -> None:
    mock.post(GRAPHQL, json=page(VARIANTS[:2], "eyJsYXN0X2lkIjo5MDAyfQ=="))
    mock.post(GRAPHQL, json=page(VARIANTS[2:], None))
    frame = shop.read(spec())
    assert frame.data["sku"].to_list() == ["CAP-GRY", "CAP-BLU", "SCARF-RED"]
    assert frame.data["product.title"].to_list() == ["Wool Cap", "Wool Cap", "Scarf"]
    assert frame.data["inventoryItem.unitCost.amount"].to_list() == ["8.10"] * 3
    assert frame.complete
    first = json.loads(mock.calls[0].request.body or b"")
    assert "product { id title }" in first["query"]
    assert "inventoryItem { unitCost { amount } }" in first["query"]
    assert first["variables"]["after"] is None
    second = json.loads(mock.calls[1].request.body or b"")
    assert second["variables"]["after"] == "eyJsYXN0X2lkIjo5MDAyfQ=="
    assert mock.calls[0].request.headers["X-Shopify-Access-Token"] == TOKEN


def test_throttled_then_success_waits_for_the_bucket(
    shop: ShopifyConnector, mock: responses.RequestsMock, slept: list[float]
) -> None:
    mock.post(GRAPHQL, json=THROTTLED)
    mock.post(GRAPHQL, json=page(VARIANTS, None))
    assert shop.read(spec()).height == 3
    assert slept == [pytest.approx(2.1)]  # (202 - 2) / 100 + 0.1


def test_throttled_beyond_the_cap_is_rate_limited(
    tmp_path: Path, mock: responses.RequestsMock, slept: list[float]
) -> None:
    shop = connector(tmp_path, retry_after_cap=1)
    mock.post(GRAPHQL, json=THROTTLED)
    with pytest.raises(RateLimitedError):
        shop.read(spec())
    assert slept == []


def test_http_429_with_retry_after_then_success(
    shop: ShopifyConnector, mock: responses.RequestsMock
) -> None:
    mock.post(GRAPHQL, status=429, headers={"Retry-After": "2.0"}, json={"errors": "Throttled"})
    mock.post(GRAPHQL, json=page(VARIANTS, None))
    assert shop.read(spec()).height == 3


def test_low_bucket_makes_the_next_page_wait(
    shop: ShopifyConnector, mock: responses.RequestsMock, slept: list[float]
) -> None:
    low = {
        "cost": {
            "requestedQueryCost": 100,
            "actualQueryCost": 50,
            "throttleStatus": {
                "maximumAvailable": 1000.0,
                "currentlyAvailable": 20,
                "restoreRate": 50.0,
            },
        }
    }
    mock.post(GRAPHQL, json={**page(VARIANTS[:2], "c1"), "extensions": low})
    mock.post(GRAPHQL, json=page(VARIANTS[2:], None))
    assert shop.read(spec()).height == 3
    assert slept == [pytest.approx(1.6)]


def test_graphql_error_inside_a_200_fails_the_read(
    shop: ShopifyConnector, mock: responses.RequestsMock
) -> None:
    mock.post(
        GRAPHQL,
        json={
            "errors": [
                {
                    "message": "Field 'bogus' doesn't exist on type 'ProductVariant'",
                    "locations": [{"line": 1, "column": 90}],
                    "extensions": {"code": "undefinedField", "typeName": "ProductVariant"},
                }
            ]
        },
    )
    with pytest.raises(InvalidPayloadError, match="Field 'bogus' doesn't exist"):
        shop.read(spec())


def test_bad_credentials_never_show_the_token(
    shop: ShopifyConnector, mock: responses.RequestsMock
) -> None:
    mock.post(GRAPHQL, status=401, json={"errors": "[API] Invalid API key or access token"})
    with capture_logs() as logs, pytest.raises(SourceFatalError, match="authentication") as err:
        shop.read(spec())
    assert TOKEN not in str(err.value)
    assert TOKEN not in repr(err.value.__dict__)
    assert TOKEN not in repr(logs)
    assert TOKEN not in repr(shop.options)


def test_truncated_body(shop: ShopifyConnector, mock: responses.RequestsMock) -> None:
    full = json.dumps(page(VARIANTS, None))
    mock.post(GRAPHQL, body=full[: len(full) // 2], content_type="application/json")
    with pytest.raises(InvalidPayloadError, match="truncated"):
        shop.read(spec())


def test_pagination_loop(shop: ShopifyConnector, mock: responses.RequestsMock) -> None:
    mock.post(GRAPHQL, json=page(VARIANTS[:1], "A"))
    mock.post(GRAPHQL, json=page(VARIANTS[1:2], "B"))
    mock.post(GRAPHQL, json=page(VARIANTS[2:], "A"))
    with pytest.raises(PaginationLoopError, match="cycled"):
        shop.read(spec())


def test_fields_of_the_wrong_type(shop: ShopifyConnector, mock: responses.RequestsMock) -> None:
    odd = dict(VARIANTS[0], price={"amount": "24.00"}, inventoryQuantity="12,50")
    mock.post(GRAPHQL, json=page([odd, None, dict(VARIANTS[1], sku=None)], None))
    frame = shop.read(spec())
    assert frame.data["price"].to_list() == ['{"amount":"24.00"}']
    assert frame.data["inventoryQuantity"].to_list() == ["12,50"]
    assert len(frame.problems) == 2  # a null node and a variant without SKU are skipped, counted
    assert frame.records_read == 3


def test_nodes_that_are_not_a_list(shop: ShopifyConnector, mock: responses.RequestsMock) -> None:
    mock.post(
        GRAPHQL,
        json={"data": {"productVariants": {"nodes": {"id": 1}, "pageInfo": {}}}},
    )
    with pytest.raises(InvalidPayloadError, match="expected a list"):
        shop.read(spec())


def test_fetch_by_keys_asks_shopify_for_just_those_skus(
    shop: ShopifyConnector, served: responses.RequestsMock
) -> None:
    fake = FakeShopify()
    served.add_callback(responses.POST, GRAPHQL, callback=fake, content_type="application/json")
    frame = shop.read(spec(), keys=[("SCARF-RED",), ('we"ird',)])
    assert frame.data["sku"].to_list() == ["SCARF-RED"]
    assert fake.queries[0]["variables"]["query"] == '(sku:"SCARF-RED" OR sku:"we\\"ird")'


def test_list_paths_are_refused(shop: ShopifyConnector) -> None:
    bad = ResourceSpec(
        "s",
        "product",
        "variants",
        (FieldSpec("key", "sku"),),
        (FieldSpec("image", "images[0].src"),),
    )
    with pytest.raises(SourceFatalError, match="not a dotted GraphQL field path"):
        shop.read(bad)


def test_unknown_resource(shop: ShopifyConnector) -> None:
    bad = ResourceSpec("s", "product", "orders", (FieldSpec("key", "name"),), ())
    with pytest.raises(SourceFatalError, match="unknown shopify resource 'orders'"):
        shop.read(bad)


def test_changes_are_attributed_from_events(
    shop: ShopifyConnector, served: responses.RequestsMock
) -> None:
    fake = FakeShopify()
    served.add_callback(responses.POST, GRAPHQL, callback=fake, content_type="application/json")
    changes = list(shop.read_changes(spec(), datetime(2024, 5, 1, tzinfo=UTC)))
    assert [(c.key, c.field, c.changed_by) for c in changes] == [
        (("CAP-GRY",), "price", "ERP Connector"),
        (("SCARF-RED",), "price", "staff"),  # from the product's event
    ]
    assert all(c.changed_at.tzinfo is not None for c in changes)
    searches = [q["variables"]["query"] for q in fake.queries]
    assert searches[0] == "(updated_at:>='2024-05-01T00:00:00Z')"
    assert "subject_type:PRODUCT_VARIANT" in searches[1]


def test_changes_without_change_fields_say_the_record_changed(
    tmp_path: Path, served: responses.RequestsMock
) -> None:
    shop = connector(tmp_path, events=False)
    fake = FakeShopify()
    served.add_callback(responses.POST, GRAPHQL, callback=fake, content_type="application/json")
    plain = ResourceSpec("s", "product", "variants", (FieldSpec("key", "sku"),), ())
    changes = list(shop.read_changes(plain, datetime(2024, 5, 1, tzinfo=UTC)))
    assert {c.field for c in changes} == {RECORD_CHANGE}
    assert {c.changed_by for c in changes} == {None}
    assert len(fake.queries) == 1  # no events query


def test_events_without_permission_degrade_to_no_writer(
    shop: ShopifyConnector, served: responses.RequestsMock
) -> None:
    fake = FakeShopify()

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        if "events(" in json.loads(request.body)["query"]:
            denied = {"message": "Access denied", "extensions": {"code": "ACCESS_DENIED"}}
            return 200, {}, json.dumps({"errors": [denied]})
        return fake(request)

    served.add_callback(responses.POST, GRAPHQL, callback=callback, content_type="application/json")
    with capture_logs() as logs:
        changes = list(shop.read_changes(spec(), datetime(2024, 5, 1, tzinfo=UTC)))
    assert [c.changed_by for c in changes] == [None, None]
    assert any(e["event"] == "shopify_events_unavailable" for e in logs)


INVENTORY = [
    {
        "id": "gid://shopify/InventoryItem/7001",
        "sku": "CAP-GRY",
        "updatedAt": "2024-04-01T00:00:00Z",
        "inventoryLevels": {
            "nodes": [
                {
                    "location": {"id": "gid://shopify/Location/1", "name": "Berlin"},
                    "quantities": [
                        {"name": "available", "quantity": 7, "updatedAt": "2024-05-02T09:00:00Z"},
                        {"name": "on_hand", "quantity": 9, "updatedAt": "2024-04-01T00:00:00Z"},
                    ],
                },
                {
                    "location": {"id": "gid://shopify/Location/2", "name": "Hamburg"},
                    "quantities": [
                        {"name": "available", "quantity": 3, "updatedAt": "2024-04-01T00:00:00Z"}
                    ],
                },
            ],
            "pageInfo": {"hasNextPage": False},
        },
    }
]


def inventory_spec(**options: Any) -> ResourceSpec:
    return ResourceSpec(
        "storefront",
        "inventory",
        "inventory_levels",
        (FieldSpec("key.0", "sku"), FieldSpec("key.1", "location")),
        (FieldSpec("stock", "available"), FieldSpec("on_hand", "on_hand")),
        options=options,
    )


def test_inventory_levels_one_record_per_location(
    shop: ShopifyConnector, served: responses.RequestsMock
) -> None:
    fake = FakeShopify(connections={"inventoryItems": INVENTORY})
    served.add_callback(responses.POST, GRAPHQL, callback=fake, content_type="application/json")
    frame = shop.read(inventory_spec())
    assert frame.data.select("sku", "location", "available", "on_hand").rows() == [
        ("CAP-GRY", "Berlin", "7", "9"),
        ("CAP-GRY", "Hamburg", "3", None),
    ]
    only = shop.read(inventory_spec(locations=["Hamburg"]))
    assert only.data["location"].to_list() == ["Hamburg"]
    changes = list(shop.read_changes(inventory_spec(), datetime(2024, 5, 1, tzinfo=UTC)))
    assert [(c.key, c.field, c.new_value) for c in changes] == [
        (("CAP-GRY", "Berlin"), "available", "7")
    ]


def test_customers_email_and_phone_aliases(
    shop: ShopifyConnector, served: responses.RequestsMock
) -> None:
    customers = [
        {
            "id": "gid://shopify/Customer/1",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "defaultEmailAddress": {"emailAddress": "ada@example.com"},
            "defaultPhoneNumber": {"phoneNumber": "+4930123"},
            "updatedAt": "2024-05-02T09:14:00Z",
        }
    ]
    fake = FakeShopify(connections={"customers": customers})
    served.add_callback(responses.POST, GRAPHQL, callback=fake, content_type="application/json")
    customer_spec = ResourceSpec(
        "storefront",
        "customer",
        "customers",
        (FieldSpec("key", "email"),),
        (FieldSpec("phone", "phone"), FieldSpec("first_name", "firstName")),
    )
    frame = shop.read(customer_spec)
    assert frame.data.select("email", "phone", "firstName").rows() == [
        ("ada@example.com", "+4930123", "Ada")
    ]
    assert "defaultEmailAddress { emailAddress }" in fake.queries[0]["query"]
    shop.read(customer_spec, keys=[("ada@example.com",)])
    assert fake.queries[1]["variables"]["query"] == '(email:"ada@example.com")'
