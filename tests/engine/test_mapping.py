"""Canonical frames: keys held more than once are split off, never value-compared."""

from __future__ import annotations

import random

import polars as pl

from detector.compare.rules import CompareRule
from detector.config.ownership import OwnershipEntry
from detector.engine.diff import compare_pair
from detector.engine.mapping import FIRST, KEY, UNIQUE, _repeated
from tests.engine.frames import canonical, product_spec


def test_repeated_marks_exactly_what_is_duplicated_marks() -> None:
    rng = random.Random(3)  # noqa: S311 - deterministic test data, not security
    for size in (0, 1, 2, 3, 10, 1000):
        for _ in range(30):
            hashes = pl.Series([rng.randint(0, size) for _ in range(size)], dtype=pl.UInt64)
            assert (
                _repeated(hashes, hashes.arg_sort()).to_list() == hashes.is_duplicated().to_list()
            )


def test_a_key_held_twice_takes_part_in_presence_checks_only() -> None:
    frame = canonical(product_spec("erp"), ["A", "B", "A", "C"], ["1", "2", "3", "4"])
    # records stay in the source's order; both records of "A" are not unique, the first stands for it
    records = frame.records
    assert records.get_column(KEY).to_list() == ["A", "B", "A", "C"]
    assert records.get_column(UNIQUE).to_list() == [False, True, False, True]
    assert records.get_column(FIRST).to_list() == [True, True, False, True]
    assert frame.duplicates.get_column("rows").to_list() == [[2, 4]]
    assert frame.in_scope == 4
    assert frame.key_count == 3


def test_a_key_held_twice_is_aligned_once_and_never_value_compared() -> None:
    spec, reader_spec = product_spec("erp"), product_spec("shop", "variants")
    owner = canonical(spec, ["A", "B", "A", "D"], ["1", "2", "3", "5"])
    reader = canonical(reader_spec, ["E", "A", "B", "E"], ["9", "9", "9", "9"])
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
