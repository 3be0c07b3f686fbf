"""Reconciliation end to end over real CSV files and a real SQLite store."""

from __future__ import annotations

import contextlib
import gc
import json
import threading
from collections.abc import Collection
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.base import KeyTuple, ResourceSpec, SourceFrame
from connectors.csv_file import CsvConnector
from detector.cli import main
from detector.config import load_config
from detector.engine import parallel
from detector.service import run_once
from detector.storage import Store
from tests.engine.stack import ERP, PIM, STOREFRONT, build_stack, write_csv


def _found(config_path: Path) -> set[tuple[str, str | None, str | None, str | None, str]]:
    report = run_once(load_config(config_path), deliver_alerts=False)
    return {(d.kind, d.key, d.field, d.owner, d.system) for d in report.outcome.discrepancies}


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    return build_stack(tmp_path)


def test_finds_each_planted_problem_and_nothing_else(stack: Path) -> None:
    assert _found(stack) == {
        ("value_mismatch", "B", "price", "erp", "storefront"),
        ("non_owner_write", "B", "price", "erp", "storefront"),
        ("value_mismatch", "A|WH-EAST", "on_hand", "erp", "storefront"),
    }


def test_a_run_pauses_the_cyclic_collector_and_resumes_it(
    stack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    collector: list[bool] = []
    read = CsvConnector.read

    def watched(
        self: CsvConnector, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None
    ) -> SourceFrame:
        collector.append(gc.isenabled())
        return read(self, spec, keys=keys)

    monkeypatch.setattr(CsvConnector, "read", watched)
    assert gc.isenabled()
    run_once(load_config(stack), deliver_alerts=False)
    assert collector
    assert not any(collector)
    assert gc.isenabled()


def test_twice_gives_the_same_ids_and_no_duplicates(stack: Path) -> None:
    config = load_config(stack)
    first = run_once(config, deliver_alerts=False).outcome.discrepancies
    second = run_once(config, deliver_alerts=False).outcome.discrepancies
    assert sorted(d.id for d in first) == sorted(d.id for d in second)
    assert len({d.id for d in second}) == len(second)
    assert all(d.first_seen == next(f for f in first if f.id == d.id).first_seen for d in second)


def test_fixing_a_value_resolves_it(stack: Path) -> None:
    config = load_config(stack)
    run_once(config, deliver_alerts=False)
    fixed = [dict(r, price="20.00") if r["sku"] == "B" else r for r in STOREFRONT]
    write_csv(stack.parent / "storefront" / "variants.csv", fixed)
    outcome = run_once(config, deliver_alerts=False).outcome
    kinds = {(d.kind, d.key) for d in outcome.discrepancies}
    assert ("value_mismatch", "B") not in kinds
    # the manual price edit no longer disagrees with the ERP: the non-owner write resolves too
    assert ("non_owner_write", "B") not in kinds
    assert outcome.resolved == 2


def test_an_outage_is_not_a_deletion(stack: Path) -> None:
    config = load_config(stack)
    run_once(config, deliver_alerts=False)
    (stack.parent / "storefront" / "variants.csv").unlink()
    result = CliRunner().invoke(
        main, ["reconcile", "-c", str(stack), "--format", "json", "--no-alerts"]
    )
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert report["run"]["status"] == "partial"
    failed = [s for s in report["sources"] if s["status"] != "ok"]
    assert [(s["system"], s["entity"], s["status"]) for s in failed] == [
        ("storefront", "product", "failed")
    ]
    assert "variants.csv" in failed[0]["error"]
    kinds = {d["kind"] for d in report["discrepancies"]}
    assert "missing_in_reader" not in kinds
    assert "orphan_in_reader" not in kinds
    # nothing from the failed source was resolved by its absence
    assert report["summary"]["resolved"] == 0


def test_a_shrunken_source_is_suspect(stack: Path) -> None:
    config = load_config(stack)
    run_once(config, deliver_alerts=False)
    write_csv(stack.parent / "erp" / "products.csv", ERP[:1])
    report = run_once(config, deliver_alerts=False)
    erp = next(s for s in report.result.sources if (s.system, s.entity) == ("erp", "product"))
    assert erp.status == "suspect"
    assert erp.error_kind == "suspect_shrunk"
    assert not [d for d in report.outcome.discrepancies if d.kind == "missing_in_reader"]
    assert not [d for d in report.outcome.discrepancies if d.kind == "orphan_in_reader"]


def test_missing_orphan_and_duplicate(stack: Path) -> None:
    write_csv(
        stack.parent / "pim" / "products.csv",
        [*PIM, {"identifier": "B", "name": "Beta 2", "weight_g": "1"}],
    )
    write_csv(
        stack.parent / "storefront" / "variants.csv",
        [r for r in STOREFRONT if r["sku"] != "C"]
        + [
            {
                "sku": "Q",
                "price": "1",
                "inventory_quantity": "1",
                "title": "Q",
                "weight_kg": "1",
                "status": "active",
            }
        ],
    )
    found = _found(stack)
    assert ("duplicate_key", "B", None, None, "pim") in found
    assert ("missing_in_reader", "C", None, "erp", "storefront") in found
    assert ("missing_in_reader", "C", None, "pim", "storefront") in found
    assert ("orphan_in_reader", "Q", None, "erp", "storefront") in found
    # a duplicated key is never value-compared in that system
    assert not [f for f in found if f[0] == "value_mismatch" and f[1] == "B" and f[3] == "pim"]


def test_wrong_type_is_a_problem_not_a_mismatch(stack: Path) -> None:
    write_csv(
        stack.parent / "storefront" / "variants.csv",
        [dict(r, price="abc") if r["sku"] == "C" else r for r in STOREFRONT],
    )
    report = run_once(load_config(stack), deliver_alerts=False)
    assert not [d for d in report.outcome.discrepancies if d.key == "C"]
    storefront = next(
        s for s in report.result.sources if (s.system, s.entity) == ("storefront", "product")
    )
    assert storefront.problems == 1
    assert "price" in storefront.problem_samples[0]
    assert "'C'" in storefront.problem_samples[0]


def test_lag_makes_a_fresh_mismatch_pending(stack: Path) -> None:
    text = stack.read_text(encoding="utf-8").replace(
        "compare: money, severity: high", "compare: money, severity: high, lag: 1h"
    )
    stack.write_text(text, encoding="utf-8")
    outcome = run_once(load_config(stack), deliver_alerts=False).outcome
    price = next(
        d for d in outcome.discrepancies if d.kind == "value_mismatch" and d.field == "price"
    )
    assert price.status == "pending"
    result = CliRunner().invoke(
        main, ["reconcile", "-c", str(stack), "--format", "json", "--no-alerts"]
    )
    statuses = {
        (d["kind"], d["field"]): d["status"] for d in json.loads(result.stdout)["discrepancies"]
    }
    assert statuses[("value_mismatch", "price")] == "pending"


def test_entity_and_system_filters(stack: Path) -> None:
    report = run_once(load_config(stack), entities=["inventory"], deliver_alerts=False)
    assert {d.entity for d in report.outcome.discrepancies} == {"inventory"}
    assert {s.entity for s in report.result.sources} == {"inventory"}


def test_one_owner_down_does_not_resolve_its_findings_through_another_owner(stack: Path) -> None:
    """The storefront reads from erp and pim: erp failing must not resolve erp-owned findings."""
    config = load_config(stack)
    first = run_once(config, deliver_alerts=False).outcome
    assert ("value_mismatch", "B") in {
        (d.kind, d.key) for d in first.discrepancies if d.owner == "erp"
    }
    (stack.parent / "erp" / "products.csv").unlink()
    outcome = run_once(config, deliver_alerts=False).outcome
    assert outcome.resolved == 0


def test_a_full_run_advances_change_log_cursors_with_its_commit(stack: Path) -> None:
    config = load_config(stack)
    run_once(config, deliver_alerts=False)
    with Store.open(config.storage_url) as store:
        assert store.cursor("storefront", "product") == "2026-11-20T09:00:00+00:00"
    # a failed source keeps its entity's cursors where they were
    (stack.parent / "erp" / "products.csv").unlink()
    write_csv(
        stack.parent / "storefront" / "variant_changes.csv",
        [
            {
                "sku": "C",
                "field": "price",
                "changed_at": "2026-11-25T09:00:00Z",
                "changed_by": "jane.doe",
                "old_value": "",
                "new_value": "",
            }
        ],
    )
    run_once(config, deliver_alerts=False)
    with Store.open(config.storage_url) as store:
        assert store.cursor("storefront", "product") == "2026-11-20T09:00:00+00:00"


def test_an_incremental_run_resolves_keys_written_through_a_key_map(stack: Path) -> None:
    config = load_config(stack)
    first = run_once(config, deliver_alerts=False).outcome
    assert ("value_mismatch", "A|WH-EAST") in {(d.kind, d.key) for d in first.discrepancies}
    write_csv(
        stack.parent / "storefront" / "inventory_levels.csv",
        [{"sku": "A", "location_id": "loc-1", "available": "40"}],
    )
    # the daemon hands in each changed key as every system spells it
    outcome = run_once(
        config, keys={"inventory": [("A", "loc-1"), ("A", "WH-EAST")]}, deliver_alerts=False
    ).outcome
    assert outcome.resolved == 1


def _watch_reads(monkeypatch: pytest.MonkeyPatch, meet: threading.Barrier | None) -> list[int]:
    """Record how many CSV reads are in flight as each starts; with ``meet``, the first reads
    wait for each other (so side-by-side reads are seen without relying on timing)."""
    monkeypatch.setattr(parallel.pl, "thread_pool_size", lambda: 2)
    in_flight: list[int] = []
    active = [0]
    lock = threading.Lock()
    original = CsvConnector.read

    def watched(
        self: CsvConnector, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None
    ) -> SourceFrame:
        with lock:
            active[0] += 1
            in_flight.append(active[0])
            first = len(in_flight) <= (meet.parties if meet is not None else 0)
        try:
            if meet is not None and first:
                with contextlib.suppress(threading.BrokenBarrierError):
                    meet.wait(timeout=10)  # returns at once when the reads run side by side
            return original(self, spec, keys=keys)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(CsvConnector, "read", watched)
    return in_flight


def test_an_incremental_run_reads_its_systems_side_by_side(
    stack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = {"product": [("A",), ("B",)]}
    with monkeypatch.context() as one_thread:
        one_thread.setattr(parallel.pl, "thread_pool_size", lambda: 1)
        other = build_stack(stack.parent / "sequential")
        baseline = run_once(load_config(other), keys=keys, deliver_alerts=False)
    meet = threading.Barrier(2)
    in_flight = _watch_reads(monkeypatch, meet)
    report = run_once(load_config(stack), keys=keys, deliver_alerts=False)
    assert max(in_flight) == 2
    assert not meet.broken
    # what the reads returned is applied in the config's order, whichever finished first
    assert [(s.system, s.records) for s in report.result.sources] == [
        (s.system, s.records) for s in baseline.result.sources
    ]
    assert [d.id for d in report.result.discrepancies] == [
        d.id for d in baseline.result.discrepancies
    ]


def test_a_full_run_reads_one_system_at_a_time(
    stack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_flight = _watch_reads(monkeypatch, None)
    run_once(load_config(stack), deliver_alerts=False)
    assert in_flight
    assert max(in_flight) == 1
