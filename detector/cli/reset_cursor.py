"""``fieldwarden reset-cursor SYSTEM ENTITY``: forget a change-log cursor (reliability plan 22).

A stored cursor that is not a timestamp, or lies in the future, is never guessed past: every run
marks that source ``cursor_invalid`` (the run is partial, exit 3) and keeps the cursor as it is.
This command is the explicit reset: the cursor is deleted in one write transaction, and the next
run reads that change log as on its first run (``settings.change_window`` back).
"""

from __future__ import annotations

from pathlib import Path

import click

from detector.cli.common import config_option, guarded, load_or_exit, safe
from detector.exitcodes import ExitCode
from detector.service import open_store

__all__ = ["COMMANDS"]


@click.command("reset-cursor")
@config_option
@click.argument("system")
@click.argument("entity")
@guarded
def reset_cursor(config_path: Path, system: str, entity: str) -> int:
    """Forget SYSTEM's change-log cursor for ENTITY; the next run re-reads its change window."""
    config = load_or_exit(config_path)
    if system not in config.systems:
        click.echo(f"error: unknown system {safe(system)!r}", err=True)
        return ExitCode.CONFIG
    if entity not in config.model.entities:
        click.echo(f"error: unknown entity {safe(entity)!r}", err=True)
        return ExitCode.CONFIG
    with open_store(config) as store:
        previous = store.delete_cursor(system, entity)
    if previous is None:
        click.echo(safe(f"no cursor stored for {system} {entity}: nothing to reset"))
    else:
        click.echo(
            safe(
                f"cursor of {system} {entity} reset (was {previous!r});"
                f" the next run reads its change log from settings.change_window back"
            )
        )
    return ExitCode.OK


COMMANDS = [reset_cursor]
