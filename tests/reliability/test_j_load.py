"""J. Load (plan scenarios 49-50), ``@pytest.mark.slow``: ``make reliability`` runs them.

* 49: 1 M records x 50 fields in two CSV systems, reconciled by ``python -m detector reconcile``
  in a subprocess: wall time and peak RSS (``RUSAGE_CHILDREN``) against a memory budget.
* 50: a simulated 24 h of a 5-minute schedule over 10 systems (288 runs, the clock advanced
  5 minutes a run) in this process: threads, open file descriptors, RSS and the WAL file must
  not grow.
"""

from __future__ import annotations

import gc
import os
import resource
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import yaml

from detector.config import load_config
from detector.service import run_once
from tests.reliability import results
from tests.reliability.conftest import Sweep
from tests.reliability.harness import write_csv

ROOT = Path(__file__).resolve().parents[2]
RECORDS = 1_000_000
FIELDS = 50
MEMORY_BUDGET_MB = 6_000
"""Peak RSS allowed for 1 M x 50 (two ~300 MB CSV inputs): the run must not grow past it."""
SOAK_RUNS = 288  # 24 h of a 5 min schedule


def _write_big(root: Path) -> int:
    keys = pl.int_range(0, RECORDS, eager=True)
    columns = {"code": ("SKU-" + keys.cast(pl.Utf8).str.zfill(7))}
    for n in range(1, FIELDS):
        columns[f"f{n:02d}"] = ((keys * (n + 7)) % 997).cast(pl.Utf8)
    erp = pl.DataFrame(columns)
    shop = erp.rename({"code": "sku"}).with_columns(
        pl.when(pl.int_range(0, RECORDS) % 1000 == 0).then(pl.lit("-1")).otherwise(pl.col("f01")).alias("f01")
    )
    (root / "erp").mkdir()
    (root / "shop").mkdir()
    erp.write_csv(root / "erp" / "products.csv")
    shop.write_csv(root / "shop" / "variants.csv")
    fields = {f"f{n:02d}": f"f{n:02d}" for n in range(1, FIELDS)}
    config = {
        "version": 1,
        "storage": "sqlite:///fw.db",
        "systems": {"erp": {"connector": "csv", "directory": "erp"}, "shop": {"connector": "csv", "directory": "shop"}},
        "entities": {
            "product": {
                "systems": {
                    "erp": {"resource": "products", "key": "code", "fields": fields},
                    "shop": {"resource": "variants", "key": "sku", "fields": fields},
                }
            }
        },
        "ownership": {f"product.{name}": {"owner": "erp", "readers": ["shop"], "compare": "integer" if name == "f01" else "text"} for name in fields},
    }
    (root / "fieldwarden.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return sum(p.stat().st_size for p in root.rglob("*.csv"))


@pytest.mark.slow
def test_49_one_million_records_by_fifty_fields_in_bounded_memory(tmp_path: Path, sweep: Sweep) -> None:
    input_bytes = _write_big(tmp_path)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "detector", "--log-level", "warning", "reconcile", "-c", str(tmp_path / "fieldwarden.yaml"), "--format", "json", "--output", str(tmp_path / "report.json"), "--no-alerts"],
        cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False,
    )
    seconds = time.monotonic() - started
    sweep.add("stderr", done.stderr)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    report = (tmp_path / "report.json").read_text(encoding="utf-8") if (tmp_path / "report.json").exists() else "{}"
    import json  # noqa: PLC0415

    summary = json.loads(report).get("summary", {})
    found = summary.get("by_kind", {}).get("value_mismatch", 0)
    bounded = done.returncode == 1 and peak_mb < MEMORY_BUDGET_MB and found == RECORDS // 1000
    results.record("load_1m", seconds=seconds, peak_rss_mb=peak_mb, input_mb=input_bytes / 1e6, records=RECORDS, fields=FIELDS, found=found, bounded=bounded)
    (tmp_path / "report.json").unlink(missing_ok=True)
    assert done.returncode == 1, done.stderr[-2000:]
    assert found == RECORDS // 1000, summary
    assert peak_mb < MEMORY_BUDGET_MB


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _soak_stack(root: Path) -> Path:
    systems: dict[str, object] = {"erp": {"connector": "csv", "directory": "erp"}}
    mappings: dict[str, object] = {"erp": {"resource": "products", "key": "code", "fields": {"price": "price"}}}
    rows = [{"code": f"P{n:04d}", "price": f"{n}.00"} for n in range(500)]
    write_csv(root / "erp" / "products.csv", rows)
    readers = []
    for n in range(1, 10):
        name = f"shop{n}"
        readers.append(name)
        systems[name] = {"connector": "csv", "directory": name}
        mappings[name] = {"resource": "variants", "key": "sku", "fields": {"price": "price"}}
        write_csv(root / name / "variants.csv", [{"sku": r["code"], "price": r["price"] if i % 50 else "0.00"} for i, r in enumerate(rows)])
    config = {
        "version": 1,
        "storage": "sqlite:///fw.db",
        "systems": systems,
        "entities": {"product": {"systems": mappings}},
        "ownership": {"product.price": {"owner": "erp", "readers": readers, "compare": "money"}},
        "alerts": [{"type": "log", "path": "alerts.jsonl"}],
        "schedule": {"incremental": {"every": "5m"}},
    }
    path = root / "fieldwarden.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.mark.slow
def test_50_a_simulated_day_of_runs_grows_no_threads_fds_memory_or_wal(tmp_path: Path) -> None:
    config = load_config(_soak_stack(tmp_path))
    clock = [datetime(2026, 11, 27, tzinfo=UTC)]
    wal = tmp_path / "fw.db-wal"
    samples: list[tuple[int, int, float]] = []
    wal_max = 0
    for n in range(SOAK_RUNS):
        if n % 12 == 6:  # every hour one reader drifts and another recovers: events to write
            target = tmp_path / f"shop{1 + n % 9}" / "variants.csv"
            text = target.read_text(encoding="utf-8").replace(",1.00\n", ",1.01\n") if n % 24 == 6 else target.read_text(encoding="utf-8").replace(",1.01\n", ",1.00\n")
            target.write_text(text, encoding="utf-8")
        run_once(config, now=lambda: clock[0], lock_wait=30)
        clock[0] += timedelta(minutes=5)
        if n in (20, SOAK_RUNS - 1):  # after warm-up, and at the end
            gc.collect()
            samples.append((threading.active_count(), len(os.listdir("/proc/self/fd")), _rss_mb()))
        if wal.exists():
            wal_max = max(wal_max, wal.stat().st_size)
    (t0, f0, m0), (t1, f1, m1) = samples
    bounded = t1 <= t0 and f1 <= f0 and (m1 - m0) < 64 and wal_max < 64 * 1024 * 1024
    results.record("soak", runs=SOAK_RUNS, threads=t1 - t0, fds=f1 - f0, rss_mb=m1 - m0, wal_mb=wal_max / 1e6, bounded=bounded, simulated_hours=SOAK_RUNS * 5 / 60)
    assert t1 <= t0, (t0, t1)
    assert f1 <= f0, (f0, f1)
    assert m1 - m0 < 64, (m0, m1)
    assert wal_max < 64 * 1024 * 1024
