"""What every command shares: the --config option, error handling and exit codes, safe output.

Every command module imports this one, so it stays cheap to import: the config loader (pydantic,
polars, the connector registry) is imported by ``load_or_exit`` when a command runs, not when
``fieldwarden CMD --help`` only builds the command.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click
import structlog
from rich.console import Console

from detector.errors import ConfigError, FieldwardenError, LockedError, StorageError
from detector.exitcodes import ExitCode
from detector.logs import neutralise, scrub_text
from detector.secrets import redact

if TYPE_CHECKING:
    from detector.config import Config

__all__ = ["config_option", "echo_problems", "format_option", "guarded", "load_or_exit", "safe"]

P = ParamSpec("P")
R = TypeVar("R")
log = structlog.get_logger()


def safe(value: object) -> str:
    """Text fit for a terminal: terminal escapes and control characters neutralised, newlines shown."""
    return neutralise("" if value is None else str(value))


def wide_console() -> Console:
    """A console for tables: the terminal's width, or 160 columns when output is piped."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


def config_option(func: Callable[P, R]) -> Callable[P, R]:
    return click.option(
        "--config",
        "-c",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="FIELDWARDEN_CONFIG",
        default="fieldwarden.yaml",
        show_default=True,
        help="Config file (env FIELDWARDEN_CONFIG).",
    )(func)


def format_option(
    *choices: str, default: str = "table"
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        help="Output format.",
    )


def echo_problems(problems: list[Any]) -> None:
    for problem in problems:
        click.echo(redact(str(problem)), err=True)


def load_or_exit(path: Path) -> Config:
    """The loaded config, or every problem on stderr and exit 2 (never a traceback)."""
    from detector.config import load_config  # noqa: PLC0415 - heavy; only a running command needs it

    try:
        config = load_config(path)
    except ConfigError as exc:
        echo_problems(exc.problems)
        errors = sum(1 for p in exc.problems if p.severity == "error")
        click.echo(f"{path}: {errors} error(s); fix them and run again", err=True)
        raise SystemExit(ExitCode.CONFIG) from None
    return config


def guarded(func: Callable[P, int | None]) -> Callable[P, None]:
    """Run a command body; map its result and our errors to SPEC's exit codes."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            code = func(*args, **kwargs)
        except ConfigError as exc:
            echo_problems(exc.problems)
            raise SystemExit(ExitCode.CONFIG) from None
        except LockedError as exc:
            click.echo(f"error: {scrub_text(str(exc))}", err=True)
            raise SystemExit(ExitCode.INTERNAL) from None
        except StorageError as exc:
            log.error("storage_error", error=str(exc))
            click.echo(f"error: storage: {scrub_text(str(exc))}", err=True)
            raise SystemExit(ExitCode.INTERNAL) from None
        except FieldwardenError as exc:
            click.echo(f"error: {scrub_text(str(exc))}", err=True)
            raise SystemExit(ExitCode.INTERNAL) from None
        except (click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except (
            Exception
        ) as exc:  # an internal error: exit 4 with a one-line reason, not a traceback
            log.exception("internal_error")
            click.echo(f"internal error: {type(exc).__name__}: {scrub_text(str(exc))}", err=True)
            raise SystemExit(ExitCode.INTERNAL) from None
        sys.exit(int(code or 0))

    return wrapper
