"""``fieldwarden alerts``: the alert log (SPEC: Commands, ``alerts --format json``).

Reads the outbox: every lifecycle event with its deliveries per sink. ``--follow`` prints the
latest events, then polls the database for new ones until Ctrl-C. Values are printed as the
outbox snapshot holds them (personal values masked); every stored string goes through ``safe``
and into rich as plain ``Text``, so neither terminal escapes nor rich markup in a value can
change what the terminal shows. Dead deliveries are summarised after the listing (on stderr
for json and csv, so stdout stays one document).

The filter options and helpers here are shared with ``discrepancies``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from detector.cli.common import (
    config_option,
    format_option,
    guarded,
    load_or_exit,
    safe,
    wide_console,
)
from detector.cli.render import dump_json, rows_csv
from detector.durations import parse_duration
from detector.model import Kind, Severity
from detector.service import open_store, store_exists
from detector.storage import DiscrepancyFilter, EventView, Store
from detector.storage.deliveries import dead_deliveries, delivery_counts
from detector.storage.types import as_utc

__all__ = [
    "ALERT_COLUMNS",
    "COMMANDS",
    "alert_rows",
    "build_filter",
    "cell",
    "filter_options",
    "parse_since",
]

P = ParamSpec("P")
R = TypeVar("R")

ALERT_COLUMNS = (
    "id", "at", "event", "discrepancy_id", "kind", "entity", "key", "field", "owner", "system",
    "owner_value", "system_value", "severity", "status", "deliveries",
)  # fmt: skip
POLL_SECONDS = 2.0

_sleep: Callable[[float], None] = time.sleep  # tests swap it to end --follow


def parse_since(value: str | None, *, now: datetime | None = None) -> datetime | None:
    """``2h`` (that long ago) or an ISO time (``2026-11-27T10:00:00Z``; naive means UTC)."""
    if value is None:
        return None
    try:
        return (now or datetime.now(UTC)) - parse_duration(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is neither a duration (30m, 2h, 1d) nor an ISO time", param_hint="--since"
        ) from None
    return as_utc(parsed)


def filter_options(
    statuses: Sequence[str], default_status: str
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """The filters ``alerts`` and ``discrepancies`` share."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        options = [
            click.option("--since", help="Only since then: a duration (2h, 1d) ago or an ISO time."),
            click.option(
                "--status", type=click.Choice(list(statuses)), default=default_status,
                show_default=True, help="Which statuses to show.",
            ),
            click.option("--entity", "entities", multiple=True, help="Only this entity (repeatable)."),
            click.option(
                "--field", "fields", multiple=True,
                help="Only this field, as price or product.price (repeatable).",
            ),
            click.option(
                "--system", "systems", multiple=True, help="Only this reader system (repeatable)."
            ),
            click.option(
                "--kind", "kinds", multiple=True, type=click.Choice([str(k) for k in Kind]),
                help="Only this discrepancy kind (repeatable).",
            ),
            click.option(
                "--severity", type=click.Choice([str(s) for s in Severity]),
                help="Only this severity and above.",
            ),
            click.option(
                "--limit", type=click.IntRange(min=0), default=None, help="Show at most N (newest)."
            ),
        ]  # fmt: skip
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def build_filter(
    *,
    since: str | None,
    status: str,
    entities: Sequence[str],
    fields: Sequence[str],
    systems: Sequence[str],
    kinds: Sequence[str],
    severity: str | None,
    limit: int | None,
) -> DiscrepancyFilter:
    """The store filter for the shared options; ``product.price`` also selects the entity."""
    bare: list[str] = []
    wanted_entities = list(entities)
    for name in fields:
        entity, dot, field = name.rpartition(".")
        bare.append(field if dot else name)
        if dot and entity not in wanted_entities:
            wanted_entities.append(entity)
    return DiscrepancyFilter(
        status=status,
        entities=tuple(wanted_entities),
        fields=tuple(bare),
        systems=tuple(systems),
        kinds=tuple(kinds),
        min_severity=severity,
        since=parse_since(since),
        limit=limit,
    )


def cell(value: Any) -> Text:
    """A table cell: stored text neutralised and never read as rich markup."""
    return Text("" if value is None else safe(value))


def _deliveries_text(event: dict[str, Any]) -> str:
    parts = []
    for d in event["deliveries"]:
        text = f"{d['sink']} {d['status']}"
        if d["attempts"] > 1 or d["status"] == "dead":
            text += f" ({d['attempts']})"
        parts.append(text)
    return ", ".join(parts)


def alert_rows(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flat rows (CSV, table) from SPEC alert objects."""
    rows = []
    for event in events:
        d = event.get("discrepancy") or {}
        source = event.get("source") or {}
        rows.append({
            "id": event["id"],
            "at": event["at"],
            "event": event["event"],
            "discrepancy_id": d.get("id"),
            "kind": d.get("kind"),
            "entity": d.get("entity") or source.get("entity"),
            "key": d.get("key"),
            "field": d.get("field"),
            "owner": d.get("owner"),
            "system": d.get("system") or source.get("system"),
            "owner_value": d.get("owner_value"),
            "system_value": d.get("system_value") if d else source.get("error"),
            "severity": d.get("severity"),
            "status": d.get("status") or source.get("status"),
            "deliveries": _deliveries_text(event),
        })  # fmt: skip
    return rows


def _table(rows: Sequence[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, header_style="bold")
    for name in (
        "at",
        "event",
        "field",
        "system",
        "key",
        "owner value",
        "reader value",
        "severity",
        "deliveries",
        "id",
    ):
        table.add_column(name, overflow="fold")
    for row in rows:
        field = f"{row['entity']}.{row['field']}" if row["field"] else row["entity"]
        table.add_row(
            cell(row["at"]), cell(row["event"]), cell(field), cell(row["system"]), cell(row["key"]),
            cell(row["owner_value"]), cell(row["system_value"]), cell(row["severity"]),
            cell(row["deliveries"]), cell((row["discrepancy_id"] or "")[:10]),
        )  # fmt: skip
    return table


def _line(row: dict[str, Any]) -> str:
    field = f"{row['entity']}.{row['field']}" if row["field"] else row["entity"]
    text = f"{row['at']} {row['event']} {field} on {row['system']}"
    if row["key"] is not None:
        text += f" key {row['key']}"
    if row["field"]:
        text += f": {row['owner_value']} -> {row['system_value']}"
    if row["severity"]:
        text += f" [{row['severity']}]"
    return safe(text)


def _print_dead(store: Store, console: Console) -> None:
    counts = delivery_counts(store)
    dead = sum(n for (_, status), n in counts.items() if status == "dead")
    if not dead:
        return
    pending = sum(n for (_, status), n in counts.items() if status == "pending")
    console.print(
        Text(
            f"{dead} alert deliveries are dead (not delivered, not retried); {pending} pending.",
            style="yellow",
        )
    )
    for item in dead_deliveries(store, limit=5):
        console.print(
            Text(
                f"  event {item.event_id} ({item.event}) to {safe(item.sink)} after {item.attempts} attempt(s): {safe(item.last_error)}",
                style="yellow",
            )
        )


def _emit(
    events: list[EventView], output_format: str, console: Console, *, follow: bool, header: bool
) -> None:
    items = [e.to_json() for e in events]
    if output_format == "json":
        if follow:
            for item in items:
                click.echo(json.dumps(item, ensure_ascii=False, default=str))
        else:
            click.echo(dump_json(items, items=len(items)))
    elif output_format == "csv":
        text = rows_csv(alert_rows(items), ALERT_COLUMNS)
        click.echo(text if header else text.split("\n", 1)[1], nl=False)
    elif follow:
        for row in alert_rows(items):
            console.print(Text(_line(row)))
    elif items:
        console.print(_table(alert_rows(items), title=f"Alerts ({len(items)})"))
    else:
        console.print("no alerts")


@click.command("alerts")
@config_option
@filter_options(("open", "resolved", "all"), "all")
@format_option("table", "json", "csv")
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Keep printing new events until Ctrl-C (json: one object a line).",
)
@guarded
def alerts(
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
    follow: bool,
) -> int:
    """The alert log: lifecycle events and their delivery to each sink."""
    config = load_or_exit(config_path)
    filters = build_filter(
        since=since, status=status, entities=entities, fields=fields, systems=systems,
        kinds=kinds, severity=severity, limit=100 if limit is None and follow else limit,
    )  # fmt: skip
    console = wide_console()
    if not store_exists(config):
        _emit([], output_format, console, follow=follow, header=True)
        if not follow:
            return 0
    with open_store(config) as store:
        events = store.events(filters=filters)
        _emit(events, output_format, console, follow=follow, header=True)
        if not follow:
            notes = console if output_format == "table" else Console(stderr=True, soft_wrap=True)
            _print_dead(store, notes)
            return 0
        last_id = events[-1].id if events else _newest_id(store)
        try:
            while True:
                _sleep(POLL_SECONDS)
                new = store.events(filters=filters, after_id=last_id, limit=500)
                if new:
                    _emit(new, output_format, console, follow=True, header=False)
                    last_id = new[-1].id
        except KeyboardInterrupt:
            return 0


def _newest_id(store: Store) -> int:
    newest = store.events(limit=1)
    return newest[-1].id if newest else 0


COMMANDS = [alerts]
