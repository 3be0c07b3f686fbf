"""Aligned pairs in reader order: the counting sort agrees with sorting."""

from __future__ import annotations

import random

import polars as pl

from detector.engine.diff import _O_ROW, _R_ROW, _in_reader_order


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
