"""``fieldwarden runs``: run history with per-source status and counts (SPEC: Commands)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from detector.cli.alerts import cell
from detector.cli.common import config_option, format_option, guarded, load_or_exit, wide_console
from detector.cli.render import dump_json
from detector.service import open_store, store_exists
from detector.storage import RunView

__all__ = ["COMMANDS"]


def _duration(run: RunView) -> str:
    if run.finished_at is None:
        return ""
    return f"{(run.finished_at - run.started_at).total_seconds():.1f}s"


def _sources(run: RunView) -> str:
    return ", ".join(
        f"{s.system}/{s.entity} {s.status} {s.records}" + (f" ({s.error})" if s.error else "")
        for s in run.sources
    )


@click.command("runs")
@config_option
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="The newest N runs."
)
@format_option("table", "json")
@guarded
def runs(config_path: Path, limit: int, output_format: str) -> int:
    """Run history, newest first, with per-source status and counts."""
    config = load_or_exit(config_path)
    views: list[RunView] = []
    if store_exists(config):
        with open_store(config) as store:
            views = store.runs(limit=limit)
    if output_format == "json":
        click.echo(dump_json([run.to_json() for run in views]))
        return 0
    console = wide_console()
    if not views:
        console.print("no runs yet")
        return 0
    table = Table(title=f"Runs ({len(views)})", header_style="bold")
    for name in (
        "id",
        "mode",
        "status",
        "started",
        "took",
        "records",
        "discrepancies",
        "opened",
        "resolved",
        "sources",
    ):
        table.add_column(name, overflow="fold")
    for run in views:
        table.add_row(
            cell(run.id), cell(run.mode), cell(run.status), cell(run.to_json()["started_at"]),
            cell(_duration(run)), cell(run.records), cell(run.discrepancies), cell(run.opened),
            cell(run.resolved), cell(_sources(run) or run.error),
        )  # fmt: skip
    console.print(table)
    return 0


COMMANDS = [runs]
