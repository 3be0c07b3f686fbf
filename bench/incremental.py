"""Incremental check: ``run_once(config, keys=...)`` over 1,000 keys of a large stack, in-process.

``python -m bench.incremental DATA_DIR --format csv --db STORE.db [--keys 1000] [--runs 3]``
prints one JSON object. Process start, imports and loading the config are excluded; each run is
the wall time of ``run_once`` (read the keys, compare, commit to the store). ``STORE.db`` should
hold the stack's full run already (the runner copies the last full run's database), as a daemon's
store would. Also reported: how many records the sources returned (an incremental read should
return only the keys asked for) and precision/recall of the run's findings against the truth
restricted to those keys and to the kinds an incremental run reports.
"""

from __future__ import annotations

import argparse
import inspect
import json
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.generate import load_truth
from bench.score import identities, score
from bench.stack import config_path

__all__ = ["available", "main", "measure"]

_INCREMENTAL_KINDS = {"value_mismatch", "missing_owner_value", "duplicate_key"}


def available() -> bool:
    """True when the lead exposes ``detector.service.run_once(..., keys=...)``."""
    try:
        from detector.service import run_once  # noqa: PLC0415
    except ImportError:
        return False
    return "keys" in inspect.signature(run_once).parameters


def chosen_keys(n: int, count: int, seed: int = 7) -> list[str]:
    rng = np.random.default_rng([seed, n])
    return [f"SKU-{i:07d}" for i in sorted(rng.choice(n, size=count, replace=False))]


def measure(
    directory: Path, fmt: str, db: Path | None, count: int = 1000, runs: int = 3
) -> dict[str, Any]:
    if not available():
        return {"available": False}
    from detector.config import load_config  # noqa: PLC0415
    from detector.logs import configure_logging  # noqa: PLC0415
    from detector.service import run_once  # noqa: PLC0415
    from detector.storage import Store  # noqa: PLC0415

    configure_logging("warning")
    n = int(directory.name)
    keys = chosen_keys(n, count)
    store_path = directory / f"incremental-{fmt}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store_path}{suffix}").unlink(missing_ok=True)
    if db is not None and db.is_file():
        shutil.copyfile(db, store_path)
    started = time.perf_counter()
    config = load_config(config_path(directory, fmt))
    load_s = time.perf_counter() - started
    store = Store.open(f"sqlite:///{store_path}")
    times: list[float] = []
    report = None
    try:
        for _ in range(runs):
            started = time.perf_counter()
            report = run_once(
                config, keys={"product": [(k,) for k in keys]}, deliver_alerts=False, store=store
            )
            times.append(time.perf_counter() - started)
    finally:
        store.close()
    assert report is not None
    wanted = set(keys)
    expected = {t for t in load_truth(directory) if t[2] in wanted and t[0] in _INCREMENTAL_KINDS}
    found = identities(
        {
            "kind": str(d.kind),
            "entity": d.entity,
            "key": d.key,
            "field": d.field,
            "owner": d.owner,
            "system": d.system,
        }
        for d in report.result.discrepancies
    )
    result = score(found, expected)
    return {
        "available": True,
        "format": fmt,
        "keys": count,
        "store_seeded": db is not None and db.is_file(),
        "config_load_s": load_s,
        "runs_s": times,
        "median_s": statistics.median(times),
        "records_read": {f"{s.system}/{s.entity}": s.records for s in report.result.sources},
        "found": len(found),
        "expected": len(expected),
        "precision": result.precision,
        "recall": result.recall,
        "missed": [list(t) for t in result.missed[:3]],
        "spurious": [list(t) for t in result.spurious[:3]],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--format", default="csv", choices=("csv", "parquet"))
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.directory, args.format, args.db, args.keys, args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
