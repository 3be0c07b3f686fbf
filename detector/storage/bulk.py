"""Driver-level bulk statements for the hot path of ``record_run``.

SQLAlchemy's per-row parameter processing costs more than SQLite itself once a run writes
100,000 rows, so the bulk statements here go straight to the driver (still through the
SQLAlchemy connection, so transactions and error handling are unchanged) with values already in
the database's representation. :class:`Codec` produces exactly what the model types would
store (``UTCDateTime``: naive UTC text on SQLite, ``timestamptz`` on PostgreSQL; booleans as
0/1 on SQLite; JSON as text) and converts column by column, each distinct timestamp once, since
most timestamps of a run are its ``now``. Everything else keeps using Core and the typed models.

On SQLite, rows are inserted up to a few thousand to a statement (as many as its limit of bound
parameters allows) rather than one statement execution per row. Binding parameters is most of
the sqlite3 module's cost (a NULL more than a value), and most columns of a run's rows hold the
same value (kind, status, the run's ``now``, the run id), so a value shared by every row of a
statement is bound once
(``INSERT ... SELECT column1, ..., ? FROM (VALUES (?, ?), ...)``). On PostgreSQL, psycopg's
``executemany`` (one pipeline) does better. Either way, a column that is NULL in every row is
left out when it has no server default: the result is the same NULL.

Statements are built (``insert_statements``, ``update_statements``) apart from being run
(``execute``), so that the write-behind thread only runs them: every statement handed over
releases the GIL for the database's work, and fewer, larger statements mean fewer hand-overs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from itertools import chain
from typing import Any

from sqlalchemy import JSON, Boolean, Table
from sqlalchemy.engine import Connection

from detector.storage.engine import SQLITE_FLAG, SQLITE_UTC
from detector.storage.types import UTCDateTime, as_utc, stored_utc

__all__ = ["Codec", "Statement"]

Statement = tuple[str, Any]
"""SQL for the driver and its parameters: a tuple (one execution) or a list of them (many)."""

ROWS_PER_STATEMENT = 4000
"""At most this many rows in one multi-row ``INSERT`` on SQLite (fewer if its limit of bound
parameters per statement requires)."""


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
            utc = stored_utc(value)
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
            cached = as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(value))
            self._in[value] = cached
        return cached

    def columns_in(self, table: Table, names: Sequence[str], bound: Collection[str] = ()) -> str:
        """The SELECT (or RETURNING) list of ``names``, read back by :meth:`rows_in`.

        On SQLite, timestamps and flags carry a converter alias, so the driver decodes them.
        A column in ``bound`` is a parameter (bound in ``names`` order) instead of the stored
        value: a row read as it is about to be written.
        """
        return ", ".join(self._column_in(table, name, name in bound) for name in names)

    def _column_in(self, table: Table, name: str, bound: bool) -> str:
        value = self.mark if bound else f'"{name}"'
        alias = "" if self.postgres else self._converter(table, name)
        if bound and not alias:
            alias = f' AS "{name}"'
        return value + alias

    def rows_in(
        self, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> Sequence[Sequence[Any]]:
        """Rows read with :meth:`columns_in`, their timestamps aware UTC and flags bool."""
        if not self.postgres or not rows:
            return rows  # SQLite: the driver decoded them already
        # Column by column: a run's timestamps repeat, so each distinct one converts once.
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
        for i, name in enumerate(names):
            if isinstance(table.c[name].type, UTCDateTime):
                decoded = {value: self.dt_in(value) for value in set(columns[i])}
                columns[i] = list(map(decoded.__getitem__, columns[i]))
        return list(zip(*columns, strict=True))

    @staticmethod
    def _converter(table: Table, name: str) -> str:
        column_type = table.c[name].type
        if isinstance(column_type, UTCDateTime):
            return f' AS "{name} [{SQLITE_UTC}]"'
        if isinstance(column_type, Boolean):
            return f' AS "{name} [{SQLITE_FLAG}]"'
        return ""

    def columns_out(
        self, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> list[Sequence[Any]]:
        """``rows`` (Python values in ``names`` order) as columns of driver values."""
        if not rows:
            return [() for _ in names]
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
        for i, name in enumerate(names):
            column_type = table.c[name].type
            if isinstance(column_type, UTCDateTime):
                converted = {value: self.dt_out(value) for value in set(columns[i])}
                columns[i] = list(map(converted.__getitem__, columns[i]))
            elif isinstance(column_type, Boolean) and not self.postgres:
                columns[i] = list(map(int, columns[i]))
        return columns

    def insert(self, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """``INSERT`` rows given as tuples of Python values in ``names`` order."""
        self.execute(self.insert_statements(table, names, rows))

    def execute(self, statements: Sequence[Statement]) -> None:
        """Run statements made by :meth:`insert_statements` or :meth:`update_statements`."""
        for sql, params in statements:
            self.conn.exec_driver_sql(sql, params)

    def insert_statements(
        self, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> list[Statement]:
        """The statements that ``INSERT`` ``rows``: all the Python work, none of the database's.

        Kept apart from running them so that the write-behind thread (``pipeline.py``) only
        runs statements while the caller's thread builds the next ones.
        """
        if not rows:
            return []
        columns = self.columns_out(table, names, rows)
        if self.postgres:
            return [self._insert_each(table, names, columns)]
        limit = _sqlite_max_parameters(self.conn)
        per_statement = max(1, min(ROWS_PER_STATEMENT, limit // len(names)))
        return [
            self._sqlite_statement(table, names, [c[start:stop] for c in columns])
            for start, stop in _spans(len(rows), per_statement)
        ]

    def _insert_each(
        self, table: Table, names: Sequence[str], columns: Sequence[Sequence[Any]]
    ) -> Statement:
        """One ``INSERT`` per row through ``executemany``, leaving out all-NULL columns.

        For PostgreSQL: psycopg sends ``executemany`` as one pipeline, and would parse a long
        multi-row statement's placeholders in Python every time it ran.
        """
        keep = [i for i, c in enumerate(columns) if not _all_null(table, names[i], c)]
        marks = ", ".join(self._mark(table, names[i]) for i in keep)
        sql = f"{_insert_head(table, [names[i] for i in keep])} VALUES ({marks})"
        return sql, list(zip(*(columns[i] for i in keep), strict=True))

    def _sqlite_statement(
        self, table: Table, names: Sequence[str], columns: Sequence[Sequence[Any]]
    ) -> tuple[str, tuple[Any, ...]]:
        """``INSERT ... SELECT column1, ..., ? FROM (VALUES (...), ...)`` where a value shared
        by every row is bound once, and a column NULL in every row is left out."""
        shared = [i for i, c in enumerate(columns) if c.count(c[0]) == len(c)]
        varying = [i for i in range(len(columns)) if i not in shared] or [shared.pop(0)]
        shared = [i for i in shared if not _all_null(table, names[i], columns[i])]
        targets = [names[i] for i in (*varying, *shared)]
        picks = [f"column{n}" for n in range(1, len(varying) + 1)] + ["?"] * len(shared)
        one = "(" + ", ".join("?" * len(varying)) + ")"
        values = ", ".join([one] * len(columns[0]))
        select = f"SELECT {', '.join(picks)} FROM (VALUES {values})"  # noqa: S608 - marks only
        sql = f"{_insert_head(table, targets)} {select}"
        rows = chain.from_iterable(zip(*(columns[i] for i in varying), strict=True))
        return sql, (*(columns[i][0] for i in shared), *rows)

    def update_by_id(
        self, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """``UPDATE ... SET names WHERE id = ?`` for rows given as (*values, id), Python values."""
        self.execute(self.update_statements(table, names, rows))

    def update_statements(
        self, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> list[Statement]:
        """The statement of :meth:`update_by_id`, built but not run."""
        if not rows:
            return []
        columns = self.columns_out(table, (*names, "id"), rows)
        sets = ", ".join(f'"{c}" = {self._mark(table, c)}' for c in names)
        # Identifiers come from our own table metadata; values are bound parameters.
        sql = f'UPDATE "{table.name}" SET {sets} WHERE id = {self.mark}'  # noqa: S608
        return [(sql, list(zip(*columns, strict=True)))]

    def _mark(self, table: Table, column: str) -> str:
        if self.postgres and isinstance(table.c[column].type, JSON):
            return f"CAST({self.mark} AS json)"
        return self.mark


def _insert_head(table: Table, names: Sequence[str]) -> str:
    columns = ", ".join(f'"{c}"' for c in names)
    # Identifiers come from our own table metadata; values are bound parameters.
    return f'INSERT INTO "{table.name}" ({columns})'


def _all_null(table: Table, name: str, column: Sequence[Any]) -> bool:
    """Whether the column can be left out: NULL in every row, and no server default."""
    return table.c[name].server_default is None and column.count(None) == len(column)


def _spans(total: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, size):
        yield start, min(start + size, total)


def _sqlite_max_parameters(conn: Connection) -> int:
    """SQLite's limit of bound parameters per statement (999 before 3.32, 32,766 since)."""
    driver = conn.connection.driver_connection
    if isinstance(driver, sqlite3.Connection):
        return driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return 999  # pragma: no cover - another SQLite driver: the historical default
