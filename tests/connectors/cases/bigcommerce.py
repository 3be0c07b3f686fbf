"""Contract case for the bigcommerce connector: two pages of products with variants."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import responses
from responses import matchers

from connectors.base import ConnectorContext, FieldSpec, ResourceSpec
from connectors.bigcommerce import BigCommerceConnector, BigCommerceOptions
from tests.connectors.contract import ContractCase

STORE = "abc123"
PRODUCTS_URL = f"https://api.bigcommerce.com/stores/{STORE}/v3/catalog/products"
TOKEN = "bc_CANARY_0123456789abcdef"


def product(pid: int, name: str, modified: str, *variants: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": pid,
        "name": name,
        "sku": name.upper()[:3],
        "price": 24.0,
        "cost_price": 8.1,
        "inventory_level": 40,
        "date_modified": modified,
        "variants": list(variants),
    }


def variant(
    vid: int, sku: str, price: float | None, calculated: float, level: int
) -> dict[str, Any]:
    return {
        "id": vid,
        "sku": sku,
        "price": price,
        "calculated_price": calculated,
        "cost_price": 8.1,
        "inventory_level": level,
    }


PAGE_1 = [
    product(
        77,
        "Wool Cap",
        "2024-05-02T09:14:00+00:00",
        variant(301, "CAP-GRY", None, 24.0, 12),
        variant(302, "CAP-BLU", 22.5, 22.5, 0),
    ),
    product(78, "Scarf", "2024-04-01T00:00:00+00:00", variant(303, "SCARF-RED", 39.9, 39.9, 5)),
]
PAGE_2 = [product(79, "Gloves", "2024-05-03T12:00:00+00:00", variant(304, "GLV-M", 19.0, 19.0, 7))]


def body(records: list[dict[str, Any]], page: int, total_pages: int, total: int) -> dict[str, Any]:
    return {
        "data": records,
        "meta": {
            "pagination": {
                "total": total,
                "count": len(records),
                "per_page": 2,
                "current_page": page,
                "total_pages": total_pages,
                "links": {"current": f"?page={page}&limit=2"},
            }
        },
    }


def spec() -> ResourceSpec:
    return ResourceSpec(
        system="storefront",
        entity="product",
        resource="variants",
        key=(FieldSpec("key", "sku"),),
        fields=(
            FieldSpec("price", "calculated_price"),
            FieldSpec("stock", "inventory_level"),
            FieldSpec("title", "product.name"),
        ),
    )


def connector(tmp_path: Path, *, plain: bool = False, **options: Any) -> BigCommerceConnector:
    settings = BigCommerceOptions.model_validate(
        {"store_hash": STORE, "token": TOKEN, "page_size": 2, "backoff_factor": 0, **options}
    )
    context = ConnectorContext(base_dir=tmp_path, session=requests.Session() if plain else None)
    return BigCommerceConnector("storefront", settings, context)


def register_pages(rsps: responses.RequestsMock, extra: dict[str, str] | None = None) -> None:
    for number, records in ((1, PAGE_1), (2, PAGE_2)):
        params = {"include": "variants", "page": str(number), "limit": "2", **(extra or {})}
        rsps.get(
            PRODUCTS_URL,
            json=body(records, number, 2, 3),
            match=[
                matchers.query_param_matcher(params),
                matchers.header_matcher({"X-Auth-Token": TOKEN}),
            ],
        )


def case(tmp_path: Path) -> ContractCase:
    def mock(rsps: responses.RequestsMock) -> None:
        register_pages(rsps)
        register_pages(rsps, {"date_modified:min": "2024-05-01T00:00:00+00:00"})

    return ContractCase(
        connector=connector(tmp_path, plain=True),
        spec=spec(),
        expected=[
            {
                "sku": "CAP-GRY",
                "calculated_price": "24.0",
                "inventory_level": "12",
                "product.name": "Wool Cap",
            },
            {
                "sku": "CAP-BLU",
                "calculated_price": "22.5",
                "inventory_level": "0",
                "product.name": "Wool Cap",
            },
            {
                "sku": "SCARF-RED",
                "calculated_price": "39.9",
                "inventory_level": "5",
                "product.name": "Scarf",
            },
            {
                "sku": "GLV-M",
                "calculated_price": "19.0",
                "inventory_level": "7",
                "product.name": "Gloves",
            },
        ],
        subset=[("CAP-BLU",), ("GLV-M",)],
        mock=mock,
        since=datetime(2024, 5, 1, tzinfo=UTC),
        min_changes=3,
    )
