"""A real Tryton server for integration tests: initialise, start, seed, edit, stop.

``TrytonServer`` owns a temporary folder holding ``trytond.conf`` and an SQLite database. It
initialises the database with ``trytond-admin`` (the ``product``, ``stock``, ``party``,
``company``, ``currency`` and ``country`` modules; a few seconds to ~30 s depending on the
machine), starts ``trytond`` on a free loopback port and waits until it answers.
``TrytonRpc`` is a deliberately independent, minimal JSON-RPC client (not the connector under
test) used to seed data and to edit it the way a Tryton user or integration would.

Traps handled here (all confirmed on trytond 8.2):

* the server must be started with ``-d DATABASE``: lazily loading the pool on the first
  request answers every login with ``KeyError: 'res.user'`` inside an HTTP 200;
* SQLite databases must exist as files before ``trytond-admin`` initialises them;
* ``trytond-admin`` needs ``--email`` to run unattended, and with ``email-validator``
  installed it checks that address over DNS, which fails offline;
* ``product.product.code`` is computed (template ``code`` + variant ``suffix_code``): a
  variant's SKU is written as ``suffix_code``;
* prices read null unless the context names the company, quantities 0 unless it names the
  locations; stock changes only through stock moves;
* more than five failed logins lock the login (HTTP 429): this client never retries a login.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

DATABASE = "shop"
ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "fieldwarden-admin-pw"  # a throwaway server on loopback
MODULES = ("product", "stock", "party", "company", "currency", "country")

# sku -> (template name, list price, initial stock in the warehouse)
SEED_PRODUCTS: dict[str, tuple[str, Decimal, int]] = {
    "SKU-0001": ("Blue Mug", Decimal("12.50"), 7),
    "SKU-0002": ("Red Teapot", Decimal("34.00"), 3),
    "SKU-0003": ("Green Bowl", Decimal("8.90"), 20),
    "SKU-0004": ("Oak Tray", Decimal("45.00"), 0),
    "SKU-0005": ("Linen Napkin", Decimal("4.75"), 120),
}


def trytond_missing_reason() -> str | None:
    """Why the real-server tests cannot run here, or None when they can."""
    for module in ("trytond", "trytond.modules.stock", "trytond.modules.company"):
        try:
            found = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            found = None
        if found is None:
            return (
                f"{module} is not importable: install the Tryton extra "
                "(pip install -e '.[test,tryton]', as make test does)"
            )
    return None


def _executable(name: str, module: str) -> list[str]:
    """The venv's own console script, else the same entry point through this interpreter."""
    script = Path(sys.executable).parent / name
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", f"import sys; from {module} import main; sys.exit(main())"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- JSON-RPC -------------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    raise TypeError(f"cannot encode {type(value).__name__}")


def _decode(obj: dict[str, Any]) -> Any:
    kind = obj.get("__class__")
    if kind == "Decimal":
        return Decimal(obj["decimal"])
    if kind == "datetime":
        parts = {k: obj[k] for k in ("year", "month", "day", "hour", "minute", "second")}
        return datetime(**parts, microsecond=obj.get("microsecond", 0), tzinfo=UTC)
    if kind == "date":
        return date(obj["year"], obj["month"], obj["day"])
    return obj


class TrytonRpcError(RuntimeError):
    """Tryton answered with an error (HTTP status or a JSON-RPC ``error`` member)."""


class TrytonRpc:
    """Minimal JSON-RPC client for seeding and editing; independent of the connector."""

    def __init__(self, url: str, database: str, *, timeout: float = 30.0) -> None:
        self.endpoint = f"{url.rstrip('/')}/{database}/rpc/"
        self.session = requests.Session()
        self.timeout = timeout
        self.user_id: int | None = None
        self.context: dict[str, Any] = {}
        self._id = 0

    def call(self, method: str, *params: Any) -> Any:
        self._id += 1
        body = json.dumps(
            {"id": self._id, "method": method, "params": list(params)}, default=_encode
        )
        response = self.session.post(
            self.endpoint,
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=self.timeout,
        )
        if response.status_code != 200:
            raise TrytonRpcError(f"{method}: HTTP {response.status_code}")
        payload = json.loads(response.text, object_hook=_decode)
        if "error" in payload:
            raise TrytonRpcError(f"{method}: {payload['error']!r}")
        return payload["result"]

    def login(self, login: str, password: str) -> int:
        user_id, token, *_ = self.call("common.db.login", login, {"password": password}, "en")
        raw = f"{login}:{user_id}:{token}".encode()
        self.session.headers["Authorization"] = "Session " + base64.b64encode(raw).decode()
        self.user_id = int(user_id)
        return self.user_id

    def model(
        self, model: str, method: str, *args: Any, context: Mapping[str, Any] | None = None
    ) -> Any:
        """Call ``model.<model>.<method>`` with the trailing context Tryton requires."""
        return self.call(f"model.{model}.{method}", *args, {**self.context, **(context or {})})

    def close(self) -> None:
        self.session.close()


# --- server ---------------------------------------------------------------------------------


@dataclass
class TrytonServer:
    """One trytond process over one SQLite database in ``root``."""

    root: Path
    database: str = DATABASE
    login: str = ADMIN_LOGIN
    password: str = ADMIN_PASSWORD
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.root / "trytond.conf"

    @property
    def log_path(self) -> Path:
        return self.root / "trytond.log"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRYTON")}
        env["TRYTONPASSFILE"] = str(self.root / "admin.pass")
        return env

    def write_config(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            "[database]\n"
            "uri = sqlite://\n"
            f"path = {self.root}\n"
            "[web]\n"
            f"listen = 127.0.0.1:{self.port}\n",
            encoding="utf-8",
        )
        (self.root / "admin.pass").write_text(self.password + "\n", encoding="utf-8")

    def init_database(self) -> None:
        """``trytond-admin --all`` with the modules activated; a few seconds to ~30 s."""
        if importlib.util.find_spec("email_validator") is not None:
            raise RuntimeError(
                "email-validator is installed: trytond-admin would check the admin e-mail "
                "over DNS, which fails offline; uninstall it from the test environment"
            )
        self.write_config()
        (self.root / f"{self.database}.sqlite").touch()  # the sqlite backend opens, never creates
        started = time.monotonic()
        command = [
            *_executable("trytond-admin", "trytond.cli.admin"),
            "-c", str(self.config_path),
            "-d", self.database,
            "--all",
            "--email", "admin@example.com",
            "-u", *MODULES,
            "--activate-dependencies",
        ]  # fmt: skip
        result = subprocess.run(
            command,
            env=self._env(),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        self.timings["init"] = time.monotonic() - started
        if result.returncode != 0:
            raise RuntimeError(
                f"trytond-admin failed (exit {result.returncode}):\n{result.stderr[-4000:]}"
            )

    def start(self, timeout: float = 60.0) -> None:
        """Start ``trytond`` and wait until a login succeeds."""
        started = time.monotonic()
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [
                    *_executable("trytond", "trytond.cli"),
                    "-c",
                    str(self.config_path),
                    "-d",
                    self.database,
                ],
                env=self._env(),
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        deadline = started + timeout
        endpoint = f"{self.url}/{self.database}/rpc/"
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"trytond exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(requests.RequestException):
                # Any HTTP answer means it listens; 401 is the answer to an anonymous call.
                probe = requests.post(
                    endpoint,
                    json={"id": 0, "method": "common.server.version", "params": []},
                    timeout=2,
                )
                if probe.status_code in (200, 401):
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"trytond did not answer within {timeout:.0f}s:\n{self.log_tail()}"
                )
            time.sleep(0.1)
        self.timings["start"] = time.monotonic() - started

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def client(self, *, login: str | None = None, password: str | None = None) -> TrytonRpc:
        rpc = TrytonRpc(self.url, self.database)
        rpc.login(login or self.login, password or self.password)
        return rpc


@contextlib.contextmanager
def running_server(root: Path) -> Iterator[TrytonServer]:
    server = TrytonServer(root)
    server.init_database()
    try:
        server.start()
    except RuntimeError:
        if "Address already in use" not in server.log_tail():
            raise
        # The free port was taken between choosing it and trytond binding it: choose again.
        server.port = _free_port()
        server.write_config()
        server.start()
    try:
        yield server
    finally:
        server.stop()


# --- seeding and editing through Tryton's own API -------------------------------------------


@dataclass
class Shop:
    """What ``seed`` created: ids the tests need to edit and to configure the connector."""

    company: int
    currency: int
    warehouse: int
    warehouse_code: str
    storage: int
    supplier: int
    customer: int
    unit: int
    products: dict[str, int]  # sku -> product.product id
    templates: dict[str, int]  # sku -> product.template id

    @property
    def context(self) -> dict[str, Any]:
        return {
            "company": self.company,
            "locations": [self.warehouse],
            "stock_date_end": date.today(),
        }


def _one(rpc: TrytonRpc, model: str, domain: Sequence[Any]) -> int:
    ids = rpc.model(model, "search", list(domain), 0, None, None)
    if len(ids) != 1:
        raise RuntimeError(f"expected one {model} for {domain!r}, found {ids!r}")
    return int(ids[0])


def seed(rpc: TrytonRpc, products: Mapping[str, tuple[str, Decimal, int]] = SEED_PRODUCTS) -> Shop:
    """A currency, a company set on the logged-in user, products with prices and stock."""
    currency = rpc.model(
        "currency.currency",
        "create",
        [
            {
                "name": "US Dollar",
                "code": "USD",
                "symbol": "$",
                "digits": 2,
                "rounding": Decimal("0.01"),
            }
        ],
    )[0]
    party = rpc.model("party.party", "create", [{"name": "Fieldwarden Test Shop"}])[0]
    company = rpc.model("company.company", "create", [{"party": party, "currency": currency}])[0]
    rpc.model(
        "res.user", "write", [rpc.user_id], {"companies": [["add", [company]]], "company": company}
    )
    rpc.context = {"company": company}

    warehouse_row = rpc.model(
        "stock.location",
        "search_read",
        [["type", "=", "warehouse"]],
        0,
        None,
        [["id", "ASC"]],
        ["code", "storage_location"],
    )[0]
    shop = Shop(
        company=company,
        currency=currency,
        warehouse=warehouse_row["id"],
        warehouse_code=warehouse_row["code"],
        storage=warehouse_row["storage_location"],
        supplier=_one(rpc, "stock.location", [["type", "=", "supplier"]]),
        customer=_one(rpc, "stock.location", [["type", "=", "customer"]]),
        unit=_one(rpc, "product.uom", [["symbol", "=", "u"]]),
        products={},
        templates={},
    )
    add_products(rpc, shop, products)
    return shop


def add_products(
    rpc: TrytonRpc, shop: Shop, products: Mapping[str, tuple[str, Decimal, int]]
) -> None:
    for sku, (name, price, stock) in products.items():
        template = rpc.model(
            "product.template",
            "create",
            [
                {
                    "name": name,
                    "type": "goods",
                    "default_uom": shop.unit,
                    "list_price": price,
                    # product.product.code is computed: template code + variant suffix_code
                    "products": [["create", [{"suffix_code": sku}]]],
                }
            ],
        )[0]
        shop.templates[sku] = template
        shop.products[sku] = _one(rpc, "product.product", [["template", "=", template]])
        if stock:
            change_stock(rpc, shop, sku, stock)


def set_template_price(rpc: TrytonRpc, shop: Shop, sku: str, price: Decimal) -> None:
    """Edit the list price where Tryton keeps it: on the template."""
    rpc.model("product.template", "write", [shop.templates[sku]], {"list_price": price})


def change_stock(rpc: TrytonRpc, shop: Shop, sku: str, delta: int) -> int:
    """A done stock move in (from the supplier) or out (to a customer) of the warehouse storage."""
    incoming = delta > 0
    values: dict[str, Any] = {
        "product": shop.products[sku],
        "from_location": shop.supplier if incoming else shop.storage,
        "to_location": shop.storage if incoming else shop.customer,
        "quantity": float(abs(delta)),
        "unit": shop.unit,
        "company": shop.company,
        "effective_date": date.today(),
        "unit_price": Decimal("1.00"),
        "currency": shop.currency,
    }
    move = int(rpc.model("stock.move", "create", [values])[0])
    rpc.model("stock.move", "do", [move])
    return move


def set_stock(rpc: TrytonRpc, shop: Shop, sku: str, quantity: int) -> int:
    """Count the stock of one product in the warehouse storage: a confirmed inventory.

    This is how a stock level is edited in Tryton: confirming the inventory creates and
    does the stock moves (to or from Lost and Found) that bring the quantity to the count.
    """
    inventory = int(
        rpc.model(
            "stock.inventory",
            "create",
            [
                {
                    "location": shop.storage,
                    "date": date.today(),
                    "company": shop.company,
                    "lines": [
                        ["create", [{"product": shop.products[sku], "quantity": float(quantity)}]]
                    ],
                }
            ],
        )[0]
    )
    rpc.model("stock.inventory", "confirm", [inventory])
    return inventory


def backdate(server: TrytonServer, shop: Shop, sku: str, age: timedelta) -> None:
    """Make a product and its template look last edited ``age`` ago.

    Tryton's API cannot set ``write_date``, so this writes the database directly; it only
    simulates an edit made earlier, so that tests about ``lag`` need not sleep.
    """
    stamp = (datetime.now(UTC) - age).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    path = server.root / f"{server.database}.sqlite"
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as db, db:
        for table, row in (
            ("product_template", shop.templates[sku]),
            ("product_product", shop.products[sku]),
        ):
            db.execute(
                f"UPDATE {table} SET write_date = ?, create_date = ? WHERE id = ?",
                (stamp, stamp, row),
            )


def current_state(rpc: TrytonRpc, shop: Shop) -> dict[str, tuple[Decimal | None, float]]:
    """sku -> (effective list price, quantity in the warehouse), straight from Tryton."""
    rows = rpc.model(
        "product.product",
        "search_read",
        [],
        0,
        None,
        [["id", "ASC"]],
        ["code", "list_price_used", "quantity"],
        context=shop.context,
    )
    return {row["code"]: (row["list_price_used"], row["quantity"]) for row in rows}
