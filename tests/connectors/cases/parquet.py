"""Contract case for the parquet connector: typed columns rendered as text, composite key."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl

from connectors.base import ConnectorContext, FieldSpec, ResourceSpec
from connectors.parquet_file import ParquetConnector, ParquetOptions
from tests.connectors.contract import ContractCase

SPEC = ResourceSpec(
    system="erp",
    entity="inventory",
    resource="stock",
    key=(FieldSpec("key.0", "sku"), FieldSpec("key.1", "location")),
    fields=(FieldSpec("stock", "qty"), FieldSpec("price", "price"), FieldSpec("cost", "cost")),
    changes="stock_changes",
)

EXPECTED: list[dict[str, str | None]] = [
    {"sku": "SKU-1", "location": "1", "qty": "12", "price": "19.90", "cost": "8.5"},
    {"sku": "SKU-1", "location": "2", "qty": "0", "price": "19.90", "cost": "19.99"},
    {"sku": "SKU-2", "location": "1", "qty": None, "price": "5.00", "cost": None},
]


def write(tmp_path: Path) -> None:
    pl.DataFrame(
        {
            "sku": ["SKU-1", "SKU-1", "SKU-2"],
            "location": [1, 2, 1],
            "qty": [12, 0, None],
            "price": pl.Series(
                [Decimal("19.90"), Decimal("19.9"), Decimal("5")], dtype=pl.Decimal(10, 2)
            ),
            "cost": [8.5, 19.99, None],
            "ignored": ["x", "y", "z"],
        }
    ).write_parquet(tmp_path / "stock.parquet")
    pl.DataFrame(
        {
            "sku": ["SKU-1", "SKU-2"],
            "location": [1, 1],
            "field": ["qty", "price"],
            "changed_at": [datetime(2024, 5, 1, 9), datetime(2024, 5, 2, 9)],
            "changed_by": ["erp-sync", None],
        }
    ).write_parquet(tmp_path / "stock_changes.parquet")


def case(tmp_path: Path) -> ContractCase:
    write(tmp_path)
    connector = ParquetConnector(
        "erp", ParquetOptions(directory=str(tmp_path)), ConnectorContext(base_dir=Path("/"))
    )
    return ContractCase(
        connector=connector,
        spec=SPEC,
        expected=EXPECTED,
        subset=[("SKU-1", "2")],
        since=datetime(2024, 5, 1, tzinfo=UTC),
        min_changes=2,
    )
