"""Shared steps of the scenarios: inject a fault between two healthy runs and judge the outcome."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from detector.model import SourceReport
from detector.service import RunReport
from tests.reliability import results
from tests.reliability.faultserver import Handler
from tests.reliability.harness import Stack, catalog

MISSING_KINDS = {"missing_in_reader", "orphan_in_reader"}


def source(report: RunReport, system: str, entity: str = "product") -> SourceReport:
    return next(s for s in report.result.sources if (s.system, s.entity) == (system, entity))


def found(report: RunReport) -> set[tuple[str, str | None, str | None, str]]:
    return {(d.kind, d.key, d.field, d.system) for d in report.outcome.discrepancies}


@dataclass
class Outcome:
    report: RunReport
    shop: SourceReport
    wall: float
    false_missing: int
    resolved: int
    healthy_after: bool
    survived: bool
    error: str


def inject(
    stack: Stack,
    cls: str,
    scenario: int,
    name: str,
    handler: Handler,
    *,
    expect: Callable[[SourceReport], bool],
    configure: Callable[[Stack], Any] | None = None,
) -> Outcome:
    """A healthy run, then a run with ``handler`` answering, then a healthy run again.

    The fault is survived when the faulty run classifies the shop's read as ``expect`` says,
    reports no missing/orphan keys and resolves nothing, and the next run is healthy again.
    Everything is recorded before anything is asserted.
    """
    baseline = stack.run()
    assert source(baseline, "shop").status.value == "ok", source(baseline, "shop")
    if configure is not None:
        configure(stack)
    stack.server.handler = handler
    started = time.monotonic()
    report = stack.run()
    wall = time.monotonic() - started
    shop = source(report, "shop")
    false_missing = sum(1 for d in report.outcome.discrepancies if d.kind in MISSING_KINDS)
    resolved = report.outcome.resolved
    stack.server.handler = catalog(stack.shop)
    after = stack.run()
    healthy = source(after, "shop").status.value == "ok" and found(after) == found(baseline)
    classified = expect(shop)
    survived = classified and false_missing == 0 and resolved == 0 and healthy
    deadline = stack.config().settings.run_deadline.total_seconds()
    results.fault(cls, scenario, name, survived=survived, kind=shop.error_kind, wall=round(wall, 3))
    results.record("false_missing", cause=name, count=false_missing)
    results.record("run_wall", seconds=round(wall, 3), deadline=deadline)
    return Outcome(report, shop, wall, false_missing, resolved, healthy, survived, shop.error or "")


def failed_as(kind: str) -> Callable[[SourceReport], bool]:
    return lambda s: s.status.value == "failed" and s.error_kind == kind
