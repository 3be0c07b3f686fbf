"""What a connector's module under ``tests/connectors/cases/`` provides to the contract suite.

Each registered connector NAME has ``tests/connectors/cases/NAME.py`` with a function
``case(tmp_path: Path) -> ContractCase``. The suite (``test_contract.py``) is parametrised over
the entry-point registry, so a connector registered without a case fails the suite: a new
connector is tested the day it is registered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import responses

from connectors.base import Connector, KeyTuple, ResourceSpec


@dataclass
class ContractCase:
    connector: Connector
    """Ready to read; HTTP connectors are built with a plain session that ``mock`` serves."""
    spec: ResourceSpec
    expected: list[dict[str, str | None]]
    """Every record ``read(spec)`` must return: raw path -> text value, order-insensitive."""
    subset: list[KeyTuple]
    """Keys for ``read(spec, keys=subset)``; it must return exactly those records."""
    mock: Callable[[responses.RequestsMock], None] | None = None
    """Registers every HTTP response the reads need (None for file and SQL connectors)."""
    since: datetime | None = None
    """Cursor for ``read_changes``; ignored unless the connector supports changes."""
    min_changes: int = 1
    """At least this many change entries must come back from ``read_changes(spec, since)``."""
    extra_options: dict[str, object] = field(default_factory=dict)
