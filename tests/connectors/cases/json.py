"""Contract case for the json connector: nested PIM-style product records, with a change log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.base import ConnectorContext, FieldSpec, ResourceSpec
from connectors.json_file import JsonConnector, JsonOptions
from tests.connectors.contract import ContractCase

PRODUCTS: list[dict[str, Any]] = [
    {
        "identifier": "SKU-1",
        "content": {"name": "Mug", "body": "<p>Blue</p>"},
        "price": {"amount": 19.90},
        "tags": ["kitchen"],
        "enabled": True,
    },
    {
        "identifier": "SKU-2",
        "content": {"name": "Plate"},
        "price": {"amount": 5},
        "tags": [],
        "enabled": False,
    },
    {"identifier": "SKU-3", "content": {"name": "Bowl", "body": None}, "enabled": True},
]
CHANGES = [
    {
        "key": "SKU-1",
        "field": "content.name",
        "changed_at": "2024-05-01T09:00:00Z",
        "changed_by": "pim-user",
    },
    {"key": "SKU-3", "field": "title", "changed_at": "2024-05-03T09:00:00"},
]

SPEC = ResourceSpec(
    system="pim",
    entity="product",
    resource="products",
    key=(FieldSpec("key", "identifier"),),
    fields=(
        FieldSpec("title", "content.name"),
        FieldSpec("description", "content.body"),
        FieldSpec("price", "price.amount"),
        FieldSpec("tag", "tags[0]"),
    ),
    where={"enabled": ("true",)},
    changes="product_changes",
)

EXPECTED: list[dict[str, str | None]] = [
    {
        "identifier": "SKU-1",
        "content.name": "Mug",
        "content.body": "<p>Blue</p>",
        "price.amount": "19.90",
        "tags[0]": "kitchen",
        "enabled": "true",
    },
    {
        "identifier": "SKU-2",
        "content.name": "Plate",
        "content.body": None,
        "price.amount": "5",
        "tags[0]": None,
        "enabled": "false",
    },
    {
        "identifier": "SKU-3",
        "content.name": "Bowl",
        "content.body": None,
        "price.amount": None,
        "tags[0]": None,
        "enabled": "true",
    },
]


def case(tmp_path: Path) -> ContractCase:
    # written by hand so that 19.90 keeps its trailing zero, as a PIM export would
    (tmp_path / "products.json").write_text(
        json.dumps(PRODUCTS, indent=1).replace("19.9", "19.90"), encoding="utf-8"
    )
    (tmp_path / "product_changes.jsonl").write_text(
        "\n".join(json.dumps(c) for c in CHANGES) + "\n", encoding="utf-8"
    )
    connector = JsonConnector("pim", JsonOptions(), ConnectorContext(base_dir=tmp_path))
    return ContractCase(
        connector=connector,
        spec=SPEC,
        expected=EXPECTED,
        subset=[("SKU-3",), ("SKU-1",)],
        since=datetime(2024, 5, 1, tzinfo=UTC),
        min_changes=2,
    )
