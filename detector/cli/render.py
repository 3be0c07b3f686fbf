"""Rendering discrepancies and runs for people (rich tables) and programs (JSON, CSV).

Every value printed to a terminal goes through ``safe``: stored values come from other systems
and may carry terminal escape sequences or newlines meant to forge output.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from detector.cli.common import safe

__all__ = [
    "DISCREPANCY_COLUMNS",
    "EncodedArray",
    "discrepancies_csv",
    "discrepancies_table",
    "dump_json",
    "encode_json",
    "rows_csv",
]

DISCREPANCY_COLUMNS = (
    "id",
    "kind",
    "entity",
    "key",
    "field",
    "owner",
    "system",
    "owner_value",
    "system_value",
    "severity",
    "status",
    "first_seen",
    "last_seen",
    "writer",
    "changed_at",
)


PRETTY_LIMIT = 1000
"""Documents with more items than this are written compact: indenting makes the encoder pure Python."""

_COMPACT = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS
)
"""orjson renders datetimes and dataclasses itself; passed through, they reach ``default=str``
as they did with the standard library's encoder, and non-string keys become strings as they
did there, so the output does not change."""


class EncodedArray:
    """A JSON array whose items are already encoded as JSON texts (outbox payloads, say).

    ``dump_json`` splices the texts into compact output as they are, and reads them back for
    indented output, so a large report does not encode its items a second time.
    """

    __slots__ = ("texts",)

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts


def dump_json(payload: Any, *, items: int = 0) -> str:
    """JSON for programs; indented for people when it is small (``items`` counts its rows)."""
    if items > PRETTY_LIMIT:
        return encode_json(payload, items=items).decode()
    return json.dumps(payload, indent=2, ensure_ascii=False, default=_decoded)


def encode_json(payload: Any, *, items: int = 0) -> bytes:
    """``dump_json`` as UTF-8 bytes, for a file or a binary stream.

    A large report goes from orjson to the file as the bytes orjson made: decoding tens of
    megabytes to text only to encode them again cost more than encoding the JSON itself.
    """
    if items > PRETTY_LIMIT:
        return orjson.dumps(payload, default=_spliced, option=_COMPACT)
    return dump_json(payload, items=items).encode()


def _spliced(value: Any) -> Any:
    if isinstance(value, EncodedArray):
        return list(map(orjson.Fragment, value.texts))
    return str(value)


def _decoded(value: Any) -> Any:
    return list(map(json.loads, value.texts)) if isinstance(value, EncodedArray) else str(value)


def rows_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else _csv_cell(row.get(k))) for k in columns})
    return buffer.getvalue()


def _csv_cell(value: Any) -> str:
    text = str(value)
    # a cell starting with = + - @ is a formula to a spreadsheet: neutralise it
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def discrepancies_csv(items: Iterable[dict[str, Any]]) -> str:
    return rows_csv(items, DISCREPANCY_COLUMNS)


def discrepancies_table(
    items: Sequence[dict[str, Any]], *, title: str, console: Console | None = None
) -> None:
    """Grouped by field and system; owner and reader values side by side."""
    console = console or Console()
    if not items:
        console.print(f"[green]{safe(title)}: nothing wrong[/green]")
        return
    ordered = sorted(
        items,
        key=lambda d: (d["entity"], d["field"] or "", d["system"], d["kind"], d["key"] or ""),
    )
    table = Table(title=safe(title), show_lines=False, header_style="bold")
    for name in (
        "field",
        "system",
        "kind",
        "key",
        "owner",
        "owner value",
        "reader value",
        "severity",
        "status",
        "id",
    ):
        table.add_column(name, overflow="fold")
    for d in ordered:
        field = f"{d['entity']}.{d['field']}" if d["field"] else d["entity"]
        reader_value = d.get("system_value")
        if d["kind"] == "non_owner_write":
            reader_value = f"{safe(reader_value) if reader_value is not None else ''} (by {safe(d.get('writer'))})"
        else:
            reader_value = safe(reader_value) if reader_value is not None else ""
        table.add_row(
            safe(field),
            safe(d["system"]),
            safe(d["kind"]),
            safe(d["key"]) if d["key"] is not None else "",
            safe(d["owner"]) if d["owner"] else "",
            safe(d.get("owner_value")) if d.get("owner_value") is not None else "",
            reader_value,
            safe(d["severity"]),
            safe(d["status"]),
            safe(d["id"])[:10],
        )
    console.print(table)
