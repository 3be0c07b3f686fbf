"""``fieldwarden ownership``: the ownership map as a matrix of fields x systems."""

from __future__ import annotations

import json
from dataclasses import dataclass
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
from detector.config import Config
from detector.exitcodes import ExitCode
from detector.service import store_exists
from detector.storage import Store

__all__ = ["COMMANDS", "MatrixRow", "observed_writers", "ownership_matrix"]

OWNER, READER, MAPPED = "O", "R", "-"


@dataclass(frozen=True)
class MatrixRow:
    entity: str
    field: str
    owner: str | None
    readers: tuple[str, ...]
    compare: str | None
    severity: str | None
    cells: dict[str, str]
    """system -> "O", "R", "-" (mapped, neither owner nor reader), "" (not mapped); "W" appended for
    observed writers, "W!" where a reader (not the owner) was seen writing."""


def ownership_matrix(
    config: Config, writers: dict[tuple[str, str], set[str]] | None = None
) -> list[MatrixRow]:
    """Every mapped field of every entity, with each system's role; observed writers when given."""
    rows: list[MatrixRow] = []
    systems = list(config.systems)
    for entity_name, entity in config.model.entities.items():
        fields: dict[str, set[str]] = {}
        for system_name, mapping in entity.systems.items():
            for field_name in mapping.fields:
                fields.setdefault(field_name, set()).add(system_name)
        for field_name, holders in fields.items():
            entry = config.ownership.get(entity_name, field_name)
            seen = (writers or {}).get((entity_name, field_name), set())
            cells: dict[str, str] = {}
            for system in systems:
                if entry is not None and entry.owner == system:
                    role = OWNER
                elif entry is not None and system in entry.readers:
                    role = READER
                elif system in holders:
                    role = MAPPED
                else:
                    role = ""
                if system in seen:
                    role += "W!" if role == READER else "W"
                cells[system] = role
            rows.append(
                MatrixRow(
                    entity=entity_name,
                    field=field_name,
                    owner=entry.owner if entry else None,
                    readers=entry.readers if entry else (),
                    compare=entry.rule.type if entry else None,
                    severity=str(entry.severity) if entry else None,
                    cells=cells,
                )
            )
    return rows


def _markdown(rows: list[MatrixRow], systems: list[str]) -> str:
    lines = ["| field | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems)]
    for row in rows:
        cells = " | ".join(row.cells[s] or " " for s in systems)
        lines.append(f"| {row.entity}.{row.field} | {cells} |")
    return "\n".join(lines)


@click.command("ownership")
@config_option
@format_option("table", "csv", "json", "markdown")
@guarded
def ownership(config_path: Path, output_format: str) -> int:
    """Show the ownership map: O owner, R reader, - mapped only, W observed writer."""
    config = load_or_exit(config_path)
    systems = list(config.systems)
    if output_format == "csv":
        click.echo(config.ownership.to_csv(), nl=False)
        return ExitCode.OK
    writers = observed_writers(config)
    rows = ownership_matrix(config, writers)
    if output_format == "json":
        payload = [
            {
                "entity": r.entity,
                "field": r.field,
                "owner": r.owner,
                "readers": list(r.readers),
                "compare": r.compare,
                "severity": r.severity,
                "systems": r.cells,
            }
            for r in rows
        ]
        click.echo(json.dumps(payload, indent=2))
    elif output_format == "markdown":
        click.echo(_markdown(rows, systems))
    else:
        table = Table(title=f"Ownership map ({config_path})", show_lines=False)
        table.add_column("field")
        for system in systems:
            table.add_column(system, justify="center")
        table.add_column("compare")
        for r in rows:
            table.add_row(
                safe(f"{r.entity}.{r.field}"),
                *(r.cells[s] for s in systems),
                r.compare or "(unowned)",
            )
        wide_console().print(table)
        click.echo(
            "O owner · R reader · - mapped, not compared · W observed writer · W! a reader seen writing"
        )
    return ExitCode.OK


def observed_writers(config: Config) -> dict[tuple[str, str], set[str]]:
    """Systems seen writing each field (within ``settings.change_retention``) in earlier runs' change logs."""
    if not store_exists(config):
        return {}
    since = datetime.now(UTC) - config.settings.change_retention
    store = Store.open(config.storage_url)
    try:
        found: dict[tuple[str, str], set[str]] = {}
        for change in store.observed_changes(since):
            found.setdefault((change.entity, change.field), set()).add(change.acting_system)
        return found
    finally:
        store.close()


COMMANDS = [ownership]
