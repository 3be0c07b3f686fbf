"""The ``csv`` connector: ``DIRECTORY/RESOURCE.csv``, one record a row, the header naming columns.

Reading is the hot path of a full reconciliation, so the common case goes through polars'
multi-threaded reader with every column read as text (no type inference) and only the mapped
columns materialised (plus the header's last column). Polars refuses long rows but pads a short
row with nulls, which would show up as empty values, i.e. false mismatches; a short row always
lacks the last field, so the rows whose last field is empty (usually none) are looked up as raw
lines and their fields counted. Anything polars refuses (a long row, bad quoting), or a
suspect row that cannot be checked line by line (quoted fields spanning lines), switches to a
tolerant reader built on the standard ``csv`` module, which reports each bad record as a
``RecordError`` with its row and line.

Conventions:

* ``ROW_COLUMN`` is the record's row: the header is row 1, the first record row 2. It is the
  physical line number unless quoted fields span lines (then messages also give the line).
  Blank lines are counted as rows and skipped.
* Every value is text as written; an empty cell (quoted or not) is ``None``: CSV has no other
  way to write "no value", and the comparators treat null and "" alike.
* A record with an empty key cell is a problem, not a row.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Collection, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import polars as pl
from pydantic import field_validator

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
from detector.errors import RecordError

__all__ = ["CsvConnector", "CsvOptions"]

_UTF8 = {"utf-8", "utf-8-sig"}
_LINE_SEPARATOR = "\x00"
"""Field separator for the raw-line pass: a byte that never occurs in a text CSV."""


_SLICED_ROWS = 3
"""Up to this many raw lines are fetched one slice each, more by one filtered pass.

A slice lets polars count newlines up to the line and materialise only it (0.01-0.02 s per
100 MB); a filter materialises every line to keep a few (about 0.04 s per 100 MB), which
pays only once there are more rows to fetch than a few slices would cost."""


def _pick(lines: pl.LazyFrame, rows: pl.Series) -> pl.LazyFrame:
    """The raw lines (a ``row``-indexed lines scan) numbered ``rows``."""
    if 0 < rows.len() <= _SLICED_ROWS:
        return pl.concat([lines.slice(row - 1, 1) for row in rows.to_list()])
    return lines.filter(pl.col("row").is_in(rows.implode()))


class CsvOptions(FileOptions):
    """Options of the ``csv`` connector."""

    delimiter: str = ","
    quote_char: str | None = '"'
    """None: fields are never quoted."""
    encoding: str = "utf-8"
    """Any Python codec name; a UTF-8 byte order mark is skipped."""

    @field_validator("delimiter")
    @classmethod
    def _one_delimiter(cls, value: str) -> str:
        if len(value) != 1 or value in "\r\n" or len(value.encode()) != 1:
            raise ValueError("must be one single-byte character, such as ',' ';' or a tab")
        return value

    @field_validator("quote_char")
    @classmethod
    def _one_quote(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 1 or len(value.encode()) != 1):
            raise ValueError("must be one single-byte character or null")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            return codecs.lookup(value).name
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None


class _Irregular(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The fast path met something it cannot read exactly; use the tolerant reader."""


class CsvConnector(Connector):
    """Reads ``DIRECTORY/RESOURCE.csv``; change logs from ``DIRECTORY/<changes>.csv``."""

    name = "csv"
    Options = CsvOptions
    supports_changes = True
    supports_keys = True

    def __init__(self, system: str, options: ConnectorOptions, context: ConnectorContext) -> None:
        super().__init__(system, options, context)  # checks the options type
        self._options = cast("CsvOptions", options)

    # --- records ---------------------------------------------------------------------------

    def read(self, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None) -> SourceFrame:
        path = self._file(spec, require_resource(spec, self.name))
        source = self._source(spec, path)
        header = self._header(spec, path, source)
        missing = [p for p in spec.paths if p not in header]
        if missing:
            raise missing_columns_error(spec, f"{path}", missing, self._hinted(header))
        try:
            data, problems, records_read = self._read_fast(spec, source, header, keys, path.name)
        except _Irregular:
            data, problems, records_read = self._read_tolerant(spec, path, header, keys)
        data, empty_keys = split_empty_keys(data, spec, path.name)
        return SourceFrame(data=data, problems=problems + empty_keys, records_read=records_read)

    def _file(self, spec: ResourceSpec, stem: str) -> Path:
        directory = resolve_directory(self.context, self._options.directory)
        return find_file(spec, directory, stem, [".csv"])

    def _source(self, spec: ResourceSpec, path: Path) -> Path | bytes:
        """What polars reads: the file itself, or its text re-encoded as UTF-8."""
        if self._options.encoding in _UTF8:
            return path
        try:
            return path.read_bytes().decode(self._options.encoding).encode()
        except UnicodeDecodeError as exc:
            message = f"{path} is not valid {self._options.encoding} text at byte {exc.start}"
            raise fatal(spec, message) from exc

    def _scan(self, source: Path | bytes, **kwargs: Any) -> pl.LazyFrame:
        return pl.scan_csv(
            source,
            separator=self._options.delimiter,
            quote_char=self._options.quote_char,
            infer_schema=False,
            **kwargs,
        )

    def _header(self, spec: ResourceSpec, path: Path, source: Path | bytes) -> list[str]:
        try:
            names = self._scan(source).collect_schema().names()
        except pl.exceptions.NoDataError:
            raise fatal(spec, f"{path} is empty: not even a header line") from None
        except pl.exceptions.ComputeError as exc:
            if "utf-8" in str(exc).lower():
                raise fatal(
                    spec, f"{path} is not valid UTF-8 text; set the connector's `encoding` option"
                ) from exc
            raise fatal(spec, f"{path}: cannot read the header line: {exc}") from exc
        if not [n for n in names if n.strip()]:
            raise fatal(spec, f"{path} is empty: not even a header line")
        return names

    def _hinted(self, header: list[str]) -> list[str]:
        """The header for an error message, with a hint when the delimiter is likely wrong."""
        if len(header) == 1:
            for other in (";", "\t", "|", ","):
                if other != self._options.delimiter and other in header[0]:
                    return [*header, f"(one column: is the delimiter {other!r}?)"]
        return header

    def _read_fast(
        self,
        spec: ResourceSpec,
        source: Path | bytes,
        header: list[str],
        keys: Collection[KeyTuple] | None,
        resource: str,
    ) -> tuple[pl.DataFrame, list[RecordError], int]:
        paths = list(spec.paths)
        last = header[-1]
        extra = [] if last in paths else [last]
        frame = self._scan(
            source, null_values=[""], row_index_name=ROW_COLUMN, row_index_offset=2
        ).select([*paths, *extra, ROW_COLUMN])
        if keys is not None:
            frame = filter_keys_lazy(frame, spec.key_paths, keys)
        try:
            data = frame.with_columns(pl.col(ROW_COLUMN).cast(pl.Int64)).collect()
        except pl.exceptions.PolarsError as exc:  # long rows, quotes polars refuses
            raise _Irregular from exc
        # A short row has no last field, so polars shows it empty: only such rows (and blank
        # lines) can be short, and only they need looking at as raw text.
        suspects = data.filter(pl.col(last).is_null()).get_column(ROW_COLUMN)
        problems: list[RecordError] = []
        if suspects.len():
            blank, short = self._check_lines(source, suspects, len(header))
            for row, found in short:
                message = f"expected {len(header)} fields (as the header), found {found}"
                problems.append(
                    RecordError(message, system=spec.system, resource=resource, row=row)
                )
            dropped = pl.Series([*blank, *(row for row, _ in short)], dtype=pl.Int64)
            data = data.filter(~pl.col(ROW_COLUMN).is_in(dropped.implode()))
        return data.drop(extra), problems, data.height + len(problems)

    def _check_lines(
        self, source: Path | bytes, rows: pl.Series, width: int
    ) -> tuple[list[int], list[tuple[int, int]]]:
        """Blank rows and (row, fields) of short rows among ``rows``, read from the raw lines.

        Raises _Irregular when rows and lines do not line up (a quoted field spans lines) or a
        line's quoting is ambiguous: the tolerant reader then decides. A row is its line when
        the file has one line more than records (the header): two cheap counts prove it.
        """
        lines = pl.scan_csv(
            source,
            has_header=False,
            separator=_LINE_SEPARATOR,
            quote_char=None,
            infer_schema=False,
            new_columns=["line"],
            row_index_name="row",
            row_index_offset=1,
        )
        line = pl.col("line").fill_null("").str.strip_chars_end("\r")
        quote = self._options.quote_char
        if quote is None:
            unquoted, odd_quotes = line, pl.lit(value=False)
        else:
            q = re.escape(quote)
            unquoted = line.str.replace_all(f"{q}[^{q}]*{q}", "")
            odd_quotes = line.str.count_matches(quote, literal=True) % 2 == 1
        try:
            # collected one at a time: polars 2.1's collect_all confuses two scans of one file
            line_count = int(lines.select(pl.len()).collect().item())
            record_count = int(self._scan(source).select(pl.len()).collect().item())
            if line_count != record_count + 1:
                raise _Irregular
            checked = (
                _pick(lines, rows)
                .select(
                    pl.col("row").cast(pl.Int64),
                    (line == "").alias("blank"),
                    odd_quotes.alias("odd"),
                    (unquoted.str.count_matches(self._options.delimiter, literal=True) + 1).alias(
                        "fields"
                    ),
                )
                .collect()
            )
        except pl.exceptions.PolarsError as exc:
            raise _Irregular from exc
        if checked.height != rows.len() or checked.get_column("odd").any():
            raise _Irregular
        blank = checked.filter(pl.col("blank")).get_column("row").to_list()
        short = checked.filter(~pl.col("blank") & (pl.col("fields") != width))
        return blank, list(short.select("row", "fields").iter_rows())

    def _read_tolerant(
        self,
        spec: ResourceSpec,
        path: Path,
        header: list[str],
        keys: Collection[KeyTuple] | None,
    ) -> tuple[pl.DataFrame, list[RecordError], int]:
        """Record by record with the csv module: exact rows and lines, a problem per bad record."""
        paths = list(spec.paths)
        problems: list[RecordError] = []
        columns: dict[str, list[str | None]] = {p: [] for p in paths}
        rows: list[int] = []
        records_read = 0
        positions = [(p, header.index(p)) for p in paths]
        for row, line, fields, error in self._records(spec, path):
            where = f" (line {line})" if line != row else ""
            if error is not None:
                records_read += 1
                message = f"malformed CSV record{where}: {error}"
                problems.append(self._problem(spec, path, row, message))
                continue
            if not fields:  # a blank line
                continue
            records_read += 1
            if len(fields) != len(header):
                message = (
                    f"expected {len(header)} fields (as the header), found {len(fields)}{where}"
                )
                problems.append(self._problem(spec, path, row, message))
                continue
            for p, position in positions:
                value = fields[position]
                columns[p].append(value if value != "" else None)
            rows.append(row)
        schema: dict[str, Any] = dict.fromkeys(paths, pl.Utf8)
        schema[ROW_COLUMN] = pl.Int64
        data = pl.DataFrame({**columns, ROW_COLUMN: rows}, schema=schema)
        if keys is not None:
            data = filter_keys_lazy(data.lazy(), spec.key_paths, keys).collect()
            records_read = data.height
        return data, problems, records_read

    def _records(
        self, spec: ResourceSpec, path: Path
    ) -> Iterator[tuple[int, int, list[str], str | None]]:
        """(row, first line, fields, error) for every record after the header."""
        quote = self._options.quote_char
        try:
            encoding = "utf-8-sig" if self._options.encoding in _UTF8 else self._options.encoding
            with path.open(encoding=encoding, newline="") as handle:
                reader = csv.reader(
                    handle,
                    delimiter=self._options.delimiter,
                    quotechar=quote or '"',
                    quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE,
                    strict=True,
                )
                row = 1
                next(reader, None)  # the header, already known
                while True:
                    row += 1
                    line = reader.line_num + 1
                    try:
                        fields = next(reader)
                    except StopIteration:
                        return
                    except csv.Error as exc:
                        if "end of data" in str(exc):
                            raise fatal(
                                spec,
                                f"{path}: a quoted field opened on line {line} is never closed "
                                "(truncated file?)",
                            ) from exc
                        yield row, line, [], str(exc)
                        continue
                    yield row, line, fields, None
        except UnicodeDecodeError as exc:
            message = (
                f"{path} is not valid {self._options.encoding} text; set the `encoding` option"
            )
            raise fatal(spec, message) from exc

    def _problem(self, spec: ResourceSpec, path: Path, row: int, message: str) -> RecordError:
        return RecordError(message, system=spec.system, resource=path.name, row=row)

    # --- change log ------------------------------------------------------------------------

    def read_changes(self, spec: ResourceSpec, since: datetime | None) -> Iterator[Change]:
        if not spec.changes:
            return iter(())
        path = self._file(spec, spec.changes)
        return changes_from_rows(self._change_rows(spec, path), spec, since, resource=path.name)

    def _change_rows(self, spec: ResourceSpec, path: Path) -> Iterator[tuple[int, Any]]:
        return csv_change_rows(
            spec,
            path,
            delimiter=self._options.delimiter,
            quote_char=self._options.quote_char,
            encoding=self._options.encoding,
        )
