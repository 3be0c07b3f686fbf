"""A small file-based stack written into a temp folder, for engine and service tests."""

from __future__ import annotations

import csv
from pathlib import Path

CONFIG = """\
version: 1
storage: sqlite:///fw.db
systems:
  erp: {connector: csv, directory: erp}
  pim: {connector: csv, directory: pim}
  storefront:
    connector: csv
    directory: storefront
    writers: {erp-sync: erp, pim-sync: pim}
entities:
  product:
    systems:
      erp: {resource: products, key: code, fields: {price: list_price, stock: qty}}
      pim: {resource: products, key: identifier, fields: {title: name, weight: {path: weight_g, scale: 0.001}}}
      storefront:
        resource: variants
        key: sku
        fields: {price: price, stock: inventory_quantity, title: title, weight: weight_kg}
        changes: variant_changes
        where: {status: active}
  inventory:
    systems:
      erp: {resource: inventory, key: [sku, warehouse], fields: {on_hand: on_hand}}
      storefront:
        resource: inventory_levels
        key: [sku, {path: location_id, map: {"loc-1": WH-EAST}}]
        fields: {on_hand: available}
ownership:
  product.price: {owner: erp, readers: [storefront], compare: money, severity: high}
  product.stock: {owner: erp, readers: [storefront], compare: integer}
  product.title: {owner: pim, readers: [storefront], compare: text}
  product.weight: {owner: pim, readers: [storefront], compare: number, tolerance: 0.001}
  inventory.on_hand: {owner: erp, readers: [storefront], compare: integer}
"""

ERP = [
    {"code": "A", "list_price": "10.00", "qty": "5"},
    {"code": "B", "list_price": "20.00", "qty": "7"},
    {"code": "C", "list_price": "30.00", "qty": "1"},
]
PIM = [
    {"identifier": "A", "name": "Alpha", "weight_g": "1500"},
    {"identifier": "B", "name": "Beta", "weight_g": "250"},
    {"identifier": "C", "name": "Gamma", "weight_g": "100"},
]
STOREFRONT = [
    {
        "sku": "A",
        "price": "10.0",
        "inventory_quantity": "5.0",
        "title": " Alpha ",
        "weight_kg": "1.5",
        "status": "active",
    },
    {
        "sku": "B",
        "price": "19.00",
        "inventory_quantity": "7",
        "title": "Beta",
        "weight_kg": "0.25",
        "status": "active",
    },
    {
        "sku": "C",
        "price": "30",
        "inventory_quantity": "1",
        "title": "Gamma",
        "weight_kg": "0.1",
        "status": "active",
    },
    {
        "sku": "Z",
        "price": "99",
        "inventory_quantity": "0",
        "title": "Draft",
        "weight_kg": "9",
        "status": "draft",
    },
]
CHANGES = [
    {
        "sku": "B",
        "field": "price",
        "changed_at": "2026-11-20T09:00:00Z",
        "changed_by": "jane.doe",
        "old_value": "20.00",
        "new_value": "19.00",
    },
    {
        "sku": "A",
        "field": "price",
        "changed_at": "2026-11-20T08:00:00Z",
        "changed_by": "erp-sync",
        "old_value": "9.00",
        "new_value": "10.00",
    },
]
ERP_INVENTORY = [{"sku": "A", "warehouse": "WH-EAST", "on_hand": "40"}]
SF_INVENTORY = [{"sku": "A", "location_id": "loc-1", "available": "38"}]


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fieldnames = columns or list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)


def build_stack(root: Path) -> Path:
    write_csv(root / "erp" / "products.csv", ERP)
    write_csv(root / "erp" / "inventory.csv", ERP_INVENTORY)
    write_csv(root / "pim" / "products.csv", PIM)
    write_csv(root / "storefront" / "variants.csv", STOREFRONT)
    write_csv(root / "storefront" / "variant_changes.csv", CHANGES)
    write_csv(root / "storefront" / "inventory_levels.csv", SF_INVENTORY)
    path = root / "fieldwarden.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path
