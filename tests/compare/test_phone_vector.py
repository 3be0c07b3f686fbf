"""The vectorised phone path agrees with ``canonical_phone`` on every plainly written number."""

from __future__ import annotations

import random

import polars as pl
import pytest

from detector.compare.contact import PhoneComparator, canonical_phone
from detector.compare.rules import CompareRule


def _numbers() -> list[str]:
    rng = random.Random(7)  # noqa: S311 - deterministic test data, not security
    alphabet = "0123456789 +().-/"
    values = []
    for _ in range(5000):
        text = "".join(
            rng.choice(alphabet if rng.random() < 0.3 else "0123456789")
            for _ in range(rng.randint(1, 20))
        )
        for prefix, chance in (("+", 0.3), ("00", 0.1), ("011", 0.1), ("1", 0.1)):
            if rng.random() < chance:
                text = prefix + text
        values.append(text)
    return [v for v in values if v.strip()] + [
        "+1 (555) 010-0123",
        "555.010.0123",
        "020 7946 0000",
        "+0123456",
    ]


@pytest.mark.parametrize("region", [None, "US", "GB", "DE", "IT", "RU", "FR"])
def test_vector_path_matches_the_reference(region: str | None) -> None:
    numbers = _numbers()
    rule = CompareRule(type="phone", default_region=region)
    got = PhoneComparator().normalize(pl.Series("phone", numbers), rule, None).values.to_list()
    assert got == [canonical_phone(n, region) for n in numbers]
