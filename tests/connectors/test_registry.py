"""Connectors resolve by entry-point name and fail loudly."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from connectors import registry
from connectors.csv_file import CsvConnector
from detector.errors import PluginError


def test_builtins_are_registered_through_entry_points() -> None:
    names = registry.available()
    assert {"csv", "json", "sql", "parquet"} <= set(names)
    assert registry.load("csv") is CsvConnector


def test_unknown_name_is_none() -> None:
    assert registry.load("no-such-connector") is None


def test_a_broken_plugin_is_an_error_not_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = EntryPoint(name="broken", value="connectors.does_not_exist:Nope", group=registry.GROUP)
    not_a_connector = EntryPoint(name="odd", value="json:dumps", group=registry.GROUP)
    monkeypatch.setattr(
        registry, "_entry_points", lambda: {"broken": broken, "odd": not_a_connector}
    )
    with pytest.raises(PluginError, match="broken"):
        registry.load("broken")
    with pytest.raises(PluginError, match="not a subclass"):
        registry.load("odd")


def test_a_connector_refuses_another_connectors_options(tmp_path: Path) -> None:
    from connectors.base import ConnectorContext  # noqa: PLC0415
    from connectors.json_file import JsonOptions  # noqa: PLC0415

    with pytest.raises(TypeError, match="csv takes CsvOptions, not JsonOptions"):
        CsvConnector("s", JsonOptions(), ConnectorContext(base_dir=tmp_path))
