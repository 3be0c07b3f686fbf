"""D. Crash consistency (plan scenarios 20-22): real subprocesses killed at labelled points.

Each kill point: a clean first run (in process), then the data changes (a new mismatch, a newer
change-log row) and ``python -m detector reconcile`` runs with ``RECON_CRASH_AT=<label>``, which
calls ``os._exit(137)`` there (like ``kill -9``). Then a restart. Checked after the crash and after
the restart, against a reference stack that never crashed:

* no half-written run: the crashed run is committed whole or is ``running`` -> ``aborted``;
* the cursor never passes committed data (it moves only with a committed run);
* the restart yields the same open discrepancies as the reference;
* every committed alert event is delivered to every sink at least once (none lost).

Three kill points (one inside the transaction, one after commit, one mid-delivery) run in
``make test``; all seven run in ``make reliability``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from detector.alerts import DispatchPolicy, dispatch
from detector.storage import Store
from detector.storage.views import DiscrepancyFilter
from tests.reliability import results
from tests.reliability.conftest import Sweep
from tests.reliability.faultserver import FaultServer, Reply, serve
from tests.reliability.harness import Stack, catalog
from tests.reliability.scenarios import source

ROOT = Path(__file__).resolve().parents[2]
STORE_LABELS = (
    "record_run.sources",
    "record_run.discrepancies",
    "record_run.events",
    "record_run.before_commit",
)
LABELS = ("service.after_fetch", *STORE_LABELS, "service.after_commit", "alerts.during_delivery")
BEFORE_COMMIT = {"service.after_fetch", *STORE_LABELS}


@pytest.fixture
def receiver() -> Iterator[FaultServer]:
    with serve(lambda _r: Reply(200, {"ok": True})) as running:
        yield running


def _stack(root: Path, server: FaultServer, receiver: FaultServer) -> Stack:
    root.mkdir(parents=True, exist_ok=True)
    return Stack(
        root,
        server,
        alerts=[
            {"type": "log", "path": "alerts.jsonl"},
            {"type": "webhook", "url": f"{receiver.url}/hook", "format": "json", "allow_private": True},
        ],
    )


def _second_state(stack: Stack) -> None:
    """What changed between the first run and the crashed one."""
    rows = [dict(r) for r in stack.shop]
    rows[2]["price"] = "1.00"  # P003: a new mismatch -> an 'opened' alert
    stack.server.handler = catalog(rows)
    stack.add_change("2026-11-20T12:00:00Z")


def _cli(stack: Stack, sweep: Sweep, *, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = stack.env()
    module = "detector"
    if crash_at is not None:
        env["RECON_CRASH_AT"] = crash_at
        if crash_at not in STORE_LABELS:
            module = "tests.reliability.crashrun"
    done = subprocess.run(
        [sys.executable, "-m", module, "reconcile", "-c", str(stack.path), "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    sweep.add(f"subprocess stdout ({crash_at})", done.stdout)
    sweep.add(f"subprocess stderr ({crash_at})", done.stderr)
    return done


def _state(stack: Stack) -> dict[str, object]:
    with Store.open(stack.config().storage_url) as store:
        runs = store.runs(limit=None)
        open_ids = sorted(
            d.id for d in store.discrepancies(DiscrepancyFilter(status="all")) if d.status != "resolved"
        )
        events = store.events()
        return {
            "runs": [(r.id, r.status) for r in reversed(runs)],
            "open": open_ids,
            "cursor": store.cursor("crm", "customer"),
            "events": [(e.id, e.event) for e in events],
            "undelivered": [
                (e.id, d.sink, d.status) for e in events for d in e.deliveries if d.status != "delivered"
            ],
            "missing_deliveries": [e.id for e in events if len(e.deliveries) < 2],
        }


FAST_LABELS = {"record_run.discrepancies", "service.after_commit", "alerts.during_delivery"}


@pytest.mark.parametrize(
    "label",
    [label if label in FAST_LABELS else pytest.param(label, marks=pytest.mark.slow) for label in LABELS],
)
def test_20_kill_9_at_each_point_then_restart_is_consistent(
    tmp_path: Path, server: FaultServer, receiver: FaultServer, sweep: Sweep, label: str
) -> None:
    reference = _stack(tmp_path / "reference", server, receiver)
    reference.run()
    _second_state(reference)
    reference.run()
    expected = _state(reference)
    posts_reference = len(receiver.requests)

    stack = _stack(tmp_path / "crashed", server, receiver)
    first = stack.run()
    assert source(first, "shop").status.value == "ok"
    before = _state(stack)
    _second_state(stack)
    crashed = _cli(stack, sweep, crash_at=label)
    after_crash = _state(stack)
    posts_before_restart = len(receiver.requests)
    restarted = _cli(stack, sweep)
    final = _state(stack)
    leased = bool(final["undelivered"])
    if leased:
        # a dispatcher killed mid-send leaves its claims leased; they come back when the lease
        # (DispatchPolicy.lease, 5 min) ends: dispatch as the daemon would then
        with Store.open(stack.config().storage_url) as store:
            dispatch(stack.config(), store, now=datetime.now(UTC) + DispatchPolicy().lease + timedelta(seconds=1))
        final = _state(stack)
    posts_total = len(receiver.requests)

    crashed_run = after_crash["runs"][-1]  # type: ignore[index]
    if label in BEFORE_COMMIT:
        whole = crashed_run[1] == "running" and after_crash["open"] == before["open"]
        cursor_ok = after_crash["cursor"] == before["cursor"]
        recovered_run = dict(final["runs"])[crashed_run[0]] == "aborted"  # type: ignore[call-overload]
    else:
        whole = crashed_run[1] in ("ok", "partial") and after_crash["open"] == expected["open"]
        cursor_ok = after_crash["cursor"] == expected["cursor"]
        recovered_run = True
    no_running = all(status != "running" for _id, status in final["runs"])  # type: ignore[attr-defined]
    same_findings = final["open"] == expected["open"]
    final_cursor = final["cursor"] == expected["cursor"]
    lost = len(final["undelivered"]) + len(final["missing_deliveries"])  # type: ignore[arg-type]
    committed = len(final["events"])  # type: ignore[arg-type]
    # webhook posts beyond the reference's: a crash may repeat a notification, never drop one
    extra = (posts_total - posts_reference) - posts_reference
    recovered = (
        crashed.returncode == 137
        and restarted.returncode in (0, 1)
        and whole
        and cursor_ok
        and recovered_run
        and no_running
        and same_findings
        and final_cursor
        and lost == 0
    )
    results.record("kill_point", label=label, recovered=recovered, rc=crashed.returncode, after_lease=leased)
    results.record("alerts", cause=f"kill at {label}", committed=committed, delivered=committed - lost, lost=lost)
    results.record("extra_notifications", cause=f"kill at {label}", extra=max(extra, 0), real=committed)
    results.fault("D", 20, f"kill -9 at {label}", survived=recovered)
    assert crashed.returncode == 137, crashed.stderr[-2000:]
    assert restarted.returncode in (0, 1), restarted.stderr[-2000:]
    assert whole, (after_crash, before)
    assert cursor_ok, (after_crash["cursor"], before["cursor"], expected["cursor"])
    assert recovered_run, final["runs"]
    assert no_running, final["runs"]
    assert same_findings, (final["open"], expected["open"])
    assert final_cursor
    assert lost == 0, (final["undelivered"], final["missing_deliveries"])
    assert posts_before_restart <= posts_total


def test_22_corrupt_or_future_cursor_is_cursor_invalid_and_kept_until_reset(stack: Stack) -> None:
    from click.testing import CliRunner  # noqa: PLC0415

    from detector.cli import main  # noqa: PLC0415
    from detector.cli.reconcile import exit_code_for  # noqa: PLC0415

    stack.run()
    cursors = Store.open(stack.config().storage_url)
    table = cursors._engine
    outcomes = []
    cli = CliRunner()
    for bad in ("not-a-timestamp", "2999-01-01T00:00:00+00:00"):
        with table.begin() as conn:
            conn.execute(text("DELETE FROM cursors"))
            conn.execute(
                text(
                    "INSERT INTO cursors (system, entity, value, updated_at) "
                    "VALUES ('crm', 'customer', :v, '2026-11-01 00:00:00.000000')"
                ),
                {"v": bad},
            )
        report = stack.run()
        crm = source(report, "crm", "customer")
        kept = cursors.cursor("crm", "customer") == bad
        again = source(stack.run(), "crm", "customer")
        still_kept = cursors.cursor("crm", "customer") == bad
        partial = report.result.status.value == "partial" and int(exit_code_for(report)) == 3
        unknown = cli.invoke(main, ["reset-cursor", "-c", str(stack.path), "nosuch", "customer"])
        reset = cli.invoke(main, ["reset-cursor", "-c", str(stack.path), "crm", "customer"])
        after = stack.run()
        healthy = source(after, "crm", "customer")
        moved = cursors.cursor("crm", "customer")
        ok = (
            "cursor_invalid" in (crm.error or "")
            and "reset-cursor crm customer" in (crm.error or "")
            and crm.error_kind == "cursor_invalid"
            and again.error_kind == "cursor_invalid"
            and partial
            and kept
            and still_kept
            and unknown.exit_code == 2
            and reset.exit_code == 0
            and healthy.status.value == "ok"
            and healthy.error_kind is None
            and moved is not None
            and moved != bad
        )
        outcomes.append(ok)
        results.fault("D", 22, f"cursor {bad!r}", survived=ok)
        assert ok, (crm, again, report.result.status, unknown.output, reset.output, healthy, moved)
    cursors.close()
    assert all(outcomes), outcomes
