"""Precision and recall of a reported discrepancy set against the ground truth.

A discrepancy is identified by (kind, entity, key, field, owner, system) (SPEC), so both sets
are sets of those 6-tuples; values, ids and statuses do not take part.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Identity", "Score", "identities", "read_reported", "score"]

Identity = tuple[str, str, str | None, str | None, str | None, str]
_FIELDS = ("kind", "entity", "key", "field", "owner", "system")


@dataclass(frozen=True, slots=True)
class Score:
    true_positives: int
    false_positives: int
    false_negatives: int
    missed: list[Identity] = field(default_factory=list)
    """Up to 10 truth items not reported."""
    spurious: list[Identity] = field(default_factory=list)
    """Up to 10 reported items not in the truth."""

    @property
    def precision(self) -> float:
        reported = self.true_positives + self.false_positives
        return self.true_positives / reported if reported else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0


def _order(item: Identity) -> tuple[str, ...]:
    return tuple("" if part is None else part for part in item)


def score(reported: Iterable[Identity], truth: Iterable[Identity], samples: int = 10) -> Score:
    got, expected = set(reported), set(truth)
    return Score(
        true_positives=len(got & expected),
        false_positives=len(got - expected),
        false_negatives=len(expected - got),
        missed=sorted(expected - got, key=_order)[:samples],
        spurious=sorted(got - expected, key=_order)[:samples],
    )


def identities(items: Iterable[Mapping[str, Any] | Iterable[Any]]) -> set[Identity]:
    """Identity tuples from discrepancy objects (Fieldwarden JSON) or 6-item lists."""
    result: set[Identity] = set()
    for item in items:
        if isinstance(item, Mapping):
            result.add(tuple(item.get(name) for name in _FIELDS))  # type: ignore[arg-type]
        else:
            result.add(tuple(item))
    return result


def read_reported(path: Path) -> set[Identity]:
    """The identities in a report: Fieldwarden's ``reconcile --format json`` or a reference's."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return identities(document["discrepancies"])
