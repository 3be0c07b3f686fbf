"""boolean: the spellings systems use for yes and no.

true/false, 1/0, yes/no, y/n, t/f, on/off, in any case and with surrounding spaces. Anything
else ("2", "maybe", "1.0") is invalid rather than guessed, so a wrongly typed flag is reported
as a type error instead of silently counting as false.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from detector.compare.base import Normalized, eq_with_nulls
from detector.compare.rules import CompareRule

__all__ = ["BooleanComparator"]

TRUE_WORDS: tuple[str, ...] = ("true", "1", "yes", "y", "t", "on")
FALSE_WORDS: tuple[str, ...] = ("false", "0", "no", "n", "f", "off")


class BooleanComparator:
    name = "boolean"

    def normalize(self, text: pl.Series, rule: CompareRule, scale: Decimal | None) -> Normalized:
        words = text.str.strip_chars().str.to_lowercase()
        values = words.replace_strict(
            [*TRUE_WORDS, *FALSE_WORDS],
            [True] * len(TRUE_WORDS) + [False] * len(FALSE_WORDS),
            default=None,
            return_dtype=pl.Boolean,
        )
        invalid = text.is_not_null() & values.is_null()
        return Normalized(values=values.alias(text.name), invalid=invalid.alias(text.name))

    def equal(self, owner: pl.Series, reader: pl.Series, rule: CompareRule) -> pl.Series:
        return eq_with_nulls(owner, reader)
