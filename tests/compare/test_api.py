"""The public surface of ``detector.compare`` and the behaviour around the golden tables:
rule validation, null semantics, scale, value_map, column-wide correctness."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
import pytest

from detector import compare
from detector.compare import (
    COMPARE_TYPES,
    PERSONAL_TYPES,
    TOLERANCE_TYPES,
    CompareRule,
    Normalized,
    comparator_names,
    equal,
    normalize,
)


def test_exported_members() -> None:
    assert set(compare.__all__) == {
        "COMPARE_TYPES",
        "PERSONAL_TYPES",
        "TOLERANCE_TYPES",
        "Comparator",
        "CompareRule",
        "Normalized",
        "comparator_names",
        "equal",
        "finish",
        "normalize",
        "prepare",
        "staged",
    }
    for name in compare.__all__:
        assert hasattr(compare, name)


def test_type_sets() -> None:
    assert comparator_names() == sorted(COMPARE_TYPES)
    assert set(comparator_names()) == {
        "exact",
        "text",
        "number",
        "money",
        "integer",
        "boolean",
        "email",
        "phone",
        "timestamp",
        "html",
        "set",
    }
    assert {"number", "money", "timestamp"} == TOLERANCE_TYPES
    assert {"email", "phone"} == PERSONAL_TYPES


# --- CompareRule ---------------------------------------------------------------------------


def test_rule_defaults() -> None:
    rule = CompareRule()
    assert rule.type == "exact"
    assert rule.tolerance is None
    assert CompareRule("money").absolute_tolerance == Decimal("0.005")
    assert CompareRule("number").absolute_tolerance == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"type": "float"}, "unknown compare type 'float'"),
        ({"type": "text", "tolerance": Decimal(1)}, "tolerance does not apply"),
        ({"type": "timestamp", "rel_tolerance": Decimal("0.1")}, "rel_tolerance does not apply"),
        ({"type": "money", "tolerance": Decimal(-1)}, ">= 0"),
        ({"type": "money", "tolerance": "abc"}, "must be a number"),
        ({"type": "money", "tolerance": float("nan")}, "finite"),
        ({"type": "number", "casefold": True}, "casefold does not apply"),
        ({"type": "text", "default_region": "US"}, "default_region does not apply"),
        ({"type": "phone", "default_region": "XX"}, "unknown default_region 'XX'"),
    ],
)
def test_rule_rejects_what_cannot_apply(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CompareRule(**options)  # type: ignore[arg-type]


def test_rule_reads_loader_numbers_exactly() -> None:
    rule = CompareRule("money", tolerance=0.1, rel_tolerance="0.01")  # type: ignore[arg-type]
    assert rule.tolerance == Decimal("0.1")
    assert rule.rel_tolerance == Decimal("0.01")
    assert CompareRule("phone", default_region=" us ").default_region == "US"


def test_rule_is_frozen_and_hashable() -> None:
    rule = CompareRule("text", casefold=True)
    assert rule == CompareRule("text", casefold=True)
    assert len({rule, CompareRule("text", casefold=True)}) == 1


# --- equal -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(COMPARE_TYPES))
def test_null_semantics(kind: str) -> None:
    rule = CompareRule(kind)
    sample = {
        "number": "1",
        "money": "1",
        "integer": "1",
        "boolean": "true",
        "email": "a@b.c",
        "phone": "+15550100123",
        "timestamp": "2026-11-27T09:00:00Z",
    }.get(kind, "x")
    owner = normalize(pl.Series([None, None, sample, sample], dtype=pl.String), rule).values
    reader = normalize(pl.Series([None, sample, None, sample], dtype=pl.String), rule).values
    result = equal(owner, reader, rule)
    assert result.to_list() == [True, False, False, True]
    assert result.dtype == pl.Boolean


def test_equal_refuses_different_lengths() -> None:
    rule = CompareRule("text")
    with pytest.raises(ValueError, match="cannot compare 2 owner values with 1 reader"):
        equal(pl.Series(["a", "b"]), pl.Series(["a"]), rule)


def test_empty_reader_against_owner_value_is_not_equal() -> None:
    rule = CompareRule("money")
    owner = normalize(pl.Series(["19.99"]), rule).values
    reader = normalize(pl.Series(["  "]), rule).values
    assert equal(owner, reader, rule).to_list() == [False]


def test_exact_keeps_whitespace_as_a_value() -> None:
    result = normalize(pl.Series([" ", "", None], dtype=pl.String), CompareRule("exact"))
    assert result.values.to_list() == [" ", None, None]


def test_rel_tolerance_is_relative_to_the_owner() -> None:
    rule = CompareRule("number", rel_tolerance=Decimal("0.1"))
    owner = normalize(pl.Series(["100", "110"]), rule).values
    reader = normalize(pl.Series(["110", "100"]), rule).values
    # |diff| = 10: within 10% of 100, and within 10% of 110 (11).
    assert equal(owner, reader, rule).to_list() == [True, True]
    owner = normalize(pl.Series(["90"]), rule).values
    reader = normalize(pl.Series(["100"]), rule).values
    assert equal(owner, reader, rule).to_list() == [False]  # 10 > 9


def test_huge_values_do_not_overflow() -> None:
    rule = CompareRule("number", tolerance=Decimal("1e40"), rel_tolerance=Decimal(1000))
    big = normalize(
        pl.Series(["999999999999999999999999999", "-999999999999999999999999999"]), rule
    )
    assert big.invalid.to_list() == [False, False]
    assert equal(big.values, big.values.reverse(), rule).to_list() == [True, True]


# --- scale and value_map ----------------------------------------------------------------


def test_scale_cents_to_units() -> None:
    rule = CompareRule("money")
    owner = normalize(pl.Series(["19.99", "5"]), rule).values
    reader = normalize(pl.Series(["1999", "499"]), rule, scale=Decimal("0.01")).values
    assert reader.to_list() == [Decimal("19.99"), Decimal("4.99")]
    assert equal(owner, reader, rule).to_list() == [True, False]


def test_scale_grams_to_kilograms() -> None:
    rule = CompareRule("number")
    result = normalize(pl.Series(["1500", "abc"]), rule, scale=Decimal("0.001"))
    assert result.values.to_list() == [Decimal("1.5"), None]
    assert result.invalid.to_list() == [False, True]


def test_scale_applies_after_integer_check() -> None:
    rule = CompareRule("integer")
    result = normalize(pl.Series(["12", "12.5"]), rule, scale=Decimal(1000))
    assert result.values.to_list() == [Decimal(12000), None]
    assert result.invalid.to_list() == [False, True]


def test_scale_out_of_range_is_invalid() -> None:
    result = normalize(pl.Series(["1e26"]), CompareRule("number"), scale=Decimal(1000))
    assert result.invalid.to_list() == [True]


def test_scale_is_ignored_by_non_numeric_types() -> None:
    result = normalize(pl.Series(["1999"]), CompareRule("text"), scale=Decimal("0.01"))
    assert result.values.to_list() == ["1999"]


def test_value_map_translates_trimmed_values_first() -> None:
    rule = CompareRule("text")
    statuses = {"fulfilled": "shipped", "canceled": "cancelled"}
    result = normalize(
        pl.Series([" fulfilled ", "canceled", "pending", None], dtype=pl.String),
        rule,
        value_map=statuses,
    )
    assert result.values.to_list() == ["shipped", "cancelled", "pending", None]


def test_value_map_feeds_the_type() -> None:
    flags = {"Active": "true", "Archived": "false"}
    result = normalize(
        pl.Series(["Active", "Archived", "x"]), CompareRule("boolean"), value_map=flags
    )
    assert result.values.to_list() == [True, False, None]
    assert result.invalid.to_list() == [False, False, True]


def test_value_map_leaves_unmapped_exact_values_untouched() -> None:
    result = normalize(
        pl.Series([" WH-1 ", "store-2"]), CompareRule("exact"), value_map={"store-2": "WH-2"}
    )
    assert result.values.to_list() == [" WH-1 ", "WH-2"]


def test_value_map_can_map_to_empty() -> None:
    result = normalize(pl.Series(["n/a", "5"]), CompareRule("number"), value_map={"n/a": ""})
    assert result.values.to_list() == [None, Decimal(5)]
    assert result.invalid.to_list() == [False, False]


# --- whole columns ---------------------------------------------------------------------


def test_non_string_input_is_read_as_text() -> None:
    result = normalize(pl.Series([12, None]), CompareRule("integer"))
    assert result.values.to_list() == [Decimal(12), None]


def test_timestamp_values_are_utc_datetimes() -> None:
    result = normalize(pl.Series(["2026-11-27T10:00:00+01:00"]), CompareRule("timestamp"))
    assert result.values.dtype == pl.Datetime("us", "UTC")
    assert result.values.to_list() == [datetime(2026, 11, 27, 9, tzinfo=UTC)]


def test_result_shape_and_names() -> None:
    raw = pl.Series("price", ["1", "x", None, " "], dtype=pl.String)
    result = normalize(raw, CompareRule("number"))
    assert isinstance(result, Normalized)
    assert result.values.name == result.invalid.name == "price"
    assert result.values.len() == result.invalid.len() == 4
    assert result.invalid.dtype == pl.Boolean
    assert result.invalid.null_count() == 0


ROWS = 10_000


def _column(kind: str, i: int) -> tuple[str | None, str | None, bool]:
    """Owner text, reader text and whether they are equal for row i of a mixed column.

    Phases: 0 and 1 are equal spellings, 2 a real difference, 3 an empty reader, 4 both null.
    """
    phase = i % 5
    if phase == 4:
        return None, None, True
    readers: dict[int, str]
    if kind == "money":
        owner = f"{i}.{i % 100:02d}"
        readers = {0: owner + "0", 1: "$" + owner, 2: f"{i + 1}.{i % 100:02d}", 3: ""}
    elif kind == "phone":
        national = f"555{i:07d}"
        owner = f"+1 {national[:3]} {national[3:6]} {national[6:]}"
        readers = {0: national, 1: "1-" + national, 2: f"555{(i + 1) % 10**7:07d}", 3: " "}
    elif kind == "timestamp":
        owner = f"2026-01-01T{i % 24:02d}:{i % 60:02d}:00Z"
        # One hour later at +01:00 is the same instant, except across midnight (hour 23).
        shifted = f"2026-01-01T{(i % 24 + 1) % 24:02d}:{i % 60:02d}:00+01:00"
        readers = {0: shifted, 1: owner.replace("T", " "), 2: owner.replace(":00Z", ":01Z")}
        readers[3] = ""
        if phase == 0 and i % 24 == 23:
            return owner, readers[phase], False
    elif kind == "set":
        owner = f"t{i};t{i + 1};shared"
        readers = {0: f"shared|t{i + 1}|t{i}", 1: f'["t{i}","shared","t{i + 1}","t{i}"]'}
        readers.update({2: f"t{i};shared", 3: ""})
    else:
        owner = f"<p>Item&nbsp;{i}</p>"
        readers = {0: f"Item {i}", 1: f"<div><b>Item</b> {i}</div>", 2: f"Item {i + 1}"}
        readers[3] = "<p></p>"
    return owner, readers[phase], phase in (0, 1)


@pytest.mark.parametrize("kind", ["money", "phone", "timestamp", "set", "html"])
def test_ten_thousand_rows_keep_row_alignment(kind: str) -> None:
    """Column-wide paths (vectorised, or per distinct value) must keep every row in place."""
    rows = [_column(kind, i) for i in range(ROWS)]
    rule = CompareRule(kind, default_region="US") if kind == "phone" else CompareRule(kind)
    owner = normalize(pl.Series([r[0] for r in rows], dtype=pl.String), rule)
    reader = normalize(pl.Series([r[1] for r in rows], dtype=pl.String), rule)
    assert not owner.invalid.any()
    assert not reader.invalid.any()
    result = equal(owner.values, reader.values, rule)
    assert result.len() == ROWS
    assert result.to_list() == [r[2] for r in rows]
