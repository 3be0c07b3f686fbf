"""Normalising each distinct value once gives exactly what normalising every row gives."""

from __future__ import annotations

import random
from decimal import Decimal

import polars as pl
import pytest

from detector import compare
from detector.compare import _DISTINCT_MAX, _DISTINCT_MIN_ROWS, _normalize, normalize
from detector.compare.rules import CompareRule

_SAMPLES = {
    "integer": ["12", " 12 ", "+12", "12.0", "1.2e1", "n/a", "12.5", "", "  ", None, "-3", "0"],
    "number": ["1.250", "1.25", "1250", "1e3", "abc", "", None, " 7 ", "-0.0", ".5", "1,5"],
    "money": ["19.9", "19.90", "$19.90", "19.90 USD", "US$ 5", "-$5", "x", "", None, "0.005"],
    "boolean": ["true", "false", "yes", "no", "1", "0", "Y", "maybe", "", None, " TRUE "],
    "timestamp": [
        "2026-11-27T10:00:00Z",
        "2026-11-27 10:00:00+00:00",
        "2026-11-27T11:00:00+01:00",
        "yesterday",
        "",
        None,
    ],
}


@pytest.mark.parametrize(
    ("compare", "scale"), [*((t, None) for t in _SAMPLES), ("number", "0.001")]
)
def test_few_distinct_values_are_normalised_once_with_the_same_result(
    compare: str, scale: str | None
) -> None:
    rng = random.Random(compare)  # noqa: S311 - deterministic test data, not security
    raw = pl.Series("price", [rng.choice(_SAMPLES[compare]) for _ in range(_DISTINCT_MIN_ROWS * 2)])
    rule = CompareRule(type=compare)
    factor = Decimal(scale) if scale else None

    spread = normalize(raw, rule, scale=factor)
    each = _normalize(raw, rule, factor, None)

    assert spread.values.dtype == each.values.dtype
    assert spread.values.name == each.values.name == "price"
    assert spread.values.to_list() == each.values.to_list()
    assert spread.invalid.to_list() == each.invalid.to_list()


def test_mostly_distinct_values_are_normalised_row_by_row(monkeypatch: pytest.MonkeyPatch) -> None:
    spread_calls: list[int] = []
    original = compare._spread
    monkeypatch.setattr(compare, "_spread", lambda *a: spread_calls.append(1) or original(*a))
    distinct = pl.Series("price", [f"{n}.99" for n in range(_DISTINCT_MIN_ROWS * 2)])
    repeated = pl.Series("price", [f"{n % 50}.99" for n in range(_DISTINCT_MIN_ROWS * 2)])
    normalize(distinct, CompareRule(type="money"))
    assert spread_calls == []
    normalize(repeated, CompareRule(type="money"))
    assert spread_calls == [1]


def test_more_distinct_values_than_a_cache_holds_are_normalised_row_by_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A small share of a large column can still be too many values to spread back cheaply."""
    spread_calls: list[int] = []
    original = compare._spread
    monkeypatch.setattr(compare, "_spread", lambda *a: spread_calls.append(1) or original(*a))
    rows = _DISTINCT_MAX * 40
    many = pl.Series("price", [f"{n % (_DISTINCT_MAX * 2)}.99" for n in range(rows)])
    few = pl.Series("price", [f"{n % (_DISTINCT_MAX // 2)}.99" for n in range(rows)])
    normalize(many, CompareRule(type="money"))  # 5% of the rows, twice the cap
    assert spread_calls == []
    normalize(few, CompareRule(type="money"))
    assert spread_calls == [1]


@pytest.mark.parametrize(
    ("compare", "values", "dtype"),
    [
        ("number", [1.5, 2.0, float("nan"), None, float("inf"), -0.0], pl.Float64),
        ("integer", [1, 2, None, 5], pl.Int64),
        ("boolean", [True, False, None], pl.Boolean),
    ],
)
def test_typed_columns_spread_the_same_way(
    compare: str, values: list[object], dtype: pl.DataType
) -> None:
    rng = random.Random(compare)  # noqa: S311 - deterministic test data, not security
    raw = pl.Series("v", [rng.choice(values) for _ in range(_DISTINCT_MIN_ROWS * 2)], dtype=dtype)
    rule = CompareRule(type=compare)
    spread, each = normalize(raw, rule), _normalize(raw, rule, None, None)
    assert spread.values.to_list() == each.values.to_list()
    assert spread.invalid.to_list() == each.invalid.to_list()
