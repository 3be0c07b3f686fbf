"""The ``fieldwarden`` command line (SPEC: Commands). One module per command."""

from __future__ import annotations

import importlib

import click

from detector import __version__
from detector.logs import LEVELS, configure_logging

__all__ = ["main"]


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "FIELDWARDEN"}
)
@click.version_option(__version__, prog_name="fieldwarden")
@click.option(
    "--log-level",
    type=click.Choice(LEVELS),
    default="info",
    show_default=True,
    envvar="FIELDWARDEN_LOG_LEVEL",
    help="Minimum level of structured log events (stderr). Env FIELDWARDEN_LOG_LEVEL.",
)
def main(log_level: str) -> None:
    """Fieldwarden: one owner per field, every reader checked against it."""
    configure_logging(log_level)


COMMAND_MODULES = (
    "validate",
    "ownership",
    "reconcile",
    "discover",
    "report",
    "run",
    "alerts",
    "discrepancies",
    "ack",
    "runs",
    "reset_cursor",
)
"""Modules under ``detector.cli`` whose ``COMMANDS`` attach to ``main``, one per line."""


def _register() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"detector.cli.{name}")
        for command in module.COMMANDS:
            main.add_command(command)


_register()
