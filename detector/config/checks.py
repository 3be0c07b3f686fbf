"""Semantic checks of an ownership map against the systems and entities it refers to.

Errors make the config unusable (a reader that does not map the field cannot be compared);
warnings are lint (``unowned_field``: a field crossing systems with no owner; a system read by
nothing). ``validate`` prints both; every other command refuses to run on errors only.
"""

from __future__ import annotations

from detector.config.errors_map import suggest
from detector.config.models import ConfigModel
from detector.config.ownership import OwnershipEntry, OwnershipMap
from detector.config.yamlsource import Locations
from detector.errors import ConfigProblem

__all__ = ["check_ownership"]


class _Reporter:
    def __init__(self, locations: Locations) -> None:
        self.locations = locations
        self.errors: list[ConfigProblem] = []
        self.warnings: list[ConfigProblem] = []

    def entry(self, entry: OwnershipEntry, message: str, part: str | None = None) -> None:
        """Locate a problem at the entry (and its ``part`` when the entry came from the YAML)."""
        if entry.origin.file == self.locations.file:
            loc: tuple[str, ...] = (
                ("ownership", entry.name, part) if part else ("ownership", entry.name)
            )
            self.errors.append(self.locations.problem(loc, message, prefer_key=part is None))
        else:
            self.errors.append(entry.origin.problem(message))


def check_ownership(
    model: ConfigModel, ownership: OwnershipMap, locations: Locations
) -> tuple[list[ConfigProblem], list[ConfigProblem]]:
    report = _Reporter(locations)
    systems = set(model.systems)
    mapped: dict[tuple[str, str], list[str]] = {}

    for entity_name, entity in model.entities.items():
        for system_name, mapping in entity.systems.items():
            if system_name not in systems:
                report.errors.append(
                    locations.problem(
                        ("entities", entity_name, "systems", system_name),
                        f"entity {entity_name!r} maps system {system_name!r}, which is not declared under"
                        f" systems{suggest(system_name, sorted(systems))}",
                        prefer_key=True,
                    )
                )
            for field_name in mapping.fields:
                mapped.setdefault((entity_name, field_name), []).append(system_name)

    for group in ownership.duplicates():
        first = group[0]
        lines = ", ".join(str(e.origin.line) for e in group if e.origin.line is not None)
        for extra in group[1:]:
            report.entry(
                extra,
                f"{first.name} is owned twice (multiple_owners): rows on lines {lines}"
                f" name owners {', '.join(repr(e.owner) for e in group)}",
            )

    for entry in ownership:
        _check_entry(entry, model, systems, mapped, report)

    owned = {(e.entity, e.field) for e in ownership}
    for (entity_name, field_name), holders in sorted(mapped.items()):
        if len(holders) >= 2 and (entity_name, field_name) not in owned:
            report.warnings.append(
                locations.problem(
                    ("entities", entity_name),
                    f"unowned_field: {entity_name}.{field_name} is mapped in {', '.join(holders)}"
                    " but has no ownership entry",
                    prefer_key=True,
                    severity="warning",
                )
            )
    used = {s for entity in model.entities.values() for s in entity.systems}
    for system_name in model.systems:
        if system_name not in used:
            report.warnings.append(
                locations.problem(
                    ("systems", system_name),
                    f"system {system_name!r} is declared but no entity maps it, so nothing reads it",
                    prefer_key=True,
                    severity="warning",
                )
            )
    return report.errors, report.warnings


def _check_entry(
    entry: OwnershipEntry,
    model: ConfigModel,
    systems: set[str],
    mapped: dict[tuple[str, str], list[str]],
    report: _Reporter,
) -> None:
    entity = model.entities.get(entry.entity)
    if entity is None:
        report.entry(
            entry,
            f"{entry.name}: unknown entity {entry.entity!r}{suggest(entry.entity, list(model.entities))}",
        )
        return
    holders = mapped.get((entry.entity, entry.field), [])
    if not holders:
        known = sorted({f for (e, f) in mapped if e == entry.entity})
        report.entry(
            entry,
            f"{entry.name}: field {entry.field!r} is not mapped by any system of entity"
            f" {entry.entity!r}{suggest(entry.field, known)}",
        )
        return
    if entry.owner is None:
        if len(holders) >= 2:
            message = (
                f"unowned_field: {entry.name} has no owner but is mapped in {', '.join(holders)}"
            )
            if entry.origin.file == report.locations.file:
                report.warnings.append(
                    report.locations.problem(
                        ("ownership", entry.name), message, prefer_key=True, severity="warning"
                    )
                )
            else:
                report.warnings.append(entry.origin.problem(message, severity="warning"))
    elif entry.owner not in systems:
        report.entry(
            entry,
            f"{entry.name}: owner {entry.owner!r} is not a declared system{suggest(entry.owner, sorted(systems))}",
            "owner",
        )
    elif entry.owner not in holders:
        report.entry(
            entry,
            f"{entry.name}: owner {entry.owner!r} does not map field {entry.field!r}",
            "owner",
        )
    for reader in entry.readers:
        if reader not in systems:
            report.entry(
                entry,
                f"{entry.name}: reader {reader!r} is not a declared system{suggest(reader, sorted(systems))}",
                "readers",
            )
        elif reader == entry.owner:
            report.entry(
                entry, f"{entry.name}: {reader!r} cannot be both owner and reader", "readers"
            )
        elif reader not in holders:
            report.entry(
                entry,
                f"{entry.name}: reader {reader!r} does not map field {entry.field!r}",
                "readers",
            )
    if len(set(entry.readers)) != len(entry.readers):
        report.entry(entry, f"{entry.name}: a reader is listed twice", "readers")
