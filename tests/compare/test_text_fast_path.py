"""The fast paths of ``canonical_text`` and ``html_text`` agree with the plain definition on arbitrary Unicode."""

from __future__ import annotations

import html
import random
import re
import unicodedata

import polars as pl

from detector.compare import _BLANK, numeric
from detector.compare.base import canonical_text
from detector.compare.markup import html_text

_SPACE = re.compile("[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_ALPHABET = (
    "ab Z09.-&  \t\n\xa0\u2003\u3000éeÅ\u212b\u0301\u0308\u0327ñnïi\u1100\u1161\u11a8가각"
    "\u0b47\u0b3e\u0b4bÄ\u00c4A\u030a\ufb01ﬀ"
)


def _reference(value: str) -> str | None:
    text = unicodedata.normalize("NFC", _SPACE.sub(" ", value).strip(" "))
    return text or None


def test_matches_the_definition() -> None:
    rng = random.Random(11)  # noqa: S311 - deterministic test data, not security
    values = [
        "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 12))) for _ in range(20000)
    ]
    values += ["plain ascii", "  padded  ", "double  space", "Cafe\u0301", "Caf\u00e9"]
    got = canonical_text(pl.Series("t", values), fold=False).to_list()
    assert got == [_reference(v) for v in values]


_REFERENCE_TOKENS = [
    "&amp;", "&lt;", "&gt;", "&nbsp;", "&egrave;", "&Eacute;", "&#233;", "&#xE9;", "&#x;",
    "&copy", "&copy;", "&notin;", "&notit;", "&amp;lt;", "&AMP;", "&ThickSpace;", "&bogus;",
    "&", "&&", "&#", ";", "#", "a", "x", " ", "é", "\u0301",
]  # fmt: skip


def test_entity_decoding_matches_html_unescape() -> None:
    """Named references go by a vectorised table; the result must be html.unescape's exactly."""
    rng = random.Random(5)  # noqa: S311 - deterministic test data, not security
    values = [
        "".join(rng.choice(_REFERENCE_TOKENS) for _ in range(rng.randint(0, 8)))
        for _ in range(20000)
    ]
    got = html_text(pl.Series("h", values)).to_list()
    assert got == [_reference(html.unescape(v)) for v in values]


_MONEY_ALPHABET = [
    "1",
    "9",
    "0",
    ".",
    "-",
    "+",
    " ",
    "$",
    "€",
    "US",
    "USD",
    "EUR",
    "E",
    "e",
    "x",
    "A",
]


def test_money_markers_match_the_plain_patterns() -> None:
    rng = random.Random(5)  # noqa: S311 - deterministic test data, not security
    values: list[str | None] = [
        "".join(rng.choice(_MONEY_ALPHABET) for _ in range(rng.randint(0, 6))) for _ in range(20000)
    ]
    values += [None, "EEE5", "19.90 USD", "$19.90", "-$5", "US$ 5", "19.99"]
    text = pl.Series("price", values)
    plain = text.str.replace(numeric._CURRENCY_BEFORE, "${1}").str.replace(
        numeric._CURRENCY_AFTER, ""
    )
    assert numeric._without_currency(text).to_list() == plain.to_list()


def test_blank_pattern_is_what_stripping_leaves_empty() -> None:
    """Empty (null, "" or whitespace only) is found by regex, as stripping would find it."""
    rng = random.Random(7)  # noqa: S311 - deterministic test data, not security
    alphabet = " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2003\u200b\u2028\u3000\ufeffa."
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4))) for _ in range(5000)]
    text = pl.Series("t", values)
    assert text.str.contains(_BLANK).to_list() == (text.str.strip_chars() == "").to_list()
