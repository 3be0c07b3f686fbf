"""Contract case for the csv connector: stock per SKU and warehouse, with a change log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from connectors.base import ConnectorContext, FieldSpec, ResourceSpec
from connectors.csv_file import CsvConnector, CsvOptions
from tests.connectors.contract import ContractCase

STOCK = """\
sku,location,qty,price,title,status
SKU-1,WH-EAST,12,19.90,"Mug, blue",active
SKU-1,WH-WEST,0,19.90,"Mug, blue",active
SKU-2,WH-EAST,5,,Plate,archived
"""
CHANGES = """\
sku,location,field,changed_at,changed_by,old_value,new_value
SKU-1,WH-EAST,qty,2024-05-01T09:00:00Z,erp-sync,10,12
SKU-2,WH-EAST,price,2024-05-02T10:30:00+02:00,staff,3.00,
SKU-1,WH-WEST,qty,2024-04-01T00:00:00Z,erp-sync,1,0
"""

SPEC = ResourceSpec(
    system="storefront",
    entity="inventory",
    resource="stock",
    key=(FieldSpec("key.0", "sku"), FieldSpec("key.1", "location")),
    fields=(FieldSpec("stock", "qty"), FieldSpec("price", "price"), FieldSpec("title", "title")),
    where={"status": ("active",)},
    changes="stock_changes",
)

EXPECTED: list[dict[str, str | None]] = [
    {
        "sku": "SKU-1",
        "location": "WH-EAST",
        "qty": "12",
        "price": "19.90",
        "title": "Mug, blue",
        "status": "active",
    },
    {
        "sku": "SKU-1",
        "location": "WH-WEST",
        "qty": "0",
        "price": "19.90",
        "title": "Mug, blue",
        "status": "active",
    },
    {
        "sku": "SKU-2",
        "location": "WH-EAST",
        "qty": "5",
        "price": None,
        "title": "Plate",
        "status": "archived",
    },
]


def case(tmp_path: Path) -> ContractCase:
    data = tmp_path / "data"
    data.mkdir()
    (data / "stock.csv").write_text(STOCK, encoding="utf-8")
    (data / "stock_changes.csv").write_text(CHANGES, encoding="utf-8")
    connector = CsvConnector(
        "storefront", CsvOptions(directory="data"), ConnectorContext(base_dir=tmp_path)
    )
    return ContractCase(
        connector=connector,
        spec=SPEC,
        expected=EXPECTED,
        subset=[("SKU-1", "WH-WEST"), ("SKU-2", "WH-EAST")],
        since=datetime(2024, 5, 1, tzinfo=UTC),
        min_changes=2,
    )
