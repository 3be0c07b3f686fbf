"""The connector interface: how Fieldwarden reads one system.

A connector is configured from its system's options (``Options``, a pydantic model that forbids
unknown keys) and, for one entity mapping (a ``ResourceSpec``), returns

* the records in scope as a ``SourceFrame``: a polars DataFrame with one ``Utf8`` column per raw
  path the mapping needs (``ResourceSpec.paths``), values as the system holds them rendered as
  text (``None`` when absent), plus ``ROW_COLUMN`` giving each record's position for messages;
* where the system keeps one, its change log since a cursor, as ``Change`` entries.

Connectors hold no state between calls: the runner owns cursors, commits them with the run's
results and hands ``since`` back in. They raise ``SourceError`` subclasses when the system cannot
be read (the run then knows that part of the picture is unknown), and report single bad records
in ``SourceFrame.problems`` instead of failing the whole read.

Applying the mapping (key normalisation, ``where`` scopes, value ``map`` and ``scale``) is the
engine's job, not the connector's, so every connector behaves the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

import polars as pl
from pydantic import BaseModel, ConfigDict

from detector.errors import RecordError

if TYPE_CHECKING:  # only an annotation here: file connectors never load the HTTP stack
    import requests

__all__ = [
    "ROW_COLUMN",
    "Change",
    "Connector",
    "ConnectorContext",
    "ConnectorOptions",
    "FieldSpec",
    "KeyTuple",
    "ResourceSpec",
    "SourceFrame",
]

KeyTuple = tuple[str, ...]
"""A record's key as the system holds it: one string per key part."""

ROW_COLUMN = "__row__"
"""Column holding each record's position in its source (1-based line, row or record number)."""

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One canonical field (or key part) as one system stores it."""

    name: str
    """Canonical name: the entity's field name, or ``key`` / ``key.N`` for key parts."""
    path: str
    """The system's own path: ``price``, ``content.name``, ``values.name[en_US]``."""
    scale: Decimal | None = None
    """Multiply numeric values by this before comparing (cents -> currency units)."""
    value_map: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    """Translate the system's vocabulary to the canonical one (``fulfilled`` -> ``shipped``)."""


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    """Everything a connector needs to read one entity from one system."""

    system: str
    entity: str
    resource: str | None
    key: tuple[FieldSpec, ...]
    fields: tuple[FieldSpec, ...]
    query: str | None = None
    where: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    """Raw path -> accepted values (as text). Records outside are not in scope."""
    changes: str | None = None
    """Change-log resource (table, file stem, endpoint), when the mapping names one."""
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Connector-specific per-entity options (e.g. a Shopify location, an Odoo model variant)."""

    @property
    def paths(self) -> tuple[str, ...]:
        """Every raw path the engine needs from this resource, each once, keys first."""
        seen: dict[str, None] = {}
        for spec in (*self.key, *self.fields):
            seen.setdefault(spec.path, None)
        for path in self.where:
            seen.setdefault(path, None)
        return tuple(seen)

    @property
    def key_paths(self) -> tuple[str, ...]:
        return tuple(spec.path for spec in self.key)

    @property
    def label(self) -> str:
        return f"{self.system}/{self.entity}/{self.resource or 'query'}"


@dataclass(frozen=True, slots=True)
class Change:
    """One change-log entry: who changed which field of which record, when."""

    key: KeyTuple
    """The record's key as the system holds it (before any ``map``)."""
    field: str
    """The system's own path of the field, or its canonical name."""
    changed_at: datetime
    """Timezone-aware."""
    changed_by: str | None = None
    """The actor (API user, app id, staff name) as the system reports it."""
    old_value: str | None = None
    new_value: str | None = None


@dataclass(slots=True)
class SourceFrame:
    """The records one connector returned for one ResourceSpec."""

    data: pl.DataFrame
    """One Utf8 column per ``ResourceSpec.paths`` entry, plus ``ROW_COLUMN`` (Int64)."""
    problems: list[RecordError] = field(default_factory=list)
    """Records that could not be used (skipped and counted, never compared)."""
    complete: bool = True
    """False when the source itself signalled that it returned less than it holds."""
    records_read: int | None = None
    """Raw records seen, including skipped ones; defaults to the frame's height."""

    @property
    def height(self) -> int:
        return self.data.height


class ConnectorOptions(BaseModel):
    """Base of every connector's options model: unknown keys are errors, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class ConnectorContext:
    """What the runtime hands every connector."""

    base_dir: Path
    """Folder of the config file: relative paths in options resolve against it."""
    session: requests.Session | None = None
    """HTTP session to use instead of building one (tests hand in their own)."""


class Connector(ABC):
    """Reads one system. Subclasses set ``name`` and ``Options`` and implement ``read``."""

    name: ClassVar[str]
    Options: ClassVar[type[ConnectorOptions]] = ConnectorOptions
    supports_changes: ClassVar[bool] = False
    """True when ``read_changes`` can return this system's change log."""
    supports_keys: ClassVar[bool] = False
    """True when ``read(keys=...)`` fetches just those keys rather than the whole resource."""

    def __init__(self, system: str, options: ConnectorOptions, context: ConnectorContext) -> None:
        if not isinstance(options, self.Options):
            raise TypeError(
                f"{self.name} takes {self.Options.__name__}, not {type(options).__name__}"
            )
        self.system = system
        self.options = options
        self.context = context

    @abstractmethod
    def read(self, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None) -> SourceFrame:
        """Return the records of ``spec`` (only ``keys`` when given; filtered when not supported)."""

    def read_changes(self, spec: ResourceSpec, since: datetime | None) -> Iterator[Change]:
        """Yield change-log entries at or after ``since`` (all, or a vendor default window, when None)."""
        return iter(())

    def close(self) -> None:  # noqa: B027 - optional hook: most connectors hold nothing to release
        """Release sessions, connections and file handles."""

    def __enter__(self) -> Connector:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
