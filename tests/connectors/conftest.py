"""Fixtures for the connector tests.

``database_url`` runs a SQL connector test against a fresh SQLite file always and against
PostgreSQL when ``FIELDWARDEN_TEST_POSTGRES_URL`` is set (each test in its own schema, dropped
afterwards); ``make_spec`` builds ResourceSpecs tersely.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import responses
from responses.registries import OrderedRegistry
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from connectors.base import FieldSpec, ResourceSpec

POSTGRES_ENV = "FIELDWARDEN_TEST_POSTGRES_URL"


def make_spec(
    resource: str | None,
    key: str | Sequence[str],
    fields: Mapping[str, str] | None = None,
    *,
    system: str = "sys",
    entity: str = "product",
    where: Mapping[str, tuple[str, ...]] | None = None,
    changes: str | None = None,
    query: str | None = None,
) -> ResourceSpec:
    """A ResourceSpec: ``key`` is one path or several, ``fields`` maps canonical name -> path."""
    parts = [key] if isinstance(key, str) else list(key)
    key_specs = (
        (FieldSpec("key", parts[0]),)
        if len(parts) == 1
        else tuple(FieldSpec(f"key.{i}", p) for i, p in enumerate(parts))
    )
    return ResourceSpec(
        system=system,
        entity=entity,
        resource=resource,
        key=key_specs,
        fields=tuple(FieldSpec(name, path) for name, path in (fields or {}).items()),
        where=dict(where or {}),
        changes=changes,
        query=query,
    )


@dataclass(frozen=True)
class Database:
    url: str
    """What the connector is configured with."""
    dialect: str
    schema: str | None = None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database: a SQLite file under tmp_path, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield Database(url=f"sqlite:///{tmp_path / 'source.db'}", dialect="sqlite")
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    schema = f"fw_conn_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield Database(
            url=url.render_as_string(hide_password=False), dialect="postgresql", schema=schema
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry back-off waits, recorded instead of slept: HTTP tests never sleep."""
    waits: list[float] = []
    monkeypatch.setattr("connectors.http.retry.sleep", waits.append)
    return waits


@pytest.fixture
def mock(slept: list[float]) -> Iterator[responses.RequestsMock]:
    """``responses`` answering in registration order (retry sequences), with sleeps recorded."""
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        yield rsps
