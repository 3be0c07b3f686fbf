"""Canonical frames: keys held more than once are split off, never value-compared."""

from __future__ import annotations

import random

import polars as pl

from connectors.base import ROW_COLUMN, FieldSpec, ResourceSpec, SourceFrame
from detector.engine.mapping import KEY, UNIQUE, _repeated, canonical_frame


def test_repeated_marks_exactly_what_is_duplicated_marks() -> None:
    rng = random.Random(3)  # noqa: S311 - deterministic test data, not security
    for size in (0, 1, 2, 3, 10, 1000):
        for _ in range(30):
            hashes = pl.Series([rng.randint(0, size) for _ in range(size)], dtype=pl.UInt64)
            assert _repeated(hashes).to_list() == hashes.is_duplicated().to_list()


def test_a_key_held_twice_takes_part_in_presence_checks_only() -> None:
    spec = ResourceSpec(
        system="erp",
        entity="product",
        resource="products",
        key=(FieldSpec(name="sku", path="sku"),),
        fields=(FieldSpec(name="price", path="price"),),
    )
    data = pl.DataFrame(
        {"sku": ["A", "B", "A", "C"], "price": ["1", "2", "3", "4"], ROW_COLUMN: [2, 3, 4, 5]}
    )
    frame = canonical_frame(SourceFrame(data=data), spec, "exact")
    records = frame.records.sort(KEY)
    assert records.get_column(KEY).to_list() == ["A", "B", "C"]
    assert records.get_column(UNIQUE).to_list() == [False, True, True]
    assert records.get_column("price").to_list() == [None, "2", "4"]
    assert frame.duplicates.get_column("rows").to_list() == [[2, 4]]
    assert frame.in_scope == 4
