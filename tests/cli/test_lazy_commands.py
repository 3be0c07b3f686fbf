"""The command line imports a command's module only when that command runs (issue 9).

``detector.cli.COMMANDS`` is a hand-kept table (name -> module, first paragraph of help) so
that ``fieldwarden --help`` can list every command without importing any of them. These tests
hold the table to the real modules, so it cannot drift: a new command module, a renamed
command or an edited docstring fails here, and ``--help`` is compared with what click prints
for the same commands registered the ordinary, eager way.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

import detector.cli
from detector.cli import COMMANDS, main

WIDTHS = (40, 60, 80, 120, 200)


def _command_modules() -> dict[str, list[click.Command]]:
    """Every module under ``detector.cli`` that defines ``COMMANDS``, with its commands."""
    found: dict[str, list[click.Command]] = {}
    for info in pkgutil.iter_modules(detector.cli.__path__):
        module = importlib.import_module(f"detector.cli.{info.name}")
        commands = getattr(module, "COMMANDS", None)
        if commands is not None:
            found[info.name] = list(commands)
    return found


def _eager_group() -> click.Group:
    """``main`` as it was before commands were lazy: the same options, every command added."""
    eager = click.Group(
        main.name,
        params=list(main.params),
        help=main.help,
        context_settings=dict(main.context_settings),
    )
    for commands in _command_modules().values():
        for command in commands:
            eager.add_command(command)
    return eager


def test_the_table_names_every_command_of_every_command_module() -> None:
    expected = {
        command.name: module
        for module, commands in _command_modules().items()
        for command in commands
    }
    assert {name: lazy.module for name, lazy in COMMANDS.items()} == expected


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_table_help_is_the_first_paragraph_of_the_real_help(name: str) -> None:
    real = main.commands[name]
    assert real.name == name
    assert real.help is not None
    assert COMMANDS[name].help == " ".join(real.help.partition("\n\n")[0].split())
    # the listing is built from the help text alone: nothing else may change it
    assert (real.short_help, real.hidden, real.deprecated) == (None, False, False)
    stub = COMMANDS[name].stub(name)
    for limit in (20, 45, 60, 200):
        assert stub.get_short_help_str(limit) == real.get_short_help_str(limit)


@pytest.mark.parametrize("width", WIDTHS)
def test_help_lists_the_commands_exactly_as_an_eager_group_does(width: int) -> None:
    def help_text(group: click.Group) -> str:
        result = CliRunner().invoke(
            group, ["--help"], prog_name="fieldwarden", terminal_width=width
        )
        assert result.exit_code == 0, result.output
        return result.stdout

    assert help_text(main) == help_text(_eager_group())


def test_main_commands_names_every_command_and_loads_on_access() -> None:
    assert sorted(main.commands) == sorted(COMMANDS)
    assert len(main.commands) == len(COMMANDS)
    assert "reconcile" in main.commands
    assert main.commands["reconcile"].name == "reconcile"
    assert "no-such-command" not in main.commands
    with pytest.raises(KeyError):
        main.commands["no-such-command"]


def test_an_unknown_command_still_gets_a_suggestion() -> None:
    result = CliRunner().invoke(main, ["reconcil"])
    assert result.exit_code == 2
    assert "No such command 'reconcil'" in result.stderr
    assert "Did you mean" in result.stderr
    assert "reconcile" in result.stderr


def _modules_after(*args: str) -> set[str]:
    """Modules a fresh interpreter holds after ``fieldwarden ARGS`` (which must exit 0)."""
    code = (
        "import sys\n"
        "from detector.cli import main\n"
        "try:\n"
        f"    main({list(args)!r}, prog_name='fieldwarden')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "print('--modules--', *sorted(sys.modules), sep='\\n')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(done.stdout.partition("--modules--\n")[2].splitlines())


HEAVY_FOR_OTHERS = ("apscheduler", "prometheus_client", "detector.daemon", "detector.report")


def test_help_imports_no_command_module() -> None:
    loaded = _modules_after("--help")
    command_modules = {f"detector.cli.{lazy.module}" for lazy in COMMANDS.values()}
    assert not loaded & command_modules
    assert not [m for m in loaded if m.split(".")[0] in ("sqlalchemy", "polars", "pydantic")]


def test_reconcile_help_leaves_out_what_only_other_commands_need() -> None:
    loaded = _modules_after("reconcile", "--help")
    assert "detector.cli.reconcile" in loaded
    assert not [m for m in loaded if m.startswith(HEAVY_FOR_OTHERS)]
    assert "detector.cli.run" not in loaded
    # detector.service and detector.locking import the storage package (the ORM models) where
    # they open or lock a store, so building the command does not load it
    assert not [m for m in loaded if m.startswith(("detector.storage", "sqlalchemy.orm"))]


def test_a_command_help_does_not_load_the_config_machinery() -> None:
    """``detector.cli.common`` imports the config loader (pydantic, polars) only to load one."""
    loaded = _modules_after("validate", "--help")
    assert "detector.cli.validate" in loaded
    assert not [m for m in loaded if m.split(".")[0] in ("pydantic", "polars", "sqlalchemy")]
