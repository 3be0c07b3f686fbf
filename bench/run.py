"""``make bench``: Fieldwarden against a naive and a pandas reconciliation, same data, same machine.

``python -m bench.run [--sizes 100000,1000000] [--runs 3] [--budget 540]``

1. generates ``bench/data/<N>/`` for each size when missing (``bench.generate``);
2. per size, runs each approach in its own subprocess, round-robin (run 1 of every approach, then
   run 2, ...), measuring wall time (process start included, for every approach alike) and the
   child's peak RSS (``os.wait4``), and scores every run's output against ``truth.json``:

   * ``fieldwarden csv`` / ``fieldwarden parquet``: ``python -m detector reconcile --format json
     --no-alerts -o OUT`` on the stack's config, with a fresh SQLite store each run (a first run);
   * ``pandas``: ``bench.pandas_ref``; ``naive``: ``bench.naive`` (both read the CSV files);

3. storage at scale (``bench.storage_bench``), the incremental check (``bench.incremental``,
   when ``run_once(keys=...)`` exists) and a phase profile of Fieldwarden at the largest size
   (``bench.profile_fw``);
4. prints the tables and writes ``bench/RESULTS.md``.

``--budget`` (seconds, 0 = none) keeps ``make bench`` inside its ten minutes on a slow or busy
machine: a repeat run (2nd, 3rd) is skipped when it would not fit; the first run of every
approach always happens, and RESULTS.md shows how many runs each median is over.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.generate import load_truth, ready
from bench.score import Score, read_reported, score
from bench.stack import DATA_ROOT, config_path, data_dir

__all__ = ["Approach", "Measurement", "main", "measure"]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
FW_CSV = "fieldwarden csv"
FW_PARQUET = "fieldwarden parquet"
PANDAS = "pandas (csv)"
NAIVE = "naive (csv)"
APPROACHES = (FW_CSV, FW_PARQUET, PANDAS, NAIVE)
LIMIT_RSS_MIB = 1.5e9 / 2**20
RESERVE_S = 60.0
"""Kept back from the budget for storage, incremental and profile steps."""


@dataclass(slots=True)
class Measurement:
    wall_s: float
    peak_rss_mb: float
    returncode: int
    score: Score | None = None
    error: str | None = None


@dataclass(slots=True)
class Approach:
    name: str
    size: int
    runs: list[Measurement] = field(default_factory=list)

    @property
    def ok_runs(self) -> list[Measurement]:
        return [r for r in self.runs if r.error is None]

    @property
    def median(self) -> float | None:
        ok = self.ok_runs
        return statistics.median(r.wall_s for r in ok) if ok else None

    @property
    def peak_rss(self) -> float | None:
        ok = self.ok_runs
        return max(r.peak_rss_mb for r in ok) if ok else None

    @property
    def precision(self) -> float | None:
        scores = [r.score for r in self.ok_runs if r.score]
        return min(s.precision for s in scores) if scores else None

    @property
    def recall(self) -> float | None:
        scores = [r.score for r in self.ok_runs if r.score]
        return min(s.recall for s in scores) if scores else None


def measure(command: Sequence[str], *, cwd: Path, log: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit code) of one child process."""
    with log.open("wb") as sink:
        started = time.perf_counter()
        child = subprocess.Popen(list(command), cwd=cwd, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, child.returncode


def _ensure_data(size: int) -> None:
    """Generate the stack for ``size`` when missing, in a child process.

    Not in this process: the peak RSS the kernel reports for a child (``wait4``) starts from
    this process's own peak when the child was forked, so generating a million SKUs here
    (1.6 GB) would show as every later measurement's peak.
    """
    if not ready(size):
        subprocess.run(
            [sys.executable, "-m", "bench.generate", "--sizes", str(size)], cwd=ROOT, check=True
        )


def _unlink_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _command(name: str, directory: Path, out: Path) -> list[str]:
    if name in (FW_CSV, FW_PARQUET):
        fmt = "csv" if name == FW_CSV else "parquet"
        _unlink_db(directory / f"fieldwarden-{fmt}.db")
        cfg = config_path(directory, fmt)
        return [
            sys.executable,
            "-m",
            "detector",
            "--log-level",
            "warning",
            "reconcile",
            "-c",
            str(cfg),
            "--format",
            "json",
            "--no-alerts",
            "-o",
            str(out),
        ]
    module = "bench.pandas_ref" if name == PANDAS else "bench.naive"
    return [sys.executable, "-m", module, str(directory), "-o", str(out)]


def _run_one(approach: Approach, directory: Path, truth: set[Any]) -> Measurement:
    out = (
        directory
        / "out"
        / f"{approach.name.split()[0]}-{approach.name.split()[-1].strip('()')}.json"
    )
    out.parent.mkdir(exist_ok=True)
    out.unlink(missing_ok=True)
    log = out.with_suffix(".log")
    wall, rss, code = measure(_command(approach.name, directory, out), cwd=ROOT, log=log)
    ok_codes = (0, 1) if approach.name.startswith("fieldwarden") else (0,)
    if code not in ok_codes or not out.is_file():
        tail = log.read_text(encoding="utf-8", errors="replace")[-800:]
        return Measurement(wall, rss, code, error=f"exit {code}: {tail}")
    return Measurement(wall, rss, code, score=score(read_reported(out), truth))


class Budget:
    def __init__(self, seconds: float) -> None:
        self.started = time.perf_counter()
        self.seconds = seconds

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def fits(self, estimate: float, reserve: float = 0.0) -> bool:
        return self.seconds <= 0 or self.elapsed + estimate + reserve <= self.seconds


def _benchmark_size(
    size: int, runs: int, budget: Budget, approaches: Sequence[str], later_scale: float
) -> list[Approach]:
    """Round-robin runs; ``later_scale`` (sum of the larger sizes / this size) estimates the
    time the larger sizes' first runs will need, which repeats here must leave free."""
    directory = data_dir(size)
    truth = load_truth(directory)
    results = [Approach(name, size) for name in approaches]
    later = 0.0
    for round_no in range(runs):
        if round_no == 1:
            later = later_scale * sum(a.runs[0].wall_s for a in results if a.runs)
        for approach in results:
            if round_no > 0:
                last = approach.runs[-1].wall_s if approach.runs else 0.0
                if not budget.fits(last, later + RESERVE_S):
                    continue
            m = _run_one(approach, directory, truth)
            approach.runs.append(m)
            shown = (
                "ERROR " + (m.error or "")[:200]
                if m.error
                else (f"P={m.score.precision:.4f} R={m.score.recall:.4f}" if m.score else "")
            )
            print(
                f"  {size:>9} {approach.name:<20} run {round_no + 1}: {m.wall_s:7.2f} s"
                f"  {m.peak_rss_mb:7.0f} MiB  {shown}",
                flush=True,
            )
    return results


def _json_child(command: list[str], log: Path) -> dict[str, Any] | None:
    wall, rss, code = measure(command, cwd=ROOT, log=log)
    text = log.read_text(encoding="utf-8", errors="replace")
    if code != 0:
        print(f"  failed ({code}): {text[-500:]}")
        return None
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            data: dict[str, Any] = json.loads(line)
            data["process_wall_s"] = wall
            data["process_peak_rss_mb"] = rss
            return data
    return None


def _machine() -> dict[str, str]:
    import pandas  # noqa: PLC0415
    import polars  # noqa: PLC0415
    import pyarrow  # noqa: PLC0415

    memory = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    cpu = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "detector", "connectors"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu or "unknown",
        "memory": memory or "unknown",
        "python": platform.python_version(),
        "polars": polars.__version__,
        "pandas": pandas.__version__,
        "pyarrow": pyarrow.__version__,
        "commit": commit
        + (" (+ uncommitted changes in detector/ or connectors/)" if dirty else ""),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


# --- report --------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _results_table(all_results: list[Approach]) -> list[str]:
    lines = [
        "| size (SKUs) | approach | runs | median wall s | min–max s | peak RSS MiB | precision | recall | × Fieldwarden csv |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by_size: dict[int, dict[str, Approach]] = {}
    for a in all_results:
        by_size.setdefault(a.size, {})[a.name] = a
    for size, approaches in by_size.items():
        base = approaches.get(FW_CSV)
        base_median = base.median if base else None
        for name, a in approaches.items():
            walls = [r.wall_s for r in a.ok_runs]
            spread = f"{min(walls):.2f}–{max(walls):.2f}" if walls else "—"
            ratio = f"{a.median / base_median:.1f}×" if a.median and base_median else "—"
            errors = len(a.runs) - len(a.ok_runs)
            runs = f"{len(a.ok_runs)}" + (f" (+{errors} failed)" if errors else "")
            lines.append(
                f"| {size:,} | {name} | {runs} | {_fmt(a.median, '.2f')} | {spread} | "
                f"{_fmt(a.peak_rss, '.0f')} | {_fmt(a.precision, '.4f')} | "
                f"{_fmt(a.recall, '.4f')} | {ratio} |"
            )
    return lines


def _check(ok: bool | None) -> str:
    return "—" if ok is None else ("PASS" if ok else "**FAIL**")


def _targets(
    all_results: list[Approach],
    storage: dict[str, Any] | None,
    incremental: dict[str, Any] | None,
    largest: int,
) -> list[str]:
    found = {(a.size, a.name): a for a in all_results}
    fw, pd_, nv = (found.get((largest, n)) for n in (FW_CSV, PANDAS, NAIVE))
    fw_m = fw.median if fw else None
    rows: list[tuple[str, str, bool | None]] = []
    if fw_m and pd_ and pd_.median:
        r = pd_.median / fw_m
        rows.append((f"{largest:,} CSV: ≥ 6× faster than pandas", f"{r:.1f}×", r >= 6))
    if fw_m and nv and nv.median:
        r = nv.median / fw_m
        rows.append((f"{largest:,} CSV: ≥ 12× faster than naive", f"{r:.1f}×", r >= 12))
    if fw and fw.peak_rss:
        rows.append(
            (
                f"{largest:,} CSV: peak RSS < 1.5 GB (1.5e9 bytes = 1,431 MiB)",
                f"{fw.peak_rss:.0f} MiB",
                fw.peak_rss < LIMIT_RSS_MIB,
            )
        )
    if fw and fw.precision is not None and fw.recall is not None:
        rows.append(
            (
                f"{largest:,} CSV: precision = recall = 1.0",
                f"P={fw.precision:.4f} R={fw.recall:.4f}",
                fw.precision == 1.0 and fw.recall == 1.0,
            )
        )
    if storage:
        rows.append(
            (
                f"storage: first run opening {storage['n']:,} on SQLite < 3 s",
                f"{storage['first_commit_s']:.2f} s",
                storage["first_commit_s"] < 3,
            )
        )
        rows.append(
            (
                "storage: unchanged re-run < 1 s",
                f"{storage['unchanged_s']:.2f} s",
                storage["unchanged_s"] < 1,
            )
        )
    if incremental and incremental.get("available"):
        for fmt, data in incremental.items():
            if isinstance(data, dict) and data.get("available"):
                rows.append(
                    (
                        f"incremental, {data['keys']:,} keys, {fmt} stack < 0.5 s",
                        f"{data['median_s']:.3f} s",
                        data["median_s"] < 0.5,
                    )
                )
    lines = ["| bound | measured | |", "|---|---:|---|"]
    lines += [f"| {name} | {value} | {_check(ok)} |" for name, value, ok in rows]
    return lines


def _misses(all_results: list[Approach]) -> list[str]:
    lines: list[str] = []
    for a in all_results:
        for number, r in enumerate(a.runs, start=1):
            if r.error:
                lines.append(f"- {a.name} at {a.size:,}, run {number}: failed: `{r.error[:300]}`")
            elif r.score and (r.score.false_positives or r.score.false_negatives):
                s = r.score
                lines.append(
                    f"- {a.name} at {a.size:,}, run {number}: {s.false_negatives} missed "
                    f"(e.g. {s.missed[:3]}), {s.false_positives} spurious (e.g. {s.spurious[:3]})"
                )
                break
    return lines or ["None: every run of every approach reported exactly the truth set."]


def write_results(
    machine: dict[str, str],
    all_results: list[Approach],
    counts: dict[int, dict[str, int]],
    storage: dict[str, Any] | None,
    incremental: dict[str, Any] | None,
    profile: dict[str, Any] | None,
    generation: dict[int, float],
    total_s: float,
    budget_s: float,
    planned_runs: int,
    startup_s: float,
) -> str:
    largest = max(a.size for a in all_results)
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench.run`); regenerate rather than edit. The stack,",
        "its planted discrepancies and noise are described in `bench/stack.py` and",
        "`bench/generate.py`; every approach reads the same files on the same machine, each run in",
        "its own process (wall time includes process start and imports, for every approach).",
        "",
        f"- date: {machine['date']}; commit {machine['commit']}",
        f"- machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM; "
        f"load average at the start: {machine.get('load_start', '?')}, at the end: {machine['load']}"
        " (other work on the machine inflates and spreads wall times)",
        f"- Python {machine['python']}, polars {machine['polars']}, pandas {machine['pandas']}, "
        f"pyarrow {machine['pyarrow']}",
        f"- total `make bench` time: {total_s:.0f} s (budget {budget_s:.0f} s; data generation "
        + ", ".join(f"{n:,}: {s:.1f} s" for n, s in generation.items())
        + f"); runs planned per approach: {planned_runs}",
        f"- process start + the imports of Fieldwarden's `reconcile` (`python -m detector reconcile --help`; a run also loads the storage layer): {startup_s:.2f} s,"
        " included in every Fieldwarden wall time below",
        "",
        "## Full reconciliation",
        "",
        *_results_table(all_results),
        "",
        "Truth per size (discrepancies by kind): "
        + "; ".join(
            f"{n:,}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(c.items()))
            for n, c in counts.items()
        ),
        "",
        "## Targets (issue 9)",
        "",
        *_targets(all_results, storage, incremental, largest),
        "",
        "## Precision/recall misses and failures",
        "",
        *_misses(all_results),
        "",
    ]
    if storage:
        lines += [
            "## Storage at scale (SQLite, `Store.record_run` alone)",
            "",
            "| run | seconds | opened | resolved |",
            "|---|---:|---:|---:|",
            f"| first run, {storage['n']:,} new discrepancies | {storage['first_commit_s']:.2f} | "
            f"{storage['first_opened']:,} | 0 |",
            f"| same findings again (nothing changed) | {storage['unchanged_s']:.2f} | "
            f"{storage['unchanged_opened']:,} | {storage['unchanged_resolved']:,} |",
            f"| 1% resolved + 1% new | {storage['churn_s']:.2f} | {storage['churn_opened']:,} | "
            f"{storage['churn_resolved']:,} |",
            "",
        ]
    lines += ["## Incremental check", ""]
    if incremental and incremental.get("available"):
        lines += [
            "`run_once(config, keys={'product': 1,000 keys})` in-process (process start, imports and",
            "config load excluded), against a store holding the full run; median of 3.",
            "",
            "| stack | median s | runs s | records read | P | R |",
            "|---|---:|---|---|---:|---:|",
        ]
        for fmt, data in incremental.items():
            if isinstance(data, dict) and data.get("available"):
                lines.append(
                    f"| {largest:,} {fmt} | {data['median_s']:.3f} | "
                    + ", ".join(f"{t:.3f}" for t in data["runs_s"])
                    + f" | {data['records_read']} | {data['precision']:.4f} | {data['recall']:.4f} |"
                )
        lines.append("")
    else:
        reason = (
            "not run (`--no-extras`)"
            if incremental is None
            else "`detector.service.run_once(..., keys=...)` is not available"
        )
        lines += [f"Not measured: {reason}.", ""]
    if profile:
        lines += [
            f"## Where Fieldwarden's time goes ({largest:,} SKUs, {profile['format']}, in-process)",
            "",
            f"One `reconcile` through the CLI in-process, {profile['total_s']:.2f} s in all; peak RSS "
            f"{profile['peak_rss_mb']:.0f} MiB (after imports: {profile['rss_start_mb']:.0f} MiB).",
            "",
            "| phase | seconds | share | peak-RSS growth MiB |",
            "|---|---:|---:|---:|",
        ]
        growth = profile.get("peak_rss_growth_mb", {})
        growth_of = {
            "read (connectors)": "read",
            "canonicalise (key, where, duplicate split)": "canonicalise",
            "compare pairs (threads: pairs and comparators side by side)": "compare pairs",
            "storage commit (Store.record_run)": "storage commit",
            "report JSON (report_json + encode_json)": "report_json",
        }
        for phase, seconds in profile["phases_s"].items():
            g = growth.get(growth_of.get(phase, ""), None)
            lines.append(
                f"| {phase} | {seconds:.2f} | {seconds / profile['total_s']:.0%} | "
                f"{'' if g is None else f'{g:.0f}'} |"
            )
        threads = profile.get("compare_thread_s", {})
        lines += [
            "",
            "Comparing, in thread seconds (pairs and comparators run side by side, so these add"
            " up to more than the wall time above): "
            + "; ".join(f"{phase} {seconds:.2f} s" for phase, seconds in threads.items())
            + ".",
            "",
            "Comparators by compare type (values normalised, owner and reader sides together, i.e."
            " the rows whose raw text differed; thread seconds, which run side by side): "
            + "; ".join(
                f"{t} {v['values']:,.0f} values in {v['seconds']:.2f} s"
                for t, v in sorted(
                    profile.get("normalize_by_type", {}).items(), key=lambda kv: -kv[1]["seconds"]
                )
            ),
            "",
            "Sources read: "
            + ", ".join(
                f"{s['source']} {s['records']:,} in {s['seconds']:.2f} s"
                for s in profile["sources"]
            ),
            "",
            "(peak-RSS growth is counted once, by the phase during which the process's peak was",
            "raised.)",
            "",
        ]
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    return "\n".join(lines)


def _extras(
    largest: int,
) -> tuple[dict[str, Any] | None, dict[str, Any], dict[str, Any] | None]:
    """Storage at scale, the incremental check (csv and parquet) and the phase profile."""
    work = DATA_ROOT / "scratch"
    work.mkdir(parents=True, exist_ok=True)
    print("storage at scale ...", flush=True)
    storage = _json_child(
        [sys.executable, "-m", "bench.storage_bench", str(work / "storage-bench.db")],
        work / "storage-bench.log",
    )
    print(f"  {storage}", flush=True)
    directory = data_dir(largest)
    seed_db = directory / "fieldwarden-csv.db"
    keep = work / "full-run.db"
    if seed_db.is_file():
        shutil.copyfile(seed_db, keep)
    incremental: dict[str, Any] = {"available": False}
    for fmt in ("csv", "parquet"):
        print(f"incremental ({fmt}) ...", flush=True)
        data = _json_child(
            [
                sys.executable,
                "-m",
                "bench.incremental",
                str(directory),
                "--format",
                fmt,
                "--db",
                str(keep),
            ],
            work / f"incremental-{fmt}.log",
        )
        print(f"  {data}", flush=True)
        if data and data.get("available"):
            incremental[fmt] = data
            incremental["available"] = True
    print("phase profile ...", flush=True)
    profile = _json_child(
        [sys.executable, "-m", "bench.profile_fw", str(directory), "--format", "csv"],
        work / "profile.log",
    )
    return storage, incremental, profile


# --- main ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budget", type=float, default=540.0, help="seconds; 0 = unlimited")
    parser.add_argument("--approaches", default=",".join(APPROACHES))
    parser.add_argument("--no-extras", action="store_true", help="skip storage/incremental/profile")
    args = parser.parse_args(argv)
    budget = Budget(args.budget)
    load_at_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    sizes = [int(s) for s in args.sizes.split(",")]
    approaches = [a.strip() for a in args.approaches.split(",")]
    largest = max(sizes)

    generation: dict[int, float] = {}
    for size in sizes:
        started = time.perf_counter()
        _ensure_data(size)
        generation[size] = time.perf_counter() - started
        print(f"data {size:,}: ready in {generation[size]:.1f} s ({data_dir(size)})", flush=True)

    startup = statistics.median(
        measure(
            [sys.executable, "-m", "detector", "reconcile", "--help"],
            cwd=ROOT,
            log=DATA_ROOT / "startup.log",
        )[0]
        for _ in range(3)
    )
    print(f"process start + reconcile's imports (reconcile --help): {startup:.2f} s", flush=True)
    all_results: list[Approach] = []
    counts: dict[int, dict[str, int]] = {}
    for index, size in enumerate(sizes):
        counts[size] = json.loads((data_dir(size) / "truth.json").read_text("utf-8"))["counts"]
        later_scale = sum(sizes[index + 1 :]) / size
        all_results += _benchmark_size(size, args.runs, budget, approaches, later_scale)

    storage: dict[str, Any] | None = None
    incremental: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None
    if not args.no_extras:
        storage, incremental, profile = _extras(largest)

    machine = _machine()
    machine["load_start"] = load_at_start
    text = write_results(
        machine,
        all_results,
        counts,
        storage,
        incremental,
        profile,
        generation,
        budget.elapsed,
        args.budget,
        args.runs,
        startup,
    )
    print()
    print(text)
    print(f"\nwritten: {RESULTS.relative_to(ROOT)} ({budget.elapsed:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
