"""``fieldwarden validate``: load config and ownership map, report every error with file:line, lint."""

from __future__ import annotations

from pathlib import Path

import click

from detector.cli.common import config_option, echo_problems, guarded, load_or_exit
from detector.exitcodes import ExitCode


@click.command("validate")
@config_option
@guarded
def validate(config_path: Path) -> int:
    """Check the config and ownership map; errors exit 2, lint warnings still exit 0."""
    config = load_or_exit(config_path)
    echo_problems(config.warnings)
    fields = len(config.ownership)
    click.echo(
        f"{config_path}: ok: {len(config.systems)} systems, {len(config.model.entities)} entities,"
        f" {fields} owned fields, {len(config.warnings)} warning(s)"
    )
    return ExitCode.OK


COMMANDS = [validate]
