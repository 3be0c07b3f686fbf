"""The golden tables of ``golden.py``, one test per row."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from detector.compare import CompareRule, equal, normalize
from tests.compare.golden import CANONICAL, EMPTY, EQUAL, INVALID, NOT_EQUAL


def _compare(kind: str, owner: str, reader: str, options: dict[str, Any]) -> bool:
    rule = CompareRule(type=kind, **options)
    left = normalize(pl.Series([owner]), rule)
    right = normalize(pl.Series([reader]), rule)
    assert not left.invalid[0], f"owner {owner!r} should be readable as {kind}"
    assert not right.invalid[0], f"reader {reader!r} should be readable as {kind}"
    result = equal(left.values, right.values, rule)
    assert result.dtype == pl.Boolean
    assert result.null_count() == 0
    return bool(result[0])


@pytest.mark.parametrize(("kind", "owner", "reader", "options"), EQUAL)
def test_equal(kind: str, owner: str, reader: str, options: dict[str, Any]) -> None:
    assert _compare(kind, owner, reader, options)


# rel_tolerance is relative to the owner's magnitude, so only the other rows are symmetric.
SYMMETRIC = [case for case in EQUAL if "rel_tolerance" not in case.values[3]]


@pytest.mark.parametrize(("kind", "owner", "reader", "options"), SYMMETRIC)
def test_equal_is_symmetric(kind: str, owner: str, reader: str, options: dict[str, Any]) -> None:
    assert _compare(kind, reader, owner, options)


@pytest.mark.parametrize(("kind", "owner", "reader", "options"), NOT_EQUAL)
def test_not_equal(kind: str, owner: str, reader: str, options: dict[str, Any]) -> None:
    assert not _compare(kind, owner, reader, options)


@pytest.mark.parametrize(("kind", "value", "options"), INVALID)
def test_invalid(kind: str, value: str, options: dict[str, Any]) -> None:
    result = normalize(pl.Series([value]), CompareRule(type=kind, **options))
    assert result.invalid.to_list() == [True]
    assert result.values.to_list() == [None]


@pytest.mark.parametrize(("kind", "value", "options"), EMPTY)
def test_empty_is_null_and_not_invalid(kind: str, value: str, options: dict[str, Any]) -> None:
    result = normalize(pl.Series([value, None], dtype=pl.String), CompareRule(type=kind, **options))
    assert result.values.to_list() == [None, None]
    assert result.invalid.to_list() == [False, False]


@pytest.mark.parametrize(("kind", "value", "options"), CANONICAL)
def test_canonical_value(kind: str, value: str, options: dict[str, Any]) -> None:
    expected = options.pop("expected")
    result = normalize(pl.Series([value]), CompareRule(type=kind, **options))
    assert result.values.to_list() == [expected]
    if isinstance(expected, Decimal):
        assert result.values.dtype == pl.Decimal(38, 9)
