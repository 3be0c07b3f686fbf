"""``alerts``, ``discrepancies``, ``ack`` and ``runs`` against a real store filled by real runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from detector.cli import alerts as alerts_module
from detector.cli import main
from detector.cli.alerts import parse_since
from detector.config import load_config
from detector.exitcodes import ExitCode
from detector.service import open_store, run_once
from tests.alerts.stack import CANARIES, build, fix_prices, write_products

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
LOG = "  - {type: log, path: alerts.jsonl}\n"
SPEC_DISCREPANCY_KEYS = {
    "id", "kind", "entity", "key", "field", "owner", "system", "owner_value", "system_value",
    "severity", "status", "first_seen", "last_seen",
}  # fmt: skip


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def run(config_path: Path, at: datetime = T0, *, deliver: bool = True) -> None:
    run_once(load_config(config_path), deliver_alerts=deliver, now=lambda: at)


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    path = build(tmp_path, LOG, wrong=2)
    run(path)
    return path


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


# -- alerts ---------------------------------------------------------------------------------


def test_alerts_json_matches_spec(stack: Path) -> None:
    result = cli("alerts", "-c", str(stack), "--format", "json")
    assert result.exit_code == 0, result.stderr
    items = as_json(result)
    assert isinstance(items, list)
    assert len(items) == 2
    for item in items:
        assert {"id", "at", "event", "discrepancy", "deliveries"} <= set(item)
        assert item["event"] in {"opened", "resolved", "reopened", "reminder", "source_failed"}
        assert item["at"].endswith("Z")
        assert set(item["discrepancy"]) >= SPEC_DISCREPANCY_KEYS
        assert item["deliveries"] == [{"sink": "log", "status": "delivered", "attempts": 1}]


def test_alerts_filters_and_formats(stack: Path) -> None:
    fix_prices(stack.parent)
    run(stack, T0 + timedelta(hours=1))
    base = ("alerts", "-c", str(stack), "--format", "json")
    assert [i["event"] for i in as_json(cli(*base))] == ["opened", "opened", "resolved", "resolved"]
    assert [i["event"] for i in as_json(cli(*base, "--status", "resolved"))] == ["resolved"] * 2
    assert len(as_json(cli(*base, "--limit", "1"))) == 1
    assert as_json(cli(*base, "--field", "customer.email")) == []
    assert len(as_json(cli(*base, "--field", "product.price", "--severity", "high"))) == 4
    assert as_json(cli(*base, "--severity", "critical")) == []
    assert as_json(cli(*base, "--since", "2099-01-01T00:00:00Z")) == []
    assert as_json(cli(*base, "--kind", "orphan_in_reader")) == []
    csv_out = cli("alerts", "-c", str(stack), "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("id,at,event,discrepancy_id,kind")
    assert len(csv_out) == 5
    table = cli("alerts", "-c", str(stack)).stdout
    assert "product.price" in table
    assert "resolved" in table


def test_since_accepts_durations_and_iso_times() -> None:
    assert parse_since("2h", now=T0) == T0 - timedelta(hours=2)
    assert parse_since("2026-11-27T08:00:00Z") == T0 - timedelta(hours=2)
    assert parse_since("2026-11-27T08:00:00") == T0 - timedelta(hours=2)
    result = CliRunner().invoke(main, ["alerts", "--since", "yesterday-ish"])
    assert result.exit_code == ExitCode.CONFIG


def test_alerts_surface_dead_deliveries(tmp_path: Path) -> None:
    path = build(tmp_path, '  - {type: webhook, url: "http://10.0.0.1/hook"}\n')
    run(path)
    table = cli("alerts", "-c", str(path))
    assert "dead" in table.stdout
    assert "1 alert deliveries are dead" in table.stdout
    as_data = cli("alerts", "-c", str(path), "--format", "json")
    [item] = as_json(as_data)  # stdout stays one JSON document; the note goes to stderr
    assert item["deliveries"][0]["status"] == "dead"
    assert "private address" in item["deliveries"][0]["last_error"]
    assert "are dead" in as_data.stderr


def test_alerts_follow_prints_new_events_until_interrupted(
    stack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    polls = []

    def fake_sleep(_seconds: float) -> None:
        polls.append(_seconds)
        if len(polls) == 1:
            fix_prices(stack.parent)
            run(stack, T0 + timedelta(hours=1))
            return
        raise KeyboardInterrupt

    monkeypatch.setattr(alerts_module, "_sleep", fake_sleep)
    result = cli("alerts", "-c", str(stack), "--format", "json", "--follow")
    assert result.exit_code == 0
    events = [json.loads(line)["event"] for line in result.stdout.splitlines()]
    assert events == ["opened", "opened", "resolved", "resolved"]


# -- discrepancies ---------------------------------------------------------------------------


def test_discrepancies_json_and_exit_codes(stack: Path) -> None:
    result = cli("discrepancies", "-c", str(stack), "--format", "json")
    assert result.exit_code == ExitCode.DISCREPANCIES
    items = as_json(result)
    assert [i["status"] for i in items] == ["open", "open"]
    assert all(set(i) >= SPEC_DISCREPANCY_KEYS for i in items)

    fix_prices(stack.parent)
    run(stack, T0 + timedelta(hours=1))
    assert cli("discrepancies", "-c", str(stack)).exit_code == ExitCode.OK
    resolved = cli("discrepancies", "-c", str(stack), "--status", "resolved", "--format", "json")
    assert (resolved.exit_code, len(as_json(resolved))) == (ExitCode.OK, 2)
    csv_out = cli("discrepancies", "-c", str(stack), "--status", "all", "--format", "csv").stdout
    assert len(csv_out.splitlines()) == 3


def test_discrepancies_exit_3_when_the_last_run_could_not_read_a_source(stack: Path) -> None:
    (stack.parent / "shop" / "variants.csv").unlink()
    run(stack, T0 + timedelta(hours=1))
    result = cli("discrepancies", "-c", str(stack))
    assert result.exit_code == ExitCode.SOURCE
    assert "could not read shop/product" in result.stderr
    assert cli("discrepancies", "-c", str(stack), "--entity", "customer").exit_code == ExitCode.OK


def test_discrepancies_before_any_run(tmp_path: Path) -> None:
    path = build(tmp_path)
    result = cli("discrepancies", "-c", str(path), "--format", "json")
    assert (result.exit_code, as_json(result)) == (0, [])
    assert as_json(cli("runs", "-c", str(path), "--format", "json")) == []


def test_hostile_stored_text_is_neutralised(tmp_path: Path) -> None:
    path = build(tmp_path, wrong=0)
    hostile = "SKU\x1b]0;pwned\x07\x1b[2J[bold red]x[/]\nFAKE"
    write_products(tmp_path, {"SKU-1": "1.00"}, {"SKU-1": "1.00", hostile: "2.00"})
    run(path)
    for args in (("discrepancies",), ("alerts",), ("runs",)):
        out = cli(*args, "-c", str(path)).stdout
        assert "\x1b" not in out
        assert "\x07" not in out
    table = cli("discrepancies", "-c", str(path)).stdout
    assert "[bold" in table  # shown as text, not applied as markup
    assert "red]x[/]" in table
    assert "\\nFAKE" in table


def test_personal_values_are_masked_in_command_output(tmp_path: Path) -> None:
    path = build(tmp_path, LOG, pii=True)
    run(path)
    outputs = [
        cli(*args, "-c", str(path), *fmt).stdout
        for args in (("alerts",), ("discrepancies",))
        for fmt in ((), ("--format", "json"), ("--format", "csv"))
    ]
    for text in outputs:
        for canary in CANARIES:
            assert canary not in text
    assert "c***@example.com" in outputs[1]


# -- ack ------------------------------------------------------------------------------------


def _reminders(path: Path) -> int:
    items = as_json(cli("alerts", "-c", str(path), "--format", "json"))
    return sum(1 for i in items if i["event"] == "reminder")


def test_ack_stops_reminders_and_a_recurrence_alerts_again(tmp_path: Path) -> None:
    path = build(tmp_path, LOG, wrong=1)
    run(path)
    run(path, T0 + timedelta(hours=25))
    assert _reminders(path) == 1  # reminder_after is 1d in the stack

    [item] = as_json(cli("discrepancies", "-c", str(path), "--format", "json"))
    result = cli("ack", item["id"][:8], "-c", str(path), "--note", "on it, TICKET-1")
    assert result.exit_code == 0, result.stderr
    assert f"acknowledged {item['id']}" in result.stdout

    run(path, T0 + timedelta(hours=50))
    run(path, T0 + timedelta(hours=80))
    assert _reminders(path) == 1
    [acked] = as_json(cli("discrepancies", "-c", str(path), "--format", "json"))
    assert (acked["status"], acked["ack_note"]) == ("acknowledged", "on it, TICKET-1")
    assert (
        cli("discrepancies", "-c", str(path)).exit_code == ExitCode.OK
    )  # acknowledged is not open

    fix_prices(tmp_path)
    run(path, T0 + timedelta(hours=81))
    build(tmp_path, LOG, wrong=1)
    run(path, T0 + timedelta(hours=82))
    events = [i["event"] for i in as_json(cli("alerts", "-c", str(path), "--format", "json"))]
    assert events == ["opened", "reminder", "resolved", "reopened"]
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == events


def test_ack_errors(stack: Path) -> None:
    unknown = cli("ack", "ffffffffffff", "-c", str(stack))
    assert unknown.exit_code == ExitCode.CONFIG
    assert "no discrepancy" in unknown.stderr
    with open_store(load_config(stack)) as store:
        ids = sorted(d.id for d in store.discrepancies())
    shared = next(
        (a[:n] for a in ids for b in ids if a != b for n in range(1, 5) if a[:n] == b[:n]), None
    )
    if shared is not None:
        ambiguous = cli("ack", shared, "-c", str(stack))
        assert ambiguous.exit_code == ExitCode.CONFIG
        assert "matches several" in ambiguous.stderr
    json_out = cli("ack", ids[0], "-c", str(stack), "--format", "json")
    assert as_json(json_out)["status"] == "acknowledged"


# -- runs -----------------------------------------------------------------------------------


def test_runs_json_has_spec_run_objects_with_sources(stack: Path) -> None:
    run(stack, T0 + timedelta(hours=1))
    items = as_json(cli("runs", "-c", str(stack), "--format", "json"))
    assert [i["id"] for i in items] == [2, 1]
    for item in items:
        assert {"id", "mode", "status", "started_at", "finished_at", "sources"} <= set(item)
        assert {(s["system"], s["entity"], s["status"]) for s in item["sources"]} >= {
            ("erp", "product", "ok"),
            ("shop", "product", "ok"),
        }
    assert len(as_json(cli("runs", "-c", str(stack), "--format", "json", "--limit", "1"))) == 1
    table = cli("runs", "-c", str(stack)).stdout
    assert "shop/product ok" in table
