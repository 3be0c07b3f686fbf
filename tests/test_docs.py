"""The README documents every connector, command, config key and exit code (it must stay true)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from connectors import registry
from detector.cli import main
from detector.config import models
from detector.exitcodes import ExitCode

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", registry.available())
def test_every_connector_has_a_section(name: str) -> None:
    assert re.search(rf"^#+ `{re.escape(name)}`", README, re.M), (
        f"connector {name!r} has no README section"
    )


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_is_in_the_commands_table(name: str) -> None:
    assert re.search(rf"^\| `{re.escape(name)}( |`)", README, re.M), (
        f"command {name!r} is not in the README"
    )


def _keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


@pytest.mark.parametrize(
    "model",
    [
        models.ConfigModel,
        models.SystemModel,
        models.EntityModel,
        models.SystemMappingModel,
        models.FieldMappingModel,
        models.OwnershipEntryModel,
        models.ScheduleModel,
        models.SettingsModel,
        models.LogSinkModel,
        models.WebhookSinkModel,
        models.EmailSinkModel,
        models.PagerDutySinkModel,
    ],
    ids=lambda m: m.__name__,
)
def test_every_config_key_is_documented(model: type[BaseModel]) -> None:
    missing = [
        key
        for key in _keys(model)
        if not re.search(rf"`[^`\n]*\b{re.escape(key)}\b[^`\n]*`", README)
    ]
    assert not missing, f"{model.__name__}: undocumented keys {missing}"


def test_exit_codes_are_documented() -> None:
    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} \|", README, re.M), code
