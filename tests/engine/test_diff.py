"""Aligning two frames: the merge on sorted hashes, its text fallback, and the reader-order sort."""

from __future__ import annotations

import random

import polars as pl
import pytest

from connectors.base import ROW_COLUMN, FieldSpec, ResourceSpec, SourceFrame
from detector.compare import Normalized
from detector.compare.rules import CompareRule
from detector.config.ownership import OwnershipEntry
from detector.engine import diff
from detector.engine.diff import _O_ROW, _R_ROW, _READER, _align, _in_reader_order
from detector.engine.mapping import HASH, MATCH, UNIQUE, CanonicalFrame, canonical_frame
from tests.engine.frames import canonical, product_spec


def test_pairs_come_out_in_reader_row_order_as_a_sort_would_put_them() -> None:
    rng = random.Random(11)  # noqa: S311 - deterministic test data, not secrets
    for height in (0, 1, 2, 10, 1000):
        for _ in range(20):
            reader_rows = rng.sample(range(height), k=rng.randint(0, height))
            pairs = pl.DataFrame(
                {
                    _O_ROW: pl.Series([rng.randrange(5000) for _ in reader_rows], dtype=pl.UInt32),
                    _R_ROW: pl.Series(reader_rows, dtype=pl.UInt32),
                }
            )
            expected = pairs.sort(_R_ROW)
            owner, reader = _in_reader_order(pairs, height)
            assert owner.to_list() == expected.get_column(_O_ROW).to_list()
            assert reader.to_list() == expected.get_column(_R_ROW).to_list()


def _pairs(aligned: pl.DataFrame) -> set[tuple[int | None, int | None, bool | None, bool | None]]:
    """The alignment as a set: (owner row, reader row, owner unique, reader unique)."""
    return set(aligned.select(_O_ROW, _R_ROW, UNIQUE, UNIQUE + _READER).iter_rows())


def _expected(owner: list[str], reader: list[str]) -> set[tuple[object, ...]]:
    """What the alignment must be, by dicts: each key's first record on each side."""
    first_o = {k: owner.index(k) for k in owner}
    first_r = {k: reader.index(k) for k in reader}
    return {
        (
            first_o.get(key),
            first_r.get(key),
            owner.count(key) == 1 if key in first_o else None,
            reader.count(key) == 1 if key in first_r else None,
        )
        for key in first_o.keys() | first_r.keys()
    }


def test_merge_on_sorted_hashes_aligns_as_a_dictionary_would() -> None:
    rng = random.Random(5)  # noqa: S311 - deterministic test data, not secrets
    for size in (0, 1, 5, 200, 3000):
        universe = [f"SKU-{n}" for n in range(size * 2 + 1)]
        owner = [rng.choice(universe) for _ in range(size)]
        reader = [rng.choice(universe) for _ in range(rng.randint(0, size))]
        owner_frame, reader_frame = (
            canonical(product_spec("erp"), owner),
            canonical(product_spec("shop"), reader),
        )
        assert _pairs(_align(owner_frame, reader_frame)) == _expected(owner, reader)
        index = owner_frame.key_index()
        # gathered in the order duplicate detection sorted, as sorting afresh would have it
        assert index.equals(owner_frame.one_per_key(HASH).sort(HASH).collect())
        assert index.get_column(HASH).flags["SORTED_ASC"]  # so that joins on it merge
        assert owner_frame.key_index() is index  # built once, reused for the next reader


def test_two_keys_sharing_a_hash_are_aligned_on_their_text() -> None:
    owner = canonical(product_spec("erp"), ["A", "B", "C"])
    reader = canonical(product_spec("shop"), ["C", "X", "A"])
    # make the reader's "X" share "B"'s hash, as a 64-bit collision would
    collided_hash = owner.records.get_column(HASH)[1]
    reader.records = reader.records.with_columns(
        pl.when(pl.col(MATCH) == "X").then(collided_hash).otherwise(pl.col(HASH)).alias(HASH)
    )
    assert _pairs(_align(owner, reader)) == _expected(["A", "B", "C"], ["C", "X", "A"])
    # the reader's hashes changed after their order was found: its index was sorted afresh
    assert reader.key_index().get_column(HASH).is_sorted()


def _descriptions(system: str, texts: list[str]) -> tuple[ResourceSpec, CanonicalFrame]:
    spec = ResourceSpec(
        system=system,
        entity="product",
        resource="products",
        key=(FieldSpec(name="sku", path="sku"),),
        fields=(FieldSpec(name="description", path="description"),),
    )
    data = pl.DataFrame(
        {
            "sku": [f"S{n}" for n in range(len(texts))],
            "description": texts,
            ROW_COLUMN: list(range(2, 2 + len(texts))),
        }
    )
    return spec, canonical_frame(SourceFrame(data=data), spec, "exact")


def test_rows_equal_after_the_first_stage_go_no_further(monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-wrapped markup is settled by ``prepare``; only the rest reaches ``finish``."""
    owner_spec, owner = _descriptions("pim", ["<p>Red mug</p>", "Red  mug", "<p>Red mug</p>", "x"])
    reader_spec, reader = _descriptions(
        "shop", ["<div>Red mug</div>", "<p>Red mug</p>", "<p>Blue mug</p>", "x"]
    )
    entry = OwnershipEntry(
        entity="product",
        field="description",
        owner="pim",
        readers=("shop",),
        rule=CompareRule("html"),
    )
    finished: list[list[str]] = []
    real_finish = diff.finish

    def recording_finish(prepared: pl.Series, rule: CompareRule) -> Normalized:
        finished.append(prepared.to_list())
        return real_finish(prepared, rule)

    monkeypatch.setattr(diff, "finish", recording_finish)
    staged = diff.compare_pair(
        owner, reader, owner_spec, reader_spec, [entry], compare_records=True
    )

    # S0 is equal once tags are gone, S3 raw-equal: only S1 (spacing) and S2 (words) go on,
    # one call per side
    assert sorted(finished) == [[" Red mug ", " Blue mug "], ["Red  mug", " Red mug "]]
    assert [(d.key, d.owner_value, d.system_value) for d in staged.discrepancies] == [
        ("S2", "<p>Red mug</p>", "<p>Blue mug</p>")
    ]

    monkeypatch.setattr(diff, "staged", lambda rule: False)
    whole = diff.compare_pair(owner, reader, owner_spec, reader_spec, [entry], compare_records=True)
    assert whole.discrepancies == staged.discrepancies
    assert whole.mismatched == staged.mismatched == {"description": {"S2"}}
