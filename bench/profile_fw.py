"""Where Fieldwarden's time goes: one ``reconcile`` through its CLI, in-process, timed by phase.

``python -m bench.profile_fw DATA_DIR [--format csv] [--cprofile OUT.txt]`` prints one JSON
object. Timers wrap the engine's own functions at their module attributes (nothing in detector/
or connectors/ is modified); exclusive times are derived for nested phases, and what no timer
covers is reported as "other". Phases:

* read: ``read_source`` (the connector's read, per source);
* canonicalise: ``canonical_frame`` (key, ``where``, duplicate split);
* duplicate_key findings: ``runner._duplicates``;
* compare pairs: ``runner.in_parallel``, the wall time of comparing every owner/reader pair of
  an entity; pairs run side by side on threads, and so do the comparators inside each pair, so
  how that time divides is reported separately, in thread seconds (``compare_thread_s``):
  the join (``diff._align``), raw-text candidates (``diff._candidates``), comparators
  (``diff.normalize``, or for html and text ``diff.prepare`` and ``diff.finish``, normalising
  the candidates) and equal + build discrepancies (``diff._findings``);
  ``normalize_by_type`` adds up per-type thread seconds;
* storage commit: ``Store.record_run``;
* report JSON: ``report_json`` + ``encode_json`` (+ writing the file is in "other").

Also how much the process's peak RSS grew during each phase, to show where memory climbs.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import json
import pstats
import resource
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.stack import config_path

__all__ = ["PHASES", "main", "profile"]

#: (module, attribute (Class.method allowed), phase label)
PHASES: tuple[tuple[str, str, str], ...] = (
    ("detector.engine.runner", "read_source", "read"),
    ("detector.engine.runner", "canonical_frame", "canonicalise"),
    ("detector.engine.runner", "_duplicates", "duplicate_key findings"),
    ("detector.engine.runner", "_change_logs", "change logs"),
    ("detector.engine.runner", "in_parallel", "compare pairs"),
    ("detector.engine.runner", "compare_pair", "compare_pair"),
    ("detector.engine.diff", "_align", "align"),
    ("detector.engine.diff", "_candidates", "candidates"),
    ("detector.engine.diff", "_findings", "findings"),
    ("detector.engine.diff", "normalize", "normalize"),
    ("detector.engine.diff", "prepare", "prepare"),
    ("detector.engine.diff", "finish", "finish"),
    ("detector.engine.runner", "_dedupe", "dedupe"),
    ("detector.service", "carried_findings", "load carried findings"),
    ("detector.storage.store", "Store.record_run", "storage commit"),
    ("detector.cli.reconcile", "report_json", "report_json"),
    ("detector.cli.reconcile", "encode_json", "encode_json"),
)


_COMPARATOR_STEPS = frozenset({"normalize", "prepare", "finish"})
"""A comparator's work: ``normalize``, or for a staged type (html, text) ``prepare`` on both
sides and ``finish`` on the rows still differing after it."""


class _Timers:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.rss_growth: dict[str, float] = {}
        """MB the process's peak RSS grew while calls of this phase ran (inclusive of nested)."""
        self.sources: list[dict[str, Any]] = []
        self.normalize_by_type: dict[str, dict[str, float]] = {}
        """compare type -> seconds in ``normalize`` and values normalised (both sides)."""

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            rss_before = _rss_mb()
            started = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                growth = _rss_mb() - rss_before
                with self.lock:  # the engine calls some phases from several threads at once
                    self.seconds[label] = self.seconds.get(label, 0.0) + elapsed
                    self.calls[label] = self.calls.get(label, 0) + 1
                    self.rss_growth[label] = self.rss_growth.get(label, 0.0) + growth
            if label in _COMPARATOR_STEPS and len(args) >= 2 and hasattr(args[1], "type"):
                with self.lock:
                    entry = self.normalize_by_type.setdefault(
                        str(args[1].type), {"seconds": 0.0, "values": 0}
                    )
                    entry["seconds"] += time.perf_counter() - started
                    if label != "finish":  # a staged value is counted once, when prepared
                        entry["values"] += len(args[0])
            if label == "read" and hasattr(result, "report"):
                report = result.report
                self.sources.append(
                    {
                        "source": f"{report.system}/{report.entity}",
                        "records": report.records,
                        "seconds": round(report.duration_s, 3),
                    }
                )
            return result

        timed.__wrapped__ = fn  # type: ignore[attr-defined]
        return timed


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _install(timers: _Timers) -> list[str]:
    """Wrap every phase function that exists; returns the phases that could not be found."""
    absent: list[str] = []
    for module_name, attribute, label in PHASES:
        try:
            owner: Any = importlib.import_module(module_name)
        except ImportError:
            absent.append(label)
            continue
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        if owner is None or not hasattr(owner, name):
            absent.append(label)
            continue
        setattr(owner, name, timers.wrap(label, getattr(owner, name)))
    return absent


def _exclusive(seconds: dict[str, float]) -> dict[str, float]:
    """Wall-clock phases, which add up to the run (with "other")."""
    s = seconds.get
    return {
        "read (connectors)": s("read", 0.0),
        "canonicalise (key, where, duplicate split)": s("canonicalise", 0.0),
        "duplicate_key findings": s("duplicate_key findings", 0.0),
        "change logs": s("change logs", 0.0),
        "compare pairs (threads: pairs and comparators side by side)": s("compare pairs", 0.0),
        "dedupe": s("dedupe", 0.0),
        "load carried findings": s("load carried findings", 0.0),
        "storage commit (Store.record_run)": s("storage commit", 0.0),
        "report JSON (report_json + encode_json)": s("report_json", 0.0) + s("encode_json", 0.0),
    }


def _compare_threads(seconds: dict[str, float]) -> dict[str, float]:
    """How comparing divides, in thread seconds (several run at once, so they exceed the wall)."""
    s = seconds.get
    return {
        "join (align keys, check the hashes' text)": s("align", 0.0),
        "raw-text candidates (gather, compare text)": s("candidates", 0.0),
        "comparators (normalize raw-unequal values; html/text: prepare, then finish)": s(
            "normalize", 0.0
        )
        + s("prepare", 0.0)
        + s("finish", 0.0),
        "equal + build Discrepancy objects": s("findings", 0.0),
    }


def profile(directory: Path, fmt: str = "csv", cprofile: Path | None = None) -> dict[str, Any]:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{directory / f'fieldwarden-{fmt}.db'}{suffix}").unlink(missing_ok=True)
    timers = _Timers()
    absent = _install(timers)
    from detector.cli import main as cli  # noqa: PLC0415

    output = directory / f"profile-{fmt}.json"
    argv = [
        "--log-level",
        "warning",
        "reconcile",
        "-c",
        str(config_path(directory, fmt)),
        "--format",
        "json",
        "--no-alerts",
        "-o",
        str(output),
    ]
    rss_start = _rss_mb()
    profiler = cProfile.Profile() if cprofile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    try:
        cli.main(argv, standalone_mode=False)
    except SystemExit:
        pass
    finally:
        if profiler:
            profiler.disable()
    total = time.perf_counter() - started
    if profiler and cprofile:
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(30)
        cprofile.write_text(buffer.getvalue(), encoding="utf-8")
    phases = _exclusive(timers.seconds)
    phases["other (CLI, config, store open, run bookkeeping, file write)"] = total - sum(
        phases.values()
    )
    return {
        "format": fmt,
        "total_s": total,
        "phases_s": phases,
        "compare_thread_s": _compare_threads(timers.seconds),
        "calls": timers.calls,
        "rss_start_mb": rss_start,
        "peak_rss_growth_mb": timers.rss_growth,
        "peak_rss_mb": _rss_mb(),
        "sources": timers.sources,
        "normalize_by_type": timers.normalize_by_type,
        "not_found": absent,
        "cprofile": bool(cprofile),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--format", default="csv", choices=("csv", "parquet"))
    parser.add_argument("--cprofile", type=Path, default=None)
    args = parser.parse_args(argv)
    print(json.dumps(profile(args.directory, args.format, args.cprofile)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
