"""The parquet connector: typed columns rendered as text, lazy keys, bad files, change logs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from connectors.base import ROW_COLUMN, ConnectorContext
from connectors.parquet_file import ParquetConnector, ParquetOptions
from detector.errors import SourceFatalError
from tests.connectors.conftest import make_spec


def connector(tmp_path: Path) -> ParquetConnector:
    return ParquetConnector("erp", ParquetOptions(), ConnectorContext(base_dir=tmp_path))


def test_typed_values_render_as_text(tmp_path: Path) -> None:
    pl.DataFrame(
        {
            "sku": ["A", "B"],
            "location": [1, 2],
            "price": [19.99, 20.0],
            "cost": pl.Series([Decimal("19.90"), Decimal("5")], dtype=pl.Decimal(10, 2)),
            "weight": pl.Series([0.1, 2.5], dtype=pl.Float32),
            "active": [True, None],
            "since": [date(2024, 5, 1), None],
            "updated": [datetime(2024, 5, 1, 9, 30), datetime(2024, 5, 1, 9, 30, 0, 500000)],
            "tags": [["x", "y"], []],
            "dims": [{"w": 1, "h": 2}, None],
        }
    ).write_parquet(tmp_path / "products.parquet")
    fields = {
        name: name
        for name in ("price", "cost", "weight", "active", "since", "updated", "tags", "dims")
    }
    spec = make_spec("products", ["sku", "location"], fields)
    frame = connector(tmp_path).read(spec)
    assert frame.data.columns == [*spec.paths, ROW_COLUMN]
    assert all(frame.data.schema[p] == pl.Utf8 for p in spec.paths)
    assert frame.data.rows() == [
        (
            "A", "1", "19.99", "19.90", "0.1", "true", "2024-05-01", "2024-05-01T09:30:00",
            '["x","y"]', '{"h":2,"w":1}', 1,
        ),
        ("B", "2", "20.0", "5.00", "2.5", None, None, "2024-05-01T09:30:00.500", "[]", None, 2),
    ]  # fmt: skip


def test_timezone_aware_timestamps_keep_their_offset(tmp_path: Path) -> None:
    pl.DataFrame({"sku": ["A"], "at": [datetime(2024, 5, 1, 9, tzinfo=UTC)]}).write_parquet(
        tmp_path / "p.parquet"
    )
    frame = connector(tmp_path).read(make_spec("p", "sku", {"at": "at"}))
    assert frame.data.item(0, "at") == "2024-05-01T09:00:00+00:00"


def test_keys_filter_lazily_and_exactly(tmp_path: Path) -> None:
    pl.DataFrame({"sku": [f"S{n}" for n in range(1000)], "qty": list(range(1000))}).write_parquet(
        tmp_path / "stock.parquet"
    )
    spec = make_spec("stock", "sku", {"stock": "qty"})
    frame = connector(tmp_path).read(spec, keys=[("S999",), ("S5",), ("nope",)])
    assert sorted(frame.data.rows()) == [("S5", "5", 6), ("S999", "999", 1000)]
    assert connector(tmp_path).read(spec, keys=[]).data.height == 0


def test_empty_key_is_a_problem(tmp_path: Path) -> None:
    pl.DataFrame({"sku": ["A", None, ""], "qty": [1, 2, 3]}).write_parquet(tmp_path / "s.parquet")
    frame = connector(tmp_path).read(make_spec("s", "sku", {"stock": "qty"}))
    assert frame.data.rows() == [("A", "1", 1)]
    assert [(p.row, p.field, p.resource) for p in frame.problems] == [
        (2, "sku", "s.parquet"),
        (3, "sku", "s.parquet"),
    ]
    assert frame.records_read == 3


def test_absent_column_names_file_column_and_available_ones(tmp_path: Path) -> None:
    pl.DataFrame({"code": ["A"], "qty": [1]}).write_parquet(tmp_path / "s.parquet")
    with pytest.raises(SourceFatalError, match=r"s\.parquet has no column 'sku'; it has: 'code'"):
        connector(tmp_path).read(make_spec("s", "sku", {"stock": "qty"}))


def test_missing_file_and_not_a_parquet_file(tmp_path: Path) -> None:
    spec = make_spec("s", "sku")
    with pytest.raises(SourceFatalError, match=r"file not found: .*s\.parquet"):
        connector(tmp_path).read(spec)
    (tmp_path / "s.parquet").write_text("sku\nA\n")
    with pytest.raises(SourceFatalError, match=r"s\.parquet is not a readable Parquet file"):
        connector(tmp_path).read(spec)


def test_change_log_in_parquet(tmp_path: Path) -> None:
    pl.DataFrame(
        {
            "sku": ["A", "B", "C"],
            "location": [1, 1, 2],
            "field": ["qty", "qty", "qty"],
            "changed_at": [datetime(2024, 5, 1, 9), datetime(2024, 4, 1), datetime(2024, 5, 3)],
            "changed_by": ["erp-sync", "x", None],
        }
    ).write_parquet(tmp_path / "changes.parquet")
    spec = make_spec("stock", ["sku", "location"], changes="changes")
    changes = list(connector(tmp_path).read_changes(spec, datetime(2024, 5, 1, tzinfo=UTC)))
    assert [(c.key, c.changed_at, c.changed_by) for c in changes] == [
        (("A", "1"), datetime(2024, 5, 1, 9, tzinfo=UTC), "erp-sync"),
        (("C", "2"), datetime(2024, 5, 3, tzinfo=UTC), None),
    ]


def test_change_log_may_be_csv(tmp_path: Path) -> None:
    (tmp_path / "changes.csv").write_text("key,field,changed_at\nA,qty,2024-05-01T09:00:00Z\n")
    changes = list(connector(tmp_path).read_changes(make_spec("s", "sku", changes="changes"), None))
    assert [c.key for c in changes] == [("A",)]


def test_change_log_missing_columns_is_fatal(tmp_path: Path) -> None:
    pl.DataFrame({"sku": ["A"], "field": ["qty"]}).write_parquet(tmp_path / "changes.parquet")
    with pytest.raises(SourceFatalError, match="lacks 'changed_at'"):
        list(connector(tmp_path).read_changes(make_spec("s", "sku", changes="changes"), None))
