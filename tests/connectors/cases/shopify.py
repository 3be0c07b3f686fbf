"""Contract case for the shopify connector, served by a small fake GraphQL Admin API."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import responses

from connectors.base import ConnectorContext, FieldSpec, ResourceSpec
from connectors.shopify import ShopifyConnector, ShopifyOptions
from tests.connectors.contract import ContractCase

SHOP = "https://fw-test.myshopify.com"
GRAPHQL = f"{SHOP}/admin/api/2025-04/graphql.json"
TOKEN = "shpat_CANARY_0123456789abcdef"


def variant(
    n: int, sku: str, price: str, qty: int, title: str, updated: str = "2024-05-02T09:14:00Z"
) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/ProductVariant/{9000 + n}",
        "sku": sku,
        "price": price,
        "compareAtPrice": None,
        "inventoryQuantity": qty,
        "updatedAt": updated,
        "inventoryItem": {"unitCost": {"amount": "8.10", "currencyCode": "EUR"}},
        "product": {"id": f"gid://shopify/Product/{100 + n}", "title": title},
    }


VARIANTS: list[dict[str, Any]] = [
    variant(1, "CAP-GRY", "24.00", 12, "Wool Cap"),
    variant(2, "CAP-BLU", "24.00", 0, "Wool Cap", "2024-04-01T00:00:00Z"),
    variant(3, "SCARF-RED", "39.90", 5, "Scarf"),
]
EVENTS: list[dict[str, Any]] = [
    {
        "id": "gid://shopify/BasicEvent/1",
        "createdAt": "2024-05-02T09:14:00Z",
        "action": "update",
        "appTitle": "ERP Connector",
        "attributeToApp": True,
        "attributeToUser": False,
        "subjectId": "gid://shopify/ProductVariant/9001",
        "subjectType": "PRODUCT_VARIANT",
    },
    {
        "id": "gid://shopify/BasicEvent/2",
        "createdAt": "2024-05-02T10:00:00Z",
        "action": "update",
        "appTitle": None,
        "attributeToApp": False,
        "attributeToUser": True,
        "subjectId": "gid://shopify/Product/103",
        "subjectType": "PRODUCT",
    },
]
COST = {
    "cost": {
        "requestedQueryCost": 12,
        "actualQueryCost": 6,
        "throttleStatus": {
            "maximumAvailable": 2000.0,
            "currentlyAvailable": 1990,
            "restoreRate": 100.0,
        },
    }
}


@dataclass
class FakeShopify:
    """Answers productVariants/products/customers/inventoryItems/events queries from lists."""

    connections: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"productVariants": VARIANTS, "events": EVENTS}
    )
    queries: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        if request.headers.get("X-Shopify-Access-Token") != TOKEN:
            return 401, {}, json.dumps({"errors": "[API] Invalid API key or access token"})
        body = json.loads(request.body or b"{}")
        self.queries.append(body)
        connection = re.search(r"\{ (\w+)\(first:", body["query"])
        assert connection is not None, body["query"]
        name = connection.group(1)
        variables = body.get("variables", {})
        nodes = [n for n in self.connections.get(name, []) if _matches(n, variables.get("query"))]
        start = int(variables.get("after") or 0)
        first = int(variables["first"])
        page = nodes[start : start + first]
        more = start + first < len(nodes)
        data = {
            name: {
                "nodes": page,
                "pageInfo": {
                    "hasNextPage": more,
                    "endCursor": str(start + first) if more else None,
                },
            }
        }
        return 200, {}, json.dumps({"data": data, "extensions": COST})


def _matches(node: dict[str, Any], query: str | None) -> bool:
    if not query:
        return True
    skus = re.findall(r'sku:"([^"]*)"', query)
    if skus and node.get("sku") not in skus:
        return False
    subject = re.search(r"subject_type:(\w+)", query)
    if subject and node.get("subjectType") != subject.group(1):
        return False
    since = re.search(r"(?:updated_at|created_at):>='([^']+)'", query)
    stamp = node.get("updatedAt") or node.get("createdAt")
    return not since or (stamp is not None and stamp >= since.group(1))


def spec() -> ResourceSpec:
    return ResourceSpec(
        system="storefront",
        entity="product",
        resource="variants",
        key=(FieldSpec("key", "sku"),),
        fields=(
            FieldSpec("price", "price"),
            FieldSpec("stock", "inventoryQuantity"),
            FieldSpec("title", "product.title"),
            FieldSpec("cost", "inventoryItem.unitCost.amount"),
        ),
        options={"change_fields": ["price"]},
    )


def connector(tmp_path: Path, *, plain: bool = False, **options: Any) -> ShopifyConnector:
    """A connector on the real session factory (retries on), or on a plain session."""
    settings = ShopifyOptions.model_validate(
        {"url": SHOP, "token": TOKEN, "page_size": 2, "backoff_factor": 0, **options}
    )
    context = ConnectorContext(base_dir=tmp_path, session=requests.Session() if plain else None)
    return ShopifyConnector("storefront", settings, context)


def case(tmp_path: Path) -> ContractCase:
    fake = FakeShopify()

    def mock(rsps: responses.RequestsMock) -> None:
        rsps.add_callback(responses.POST, GRAPHQL, callback=fake, content_type="application/json")

    return ContractCase(
        connector=connector(tmp_path, plain=True),
        spec=spec(),
        expected=[
            {
                "sku": v["sku"],
                "price": v["price"],
                "inventoryQuantity": str(v["inventoryQuantity"]),
                "product.title": v["product"]["title"],
                "inventoryItem.unitCost.amount": "8.10",
            }
            for v in VARIANTS
        ],
        subset=[("CAP-GRY",), ("SCARF-RED",)],
        mock=mock,
        since=datetime(2024, 5, 1, tzinfo=UTC),
        min_changes=2,
    )
