"""Schema migrations, run from code.

The Alembic scripts ship inside the package (``migrations/``); :func:`upgrade` applies them on a
connection the caller holds in a write transaction, so the schema change and the version stamp
commit together. A database stamped with a revision this code does not know was migrated by a
newer Fieldwarden: it is refused rather than touched.

To add a migration during development::

    from alembic import command
    from detector.storage.migrate import alembic_config
    command.revision(alembic_config(), message="add x", rev_id="0002_add_x")

then write ``upgrade()``/``downgrade()`` by hand (or with ``autogenerate=True`` and
``config.attributes["connection"]`` set to a connection of a database at head).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, inspect, text
from sqlalchemy.engine import Connection

from detector.errors import StorageError
from detector.storage.models import metadata

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "MIGRATIONS_DIR",
    "SCHEMA_HEAD",
    "VERSION_TABLE",
    "alembic_config",
    "current_revision",
    "head_revision",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "fieldwarden_schema_version"
SCHEMA_HEAD = "0002_event_index"
"""The newest shipped migration (a test keeps it equal to Alembic's head). A database already
stamped with it opens without loading Alembic at all: every command starts faster."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config built in code; ``connection`` is what ``env.py`` migrates."""
    from alembic.config import Config  # noqa: PLC0415 - Alembic loads only when a migration may run

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001
        raise StorageError("no storage migrations found in the installed package")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is stamped with, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415

    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(connection: Connection) -> tuple[str | None, str]:
    """Migrate to head inside the caller's transaction; returns (revision before, head).

    Raises :class:`StorageError` when the database is newer than this code.
    """
    stamped = _stamped(connection)
    if stamped == SCHEMA_HEAD:
        return SCHEMA_HEAD, SCHEMA_HEAD
    if stamped is None and not inspect(connection).get_table_names():
        _create_at_head(connection)
        return None, SCHEMA_HEAD
    from alembic import command  # noqa: PLC0415 - only when the schema is missing or behind
    from alembic.script import ScriptDirectory  # noqa: PLC0415
    from alembic.util import CommandError  # noqa: PLC0415

    config = alembic_config(connection)
    script = ScriptDirectory.from_config(config)
    head = head_revision()
    current = current_revision(connection)
    if current is not None:
        known = {rev.revision for rev in script.walk_revisions()}
        if current not in known:
            raise StorageError(
                f"the database schema is at revision {current!r}, which this Fieldwarden does not "
                f"know (its newest is {head!r}): it was migrated by a newer version; upgrade "
                "Fieldwarden instead of downgrading the database"
            )
    if current == head:
        return current, head
    try:
        command.upgrade(config, "head")
    except CommandError as exc:
        raise StorageError(f"storage migration failed: {exc}") from exc
    return current, head


def _create_at_head(connection: Connection) -> None:
    """An empty database gets the models' schema and the head stamp directly, without Alembic.

    Replaying every migration on a new database builds the same tables (tests/storage/
    test_schema.py compares the two, and the migrations with the models) but costs a new
    store, the benchmark's every run among them, Alembic's import and its bookkeeping.
    """
    metadata.create_all(connection)
    version = Table(
        VERSION_TABLE,
        MetaData(),
        # exactly the table Alembic creates for its stamp
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
    )
    version.create(connection)
    connection.execute(version.insert().values(version_num=SCHEMA_HEAD))


def _stamped(connection: Connection) -> str | None:
    """The stamped revision read with one query (None when the version table does not exist yet)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()  # noqa: S608 - a constant table name
    return rows[0] if len(rows) == 1 else None
