"""B. Bad inputs (plan scenarios 11-15): wrong types, duplicate keys, normalisation, huge or
deeply nested payloads, values that try to forge log lines."""

from __future__ import annotations

import json
import re
import resource
from typing import Any

import pytest
from click.testing import CliRunner

from detector.cli import main
from tests.reliability import results
from tests.reliability.conftest import Sweep, log_events
from tests.reliability.faultserver import Reply, Seen
from tests.reliability.harness import Stack, catalog, write_csv
from tests.reliability.scenarios import failed_as, found, inject, source

# -- 11. wrong-typed values ---------------------------------------------------------------------


def test_11_wrong_types_are_located_type_errors_not_mismatches(stack: Stack) -> None:
    rows: list[dict[str, Any]] = [dict(r) for r in stack.shop]
    rows[2]["price"] = "12,50"  # P003: a decimal comma
    rows[4]["price"] = {"amount": "50.00"}  # P005: an object
    rows[5]["qty"] = "six"  # P006: words in an integer field
    stack.server.handler = catalog(rows)
    report = stack.run()
    shop = source(report, "shop")
    samples = " | ".join(shop.problem_samples)
    mismatched = {d[1] for d in found(report) if d[0] == "value_mismatch" and d[3] == "shop"}
    cases = {"P003": "price", "P005": "price", "P006": "stock"}
    for key, field in cases.items():
        located = f"{field!r}" in samples and f"{key!r}" in samples and "type_error" in samples
        results.record("bad_input", cls="B", scenario=11, name=f"{field} of {key}", located=located)
    assert shop.problems >= 3, shop
    assert all(f"{k!r}" in samples and f"{f!r}" in samples for k, f in cases.items()), samples
    assert mismatched == {"P002"}, mismatched


def test_11_null_reader_value_against_an_owner_value_is_reported(stack: Stack) -> None:
    """SPEC: an empty reader value against a non-empty owner value counts as a mismatch."""
    rows = [dict(r) for r in stack.shop]
    rows[3]["price"] = None
    stack.server.handler = catalog(rows)
    report = stack.run()
    assert ("value_mismatch", "P004", "price", "shop") in found(report)


# -- 12. duplicate keys ---------------------------------------------------------------------------


def test_12_duplicate_key_is_reported_with_both_rows_and_not_compared(stack: Stack) -> None:
    rows = [dict(r) for r in stack.shop]
    rows.append({"sku": "P001", "price": "1.00", "qty": 1})
    stack.server.handler = catalog(rows)
    report = stack.run()
    dupes = [d for d in report.outcome.discrepancies if d.kind == "duplicate_key"]
    compared = [d for d in report.outcome.discrepancies if d.key == "P001" and d.kind == "value_mismatch"]
    detail = dupes[0].detail if dupes else ""
    located = len(dupes) == 1 and dupes[0].system == "shop" and "2 records" in (detail or "")
    results.record("bad_input", cls="B", scenario=12, name="duplicate key P001", located=located)
    assert located, dupes
    assert compared == []


# -- 13. normalisation ------------------------------------------------------------------------


def test_13_equal_values_in_other_spellings_are_not_discrepancies(stack: Stack) -> None:
    rows = [dict(r) for r in stack.shop]
    rows[0]["price"] = "10"  # 10.00
    rows[2]["price"] = " 30.000 "  # 30.00
    rows[3]["qty"] = "4.0"  # 4
    stack.server.handler = catalog(rows)
    write_csv(
        stack.root / "crm" / "customers.csv",
        [
            {"id": "C1", "email": "Canary+PII@Example.COM", "phone": "+15550199"},
            {"id": "C2", "email": " bob@EXAMPLE.net ", "phone": "+1 (555) 0111"},
        ],
    )
    report = stack.run()
    ok = found(report) == {("value_mismatch", "P002", "price", "shop"), ("value_mismatch", "C1", "phone", "crm")}
    results.record("bad_input", cls="B", scenario=13, name="normalised spellings", located=ok)
    assert ok, found(report)


def test_13_every_compare_type_has_golden_cases() -> None:
    from detector.compare import COMPARE_TYPES  # noqa: PLC0415
    from tests.compare import golden  # noqa: PLC0415

    covered = {case.values[0] for case in golden.EQUAL} & {case.values[0] for case in golden.NOT_EQUAL}
    types = sorted(COMPARE_TYPES)
    missing = [t for t in types if t not in covered]
    assert types, "no compare types registered"
    assert missing == []


# -- 14. huge and deeply nested payloads --------------------------------------------------------


def test_14_deep_nesting_is_rejected_as_invalid_payload(stack: Stack) -> None:
    deep = '{"data": ' + "[" * 10_000 + "]" * 10_000 + "}"
    outcome = inject(stack, "B", 14, "10k levels of nesting", lambda _r: Reply(200, deep), expect=failed_as("invalid_payload"))
    results.record("bad_input", cls="B", scenario=14, name="10k nesting", located=outcome.survived and "nested" in outcome.error)
    assert outcome.survived, outcome
    assert "nested" in outcome.error


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_14_a_100mb_body_is_refused_by_the_size_limit(stack: Stack, declared: bool) -> None:
    big = b'{"data": [' + b'{"sku": "P999", "price": "1.00"},' * 3_300_000 + b'{}]}'  # ~100 MB
    assert len(big) > 100_000_000

    def handle(_request: Seen) -> Reply:
        if declared:
            return Reply(200, big)
        return Reply(200, big, headers={"X-Chunked": "1"})

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcome = inject(stack, "B", 14, f"100 MB body ({'declared' if declared else 'streamed'})", handle, expect=failed_as("invalid_payload"))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    results.record("bad_input", cls="B", scenario=14, name="100 MB body", located=outcome.survived and "max_response_bytes" in outcome.error)
    assert outcome.survived, outcome
    assert "max_response_bytes" in outcome.error
    assert grown_mb < 300, grown_mb


# -- 15. values that try to forge log lines or drive the terminal ---------------------------------

HOSTILE = '10.00\n{"event": "admin_login", "level": "critical", "user": "root"}\r\x1b[2J\x1b[31mRED\x07'


def test_15_hostile_values_cannot_forge_log_lines_or_escape_the_terminal(
    stack: Stack, logbuf: Any, sweep: Sweep
) -> None:
    rows = [dict(r) for r in stack.shop]
    rows[0]["price"] = HOSTILE
    rows.append({"sku": 'P\n{"event":"fake"}\x1b]0;pwned\x07', "price": "1", "qty": 1})
    stack.server.handler = catalog(rows)
    stack.run()
    runner = CliRunner()
    result = runner.invoke(main, ["--log-level", "debug", "reconcile", "-c", str(stack.path), "--format", "table", "--no-alerts"])
    sweep.add("cli output", result.output)
    lines = logbuf.getvalue().splitlines() + [
        line for line in (result.stderr or "").splitlines() if line.startswith("{")
    ]
    parsed = [json.loads(line) for line in lines]
    forged = [e for e in parsed if e.get("event") in ("admin_login", "fake")]
    escapes = re.findall(r"[\x1b\x07\r]", result.stdout)
    ok = not forged and not escapes and all(isinstance(e, dict) for e in parsed)
    results.record("injection", cls="I", scenario=15, name="CR/LF/ANSI in values -> logs and terminal", neutralised=ok)
    assert not forged, forged
    assert not escapes, result.stdout[:500]
    assert log_events(logbuf)
