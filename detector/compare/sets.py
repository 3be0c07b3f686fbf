"""set: unordered lists (tags, categories, channels), equal when they hold the same items.

A value is either a JSON array (``["red", "blue"]``; numbers and booleans become their JSON
text, nulls are dropped, nested arrays or objects make it invalid) or a delimited string.
A delimited string is split on ONE delimiter, the first of ``;``, ``|``, ``,`` that occurs in
it, so "1,5;2" is the two items "1,5" and "2" while "red,blue" is two items as well. Items are
canonical like ``text`` (trimmed, whitespace collapsed, NFC, ``casefold`` optional); empty
items are dropped, duplicates and order ignored. A set with no items is empty.

The canonical value is the distinct items sorted by code point and joined with U+001F (the
ASCII unit separator, which no item in practice contains), so equality is string equality.
Delimited strings are split vectorised; JSON arrays go through ``json.loads`` once per
distinct value.
"""

from __future__ import annotations

import json
from decimal import Decimal

import polars as pl

from detector.compare.base import Normalized, canonical_text, eq_with_nulls, map_unique
from detector.compare.rules import CompareRule

__all__ = ["SEPARATOR", "SetComparator"]

SEPARATOR = "\x1f"
DELIMITERS: tuple[str, ...] = (";", "|", ",")


def _json_items(text: str) -> str | None:
    """Items of a JSON array joined by SEPARATOR, or None when it is not an array of scalars."""
    try:
        parsed = json.loads(text, parse_float=str, parse_int=str)
    except ValueError:
        return None
    if not isinstance(parsed, list):
        return None
    items: list[str] = []
    for item in parsed:
        if item is None:
            continue
        if isinstance(item, bool):
            items.append("true" if item else "false")
        elif isinstance(item, str):
            items.append(item)
        else:
            return None
    return SEPARATOR.join(items)


def _split_delimited(text: pl.Series) -> pl.Series:
    """Replace the value's own delimiter by SEPARATOR."""
    expr = pl.lit(text)
    result = expr
    for delimiter in reversed(DELIMITERS):
        result = (
            pl.when(expr.str.contains(delimiter, literal=True))
            .then(expr.str.replace_all(delimiter, SEPARATOR, literal=True))
            .otherwise(result)
        )
    return pl.select(result.alias(text.name)).to_series()


class SetComparator:
    name = "set"

    def normalize(self, text: pl.Series, rule: CompareRule, scale: Decimal | None) -> Normalized:
        trimmed = text.str.strip_chars()
        is_json = (trimmed.str.starts_with("[") & trimmed.str.ends_with("]")).fill_null(False)
        joined = _split_delimited(trimmed)
        json_invalid = pl.Series(text.name, [False] * text.len(), dtype=pl.Boolean)
        if is_json.any():
            from_json = map_unique(trimmed.filter(is_json), _json_items, pl.String())
            joined = joined.scatter(is_json.arg_true(), from_json)
            json_invalid = json_invalid.scatter(is_json.arg_true(), from_json.is_null())
        items = pl.DataFrame(
            {"row": pl.int_range(text.len(), eager=True), "item": joined.str.split(SEPARATOR)}
        ).explode("item")
        items = items.with_columns(canonical_text(items["item"], fold=rule.casefold))
        canonical = (
            items.drop_nulls("item")
            .group_by("row")
            .agg(pl.col("item").unique().sort().str.join(SEPARATOR))
        )
        values = (
            pl.DataFrame({"row": pl.int_range(text.len(), eager=True)})
            .join(canonical, on="row", how="left", maintain_order="left")
            .get_column("item")
        )
        return Normalized(values=values.alias(text.name), invalid=json_invalid)

    def equal(self, owner: pl.Series, reader: pl.Series, rule: CompareRule) -> pl.Series:
        return eq_with_nulls(owner, reader)
