"""The ``sql`` connector: any database SQLAlchemy reaches, read by table name or by a SELECT.

* ``resource`` names a table (or view). It is looked up in the database's own metadata, never
  pasted into SQL: an unknown table is an error listing the tables that exist, and every mapped
  path must be one of its columns. Identifiers come from reflection and are quoted by SQLAlchemy.
* ``query`` (given instead of ``resource``) is a read-only statement: one ``SELECT`` or ``WITH``,
  nothing that writes, checked before it runs and, on SQLite and PostgreSQL, also run in a
  read-only session. Mapped paths must be columns of its result.
* Values are never formatted into SQL. ``read(keys=...)`` binds the keys as parameters
  (``WHERE (a, b) IN ((?, ?), ...)`` in chunks) and then checks them again as text, so the result
  is exactly what a full read filtered by key would give. ``where`` is left to the engine (it
  compares trimmed text, which SQL equality would not reproduce on every database).
* Values become text with ``connectors.records.render_value``: a ``Numeric(10, 2)`` 19.9 is
  ``"19.90"``, booleans ``true``/``false``, dates ISO 8601. On SQLite, date and time columns are
  read as the text they are stored as (SQLite has no such types; a malformed stored date must not
  fail the whole read).
* Rows are fetched in chunks (``chunk_size``) and assembled into polars column by column, so the
  Python objects of only one chunk are alive at a time. ``ROW_COLUMN`` is the row's position in
  the result (1-based).
* The change log is a table named by ``changes`` with the columns described in
  ``connectors.files``; ``changed_at`` may be a timestamp or ISO 8601 text.
* A bad URL or an unreachable database fails the source; messages never carry the password.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import polars as pl
import sqlalchemy as sa
from pydantic import ConfigDict, Field
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine

from connectors.base import (
    ROW_COLUMN,
    Change,
    Connector,
    ConnectorContext,
    ConnectorOptions,
    KeyTuple,
    ResourceSpec,
    SourceFrame,
)
from connectors.files import (
    change_columns_problem,
    changes_from_rows,
    empty_frame,
    fatal,
    missing_columns_error,
    split_empty_keys,
)
from connectors.records import filter_keys, render_value
from detector.errors import SourceFatalError

__all__ = ["SqlConnector", "SqlOptions", "check_read_only"]

_DAY = timedelta(days=1)
KEY_CHUNK = 500
"""Keys bound per statement: far below every database's parameter limit."""

_TOKENS = re.compile(
    r"""
      (?P<string>'(?:[^']|'')*')
    | (?P<ident>"(?:[^"]|"")*"|`[^`]*`)
    | (?P<comment>--[^\n]*|/\*.*?\*/)
    | (?P<open>['"`]|/\*)
    """,
    re.VERBOSE | re.DOTALL,
)
_WRITES = re.compile(
    r"\b(insert|update|delete|merge|upsert|drop|alter|create|truncate|grant|revoke|attach|detach|"
    r"pragma|vacuum|copy|call|exec|execute|into|replace\s+into|lock|unlock|load|set)\b",
    re.IGNORECASE,
)


def check_read_only(query: str) -> str:
    """The query without a trailing ``;`` when it is one read-only SELECT/WITH; else ValueError."""

    def blank(match: re.Match[str]) -> str:
        if match.group("open"):
            raise ValueError("it has an unterminated quote or comment")
        return " " if match.group("comment") else "?"

    cleaned = _TOKENS.sub(blank, query).strip()
    cleaned = cleaned.removesuffix(";").rstrip()
    if ";" in cleaned:
        raise ValueError("it must be a single statement (no ';' inside)")
    first = re.match(r"[(\s]*(\w+)", cleaned)
    if first is None or first.group(1).lower() not in ("select", "with"):
        raise ValueError("it must start with SELECT or WITH")
    written = _WRITES.search(cleaned)
    if written is not None:
        raise ValueError(f"it must only read, but contains {written.group(1).upper()!r}")
    return query.strip().removesuffix(";").rstrip()


class SqlOptions(ConnectorOptions):
    """Options of the ``sql`` connector."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    url: str
    """Any SQLAlchemy URL; a relative SQLite path resolves against the config's folder."""
    db_schema: str | None = Field(default=None, alias="schema")
    """Schema (PostgreSQL) or attached database holding the tables; the default one when null."""
    chunk_size: int = Field(default=10_000, gt=0)
    """Rows fetched per round trip."""


def _python(column: sa.ColumnElement[Any]) -> type | None:
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def _bindable(column: sa.ColumnElement[Any]) -> Callable[[str], object] | None:
    """How to bind a key text against ``column``, or None when it cannot be done exactly."""
    python = _python(column)
    if python is str:
        return str
    if python is int and not isinstance(column.type, sa.Boolean):
        return _int_or_none
    return None


def _int_or_none(text: str) -> int | None:
    """The integer whose rendering is exactly ``text`` (``"7"``, not ``"007"``), or None."""
    try:
        value = int(text)
    except ValueError:
        return None
    return value if str(value) == text else None


def _render_column(values: Sequence[Any]) -> list[str | None]:
    return [v if v.__class__ is str else render_value(v) for v in values]


class SqlConnector(Connector):
    """Reads a table (checked against the database's metadata) or a read-only SELECT."""

    name = "sql"
    Options = SqlOptions
    supports_changes = True
    supports_keys = True

    def __init__(self, system: str, options: ConnectorOptions, context: ConnectorContext) -> None:
        super().__init__(system, options, context)  # checks the options type
        self._options = cast("SqlOptions", options)
        self._engine: Engine | None = None

    # --- connection ------------------------------------------------------------------------

    def _url(self, spec: ResourceSpec) -> URL:
        try:
            url = sa.make_url(self._options.url)
        except (sa_exc.ArgumentError, ValueError):
            raise fatal(
                spec,
                "the `url` option is not a valid SQLAlchemy URL "
                "(dialect[+driver]://user:password@host:port/database)",
            ) from None
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            database = str(url.database)
            if not database.startswith("file:"):
                path = Path(database).expanduser()
                if not path.is_absolute():
                    path = self.context.base_dir / path
                if not path.is_file():
                    raise fatal(spec, f"SQLite database file not found: {path}")
                url = url.set(database=str(path))
        return url

    def _shown(self, url: URL) -> str:
        return url.render_as_string(hide_password=True)

    def _safe(self, url: URL, error: BaseException) -> str:
        """The driver's first message line, with the password cut out should it appear."""
        original = getattr(error, "orig", None) or error
        text = (str(original).strip().splitlines() or [type(original).__name__])[0]
        if url.password:
            text = text.replace(str(url.password), "***")
        return text

    def _connect(self, spec: ResourceSpec) -> Connection:
        url = self._url(spec)
        if self._engine is None:
            try:
                engine = sa.create_engine(url)
            except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError, ImportError) as exc:
                raise SourceFatalError(
                    f"cannot use the database URL: {self._safe(url, exc)}",
                    system=spec.system,
                    entity=spec.entity,
                    url=self._shown(url),
                ) from None
            if engine.dialect.name == "sqlite":
                sa.event.listen(engine, "connect", _sqlite_read_only)
            self._engine = engine
        try:
            connection = self._engine.connect()
            if connection.dialect.name == "postgresql":
                connection = connection.execution_options(postgresql_readonly=True)
        except sa_exc.DBAPIError as exc:
            raise SourceFatalError(
                f"cannot connect to the database: {self._safe(url, exc)}",
                system=spec.system,
                entity=spec.entity,
                url=self._shown(url),
            ) from None
        return connection

    def close(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()

    # --- metadata --------------------------------------------------------------------------

    def _table(self, spec: ResourceSpec, conn: Connection, name: str) -> sa.Table:
        schema = self._options.db_schema
        inspector = sa.inspect(conn)
        try:
            names = [
                *inspector.get_table_names(schema=schema),
                *inspector.get_view_names(schema=schema),
            ]
        except sa_exc.DBAPIError as exc:
            where = f" in schema {schema!r}" if schema else ""
            raise fatal(
                spec, f"cannot list the tables{where}: {self._safe(conn.engine.url, exc)}"
            ) from None
        if name not in names:
            folded = [n for n in names if n.lower() == name.lower()]
            if len(folded) != 1:
                where = f" in schema {schema!r}" if schema else ""
                shown = ", ".join(repr(n) for n in sorted(names)) or "(none)"
                raise fatal(spec, f"no table {name!r}{where}; the database has: {shown}")
            name = folded[0]
        try:
            return sa.Table(name, sa.MetaData(), schema=schema, autoload_with=conn)
        except sa_exc.NoSuchTableError:
            raise fatal(spec, f"no table {name!r}") from None

    def _columns(
        self, spec: ResourceSpec, conn: Connection, table: sa.Table, paths: Sequence[str]
    ) -> list[sa.ColumnElement[Any]]:
        missing = [p for p in paths if p not in table.c]
        if missing:
            where = f"table {table.name!r}"
            raise missing_columns_error(spec, where, missing, list(table.c.keys()))
        columns: list[sa.ColumnElement[Any]] = []
        for path in paths:
            column: sa.ColumnElement[Any] = table.c[path]
            temporal = isinstance(column.type, sa.Date | sa.DateTime | sa.Time)
            if temporal and conn.dialect.name == "sqlite":  # stored as text: read it as such
                column = sa.type_coerce(column, sa.String()).label(path)
            columns.append(column)
        return columns

    # --- records ---------------------------------------------------------------------------

    def read(self, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None) -> SourceFrame:
        paths = list(spec.paths)
        if not spec.query and not spec.resource:
            raise fatal(spec, "the sql connector needs a resource (a table) or a query")
        with self._connect(spec) as conn:
            try:
                if spec.query:
                    data = self._read_query(spec, conn, spec.query, paths)
                else:
                    data = self._read_table(spec, conn, str(spec.resource), paths, keys)
            except sa_exc.DBAPIError as exc:
                raise fatal(
                    spec, f"the database refused the read: {self._safe(conn.engine.url, exc)}"
                ) from None
        resource = spec.resource or "query"
        data, problems = split_empty_keys(data, spec, resource)
        frame = SourceFrame(data=data, problems=problems, records_read=data.height + len(problems))
        return filter_keys(frame, spec, keys) if keys is not None else frame

    def _read_table(
        self,
        spec: ResourceSpec,
        conn: Connection,
        name: str,
        paths: list[str],
        keys: Collection[KeyTuple] | None,
    ) -> pl.DataFrame:
        table = self._table(spec, conn, name)
        columns = self._columns(spec, conn, table, paths)
        statement = sa.select(*columns)
        if keys is None:
            return self._fetch(conn, statement, paths)
        key_columns = [table.c[p] for p in spec.key_paths]
        binders = [_bindable(c) for c in key_columns]
        if any(b is None for b in binders):  # no exact binding: read all, filter as text after
            return self._fetch(conn, statement, paths)
        bound: list[tuple[object, ...]] = []
        for key in dict.fromkeys(keys):
            if len(key) != len(key_columns):
                continue
            parts = tuple(b(part) for b, part in zip(binders, key, strict=True) if b is not None)
            if all(part is not None for part in parts):  # else it cannot match any row
                bound.append(parts)
        frames = [empty_frame(paths)]
        target = key_columns[0] if len(key_columns) == 1 else sa.tuple_(*key_columns)
        row = 1
        for start in range(0, len(bound), KEY_CHUNK):
            chunk = bound[start : start + KEY_CHUNK]
            wanted = [parts[0] for parts in chunk] if len(key_columns) == 1 else chunk
            frames.append(self._fetch(conn, statement.where(target.in_(wanted)), paths, row))
            row += frames[-1].height
        return pl.concat(frames)

    def _read_query(
        self, spec: ResourceSpec, conn: Connection, query: str, paths: list[str]
    ) -> pl.DataFrame:
        try:
            statement = check_read_only(query)
        except ValueError as exc:
            raise fatal(spec, f"the query is refused: {exc}") from None
        result = conn.execution_options(yield_per=self._options.chunk_size).execute(
            sa.text(statement)
        )
        names = list(result.keys())
        missing = [p for p in paths if p not in names]
        if missing:
            result.close()
            raise missing_columns_error(spec, "the query's result", missing, names)
        positions = [names.index(p) for p in paths]
        return self._frame(result.partitions(), paths, positions)

    def _fetch(
        self, conn: Connection, statement: sa.Select[Any], paths: list[str], first_row: int = 1
    ) -> pl.DataFrame:
        result = conn.execution_options(yield_per=self._options.chunk_size).execute(statement)
        return self._frame(result.partitions(), paths, list(range(len(paths))), first_row=first_row)

    @staticmethod
    def _frame(
        chunks: Iterable[Sequence[sa.Row[Any]]],
        paths: list[str],
        positions: list[int],
        *,
        first_row: int = 1,
    ) -> pl.DataFrame:
        schema: dict[str, Any] = dict.fromkeys(paths, pl.Utf8)
        frames = [empty_frame(paths)]
        row = first_row
        for chunk in chunks:
            if not chunk:
                continue
            transposed = list(zip(*chunk, strict=True))
            columns = {
                p: _render_column(transposed[i]) for p, i in zip(paths, positions, strict=True)
            }
            rows = pl.int_range(row, row + len(chunk), dtype=pl.Int64, eager=True)
            frames.append(pl.DataFrame(columns, schema=schema).with_columns(rows.alias(ROW_COLUMN)))
            row += len(chunk)
        return pl.concat(frames, rechunk=True)

    # --- change log ------------------------------------------------------------------------

    def read_changes(self, spec: ResourceSpec, since: datetime | None) -> Iterator[Change]:
        if not spec.changes:
            return iter(())
        with self._connect(spec) as conn:
            table = self._table(spec, conn, spec.changes)
            problem = change_columns_problem(list(table.c.keys()), spec)
            if problem is not None:
                raise fatal(spec, f"change log table {table.name!r} {problem}")
            statement = sa.select(table)
            changed_at = table.c["changed_at"]
            if since is not None and _python(changed_at) is datetime:
                # a superset: the exact cut is made after parsing (time zones, text timestamps)
                statement = statement.where(changed_at >= _naive_utc(since) - _DAY)
            try:
                rows = [
                    (n, dict(r._mapping)) for n, r in enumerate(conn.execute(statement), start=1)
                ]
            except sa_exc.DBAPIError as exc:
                raise fatal(
                    spec, f"cannot read the change log: {self._safe(conn.engine.url, exc)}"
                ) from None
        return changes_from_rows(rows, spec, since, resource=table.name)


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _sqlite_read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA query_only = ON")
    finally:
        cursor.close()
