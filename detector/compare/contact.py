"""email and phone: personal contact data, compared in canonical form.

email: trimmed, an optional ``mailto:`` dropped, the whole address lowercased. Strictly only
the domain is case-insensitive, but no shop system treats "Ann@x.com" and "ann@x.com" as two
people, and a reported "mismatch" on case alone is noise. Invalid: no "@", an empty local part
or domain, or whitespace inside. Provider tricks (Gmail dots, "+tags") are *not* folded: they
are different addresses to every system that sends mail.

phone: canonical E.164 ("+15550100123"), extension kept as ";ext=123". A number is
international when written with "+", the "00" prefix, or (in the NANP) "011"; otherwise it is
national, and ``default_region`` supplies the country code after dropping the national trunk
prefix ("020 7946 0000" in GB -> "+442079460000"; "1-555-010-0123" in US -> "+15550100123").
Without a default_region a national number stays digits only and can only equal another
national number with the same digits. Letters (vanity numbers), fewer than 4 or more than
15 digits, and NANP national numbers that are not ten digits (after an optional leading "1")
are invalid. Parsed in Python once per distinct value: number formats are too
irregular for one regex, and a shop has far fewer distinct phones than rows.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import partial

import polars as pl

from detector.compare.base import Normalized, eq_with_nulls, map_unique
from detector.compare.calling_codes import CALLING_CODES, CallingCode
from detector.compare.rules import CompareRule

__all__ = ["EmailComparator", "PhoneComparator", "canonical_phone"]

_EMAIL = r"^\S+@[^\s@]+$"
_MAILTO = r"(?i)^mailto:\s*"

_TEL_PREFIX = re.compile(r"^tel:\s*", re.IGNORECASE)
_EXTENSION = re.compile(r"\s*(?:ext\.?|extension|x|#)\s*(\d+)\s*$", re.IGNORECASE | re.ASCII)
_PHONE_CHARS = re.compile(r"\+?[\d\s().\-/]+", re.ASCII)
_NON_DIGIT = re.compile(r"\D", re.ASCII)
_MIN_DIGITS = 4
_MAX_DIGITS = 15  # E.164
_NANP_DIGITS = 10


class EmailComparator:
    name = "email"

    def normalize(self, text: pl.Series, rule: CompareRule, scale: Decimal | None) -> Normalized:
        cleaned = text.str.strip_chars().str.replace(_MAILTO, "").str.to_lowercase()
        readable = cleaned.str.contains(_EMAIL).fill_null(False)
        values = pl.select(pl.when(readable).then(cleaned).otherwise(None)).to_series()
        invalid = text.is_not_null() & ~readable
        return Normalized(values=values.alias(text.name), invalid=invalid.alias(text.name))

    def equal(self, owner: pl.Series, reader: pl.Series, rule: CompareRule) -> pl.Series:
        return eq_with_nulls(owner, reader)


def _national(digits: str, region: CallingCode) -> str | None:
    """Country code + national number for a number written the national way."""
    if region.code == "1":
        # NANP: exactly ten digits, optionally after the trunk (and country) code "1"; a
        # seven-digit local number has no area code and cannot be placed.
        national = digits[1:] if len(digits) == 11 and digits.startswith("1") else digits
        if len(national) != _NANP_DIGITS:
            return None
    elif region.trunk and digits.startswith(region.trunk):
        national = digits[len(region.trunk) :]
    else:
        national = digits
    return region.code + national


def _international(text: str, digits: str, region: CallingCode | None) -> str | None:
    """Country code + national number, or None when the number names no country."""
    if text.startswith("+"):
        return digits
    if digits.startswith("00"):
        return digits[2:]
    if region is not None and region.code == "1" and digits.startswith("011"):
        return digits[3:]
    return None if region is None else _national(digits, region)


def canonical_phone(value: str, default_region: str | None = None) -> str | None:
    """E.164 form of one phone number ("+15550100123"), digits only when the country is
    unknown, or None when it is not a phone number."""
    # Any Unicode space (a pasted no-break space) counts as a separator.
    text = " ".join(_TEL_PREFIX.sub("", value.strip()).split())
    extension = ""
    found = _EXTENSION.search(text)
    if found is not None and found.start() > 0:
        extension = f";ext={found.group(1)}"
        text = text[: found.start()]
    text = text.strip()
    if not _PHONE_CHARS.fullmatch(text):
        return None
    digits = _NON_DIGIT.sub("", text)
    region = CALLING_CODES.get(default_region) if default_region else None
    international = _international(text, digits, region)
    if international is None:
        if region is not None:
            return None  # a national number the region's plan cannot place
        if not _MIN_DIGITS <= len(digits) <= _MAX_DIGITS:
            return None
        return digits + extension
    if not _MIN_DIGITS <= len(international) <= _MAX_DIGITS or international.startswith("0"):
        return None
    return "+" + international + extension


_SIMPLE_PHONE = r"^\+?[0-9 ().\-/]+$"


def _vector_phone(text: pl.Series, region: CallingCode | None) -> pl.Series:
    """``canonical_phone`` for plainly written numbers (digits, + and separators), as polars expressions.

    The rules are those of ``canonical_phone`` (and tested to agree with it); anything less plain
    (extensions, ``tel:``, letters, Unicode spaces) is left null here for the Python path.
    """
    raw = pl.col("raw").str.strip_chars(" ")
    digits = pl.col("digits")
    length = digits.str.len_chars()
    if region is None:
        national: pl.Expr = pl.when((length >= _MIN_DIGITS) & (length <= _MAX_DIGITS)).then(digits)
    elif region.code == "1":
        ten = (
            pl.when((length == 11) & digits.str.starts_with("1"))
            .then(digits.str.slice(1))
            .otherwise(digits)
        )
        national = pl.when(ten.str.len_chars() == _NANP_DIGITS).then(pl.lit("+1") + ten)
    else:
        trunked = (
            pl.when(digits.str.starts_with(region.trunk))
            .then(digits.str.slice(len(region.trunk)))
            .otherwise(digits)
            if region.trunk
            else digits
        )
        national = pl.lit("+" + region.code) + trunked
    international = (
        pl.when(raw.str.starts_with("+"))
        .then(digits)
        .when(digits.str.starts_with("00"))
        .then(digits.str.slice(2))
    )
    if region is not None and region.code == "1":
        international = international.when(digits.str.starts_with("011")).then(digits.str.slice(3))
    intl_ok = (
        (pl.col("intl").str.len_chars() >= _MIN_DIGITS)
        & (pl.col("intl").str.len_chars() <= _MAX_DIGITS)
        & ~pl.col("intl").str.starts_with("0")
    )
    nat_digits = pl.col("national").str.strip_prefix("+")
    nat_ok = (nat_digits.str.len_chars() >= _MIN_DIGITS) & (
        nat_digits.str.len_chars() <= _MAX_DIGITS
    )
    if region is not None:
        nat_ok = nat_ok & ~nat_digits.str.starts_with("0")
    frame = pl.DataFrame({"raw": text}).with_columns(
        digits=pl.col("raw").str.replace_all(r"[^0-9]", "")
    )
    return (
        frame.with_columns(intl=international, national=national)
        .select(
            pl.when(pl.col("intl").is_not_null())
            .then(pl.when(intl_ok).then(pl.lit("+") + pl.col("intl")))
            .otherwise(pl.when(nat_ok).then(pl.col("national")))
        )
        .to_series()
    )


class PhoneComparator:
    name = "phone"

    def normalize(self, text: pl.Series, rule: CompareRule, scale: Decimal | None) -> Normalized:
        region = CALLING_CODES.get(rule.default_region) if rule.default_region else None
        plain = text.str.contains(_SIMPLE_PHONE).fill_null(value=False)
        values = _vector_phone(text, region).alias(text.name)
        values = pl.select(pl.when(pl.lit(plain)).then(values)).to_series().alias(text.name)
        irregular = text.is_not_null() & ~plain
        if irregular.any():
            slow = map_unique(
                text.filter(irregular),
                partial(canonical_phone, default_region=rule.default_region),
                pl.String(),
            )
            values = values.scatter(irregular.arg_true(), slow)
        invalid = text.is_not_null() & values.is_null()
        return Normalized(values=values.alias(text.name), invalid=invalid.alias(text.name))

    def equal(self, owner: pl.Series, reader: pl.Series, rule: CompareRule) -> pl.Series:
        return eq_with_nulls(owner, reader)
