"""``fieldwarden discrepancies``: what is wrong right now (SPEC: Commands).

Same filters as ``alerts``. Exit codes (SPEC): 3 when the latest run could not read one of the
sources in question (part of the picture is unknown), else 1 when an open discrepancy is
listed, else 0. Pending ones (inside their lag) and acknowledged ones do not count as open,
as for ``reconcile``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from detector.cli.alerts import build_filter, cell, filter_options
from detector.cli.common import config_option, format_option, guarded, load_or_exit, wide_console
from detector.cli.render import discrepancies_csv, dump_json
from detector.exitcodes import ExitCode
from detector.model import RunStatus
from detector.service import open_store, store_exists
from detector.storage import DiscrepancyFilter, Store

__all__ = ["COMMANDS", "exit_code"]

STATUSES = ("open", "pending", "acknowledged", "resolved", "current", "all")


def exit_code(items: Sequence[dict[str, Any]], unknown_sources: bool) -> ExitCode:
    if unknown_sources:
        return ExitCode.SOURCE
    if any(item["status"] == "open" for item in items):
        return ExitCode.DISCREPANCIES
    return ExitCode.OK


def _unknown_sources(store: Store, filters: DiscrepancyFilter) -> list[str]:
    """Sources of the latest finished run that were not read cleanly (within the filters)."""
    finished = [s.value for s in RunStatus if s is not RunStatus.RUNNING]
    run = store.last_run(status=finished)
    if run is None:
        return []
    return [
        f"{s.system}/{s.entity} {s.status}"
        for s in run.sources
        if s.status != "ok"
        and (not filters.entities or s.entity in filters.entities)
        and (not filters.systems or s.system in filters.systems)
    ]


def _table(items: Sequence[dict[str, Any]], title: str, console: Console) -> None:
    if not items:
        console.print(cell(f"{title}: nothing wrong"))
        return
    table = Table(title=title, header_style="bold")
    for name in (
        "field",
        "system",
        "kind",
        "key",
        "owner",
        "owner value",
        "reader value",
        "severity",
        "status",
        "since",
        "id",
    ):
        table.add_column(name, overflow="fold")
    for d in items:
        field = f"{d['entity']}.{d['field']}" if d["field"] else d["entity"]
        reader = d.get("system_value")
        if d["kind"] == "non_owner_write":
            reader = f"{'' if reader is None else reader} (by {d.get('writer')})"
        table.add_row(
            cell(field), cell(d["system"]), cell(d["kind"]), cell(d["key"]), cell(d["owner"]),
            cell(d.get("owner_value")), cell(reader), cell(d["severity"]), cell(d["status"]),
            cell(d["first_seen"]), cell(d["id"][:10]),
        )  # fmt: skip
    console.print(table)


@click.command("discrepancies")
@config_option
@filter_options(STATUSES, "open")
@format_option("table", "json", "csv")
@guarded
def discrepancies(
    config_path: Path,
    since: str | None,
    status: str,
    entities: tuple[str, ...],
    fields: tuple[str, ...],
    systems: tuple[str, ...],
    kinds: tuple[str, ...],
    severity: str | None,
    limit: int | None,
    output_format: str,
) -> int:
    """What is wrong right now, most severe first (exit 1 when something is open)."""
    config = load_or_exit(config_path)
    filters = build_filter(
        since=since, status=status, entities=entities, fields=fields, systems=systems,
        kinds=kinds, severity=severity, limit=limit,
    )  # fmt: skip
    items: list[dict[str, Any]] = []
    unknown: list[str] = []
    if store_exists(config):
        with open_store(config) as store:
            items = [d.to_json(mask=True) for d in store.discrepancies(filters)]
            unknown = _unknown_sources(store, filters)
    if output_format == "json":
        click.echo(dump_json(items, items=len(items)))
    elif output_format == "csv":
        click.echo(discrepancies_csv(items), nl=False)
    else:
        _table(items, f"Discrepancies ({status})", wide_console())
    for source in unknown:
        click.echo(
            f"warning: the last run could not read {cell(source)}: part of the picture is unknown",
            err=True,
        )
    return exit_code(items, bool(unknown))


COMMANDS = [discrepancies]
