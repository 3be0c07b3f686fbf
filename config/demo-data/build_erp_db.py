"""Build the demo ERP database, ``config/demo-data/erp.db``, from the rows below.

Deterministic and standard library only: ``python config/demo-data/build_erp_db.py`` rewrites
the file from scratch with the same content every time. The built file is committed so that
``make demo`` needs nothing but the package; edit the rows here and re-run the script, never
the database by hand.

The ERP owns prices, stock, the taxable flag, stock per warehouse and order status. Planted
against the other demo systems (see ``config/demo-expected.json``):

* SKU-1003 list price 24.00, the storefront shows 22.50 (and a storefront admin wrote it);
* SKU-1005 quantity 12, the storefront shows 9;
* SKU-1012 exists only here (not yet in the PIM nor the storefront);
* SKU-1001 in WH-EAST: 40 on hand, the storefront shows 38;
* order #1004 shipped, the storefront still shows it unfulfilled.

Noise that must not be reported: SKU-1001 19.9 vs "19.90", SKU-1002 24.00 vs "24.005" (within
the money tolerance) and 12 vs "12.0", taxable 1/0 vs "true"/"false", order #1002 shipped at
10:00+01:00 vs 09:00:30Z (within 60 s).
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

TARGET = Path(__file__).resolve().parent / "erp.db"

# code, name, list_price, qty, weight_kg, taxable
PRODUCTS: list[tuple[str, str, float, int, float, int]] = [
    ("SKU-1001", "Canvas Tote Bag", 19.9, 55, 0.45, 1),
    ("SKU-1002", "Merino Wool Socks", 24.0, 12, 0.12, 1),
    ("SKU-1003", "Leather Belt", 24.0, 30, 0.3, 1),
    ("SKU-1004", "Alpine Fleece Jacket", 89.0, 22, 0.65, 1),
    ("SKU-1005", "Trail Hiking Poles", 59.5, 12, 0.52, 1),
    ("SKU-1006", "Café Crème Mug", 14.0, 48, 0.38, 1),
    ("SKU-1007", "Trail Runner GTX", 139.0, 17, 0.62, 1),
    ("SKU-1008", "Summit Hiking Boot", 179.0, 9, 1.25, 1),
    ("SKU-1009", "Red Lace Sneaker", 74.95, 26, 0.7, 1),
    ("SKU-1010", "Rain Shell Jacket", 119.0, 14, 0.41, 1),
    ("SKU-1011", "Trail Sandal", 49.0, 33, 0.55, 1),
    ("SKU-1012", "Gift Card Sleeve", 2.5, 500, 0.02, 0),
    ("SKU-1013", "Wool Beanie", 22.0, 64, 0.09, 1),
    ("SKU-1014", "Insulated Bottle", 29.99, 41, 0.36, 1),
    ("SKU-1015", "Camp Headlamp", 34.0, 27, 0.11, 1),
    ("SKU-1016", "Down Sleeping Bag", 249.0, 6, 1.1, 1),
    ("SKU-1017", "Trekking Backpack 40L", 129.0, 11, 1.35, 1),
    ("SKU-1018", "Compass Keychain", 9.5, 120, 0.04, 1),
    ("SKU-1019", "Quick-dry Towel", 18.0, 58, 0.2, 0),
    ("SKU-1020", "Travel Pillow", 25.0, 37, 0.25, 1),
]

# sku, warehouse, on_hand (product qty is the sum over warehouses)
INVENTORY: list[tuple[str, str, int]] = [
    ("SKU-1001", "WH-EAST", 40),
    ("SKU-1001", "WH-WEST", 15),
    ("SKU-1002", "WH-EAST", 7),
    ("SKU-1002", "WH-WEST", 5),
    ("SKU-1003", "WH-EAST", 18),
    ("SKU-1003", "WH-WEST", 12),
    ("SKU-1004", "WH-EAST", 10),
    ("SKU-1004", "WH-WEST", 12),
    ("SKU-1005", "WH-EAST", 8),
    ("SKU-1005", "WH-WEST", 4),
    ("SKU-1006", "WH-EAST", 30),
    ("SKU-1006", "WH-WEST", 18),
    ("SKU-1007", "WH-EAST", 9),
    ("SKU-1007", "WH-WEST", 8),
    ("SKU-1008", "WH-EAST", 9),
    ("SKU-1008", "WH-WEST", 0),
]

# number, status, shipped_at, customer_email, total
ORDERS: list[tuple[str, str, str | None, str, float]] = [
    ("#1001", "shipped", "2026-11-18T14:05:00Z", "ana.lopez@example.com", 44.9),
    ("#1002", "shipped", "2026-11-20T10:00:00+01:00", "ben.carter@example.com", 139.0),
    ("#1003", "open", None, "chloe.nguyen@example.com", 89.0),
    ("#1004", "shipped", "2026-11-21T16:20:00Z", "david.okafor@example.com", 179.0),
    ("#1005", "partially_shipped", "2026-11-22T11:00:00Z", "emma.schmidt@example.com", 103.5),
    ("#1006", "open", None, "farid.haddad@example.com", 34.0),
]

# The ERP's own change log: when it last changed a price or stock level, and who did it. ``lag``
# counts from these, so the storefront's mismatches on SKU-1003 and SKU-1005 are long past their
# lag and open at once. ERP users are not in any ``writers`` map: they act for the ERP itself.
# code, field, changed_at, changed_by, old_value, new_value
PRODUCT_CHANGES: list[tuple[str, str, str, str, str, str]] = [
    ("SKU-1003", "list_price", "2026-11-19T08:30:00Z", "maria.buyer", "22.50", "24.0"),
    ("SKU-1005", "qty", "2026-11-19T17:45:00Z", "wms-receiving", "9", "12"),
    # the ERP's logistics team re-weighs parcels; the PIM's content team edits weights too (a gap)
    ("SKU-1002", "weight_kg", "2026-11-21T10:00:00Z", "logistics.team", "0.80", "0.85"),
]

SCHEMA = """
CREATE TABLE products (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    list_price REAL NOT NULL,
    qty INTEGER NOT NULL,
    weight_kg REAL,
    taxable INTEGER NOT NULL CHECK (taxable IN (0, 1))
);
CREATE TABLE inventory (
    sku TEXT NOT NULL REFERENCES products (code),
    warehouse TEXT NOT NULL,
    on_hand INTEGER NOT NULL,
    PRIMARY KEY (sku, warehouse)
);
CREATE TABLE product_changes (
    code TEXT NOT NULL REFERENCES products (code),
    field TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT
);
CREATE TABLE orders (
    number TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    shipped_at TEXT,
    customer_email TEXT NOT NULL,
    total REAL NOT NULL
);
"""


def build(target: Path = TARGET) -> Path:
    """Write the demo ERP database to ``target`` (replacing it) and return its path."""
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    connection = sqlite3.connect(target)
    try:
        connection.execute("PRAGMA journal_mode = DELETE")
        connection.executescript(SCHEMA)
        with connection:
            connection.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?, ?)", PRODUCTS)
            connection.executemany("INSERT INTO inventory VALUES (?, ?, ?)", INVENTORY)
            connection.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", ORDERS)
            connection.executemany("INSERT INTO product_changes VALUES (?, ?, ?, ?, ?, ?)", PRODUCT_CHANGES)
        connection.execute("VACUUM")
    finally:
        connection.close()
    return target


if __name__ == "__main__":
    built = build(Path(sys.argv[1]) if len(sys.argv) > 1 else TARGET)
    print(f"wrote {built}")
