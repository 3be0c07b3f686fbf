"""Staged comparators: ``finish(prepare(text))`` is ``normalize(text)``, value by value."""

from __future__ import annotations

import random

import polars as pl
import pytest

from detector.compare import finish, normalize, prepare, staged
from detector.compare.base import beyond_ascii
from detector.compare.rules import CompareRule

_TOKENS = [
    "<p>", "</p>", "<div class=\"x\">", "</div>", "<br/>", "<b>", "</b>", "<!-- c -->",
    "&amp;", "&lt;b&gt;", "&eacute;", "&#233;", "&nbsp;", "&", "<", "a < b",
    "Café", "Cafe\u0301", "STRASSE", "Straße", " ", "  ", "\t", "\n", "\xa0", "x", "y",
]  # fmt: skip


def _values(seed: int) -> list[str | None]:
    rng = random.Random(seed)  # noqa: S311 - deterministic test data, not security
    values: list[str | None] = [
        "".join(rng.choice(_TOKENS) for _ in range(rng.randint(0, 6))) for _ in range(5000)
    ]
    return [*values, None, "", "   ", "<p> </p>", "<p></p>"]


@pytest.mark.parametrize("compare", ["html", "text"])
@pytest.mark.parametrize("fold", [False, True])
def test_finishing_the_prepared_text_is_normalising_the_raw_text(compare: str, fold: bool) -> None:
    rule = CompareRule(type=compare, casefold=fold)
    raw = pl.Series("description", _values(len(compare) + fold))

    whole = normalize(raw, rule)
    staged_result = finish(prepare(raw, rule), rule)

    assert staged_result.values.name == whole.values.name == "description"
    assert staged_result.values.to_list() == whole.values.to_list()
    assert staged_result.invalid.to_list() == whole.invalid.to_list()


def test_a_value_map_applies_before_the_first_stage() -> None:
    rule = CompareRule(type="text")
    mapping = {"n/a": "", " Blue ": "blue shade"}
    raw = pl.Series("colour", ["n/a", "Blue", "  Blue", "red", None])

    staged_result = finish(prepare(raw, rule, value_map=mapping), rule)

    assert (
        staged_result.values.to_list() == normalize(raw, rule, value_map=mapping).values.to_list()
    )
    assert staged_result.values.to_list() == [None, "blue shade", "blue shade", "red", None]


def test_only_html_and_text_normalise_in_stages() -> None:
    assert [
        t for t in ("html", "text", "exact", "money", "phone", "set") if staged(CompareRule(t))
    ] == [
        "html",
        "text",
    ]
    with pytest.raises(ValueError, match="'money' does not normalise in stages"):
        prepare(pl.Series("price", ["1"]), CompareRule("money"))


def test_beyond_ascii_finds_any_multibyte_character() -> None:
    values = pl.Series("t", ["plain", "café", None, "", "e\u0301", "~\x7f"])
    assert beyond_ascii(values).to_list() == [False, True, False, False, True, False]
