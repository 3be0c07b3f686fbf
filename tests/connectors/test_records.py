"""Rendering values as text and filtering by keys, shared by every connector."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.base import FieldSpec, ResourceSpec
from connectors.records import extract_path, filter_keys, frame_from_records, render_value

SPEC = ResourceSpec(
    system="s",
    entity="e",
    resource="r",
    key=(FieldSpec("key.0", "sku"), FieldSpec("key.1", "loc")),
    fields=(FieldSpec("title", "content.name"), FieldSpec("first", "images[0].src")),
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        ("x", "x"),
        (True, "true"),
        (False, "false"),
        (12, "12"),
        (Decimal("19.90"), "19.90"),
        (19.99, "19.99"),
        (12.0, "12.0"),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        ({"b": 1, "a": [1, 2]}, '{"a":[1,2],"b":1}'),
    ],
)
def test_render_value(value: object, text: str | None) -> None:
    assert render_value(value) == text


def test_paths_walk_objects_and_lists_and_accept_flat_keys() -> None:
    record = {
        "content": {"name": "Boot"},
        "images": [{"src": "a.png"}],
        "values.name[en_US]": "Flat",
    }
    assert extract_path(record, "content.name") == "Boot"
    assert extract_path(record, "images[0].src") == "a.png"
    assert extract_path(record, "images[3].src") is None
    assert extract_path(record, "values.name[en_US]") == "Flat"
    assert extract_path(record, "content.name.more") is None


def test_records_without_a_key_are_problems_not_rows() -> None:
    frame = frame_from_records(
        [{"sku": "A", "loc": "1", "content": {"name": "Boot"}}, {"sku": "", "loc": "1"}, "junk"],
        SPEC,
    )
    assert frame.data.height == 1
    assert [p.row for p in frame.problems] == [2, 3]
    assert "sku" in str(frame.problems[0])


def test_filter_keys_checks_the_key_width() -> None:
    frame = frame_from_records([{"sku": "A", "loc": "1"}, {"sku": "B", "loc": "1"}], SPEC)
    assert filter_keys(frame, SPEC, [("B", "1")]).data.get_column("sku").to_list() == ["B"]
    assert filter_keys(frame, SPEC, []).data.height == 0
    with pytest.raises(ValueError, match="has 1 parts"):
        filter_keys(frame, SPEC, [("A",)])
