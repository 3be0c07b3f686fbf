"""timestamp: instants compared in UTC, with an optional tolerance in seconds.

Accepted: ISO 8601 as Python 3.11 reads it (``T`` or space separator, ``Z``/``z`` or
``+01:00``/``+0100`` offsets, fractions of a second, date only, basic format like
``20261127T090000Z``); RFC 2822 ("Fri, 27 Nov 2026 09:00:00 GMT", e-mail and HTTP headers);
compact ``YYYYMMDD`` and ``YYYYMMDDHHMMSS`` (SAP and many ERPs); and Unix epoch numbers:
seconds, or milliseconds when the magnitude is 10**11 or more (a seconds value that large is
after the year 5000, a milliseconds value is any recent date).
A time without an offset is UTC: systems that store local wall-clock time must say so in
their connector, the comparator cannot know. A date alone is midnight UTC. Precision is the
microsecond; finer fractions are truncated.

Parsed in Python once per distinct value (``map_unique``): the formats are too many for one
polars format string, and per-distinct parsing keeps it proportional to distinct instants.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime

import polars as pl

from detector.compare.base import Normalized, map_unique
from detector.compare.rules import CompareRule

__all__ = ["TimestampComparator", "epoch_microseconds"]

_EPOCH = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)", re.ASCII)
_MILLIS_FROM = Decimal(10) ** 11
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROS = Decimal(1_000_000)
# Tolerances beyond ~30,000 years cannot matter; the cap keeps the literal inside Int64.
_MAX_TOLERANCE_MICROS = 10**18
_COMPACT = re.compile(r"(\d{8})(\d{6})?", re.ASCII)


def _from_epoch(text: str) -> int | None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if abs(number) >= _MILLIS_FROM:
        number = number / 1000
    micros = int((number * _MICROS).to_integral_value())
    try:
        _UNIX_EPOCH + timedelta(microseconds=micros)  # in datetime's range?
    except OverflowError:
        return None
    return micros


def _parse(text: str) -> datetime | None:
    cleaned = text.strip()
    if cleaned[-1:] == "z":
        cleaned = cleaned[:-1] + "Z"
    if len(cleaned) > 10 and cleaned[10] == "t":
        cleaned = cleaned[:10] + "T" + cleaned[11:]
    cleaned = _LONG_FRACTION.sub(r"\1", cleaned)
    try:
        return datetime.fromisoformat(cleaned)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(cleaned)
    except (TypeError, ValueError, IndexError):
        return None


def epoch_microseconds(text: str) -> int | None:
    """Microseconds since 1970-01-01T00:00:00Z for one timestamp text, or None if unreadable."""
    cleaned = text.strip()
    parsed: datetime | None = None
    compact = _COMPACT.fullmatch(cleaned)
    if compact is not None and cleaned[:2] in {"19", "20"}:
        # SAP-style YYYYMMDD / YYYYMMDDHHMMSS: as epoch numbers these would be 1970-1973 or
        # after 2286, so reading them as dates is the only plausible meaning.
        date, time = compact.groups()
        parsed = _parse(f"{date}T{time}" if time else date)
    if parsed is None and _EPOCH.fullmatch(cleaned):
        return _from_epoch(cleaned)
    if parsed is None:
        parsed = _parse(cleaned)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    delta = parsed - _UNIX_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class TimestampComparator:
    name = "timestamp"

    def normalize(self, text: pl.Series, rule: CompareRule, scale: Decimal | None) -> Normalized:
        micros = map_unique(text, epoch_microseconds, pl.Int64())
        values = micros.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        invalid = text.is_not_null() & micros.is_null()
        return Normalized(values=values.alias(text.name), invalid=invalid.alias(text.name))

    def equal(self, owner: pl.Series, reader: pl.Series, rule: CompareRule) -> pl.Series:
        """|owner - reader| <= tolerance seconds, inclusive; no tolerance means same instant."""
        both_null = owner.is_null() & reader.is_null()
        tolerance = min(
            int((rule.absolute_tolerance * _MICROS).to_integral_value()), _MAX_TOLERANCE_MICROS
        )
        diff = (owner.dt.epoch("us") - reader.dt.epoch("us")).abs()
        return (both_null | (diff <= tolerance).fill_null(False)).alias("equal")
