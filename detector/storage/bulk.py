"""Driver-level bulk statements for the hot path of ``record_run``.

SQLAlchemy's per-row parameter processing costs more than SQLite itself once a run writes
100,000 rows, so the bulk statements here go straight to the driver's ``executemany`` (still
through the SQLAlchemy connection, so transactions and error handling are unchanged) with
values already in the database's representation. :class:`Codec` produces exactly what the
model types would store (``UTCDateTime``: naive UTC text on SQLite, ``timestamptz`` on
PostgreSQL; JSON as text), and caches conversions, since most timestamps of a run are its
``now``. Everything else keeps using Core and the typed models.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.engine import Connection

__all__ = ["Codec"]


class Codec:
    """Values to and from one dialect's driver, matching the model column types."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self.mark = "%s" if self.postgres else "?"
        self._out: dict[datetime, Any] = {}
        self._in: dict[Any, datetime] = {}

    def dt_out(self, value: datetime | None) -> Any:
        """A timestamp as the driver should receive it."""
        if value is None:
            return None
        cached = self._out.get(value)
        if cached is None:
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"naive datetime {value.isoformat()} refused: storage needs UTC")
            utc = value.astimezone(UTC)
            cached = (
                utc if self.postgres else utc.replace(tzinfo=None).isoformat(" ", "microseconds")
            )
            self._out[value] = cached
        return cached

    def dt_in(self, value: Any) -> datetime | None:
        """A timestamp as the driver returned it, as an aware UTC datetime."""
        if value is None:
            return None
        cached = self._in.get(value)
        if cached is None:
            parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
            cached = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
            self._in[value] = cached
        return cached

    def bool_out(self, value: bool) -> Any:
        return bool(value) if self.postgres else int(bool(value))

    @staticmethod
    def json_out(value: Any) -> str | None:
        return None if value is None else json.dumps(value)

    def insert(self, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """``INSERT`` many rows given as tuples in ``columns`` order."""
        marks = ", ".join(self._mark(table, c) for c in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        # Identifiers come from our own table metadata; values are bound parameters.
        sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'  # noqa: S608

        self._executemany(sql, rows)

    def update_by_id(
        self, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """``UPDATE ... SET columns WHERE id = ?`` for rows given as (*values, id)."""
        sets = ", ".join(f'"{c}" = {self._mark(table, c)}' for c in columns)
        sql = f'UPDATE "{table.name}" SET {sets} WHERE id = {self.mark}'  # noqa: S608 (as above)
        self._executemany(sql, rows)

    def _mark(self, table: Table, column: str) -> str:
        if self.postgres and isinstance(table.c[column].type, JSON):
            return f"CAST({self.mark} AS json)"
        return self.mark

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        params = rows if isinstance(rows, list) else list(rows)
        if params:
            self.conn.exec_driver_sql(sql, params)
