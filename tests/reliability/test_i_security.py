"""I. Security (plan scenarios 45-48): SSRF, SQL injection, hostile stored text, file modes."""

from __future__ import annotations

import re
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from detector.alerts import DestinationRefusedError, check_destination
from detector.cli import main
from detector.config import load_config
from detector.service import run_once
from detector.storage import Store
from tests.reliability import results
from tests.reliability.conftest import Sweep
from tests.reliability.faultserver import Reply, serve
from tests.reliability.harness import SECRET, Stack, catalog, write_csv

# -- 45. webhook destinations --------------------------------------------------------------------

PRIVATE = [
    "http://127.0.0.1:9/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://172.16.0.1/hook",
    "http://[::1]:8080/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
    "http://100.64.0.1/hook",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "http://localhost/hook",
    "http://internal.example/hook",  # a DNS name that resolves to a private address
]


def _resolver(host: str, port: int) -> list[str]:
    if host == "localhost":
        return ["127.0.0.1", "::1"]
    if host == "internal.example":
        return ["93.184.216.34", "10.0.0.7"]  # one public, one private: refused
    return ["93.184.216.34"]


@pytest.mark.parametrize("url", PRIVATE)
def test_45_private_and_non_http_webhook_targets_are_refused(url: str) -> None:
    try:
        check_destination(url, allow_private=False, resolve=_resolver)
        refused = False
    except DestinationRefusedError:
        refused = True
    results.record("ssrf", target=url, refused=refused)
    assert refused


def test_45_a_public_target_and_an_allowlisted_private_one_pass() -> None:
    check_destination("https://hooks.slack.com/services/T0/B0/x", allow_private=False, resolve=_resolver)
    check_destination("http://127.0.0.1:9/hook", allow_private=True, resolve=_resolver)


def test_45_the_dispatcher_refuses_a_private_webhook_and_follows_no_redirect(
    stack: Stack, sweep: Sweep
) -> None:
    with serve(lambda _r: Reply(200, {"ok": True})) as inner, serve(
        lambda _r: Reply(307, None, headers={"Location": "http://127.0.0.2:9/steal"})
    ) as bouncer:
        stack.alerts = [
            {"type": "webhook", "url": f"{inner.url}/hook", "format": "json"},
            {"type": "webhook", "url": f"{bouncer.url}/hook", "format": "json", "allow_private": True},
        ]
        stack.run()
        with Store.open(stack.config().storage_url) as store:
            deliveries = [d for e in store.events() for d in e.deliveries]
        reached_inner = len(inner.requests)
        bounced = len(bouncer.requests)
    first = {d.status for d in deliveries if d.sink == "webhook"}
    second = {d.status for d in deliveries if d.sink == "webhook-2"}
    ok = reached_inner == 0 and first == {"dead"} and "delivered" not in second
    results.record("ssrf", target="dispatcher: private webhook, redirect", refused=ok)
    assert reached_inner == 0
    assert first == {"dead"}, deliveries
    assert bounced >= 1
    assert "delivered" not in second, deliveries


# -- 46. SQL injection in values and identifiers ---------------------------------------------------

PAYLOAD = "'; DROP TABLE products;--"


def _sql_stack(root: Path, **mapping: object) -> Path:
    db = root / "erp.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE products (code TEXT, list_price TEXT, status TEXT)")
        conn.executemany(
            "INSERT INTO products VALUES (?, ?, ?)",
            [("P001", "10.00", "active"), (PAYLOAD, "1.00", PAYLOAD)],
        )
    write_csv(root / "shop" / "variants.csv", [{"sku": "P001", "price": "10.00"}, {"sku": PAYLOAD, "price": "2.00"}])
    erp = {"resource": "products", "key": "code", "fields": {"price": "list_price"}, **mapping}
    config = {
        "version": 1,
        "storage": "sqlite:///fw.db",
        "systems": {"erp": {"connector": "sql", "url": "sqlite:///erp.db"}, "shop": {"connector": "csv", "directory": "shop"}},
        "entities": {"product": {"systems": {"erp": erp, "shop": {"resource": "variants", "key": "sku", "fields": {"price": "price"}}}}},
        "ownership": {"product.price": {"owner": "erp", "readers": ["shop"], "compare": "money"}},
    }
    import yaml  # noqa: PLC0415

    path = root / "fieldwarden.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _table_survives(root: Path) -> bool:
    with sqlite3.connect(root / "erp.db") as conn:
        return conn.execute("SELECT count(*) FROM products").fetchone()[0] == 2


INJECTIONS = {
    "value in where": {"where": {"status": PAYLOAD}},
    "value as a key": {},
    "identifier as resource": {"resource": "products; DROP TABLE products;--"},
    "identifier as field path": {"fields": {"price": 'list_price"; DROP TABLE products;--'}},
    "identifier as where column": {"where": {"status; DROP TABLE products;--": "x"}},
}


@pytest.mark.parametrize("name", list(INJECTIONS))
def test_46_injection_payloads_are_bound_or_refused_and_the_table_survives(
    tmp_path: Path, sweep: Sweep, name: str
) -> None:
    path = _sql_stack(tmp_path, **INJECTIONS[name])
    error = ""
    try:
        report = run_once(load_config(path), deliver_alerts=False)
        erp = next(s for s in report.result.sources if s.system == "erp")
        error = erp.error or ""
        outcome = erp.status.value
    except Exception as exc:  # a config error is a fine refusal too
        error = str(exc)
        outcome = "refused"
    sweep.add("error", error)
    survives = _table_survives(tmp_path)
    results.record("injection", cls="I", scenario=46, name=name, neutralised=survives, outcome=outcome)
    assert survives, (name, outcome, error)


# -- 47. hostile stored text in the viewers --------------------------------------------------------

HOSTILE = "9.99\x1b[2J\x1b]0;owned\x07\r\n{\"event\": \"forged\"}\x9b31m"


def test_47_viewers_neutralise_escape_sequences_in_stored_text(stack: Stack, sweep: Sweep) -> None:
    rows = [dict(r) for r in stack.shop]
    rows[0]["price"] = HOSTILE
    stack.server.handler = catalog(rows)
    stack.run()
    runner = CliRunner()
    outputs = {
        name: runner.invoke(main, [*args, "-c", str(stack.path)])
        for name, args in {
            "discrepancies table": ["discrepancies"],
            "discrepancies csv": ["discrepancies", "--format", "csv"],
            "alerts table": ["alerts"],
            "runs table": ["runs"],
        }.items()
    }
    for name, result in outputs.items():
        sweep.add(name, result.output)
        bad = re.findall(r"[\x1b\x07\x9b]|\r(?!\n)", result.output)
        results.record("injection", cls="I", scenario=47, name=f"hostile text in {name}", neutralised=not bad)
        assert not bad, (name, result.output[:400])


# -- 48. file modes -------------------------------------------------------------------------------


def test_48_database_files_are_private(stack: Stack) -> None:
    stack.run()
    # the data files (the run/daemon .lock files hold only a pid)
    modes = {
        p.name: stat.S_IMODE(p.stat().st_mode)
        for p in stack.root.glob("fw.db*")
        if not p.name.endswith(".lock")
    }
    ok = all(mode & 0o077 == 0 for mode in modes.values())
    results.record("file_mode", files=modes, private=ok)
    assert modes["fw.db"] == 0o600
    assert ok, modes


def test_48_world_readable_config_with_env_secrets_does_not_warn(stack: Stack) -> None:
    stack.path.chmod(0o644)
    assert not any("readable" in w.message for w in load_config(stack.path).warnings)


def test_48_world_readable_config_with_inline_secrets_warns(stack: Stack, sweep: Sweep) -> None:
    text = stack.path.read_text(encoding="utf-8").replace("${FW_CANARY_TOKEN}", SECRET)
    stack.path.write_text(text, encoding="utf-8")
    stack.path.chmod(0o644)
    result = CliRunner().invoke(main, ["validate", "-c", str(stack.path)])
    sweep.add("validate", result.output)
    config_warned = any("readable" in w.message for w in load_config(stack.path).warnings)
    results.record("file_mode", files={"fieldwarden.yaml": 0o644}, warned=config_warned)
    assert config_warned, result.output
    assert SECRET not in result.output
