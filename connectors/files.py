"""Helpers shared by the built-in tabular connectors (csv, json, parquet and sql).

* locating a resource's file under a connector's ``directory`` (resolved against the config's
  folder), with errors that name the path;
* the common frame chores: records whose key is empty become ``RecordError`` problems, key
  filters applied lazily, empty frames with the right schema;
* the change-log format every one of them reads (a CSV/JSON/Parquet file or a table):

  ========================  =====================================================================
  column                    meaning
  ========================  =====================================================================
  key columns or ``key``    the record's key: one column per key path (``sku``, ``location``), or
                            one ``key`` column with the parts joined by ``|`` (``SKU-1|WH-EAST``)
  ``field``                 the system's own path of the changed field, or its canonical name
  ``changed_at``            ISO 8601 timestamp; without an offset it is taken as UTC
  ``changed_by``            optional: the actor (API user, app id, staff name)
  ``old_value``             optional
  ``new_value``             optional
  ========================  =====================================================================

  A change-log row that cannot be used (bad timestamp, empty key or field) is skipped and logged
  as a structured warning ``change_row_invalid`` (system, resource, row, reason); a change log
  missing a required column fails the source.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import polars as pl
import structlog

from connectors.base import (
    ROW_COLUMN,
    Change,
    ConnectorContext,
    ConnectorOptions,
    KeyTuple,
    ResourceSpec,
)
from connectors.records import extract_path, render_value
from detector.errors import RecordError, SourceFatalError

__all__ = [
    "CHANGE_KEY_COLUMN",
    "FileOptions",
    "UnusableRow",
    "change_columns_problem",
    "changes_from_rows",
    "csv_change_rows",
    "empty_frame",
    "fatal",
    "filter_keys_lazy",
    "find_file",
    "missing_columns_error",
    "parse_changed_at",
    "require_resource",
    "resolve_directory",
    "split_empty_keys",
]

CHANGE_KEY_COLUMN = "key"
"""Change-log column holding the whole key (parts joined by ``KEY_SEPARATOR``)."""
KEY_SEPARATOR = "|"
_REQUIRED_CHANGE_COLUMNS = ("field", "changed_at")

log = structlog.get_logger("connectors")


class FileOptions(ConnectorOptions):
    """Options of every file connector."""

    directory: str = "."
    """Folder holding ``RESOURCE.<ext>``; relative to the config file's folder."""


def fatal(spec: ResourceSpec, message: str) -> SourceFatalError:
    """A SourceFatalError carrying the spec's system and entity."""
    return SourceFatalError(message, system=spec.system, entity=spec.entity)


def resolve_directory(context: ConnectorContext, directory: str) -> Path:
    """``directory`` as an absolute path: relative ones resolve against the config's folder."""
    path = Path(directory).expanduser()
    return path if path.is_absolute() else context.base_dir / path


def require_resource(spec: ResourceSpec, connector: str) -> str:
    """The spec's resource name; file connectors cannot run a ``query``."""
    if spec.query is not None:
        raise fatal(spec, f"the {connector} connector cannot run a query; name a file as resource")
    if not spec.resource:
        raise fatal(spec, f"the {connector} connector needs a resource (the file stem to read)")
    return spec.resource


def find_file(spec: ResourceSpec, directory: Path, stem: str, suffixes: Sequence[str]) -> Path:
    """The one existing ``directory/stem<suffix>``; a clear error when none (or several) exist."""
    candidates = [directory / f"{stem}{suffix}" for suffix in suffixes]
    existing = [path for path in candidates if path.is_file()]
    if not existing:
        names = " or ".join(str(path) for path in candidates)
        hint = "" if directory.is_dir() else f" (the folder {directory} does not exist)"
        raise fatal(spec, f"file not found: {names}{hint}")
    if len(existing) > 1:
        names = " and ".join(str(path) for path in existing)
        raise fatal(spec, f"both {names} exist; keep only one so it is clear which one to read")
    return existing[0]


def missing_columns_error(
    spec: ResourceSpec, where: str, missing: Sequence[str], available: Sequence[str]
) -> SourceFatalError:
    """A located error for mapped columns that the file or table does not have."""
    noun = "column" if len(missing) == 1 else "columns"
    listed = ", ".join(repr(m) for m in missing)
    shown = ", ".join(repr(a) for a in available[:50]) + (", ..." if len(available) > 50 else "")
    return fatal(spec, f"{where} has no {noun} {listed}; it has: {shown or '(no columns)'}")


def empty_frame(paths: Sequence[str]) -> pl.DataFrame:
    """A frame with no rows and the SourceFrame schema."""
    schema: dict[str, Any] = dict.fromkeys(paths, pl.Utf8)
    schema[ROW_COLUMN] = pl.Int64
    return pl.DataFrame(schema=schema)


def split_empty_keys(
    data: pl.DataFrame, spec: ResourceSpec, resource: str | None
) -> tuple[pl.DataFrame, list[RecordError]]:
    """Drop records whose key (any part) is null or empty; each becomes a RecordError."""
    key_paths = list(spec.key_paths)
    if not key_paths or data.height == 0:
        return data, []
    empty = pl.any_horizontal([pl.col(p).is_null() | (pl.col(p) == "") for p in key_paths])
    bad = data.filter(empty)
    if bad.height == 0:
        return data, []
    problems: list[RecordError] = []
    for row in bad.select([*key_paths, ROW_COLUMN]).iter_rows(named=True):
        field = next(p for p in key_paths if row[p] in (None, ""))
        problems.append(
            RecordError(
                "key is empty or absent",
                system=spec.system,
                resource=resource,
                row=row[ROW_COLUMN],
                field=field,
            )
        )
    return data.filter(~empty), problems


def filter_keys_lazy(
    frame: pl.LazyFrame, key_paths: Sequence[str], keys: Collection[KeyTuple]
) -> pl.LazyFrame:
    """Keep only the rows whose raw key tuple is in ``keys`` (compared as text)."""
    if len(key_paths) == 1:
        values = pl.Series("values", [k[0] for k in keys if len(k) == 1], dtype=pl.Utf8)
        return frame.filter(pl.col(key_paths[0]).is_in(values.implode()))
    wanted = pl.DataFrame(
        [list(k) for k in keys if len(k) == len(key_paths)],
        schema=dict.fromkeys(key_paths, pl.Utf8),
        orient="row",
    ).unique()
    return frame.join(wanted.lazy(), on=list(key_paths), how="semi", nulls_equal=False)


# --- change logs -------------------------------------------------------------------------------


def parse_changed_at(value: Any) -> datetime:
    """A change's timestamp, timezone-aware; naive values are UTC. Raises ValueError."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("changed_at is empty")
        parsed = datetime.fromisoformat(text)
    else:
        raise ValueError(f"changed_at is a {type(value).__name__}, not a timestamp")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def change_columns_problem(columns: Collection[str], spec: ResourceSpec) -> str | None:
    """What a change log with these columns lacks, or None when it is usable."""
    needed = [repr(c) for c in _REQUIRED_CHANGE_COLUMNS if c not in columns]
    key_paths = spec.key_paths
    if CHANGE_KEY_COLUMN not in columns and not all(p in columns for p in key_paths):
        parts = ", ".join(repr(p) for p in key_paths)
        needed.append(f"{CHANGE_KEY_COLUMN!r} or the key column(s) {parts}")
    if not needed:
        return None
    shown = ", ".join(repr(c) for c in columns) or "(no columns)"
    return f"lacks {'; '.join(needed)}; it has: {shown}"


def _text(value: Any) -> str | None:
    rendered = render_value(value)
    return rendered if rendered not in (None, "") else None


def _change_key(record: Mapping[str, Any], spec: ResourceSpec) -> KeyTuple | str:
    """The key tuple of a change-log record, or the reason it has none."""
    key_paths = spec.key_paths
    parts = [_text(extract_path(record, p)) for p in key_paths]
    if all(part is not None for part in parts):
        return tuple(part for part in parts if part is not None)
    whole = _text(record.get(CHANGE_KEY_COLUMN))
    if whole is None:
        return "key is empty or absent"
    if len(key_paths) == 1:
        return (whole,)
    split = tuple(whole.split(KEY_SEPARATOR))
    if len(split) != len(key_paths) or any(not part for part in split):
        return (
            f"key {whole!r} does not have {len(key_paths)} parts joined by {KEY_SEPARATOR!r} "
            f"({', '.join(key_paths)})"
        )
    return split


@dataclass(frozen=True, slots=True)
class UnusableRow:
    """Stands for a change-log row that could not even be parsed, with the reason."""

    reason: str


def _change(record: Any, spec: ResourceSpec) -> Change | str:
    """The Change a change-log record describes, or why it describes none."""
    if isinstance(record, UnusableRow):
        return record.reason
    if not isinstance(record, Mapping):
        return f"record is a {type(record).__name__}, not an object"
    key = _change_key(record, spec)
    if isinstance(key, str):
        return key
    field = _text(record.get("field"))
    if field is None:
        return "field is empty or absent"
    raw_at = record.get("changed_at")
    try:
        changed_at = parse_changed_at(raw_at)
    except (ValueError, TypeError) as exc:
        return f"changed_at {raw_at!r} is not an ISO 8601 timestamp ({exc})"
    return Change(
        key=key,
        field=field,
        changed_at=changed_at,
        changed_by=_text(record.get("changed_by")),
        old_value=_text(record.get("old_value")),
        new_value=_text(record.get("new_value")),
    )


def changes_from_rows(
    rows: Iterable[tuple[int, Any]],
    spec: ResourceSpec,
    since: datetime | None,
    *,
    resource: str,
) -> Iterator[Change]:
    """Change entries from numbered change-log records, at or after ``since``.

    Unusable rows are skipped and logged (``change_row_invalid``), with a summary at the end
    (``change_rows_skipped``) when any were.
    """
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    skipped = 0
    for row, record in rows:
        change = _change(record, spec)
        if isinstance(change, str):
            skipped += 1
            log.warning(
                "change_row_invalid",
                system=spec.system,
                entity=spec.entity,
                resource=resource,
                row=row,
                reason=change,
            )
            continue
        if since is None or change.changed_at >= since:
            yield change
    if skipped:
        log.warning(
            "change_rows_skipped",
            system=spec.system,
            entity=spec.entity,
            resource=resource,
            skipped=skipped,
        )


def csv_change_rows(
    spec: ResourceSpec,
    path: Path,
    *,
    delimiter: str = ",",
    quote_char: str | None = '"',
    encoding: str = "utf-8",
) -> Iterator[tuple[int, Any]]:
    """Numbered records of a CSV change log (header = row 1), for ``changes_from_rows``."""
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError as exc:
        raise fatal(spec, f"change log {path} is not valid {encoding} text") from exc
    reader = csv.reader(
        io.StringIO(text.removeprefix("\ufeff"), newline=""),
        delimiter=delimiter,
        quotechar=quote_char or '"',
        quoting=csv.QUOTE_MINIMAL if quote_char else csv.QUOTE_NONE,
    )
    header = next(reader, None)
    if header is None:
        raise fatal(spec, f"change log {path} is empty: not even a header line")
    problem = change_columns_problem(header, spec)
    if problem is not None:
        raise fatal(spec, f"change log {path} {problem}")
    return _numbered(reader, header)


def _numbered(reader: Iterator[list[str]], header: list[str]) -> Iterator[tuple[int, Any]]:
    row = 1
    for fields in reader:
        row += 1
        if not fields:
            continue
        if len(fields) != len(header):
            yield (
                row,
                UnusableRow(f"expected {len(header)} fields as in the header, found {len(fields)}"),
            )
            continue
        yield row, dict(zip(header, fields, strict=True))
