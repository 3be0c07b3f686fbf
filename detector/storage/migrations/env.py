"""Alembic environment for Fieldwarden's storage.

Migrations run from code (:func:`detector.storage.migrate.upgrade`), which hands over an open
connection inside the caller's transaction through ``config.attributes["connection"]``; no
``alembic.ini`` is needed. Offline (``--sql``) generation reads ``sqlalchemy.url`` instead.
"""

from __future__ import annotations

from alembic import context

from detector.storage.migrate import VERSION_TABLE
from detector.storage.models import metadata

config = context.config
target_metadata = metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        version_table=VERSION_TABLE,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through detector.storage.migrate.upgrade(connection)")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
