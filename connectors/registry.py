"""Connectors are plugins, found through the ``fieldwarden.connectors`` entry-point group.

The built-in connectors are declared there too (see ``pyproject.toml``), so a third-party
connector is a peer of ours. Resolution is by name and fails loudly: an unknown name lists the
installed ones, and a plugin that cannot be imported is an error, never a skipped warning.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from connectors.base import Connector
from detector.errors import PluginError

__all__ = ["GROUP", "available", "load"]

GROUP = "fieldwarden.connectors"


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available() -> list[str]:
    """Names of every installed connector, sorted."""
    return sorted(_entry_points())


def load(name: str) -> type[Connector] | None:
    """The connector class registered as ``name``; None when no plugin has that name."""
    entry = _entry_points().get(name)
    if entry is None:
        return None
    try:
        loaded = entry.load()
    except Exception as exc:  # a broken plugin must surface, whatever it raised
        raise PluginError(name, entry.value, f"{type(exc).__name__}: {exc}") from exc
    if not (isinstance(loaded, type) and issubclass(loaded, Connector)):
        raise PluginError(name, entry.value, "it is not a subclass of connectors.base.Connector")
    return loaded
