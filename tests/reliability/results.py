"""Where the reliability suite writes what it measured, one JSON line per fact.

Every test calls :func:`record` with a metric name and values *before* it asserts, so a failing
scenario still shows up in the figures (as not survived) rather than vanishing. ``figures.py``
reads the file back and prints the plan's table. The file lives in ``.reliability/`` at the
repository root (gitignored); ``FIELDWARDEN_RELIABILITY_RESULTS`` overrides the path.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["RESULTS_ENV", "record", "reset", "results_path"]

RESULTS_ENV = "FIELDWARDEN_RELIABILITY_RESULTS"
ROOT = Path(__file__).resolve().parents[2]
_lock = threading.Lock()
_current_test: list[str] = [""]


def results_path() -> Path:
    override = os.environ.get(RESULTS_ENV)
    return Path(override) if override else ROOT / ".reliability" / "results.jsonl"


def reset() -> None:
    path = results_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("", encoding="utf-8")


def set_test(nodeid: str) -> None:
    _current_test[0] = nodeid


def record(metric: str, **values: Any) -> None:
    """Append one measurement (``metric`` plus JSON-able values) to the results file."""
    line = json.dumps({"metric": metric, "test": _current_test[0], **values}, default=str)
    path = results_path()
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def fault(cls: str, scenario: int, name: str, *, survived: bool, **extra: Any) -> None:
    """One injected fault of class A-F and whether the product survived it."""
    record("fault", cls=cls, scenario=scenario, name=name, survived=bool(survived), **extra)
