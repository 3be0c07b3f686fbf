"""Comparators: is a reader's value the owner's value, under the field's compare rule?

Two steps, both over whole polars Series so a full reconciliation never loops per cell:

* ``normalize(raw, rule, scale=, value_map=)`` turns the text a system holds into canonical
  values of the rule's type, and flags the values that cannot be read as that type
  (``Normalized.invalid``: a price "abc", an integer "12.5"), so the engine can report a type
  error instead of a false mismatch.
* ``equal(owner, reader, rule)`` compares two normalised columns row by row, applying
  tolerances. Nulls are *empty*: null == null, null != any value. Invalid inputs are null in
  ``values`` too, so the engine must look at ``invalid`` before trusting ``equal``.

Empty means null, "" or whitespace only, for every type except ``exact`` (where only null and
"" are empty: " " is a value). ``value_map`` (a system's vocabulary -> the canonical one) is
applied to the trimmed raw text before anything else; ``scale`` multiplies number, money and
integer values (cents -> units) and is ignored by the other types. The per-type semantics are
documented in each comparator's module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

import polars as pl

from detector.compare.base import Comparator, Normalized, StagedComparator
from detector.compare.registry import COMPARATORS
from detector.compare.rules import (
    COMPARE_TYPES,
    PERSONAL_TYPES,
    TOLERANCE_TYPES,
    CompareRule,
)

__all__ = [
    "COMPARE_TYPES",
    "PERSONAL_TYPES",
    "TOLERANCE_TYPES",
    "Comparator",
    "CompareRule",
    "Normalized",
    "comparator_names",
    "equal",
    "finish",
    "normalize",
    "prepare",
    "staged",
]

_NUMERIC_TYPES = frozenset({"number", "money", "integer"})
_BLANK = r"^\s*$"


def comparator_names() -> list[str]:
    """Every compare type, sorted: what ``compare:`` accepts."""
    return sorted(COMPARATORS)


def _apply_value_map(raw: pl.Series, value_map: Mapping[str, str]) -> pl.Series:
    """Translate mapped values (matched on trimmed text); unmapped values pass unchanged."""
    mapping = {str(key).strip(): value for key, value in value_map.items()}
    trimmed = raw.str.strip_chars()
    hit = trimmed.is_in(list(mapping)).fill_null(False)
    if not hit.any():
        return raw
    translated = trimmed.replace_strict(
        list(mapping), list(mapping.values()), default=None, return_dtype=pl.String()
    )
    return pl.select(pl.when(hit).then(translated).otherwise(raw).alias(raw.name)).to_series()


def normalize(
    raw: pl.Series,
    rule: CompareRule,
    *,
    scale: Decimal | None = None,
    value_map: Mapping[str, str] | None = None,
) -> Normalized:
    """Canonical values of ``raw`` (Utf8 text as the system holds it) under ``rule``.

    Numbers, booleans and timestamps often repeat in a catalog (stock levels, flags, a few
    publication dates): for those types, when a column holds only a few thousand distinct
    values, each is normalised once and the results spread back to every row.
    """
    if rule.type in _REPEATING_TYPES and _few_distinct(raw):
        distinct = raw.unique()
        return _spread(raw, distinct, _normalize(distinct, rule, scale, value_map))
    return _normalize(raw, rule, scale, value_map)


_REPEATING_TYPES = frozenset({"number", "money", "integer", "boolean", "timestamp"})
_DISTINCT_MIN_ROWS = 10_000
"""Below this many rows, finding the distinct values costs more than it saves."""
_DISTINCT_MAX_SHARE = 0.05
"""Normalise distinct values only when there are at most this share as many as rows..."""
_DISTINCT_MAX = 5_000
"""...and at most this many in all.

Finding the distinct values and spreading the results back are two hash passes over every
row. While the table of distinct values fits in the CPU's cache they cost a fraction of
normalising every row; once it does not, each row costs a cache miss. Measured on a 2-core
EPYC with 1M prices: about half the direct time at 3,000 distinct values, break-even at
10,000, three to four times slower at 100,000. Stock levels and status-like columns (hundreds
of values) take the shortcut; prices and weights do not.
"""


def _few_distinct(raw: pl.Series) -> bool:
    """Whether ``raw`` holds few distinct values, by a cheap estimate (HyperLogLog)."""
    if raw.len() < _DISTINCT_MIN_ROWS:
        return False
    estimate = raw.approx_n_unique()
    limit = min(_DISTINCT_MAX, raw.len() * _DISTINCT_MAX_SHARE)
    return isinstance(estimate, int) and estimate <= limit


def _spread(raw: pl.Series, distinct: pl.Series, once: Normalized) -> Normalized:
    """``once`` (the normalised ``distinct`` values of ``raw``) for every row of ``raw``."""
    table = pl.DataFrame({"raw": distinct, "value": once.values, "invalid": once.invalid})
    rows = pl.DataFrame({"raw": raw}).join(
        table, on="raw", how="left", maintain_order="left", nulls_equal=True
    )
    return Normalized(
        values=rows.get_column("value").alias(raw.name),
        invalid=rows.get_column("invalid").alias(raw.name),
    )


def staged(rule: CompareRule) -> bool:
    """Whether ``rule``'s comparator normalises in two stages (``prepare``, then ``finish``)."""
    return isinstance(COMPARATORS[rule.type], StagedComparator)


def prepare(
    raw: pl.Series, rule: CompareRule, *, value_map: Mapping[str, str] | None = None
) -> pl.Series:
    """The cheap first stage of ``normalize`` for a ``staged`` rule: text in which equal values
    are sure to normalise equal. ``finish`` completes it."""
    return _staged_comparator(rule).prepare(_text(raw, value_map), rule).alias(raw.name)


def finish(prepared: pl.Series, rule: CompareRule) -> Normalized:
    """``normalize`` of the raw values that ``prepare`` turned into ``prepared``."""
    comparator = _staged_comparator(rule)
    return _checked(prepared, rule, lambda text: comparator.finish(text, rule))


def _staged_comparator(rule: CompareRule) -> StagedComparator:
    comparator = COMPARATORS[rule.type]
    if not isinstance(comparator, StagedComparator):
        raise ValueError(f"compare type {rule.type!r} does not normalise in stages")
    return comparator


def _text(raw: pl.Series, value_map: Mapping[str, str] | None) -> pl.Series:
    text = raw if raw.dtype == pl.String else raw.cast(pl.String)
    return _apply_value_map(text, value_map) if value_map else text


def _normalize(
    raw: pl.Series,
    rule: CompareRule,
    scale: Decimal | None,
    value_map: Mapping[str, str] | None,
) -> Normalized:
    numeric_scale = scale if rule.type in _NUMERIC_TYPES else None
    comparator = COMPARATORS[rule.type]
    return _checked(
        _text(raw, value_map), rule, lambda text: comparator.normalize(text, rule, numeric_scale)
    )


def _checked(
    text: pl.Series, rule: CompareRule, normalise: Callable[[pl.Series], Normalized]
) -> Normalized:
    """``normalise`` applied with empties (null, "", whitespace) null and never invalid."""
    if rule.type == "exact":
        empty = text.is_null() | (text == "")
    else:
        # whitespace only (Unicode White_Space, what strip_chars trims): a regex that stops at
        # the first other character, where stripping would copy every value
        empty = text.is_null() | text.str.contains(_BLANK)
    text = pl.select(pl.when(empty).then(None).otherwise(text).alias(text.name)).to_series()
    result = normalise(text)
    invalid = (result.invalid.fill_null(False) & ~empty).alias(text.name)
    values = pl.select(
        pl.when(invalid).then(None).otherwise(result.values).alias(text.name)
    ).to_series()
    return Normalized(values=values, invalid=invalid)


def equal(owner: pl.Series, reader: pl.Series, rule: CompareRule) -> pl.Series:
    """Row by row, is ``reader`` equal to ``owner`` under ``rule``? Boolean, never null.

    Both are ``Normalized.values`` of the same length (and rule). Tolerances are inclusive:
    a difference exactly at the tolerance is equal.
    """
    if owner.len() != reader.len():
        raise ValueError(
            f"cannot compare {owner.len()} owner values with {reader.len()} reader values"
        )
    result = COMPARATORS[rule.type].equal(owner, reader, rule)
    return result.fill_null(False).alias("equal")
