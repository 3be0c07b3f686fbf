"""``fieldwarden reconcile``: one full reconciliation now (SPEC: Commands, reconcile JSON)."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import structlog
from rich.console import Console

from detector.cli.common import (
    config_option,
    format_option,
    guarded,
    load_or_exit,
    safe,
    wide_console,
)
from detector.cli.render import (
    EncodedArray,
    discrepancies_csv,
    discrepancies_table,
    encode_json,
)
from detector.durations import parse_duration
from detector.exitcodes import ExitCode
from detector.gcpause import paused_gc
from detector.locking import DEFAULT_RUN_LOCK_WAIT_S
from detector.model import SourceStatus
from detector.service import RunReport, open_store, run_once

if TYPE_CHECKING:
    from detector.storage.views import RunOutcome

__all__ = ["COMMANDS", "exit_code_for", "report_json"]

log = structlog.get_logger()


def exit_code_for(report: RunReport) -> ExitCode:
    """3 when part of the picture is unknown, else 1 when something open is wrong, else 0."""
    if any(s.status is not SourceStatus.OK or s.error_kind for s in report.result.sources):
        return ExitCode.SOURCE
    if any(d.status == "open" for d in report.outcome.discrepancies):
        return ExitCode.DISCREPANCIES
    return ExitCode.OK


def report_json(report: RunReport) -> dict[str, Any]:
    """SPEC's reconcile document, its ``discrepancies`` already encoded (see ``_items``)."""
    result, outcome = report.result, report.outcome
    views = outcome.discrepancies
    sources = []
    for s in result.sources:
        source: dict[str, Any] = {
            "system": s.system,
            "entity": s.entity,
            "records": s.records,
            "status": str(s.status),
        }
        if s.problems:
            source["problems"] = s.problems
            source["problem_samples"] = s.problem_samples
        if s.error:
            source["error"] = s.error
            source["error_kind"] = s.error_kind
        sources.append(source)
    return {
        "run": {
            "id": outcome.run_id,
            "mode": result.mode,
            "status": outcome.status,
            "started_at": _iso(result.started_at),
            "finished_at": _iso(result.finished_at),
        },
        "sources": sources,
        "summary": {
            "records": result.records,
            "values_compared": result.values_compared,
            "discrepancies": len(views),
            "by_kind": dict(Counter(map(attrgetter("kind"), views))),
            "opened": outcome.opened,
            "resolved": outcome.resolved,
            "pending": outcome.pending,
        },
        "discrepancies": _items(outcome),
    }


def _items(outcome: RunOutcome) -> EncodedArray:
    """The masked discrepancy objects as JSON texts, spliced by ``dump_json``.

    A discrepancy the run wrote an outbox event for is already encoded (the event's payload);
    only the others are encoded here, so a large run's report builds no object per item.
    """
    texts = outcome.json_texts
    return EncodedArray([texts.get(v.id) or v.json_text() for v in outcome.discrepancies])


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@click.command("reconcile")
@config_option
@click.option("--entity", "entities", multiple=True, help="Only this entity (repeatable).")
@click.option(
    "--system", "systems", multiple=True, help="Only pairs involving this system (repeatable)."
)
@format_option("table", "json", "csv")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to a file.",
)
@click.option("--no-alerts", is_flag=True, help="Record the run but do not deliver alerts now.")
@click.option(
    "--accept-mass-missing",
    is_flag=True,
    help="Report missing/orphaned keys even above the mass-missing limit (once, when they are real).",
)
@click.option(
    "--lock-wait",
    default=f"{DEFAULT_RUN_LOCK_WAIT_S:g}s",
    show_default=True,
    help="While the daemon (or another reconcile) runs, wait this long for it, then refuse (exit 4).",
)
@guarded
def reconcile(
    config_path: Path,
    entities: tuple[str, ...],
    systems: tuple[str, ...],
    output_format: str,
    output: Path | None,
    no_alerts: bool,
    accept_mass_missing: bool,
    lock_wait: str,
) -> int:
    """Run one full reconciliation now: record it, open/resolve discrepancies, send alerts."""
    config = load_or_exit(config_path)
    unknown = [e for e in entities if e not in config.model.entities]
    unknown += [s for s in systems if s not in config.systems]
    if unknown:
        raise click.UsageError(f"unknown entity or system: {', '.join(unknown)}")
    try:
        wait = parse_duration(lock_wait).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--lock-wait") from None
    interactive = Console(stderr=True).is_terminal
    # The store stays open while the report is written: the run's WAL checkpoint (SQLite)
    # runs in the background meanwhile, and closing the store waits for it. The report's
    # dictionaries are no more cyclic than the run's findings (gcpause.py).
    with paused_gc(), open_store(config) as store:
        report = run_once(
            config,
            entities=entities,
            systems=systems,
            deliver_alerts=not no_alerts,
            progress=interactive,
            lock_wait=wait,
            accept_mass_missing=accept_mass_missing,
            store=store,
        )
        _write_report(report, output_format, output)
    return exit_code_for(report)


def _write_report(report: RunReport, output_format: str, output: Path | None) -> None:
    """The report in ``output_format``, to ``output`` or stdout, as UTF-8 ending in a newline."""
    if output_format == "json":
        data = encode_json(report_json(report), items=len(report.outcome.discrepancies))
    elif output_format == "csv":
        data = discrepancies_csv(d.to_json() for d in report.outcome.discrepancies).encode()
    elif output is not None:
        console = Console(file=(buffer := io.StringIO()), width=160, force_terminal=False)
        _print_table(report, console)
        data = buffer.getvalue().encode()
    else:
        _print_table(report, wide_console())
        return
    if output is not None:
        output.write_bytes(data if data.endswith(b"\n") else data + b"\n")
    else:
        click.echo(data)


def _print_table(report: RunReport, console: Console) -> None:
    result, outcome = report.result, report.outcome
    items = [d.to_json() for d in outcome.discrepancies]
    discrepancies_table(
        items, title=f"Run {outcome.run_id} ({result.mode}, {outcome.status})", console=console
    )
    for s in result.sources:
        if s.status is not SourceStatus.OK or s.error or s.problems:
            detail = f": {safe(s.error)}" if s.error else ""
            console.print(
                f"[yellow]source {safe(s.system)}/{safe(s.entity)} {s.status}{detail}[/yellow]"
            )
            for sample in s.problem_samples:
                console.print(f"  [yellow]- {safe(sample)}[/yellow]")
    counts = Counter(d["status"] for d in items)
    console.print(
        f"{result.records} records, {result.values_compared} values compared, {len(items)} discrepancies"
        f" ({counts.get('open', 0)} open, {counts.get('pending', 0)} pending,"
        f" {counts.get('acknowledged', 0)} acknowledged); {outcome.opened} opened, {outcome.resolved} resolved"
    )


COMMANDS = [reconcile]
