"""Canonical frames: keys held more than once are split off, never value-compared."""

from __future__ import annotations

import random

import polars as pl

from connectors.base import ROW_COLUMN, FieldSpec, ResourceSpec, SourceFrame
from detector.compare.rules import CompareRule
from detector.config.ownership import OwnershipEntry
from detector.engine.diff import compare_pair
from detector.engine.mapping import FIRST, KEY, UNIQUE, _repeated, canonical_frame


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
    # records stay in the source's order; both records of "A" are not unique, the first stands for it
    records = frame.records
    assert records.get_column(KEY).to_list() == ["A", "B", "A", "C"]
    assert records.get_column(UNIQUE).to_list() == [False, True, False, True]
    assert records.get_column(FIRST).to_list() == [True, True, False, True]
    assert frame.duplicates.get_column("rows").to_list() == [[2, 4]]
    assert frame.in_scope == 4
    assert frame.key_count == 3


def test_a_key_held_twice_is_aligned_once_and_never_value_compared() -> None:
    spec = ResourceSpec(
        system="erp",
        entity="product",
        resource="products",
        key=(FieldSpec(name="sku", path="sku"),),
        fields=(FieldSpec(name="price", path="price"),),
    )
    reader_spec = ResourceSpec(
        system="shop",
        entity="product",
        resource="variants",
        key=(FieldSpec(name="sku", path="sku"),),
        fields=(FieldSpec(name="price", path="price"),),
    )
    owner = canonical_frame(
        SourceFrame(
            data=pl.DataFrame(
                {
                    "sku": ["A", "B", "A", "D"],
                    "price": ["1", "2", "3", "5"],
                    ROW_COLUMN: [2, 3, 4, 5],
                }
            )
        ),
        spec,
        "exact",
    )
    reader = canonical_frame(
        SourceFrame(
            data=pl.DataFrame(
                {
                    "sku": ["E", "A", "B", "E"],
                    "price": ["9", "9", "9", "9"],
                    ROW_COLUMN: [2, 3, 4, 5],
                }
            )
        ),
        reader_spec,
        "exact",
    )
    entry = OwnershipEntry(
        entity="product", field="price", owner="erp", readers=("shop",), rule=CompareRule("money")
    )
    found = compare_pair(owner, reader, spec, reader_spec, [entry], compare_records=True)
    kinds = sorted((str(d.kind), d.key) for d in found.discrepancies)
    # "A" is held twice by the owner: present on both sides, never compared; "E" twice by the
    # reader: one orphan, not two; "D" missing once; only "B" is compared
    assert kinds == [
        ("missing_in_reader", "D"),
        ("orphan_in_reader", "E"),
        ("value_mismatch", "B"),
    ]
    assert found.values_compared == 1
