"""The stack every reliability scenario runs against, with its canaries planted.

``Stack`` writes a config and data into a temp folder:

* ``erp`` (csv) owns product prices/stock and customer emails/phones;
* ``shop`` (the ``rest`` connector) reads products from a :class:`FaultServer` on loopback with
  the secret canary as its token (``${FW_CANARY_TOKEN}``, substituted from the environment);
* ``crm`` (csv) holds the customers with the personal-data canaries, one phone differing, so a
  personal value is compared, stored and alerted on in every run;
* a change log in crm (``customer_changes.csv``), so every run has a cursor to commit;
* a log alert sink writing ``alerts.jsonl`` (delivered once ``detector.alerts`` exists).

Planted findings of a healthy run: ``value_mismatch`` of P002's price in shop and of C1's
phone in crm. Everything else agrees.
"""

from __future__ import annotations

import csv
import os
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from detector.config import Config, load_config
from detector.service import RunReport, run_once
from tests.reliability.faultserver import FaultServer, Reply, Seen

__all__ = [
    "PII_EMAIL",
    "PII_PHONE",
    "SECRET",
    "TOKEN_ENV",
    "Stack",
    "catalog",
    "db_texts",
    "products",
]

SECRET = "sk_CANARY_5f3b9c2e8d1a47c6"
TOKEN_ENV = "FW_CANARY_TOKEN"
PII_EMAIL = "canary+pii@example.com"
PII_PHONE = "+15550100"
PLANTED = {("value_mismatch", "P002", "price", "shop"), ("value_mismatch", "C1", "phone", "crm")}


def products(count: int = 20) -> list[dict[str, str]]:
    return [
        {"code": f"P{n:03d}", "list_price": f"{n * 10}.00", "qty": str(n)} for n in range(1, count + 1)
    ]


def shop_rows(rows: Iterable[Mapping[str, str]]) -> list[dict[str, Any]]:
    """The storefront's view of ERP products; P002's price planted wrong."""
    out = []
    for row in rows:
        price = "999.00" if row["code"] == "P002" else row["list_price"]
        out.append({"sku": row["code"], "price": price, "qty": int(row["qty"])})
    return out


def catalog(rows: list[dict[str, Any]], *, path: str = "/v1/variants") -> Any:
    """A healthy endpoint: ``{"data": rows}`` on ``path``, 404 elsewhere."""

    def handle(request: Seen) -> Reply:
        if request.path != path:
            return Reply(404, {"error": "not found"})
        return Reply(200, {"data": rows, "total": len(rows)})

    return handle


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@dataclass
class Stack:
    root: Path
    server: FaultServer
    count: int = 20
    shop_options: dict[str, Any] = field(default_factory=dict)
    entity_options: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    alerts: list[dict[str, Any]] | None = None
    storage: str = "sqlite:///fw.db"
    schedule: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.erp = products(self.count)
        self.shop = shop_rows(self.erp)
        self.server.handler = catalog(self.shop)
        write_csv(self.root / "erp" / "products.csv", self.erp)
        write_csv(
            self.root / "erp" / "customers.csv",
            [
                {"id": "C1", "email": PII_EMAIL, "phone": PII_PHONE},
                {"id": "C2", "email": "bob@example.net", "phone": "+15550111"},
            ],
        )
        write_csv(
            self.root / "crm" / "customers.csv",
            [
                {"id": "C1", "email": PII_EMAIL, "phone": "+15550199"},
                {"id": "C2", "email": "bob@example.net", "phone": "+15550111"},
            ],
        )
        self.changes: list[dict[str, str]] = [
            {"id": "C2", "field": "phone", "changed_at": "2026-11-01T08:00:00Z", "changed_by": "erp-sync"},
        ]
        self.write_changes()
        self.write()

    def write_changes(self) -> None:
        write_csv(self.root / "crm" / "customer_changes.csv", self.changes)

    def add_change(self, changed_at: str) -> None:
        """A newer change-log row in crm (moves its cursor when a run commits)."""
        self.changes.append({"id": "C2", "field": "phone", "changed_at": changed_at, "changed_by": "erp-sync"})
        self.write_changes()

    @property
    def path(self) -> Path:
        return self.root / "fieldwarden.yaml"

    @property
    def db(self) -> Path:
        return self.root / "fw.db"

    def document(self) -> dict[str, Any]:
        shop: dict[str, Any] = {
            "connector": "rest",
            "url": self.server.url,
            "token": f"Bearer ${{{TOKEN_ENV}}}",
            "records_path": "data",
            "backoff_factor": 0,
            "timeout": 2,
            "max_retries": 3,
            **self.shop_options,
        }
        doc: dict[str, Any] = {
            "version": 1,
            "storage": self.storage,
            "systems": {
                "erp": {"connector": "csv", "directory": "erp"},
                "crm": {"connector": "csv", "directory": "crm", "writers": {"erp-sync": "erp"}},
                "shop": shop,
            },
            "entities": {
                "product": {
                    "systems": {
                        "erp": {"resource": "products", "key": "code", "fields": {"price": "list_price", "stock": "qty"}},
                        "shop": {
                            "resource": "v1/variants",
                            "key": "sku",
                            "fields": {"price": "price", "stock": "qty"},
                            **({"options": self.entity_options} if self.entity_options else {}),
                        },
                    }
                },
                "customer": {
                    "systems": {
                        "erp": {"resource": "customers", "key": "id", "fields": {"email": "email", "phone": "phone"}},
                        "crm": {
                            "resource": "customers",
                            "key": "id",
                            "fields": {"email": "email", "phone": "phone"},
                            "changes": "customer_changes",
                        },
                    }
                },
            },
            "ownership": {
                "product.price": {"owner": "erp", "readers": ["shop"], "compare": "money", "severity": "high"},
                "product.stock": {"owner": "erp", "readers": ["shop"], "compare": "integer"},
                "customer.email": {"owner": "erp", "readers": ["crm"], "compare": "email", "personal": True},
                "customer.phone": {"owner": "erp", "readers": ["crm"], "compare": "phone", "personal": True},
            },
            "alerts": self.alerts if self.alerts is not None else [{"type": "log", "path": "alerts.jsonl"}],
        }
        if self.settings:
            doc["settings"] = self.settings
        if self.schedule:
            doc["schedule"] = self.schedule
        return doc

    def write(self) -> Path:
        self.path.write_text(yaml.safe_dump(self.document(), sort_keys=False), encoding="utf-8")
        return self.path

    def config(self) -> Config:
        return load_config(self.write())

    def run(self, **kwargs: Any) -> RunReport:
        kwargs.setdefault("deliver_alerts", True)
        kwargs.setdefault("lock_wait", 30.0)
        return run_once(self.config(), **kwargs)

    def env(self) -> dict[str, str]:
        return {**os.environ, TOKEN_ENV: f"{SECRET}"}


def db_texts(path: Path) -> list[tuple[str, str, str]]:
    """(table, column, value) for every text value stored in a SQLite database."""
    out: list[tuple[str, str, str]] = []
    if not path.exists():
        return out
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                for column, raw in zip(columns, row, strict=True):
                    value = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
                    if isinstance(value, str):
                        out.append((table, column, value))
    finally:
        conn.close()
    return out
