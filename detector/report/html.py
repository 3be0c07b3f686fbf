"""One self-contained HTML file a team can read on a laptop and print: no network, no CDN, no script.

Sections: the ownership matrix as a heat map (role per cell, shaded by open discrepancies), the
risk ranking from ``discover``, open discrepancies by field and system, and the trend of
discrepancies over the last runs as an inline SVG chart. Every value from the stack is escaped.
Elements carry ``data-*`` attributes with the figures, so tests (and scripts) can read them from
the rendered DOM.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from detector.cli.ownership import MatrixRow
from detector.discover import FieldRisk

__all__ = ["ReportData", "TrendPoint", "render_report"]

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;color:#1f2933;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #d9dee3;padding-bottom:.3rem}
.meta{color:#52606d;font-size:.9rem}table{border-collapse:collapse;width:100%;font-size:.88rem}
th,td{border:1px solid #d9dee3;padding:.35rem .5rem;text-align:left;vertical-align:top}th{background:#f5f7fa}
td.cell{text-align:center;font-weight:600;min-width:4.5rem}td.num{text-align:right;font-variant-numeric:tabular-nums}
.flag{display:inline-block;background:#fde8e8;color:#9b1c1c;border-radius:.25rem;padding:0 .3rem;margin:0 .2rem .2rem 0;font-size:.8rem}
.legend{font-size:.85rem;color:#52606d;margin:.5rem 0}.empty{color:#52606d;font-style:italic}
svg{max-width:100%;height:auto}@media print{body{margin:0;max-width:none}h2{break-after:avoid}table{break-inside:auto}tr{break-inside:avoid}}
"""


@dataclass(frozen=True, slots=True)
class TrendPoint:
    run_id: int
    at: datetime
    discrepancies: int
    status: str


@dataclass(frozen=True, slots=True)
class ReportData:
    title: str
    systems: Sequence[str]
    matrix: Sequence[MatrixRow]
    risks: Sequence[FieldRisk]
    open_by_field_system: dict[tuple[str, str], int]
    """("entity.field" or "entity (records)", system) -> open discrepancies."""
    trend: Sequence[TrendPoint]
    generated_at: datetime


def _heat(count: int, peak: int) -> str:
    if count <= 0 or peak <= 0:
        return "background:#ffffff"
    share = min(count / peak, 1.0)
    # from a pale amber to a deep red as the field/system carries more open discrepancies
    red, green, blue = 255, int(236 - 160 * share), int(200 - 170 * share)
    return f"background:rgb({red},{green},{blue})"


def _matrix(data: ReportData) -> str:
    if not data.matrix:
        return '<p class="empty">No fields are mapped.</p>'
    peak = max(data.open_by_field_system.values(), default=0)
    head = "".join(f"<th>{escape(s)}</th>" for s in data.systems)
    rows = []
    for row in data.matrix:
        name = f"{row.entity}.{row.field}"
        cells = []
        for system in data.systems:
            count = data.open_by_field_system.get((name, system), 0)
            role = row.cells.get(system, "")
            label = escape(role) + (f"<br><small>{count} open</small>" if count else "")
            cells.append(
                f'<td class="cell" style="{_heat(count, peak)}" data-field="{escape(name)}" data-system="{escape(system)}"'
                f' data-role="{escape(role)}" data-open="{count}">{label}</td>'
            )
        rows.append(f"<tr><th>{escape(name)}</th>{''.join(cells)}</tr>")
    return (
        f'<table id="matrix"><thead><tr><th>field</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        '<p class="legend">O owner · R reader · - mapped, not compared · W observed writer · W! a reader seen writing ·'
        " shading: open discrepancies</p>"
    )


def _risks(data: ReportData) -> str:
    if not data.risks:
        return '<p class="empty">No field crosses a system boundary.</p>'
    rows = []
    for rank, risk in enumerate(data.risks, start=1):
        writers = ", ".join(f"{escape(s)} ({n})" for s, n in risk.writers.items()) or "–"
        flags = "".join(f'<span class="flag">{escape(f)}</span>' for f in risk.flags) or "–"
        rows.append(
            f'<tr data-field="{escape(risk.name)}" data-rank="{rank}" data-risk="{risk.risk:.1f}">'
            f"<td class=num>{rank}</td><td>{escape(risk.name)}</td><td>{escape(', '.join(risk.owners)) or '–'}</td>"
            f"<td>{writers}</td><td>{flags}</td><td class=num>{risk.open_discrepancies}</td>"
            f"<td class=num>{risk.risk:.1f}</td></tr>"
        )
    return (
        '<table id="risks"><thead><tr><th>#</th><th>field</th><th>owner</th><th>observed writers</th>'
        f"<th>flags</th><th>open</th><th>risk</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _open_table(data: ReportData) -> str:
    if not data.open_by_field_system:
        return '<p class="empty" id="open-none">Nothing is open.</p>'
    by_field: Counter[str] = Counter()
    for (name, _system), count in data.open_by_field_system.items():
        by_field[name] += count
    head = "".join(f"<th>{escape(s)}</th>" for s in data.systems)
    rows = []
    for name, total in by_field.most_common():
        cells = "".join(
            f'<td class=num data-field="{escape(name)}" data-system="{escape(s)}">'
            f"{data.open_by_field_system.get((name, s), 0) or ''}</td>"
            for s in data.systems
        )
        rows.append(
            f'<tr><th>{escape(name)}</th>{cells}<td class=num data-total="{total}">{total}</td></tr>'
        )
    return f'<table id="open"><thead><tr><th>field</th>{head}<th>total</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _trend(data: ReportData) -> str:
    points = list(data.trend)
    if not points:
        return '<p class="empty" id="trend-none">No runs recorded yet.</p>'
    width, height, pad = 720, 220, 36
    peak = max(1, *(p.discrepancies for p in points))
    step = (width - 2 * pad) / max(len(points) - 1, 1)
    coords = [
        (pad + i * step, height - pad - (p.discrepancies / peak) * (height - 2 * pad))
        for i, p in enumerate(points)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{"#b91c1c" if p.status != "ok" else "#1d4ed8"}"'
        f' data-run="{p.run_id}" data-count="{p.discrepancies}"><title>run {p.run_id}: {p.discrepancies}'
        f" ({escape(p.status)})</title></circle>"
        for (x, y), p in zip(coords, points, strict=True)
    )
    axis = (
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#9aa5b1"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#9aa5b1"/>'
        f'<text x="{pad - 6}" y="{pad + 4}" text-anchor="end" font-size="11">{peak}</text>'
        f'<text x="{pad - 6}" y="{height - pad + 4}" text-anchor="end" font-size="11">0</text>'
        f'<text x="{pad}" y="{height - 10}" font-size="11">run {points[0].run_id}</text>'
        f'<text x="{width - pad}" y="{height - 10}" text-anchor="end" font-size="11">run {points[-1].run_id}</text>'
    )
    return (
        f'<svg id="trend" viewBox="0 0 {width} {height}" role="img" aria-label="discrepancies per run"'
        f' data-points="{len(points)}">{axis}<polyline fill="none" stroke="#1d4ed8" stroke-width="2" points="{path}"/>'
        f"{dots}</svg>"
    )


def render_report(data: ReportData) -> str:
    generated = data.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    total_open = sum(data.open_by_field_system.values())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(data.title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{escape(data.title)}</h1>
<p class="meta">Generated {generated} · <span id="total-open" data-open="{total_open}">{total_open} open discrepancies</span> ·
{len(data.risks)} fields crossing systems</p>
<h2>Ownership matrix</h2>{_matrix(data)}
<h2>Where to start: risk ranking</h2>{_risks(data)}
<h2>Open discrepancies by field and system</h2>{_open_table(data)}
<h2>Trend over the last runs</h2>{_trend(data)}
</body></html>
"""
