"""The bulk path of ``record_run`` stores and reads exactly what the typed models would.

``Codec.insert`` binds values shared by a statement's rows once and leaves all-NULL columns out;
``Codec.columns_in``/``rows_in`` decode timestamps and flags (in the driver, on SQLite). Each is
compared here with SQLAlchemy Core writing or reading the same rows through the model types.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

from sqlalchemy import insert, select

from detector.storage import Store
from detector.storage.bulk import ROWS_PER_STATEMENT, Codec
from detector.storage.models import DISCREPANCIES
from tests.storage.conftest import T0, Runner, mismatch

NAMES = tuple(c.name for c in DISCREPANCIES.columns)
ELSEWHERE = timezone(timedelta(hours=-5))


def _rows(count: int, run_id: int) -> list[tuple[Any, ...]]:
    """Rows with shared, varying, NULL-everywhere and NULL-somewhere columns."""
    rows = []
    for i in range(count):
        values: dict[str, Any] = dict.fromkeys(NAMES)
        values |= {
            "id": f"d{i:05d}",
            "kind": "value_mismatch",
            "entity": "product",
            "key": f"SKU-{i}" if i % 7 else None,
            "field": ("price", "title")[i % 2],
            "owner": "erp",
            "system": "storefront",
            "severity": "high",
            "status": "open",
            "owner_value": "€ 19.99" if i % 3 else None,
            "system_value": f"{i}.00",
            "changed_at": (T0 - timedelta(minutes=i)).astimezone(ELSEWHERE) if i % 5 == 0 else None,
            "first_seen": T0,
            "last_seen": T0,
            "detected_at": T0,
            "personal": i % 4 == 0,
            "last_run_id": run_id,
        }
        rows.append(tuple(values[name] for name in NAMES))
    return rows


def _stored(store: Store) -> list[tuple[Any, ...]]:
    with store._read("read back") as conn:
        return [tuple(r) for r in conn.execute(select(DISCREPANCIES).order_by(DISCREPANCIES.c.id))]


def _run_id(store: Store) -> int:
    return store.begin_run("full", T0)


def test_bulk_insert_stores_what_core_stores(store_url: str) -> None:
    count = ROWS_PER_STATEMENT * 2 + 3  # full statements and a short last one
    with Store.open(store_url) as bulk:
        rows = _rows(count, _run_id(bulk))
        with bulk._write("bulk insert") as conn:
            Codec(conn).insert(DISCREPANCIES, NAMES, rows)
        via_bulk = _stored(bulk)
        with bulk._write("clear") as conn:
            conn.execute(DISCREPANCIES.delete())
            conn.execute(insert(DISCREPANCIES), [dict(zip(NAMES, r, strict=True)) for r in rows])
        via_core = _stored(bulk)

    assert len(via_bulk) == count
    assert via_bulk == via_core


def test_a_single_row_inserts(store_url: str) -> None:
    """Every value of one row is "shared": the statement still names one varying column."""
    with Store.open(store_url) as store:
        rows = _rows(1, _run_id(store))
        with store._write("insert one") as conn:
            Codec(conn).insert(DISCREPANCIES, NAMES, rows)
        assert [r[0] for r in _stored(store)] == ["d00000"]


def test_bulk_reads_decode_timestamps_and_flags(runner: Runner) -> None:
    runner.run([mismatch("SKU-1", personal=True), mismatch("SKU-2")])
    runner.run([mismatch("SKU-1", personal=True), mismatch("SKU-2")])  # read back, unchanged

    with runner.store._read("read") as conn:
        codec = Codec(conn)
        sql = f"SELECT {codec.columns_in(DISCREPANCIES, NAMES)} FROM discrepancies ORDER BY id"
        rows = codec.rows_in(DISCREPANCIES, NAMES, conn.exec_driver_sql(sql).cursor.fetchall())
    core = _stored(runner.store)

    assert [tuple(r) for r in rows] == core
    first = dict(zip(NAMES, rows[0], strict=True))
    assert first["first_seen"] == T0
    assert first["first_seen"].utcoffset() == timedelta(0)
    assert first["last_seen"] == T0 + runner.step
    assert {type(dict(zip(NAMES, r, strict=True))["personal"]) for r in rows} == {bool}
