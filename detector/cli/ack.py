"""``fieldwarden ack ID [--note TEXT]``: acknowledge a discrepancy (SPEC: Commands).

It stays open (and listed), but reminders stop. If it is fixed and later comes back, that is a
new episode: it alerts again (the store clears the acknowledgement when it reopens). ``ID`` is
the discrepancy id or a unique prefix of it, as ``discrepancies`` shows it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from detector.cli.common import config_option, format_option, guarded, load_or_exit, safe
from detector.cli.render import dump_json
from detector.exitcodes import ExitCode
from detector.service import open_store
from detector.storage import AmbiguousIdError, DiscrepancyNotFoundError

__all__ = ["COMMANDS"]


@click.command("ack")
@config_option
@click.argument("discrepancy_id", metavar="ID")
@click.option("--note", help="Why (who is on it, ticket number); stored with the acknowledgement.")
@format_option("text", "json", default="text")
@guarded
def ack(config_path: Path, discrepancy_id: str, note: str | None, output_format: str) -> int:
    """Acknowledge a discrepancy: it stays open, its reminders stop."""
    config = load_or_exit(config_path)
    with open_store(config) as store:
        try:
            view = store.acknowledge(discrepancy_id, note, now=datetime.now(UTC))
        except AmbiguousIdError as exc:
            click.echo(
                f"error: id prefix {safe(exc.prefix)!r} matches several discrepancies:", err=True
            )
            for candidate in exc.candidates:
                click.echo(f"  {safe(candidate)}", err=True)
            return ExitCode.CONFIG
        except DiscrepancyNotFoundError as exc:
            click.echo(f"error: {safe(exc)}", err=True)
            return ExitCode.CONFIG
    if output_format == "json":
        click.echo(dump_json(view.to_json(mask=True)))
    else:
        field = f"{view.entity}.{view.field}" if view.field else view.entity
        where = f"{field} on {view.system}" + (f", key {view.key}" if view.key is not None else "")
        click.echo(
            safe(
                f"acknowledged {view.id} ({view.kind}: {where}); reminders stop until it is resolved"
            )
        )
    return ExitCode.OK


COMMANDS = [ack]
