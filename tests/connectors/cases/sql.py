"""Contract case for the sql connector: a real SQLite file with typed columns and a change table."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from connectors.base import ConnectorContext, FieldSpec, ResourceSpec
from connectors.sql import SqlConnector, SqlOptions
from tests.connectors.contract import ContractCase

METADATA = sa.MetaData()
STOCK = sa.Table(
    "stock",
    METADATA,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("warehouse", sa.Integer, primary_key=True),
    sa.Column("qty", sa.Integer),
    sa.Column("list_price", sa.Numeric(10, 2)),
    sa.Column("active", sa.Boolean),
)
CHANGES = sa.Table(
    "stock_changes",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(32)),
    sa.Column("warehouse", sa.Integer),
    sa.Column("field", sa.String(64)),
    sa.Column("changed_at", sa.DateTime),
    sa.Column("changed_by", sa.String(64)),
    sa.Column("old_value", sa.String),
    sa.Column("new_value", sa.String),
)
ROWS = [
    {"code": "SKU-1", "warehouse": 1, "qty": 12, "list_price": Decimal("19.90"), "active": True},
    {"code": "SKU-1", "warehouse": 2, "qty": 0, "list_price": Decimal("19.9"), "active": True},
    {"code": "SKU-2", "warehouse": 1, "qty": None, "list_price": Decimal("5"), "active": False},
]
CHANGE_ROWS = [
    {
        "code": "SKU-1",
        "warehouse": 1,
        "field": "qty",
        "changed_at": datetime(2024, 5, 1, 9),
        "changed_by": "erp-admin",
        "old_value": "10",
        "new_value": "12",
    },
    {
        "code": "SKU-2",
        "warehouse": 1,
        "field": "list_price",
        "changed_at": datetime(2024, 5, 2),
        "changed_by": "import",
        "old_value": None,
        "new_value": "5.00",
    },
    {
        "code": "SKU-2",
        "warehouse": 1,
        "field": "qty",
        "changed_at": datetime(2024, 4, 2),
        "changed_by": "import",
        "old_value": None,
        "new_value": None,
    },
]

SPEC = ResourceSpec(
    system="erp",
    entity="inventory",
    resource="stock",
    key=(FieldSpec("key.0", "code"), FieldSpec("key.1", "warehouse")),
    fields=(FieldSpec("stock", "qty"), FieldSpec("price", "list_price")),
    where={"active": ("true",)},
    changes="stock_changes",
)

EXPECTED: list[dict[str, str | None]] = [
    {"code": "SKU-1", "warehouse": "1", "qty": "12", "list_price": "19.90", "active": "true"},
    {"code": "SKU-1", "warehouse": "2", "qty": "0", "list_price": "19.90", "active": "true"},
    {"code": "SKU-2", "warehouse": "1", "qty": None, "list_price": "5.00", "active": "false"},
]


def populate(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        METADATA.create_all(engine)
        with engine.begin() as conn:
            conn.execute(STOCK.insert(), ROWS)
            conn.execute(CHANGES.insert(), CHANGE_ROWS)
    finally:
        engine.dispose()


def case(tmp_path: Path) -> ContractCase:
    (tmp_path / "data").mkdir()
    populate(f"sqlite:///{tmp_path / 'data' / 'erp.db'}")
    connector = SqlConnector(
        "erp", SqlOptions(url="sqlite:///data/erp.db"), ConnectorContext(base_dir=tmp_path)
    )
    return ContractCase(
        connector=connector,
        spec=SPEC,
        expected=EXPECTED,
        subset=[("SKU-1", "2"), ("SKU-2", "1")],
        since=datetime(2024, 5, 1, tzinfo=UTC),
        min_changes=2,
    )
