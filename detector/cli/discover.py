"""``fieldwarden discover``: fields crossing system boundaries, ownership gaps, observed writers, ranked."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from rich.table import Table

from detector.cli.common import (
    config_option,
    format_option,
    guarded,
    load_or_exit,
    safe,
    wide_console,
)
from detector.cli.render import dump_json, rows_csv
from detector.config import Config
from detector.config.ownership import BASE_COLUMNS
from detector.discover import FieldRisk, analyse, gap_rows
from detector.discover.analysis import OpenDiscrepancy
from detector.durations import parse_duration
from detector.exitcodes import ExitCode
from detector.service import store_exists
from detector.storage import Store
from detector.storage.views import DiscrepancyFilter

__all__ = ["COMMANDS", "collect_risks"]


def collect_risks(
    config: Config, *, window: str | None = None, now: datetime | None = None
) -> list[FieldRisk]:
    """The ranked risks from the declared map plus what earlier runs stored (nothing before a first run)."""
    now = now or datetime.now(UTC)
    retention = parse_duration(window) if window else config.settings.change_retention
    if not store_exists(config):
        return analyse(config, [], [], now=now)
    store = Store.open(config.storage_url)
    try:
        changes = store.observed_changes(now - retention)
        current = store.discrepancies(DiscrepancyFilter(status="open"))
    finally:
        store.close()
    open_items = [
        OpenDiscrepancy(d.entity, d.field, d.system, d.kind, d.last_seen) for d in current
    ]
    return analyse(config, changes, open_items, now=now)


def _markdown(risks: list[FieldRisk]) -> str:
    lines = [
        "| rank | field | owner | readers | observed writers | flags | open | risk |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rank, r in enumerate(risks, start=1):
        writers = ", ".join(f"{s} ({n})" for s, n in r.writers.items()) or "-"
        lines.append(
            f"| {rank} | {r.name} | {', '.join(r.owners) or '-'} | {', '.join(r.readers) or '-'} | {writers}"
            f" | {', '.join(r.flags) or '-'} | {r.open_discrepancies} | {r.risk:.1f} |"
        )
    return "\n".join(lines)


@click.command("discover")
@config_option
@format_option("table", "json", "csv", "markdown")
@click.option(
    "--window",
    help="How far back observed writers count (default: settings.change_retention), e.g. 30d.",
)
@guarded
def discover(config_path: Path, output_format: str, window: str | None) -> int:
    """Fields that cross systems, their gaps and observed writers, ranked by risk: start at the top."""
    config = load_or_exit(config_path)
    if window:
        try:
            parse_duration(window)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--window") from None
    risks = collect_risks(config, window=window)
    if output_format == "json":
        click.echo(dump_json([r.to_json() for r in risks]))
    elif output_format == "csv":
        click.echo(rows_csv(gap_rows(risks), BASE_COLUMNS), nl=False)
    elif output_format == "markdown":
        click.echo(_markdown(risks))
    else:
        table = Table(title="Fields crossing system boundaries, riskiest first")
        for column in (
            "rank",
            "field",
            "owner",
            "readers",
            "observed writers",
            "flags",
            "open",
            "risk",
        ):
            table.add_column(column, overflow="fold")
        for rank, r in enumerate(risks, start=1):
            writers = ", ".join(f"{s} ({n})" for s, n in r.writers.items()) or "-"
            table.add_row(
                str(rank),
                safe(r.name),
                safe(", ".join(r.owners)) or "-",
                safe(", ".join(r.readers)) or "-",
                safe(writers),
                safe(", ".join(r.flags)) or "-",
                str(r.open_discrepancies),
                f"{r.risk:.1f}",
            )
        wide_console().print(table)
    return ExitCode.DISCREPANCIES if any(r.flags for r in risks) else ExitCode.OK


COMMANDS = [discover]
