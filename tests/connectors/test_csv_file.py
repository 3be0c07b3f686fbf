"""The csv connector: fast path, bad input as located problems or errors, keys, change logs."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from connectors.base import ROW_COLUMN, ConnectorContext, ResourceSpec
from connectors.csv_file import CsvConnector, CsvOptions
from detector.errors import SourceFatalError
from tests.connectors.conftest import make_spec

STOCK_SPEC = make_spec("stock", ["sku", "location"], {"stock": "qty", "title": "title"})


def connector(tmp_path: Path, **options: object) -> CsvConnector:
    return CsvConnector(
        "shop", CsvOptions.model_validate(options), ConnectorContext(base_dir=tmp_path)
    )


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def rows(data: pl.DataFrame) -> list[tuple[object, ...]]:
    """The frame's rows in row-number order."""
    return data.sort(ROW_COLUMN).rows()


# --- happy path --------------------------------------------------------------------------------


def test_reads_composite_keys_as_text_with_row_numbers(tmp_path: Path) -> None:
    write(
        tmp_path,
        "stock.csv",
        'sku,location,qty,title,unused\nA-1,WH-1,007,"Mug, blue",x\nA-1,WH-2,,"",y\n',
    )
    frame = connector(tmp_path).read(STOCK_SPEC)
    assert frame.data.columns == ["sku", "location", "qty", "title", ROW_COLUMN]
    assert frame.data.schema[ROW_COLUMN] == pl.Int64
    assert rows(frame.data) == [
        ("A-1", "WH-1", "007", "Mug, blue", 2),  # text as written: no number parsing
        ("A-1", "WH-2", None, None, 3),  # empty cells, quoted or not, are None
    ]
    assert frame.problems == []
    assert frame.records_read == 2


def test_directory_resolves_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "data" / "pim").mkdir(parents=True)
    write(tmp_path / "data" / "pim", "stock.csv", "sku,location,qty,title\nA,B,1,t\n")
    frame = connector(tmp_path, directory="data/pim").read(STOCK_SPEC)
    assert frame.data.height == 1


def test_where_paths_are_read_too(tmp_path: Path) -> None:
    write(tmp_path, "stock.csv", "sku,location,qty,title,status\nA,B,1,t,active\n")
    spec = make_spec("stock", "sku", {"stock": "qty"}, where={"status": ("active",)})
    frame = connector(tmp_path).read(spec)
    assert frame.data.columns == ["sku", "qty", "status", ROW_COLUMN]


def test_options_delimiter_quote_and_encoding(tmp_path: Path) -> None:
    content = "sku;location;qty;title\nA;B;1;'Crème; brûlée'\n"
    write(tmp_path, "stock.csv", content.encode("latin-1"))
    frame = connector(tmp_path, delimiter=";", quote_char="'", encoding="latin-1").read(STOCK_SPEC)
    assert frame.data.row(0)[:4] == ("A", "B", "1", "Crème; brûlée")


def test_utf8_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "stock.csv", "\ufeffsku,location,qty,title\nA,B,1,t\n".encode())
    assert connector(tmp_path).read(STOCK_SPEC).data.height == 1


def test_crlf_and_blank_lines(tmp_path: Path) -> None:
    write(tmp_path, "stock.csv", b"sku,location,qty,title\r\nA,B,1,t\r\n\r\nC,D,2,u\r\n\r\n")
    frame = connector(tmp_path).read(STOCK_SPEC)
    assert rows(frame.data) == [("A", "B", "1", "t", 2), ("C", "D", "2", "u", 4)]
    assert frame.problems == []


def test_quoted_newlines_are_read_exactly(tmp_path: Path) -> None:
    write(tmp_path, "stock.csv", 'sku,location,qty,title\nA,B,1,"two\nlines"\nC,D,2,u\n')
    frame = connector(tmp_path).read(STOCK_SPEC)
    assert rows(frame.data) == [("A", "B", "1", "two\nlines", 2), ("C", "D", "2", "u", 3)]


def test_header_only_file_is_an_empty_resource(tmp_path: Path) -> None:
    write(tmp_path, "stock.csv", "sku,location,qty,title\n")
    frame = connector(tmp_path).read(STOCK_SPEC)
    assert frame.data.height == 0
    assert frame.data.columns == ["sku", "location", "qty", "title", ROW_COLUMN]


def test_ten_thousand_rows_match_the_csv_module(tmp_path: Path) -> None:
    rng = random.Random(7)  # noqa: S311 - deterministic test data, not secrets
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["sku", "location", "qty", "title", "price"])
    for n in range(10_000):
        title = rng.choice(["Mug", 'Mug "XL"', "Mug, blue", "", "  spaced  ", "Thé"])
        qty = rng.choice(["", "0", "12", "-3", "1e3"])
        writer.writerow([f"SKU-{n:05d}", f"WH-{n % 3}", qty, title, f"{rng.random() * 100:.2f}"])
    write(tmp_path, "stock.csv", buffer.getvalue())
    expected = [
        (r["sku"], r["location"], r["qty"] or None, r["title"] or None, n)
        for n, r in enumerate(csv.DictReader(io.StringIO(buffer.getvalue())), start=2)
    ]
    frame = connector(tmp_path).read(STOCK_SPEC)
    assert frame.problems == []
    assert frame.data.rows() == expected


# --- bad input ---------------------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(SourceFatalError, match=r"file not found: .*stock\.csv"):
        connector(tmp_path).read(STOCK_SPEC)


def test_missing_directory_is_said(tmp_path: Path) -> None:
    with pytest.raises(SourceFatalError, match="does not exist"):
        connector(tmp_path, directory="nowhere").read(STOCK_SPEC)


@pytest.mark.parametrize("content", [b"", b"\n\n"])
def test_empty_file_is_fatal(tmp_path: Path, content: bytes) -> None:
    write(tmp_path, "stock.csv", content)
    with pytest.raises(SourceFatalError, match=r"stock\.csv is empty"):
        connector(tmp_path).read(STOCK_SPEC)


def test_absent_mapped_column_names_file_column_and_the_available_ones(tmp_path: Path) -> None:
    write(tmp_path, "stock.csv", "sku,warehouse,qty,title\nA,B,1,t\n")
    with pytest.raises(SourceFatalError) as raised:
        connector(tmp_path).read(STOCK_SPEC)
    message = str(raised.value)
    assert "stock.csv" in message
    assert "'location'" in message
    assert "'warehouse'" in message
    assert raised.value.system == "sys"


def test_wrong_delimiter_gets_a_hint(tmp_path: Path) -> None:
    write(tmp_path, "stock.csv", "sku;location;qty;title\nA;B;1;t\n")
    with pytest.raises(SourceFatalError, match="is the delimiter ';'"):
        connector(tmp_path).read(STOCK_SPEC)


def test_short_row_is_a_problem_not_empty_values(tmp_path: Path) -> None:
    """Polars would pad a short row with nulls: a false 'empty' value. It must be skipped."""
    write(tmp_path, "stock.csv", "sku,location,qty,title\nA,B,1,t\nC,D,2\nE,F,3,u\n")
    frame = connector(tmp_path).read(STOCK_SPEC)
    assert rows(frame.data) == [("A", "B", "1", "t", 2), ("E", "F", "3", "u", 4)]
    [problem] = frame.problems
    assert (problem.system, problem.resource, problem.row) == ("sys", "stock.csv", 3)
    assert "expected 4 fields" in str(problem)
    assert "found 3" in str(problem)
    assert frame.records_read == 3


def test_empty_last_cells_are_not_short_rows(tmp_path: Path) -> None:
    write(tmp_path, "stock.csv", 'sku,location,qty,title,notes\nA,B,1,t,\nC,D,2,u,""\nE,F,3\n')
    frame = connector(tmp_path).read(STOCK_SPEC)
    assert rows(frame.data) == [("A", "B", "1", "t", 2), ("C", "D", "2", "u", 3)]
    assert [p.row for p in frame.problems] == [4]
    assert "found 3" in str(frame.problems[0])


def test_short_row_among_requested_keys(tmp_path: Path) -> None:
    write(tmp_path, "stock.csv", "sku,location,qty,title\nA,B,1\nC,D,2,u\n")
    frame = connector(tmp_path).read(STOCK_SPEC, keys=[("A", "B"), ("C", "D")])
    assert rows(frame.data) == [("C", "D", "2", "u", 3)]
    assert [p.row for p in frame.problems] == [2]


def test_long_row_is_a_problem(tmp_path: Path) -> None:
    write(tmp_path, "stock.csv", "sku,location,qty,title\nA,B,1,t,extra\nE,F,3,u\n")
    frame = connector(tmp_path).read(STOCK_SPEC)
    assert rows(frame.data) == [("E", "F", "3", "u", 3)]
    assert [(p.row, "found 5" in str(p)) for p in frame.problems] == [(2, True)]


def test_truncated_last_line_is_a_problem(tmp_path: Path) -> None:
    write(tmp_path, "stock.csv", "sku,location,qty,title\nA,B,1,t\nC,D")
    frame = connector(tmp_path).read(STOCK_SPEC)
    assert frame.data.height == 1
    assert [p.row for p in frame.problems] == [3]


def test_bad_quoting_is_a_located_problem(tmp_path: Path) -> None:
    write(tmp_path, "stock.csv", 'sku,location,qty,title\nA,B,1,"t"x,"y\nC,D,2,u\n')
    frame = connector(tmp_path).read(STOCK_SPEC)
    assert [r[0] for r in frame.data.rows()] == ["C"]
    assert [p.row for p in frame.problems] == [2]


def test_unterminated_quote_fails_the_source_with_its_line(tmp_path: Path) -> None:
    """Everything after an unclosed quote would be swallowed: better fail than miss records."""
    write(tmp_path, "stock.csv", 'sku,location,qty,title\nA,B,1,t\nC,D,2,"open\nE,F,3,u\n')
    with pytest.raises(SourceFatalError, match=r"opened on line 3 is never closed"):
        connector(tmp_path).read(STOCK_SPEC)


def test_problem_after_a_multiline_field_gives_row_and_line(tmp_path: Path) -> None:
    write(tmp_path, "stock.csv", 'sku,location,qty,title\nA,B,1,"x\ny"\nC,D\n')
    frame = connector(tmp_path).read(STOCK_SPEC)
    [problem] = frame.problems
    assert problem.row == 3
    assert "(line 4)" in str(problem)


def test_empty_key_is_a_problem(tmp_path: Path) -> None:
    write(tmp_path, "stock.csv", "sku,location,qty,title\n,B,1,t\nC,,2,u\nE,F,3,v\n")
    frame = connector(tmp_path).read(STOCK_SPEC)
    assert [r[0] for r in frame.data.rows()] == ["E"]
    assert [(p.row, p.field) for p in frame.problems] == [(2, "sku"), (3, "location")]


def test_invalid_utf8_asks_for_the_encoding(tmp_path: Path) -> None:
    write(tmp_path, "stock.csv", b"sku,location,qty,title\nA,B,1,\xe9t\xe9\n")
    with pytest.raises(SourceFatalError, match="encoding"):
        connector(tmp_path).read(STOCK_SPEC)


def test_query_is_refused(tmp_path: Path) -> None:
    spec = make_spec(None, "sku", query="select 1")
    with pytest.raises(SourceFatalError, match="cannot run a query"):
        connector(tmp_path).read(spec)


@pytest.mark.parametrize(
    "options",
    [{"delimiter": ";;"}, {"quote_char": "ab"}, {"encoding": "klingon"}, {"bogus": 1}],
)
def test_invalid_options(options: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CsvOptions.model_validate(options)


# --- keys --------------------------------------------------------------------------------------


def test_keys_filter_composite_keys_exactly(tmp_path: Path) -> None:
    write(
        tmp_path,
        "stock.csv",
        "sku,location,qty,title\nA,1,1,t\nA,2,2,t\nB,1,3,t\nB,2,4,t\n",
    )
    frame = connector(tmp_path).read(STOCK_SPEC, keys=[("A", "2"), ("B", "1"), ("Z", "9")])
    assert rows(frame.data) == [("A", "2", "2", "t", 3), ("B", "1", "3", "t", 4)]
    assert connector(tmp_path).read(STOCK_SPEC, keys=[]).data.height == 0


def test_keys_filter_single_key_on_the_tolerant_path(tmp_path: Path) -> None:
    write(tmp_path, "stock.csv", "sku,qty\nA,1\nB\nC,3\n")
    spec = make_spec("stock", "sku", {"stock": "qty"})
    frame = connector(tmp_path).read(spec, keys=[("C",), ("B",)])
    assert frame.data.rows() == [("C", "3", 4)]


# --- change log --------------------------------------------------------------------------------

CHANGES_SPEC = make_spec(
    "stock", ["sku", "location"], {"stock": "qty"}, changes="stock_changes", system="shop"
)


def test_change_log_with_key_columns(tmp_path: Path) -> None:
    write(
        tmp_path,
        "stock_changes.csv",
        "sku,location,field,changed_at,changed_by,old_value,new_value\n"
        "A,1,qty,2024-05-01T10:00:00Z,erp-sync,1,2\n"
        "A,2,qty,2024-05-01 12:00:00,,,\n"
        "B,1,qty,2024-05-01T14:00:00+02:00,staff,3,\n",
    )
    changes = list(connector(tmp_path).read_changes(CHANGES_SPEC, None))
    assert [(c.key, c.changed_by, c.old_value, c.new_value) for c in changes] == [
        (("A", "1"), "erp-sync", "1", "2"),
        (("A", "2"), None, None, None),
        (("B", "1"), "staff", "3", None),
    ]
    assert changes[1].changed_at == datetime(2024, 5, 1, 12, tzinfo=UTC)  # naive is UTC
    assert changes[2].changed_at.utcoffset() == timedelta(hours=2)


def test_change_log_with_a_joined_key_column_and_since(tmp_path: Path) -> None:
    write(
        tmp_path,
        "stock_changes.csv",
        "key,field,changed_at,changed_by\n"
        "A|1,qty,2024-05-01T10:00:00Z,erp\n"
        "A|2,qty,2024-04-30T23:59:59Z,erp\n"
        "B|1,qty,2024-05-01T11:00:00+01:00,erp\n",
    )
    since = datetime(2024, 5, 1, 10, tzinfo=UTC)
    changes = list(connector(tmp_path).read_changes(CHANGES_SPEC, since))
    assert [c.key for c in changes] == [("A", "1"), ("B", "1")]  # 11:00+01:00 == since


def test_bad_change_rows_are_skipped_and_logged(tmp_path: Path) -> None:
    write(
        tmp_path,
        "stock_changes.csv",
        "key,field,changed_at,changed_by\n"
        "A|1,qty,yesterday,erp\n"
        "A,qty,2024-05-01T10:00:00Z,erp\n"
        "A|1,,2024-05-01T10:00:00Z,erp\n"
        "A|1,qty\n"
        "A|1,qty,2024-05-01T10:00:00Z,erp\n",
    )
    with capture_logs() as logs:
        changes = list(connector(tmp_path).read_changes(CHANGES_SPEC, None))
    assert len(changes) == 1
    invalid = [e for e in logs if e["event"] == "change_row_invalid"]
    assert [e["row"] for e in invalid] == [2, 3, 4, 5]
    assert {e["system"] for e in invalid} == {"shop"}
    assert {e["resource"] for e in invalid} == {"stock_changes.csv"}
    assert "yesterday" in invalid[0]["reason"]
    assert "2 parts" in invalid[1]["reason"]
    summary = [e for e in logs if e["event"] == "change_rows_skipped"]
    assert summary[0]["skipped"] == 4


def test_change_log_missing_columns_is_fatal(tmp_path: Path) -> None:
    write(tmp_path, "stock_changes.csv", "sku,field,when\nA,qty,2024-01-01\n")
    with pytest.raises(SourceFatalError, match="changed_at") as raised:
        list(connector(tmp_path).read_changes(CHANGES_SPEC, None))
    assert "'location'" in str(raised.value)


def test_change_log_missing_file_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(SourceFatalError, match=r"stock_changes\.csv"):
        list(connector(tmp_path).read_changes(CHANGES_SPEC, None))


def test_no_change_log_named_means_no_changes(tmp_path: Path) -> None:
    spec: ResourceSpec = make_spec("stock", "sku")
    assert list(connector(tmp_path).read_changes(spec, datetime.now(tz=UTC))) == []


@pytest.mark.parametrize("suspects", [1, 2, 3, 4, 9])
def test_rows_with_an_empty_last_cell_are_told_apart_however_many(
    tmp_path: Path, suspects: int
) -> None:
    """A few suspect rows are fetched a slice each, more in one pass: the same verdicts."""
    lines = ["sku,location,qty,title"]
    short, blank, empty_last = [], [], []
    for n in range(2, 300):
        if n % 31 == 0 and len(short) + len(blank) + len(empty_last) < suspects:
            kind = (n // 31) % 3
            if kind == 0:
                lines.append(f"S{n},B,1")
                short.append(n)
            elif kind == 1:
                lines.append("")
                blank.append(n)
            else:
                lines.append(f'S{n},B,"1,5",')  # empty last cell after a quoted comma: not short
                empty_last.append(n)
        else:
            lines.append(f"S{n},B,1,t")
    write(tmp_path, "stock.csv", "\n".join(lines) + "\n")
    frame = connector(tmp_path).read(STOCK_SPEC)
    assert [(p.row, "found 3" in str(p)) for p in frame.problems] == [(n, True) for n in short]
    kept = frame.data.get_column(ROW_COLUMN).to_list()
    assert kept == [n for n in range(2, 300) if n not in short and n not in blank]
    quoted = frame.data.filter(pl.col(ROW_COLUMN).is_in(empty_last))
    assert quoted.get_column("qty").to_list() == ["1,5"] * len(empty_last)
