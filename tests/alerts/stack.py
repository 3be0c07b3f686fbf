"""A tiny two-system CSV stack for alert tests: products (price) and customers (email, phone).

Customer values are canaries: personal data that must never leave the database unmasked.
"""

from __future__ import annotations

import csv
from pathlib import Path

CANARY_EMAIL = "canary+pii@example.com"
CANARY_EMAIL_READER = "canary.reader@example.com"
CANARY_PHONE = "+1 555 010 0123"
CANARY_PHONE_READER = "+1 555 010 0999"
CANARIES = (
    CANARY_EMAIL,
    CANARY_EMAIL_READER,
    "5550100123",
    "555 010 0123",
    "5550100999",
    "555 010 0999",
)

CONFIG = """\
version: 1
storage: sqlite:///fw.db
systems:
  erp: {connector: csv, directory: erp}
  shop: {connector: csv, directory: shop}
entities:
  product:
    systems:
      erp: {resource: products, key: code, fields: {price: price}}
      shop: {resource: variants, key: sku, fields: {price: price}}
  customer:
    systems:
      erp: {resource: customers, key: id, fields: {email: email, phone: phone}}
      shop: {resource: customers, key: id, fields: {email: email, phone: phone}}
ownership:
  product.price: {owner: erp, readers: [shop], compare: money, severity: high}
  customer.email: {owner: erp, readers: [shop], compare: email, severity: medium}
  customer.phone: {owner: erp, readers: [shop], compare: phone, severity: low}
settings:
  reminder_after: 1d
"""


def write_csv(path: Path, columns: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


def write_products(root: Path, erp: dict[str, str], shop: dict[str, str]) -> None:
    write_csv(root / "erp" / "products.csv", ["code", "price"], [[k, v] for k, v in erp.items()])
    write_csv(root / "shop" / "variants.csv", ["sku", "price"], [[k, v] for k, v in shop.items()])


def write_customers(root: Path, *, differ: bool) -> None:
    write_csv(
        root / "erp" / "customers.csv",
        ["id", "email", "phone"],
        [["C1", CANARY_EMAIL, CANARY_PHONE]],
    )
    reader = [CANARY_EMAIL_READER, CANARY_PHONE_READER] if differ else [CANARY_EMAIL, CANARY_PHONE]
    write_csv(root / "shop" / "customers.csv", ["id", "email", "phone"], [["C1", *reader]])


def build(
    root: Path, alerts: str = "", *, products: int = 3, wrong: int = 1, pii: bool = False
) -> Path:
    """The stack in ``root``: ``wrong`` of ``products`` products have the wrong shop price."""
    erp = {f"SKU-{i:05d}": f"{10 + i}.00" for i in range(products)}
    shop = {k: (f"{float(v) + 1:.2f}" if i < wrong else v) for i, (k, v) in enumerate(erp.items())}
    write_products(root, erp, shop)
    write_customers(root, differ=pii)
    path = root / "fieldwarden.yaml"
    path.write_text(CONFIG + (f"alerts:\n{alerts}" if alerts else ""), encoding="utf-8")
    return path


def fix_prices(root: Path, products: int = 3) -> None:
    erp = {f"SKU-{i:05d}": f"{10 + i}.00" for i in range(products)}
    write_products(root, erp, dict(erp))
