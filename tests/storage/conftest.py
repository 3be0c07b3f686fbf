"""Storage fixtures: an opened store on every backend, and a compact way to record runs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from detector.model import (
    Discrepancy,
    Kind,
    ObservedChange,
    RunResult,
    Scope,
    Severity,
    SourceReport,
    SourceStatus,
)
from detector.storage import RunOutcome, Store

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
VALUE_KINDS = frozenset({Kind.VALUE_MISMATCH, Kind.MISSING_OWNER_VALUE})


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store.open(store_url)
    try:
        yield opened
    finally:
        opened.close()


def mismatch(
    key: str,
    *,
    system_value: str = "18.99",
    owner_value: str = "19.99",
    field_name: str = "price",
    owner: str = "erp",
    system: str = "storefront",
    severity: Severity = Severity.HIGH,
    lag: timedelta | None = None,
    owner_changed_at: datetime | None = None,
    personal: bool = False,
) -> Discrepancy:
    return Discrepancy(
        kind=Kind.VALUE_MISMATCH,
        entity="product",
        key=key,
        field=field_name,
        owner=owner,
        system=system,
        severity=severity,
        owner_value=owner_value,
        system_value=system_value,
        lag=lag,
        owner_changed_at=owner_changed_at,
        personal=personal,
    )


def scope(
    system: str = "storefront",
    kinds: Iterable[Kind] = VALUE_KINDS,
    keys: Iterable[str] | None = None,
    entity: str = "product",
    owner: str | None = None,
    fields: Iterable[str] | None = None,
) -> Scope:
    return Scope(
        entity,
        system,
        frozenset(kinds),
        None if keys is None else frozenset(keys),
        owner=owner,
        fields=None if fields is None else frozenset(fields),
    )


@dataclass
class Runner:
    """Records runs on a clock that moves forward by ``step`` between runs."""

    store: Store
    now: datetime = T0
    step: timedelta = timedelta(minutes=5)
    runs: list[int] = field(default_factory=list)

    def run(
        self,
        found: Iterable[Discrepancy] = (),
        *,
        scopes: Iterable[Scope] | None = None,
        sources: Iterable[SourceReport] | None = None,
        cursors: dict[tuple[str, str], str] | None = None,
        changes: Iterable[ObservedChange] = (),
        at: datetime | None = None,
        reminder_after: timedelta = timedelta(hours=24),
    ) -> RunOutcome:
        now = at or self.now
        result = RunResult(
            mode="full",
            started_at=now,
            finished_at=now,
            sources=list(
                sources
                if sources is not None
                else [SourceReport("storefront", "product", SourceStatus.OK, records=10)]
            ),
            discrepancies=list(found),
            scopes=list(scopes if scopes is not None else [scope()]),
            cursors=cursors or {},
            changes=list(changes),
        )
        run_id = self.store.begin_run("full", now)
        self.runs.append(run_id)
        outcome = self.store.record_run(run_id, result, now=now, reminder_after=reminder_after)
        self.now = now + self.step
        return outcome

    def events(self, run_index: int = -1) -> list[str]:
        """Event types written by one run (the last by default)."""
        return [e.event for e in self.store.events(run_id=self.runs[run_index])]


@pytest.fixture
def runner(store: Store) -> Runner:
    return Runner(store)
