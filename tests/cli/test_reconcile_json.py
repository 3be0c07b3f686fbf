"""The reconcile report: SPEC's document, its discrepancies spliced from their outbox payloads.

``report_json`` hands the discrepancies to ``dump_json`` already encoded (the payload text the
run wrote to the outbox, or encoded on the spot for one without an event); these tests hold the
result to what encoding plain objects with the standard library gives, in content, key order and
(for the indented form) text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from detector.cli.reconcile import report_json
from detector.cli.render import PRETTY_LIMIT, EncodedArray, dump_json
from detector.model import Discrepancy, Kind, RunResult
from detector.service import RunReport
from detector.storage import RunOutcome, Store
from tests.storage.conftest import T0, Runner, mismatch


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened


def _pairs(text: str) -> Any:
    """Parsed JSON with objects as lists of pairs, so key order counts in comparisons."""
    return json.loads(text, object_pairs_hook=list)


def _plain(doc: dict[str, Any], outcome: RunOutcome) -> dict[str, Any]:
    """The report as it was built before: every discrepancy a dict from ``to_json()``."""
    return doc | {"discrepancies": [v.to_json() for v in outcome.discrepancies]}


def _report(runner: Runner, found: list[Discrepancy]) -> tuple[RunReport, RunOutcome]:
    outcome = runner.run(found)
    result = RunResult(mode="full", started_at=T0, finished_at=T0 + timedelta(seconds=3))
    return RunReport(result, outcome), outcome


def _findings() -> list[Discrepancy]:
    """One of each shape: plain, personal (masked), pending (no event), non-owner write."""
    return [
        mismatch("SKU-1", owner_value="19.99 €", system_value="18,99 €"),
        mismatch(
            "C-1",
            field_name="email",
            owner_value="anna.smith@example.com",
            system_value="anna@example.com",
            personal=True,
        ),
        mismatch("SKU-2", lag=timedelta(hours=1), owner_changed_at=T0 - timedelta(minutes=5)),
        Discrepancy(
            kind=Kind.NON_OWNER_WRITE,
            entity="product",
            key="SKU-3",
            field="price",
            owner="erp",
            system="storefront",
            writer="pim-sync",
            changed_at=T0 - timedelta(minutes=3),
        ),
    ]


def test_report_items_are_the_outbox_payloads(store: Store) -> None:
    report, outcome = _report(Runner(store), _findings())
    payloads = {e.discrepancy_id: e.payload for e in store.events()}

    items = _pairs(dump_json(report_json(report)))
    items = dict(items)["discrepancies"]

    assert [dict(i)["status"] for i in items] == ["open", "open", "pending", "open"]
    for item in items:
        fields = dict(item)
        if fields["id"] in payloads:
            assert json.loads(json.dumps(fields)) == payloads[fields["id"]]
    assert "anna" not in json.dumps(items)
    assert set(outcome.json_texts) == set(payloads)  # the pending one had no event


@pytest.mark.parametrize("copies", [1, PRETTY_LIMIT + 1])
def test_report_text_is_what_plain_objects_encode_to(store: Store, copies: int) -> None:
    report, outcome = _report(Runner(store), _findings())
    views = outcome.discrepancies * (1 + copies // len(outcome.discrepancies))
    report.outcome = replace(outcome, discrepancies=views)
    doc = report_json(report)

    text = dump_json(doc, items=len(views))
    expected = _plain(doc, report.outcome)

    if len(views) > PRETTY_LIMIT:
        assert "\n" not in text
        assert text == json.dumps(expected, ensure_ascii=False, separators=(",", ":"))
    else:
        assert text == json.dumps(expected, indent=2, ensure_ascii=False)
    assert _pairs(text) == _pairs(json.dumps(expected))


def test_dump_json_keeps_the_standard_encoders_rendering_of_other_values() -> None:
    """Compact output goes through orjson; what it would render differently goes through ``str``."""
    doc = {
        "at": datetime(2026, 11, 27, 10, tzinfo=UTC),
        "text": "line\nbreak \u2028 é \x7f",
        "items": EncodedArray(['{"a":1}', '{"b":[true,null]}']),
        "nested": {"tuple": (1, 2.5), "none": None, 7: "int key"},
    }
    plain = doc | {"items": [{"a": 1}, {"b": [True, None]}]}

    compact = dump_json(doc, items=PRETTY_LIMIT + 1)
    pretty = dump_json(doc)

    assert compact == json.dumps(plain, ensure_ascii=False, default=str, separators=(",", ":"))
    assert pretty == json.dumps(plain, indent=2, ensure_ascii=False, default=str)
