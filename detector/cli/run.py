"""``fieldwarden run``: the daemon, on the config's schedule until SIGTERM/SIGINT (then exit 0)."""

from __future__ import annotations

from pathlib import Path

import click

from detector.cli.common import config_option, guarded, load_or_exit
from detector.daemon import DEFAULT_SHUTDOWN_TIMEOUT_S, Daemon
from detector.daemon.daemon import DEFAULT_JOB_LOCK_WAIT_S
from detector.durations import parse_duration

__all__ = ["COMMANDS", "parse_listen"]


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9108`` for IPv6) -> (host, port); raises ValueError."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:9108)")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def _listen(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> tuple[str, int] | None:
    if value is None:
        return None
    try:
        return parse_listen(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _seconds(_ctx: click.Context, _param: click.Parameter, value: str) -> float:
    try:
        return parse_duration(value).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("run")
@config_option
@click.option(
    "--http",
    "listen",
    metavar="HOST:PORT",
    envvar="FIELDWARDEN_RUN_HTTP",
    callback=_listen,
    help="Serve /healthz and Prometheus /metrics here (e.g. 127.0.0.1:9108). Env FIELDWARDEN_RUN_HTTP.",
)
@click.option(
    "--shutdown-timeout",
    default=f"{DEFAULT_SHUTDOWN_TIMEOUT_S:g}s",
    show_default=True,
    envvar="FIELDWARDEN_RUN_SHUTDOWN_TIMEOUT",
    metavar="DURATION",
    callback=_seconds,
    help="On SIGTERM/SIGINT, how long the running job may take to finish before it is abandoned (rolled back). Env FIELDWARDEN_RUN_SHUTDOWN_TIMEOUT.",
)
@click.option(
    "--lock-wait",
    default=f"{DEFAULT_JOB_LOCK_WAIT_S:g}s",
    show_default=True,
    envvar="FIELDWARDEN_RUN_LOCK_WAIT",
    metavar="DURATION",
    callback=_seconds,
    help="How long a job waits for a one-off reconcile to finish before skipping its turn. Env FIELDWARDEN_RUN_LOCK_WAIT.",
)
@guarded
def run(
    config_path: Path, listen: tuple[str, int] | None, shutdown_timeout: float, lock_wait: float
) -> int:
    """Run the schedule (incremental, full and alert jobs) until SIGTERM or SIGINT."""
    config = load_or_exit(config_path)
    daemon = Daemon(config, http=listen, shutdown_timeout=shutdown_timeout, lock_wait=lock_wait)
    return daemon.run()


COMMANDS = [run]
