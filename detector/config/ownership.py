"""The ownership map: per field, one owner (system of record) and its readers.

It loads from the config's ``ownership:`` mapping or from the spreadsheet a team already keeps
(CSV with columns ``entity,field,owner,readers,compare,tolerance,lag,severity,notes``; readers
separated by ``;``). Both forms produce the same ``OwnershipMap``, and ``to_csv()`` writes a
spreadsheet that loads back unchanged. Unlike the YAML form, a spreadsheet can hold two rows for
one field; the map keeps both so that ``validate`` and ``discover`` can report ``multiple_owners``.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from detector.compare import CompareRule
from detector.config.models import OwnershipEntryModel
from detector.durations import format_duration
from detector.errors import ConfigProblem
from detector.model import Severity

__all__ = ["BASE_COLUMNS", "OwnershipEntry", "OwnershipMap", "load_ownership_csv", "rule_part"]

BASE_COLUMNS = (
    "entity",
    "field",
    "owner",
    "readers",
    "compare",
    "tolerance",
    "lag",
    "severity",
    "notes",
)
EXTRA_COLUMNS = ("rel_tolerance", "casefold", "default_region", "personal")


@dataclass(frozen=True, slots=True)
class Origin:
    file: str
    line: int | None
    column: int | None = None

    def problem(self, message: str, severity: str = "error") -> ConfigProblem:
        return ConfigProblem(self.file, self.line, self.column, message, severity)


@dataclass(frozen=True, slots=True)
class OwnershipEntry:
    entity: str
    field: str
    owner: str | None
    readers: tuple[str, ...]
    rule: CompareRule
    lag: timedelta | None = None
    severity: Severity = Severity.MEDIUM
    personal: bool = False
    notes: str | None = None
    origin: Origin = dc_field(default_factory=lambda: Origin("<memory>", None))

    @property
    def name(self) -> str:
        return f"{self.entity}.{self.field}"

    @classmethod
    def from_model(
        cls, entity: str, field_name: str, model: OwnershipEntryModel, origin: Origin
    ) -> OwnershipEntry:
        return cls(
            entity=entity,
            field=field_name,
            owner=model.owner,
            readers=tuple(model.readers),
            rule=CompareRule(
                type=model.compare,
                tolerance=model.tolerance,
                rel_tolerance=model.rel_tolerance,
                casefold=model.casefold,
                default_region=model.default_region,
            ),
            lag=model.lag,
            severity=model.severity,
            personal=model.personal,
            notes=model.notes,
            origin=origin,
        )

    def to_row(self) -> dict[str, str]:
        rule = self.rule
        return {
            "entity": self.entity,
            "field": self.field,
            "owner": self.owner or "",
            "readers": ";".join(self.readers),
            "compare": rule.type,
            "tolerance": _decimal_text(rule.tolerance),
            "lag": format_duration(self.lag) if self.lag is not None else "",
            "severity": str(self.severity),
            "notes": self.notes or "",
            "rel_tolerance": _decimal_text(rule.rel_tolerance),
            "casefold": "true" if rule.casefold else "",
            "default_region": rule.default_region or "",
            "personal": "true" if self.personal else "",
        }


def rule_part(message: str) -> str:
    """Which key of an ownership entry a compare-rule error is about (to point at it)."""
    for part in ("rel_tolerance", "tolerance", "casefold", "default_region"):
        if message.startswith(part) or f"unknown {part}" in message:
            return part
    return "compare"


def _decimal_text(value: Decimal | None) -> str:
    return "" if value is None else str(value)


class OwnershipMap:
    """Entries in file order; lookups by (entity, field)."""

    def __init__(self, entries: Iterable[OwnershipEntry] = ()) -> None:
        self.entries = list(entries)
        self._by_field: dict[tuple[str, str], list[OwnershipEntry]] = defaultdict(list)
        for entry in self.entries:
            self._by_field[(entry.entity, entry.field)].append(entry)

    def __iter__(self) -> Iterator[OwnershipEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, entity: str, field_name: str) -> OwnershipEntry | None:
        """The field's entry; with several (a spreadsheet error), the first, as validate reports."""
        found = self._by_field.get((entity, field_name))
        return found[0] if found else None

    def all_for(self, entity: str, field_name: str) -> list[OwnershipEntry]:
        return list(self._by_field.get((entity, field_name), ()))

    def for_entity(self, entity: str) -> list[OwnershipEntry]:
        """One entry per owned field of ``entity`` (the first where a field is declared twice)."""
        seen: dict[str, OwnershipEntry] = {}
        for entry in self.entries:
            if entry.entity == entity:
                seen.setdefault(entry.field, entry)
        return list(seen.values())

    def duplicates(self) -> list[list[OwnershipEntry]]:
        return [group for group in self._by_field.values() if len(group) > 1]

    def to_csv(self) -> str:
        """The map as the ownership spreadsheet; extra columns only when an entry uses them."""
        rows = [entry.to_row() for entry in self.entries]
        extras = [c for c in EXTRA_COLUMNS if any(row[c] for row in rows)]
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=[*BASE_COLUMNS, *extras], extrasaction="ignore", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()


def load_ownership_csv(path: Path) -> tuple[OwnershipMap, list[ConfigProblem]]:
    """Read the ownership spreadsheet; every bad row is reported with its line, none stops the rest."""
    file = str(path)
    problems: list[ConfigProblem] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return OwnershipMap(), [ConfigProblem(file, None, None, "ownership file not found")]
    except (OSError, UnicodeDecodeError) as exc:
        return OwnershipMap(), [
            ConfigProblem(file, None, None, f"cannot read ownership file: {exc}")
        ]
    if not text.strip():
        return OwnershipMap(), [ConfigProblem(file, 1, 1, "the ownership file is empty")]
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader)]
    known = set(BASE_COLUMNS) | set(EXTRA_COLUMNS)
    for index, name in enumerate(header, start=1):
        if name not in known:
            problems.append(ConfigProblem(file, 1, index, f"unknown column {name!r}"))
    missing = [c for c in ("entity", "field", "owner", "readers") if c not in header]
    if missing:
        problems.append(ConfigProblem(file, 1, 1, f"missing column(s): {', '.join(missing)}"))
        return OwnershipMap(), problems
    entries: list[OwnershipEntry] = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(
                ConfigProblem(
                    file, line, None, f"row has {len(row)} columns, the header has {len(header)}"
                )
            )
            continue
        values = {
            name: cell.strip() for name, cell in zip(header, row, strict=True) if name in known
        }
        entity, field_name = values.get("entity", ""), values.get("field", "")
        if not entity or not field_name:
            problems.append(ConfigProblem(file, line, None, "entity and field must not be empty"))
            continue
        data: dict[str, Any] = {
            k: v for k, v in values.items() if k not in ("entity", "field") and v != ""
        }
        try:
            model = OwnershipEntryModel.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                column = str(error["loc"][0]) if error["loc"] else ""
                col_index = header.index(column) + 1 if column in header else None
                problems.append(
                    ConfigProblem(
                        file,
                        line,
                        col_index,
                        f"{entity}.{field_name}: bad {column}: {error['msg']}",
                    )
                )
            continue
        try:
            entries.append(OwnershipEntry.from_model(entity, field_name, model, Origin(file, line)))
        except (
            ValueError
        ) as exc:  # the compare rule itself is inconsistent (unknown type, stray tolerance)
            part = rule_part(str(exc))
            part_column = header.index(part) + 1 if part in header else None
            problems.append(ConfigProblem(file, line, part_column, f"{entity}.{field_name}: {exc}"))
    return OwnershipMap(entries), problems
