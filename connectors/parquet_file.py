"""The ``parquet`` connector: ``DIRECTORY/RESOURCE.parquet``, the format large stacks export.

Only the mapped columns are read, and a ``keys`` read filters while scanning, so an incremental
check touches little of the file. Paths are column names. Typed values become text the way the
other connectors render them: integers and decimals as written (a ``Decimal(10, 2)`` 19.9 is
``"19.90"``), floats in their shortest round-trip form (``19.99``), booleans ``true``/``false``,
dates and timestamps in ISO 8601, lists and structs as compact JSON.

* ``ROW_COLUMN`` is the record's position in the file (1-based).
* A record whose key is empty is a ``RecordError``.
* The change log is ``DIRECTORY/<changes>.parquet`` (or ``<changes>.csv``), in the format
  described in ``connectors.files``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import polars as pl

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
    FileOptions,
    change_columns_problem,
    changes_from_rows,
    csv_change_rows,
    fatal,
    filter_keys_lazy,
    find_file,
    missing_columns_error,
    require_resource,
    resolve_directory,
    split_empty_keys,
)
from connectors.records import render_value

__all__ = ["ParquetConnector", "ParquetOptions", "as_text"]


class ParquetOptions(FileOptions):
    """Options of the ``parquet`` connector."""


def as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """An expression rendering column ``name`` of type ``dtype`` as text (see module docstring)."""
    column = pl.col(name)
    if dtype == pl.Utf8:
        return column
    if isinstance(dtype, pl.Datetime):
        pattern = "%Y-%m-%dT%H:%M:%S%.f" + ("%:z" if dtype.time_zone else "")
        return column.dt.to_string(pattern)
    if dtype.is_numeric() or dtype in (pl.Boolean, pl.Date, pl.Time, pl.Categorical, pl.Null):
        return column.cast(pl.Utf8)
    if isinstance(dtype, pl.Enum):
        return column.cast(pl.Utf8)
    if dtype == pl.Binary:
        return column.cast(pl.Utf8, strict=False)
    return column.map_batches(_render_series, return_dtype=pl.Utf8)


def _render_series(series: pl.Series) -> pl.Series:
    """Nested values (lists, structs) as compact JSON, exactly as ``render_value`` writes them."""
    return pl.Series(series.name, [render_value(v) for v in series.to_list()], dtype=pl.Utf8)


class ParquetConnector(Connector):
    """Reads ``DIRECTORY/RESOURCE.parquet``."""

    name = "parquet"
    Options = ParquetOptions
    supports_changes = True
    supports_keys = True

    def __init__(self, system: str, options: ConnectorOptions, context: ConnectorContext) -> None:
        super().__init__(system, options, context)  # checks the options type
        self._options = cast("ParquetOptions", options)

    def _directory(self) -> Path:
        return resolve_directory(self.context, self._options.directory)

    def _scan(self, spec: ResourceSpec, path: Path) -> tuple[pl.LazyFrame, pl.Schema]:
        frame = pl.scan_parquet(path, row_index_name=ROW_COLUMN, row_index_offset=1)
        try:
            return frame, frame.collect_schema()
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise fatal(spec, f"{path} is not a readable Parquet file: {exc}") from exc

    def read(self, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None) -> SourceFrame:
        path = find_file(spec, self._directory(), require_resource(spec, self.name), [".parquet"])
        frame, schema = self._scan(spec, path)
        paths = list(spec.paths)
        missing = [p for p in paths if p not in schema or p == ROW_COLUMN]
        if missing:
            available = [n for n in schema.names() if n != ROW_COLUMN]
            raise missing_columns_error(spec, str(path), missing, available)
        selected = frame.select(
            *(as_text(p, schema[p]).alias(p) for p in paths),
            pl.col(ROW_COLUMN).cast(pl.Int64),
        )
        if keys is not None:
            selected = filter_keys_lazy(selected, spec.key_paths, keys)
        try:
            data = selected.collect()
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise fatal(spec, f"{path} could not be read: {exc}") from exc
        data, problems = split_empty_keys(data, spec, path.name)
        return SourceFrame(data=data, problems=problems, records_read=data.height + len(problems))

    def read_changes(self, spec: ResourceSpec, since: datetime | None) -> Iterator[Change]:
        if not spec.changes:
            return iter(())
        path = find_file(spec, self._directory(), spec.changes, [".parquet", ".csv"])
        return changes_from_rows(self._change_rows(spec, path), spec, since, resource=path.name)

    def _change_rows(self, spec: ResourceSpec, path: Path) -> Iterator[tuple[int, Any]]:
        if path.suffix == ".csv":
            return csv_change_rows(spec, path)
        frame, schema = self._scan(spec, path)
        problem = change_columns_problem(schema.names(), spec)
        if problem is not None:
            raise fatal(spec, f"change log {path} {problem}")
        try:
            data = frame.collect()
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise fatal(spec, f"{path} could not be read: {exc}") from exc
        return ((int(row[ROW_COLUMN]), row) for row in data.iter_rows(named=True))
