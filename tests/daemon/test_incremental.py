"""The incremental job in-process: only changed keys are fetched; cursors and hashes commit with the run."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from connectors.base import KeyTuple, ResourceSpec, SourceFrame
from connectors.csv_file import CsvConnector
from detector.config import load_config
from detector.daemon.incremental import TOMBSTONE, run_incremental
from detector.storage import DiscrepancyFilter, Store
from tests.daemon.stack import STOREFRONT_ROWS, write_changes, write_storefront

BIG = 200_000
CHANGED = [f"SKU-{i:06d}" for i in range(0, BIG, BIG // 10)]

BIG_CONFIG = """\
version: 1
storage: sqlite:///fw.db
systems:
  erp: {connector: csv, directory: erp}
  storefront: {connector: csv, directory: storefront, writers: {erp-sync: erp}}
entities:
  product:
    systems:
      erp: {resource: products, key: code, fields: {price: list_price}, changes: product_changes}
      storefront: {resource: variants, key: sku, fields: {price: price}, changes: variant_changes}
ownership:
  product.price: {owner: erp, readers: [storefront], compare: money}
"""


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int | None]]:
    """Every CSV read as (system, number of keys asked for, or None for the whole resource)."""
    seen: list[tuple[str, int | None]] = []
    original = CsvConnector.read

    def counting(
        self: CsvConnector, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None
    ) -> SourceFrame:
        seen.append((spec.system, None if keys is None else len(keys)))
        return original(self, spec, keys=keys)

    monkeypatch.setattr(CsvConnector, "read", counting)
    return seen


def _write(path: Path, columns: list[str], rows: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


def test_ten_changed_keys_in_a_large_catalog_read_ten_keys(
    tmp_path: Path, reads: list[tuple[str, int | None]]
) -> None:
    _write(
        tmp_path / "erp/products.csv",
        ["code", "list_price"],
        ((f"SKU-{i:06d}", "10.00") for i in range(BIG)),
    )
    _write(tmp_path / "erp/product_changes.csv", ["code", "field", "changed_at"], [])
    changed = set(CHANGED)
    _write(
        tmp_path / "storefront/variants.csv",
        ["sku", "price"],
        ((f"SKU-{i:06d}", "9.99" if f"SKU-{i:06d}" in changed else "10.00") for i in range(BIG)),
    )
    _write(
        tmp_path / "storefront/variant_changes.csv",
        ["sku", "field", "changed_at", "changed_by"],
        [(k, "price", "2026-11-01T10:00:00Z", "erp-sync") for k in CHANGED],
    )
    (tmp_path / "fieldwarden.yaml").write_text(BIG_CONFIG, encoding="utf-8")
    config = load_config(tmp_path / "fieldwarden.yaml")
    with Store.open(config.storage_url) as store:
        outcome = run_incremental(config, "product", store, lock_wait=5)
        assert outcome.report is not None
        assert reads == [("erp", 10), ("storefront", 10)]  # never the catalog
        assert outcome.report.result.records == 20
        found = store.discrepancies(DiscrepancyFilter(status="all", kinds=("value_mismatch",)))
        assert sorted(d.key for d in found) == CHANGED
        assert store.cursor("storefront", "product") == "2026-11-01T10:00:00+00:00"

        reads.clear()  # the look-back re-reads the same 10 changes: same keys, nothing new
        again = run_incremental(config, "product", store, lock_wait=5)
        assert reads == [("erp", 10), ("storefront", 10)]
        assert again.report is not None
        assert again.report.outcome.opened == 0


def test_systems_without_a_change_log_are_compared_by_record_hashes(stack: Path) -> None:
    config = load_config(stack)
    erp_db = stack.parent / "erp.db"
    with Store.open(config.storage_url) as store:
        first = run_incremental(config, "product", store, lock_wait=5)
        assert first.changes.how == {"erp": "hash", "storefront": "change_log"}
        assert first.changes.keys == {("A",), ("B",), ("C",)}  # no hashes yet: every key
        assert len(store.record_hashes("erp", "product")) == 3

        assert run_incremental(config, "product", store, lock_wait=5).report is None  # no change

        with sqlite3.connect(erp_db) as conn:
            conn.execute("UPDATE products SET list_price = '21.00' WHERE code = 'B'")
            conn.execute("DELETE FROM products WHERE code = 'C'")
        changed = run_incremental(config, "product", store, lock_wait=5)
        assert changed.changes.keys == {("B",), ("C",)}
        assert changed.report is not None
        assert changed.report.result.records == 3  # B and C from the storefront, B from the ERP
        found = store.discrepancies(DiscrepancyFilter(kinds=("value_mismatch",)))
        assert [(d.key, d.owner_value) for d in found] == [("B", "21.00")]
        assert store.record_hashes("erp", "product")["C"] == TOMBSTONE

        assert run_incremental(config, "product", store, lock_wait=5).report is None


def test_cursor_and_hashes_are_not_committed_when_a_source_failed(stack: Path) -> None:
    config = load_config(stack)
    write_changes(
        stack.parent,
        [
            {
                "sku": "B",
                "field": "price",
                "changed_at": "2026-11-01T10:00:00Z",
                "changed_by": "jane",
                "old_value": "",
                "new_value": "",
            }
        ],
    )
    (stack.parent / "erp.db").unlink()
    (stack.parent / "erp.db").write_bytes(b"not a database")
    with Store.open(config.storage_url) as store:
        outcome = run_incremental(config, "product", store, lock_wait=5)
        assert outcome.report is not None
        assert outcome.report.outcome.status in ("partial", "failed")
        assert store.cursor("storefront", "product") is None
        assert store.record_hashes("erp", "product") == {}


def test_a_connector_that_cannot_fetch_by_key_falls_back_and_says_so(
    stack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CsvConnector, "supports_keys", False)
    write_changes(
        stack.parent,
        [
            {
                "sku": "B",
                "field": "price",
                "changed_at": "2026-11-01T10:00:00Z",
                "changed_by": "jane",
                "old_value": "20.00",
                "new_value": "18.99",
            }
        ],
    )
    write_storefront(
        stack.parent, [dict(r, price="18.99") if r["sku"] == "B" else r for r in STOREFRONT_ROWS]
    )
    config = load_config(stack)
    with Store.open(config.storage_url) as store, capture_logs() as logs:
        outcome = run_incremental(config, "product", store, lock_wait=5)
    fallbacks = [e for e in logs if e["event"] == "incremental_fallback"]
    assert [(e["system"], e["entity"]) for e in fallbacks] == [("storefront", "product")]
    assert outcome.report is not None
    assert any(
        d.key == "B" and d.kind == "value_mismatch" for d in outcome.report.outcome.discrepancies
    )
