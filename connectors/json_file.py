"""The ``json`` connector: ``DIRECTORY/RESOURCE.json`` (an array of objects) or ``RESOURCE.jsonl``.

Records may nest: mapped paths such as ``content.name`` or ``images[0].src`` are resolved by
``connectors.records``. Numbers keep the text they were written with (``19.90`` stays
``"19.90"``), because floats would lose it.

* ``ROW_COLUMN`` is the record's position in the array (1-based), or its line in a JSON Lines
  file.
* A file that is not valid JSON, or whose top level is not an array of objects, fails the source.
  In a JSON Lines file a bad line is a ``RecordError`` naming its line; blank lines are skipped.
* An element that is not an object, or a record whose key is empty, is a ``RecordError``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from connectors.base import (
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
    UnusableRow,
    changes_from_rows,
    fatal,
    find_file,
    require_resource,
    resolve_directory,
)
from connectors.records import filter_keys, frame_from_records
from detector.errors import RecordError

__all__ = ["JsonConnector", "JsonOptions"]

_SUFFIXES = (".json", ".jsonl")


class JsonOptions(FileOptions):
    """Options of the ``json`` connector (files are UTF-8, as JSON requires)."""


class _Skipped:
    """Stands for a JSON Lines line that holds no record (blank or invalid)."""


def _loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


class JsonConnector(Connector):
    """Reads ``DIRECTORY/RESOURCE.json`` or ``.jsonl``; change logs from ``<changes>.json[l]``."""

    name = "json"
    Options = JsonOptions
    supports_changes = True
    supports_keys = False  # the whole file is parsed either way; keys are filtered after

    def __init__(self, system: str, options: ConnectorOptions, context: ConnectorContext) -> None:
        super().__init__(system, options, context)  # checks the options type
        self._options = cast("JsonOptions", options)

    def _file(self, spec: ResourceSpec, stem: str) -> Path:
        directory = resolve_directory(self.context, self._options.directory)
        return find_file(spec, directory, stem, _SUFFIXES)

    def read(self, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None) -> SourceFrame:
        path = self._file(spec, require_resource(spec, self.name))
        located = replace(spec, resource=path.name)  # problems name the file read
        if path.suffix == ".jsonl":
            frame = self._read_lines(located, path)
        else:
            frame = frame_from_records(self._load_array(spec, path), located, first_row=1)
        return filter_keys(frame, spec, keys)

    def _text(self, spec: ResourceSpec, path: Path) -> str:
        try:
            return path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise fatal(spec, f"{path} is not valid UTF-8 text (byte {exc.start})") from exc

    def _load_array(self, spec: ResourceSpec, path: Path) -> list[Any]:
        text = self._text(spec, path)
        if not text.strip():
            raise fatal(spec, f"{path} is empty; expected a JSON array of objects")
        try:
            data = _loads(text)
        except json.JSONDecodeError as exc:
            raise fatal(
                spec, f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from exc
        if not isinstance(data, list) or (data and not any(isinstance(r, dict) for r in data)):
            found = type(data).__name__ if not isinstance(data, list) else "array of non-objects"
            raise fatal(spec, f"{path} is not a JSON array of objects (found a JSON {found})")
        return data

    def _read_lines(self, spec: ResourceSpec, path: Path) -> SourceFrame:
        records: list[Any] = []
        skipped: set[int] = set()
        problems: list[RecordError] = []
        blank = 0
        for number, line in enumerate(self._text(spec, path).splitlines(), start=1):
            if not line.strip():
                blank += 1
                skipped.add(number)
                records.append(_Skipped())
                continue
            try:
                records.append(_loads(line))
            except json.JSONDecodeError as exc:
                skipped.add(number)
                records.append(_Skipped())
                problems.append(
                    RecordError(
                        f"line is not valid JSON: {exc.msg} at column {exc.colno}",
                        system=spec.system,
                        resource=path.name,
                        row=number,
                    )
                )
        frame = frame_from_records(records, spec, first_row=1)
        frame.problems = sorted(
            [*problems, *(p for p in frame.problems if p.row not in skipped)],
            key=lambda p: p.row if isinstance(p.row, int) else 0,
        )
        frame.records_read = (frame.records_read or 0) - blank
        return frame

    def read_changes(self, spec: ResourceSpec, since: datetime | None) -> Iterator[Change]:
        if not spec.changes:
            return iter(())
        path = self._file(spec, spec.changes)
        return changes_from_rows(self._change_rows(spec, path), spec, since, resource=path.name)

    def _change_rows(self, spec: ResourceSpec, path: Path) -> Iterator[tuple[int, Any]]:
        if path.suffix != ".jsonl":
            return enumerate(self._load_array(spec, path), start=1)
        return self._change_lines(spec, path)

    def _change_lines(self, spec: ResourceSpec, path: Path) -> Iterator[tuple[int, Any]]:
        for number, line in enumerate(self._text(spec, path).splitlines(), start=1):
            if not line.strip():
                continue
            try:
                yield number, _loads(line)
            except json.JSONDecodeError as exc:
                yield (
                    number,
                    UnusableRow(f"line is not valid JSON: {exc.msg} at column {exc.colno}"),
                )
