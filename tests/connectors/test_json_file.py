"""The json connector: arrays and JSON Lines, nested paths, bad input, keys, change logs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from connectors.base import ROW_COLUMN, ConnectorContext
from connectors.json_file import JsonConnector, JsonOptions
from detector.errors import SourceFatalError
from tests.connectors.conftest import make_spec

SPEC = make_spec(
    "products",
    ["sku", "location.code"],
    {"title": "content.name", "price": "price", "image": "images[0].src", "tags": "tags"},
    system="pim",
)


def connector(tmp_path: Path) -> JsonConnector:
    return JsonConnector("pim", JsonOptions(), ConnectorContext(base_dir=tmp_path))


def write(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")


def test_array_with_nested_paths_and_composite_keys(tmp_path: Path) -> None:
    write(
        tmp_path,
        "products.json",
        """[
          {"sku": "A", "location": {"code": "WH-1"}, "content": {"name": "Mug"},
           "price": 19.90, "images": [{"src": "a.png"}], "tags": ["x", "y"]},
          {"sku": "A", "location": {"code": "WH-2"}, "content": {"name": null},
           "price": 20, "images": [], "tags": {"b": 1, "a": true}},
          {"sku": "B", "location": {"code": 7}, "price": "5.00", "active": false}
        ]""",
    )
    frame = connector(tmp_path).read(SPEC)
    assert frame.data.columns == [*SPEC.paths, ROW_COLUMN]
    assert frame.data.rows() == [
        ("A", "WH-1", "Mug", "19.90", "a.png", '["x","y"]', 1),  # numbers keep their text
        ("A", "WH-2", None, "20", None, '{"a":true,"b":1}', 2),
        ("B", "7", None, "5.00", None, None, 3),
    ]
    assert frame.problems == []


def test_json_lines_with_bad_and_blank_lines(tmp_path: Path) -> None:
    write(
        tmp_path,
        "products.jsonl",
        '{"sku": "A", "location": {"code": "1"}, "price": 1.50}\n'
        "\n"
        '{"sku": "B", "location": {"code": "1"}, "price": 2\n'
        '["not", "an", "object"]\n'
        '{"location": {"code": "1"}, "price": 3}\n'
        '{"sku": "C", "location": {"code": "2"}, "price": 4}\n',
    )
    frame = connector(tmp_path).read(SPEC)
    assert [(r[0], r[3], r[-1]) for r in frame.data.rows()] == [("A", "1.50", 1), ("C", "4", 6)]
    located = [(p.row, p.resource, p.field) for p in frame.problems]
    assert located == [
        (3, "products.jsonl", None),
        (4, "products.jsonl", None),
        (5, "products.jsonl", "sku"),
    ]
    assert "not valid JSON" in str(frame.problems[0])
    assert "list, not an object" in str(frame.problems[1])
    assert frame.records_read == 5  # the blank line is not a record


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ('{"products": []}', "dict"),
        ('"products"', "str"),
        ("[1, 2, 3]", "array of non-objects"),
    ],
)
def test_not_an_array_of_objects_is_fatal(tmp_path: Path, text: str, found: str) -> None:
    write(tmp_path, "products.json", text)
    with pytest.raises(SourceFatalError, match="is not a JSON array of objects") as raised:
        connector(tmp_path).read(SPEC)
    assert "products.json" in str(raised.value)
    assert found in str(raised.value)


def test_an_element_that_is_not_an_object_is_a_problem(tmp_path: Path) -> None:
    write(tmp_path, "products.json", '[{"sku": "A", "location": {"code": "1"}}, 42]')
    frame = connector(tmp_path).read(SPEC)
    assert frame.data.height == 1
    assert [(p.row, p.resource) for p in frame.problems] == [(2, "products.json")]


def test_invalid_json_is_fatal_with_its_position(tmp_path: Path) -> None:
    write(tmp_path, "products.json", '[\n {"sku": "A",\n')
    with pytest.raises(SourceFatalError, match=r"products\.json is not valid JSON: .* line 3"):
        connector(tmp_path).read(SPEC)


@pytest.mark.parametrize("text", ["", "  \n"])
def test_empty_file_is_fatal(tmp_path: Path, text: str) -> None:
    write(tmp_path, "products.json", text)
    with pytest.raises(SourceFatalError, match="is empty"):
        connector(tmp_path).read(SPEC)


def test_empty_array_is_an_empty_resource(tmp_path: Path) -> None:
    write(tmp_path, "products.json", "[]")
    frame = connector(tmp_path).read(SPEC)
    assert frame.data.height == 0
    assert frame.data.columns == [*SPEC.paths, ROW_COLUMN]


def test_missing_file_names_both_candidates(tmp_path: Path) -> None:
    with pytest.raises(SourceFatalError, match=r"products\.json or .*products\.jsonl"):
        connector(tmp_path).read(SPEC)


def test_both_json_and_jsonl_is_ambiguous(tmp_path: Path) -> None:
    write(tmp_path, "products.json", "[]")
    write(tmp_path, "products.jsonl", "")
    with pytest.raises(SourceFatalError, match="keep only one"):
        connector(tmp_path).read(SPEC)


def test_invalid_utf8_is_fatal(tmp_path: Path) -> None:
    (tmp_path / "products.json").write_bytes(b'[{"sku": "\xff"}]')
    with pytest.raises(SourceFatalError, match="UTF-8"):
        connector(tmp_path).read(SPEC)


def test_absent_key_is_a_problem_naming_the_field(tmp_path: Path) -> None:
    write(
        tmp_path,
        "products.json",
        json.dumps([{"sku": "A", "location": {}}, {"sku": "", "location": {"code": "1"}}]),
    )
    frame = connector(tmp_path).read(SPEC)
    assert frame.data.height == 0
    assert [(p.row, p.field) for p in frame.problems] == [(1, "location.code"), (2, "sku")]


def test_keys_filter(tmp_path: Path) -> None:
    records = [{"sku": s, "location": {"code": c}} for s in "AB" for c in "12"]
    write(tmp_path, "products.json", json.dumps(records))
    frame = connector(tmp_path).read(SPEC, keys=[("B", "1"), ("A", "2"), ("C", "1")])
    assert sorted(frame.data.select("sku", "location.code").rows()) == [("A", "2"), ("B", "1")]
    assert connector(tmp_path).read(SPEC, keys=[]).data.height == 0


CHANGES_SPEC = make_spec("products", "sku", {"title": "content.name"}, changes="changes")


def test_change_log_as_json_lines(tmp_path: Path) -> None:
    write(
        tmp_path,
        "changes.jsonl",
        '{"sku": "A", "field": "content.name", "changed_at": "2024-05-01T10:00:00Z",'
        ' "changed_by": "pim-user", "old_value": "Mg", "new_value": "Mug"}\n'
        "not json\n"
        '{"key": "B", "field": "title", "changed_at": "2024-05-02T10:00:00"}\n'
        '{"key": "C", "field": "title", "changed_at": "2024-04-02T10:00:00"}\n',
    )
    with capture_logs() as logs:
        changes = list(
            connector(tmp_path).read_changes(CHANGES_SPEC, datetime(2024, 5, 1, tzinfo=UTC))
        )
    assert [(c.key, c.field, c.changed_by, c.old_value, c.new_value) for c in changes] == [
        (("A",), "content.name", "pim-user", "Mg", "Mug"),
        (("B",), "title", None, None, None),
    ]
    assert changes[1].changed_at == datetime(2024, 5, 2, 10, tzinfo=UTC)
    [invalid] = [e for e in logs if e["event"] == "change_row_invalid"]
    assert invalid["row"] == 2
    assert "not valid JSON" in invalid["reason"]


def test_change_log_as_an_array_with_composite_keys(tmp_path: Path) -> None:
    spec = make_spec("products", ["sku", "location.code"], changes="changes")
    write(
        tmp_path,
        "changes.json",
        json.dumps(
            [
                {"key": "A|1", "field": "qty", "changed_at": "2024-05-01T10:00:00Z"},
                {"sku": "A", "location": {"code": 2}, "field": "qty", "changed_at": "2024-05-01"},
            ]
        ),
    )
    changes = list(connector(tmp_path).read_changes(spec, None))
    assert [c.key for c in changes] == [("A", "1"), ("A", "2")]


def test_change_log_not_an_array_is_fatal(tmp_path: Path) -> None:
    write(tmp_path, "changes.json", '{"changes": []}')
    with pytest.raises(SourceFatalError, match="not a JSON array of objects"):
        list(connector(tmp_path).read_changes(CHANGES_SPEC, None))
