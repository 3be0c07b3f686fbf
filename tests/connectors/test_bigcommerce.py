"""BigCommerce v3 connector: pages, 429 reset header, bad bodies, credentials, loops, types."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses
from pydantic import ValidationError
from structlog.testing import capture_logs

from connectors.base import FieldSpec, ResourceSpec
from connectors.bigcommerce import BigCommerceConnector, BigCommerceOptions
from detector.errors import (
    InvalidPayloadError,
    PaginationLoopError,
    RateLimitedError,
    SourceFatalError,
)
from tests.connectors.cases.bigcommerce import (
    PAGE_1,
    PAGE_2,
    PRODUCTS_URL,
    STORE,
    TOKEN,
    body,
    connector,
    spec,
)

BASE = f"https://api.bigcommerce.com/stores/{STORE}/v3"


def _params(request: Any) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(request.url).query))


@pytest.fixture
def bc(tmp_path: Path, slept: list[float]) -> BigCommerceConnector:
    return connector(tmp_path)


def test_reads_every_page_and_flattens_variants(
    bc: BigCommerceConnector, mock: responses.RequestsMock
) -> None:
    mock.get(PRODUCTS_URL, json=body(PAGE_1, 1, 2, 3))
    mock.get(PRODUCTS_URL, json=body(PAGE_2, 2, 2, 3))
    frame = bc.read(spec())
    assert frame.data["sku"].to_list() == ["CAP-GRY", "CAP-BLU", "SCARF-RED", "GLV-M"]
    assert frame.data["product.name"].to_list() == ["Wool Cap", "Wool Cap", "Scarf", "Gloves"]
    assert frame.complete
    assert [_params(c.request) for c in mock.calls] == [
        {"include": "variants", "page": "1", "limit": "2"},
        {"include": "variants", "page": "2", "limit": "2"},
    ]
    assert mock.calls[0].request.headers["X-Auth-Token"] == TOKEN


def test_429_with_reset_header_then_success(
    bc: BigCommerceConnector, mock: responses.RequestsMock
) -> None:
    mock.get(
        PRODUCTS_URL,
        status=429,
        headers={"X-Rate-Limit-Time-Reset-Ms": "4500", "X-Rate-Limit-Requests-Left": "0"},
        json={"status": 429, "title": "Too many requests"},
    )
    mock.get(PRODUCTS_URL, json=body(PAGE_1 + PAGE_2, 1, 1, 3))
    assert bc.read(spec()).height == 4
    assert len(mock.calls) == 2


def test_429_reset_beyond_the_cap_is_rate_limited(
    tmp_path: Path, mock: responses.RequestsMock, slept: list[float]
) -> None:
    bc = connector(tmp_path, retry_after_cap=5)
    mock.get(PRODUCTS_URL, status=429, headers={"X-Rate-Limit-Time-Reset-Ms": "30000"})
    with pytest.raises(RateLimitedError) as caught:
        bc.read(spec())
    assert caught.value.retry_after == 30
    assert slept == []


def test_spent_quota_waits_for_the_window(
    bc: BigCommerceConnector, mock: responses.RequestsMock, slept: list[float]
) -> None:
    quota = {"X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": "1200"}
    mock.get(PRODUCTS_URL, json=body(PAGE_1, 1, 2, 3), headers=quota)
    mock.get(PRODUCTS_URL, json=body(PAGE_2, 2, 2, 3))
    assert bc.read(spec()).height == 4
    assert slept == [1.2]


def test_error_document_inside_a_200(
    bc: BigCommerceConnector, mock: responses.RequestsMock
) -> None:
    mock.get(
        PRODUCTS_URL,
        json={"status": 422, "title": "Invalid include", "type": "about:blank", "errors": {}},
    )
    with pytest.raises(InvalidPayloadError, match="expected a list of records at 'data'"):
        bc.read(spec())


def test_bad_credentials(bc: BigCommerceConnector, mock: responses.RequestsMock) -> None:
    mock.get(PRODUCTS_URL, status=401, json={"status": 401, "title": f"bad token {TOKEN}"})
    with capture_logs() as logs, pytest.raises(SourceFatalError, match="authentication") as err:
        bc.read(spec())
    assert TOKEN not in str(err.value)
    assert TOKEN not in repr(logs)


def test_unknown_store_is_a_404_naming_the_endpoint(
    bc: BigCommerceConnector, mock: responses.RequestsMock
) -> None:
    mock.get(PRODUCTS_URL, status=404, json={"status": 404, "title": "Not found"})
    with pytest.raises(SourceFatalError, match="catalog/products"):
        bc.read(spec())


def test_truncated_body(bc: BigCommerceConnector, mock: responses.RequestsMock) -> None:
    text = json.dumps(body(PAGE_1, 1, 2, 3))
    mock.get(PRODUCTS_URL, body=text[:-40], content_type="application/json")
    with pytest.raises(InvalidPayloadError, match="truncated"):
        bc.read(spec())


def test_server_ignoring_the_page_parameter_is_a_loop(
    bc: BigCommerceConnector, mock: responses.RequestsMock
) -> None:
    mock.get(PRODUCTS_URL, json=body(PAGE_1, 1, 5, 10))
    mock.get(PRODUCTS_URL, json=body(PAGE_1, 1, 5, 10))
    with pytest.raises(PaginationLoopError, match="same page"):
        bc.read(spec())


def test_page_cap(tmp_path: Path, mock: responses.RequestsMock, slept: list[float]) -> None:
    bc = connector(tmp_path, max_pages=2)
    mock.get(PRODUCTS_URL, json=body(PAGE_1, 1, 99, 200))
    mock.get(PRODUCTS_URL, json=body(PAGE_2, 2, 99, 200))
    with pytest.raises(PaginationLoopError, match="page cap of 2"):
        bc.read(spec())


def test_declared_total_mismatch_marks_the_frame_incomplete(
    bc: BigCommerceConnector, mock: responses.RequestsMock
) -> None:
    mock.get(PRODUCTS_URL, json=body(PAGE_1, 1, 2, 5))
    mock.get(PRODUCTS_URL, json=body(PAGE_2, 2, 2, 5))
    frame = bc.read(spec())
    assert frame.height == 4
    assert not frame.complete


def test_fields_of_the_wrong_type(bc: BigCommerceConnector, mock: responses.RequestsMock) -> None:
    odd = dict(PAGE_1[0], variants=[{"sku": "CAP-GRY", "calculated_price": "12,50"}, "oops"])
    bad_variants = dict(PAGE_1[1], variants={"sku": "x"})
    mock.get(PRODUCTS_URL, json=body([odd, bad_variants], 1, 1, 2))
    frame = bc.read(spec())
    assert frame.data["calculated_price"].to_list() == ["12,50"]
    assert len(frame.problems) == 1  # the string variant; a non-list 'variants' yields none


def test_store_hash_is_validated() -> None:
    with pytest.raises(ValidationError, match="store hash"):
        BigCommerceOptions(store_hash="abc/../x", token="t")


def test_changes_use_date_modified(bc: BigCommerceConnector, mock: responses.RequestsMock) -> None:
    mock.get(PRODUCTS_URL, json=body(PAGE_2, 1, 1, 1))
    since = datetime(2024, 5, 3, tzinfo=UTC)
    product_spec = ResourceSpec(
        "storefront",
        "product",
        "products",
        (FieldSpec("key", "sku"),),
        (FieldSpec("price", "price"),),
        options={"change_fields": ["price"]},
    )
    changes = list(bc.read_changes(product_spec, since))
    assert [(c.key, c.field) for c in changes] == [(("GLO",), "price")]
    assert changes[0].changed_at == datetime(2024, 5, 3, 12, tzinfo=UTC)
    assert _params(mock.calls[0].request)["date_modified:min"] == "2024-05-03T00:00:00+00:00"


def test_inventory_one_record_per_location(
    bc: BigCommerceConnector, mock: responses.RequestsMock
) -> None:
    items = [
        {
            "identity": {"sku": "CAP-GRY", "variant_id": 301, "product_id": 77, "sku_id": 9},
            "locations": [
                {"location_id": 1, "available_to_sell": 7, "total_inventory_onhand": 9},
                {"location_id": 2, "available_to_sell": 3, "total_inventory_onhand": 3},
            ],
        }
    ]
    mock.get(f"{BASE}/inventory/items", json=body(items, 1, 1, 1))
    inventory = ResourceSpec(
        "storefront",
        "inventory",
        "inventory",
        (FieldSpec("key.0", "sku"), FieldSpec("key.1", "location_id")),
        (FieldSpec("stock", "available_to_sell"),),
    )
    frame = bc.read(inventory, keys=[("CAP-GRY", "2")])
    assert frame.data.select("sku", "location_id", "available_to_sell").rows() == [
        ("CAP-GRY", "2", "3")
    ]
    assert list(bc.read_changes(inventory, None)) == []


def test_customers(bc: BigCommerceConnector, mock: responses.RequestsMock) -> None:
    customers: list[dict[str, Any]] = [
        {
            "id": 1,
            "email": "ada@example.com",
            "first_name": "Ada",
            "phone": "+4930123",
            "date_modified": "2024-05-02T09:14:00Z",
        }
    ]
    mock.get(f"{BASE}/customers", json=body(customers, 1, 1, 1))
    customer = ResourceSpec(
        "crm", "customer", "customers", (FieldSpec("key", "email"),), (FieldSpec("phone", "phone"),)
    )
    assert bc.read(customer).data.select("email", "phone").rows() == [
        ("ada@example.com", "+4930123")
    ]
