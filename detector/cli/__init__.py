"""The ``fieldwarden`` command line (SPEC: Commands). One module per command.

Start-up time is part of every command's cost (the benchmark times ``reconcile`` as a whole
process), and the command modules between them import the daemon (APScheduler, prometheus), the
HTTP stack, the HTML report and the ORM. So a command's module is imported only when that command
runs: ``COMMANDS`` below names each command's module and the first paragraph of its help, which
is all ``--help`` shows, and ``tests/cli/test_lazy_commands.py`` checks that table against the
real modules so it cannot drift from them.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from gettext import gettext
from typing import Any

import click

from detector import __version__
from detector.gcpause import freeze_on_resume
from detector.logs import LEVELS, configure_logging

__all__ = ["COMMANDS", "LazyCommand", "console_main", "main"]


class LazyCommand:
    """Where a command lives, and the text ``fieldwarden --help`` lists for it."""

    __slots__ = ("help", "module")

    def __init__(self, module: str, help: str) -> None:
        self.module = module
        self.help = help

    def load(self, name: str) -> click.Command:
        """Import the command's module and return the command registered there as ``name``."""
        module = importlib.import_module(f"detector.cli.{self.module}")
        for command in module.COMMANDS:
            if command.name == name:
                return command  # type: ignore[no-any-return]
        raise LookupError(f"detector.cli.{self.module} has no command named {name!r}")

    def stub(self, name: str) -> click.Command:
        """A stand-in with the same short help, for listing without importing the module."""
        return click.Command(name, help=self.help)


COMMANDS: Mapping[str, LazyCommand] = {
    "ack": LazyCommand("ack", "Acknowledge a discrepancy: it stays open, its reminders stop."),
    "alerts": LazyCommand(
        "alerts", "The alert log: lifecycle events and their delivery to each sink."
    ),
    "discover": LazyCommand(
        "discover",
        "Fields that cross systems, their gaps and observed writers, ranked by risk:"
        " start at the top.",
    ),
    "discrepancies": LazyCommand(
        "discrepancies",
        "What is wrong right now, most severe first (exit 1 when something is open).",
    ),
    "ownership": LazyCommand(
        "ownership",
        "Show the ownership map: O owner, R reader, - mapped only, W observed writer.",
    ),
    "reconcile": LazyCommand(
        "reconcile",
        "Run one full reconciliation now: record it, open/resolve discrepancies, send alerts.",
    ),
    "report": LazyCommand(
        "report",
        "Write the HTML report: ownership heat map, risk ranking, open discrepancies, trend.",
    ),
    "reset-cursor": LazyCommand(
        "reset_cursor",
        "Forget SYSTEM's change-log cursor for ENTITY; the next run re-reads its change window.",
    ),
    "run": LazyCommand(
        "run", "Run the schedule (incremental, full and alert jobs) until SIGTERM or SIGINT."
    ),
    "runs": LazyCommand("runs", "Run history, newest first, with per-source status and counts."),
    "validate": LazyCommand(
        "validate",
        "Check the config and ownership map; errors exit 2, lint warnings still exit 0.",
    ),
}
"""Every command: name -> its module under ``detector.cli`` and the first paragraph of its help."""


class _Commands(MutableMapping[str, click.Command]):
    """``Group.commands`` whose entries are imported on first access.

    Its keys are known without importing anything (so ``main.commands`` still names every
    command and click's "did you mean" still works); commands added with ``add_command`` are
    stored as given.
    """

    def __init__(self, lazy: Mapping[str, LazyCommand]) -> None:
        self._lazy = dict(lazy)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        command = self._loaded.get(name)
        if command is None:
            command = self._loaded[name] = self._lazy[name].load(name)
        return command

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._lazy.pop(name, None)
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._lazy.pop(name, None)
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self._lazy, *self._loaded]))

    def __len__(self) -> int:
        return len(self._lazy.keys() | self._loaded.keys())

    def __contains__(self, name: object) -> bool:
        return name in self._lazy or name in self._loaded

    def listing(self, name: str) -> click.Command:
        """The command for ``--help``'s list: the real one if imported already, else a stub."""
        command = self._loaded.get(name)
        return command if command is not None else self._lazy[name].stub(name)


class LazyGroup(click.Group):
    """A group whose commands are imported when invoked, not when the program starts."""

    commands: _Commands

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        given, self.commands = self.commands, _Commands(COMMANDS)
        self.commands.update(given)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """``click.Group.format_commands`` with stubs for commands not imported yet.

        Same rows and the same truncation as click's: ``get_short_help_str`` of a stub with the
        real first paragraph gives the real command's text at every width.
        """
        commands = [
            (name, self.commands.listing(name))
            for name in self.list_commands(ctx)
            if name in self.commands
        ]
        commands = [(name, command) for name, command in commands if not command.hidden]
        if not commands:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in commands)
        rows = [(name, command.get_short_help_str(limit)) for name, command in commands]
        with formatter.section(gettext("Commands")):  # click's own translatable title
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "FIELDWARDEN"},
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
@click.pass_context
def main(ctx: click.Context, log_level: str) -> None:
    """Fieldwarden: one owner per field, every reader checked against it."""
    # click runs this once the command's module is loaded: the start-up is over (console_main)
    if _standalone:
        gc.freeze()  # what start-up built lives as long as the process: never walk it again
        if ctx.invoked_subcommand not in LONG_RUNNING:
            freeze_on_resume()
    gc.enable()
    configure_logging(log_level)


LONG_RUNNING = frozenset({"run", "alerts"})
"""Commands that may keep the process alive (the daemon; ``alerts --follow`` tails the outbox until
stopped): their collector runs as usual (see ``console_main``)."""

_standalone = False
"""True in the ``fieldwarden`` program itself (``console_main``), never when tests call ``main``."""


def console_main() -> None:
    """The ``fieldwarden`` program: :func:`main`, started and ended without the collector's work.

    Starting a command imports its module and what it needs (polars, SQLAlchemy, pydantic...):
    hundreds of thousands of objects, none of them garbage, which the cyclic garbage collector
    would traverse again and again (about 40 ms of every command). So the collector is off
    until the command's module is loaded; :func:`main`, which click runs just before the
    command, turns it back on (``python -m detector`` turns it off before importing this
    module, too).

    Once a command has finished (its output written, its store closed, its alerts delivered), the
    process is about to end. Freezing the garbage collector's objects first spares the
    interpreter's final collections, which would otherwise free every module's functions,
    classes and dicts one by one before the operating system reclaims the memory anyway: about
    a tenth of a second of every invocation. Exit handlers (logging's flush) still run. Tests
    call :func:`main` itself, so they never freeze their own process.

    In the program, the collector's two walks that find nothing are spared as well: once the
    command's module is loaded, what start-up built is frozen before the collector comes back
    on (about 30 ms); and a one-shot command (not one of ``LONG_RUNNING``) freezes what its run built
    when the run's pause ends (``gcpause.freeze_on_resume``, about 40 ms after a 1M run).
    """
    global _standalone  # noqa: PLW0603 - set once, before the command line is parsed
    _standalone = True
    gc.disable()
    try:
        main()
    finally:
        gc.freeze()
