"""The installed program: ``console_main`` keeps main's exit codes and freezes the collector."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from detector.exitcodes import ExitCode

_PROBE = """
import gc, sys
from detector.cli import console_main
sys.argv = ["fieldwarden", *sys.argv[1:]]
try:
    console_main()
finally:
    from detector import gcpause
    print("freeze on resume" if gcpause._freeze_on_resume else "collect on resume", file=sys.stderr)
    print("collector on" if gc.isenabled() else "collector off", file=sys.stderr)
    print("frozen" if gc.get_freeze_count() else "not frozen", file=sys.stderr)
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=False
    )


def test_a_finished_command_exits_with_its_code_and_a_frozen_collector() -> None:
    done = _run("--version")
    assert done.returncode == 0
    assert "fieldwarden" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "frozen"


def test_a_failing_command_keeps_its_exit_code(tmp_path: Path) -> None:
    done = _run("validate", "-c", str(tmp_path / "missing.yaml"))
    assert done.returncode == ExitCode.CONFIG
    assert done.stderr.strip().splitlines()[-1] == "frozen"


def test_the_collector_is_off_for_start_up_and_on_once_a_command_runs(tmp_path: Path) -> None:
    """Off while modules are imported, on for the command itself (a daemon runs for weeks)."""
    done = _run("validate", "-c", str(tmp_path / "missing.yaml"))
    assert done.stderr.strip().splitlines()[-2] == "collector on"
    probe = "import gc, detector.__main__; print(gc.isenabled())"
    imported = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert imported.stdout.strip() == "False"


def test_python_dash_m_runs_the_same_program() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "detector", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "fieldwarden" in done.stdout


def test_one_shot_commands_freeze_their_runs_and_the_daemon_collects_as_usual() -> None:
    """A run's objects are frozen when its pause ends, except in a process that stays alive."""
    one_shot = _run("validate", "--help")
    daemon = _run("run", "--help")
    assert one_shot.stderr.strip().splitlines()[-3] == "freeze on resume"
    assert daemon.stderr.strip().splitlines()[-3] == "collect on resume"


def test_start_up_is_frozen_before_the_command_runs() -> None:
    """What the imports built is frozen when the collector comes back on, not walked by it."""
    probe = """
import gc, sys
from detector import cli
frozen = []
cli.configure_logging = lambda level: frozen.append(gc.get_freeze_count())
sys.argv = ["fieldwarden", "run", "--help"]
try:
    cli.console_main()
finally:
    print(frozen[0] > 10_000, file=sys.stderr)
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.stderr.strip().splitlines()[-1] == "True"
