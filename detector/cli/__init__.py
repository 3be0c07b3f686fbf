"""The ``fieldwarden`` command line (SPEC: Commands). One module per command."""

from __future__ import annotations

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


def _register() -> None:
    from detector.cli import ownership, reconcile, validate  # noqa: PLC0415 - commands attach to main

    for module in (validate, ownership, reconcile):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
