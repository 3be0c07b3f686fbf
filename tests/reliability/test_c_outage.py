"""C. Snapshot sanity: an outage is not a deletion (plan scenarios 16-19)."""

from __future__ import annotations

import pytest

from detector.storage import Store
from tests.reliability import results
from tests.reliability.faultserver import Reply
from tests.reliability.harness import Stack, catalog
from tests.reliability.scenarios import MISSING_KINDS, found, inject, source


def _source_events(stack: Stack) -> list[str]:
    with Store.open(stack.config().storage_url) as store:
        return [
            f"{e.event}:{(e.payload or {}).get('system')}"
            for e in store.events(event_types=("source_failed",))
        ]


def test_16_zero_rows_after_a_big_run_is_suspect_empty_with_one_operational_alert(
    tmp_path: object, server: object
) -> None:
    stack = Stack(tmp_path, server, count=500)  # type: ignore[arg-type]
    outcome = inject(
        stack,
        "C",
        16,
        "source returns 0 rows (was 500)",
        lambda _r: Reply(200, {"data": [], "total": 0}),
        expect=lambda s: s.status.value == "suspect" and s.error_kind == "suspect_empty",
    )
    events = _source_events(stack)
    results.record("operational_alerts", cause="suspect_empty", count=len(events))
    assert outcome.survived, outcome
    assert outcome.false_missing == 0
    assert events == ["source_failed:shop"], events


def test_17_forty_percent_of_the_usual_rows_skips_the_missing_phase(stack: Stack) -> None:
    outcome = inject(
        stack,
        "C",
        17,
        "source returns 40% of its rows",
        lambda _r: Reply(200, {"data": stack.shop[:8]}),
        expect=lambda s: s.status.value == "suspect" and s.error_kind == "suspect_shrunk",
    )
    assert outcome.survived, outcome
    assert outcome.report.outcome.status == "partial"


def test_17_missing_above_a_threshold_is_held_back(stack: Stack) -> None:
    stack.run()
    stack.server.handler = catalog(stack.shop[:14])
    report = stack.run()
    missing = [d for d in report.outcome.discrepancies if d.kind in MISSING_KINDS]
    assert len(missing) == 0
    shop = next(s for s in report.result.sources if s.system == "shop")
    assert shop.error_kind == "mass_missing"
    assert report.outcome.resolved == 0
    # a one-off override reports them when they are real
    accepted = stack.run(accept_mass_missing=True)
    assert len([d for d in accepted.outcome.discrepancies if d.kind in MISSING_KINDS]) == 6


@pytest.mark.parametrize(
    ("name", "reply"),
    [
        ("stream in error", Reply(503, "down")),
        ("stream incomplete", None),
    ],
)
def test_18_a_failed_or_incomplete_stream_gets_no_missing_check(
    stack: Stack, name: str, reply: Reply | None
) -> None:
    stack.entity_options.update({"pagination": {"style": "none", "total_path": "total"}})
    partial = [dict(r) for r in stack.shop[:10]]
    partial[0]["price"] = "1.00"  # a new mismatch in what was received: still reported
    outcome = inject(
        stack,
        "C",
        18,
        name,
        (lambda _r: reply)
        if reply is not None
        else (lambda _r: Reply(200, {"data": partial, "total": 20})),
        expect=lambda s: s.status.value in ("failed", "incomplete"),
    )
    assert outcome.survived, outcome
    if reply is None:
        # present-vs-present comparisons still ran over the received records
        assert ("value_mismatch", "P001", "price", "shop") in found(outcome.report)


def test_19_owner_unavailable_produces_and_resolves_nothing(stack: Stack) -> None:
    baseline = stack.run()
    products = stack.root / "erp" / "products.csv"
    saved = products.read_bytes()
    products.unlink()
    report = stack.run()
    erp = source(report, "erp")
    product_findings = {d for d in found(report) if d[0] != "value_mismatch" or d[1] != "C1"}
    false_missing = sum(1 for d in report.outcome.discrepancies if d.kind in MISSING_KINDS)
    products.write_bytes(saved)
    after = stack.run()
    survived = (
        erp.status.value == "failed"
        and report.outcome.resolved == 0
        and product_findings == set()
        and found(after) == found(baseline)
    )
    results.fault("C", 19, "owner unavailable", survived=survived, kind=erp.error_kind)
    results.record("false_missing", cause="owner unavailable", count=false_missing)
    assert survived, (erp, product_findings)
    assert report.outcome.status == "partial"
