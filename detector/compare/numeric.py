"""number, money and integer: exact decimal comparison with absolute and relative tolerance.

Values are parsed into ``Decimal(38, 9)`` columns, never floats, so "0.1" + "0.2" style binary
noise can never turn into a reported mismatch, and "10.0" equals "10.00" because both are the
same decimal. Nine decimal places are kept (more are rounded half away from zero): finer than
any price, quantity or weight a shop stores.

What is read as a number is deliberately narrow, because a wrong guess is a false alarm or a
hidden one: an optional sign, digits with at most one ".", an optional exponent, surrounding
spaces. A comma is never a decimal point nor a thousands separator ("12,50" and "1,234.50"
are invalid, not 1250 nor 12.5): the system that writes them must be mapped, not guessed at.
Money also accepts one currency marker before or after the amount ("$19.99", "-$5",
"US$ 5", "19.99 EUR"); the marker is dropped, not compared (keep the currency in its own field).
Magnitudes of 10**27 or more (after ``scale``) are invalid: they are not prices, and keeping
below it makes every later subtraction safe from decimal overflow.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from detector.compare.base import Normalized
from detector.compare.rules import CompareRule

__all__ = ["DECIMAL", "NumericComparator"]

DECIMAL = pl.Decimal(38, 9)
_LIMIT = Decimal(10) ** 27
_NUMBER = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_WHOLE = r"^[+-]?[0-9]+(?:\.0*)?$"
_EXPONENT = r"[eE]"
# A currency symbol, optionally after a letter prefix (US$, A$, R$), or an ISO 4217 code.
_CURRENCY = r"(?:[A-Z]{0,3}[$€£¥₹₩₽₺₪฿₫]|[A-Z]{3})"
_CURRENCY_BEFORE = rf"^([+-]?)\s*{_CURRENCY}\s*"
_CURRENCY_AFTER = rf"\s*{_CURRENCY}$"
_NOT_PLAIN = r"[^0-9.+\-]"


def _decimal(value: Decimal) -> pl.Series:
    """A one-value Decimal series with the value's own scale, as polars infers it for a literal.

    Built from text: polars builds a Series from a Python ``Decimal`` through numpy, whose
    import alone costs a run a tenth of a second.
    """
    exponent = value.as_tuple().exponent  # "n"/"N"/"F" only for NaN and infinity, never here
    places = -exponent if isinstance(exponent, int) else 0
    return pl.Series("value", [str(value)]).cast(pl.Decimal(38, max(0, places)))


def _without_currency(cleaned: pl.Series) -> pl.Series:
    """The amounts with their currency marker dropped.

    Either marker holds a symbol or a letter, so only values with a character other than a
    digit, ".", "+" or "-" (usually a minority) go through the two patterns.
    """
    marked = cleaned.str.contains(_NOT_PLAIN).fill_null(value=False)
    if not marked.any():
        return cleaned
    subset = cleaned.filter(marked)
    stripped = subset.str.replace(_CURRENCY_BEFORE, "${1}").str.replace(_CURRENCY_AFTER, "")
    return cleaned.scatter(marked.arg_true(), stripped)


class NumericComparator:
    """Decimal compare; ``integer`` also requires a whole number, ``money`` strips currency."""

    def __init__(self, name: str, *, money: bool = False, integer: bool = False) -> None:
        self.name = name
        self._money = money
        self._integer = integer

    def normalize(self, text: pl.Series, rule: CompareRule, scale: Decimal | None) -> Normalized:
        cleaned = text.str.strip_chars()
        if self._money:
            cleaned = _without_currency(cleaned)
        shaped = cleaned.str.contains(_NUMBER).fill_null(False)
        parsed = (
            pl.select(pl.when(shaped).then(cleaned).otherwise(None))
            .to_series()
            .cast(DECIMAL, strict=False)
        )
        readable = parsed.is_not_null() & (parsed.abs() < _LIMIT).fill_null(False)
        if self._integer:
            # Whole as written ("12.000"), or whole once the exponent is applied ("1.2e1").
            whole = cleaned.str.contains(_WHOLE).fill_null(False) | (
                cleaned.str.contains(_EXPONENT).fill_null(False)
                & (parsed.round(0) == parsed).fill_null(False)
            )
            readable = readable & whole
        if scale is not None and scale != 1:
            factor = abs(scale)
            if factor > 1:
                readable = readable & (parsed.abs() < _LIMIT / factor).fill_null(False)
            parsed = pl.select(pl.when(readable).then(parsed).otherwise(None)).to_series()
            parsed = (parsed * _decimal(scale)).cast(DECIMAL)
        values = pl.select(pl.when(readable).then(parsed).otherwise(None)).to_series()
        invalid = text.is_not_null() & ~readable
        return Normalized(values=values.alias(text.name), invalid=invalid.alias(text.name))

    def equal(self, owner: pl.Series, reader: pl.Series, rule: CompareRule) -> pl.Series:
        """|owner - reader| <= max(tolerance, rel_tolerance * |owner|), inclusive."""
        both_null = owner.is_null() & reader.is_null()
        diff = (owner - reader).abs()
        # Every |difference| is below 2 * 10**27, so a larger tolerance changes nothing;
        # capping it keeps the literal inside Decimal(38, 9).
        absolute = min(rule.absolute_tolerance, _LIMIT * 4)
        within = diff <= absolute
        if rule.rel_tolerance is not None and rule.rel_tolerance > 0:
            rel = rule.rel_tolerance
            magnitude = owner.abs().clip(upper_bound=_LIMIT / max(rel, Decimal(1)))
            within = within | (diff <= magnitude * _decimal(rel))
        return (both_null | within.fill_null(False)).alias("equal")
