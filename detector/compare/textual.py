"""exact and text: the two ways of comparing free text.

``exact`` is for identifiers and codes where every byte matters: nothing is trimmed, so
" SKU-1" differs from "SKU-1" (only "" counts as empty). ``text`` is for what people type and
systems re-render: whitespace trimmed and collapsed, Unicode NFC (a composed "é" equals "e" +
combining accent), and with ``casefold`` case-insensitive.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from detector.compare.base import Normalized, canonical_text, eq_with_nulls
from detector.compare.rules import CompareRule

__all__ = ["ExactComparator", "TextComparator"]


def _never_invalid(text: pl.Series) -> pl.Series:
    return pl.Series(text.name, [False] * text.len(), dtype=pl.Boolean)


class ExactComparator:
    """Byte-equal text; any string is valid."""

    name = "exact"

    def normalize(self, text: pl.Series, rule: CompareRule, scale: Decimal | None) -> Normalized:
        return Normalized(values=text, invalid=_never_invalid(text))

    def equal(self, owner: pl.Series, reader: pl.Series, rule: CompareRule) -> pl.Series:
        return eq_with_nulls(owner, reader)


class TextComparator:
    """Trimmed, whitespace-collapsed, NFC text; any string is valid.

    Staged (``StagedComparator``): trimming first, since padding is the commonest difference
    between two systems' copies of a text; then collapsing, NFC and case.
    """

    name = "text"

    def normalize(self, text: pl.Series, rule: CompareRule, scale: Decimal | None) -> Normalized:
        return self.finish(self.prepare(text, rule), rule)

    def prepare(self, text: pl.Series, rule: CompareRule) -> pl.Series:
        return text.str.strip_chars()

    def finish(self, prepared: pl.Series, rule: CompareRule) -> Normalized:
        values = canonical_text(prepared, fold=rule.casefold)
        return Normalized(values=values, invalid=_never_invalid(prepared))

    def equal(self, owner: pl.Series, reader: pl.Series, rule: CompareRule) -> pl.Series:
        return eq_with_nulls(owner, reader)
