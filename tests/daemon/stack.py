"""A small stack for daemon tests: an ERP in SQLite (SQL connector), a storefront in CSV files."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

ERP_ROWS = [("A", "10.00", "5"), ("B", "20.00", "7"), ("C", "30.00", "1")]
STOREFRONT_ROWS = [
    {"sku": "A", "price": "10.00", "inventory_quantity": "5"},
    {"sku": "B", "price": "20.00", "inventory_quantity": "7"},
    {"sku": "C", "price": "30.00", "inventory_quantity": "1"},
]
CHANGE_COLUMNS = ["sku", "field", "changed_at", "changed_by", "old_value", "new_value"]

CONFIG = """\
version: 1
storage: "{storage}"
systems:
  erp: {{connector: sql, url: "sqlite:///erp.db"}}
  storefront:
    connector: csv
    directory: storefront
    writers: {{erp-sync: erp}}
entities:
  product:
    systems:
      erp: {{resource: products, key: code, fields: {{price: list_price, stock: qty}}}}
      storefront:
        resource: variants
        key: sku
        fields: {{price: price, stock: inventory_quantity}}
        changes: variant_changes
ownership:
  product.price: {{owner: erp, readers: [storefront], compare: money, severity: high}}
  product.stock: {{owner: erp, readers: [storefront], compare: integer}}
alerts:
  - {{type: log, path: alerts.jsonl}}
schedule:
  incremental: {{every: 1s}}
  full: {{every: 1s}}
  dispatch: {{every: 1s}}
"""


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)  # atomic: the daemon never reads a half-written file


def write_storefront(root: Path, rows: list[dict[str, str]]) -> None:
    write_csv(root / "storefront" / "variants.csv", rows, ["sku", "price", "inventory_quantity"])


def write_changes(root: Path, rows: list[dict[str, str]]) -> None:
    write_csv(root / "storefront" / "variant_changes.csv", rows, CHANGE_COLUMNS)


def build(root: Path, storage: str) -> Path:
    with sqlite3.connect(root / "erp.db") as conn:
        conn.execute("CREATE TABLE products (code TEXT PRIMARY KEY, list_price TEXT, qty TEXT)")
        conn.executemany("INSERT INTO products VALUES (?, ?, ?)", ERP_ROWS)
    write_storefront(root, STOREFRONT_ROWS)
    write_changes(root, [])
    path = root / "fieldwarden.yaml"
    path.write_text(CONFIG.format(storage=storage), encoding="utf-8")
    return path
