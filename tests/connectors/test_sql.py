"""The sql connector on real databases: SQLite always, PostgreSQL when configured.

Tables are created through SQLAlchemy Core; the connector must find them by reflection, bind
every value, render values as text, and fail sources (never crash) on bad URLs and names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from connectors.base import ROW_COLUMN, ConnectorContext, ResourceSpec
from connectors.sql import KEY_CHUNK, SqlConnector, SqlOptions, check_read_only
from detector.errors import SourceFatalError
from tests.connectors.conftest import Database, make_spec

INJECTION = "'; DROP TABLE stock;--"

METADATA = sa.MetaData()
STOCK = sa.Table(
    "stock",
    METADATA,
    sa.Column("sku", sa.String(40), primary_key=True),
    sa.Column("warehouse", sa.Integer, primary_key=True),
    sa.Column("qty", sa.Integer),
    sa.Column("price", sa.Numeric(10, 2)),
    sa.Column("weight", sa.Float),
    sa.Column("active", sa.Boolean),
    sa.Column("status", sa.String(40)),
)
CHANGES = sa.Table(
    "stock_changes",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sku", sa.String(40)),
    sa.Column("warehouse", sa.Integer),
    sa.Column("field", sa.String(40)),
    sa.Column("changed_at", sa.DateTime),
    sa.Column("changed_by", sa.String(40)),
)
ROWS = [
    {"sku": "A", "warehouse": 1, "qty": 12, "price": Decimal("19.90"), "weight": 0.25,
     "active": True, "status": "active"},
    {"sku": "A", "warehouse": 2, "qty": 0, "price": Decimal("19.9"), "weight": None,
     "active": False, "status": " active "},
    {"sku": "B'; --", "warehouse": 7, "qty": None, "price": None, "weight": 2.0,
     "active": None, "status": INJECTION},
]  # fmt: skip
SPEC = make_spec(
    "stock",
    ["sku", "warehouse"],
    {"stock": "qty", "price": "price", "weight": "weight", "active": "active"},
    system="erp",
    changes="stock_changes",
)


@pytest.fixture
def populated(database: Database) -> Database:
    engine = sa.create_engine(database.url)
    try:
        METADATA.create_all(engine)
        with engine.begin() as conn:
            conn.execute(STOCK.insert(), ROWS)
            conn.execute(
                CHANGES.insert(),
                [
                    {"sku": "A", "warehouse": 1, "field": "qty", "changed_by": "erp-sync",
                     "changed_at": datetime(2024, 5, 1, 9)},
                    {"sku": "A", "warehouse": 2, "field": "price", "changed_by": "staff",
                     "changed_at": datetime(2024, 4, 30, 23)},
                ],
            )  # fmt: skip
    finally:
        engine.dispose()
    return database


def connector(database: Database, tmp_path: Path, **options: object) -> SqlConnector:
    return SqlConnector(
        "erp",
        SqlOptions.model_validate({"url": database.url, **options}),
        ConnectorContext(base_dir=tmp_path),
    )


def stock_count(database: Database) -> int:
    engine = sa.create_engine(database.url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(STOCK)).scalar_one())
    finally:
        engine.dispose()


def by_key(data: pl.DataFrame) -> list[tuple[object, ...]]:
    return sorted(data.drop(ROW_COLUMN).rows(), key=lambda r: (str(r[0]), str(r[1])))


# --- reading tables ----------------------------------------------------------------------------


def test_reads_a_table_as_text(populated: Database, tmp_path: Path) -> None:
    with connector(populated, tmp_path) as conn:
        frame = conn.read(SPEC)
    assert frame.data.columns == [*SPEC.paths, ROW_COLUMN]
    assert frame.data.schema[ROW_COLUMN] == pl.Int64
    assert by_key(frame.data) == [
        ("A", "1", "12", "19.90", "0.25", "true"),
        ("A", "2", "0", "19.90", None, "false"),  # Numeric(10, 2) keeps its scale
        ("B'; --", "7", None, None, "2.0", None),
    ]
    assert sorted(frame.data.get_column(ROW_COLUMN).to_list()) == [1, 2, 3]
    assert frame.problems == []


def test_small_chunks_read_everything(populated: Database, tmp_path: Path) -> None:
    frame = connector(populated, tmp_path, chunk_size=2).read(SPEC)
    assert frame.data.height == 3
    assert sorted(frame.data.get_column(ROW_COLUMN).to_list()) == [1, 2, 3]


def test_schema_option(populated: Database, tmp_path: Path) -> None:
    schema = populated.schema or "main"
    frame = connector(populated, tmp_path, schema=schema).read(SPEC)
    assert frame.data.height == 3


def test_relative_sqlite_path_resolves_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'data' / 'erp.db'}")
    METADATA.create_all(engine)
    engine.dispose()
    conn = SqlConnector(
        "erp", SqlOptions(url="sqlite:///data/erp.db"), ConnectorContext(base_dir=tmp_path)
    )
    assert conn.read(SPEC).data.height == 0


def test_unknown_table_lists_the_tables(populated: Database, tmp_path: Path) -> None:
    with pytest.raises(SourceFatalError, match="no table 'stocks'") as raised:
        connector(populated, tmp_path).read(make_spec("stocks", "sku"))
    assert "'stock', 'stock_changes'" in str(raised.value)


def test_table_name_is_matched_case_insensitively_when_unambiguous(
    populated: Database, tmp_path: Path
) -> None:
    assert connector(populated, tmp_path).read(make_spec("STOCK", "sku")).data.height == 3


def test_absent_column_is_named(populated: Database, tmp_path: Path) -> None:
    spec = make_spec("stock", "sku", {"price": "list_price"})
    with pytest.raises(SourceFatalError, match=r"table 'stock' has no column 'list_price'; it has"):
        connector(populated, tmp_path).read(spec)


def test_empty_key_is_a_problem(database: Database, tmp_path: Path) -> None:
    engine = sa.create_engine(database.url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE items (code VARCHAR(10), qty INTEGER)"))
        conn.execute(sa.text("INSERT INTO items VALUES ('A', 1), (NULL, 2), ('', 3)"))
    engine.dispose()
    frame = connector(database, tmp_path).read(make_spec("items", "code", {"stock": "qty"}))
    assert frame.data.select("code", "qty").rows() == [("A", "1")]
    assert [p.field for p in frame.problems] == ["code", "code"]
    assert frame.records_read == 3


def test_sqlite_dates_are_read_as_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (code TEXT, born DATE, seen DATETIME)"))
        conn.execute(sa.text("INSERT INTO t VALUES ('A', '2024-05-01', '2024-05-01 10:00:00')"))
        conn.execute(sa.text("INSERT INTO t VALUES ('B', 'not a date', 'garbage')"))
    engine.dispose()
    conn_ = connector(Database(url=url, dialect="sqlite"), tmp_path)
    frame = conn_.read(make_spec("t", "code", {"born": "born", "seen": "seen"}))
    assert frame.data.drop(ROW_COLUMN).rows() == [
        ("A", "2024-05-01", "2024-05-01 10:00:00"),
        ("B", "not a date", "garbage"),
    ]


# --- injection ---------------------------------------------------------------------------------


def test_injection_as_table_name_is_just_an_unknown_table(
    populated: Database, tmp_path: Path
) -> None:
    for name in (INJECTION, f"stock{INJECTION}", 'stock"; DROP TABLE stock;--'):
        with pytest.raises(SourceFatalError, match="no table"):
            connector(populated, tmp_path).read(make_spec(name, "sku"))
    assert stock_count(populated) == 3


def test_injection_as_where_value_is_data(populated: Database, tmp_path: Path) -> None:
    spec = make_spec("stock", ["sku", "warehouse"], {"q": "qty"}, where={"status": (INJECTION,)})
    frame = connector(populated, tmp_path).read(spec)
    assert INJECTION in frame.data.get_column("status").to_list()
    assert stock_count(populated) == 3


def test_injection_as_key_value_is_bound(populated: Database, tmp_path: Path) -> None:
    conn = connector(populated, tmp_path)
    assert conn.read(SPEC, keys=[(INJECTION, "1")]).data.height == 0
    assert by_key(conn.read(SPEC, keys=[("B'; --", "7")]).data)[0][0] == "B'; --"
    assert stock_count(populated) == 3


def test_injection_in_a_query_is_refused(populated: Database, tmp_path: Path) -> None:
    spec = make_spec(None, "sku", query=f"SELECT sku FROM stock WHERE sku = ''{INJECTION}")
    with pytest.raises(SourceFatalError, match="refused"):
        connector(populated, tmp_path).read(spec)
    assert stock_count(populated) == 3


# --- keys --------------------------------------------------------------------------------------


def test_keys_are_fetched_exactly_in_chunks(populated: Database, tmp_path: Path) -> None:
    conn = connector(populated, tmp_path)
    noise = [(f"X{n}", str(n)) for n in range(KEY_CHUNK * 2)]
    frame = conn.read(SPEC, keys=[*noise, ("A", "2"), ("B'; --", "7")])
    assert [r[:2] for r in by_key(frame.data)] == [("A", "2"), ("B'; --", "7")]
    assert conn.read(SPEC, keys=[]).data.height == 0


def test_integer_keys_compare_as_text(populated: Database, tmp_path: Path) -> None:
    """'01' is not how the database renders warehouse 1, so it must not match it."""
    conn = connector(populated, tmp_path)
    assert conn.read(SPEC, keys=[("A", "01"), ("A", "x")]).data.height == 0
    assert conn.read(SPEC, keys=[("A", "1")]).data.height == 1


def test_keys_on_a_column_that_cannot_be_bound_exactly(database: Database, tmp_path: Path) -> None:
    engine = sa.create_engine(database.url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE prices (amount NUMERIC(10, 2), label VARCHAR(10))"))
        conn.execute(sa.text("INSERT INTO prices VALUES (19.90, 'a'), (5, 'b')"))
    engine.dispose()
    spec = make_spec("prices", "amount", {"label": "label"})
    frame = connector(database, tmp_path).read(spec, keys=[("19.90",), ("19.9",)])
    assert frame.data.drop(ROW_COLUMN).rows() == [("19.90", "a")]


# --- queries -----------------------------------------------------------------------------------


def test_read_only_query(populated: Database, tmp_path: Path) -> None:
    query = """
        -- only what is for sale
        WITH sale AS (SELECT sku, warehouse, qty FROM stock WHERE status = 'active')
        SELECT sku, warehouse, qty, 'drop; table' AS note FROM sale;
    """
    spec = make_spec(None, ["sku", "warehouse"], {"stock": "qty", "note": "note"}, query=query)
    conn = connector(populated, tmp_path)
    frame = conn.read(spec)
    assert frame.data.drop(ROW_COLUMN).rows() == [("A", "1", "12", "drop; table")]
    assert conn.read(spec, keys=[("A", "1")]).data.height == 1
    assert conn.read(spec, keys=[("A", "2")]).data.height == 0


def test_query_missing_column_is_named(populated: Database, tmp_path: Path) -> None:
    spec = make_spec(None, "sku", {"stock": "quantity"}, query="SELECT sku, qty FROM stock")
    with pytest.raises(SourceFatalError, match=r"query's result has no column 'quantity'"):
        connector(populated, tmp_path).read(spec)


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM stock",
        "SELECT 1; DELETE FROM stock",
        "WITH gone AS (DELETE FROM stock RETURNING *) SELECT * FROM gone",
        "SELECT * INTO copy FROM stock",
        "UPDATE stock SET qty = 0",
        "SELECT 'unterminated",
        "/* SELECT */ DROP TABLE stock",
        "PRAGMA writable_schema = 1",
        "SELECT * FROM stock FOR UPDATE",
    ],
)
def test_queries_that_could_write_are_refused(query: str) -> None:
    with pytest.raises(ValueError, match=r"must|unterminated"):
        check_read_only(query)


@pytest.mark.parametrize(
    "query",
    [
        "select sku from stock",
        "  (SELECT sku FROM stock) ; ",
        "SELECT 'update' AS word, \"delete\" FROM stock -- drop table\n",
        "WITH x AS (SELECT 1 AS one) SELECT one FROM x",
        "SELECT updated_at, created_by FROM stock",
    ],
)
def test_read_only_queries_pass(query: str) -> None:
    assert check_read_only(query) == query.strip().removesuffix(";").rstrip()


def test_sessions_are_read_only(populated: Database, tmp_path: Path) -> None:
    """Defence in depth: even a statement that slipped through could not write."""
    conn = connector(populated, tmp_path)
    with conn._connect(SPEC) as session, pytest.raises(sa.exc.DBAPIError):
        session.execute(sa.text("DELETE FROM stock"))
    conn.close()
    assert stock_count(populated) == 3


# --- failures ----------------------------------------------------------------------------------


def test_missing_sqlite_file_is_fatal_and_not_created(tmp_path: Path) -> None:
    conn = SqlConnector(
        "erp", SqlOptions(url="sqlite:///data/none.db"), ConnectorContext(base_dir=tmp_path)
    )
    with pytest.raises(SourceFatalError, match=r"SQLite database file not found: .*none\.db"):
        conn.read(SPEC)
    assert not (tmp_path / "data" / "none.db").exists()


@pytest.mark.parametrize("url", ["not a url", "nosuchdialect://u:pw@h/db"])
def test_bad_url_is_fatal(tmp_path: Path, url: str) -> None:
    conn = SqlConnector("erp", SqlOptions(url=url), ConnectorContext(base_dir=tmp_path))
    with pytest.raises(SourceFatalError) as raised:
        conn.read(SPEC)
    assert "pw" not in str(raised.value)


def test_unreachable_database_hides_the_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://fw:s3cr3t-pw@127.0.0.1:1/shop?connect_timeout=2"
    conn = SqlConnector("erp", SqlOptions(url=url), ConnectorContext(base_dir=tmp_path))
    with pytest.raises(SourceFatalError, match="cannot connect") as raised:
        conn.read(SPEC)
    assert "s3cr3t-pw" not in str(raised.value)
    assert raised.value.url is not None
    assert "***" in raised.value.url
    conn.close()
    conn.close()


def test_needs_a_resource_or_a_query(populated: Database, tmp_path: Path) -> None:
    with pytest.raises(SourceFatalError, match="needs a resource"):
        connector(populated, tmp_path).read(make_spec(None, "sku"))


# --- change log --------------------------------------------------------------------------------


def test_changes_table_since(populated: Database, tmp_path: Path) -> None:
    conn = connector(populated, tmp_path)
    changes = list(conn.read_changes(SPEC, datetime(2024, 5, 1, tzinfo=UTC)))
    assert [(c.key, c.field, c.changed_by, c.changed_at) for c in changes] == [
        (("A", "1"), "qty", "erp-sync", datetime(2024, 5, 1, 9, tzinfo=UTC))
    ]
    assert len(list(conn.read_changes(SPEC, None))) == 2


def test_changes_table_with_a_key_column_and_text_timestamps(
    database: Database, tmp_path: Path
) -> None:
    engine = sa.create_engine(database.url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE log (key VARCHAR(20), field VARCHAR(20),"
                " changed_at VARCHAR(40), changed_by VARCHAR(20))"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO log VALUES ('A|1', 'qty', '2024-05-01T10:00:00+02:00', 'x'),"
                " ('A|2', 'qty', 'bad', 'y'), ('A', 'qty', '2024-05-01', 'z')"
            )
        )
    engine.dispose()
    spec = make_spec("stock", ["sku", "warehouse"], changes="log")
    changes = list(connector(database, tmp_path).read_changes(spec, None))
    assert [(c.key, c.changed_by) for c in changes] == [(("A", "1"), "x")]


def test_changes_table_missing_columns(populated: Database, tmp_path: Path) -> None:
    spec: ResourceSpec = make_spec("stock", "sku", changes="stock")
    with pytest.raises(SourceFatalError, match="lacks 'field'; 'changed_at'"):
        list(connector(populated, tmp_path).read_changes(spec, None))
