"""Fixtures for the daemon tests: a stack on every supported storage, and a daemon process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from detector.storage import Store
from tests.daemon.stack import build

DEADLINE_S = 15.0


@pytest.fixture
def stack(tmp_path: Path, store_url: str) -> Path:
    """The config file of a fresh stack whose storage is ``store_url`` (SQLite, or PostgreSQL)."""
    storage = "sqlite:///fw.db" if store_url.startswith("sqlite") else store_url
    return build(tmp_path, storage)


class DaemonProcess:
    def __init__(self, config: Path, env: dict[str, str] | None = None, *extra: str) -> None:
        self.config = config
        self.stderr_path = config.parent / f"daemon-{time.monotonic_ns()}.log"
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "detector", "run", "-c", str(config), *extra],
            cwd=config.parent,
            env={**os.environ, "FIELDWARDEN_LOG_LEVEL": "info", **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
        )

    @property
    def log(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = DEADLINE_S) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._stderr.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=DEADLINE_S)
        self._stderr.close()


@pytest.fixture
def start_daemon() -> Iterator[Callable[..., DaemonProcess]]:
    started: list[DaemonProcess] = []

    def start(config: Path, env: dict[str, str] | None = None, *extra: str) -> DaemonProcess:
        daemon = DaemonProcess(config, env, *extra)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.kill()


def wait_until(
    condition: Callable[[], bool],
    what: str,
    timeout: float = DEADLINE_S,
    log: Callable[[], str] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    detail = f"\n--- daemon log ---\n{log()[-4000:]}" if log else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")


def storage_url(config: Path) -> str:
    from detector.config import load_config  # noqa: PLC0415 - a helper for tests only

    return load_config(config).storage_url


def open_store(config: Path) -> Store:
    return Store.open(storage_url(config))
