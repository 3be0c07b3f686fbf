"""What every comparator shares: the ``Normalized`` result, the ``Comparator`` protocol, and
the few column helpers the comparators are built from.

Comparators work on whole polars Series. Where a vectorised form is impractical (HTML
entities, phone numbers, timestamps in many shapes), ``map_unique`` runs a plain Python
function once per *distinct* value and joins the results back, so the cost follows the
number of different values, not the number of rows.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, TypeVar, runtime_checkable

import polars as pl

from detector.compare.rules import CompareRule

__all__ = [
    "Comparator",
    "Normalized",
    "StagedComparator",
    "beyond_ascii",
    "canonical_text",
    "casefold",
    "eq_with_nulls",
    "map_unique",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Normalized:
    """Canonical values of one column, with the rows that could not be read as the type.

    ``values`` is null where the input is empty (null, "", whitespace, empty HTML text, empty
    set) *and* where it is invalid; ``invalid`` tells the two apart, so the engine can report
    a price ``"abc"`` as a type error instead of comparing it.
    """

    values: pl.Series
    invalid: pl.Series


class Comparator(Protocol):
    """One compare type. ``normalize`` receives Utf8 text with empties already null."""

    name: str

    def normalize(
        self, text: pl.Series, rule: CompareRule, scale: Decimal | None
    ) -> Normalized: ...

    def equal(self, owner: pl.Series, reader: pl.Series, rule: CompareRule) -> pl.Series: ...


@runtime_checkable
class StagedComparator(Comparator, Protocol):
    """A comparator whose ``normalize`` is a cheap first stage followed by a costly rest.

    ``normalize(text)`` must equal ``finish(prepare(text))``. The engine prepares both sides of
    a field first and sends on only the rows whose prepared text still differs: equal prepared
    text is equal, as equal raw text already is. Most re-rendered HTML matches once tags and
    entities are gone, so its whitespace and Unicode passes then run on half the rows.
    ``prepare`` keeps empty text empty (null, "" or whitespace only), and turns a value into
    empty text only where ``finish`` would find it empty (null and valid) anyway.
    """

    def prepare(self, text: pl.Series, rule: CompareRule) -> pl.Series: ...

    def finish(self, prepared: pl.Series, rule: CompareRule) -> Normalized: ...


def eq_with_nulls(owner: pl.Series, reader: pl.Series) -> pl.Series:
    """Plain equality where null == null and null != value: a Boolean with no nulls."""
    return owner.eq_missing(reader).alias("equal")


def map_unique(
    text: pl.Series,
    fn: Callable[[str], T | None],
    dtype: pl.DataType,
) -> pl.Series:
    """Apply ``fn`` once per distinct non-null value of ``text``; None means unreadable."""
    distinct = text.drop_nulls().unique()
    if distinct.len() == 0:
        return pl.Series(text.name, [None] * text.len(), dtype=dtype)
    keys = distinct.to_list()
    results = [fn(key) for key in keys]
    return text.replace_strict(keys, results, default=None, return_dtype=dtype)


def beyond_ascii(text: pl.Series) -> pl.Series:
    """Where a value holds a character beyond ASCII: more UTF-8 bytes than characters.

    Counting characters is one pass over the bytes, several times cheaper than a regex looking
    for the same thing. False where null.
    """
    return (text.str.len_bytes() != text.str.len_chars()).fill_null(value=False)


def casefold(text: pl.Series) -> pl.Series:
    """Unicode case folding ("Straße" == "STRASSE"), vectorised where it can be.

    ASCII folds exactly like ``to_lowercase``, so only values holding other characters go
    through Python's ``str.casefold`` (once per distinct value). The result is re-composed
    to NFC because folding can decompose ("İ" -> "i̇").
    """
    lowered = text.str.to_lowercase()
    non_ascii = beyond_ascii(text)
    if not non_ascii.any():
        return lowered
    folded = map_unique(
        text.filter(non_ascii),
        lambda value: unicodedata.normalize("NFC", value.casefold()),
        pl.String(),
    )
    result = lowered.scatter(non_ascii.arg_true(), folded)
    return result


# A run of whitespace that is not exactly one " ": two or more whitespace characters, or one
# that is not a space. The regex engine's ``\s`` is Unicode White_Space (Python's ``\s`` also
# takes the four ASCII separators \x1c-\x1f, which are not White_Space and are not spaces
# here), and ``strip_chars`` trims the same set.
_UNTIDY_SPACE = r"\s{2,}|[^\S ]"


@functools.cache
def _nfc_sensitive() -> str:
    """A regex class of every character whose presence can make NFC change a string.

    That is: characters with a non-zero combining class, characters NFC never keeps, and
    characters that can compose with the one before them (the second part of any canonical
    decomposition, and Hangul vowels and trailing consonants). A string with none of these is
    already NFC, so the costly normalisation runs only where it can matter. Built once (~0.1 s).
    """
    sensitive: set[int] = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    for code in range(0x80, 0x30000):
        char = chr(code)
        if unicodedata.combining(char) or not unicodedata.is_normalized("NFC", char):
            sensitive.add(code)
        decomposition = unicodedata.decomposition(char)
        if decomposition and not decomposition.startswith("<"):
            sensitive.update(int(part, 16) for part in decomposition.split()[1:])
    ranges: list[str] = []
    ordered = sorted(sensitive)
    start = previous = ordered[0]
    for code in [*ordered[1:], -1]:
        if code == previous + 1:
            previous = code
            continue
        ranges.append(f"\\x{{{start:X}}}" + (f"-\\x{{{previous:X}}}" if previous != start else ""))
        start = previous = code
    return "[" + "".join(ranges) + "]"


def canonical_text(text: pl.Series, *, fold: bool) -> pl.Series:
    """Trim, collapse every run of Unicode whitespace to one space, NFC; optionally casefold.

    Returns null where nothing is left, so whitespace-only text is empty, not a value.
    Collapsing is one regex pass that only rewrites untidy runs; text is put in NFC only where
    a character that NFC can change occurs, so accented text that is already NFC costs a scan
    (and ASCII text not even that).
    """
    result = text.str.replace_all(_UNTIDY_SPACE, " ").str.strip_chars()
    # ASCII text is always NFC: only values beyond it are looked at for composable characters
    beyond = beyond_ascii(result)
    if beyond.any():
        candidates = result.filter(beyond)
        composable = candidates.str.contains(_nfc_sensitive()).fill_null(value=False)
        if composable.any():
            rows = beyond.arg_true().filter(composable)
            result = result.scatter(rows, candidates.filter(composable).str.normalize("NFC"))
    if fold:
        result = casefold(result)
    return pl.select(
        pl.when(result == "").then(None).otherwise(result).alias(text.name)
    ).to_series()
