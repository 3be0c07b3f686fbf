"""Turning records as APIs and files give them (nested dicts) into a connector's ``SourceFrame``.

Paths address nested values: ``content.name`` walks into objects, ``images[0].src`` indexes a list,
and a record may also carry the whole path as one flat key (vendor connectors that need their own
addressing, such as Akeneo's ``values.name[en_US]``, flatten to that form before handing records
here). Values are rendered as text exactly once, here, so every connector agrees on what
"as the system holds it" means for numbers, booleans and nested objects.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from connectors.base import ROW_COLUMN, KeyTuple, ResourceSpec, SourceFrame
from detector.errors import RecordError

__all__ = ["extract_path", "filter_keys", "frame_from_records", "render_value"]

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_MISSING = object()


def render_value(value: Any) -> str | None:
    """Render one value as text the way every connector must: stable, lossless, JSON-like."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)  # "nan", "inf": kept as text, read as invalid by numeric comparators
        return repr(value) if value != int(value) or abs(value) >= 1e16 else str(int(value)) + ".0"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def extract_path(record: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` in ``record``; ``None`` when any step is absent."""
    if path in record:
        return record[path]
    current: Any = record
    for match in _SEGMENT.finditer(path):
        name, index = match.group(1), match.group(2)
        if name is not None:
            if not isinstance(current, Mapping):
                return None
            current = current.get(name, _MISSING)
        else:
            if not isinstance(current, list | tuple):
                return None
            position = int(index)
            current = current[position] if position < len(current) else _MISSING
        if current is _MISSING:
            return None
    return current


def frame_from_records(
    records: Iterable[Mapping[str, Any]],
    spec: ResourceSpec,
    *,
    complete: bool = True,
    first_row: int = 1,
) -> SourceFrame:
    """Build a SourceFrame from mapping records; a record whose key is absent is a problem, not a row."""
    paths = spec.paths
    key_paths = set(spec.key_paths)
    columns: dict[str, list[str | None]] = {path: [] for path in paths}
    rows: list[int] = []
    problems: list[RecordError] = []
    seen = 0
    for position, record in enumerate(records, start=first_row):
        seen += 1
        if not isinstance(record, Mapping):
            problems.append(
                RecordError(
                    f"record is a {type(record).__name__}, not an object",
                    system=spec.system,
                    resource=spec.resource,
                    row=position,
                )
            )
            continue
        values = {path: render_value(extract_path(record, path)) for path in paths}
        missing_key = next((p for p in key_paths if values[p] in (None, "")), None)
        if missing_key is not None:
            problems.append(
                RecordError(
                    "key is empty or absent",
                    system=spec.system,
                    resource=spec.resource,
                    row=position,
                    field=missing_key,
                )
            )
            continue
        for path in paths:
            columns[path].append(values[path])
        rows.append(position)
    schema: dict[str, Any] = dict.fromkeys(paths, pl.Utf8)
    schema[ROW_COLUMN] = pl.Int64
    data = pl.DataFrame({**columns, ROW_COLUMN: rows}, schema=schema)
    return SourceFrame(data=data, problems=problems, complete=complete, records_read=seen)


def filter_keys(
    frame: SourceFrame, spec: ResourceSpec, keys: Collection[KeyTuple] | None
) -> SourceFrame:
    """Keep only ``keys`` (raw key tuples); for connectors that cannot ask the system for them."""
    if keys is None:
        return frame
    key_paths = list(spec.key_paths)
    width = len(key_paths)
    wrong = next((k for k in keys if len(k) != width), None)
    if wrong is not None:
        raise ValueError(
            f"key {wrong!r} has {len(wrong)} parts; {spec.label} keys have {width} ({', '.join(key_paths)})"
        )
    wanted = pl.DataFrame(
        [list(k) for k in keys] if keys else [],
        schema=dict.fromkeys(key_paths, pl.Utf8),
        orient="row",
    ).unique()
    data = frame.data.join(wanted, on=key_paths, how="semi", nulls_equal=False)
    return SourceFrame(
        data=data, problems=frame.problems, complete=frame.complete, records_read=data.height
    )
