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
_IN_OWNER = "__in_owner__"
_IN_READER = "__in_reader__"


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
    mismatched: dict[str, set[str]] = field(default_factory=dict)
    """field -> reader keys (display) whose value currently differs from the owner's."""


def severity_of(entries: Sequence[OwnershipEntry]) -> Severity:
    return max((e.severity for e in entries), key=lambda s: s.rank, default=Severity.MEDIUM)


def _field_spec(spec: ResourceSpec, name: str) -> FieldSpec:
    return next(f for f in spec.fields if f.name == name)


def _align(owner: CanonicalFrame, reader: CanonicalFrame, names: Sequence[str]) -> pl.DataFrame:
    """One full join of the two sides on the key: both sides' columns, presence flags per side.

    It joins on the 64-bit key hash (integer work) and checks the matched key text afterwards;
    should two different keys ever share a hash, it joins on the text instead.
    """
    on = HASH if owner.hash_safe and reader.hash_safe else MATCH
    left = owner.records.lazy().select(
        HASH,
        MATCH,
        KEY,
        UNIQUE,
        *[pl.col(n).alias(n + _OWNER) for n in names],
        pl.lit(value=True).alias(_IN_OWNER),
    )
    right = reader.records.lazy().select(
        HASH,
        MATCH,
        KEY,
        UNIQUE,
        ROW_COLUMN,
        *[pl.col(n).alias(n + _READER) for n in names],
        pl.lit(value=True).alias(_IN_READER),
    )
    aligned = left.join(right, on=on, how="full", coalesce=True, suffix=_READER).collect()
    if on == HASH:
        both = aligned.filter(pl.col(_IN_OWNER) & pl.col(_IN_READER))
        if not both.get_column(MATCH).eq(both.get_column(MATCH + _READER)).all():
            collided = CanonicalFrame(
                owner.system,
                owner.entity,
                owner.records,
                owner.duplicates,
                owner.in_scope,
                hash_safe=False,
            )
            return _align(collided, reader, names)
    return aligned


def compare_pair(
    owner: CanonicalFrame,
    reader: CanonicalFrame,
    owner_spec: ResourceSpec,
    reader_spec: ResourceSpec,
    entries: Sequence[OwnershipEntry],
    *,
    compare_records: bool,
) -> PairResult:
    """Discrepancies of ``reader`` against ``owner`` for ``entries`` (fields owned by one, read by the other).

    ``compare_records`` is False when either side failed or is suspect: then no key is reported
    missing or orphaned, because an outage is not a deletion.
    """
    result = PairResult()
    entity = owner.entity
    names = [e.field for e in entries]
    severity = severity_of(entries)

    aligned = _align(owner, reader, names)
    in_owner = pl.col(_IN_OWNER).fill_null(value=False)
    in_reader = pl.col(_IN_READER).fill_null(value=False)
    if compare_records:
        missing = aligned.filter(~in_reader).get_column(KEY).to_list()
        orphans = aligned.filter(~in_owner).get_column(KEY + _READER).to_list()
        for key in missing:
            result.discrepancies.append(
                Discrepancy(
                    Kind.MISSING_IN_READER, entity, key, None, owner.system, reader.system, severity
                )
            )
        for key in orphans:
            result.discrepancies.append(
                Discrepancy(
                    Kind.ORPHAN_IN_READER, entity, key, None, owner.system, reader.system, severity
                )
            )
    # keys held twice on either side take part in presence checks only, never in value comparison
    comparable = in_owner & in_reader & pl.col(UNIQUE) & pl.col(UNIQUE + _READER)
    joined = aligned.filter(comparable).select(
        pl.col(KEY + _READER).alias(KEY),
        ROW_COLUMN,
        *[n + _OWNER for n in names],
        *[n + _READER for n in names],
    )
    result.values_compared = joined.height * len(names)

    for entry in entries:
        _compare_field(joined, entry, owner_spec, reader_spec, reader.system, owner.system, result)
    return result


def _compare_field(
    joined: pl.DataFrame,
    entry: OwnershipEntry,
    owner_spec: ResourceSpec,
    reader_spec: ResourceSpec,
    reader_system: str,
    owner_system: str,
    result: PairResult,
) -> None:
    name = entry.field
    o_col, r_col = name + _OWNER, name + _READER
    candidates = joined.filter(pl.col(o_col).ne_missing(pl.col(r_col)))
    if candidates.height == 0:
        return
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
