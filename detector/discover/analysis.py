"""Ranking the fields of a stack by integration risk (``fieldwarden discover``).

The score is deliberately simple and documented, so a team can argue with it:

    risk = 3 x (observed writing systems - 1)        two systems writing one field
         + 4 if the field crosses systems with no owner  (unowned_field)
         + 5 if two owners are declared                   (multiple_owners)
         + 2 if some system maps it but is never compared
         + severity weight x (1 + open discrepancies / 20, capped at 6)   when any are open
         + 2 if it drifted in the last day, 1 if in the last week

Severity weights: low 1, medium 2, high 3, critical 4 (the field's declared severity; medium when
it has no entry).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, datetime, timedelta
from typing import Any

from detector.config import Config
from detector.model import Kind, ObservedChange, Severity

__all__ = ["FieldRisk", "OpenDiscrepancy", "RiskWeights", "analyse", "gap_rows"]

SEVERITY_WEIGHT = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


@dataclass(frozen=True, slots=True)
class RiskWeights:
    per_extra_writer: float = 3
    unowned: float = 4
    multiple_owners: float = 5
    never_compared: float = 2
    open_divisor: float = 20
    open_cap: float = 6
    drift_day: float = 2
    drift_week: float = 1


@dataclass(frozen=True, slots=True)
class OpenDiscrepancy:
    """What ``analyse`` needs of one current discrepancy."""

    entity: str
    field: str | None
    system: str
    kind: str
    last_seen: datetime


@dataclass(slots=True)
class FieldRisk:
    entity: str
    field: str
    owners: list[str]
    readers: list[str]
    mapped_in: list[str]
    writers: dict[str, int] = dc_field(default_factory=dict)
    """Acting system -> writes observed in the window."""
    writes_by_system: dict[str, dict[str, int]] = dc_field(default_factory=dict)
    """System whose log showed the write -> acting system -> count."""
    actors: dict[str, list[str]] = dc_field(default_factory=dict)
    """Acting system -> actors seen acting for it (a few)."""
    readers_writing: list[str] = dc_field(default_factory=list)
    """Readers in whose own log a non-owner wrote the field."""
    never_compared: list[str] = dc_field(default_factory=list)
    flags: list[str] = dc_field(default_factory=list)
    open_discrepancies: int = 0
    last_drift: datetime | None = None
    severity: Severity = Severity.MEDIUM
    compare: str | None = None
    risk: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.entity}.{self.field}"

    def to_json(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "field": self.field,
            "owner": self.owners[0] if len(self.owners) == 1 else None,
            "owners": self.owners,
            "readers": self.readers,
            "mapped_in": self.mapped_in,
            "writers": self.writers,
            "writes_by_system": self.writes_by_system,
            "actors": self.actors,
            "readers_writing": self.readers_writing,
            "never_compared": self.never_compared,
            "flags": self.flags,
            "open_discrepancies": self.open_discrepancies,
            "last_drift": self.last_drift.astimezone(UTC).isoformat().replace("+00:00", "Z")
            if self.last_drift
            else None,
            "severity": str(self.severity),
            "risk": round(self.risk, 2),
        }


def analyse(
    config: Config,
    changes: Iterable[ObservedChange],
    open_items: Iterable[OpenDiscrepancy],
    *,
    now: datetime | None = None,
    weights: RiskWeights | None = None,
) -> list[FieldRisk]:
    """Every field that crosses a system boundary, its gaps and its risk, riskiest first."""
    now = now or datetime.now(UTC)
    weights = weights or RiskWeights()
    mapped: dict[tuple[str, str], list[str]] = defaultdict(list)
    for entity_name, entity in config.model.entities.items():
        for system_name, mapping in entity.systems.items():
            for field_name in mapping.fields:
                mapped[(entity_name, field_name)].append(system_name)

    written: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    by_system: dict[tuple[str, str], dict[str, Counter[str]]] = defaultdict(
        lambda: defaultdict(Counter)
    )
    actors: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for change in changes:
        slot = (change.entity, change.field)
        written[slot][change.acting_system] += 1
        by_system[slot][change.system][change.acting_system] += 1
        if change.actor:
            actors[slot][change.acting_system].add(change.actor)

    open_count: Counter[tuple[str, str]] = Counter()
    last_drift: dict[tuple[str, str], datetime] = {}
    for item in open_items:
        if item.field is None:
            continue
        slot = (item.entity, item.field)
        open_count[slot] += 1
        if slot not in last_drift or item.last_seen > last_drift[slot]:
            last_drift[slot] = item.last_seen

    results: list[FieldRisk] = []
    for slot in sorted(set(mapped) | set(written)):
        entity_name, field_name = slot
        holders = mapped.get(slot, [])
        writers = written.get(slot, Counter())
        if len(holders) < 2 and len(writers) < 2:
            continue
        entries = config.ownership.all_for(entity_name, field_name)
        owners = list(dict.fromkeys(e.owner for e in entries if e.owner))
        readers = list(dict.fromkeys(r for e in entries for r in e.readers))
        entry = entries[0] if entries else None
        risk = FieldRisk(
            entity=entity_name,
            field=field_name,
            owners=owners,
            readers=readers,
            mapped_in=holders,
            writers=dict(writers.most_common()),
            writes_by_system={s: dict(c) for s, c in by_system.get(slot, {}).items()},
            actors={s: sorted(a)[:5] for s, a in actors.get(slot, {}).items()},
            open_discrepancies=open_count.get(slot, 0),
            last_drift=last_drift.get(slot),
            severity=entry.severity if entry else Severity.MEDIUM,
            compare=entry.rule.type if entry else None,
        )
        _flag(risk, holders, owners, readers, weights, now)
        results.append(risk)
    results.sort(key=lambda r: (-r.risk, r.entity, r.field))
    return results


def _flag(
    risk: FieldRisk,
    holders: Sequence[str],
    owners: Sequence[str],
    readers: Sequence[str],
    weights: RiskWeights,
    now: datetime,
) -> None:
    score = 0.0
    if not owners:
        risk.flags.append(Kind.UNOWNED_FIELD)
        score += weights.unowned
    if len(owners) > 1:
        risk.flags.append(Kind.MULTIPLE_OWNERS)
        score += weights.multiple_owners
    if len(risk.writers) > 1:
        risk.flags.append(Kind.MULTIPLE_WRITERS)
        score += weights.per_extra_writer * (len(risk.writers) - 1)
    owner = owners[0] if owners else None
    for system, acting in risk.writes_by_system.items():
        if system in readers and any(a != owner for a in acting):
            risk.readers_writing.append(system)
    risk.never_compared = (
        [s for s in holders if s not in owners and s not in readers] if owners else list(holders)
    )
    if risk.never_compared and owners:
        risk.flags.append("never_compared")
        score += weights.never_compared
    if risk.open_discrepancies:
        score += SEVERITY_WEIGHT[risk.severity] * (
            1 + min(risk.open_discrepancies / weights.open_divisor, weights.open_cap)
        )
    if risk.last_drift is not None:
        age = now - risk.last_drift
        if age <= timedelta(days=1):
            score += weights.drift_day
        elif age <= timedelta(days=7):
            score += weights.drift_week
    risk.risk = score


def gap_rows(risks: Iterable[FieldRisk]) -> list[dict[str, str]]:
    """Gaps as ownership-spreadsheet rows (same columns) for a team to fill in and load."""
    rows = []
    for risk in risks:
        if not risk.flags:
            continue
        suggested = [s for s in risk.mapped_in if s not in risk.owners]
        rows.append(
            {
                "entity": risk.entity,
                "field": risk.field,
                "owner": risk.owners[0] if len(risk.owners) == 1 else "",
                "readers": ";".join(risk.readers or suggested),
                "compare": risk.compare or "exact",
                "tolerance": "",
                "lag": "",
                "severity": str(risk.severity),
                "notes": f"{', '.join(risk.flags)}; writers: {', '.join(risk.writers) or 'none seen'}; risk {risk.risk:.1f}",
            }
        )
    return rows
