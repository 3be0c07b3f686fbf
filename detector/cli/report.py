"""``fieldwarden report --output report.html``: one self-contained HTML file a team can read and print."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import click

from detector.cli.common import config_option, guarded, load_or_exit
from detector.cli.discover import collect_risks
from detector.cli.ownership import observed_writers, ownership_matrix
from detector.exitcodes import ExitCode
from detector.report import ReportData, render_report
from detector.report.html import TrendPoint
from detector.service import store_exists
from detector.storage import Store
from detector.storage.views import DiscrepancyFilter

__all__ = ["COMMANDS"]

TREND_RUNS = 30


@click.command("report")
@config_option
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default="report.html",
    show_default=True,
)
@guarded
def report(config_path: Path, output: Path) -> int:
    """Write the HTML report: ownership heat map, risk ranking, open discrepancies, trend."""
    config = load_or_exit(config_path)
    open_cells: Counter[tuple[str, str]] = Counter()
    trend: list[TrendPoint] = []
    if store_exists(config):
        store = Store.open(config.storage_url)
        try:
            for d in store.discrepancies(DiscrepancyFilter(status="open")):
                name = f"{d.entity}.{d.field}" if d.field else f"{d.entity} (records)"
                open_cells[(name, d.system)] += 1
            runs = [r for r in store.runs(limit=TREND_RUNS) if r.status != "running"]
            trend = [
                TrendPoint(r.id, r.started_at, r.discrepancies, r.status) for r in reversed(runs)
            ]
        finally:
            store.close()
    data = ReportData(
        title=f"Fieldwarden report: {config_path.name}",
        systems=list(config.systems),
        matrix=ownership_matrix(config, observed_writers(config)),
        risks=collect_risks(config),
        open_by_field_system=dict(open_cells),
        trend=trend,
        generated_at=datetime.now(UTC),
    )
    output.write_text(render_report(data), encoding="utf-8")
    click.echo(f"wrote {output}")
    return ExitCode.OK


COMMANDS = [report]
