"""Comparing one reader against one owner over the fields the owner owns and the reader reads.

Vectorised over whole columns: records are aligned with one join on the matched key; for each
field, raw text equality settles almost every row (equal text is equal under every compare rule),
and only the remaining candidates go through the field's comparator. No Python loop runs per
cell; Python objects are created only for the discrepancies found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from connectors.base import ROW_COLUMN, FieldSpec, ResourceSpec
from detector.compare import PERSONAL_TYPES, equal, normalize
from detector.config.ownership import OwnershipEntry
from detector.engine.mapping import HASH, KEY, MATCH, UNIQUE, CanonicalFrame
from detector.model import Discrepancy, Kind, Severity

__all__ = ["PairResult", "TypeProblem", "compare_pair", "severity_of"]

_OWNER = "__o__"
_READER = "__r__"


@dataclass(frozen=True, slots=True)
class TypeProblem:
    """A value that cannot be read as its field's type: counted, never reported as a mismatch."""

    system: str
    entity: str
    key: str
    field: str
    row: int | None
    compare: str


@dataclass(slots=True)
class PairResult:
    discrepancies: list[Discrepancy] = field(default_factory=list)
    problems: list[TypeProblem] = field(default_factory=list)
    values_compared: int = 0
    held_back: tuple[int, int] | None = None
    """(missing, orphaned) keys not reported because there were more than the mass limit."""
    mismatched: dict[str, set[str]] = field(default_factory=dict)
    """field -> reader keys (display) whose value currently differs from the owner's."""


def severity_of(entries: Sequence[OwnershipEntry]) -> Severity:
    return max((e.severity for e in entries), key=lambda s: s.rank, default=Severity.MEDIUM)


def _field_spec(spec: ResourceSpec, name: str) -> FieldSpec:
    return next(f for f in spec.fields if f.name == name)


_O_ROW = "__o_row__"
_R_ROW = "__r_row__"


def _align(owner: CanonicalFrame, reader: CanonicalFrame) -> pl.DataFrame:
    """One full join of the two sides' keys: each side's row position (null where absent) and uniqueness.

    Only integers travel through the join (the 64-bit key hash and row positions); field values
    are gathered afterwards one column at a time, so no wide frame of strings is ever built.
    The matched key text is checked after the join: should two different keys ever share a
    hash, the join is redone on the text.
    """
    on = HASH if owner.hash_safe and reader.hash_safe else MATCH
    left = owner.records.lazy().select(
        on, UNIQUE, pl.int_range(pl.len(), dtype=pl.UInt32).alias(_O_ROW)
    )
    right = reader.records.lazy().select(
        on, UNIQUE, pl.int_range(pl.len(), dtype=pl.UInt32).alias(_R_ROW)
    )
    aligned = left.join(right, on=on, how="full", coalesce=True, suffix=_READER).collect()
    if on == HASH:
        both = aligned.filter(pl.col(_O_ROW).is_not_null() & pl.col(_R_ROW).is_not_null())
        owner_keys = owner.records.get_column(MATCH).gather(both.get_column(_O_ROW))
        reader_keys = reader.records.get_column(MATCH).gather(both.get_column(_R_ROW))
        if not owner_keys.equals(reader_keys):
            collided = CanonicalFrame(
                owner.system,
                owner.entity,
                owner.records,
                owner.duplicates,
                owner.in_scope,
                hash_safe=False,
            )
            return _align(collided, reader)
    return aligned


def compare_pair(
    owner: CanonicalFrame,
    reader: CanonicalFrame,
    owner_spec: ResourceSpec,
    reader_spec: ResourceSpec,
    entries: Sequence[OwnershipEntry],
    *,
    compare_records: bool,
    mass_limit: int | None = None,
) -> PairResult:
    """Discrepancies of ``reader`` against ``owner`` for ``entries`` (fields owned by one, read by the other).

    ``compare_records`` is False when either side failed or is suspect: then no key is reported
    missing or orphaned, because an outage is not a deletion. More missing (or orphaned) keys than
    ``mass_limit`` look like a broken export rather than real deletions: none is reported and
    ``held_back`` says how many there were.
    """
    result = PairResult()
    entity = owner.entity
    severity = severity_of(entries)

    aligned = _align(owner, reader)
    if compare_records:
        missing = aligned.filter(pl.col(_R_ROW).is_null()).get_column(_O_ROW)
        orphans = aligned.filter(pl.col(_O_ROW).is_null()).get_column(_R_ROW)
        if mass_limit is not None and max(missing.len(), orphans.len()) > mass_limit:
            result.held_back = (missing.len(), orphans.len())
            missing, orphans = missing.clear(), orphans.clear()
        for key in owner.records.get_column(KEY).gather(missing).to_list():
            result.discrepancies.append(
                Discrepancy(
                    Kind.MISSING_IN_READER, entity, key, None, owner.system, reader.system, severity
                )
            )
        for key in reader.records.get_column(KEY).gather(orphans).to_list():
            result.discrepancies.append(
                Discrepancy(
                    Kind.ORPHAN_IN_READER, entity, key, None, owner.system, reader.system, severity
                )
            )
    # keys held twice on either side take part in presence checks only, never in value comparison
    pairs = aligned.filter(pl.col(UNIQUE) & pl.col(UNIQUE + _READER)).select(_O_ROW, _R_ROW)
    result.values_compared = pairs.height * len(entries)
    owner_rows, reader_rows = pairs.get_column(_O_ROW), pairs.get_column(_R_ROW)
    for entry in entries:
        _compare_field(
            owner, reader, owner_rows, reader_rows, entry, owner_spec, reader_spec, result
        )
    return result


def _compare_field(
    owner: CanonicalFrame,
    reader: CanonicalFrame,
    owner_rows: pl.Series,
    reader_rows: pl.Series,
    entry: OwnershipEntry,
    owner_spec: ResourceSpec,
    reader_spec: ResourceSpec,
    result: PairResult,
) -> None:
    name = entry.field
    owner_system, reader_system = owner.system, reader.system
    o_col, r_col = name + _OWNER, name + _READER
    o_all = owner.records.get_column(name).gather(owner_rows)
    r_all = reader.records.get_column(name).gather(reader_rows)
    differs = o_all.ne_missing(r_all)
    if not differs.any():
        return
    # equal raw text is equal under every compare rule: only the rest goes through the comparator
    r_rows = reader_rows.filter(differs)
    candidates = pl.DataFrame(
        {
            KEY: reader.records.get_column(KEY).gather(r_rows),
            ROW_COLUMN: reader.records.get_column(ROW_COLUMN).gather(r_rows),
            o_col: o_all.filter(differs),
            r_col: r_all.filter(differs),
        }
    )
    o_spec, r_spec = _field_spec(owner_spec, name), _field_spec(reader_spec, name)
    rule = entry.rule
    o_norm = normalize(
        candidates.get_column(o_col), rule, scale=o_spec.scale, value_map=o_spec.value_map
    )
    r_norm = normalize(
        candidates.get_column(r_col), rule, scale=r_spec.scale, value_map=r_spec.value_map
    )
    same = equal(o_norm.values, r_norm.values, rule)
    flagged = candidates.with_columns(
        __same__=same,
        __o_invalid__=o_norm.invalid,
        __r_invalid__=r_norm.invalid,
        __o_empty__=o_norm.values.is_null(),
        __r_empty__=r_norm.values.is_null(),
    ).filter(~pl.col("__same__") | pl.col("__o_invalid__") | pl.col("__r_invalid__"))
    if flagged.height == 0:
        return
    personal = entry.personal or rule.type in PERSONAL_TYPES
    mismatched = result.mismatched.setdefault(name, set())
    columns = (
        KEY,
        ROW_COLUMN,
        o_col,
        r_col,
        "__o_invalid__",
        "__r_invalid__",
        "__o_empty__",
        "__r_empty__",
    )
    for row in flagged.select(*columns).iter_rows():
        key, position, o_value, r_value, o_invalid, r_invalid, o_empty, r_empty = row
        if o_invalid or r_invalid:
            # a value that cannot be read as the field's type is a located problem, not a mismatch
            system = owner_system if o_invalid else reader_system
            result.problems.append(
                TypeProblem(
                    system, entry.entity, key, name, None if o_invalid else position, rule.type
                )
            )
            continue
        if o_empty and r_empty:
            continue
        kind = Kind.MISSING_OWNER_VALUE if o_empty else Kind.VALUE_MISMATCH
        mismatched.add(key)
        result.discrepancies.append(
            Discrepancy(
                kind,
                entry.entity,
                key,
                name,
                owner_system,
                reader_system,
                entry.severity,
                owner_value=o_value,
                system_value=r_value,
                lag=entry.lag if kind is Kind.VALUE_MISMATCH else None,
                personal=personal,
            )
        )
