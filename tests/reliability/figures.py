"""``python -m tests.reliability.figures``: the reliability plan's figures table, as measured.

Reads what the last ``pytest tests/reliability`` run recorded (``results.py``) and prints one row
per figure of ``reliability-plan.md`` section 3: the target, what was measured, and whether the
target is met. A figure whose scenarios did not run says so (``not run``) instead of guessing.
Exits 1 when a measured figure misses its target, 0 otherwise.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.reliability.results import ROOT, results_path

NOT_RUN = "not run"


def load(path: Path) -> dict[str, list[dict[str, Any]]]:
    by_metric: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not path.exists():
        return by_metric
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            by_metric[item["metric"]].append(item)
    return by_metric


def _ratio(items: Iterable[dict[str, Any]], key: str) -> tuple[int, int]:
    rows = list(items)
    return sum(1 for r in rows if r.get(key)), len(rows)


def _versions() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT, capture_output=True, text=True, timeout=10, check=False,
        ).stdout.strip() or "?"
    except OSError:
        commit = "?"
    parts = [f"commit {commit}", f"Python {platform.python_version()}", f"SQLite {sqlite3.sqlite_version}"]
    url = os.environ.get("FIELDWARDEN_TEST_POSTGRES_URL")
    if url:
        try:
            from sqlalchemy import create_engine, text  # noqa: PLC0415

            engine = create_engine(url)
            with engine.connect() as conn:
                parts.append("PostgreSQL " + str(conn.execute(text("SHOW server_version")).scalar()))
            engine.dispose()
        except Exception:
            parts.append("PostgreSQL ?")
    else:
        parts.append("PostgreSQL not configured")
    return ", ".join(parts)


def rows(data: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str, str, bool | None]]:
    """(metric, target, measured, met) for each figure; met is None when it did not run."""
    out: list[tuple[str, str, str, bool | None]] = []

    faults = data.get("fault", [])
    if faults:
        by_cls: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for f in faults:
            by_cls[f["cls"]].append(f)
        parts, met = [], True
        for cls in "ABCDEF":
            ok, total = _ratio(by_cls.get(cls, []), "survived")
            parts.append(f"{cls} {ok}/{total}" if total else f"{cls} {NOT_RUN}")
            met = met and ok == total
        out.append(("Faults injected / survived (daemon alive, next run healthy), by class A-F", "100 %", ", ".join(parts), met))
    else:
        out.append(("Faults injected / survived, by class A-F", "100 %", NOT_RUN, None))

    bad = data.get("bad_input", [])
    ok, total = _ratio(bad, "located")
    out.append(("Bad inputs / rejected with a located, readable error", "100 %", f"{ok}/{total}" if total else NOT_RUN, ok == total if total else None))

    missing = data.get("false_missing", [])
    count = sum(int(m["count"]) for m in missing)
    out.append(("False `missing` discrepancies caused by outages or partial snapshots", "0", f"{count} (over {len(missing)} outage runs)" if missing else NOT_RUN, count == 0 if missing else None))

    kills = data.get("kill_point", [])
    ok, total = _ratio(kills, "recovered")
    out.append(("Kill points / consistent recoveries", "100 %", f"{ok}/{total}" if total else NOT_RUN, ok == total if total else None))

    alerts = data.get("alerts", [])
    if alerts:
        committed = sum(a["committed"] for a in alerts)
        delivered = sum(a["delivered"] for a in alerts)
        lost = sum(a["lost"] for a in alerts)
        out.append(("Alerts committed / delivered / lost", "lost = 0", f"{committed} / {delivered} / {lost}", lost == 0))
    else:
        out.append(("Alerts committed / delivered / lost", "lost = 0", NOT_RUN, None))

    extra = data.get("extra_notifications", [])
    if extra:
        worst = max(e["extra"] / max(e["real"], 1) for e in extra)
        crash_only = all(e["extra"] == 0 or "kill" in str(e.get("cause", "")) for e in extra)
        out.append(("Extra notifications per real discrepancy", "<= 1, only after a crash", f"max {worst:.2f} (total {sum(e['extra'] for e in extra)} extra)", worst <= 1 and crash_only))
    else:
        out.append(("Extra notifications per real discrepancy", "<= 1, only after a crash", NOT_RUN, None))

    dup = data.get("duplicate_executions", [])
    if dup:
        count = sum(d["count"] for d in dup)
        ticks = sum(d.get("ticks", 0) for d in dup)
        out.append(("Duplicate executions, 2 daemons x 1 000 ticks", "0", f"{count} over {ticks} ticks", count == 0))
    else:
        out.append(("Duplicate executions, 2 daemons x 1 000 ticks", "0", NOT_RUN, None))

    waits = data.get("retry_after", [])
    if waits:
        longest = max(float(w["slept"]) for w in waits)
        cap = min(float(w["cap"]) for w in waits)
        asked = max(float(w["asked"]) for w in waits)
        out.append(("Longest `Retry-After` sleep", "<= cap", f"{longest:g} s (cap {cap:g} s; largest asked {asked:g} s)", longest <= cap))
    else:
        out.append(("Longest `Retry-After` sleep", "<= cap", NOT_RUN, None))

    walls = data.get("run_wall", [])
    if walls:
        # each run against its own deadline (a test may set a tiny one to check it is enforced)
        worst = max(walls, key=lambda w: float(w["seconds"]) / float(w["deadline"]))
        longest = max(float(w["seconds"]) for w in walls)
        over = sum(1 for w in walls if float(w["seconds"]) > float(w["deadline"]))
        shown = f"{longest:.2f} s; closest to its deadline {float(worst['seconds']):.2f} s of {float(worst['deadline']):g} s"
        out.append(("Longest run wall time under a fault", "<= deadline", shown, over == 0))
    else:
        out.append(("Longest run wall time under a fault", "<= deadline", NOT_RUN, None))

    locked = data.get("db_locked_errors", [])
    lock_waits = data.get("lock_wait", [])
    if locked:
        count = sum(int(x["count"]) for x in locked)
        p95 = max((float(x["p95_ms"]) for x in lock_waits), default=float("nan"))
        out.append(("`database is locked` errors in the CLI + daemon test; p95 lock wait", "0; report ms", f"{count}; {p95:.2f} ms", count == 0))
    else:
        out.append(("`database is locked` errors; p95 lock wait", "0; report ms", NOT_RUN, None))

    reads = data.get("cli_read_latency", [])
    if reads:
        p95 = max(float(r["p95_ms"]) for r in reads)
        samples = sum(int(r["samples"]) for r in reads)
        out.append(("CLI p95 read latency while runs commit", "report ms", f"{p95:.2f} ms ({samples} reads)", True))
    else:
        out.append(("CLI p95 read latency while runs commit", "report ms", NOT_RUN, None))

    scans = data.get("leak_scan", [])
    if scans:
        secret = sum(len(s["secret_hits"]) for s in scans)
        pii = sum(len(s["pii_hits"]) for s in scans)
        places = sum(int(s["places"]) for s in scans)
        out.append(("Secret-canary / raw-PII hits in logs, DB, alerts, errors", "0 / 0", f"{secret} / {pii} ({len(scans)} tests swept, {places} texts + every DB)", secret == 0 and pii == 0))
    else:
        out.append(("Secret-canary / raw-PII hits", "0 / 0", NOT_RUN, None))

    ssrf = data.get("ssrf", [])
    ok, total = _ratio(ssrf, "refused")
    out.append(("SSRF targets blocked", "100 %", f"{ok}/{total}" if total else NOT_RUN, ok == total if total else None))

    injection = data.get("injection", [])
    ok, total = _ratio(injection, "neutralised")
    out.append(("Injection payloads neutralised (SQL, log forging, terminal escapes)", "100 %", f"{ok}/{total}" if total else NOT_RUN, ok == total if total else None))

    big = data.get("load_1m", [])
    if big:
        b = big[-1]
        met = bool(b["bounded"])
        out.append(("1M records x 50 fields: wall time, peak RSS", "bounded memory", f"{b['seconds']:.0f} s, peak RSS {b['peak_rss_mb']:.0f} MB (input {b['input_mb']:.0f} MB)", met))
    else:
        out.append(("1M records x 50 fields: wall time, peak RSS", "bounded memory", NOT_RUN, None))

    soak = data.get("soak", [])
    if soak:
        s = soak[-1]
        out.append(("24 h simulated soak: thread / fd / RSS / WAL growth", "no growth", f"{s['threads']:+d} threads, {s['fds']:+d} fds, {s['rss_mb']:+.1f} MB RSS, WAL max {s['wal_mb']:.1f} MB over {s['runs']} runs", bool(s["bounded"])))
    else:
        out.append(("24 h simulated soak: thread / fd / RSS / WAL growth", "no growth", NOT_RUN, None))
    return out


def render(table: list[tuple[str, str, str, bool | None]]) -> str:
    header = ("Metric", "Target", "Measured", "")
    marks = {True: "met", False: "MISSED", None: "-"}
    lines = [f"| {' | '.join(header)} |", "|---|---|---|---|"]
    lines += [f"| {m} | {t} | {v} | {marks[ok]} |" for m, t, v, ok in table]
    return "\n".join(lines)


def main() -> int:
    path = results_path()
    data = load(path)
    if not data:
        print(f"no reliability results at {path}: run `pytest tests/reliability` first", file=sys.stderr)
        return 1
    table = rows(data)
    print(f"Fieldwarden reliability figures ({_versions()})\n")
    print(render(table))
    missed = [m for m, _t, _v, ok in table if ok is False]
    if missed:
        print(f"\n{len(missed)} figure(s) miss their target: {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
