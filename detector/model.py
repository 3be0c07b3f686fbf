"""Domain types shared by the engine, storage, alerting and the commands.

These are plain dataclasses on purpose: the engine produces them, the store persists them in one
transaction, and the commands and sinks render them, so none of those layers needs to know about
the others.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "GAP_KINDS",
    "KEY_LEVEL_KINDS",
    "RECORD_KINDS",
    "VALUE_KINDS",
    "Discrepancy",
    "Kind",
    "ObservedChange",
    "RunResult",
    "RunStatus",
    "Scope",
    "Severity",
    "SourceReport",
    "SourceStatus",
    "Status",
    "fingerprint",
]


class Kind(StrEnum):
    VALUE_MISMATCH = "value_mismatch"
    MISSING_OWNER_VALUE = "missing_owner_value"
    MISSING_IN_READER = "missing_in_reader"
    ORPHAN_IN_READER = "orphan_in_reader"
    NON_OWNER_WRITE = "non_owner_write"
    DUPLICATE_KEY = "duplicate_key"
    UNOWNED_FIELD = "unowned_field"
    MULTIPLE_OWNERS = "multiple_owners"
    MULTIPLE_WRITERS = "multiple_writers"


VALUE_KINDS = frozenset({Kind.VALUE_MISMATCH, Kind.MISSING_OWNER_VALUE})
RECORD_KINDS = frozenset({Kind.MISSING_IN_READER, Kind.ORPHAN_IN_READER})
KEY_LEVEL_KINDS = frozenset({Kind.MISSING_IN_READER, Kind.ORPHAN_IN_READER, Kind.DUPLICATE_KEY})
GAP_KINDS = frozenset({Kind.UNOWNED_FIELD, Kind.MULTIPLE_OWNERS, Kind.MULTIPLE_WRITERS})


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class Status(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class SourceStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SUSPECT = "suspect"
    """Returned far fewer records than its last good run: treated as unknown, not as deletions."""
    INCOMPLETE = "incomplete"
    """The source said it returned less than it holds (declared total, missing next page)."""


class RunStatus(StrEnum):
    RUNNING = "running"
    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"
    ABORTED = "aborted"


_NONE = "\x00"


def fingerprint(
    kind: str, entity: str, key: str | None, field: str | None, owner: str | None, system: str
) -> str:
    """Stable id of one problem: the same (kind, entity, key, field, owner, system) keeps its id."""
    # Unit separators between parts and NUL for "none" keep every tuple distinct without JSON's cost
    # (this runs once per discrepancy found, tens of thousands of times on a large catalog).
    payload = "\x1f".join((
        kind, entity, _NONE if key is None else key, _NONE if field is None else field,
        _NONE if owner is None else owner, system,
    ))  # fmt: skip
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


@dataclass(slots=True)
class Discrepancy:
    """One thing that is wrong, for one key, one field, one system, as found by one run."""

    kind: Kind
    entity: str
    key: str | None
    field: str | None
    owner: str | None
    system: str
    severity: Severity = Severity.MEDIUM
    owner_value: str | None = None
    system_value: str | None = None
    writer: str | None = None
    changed_at: datetime | None = None
    lag: timedelta | None = None
    """How long the reader may trail the owner; inside it the discrepancy is pending."""
    owner_changed_at: datetime | None = None
    """When the owner last changed this value, when its change log says so (lag counts from it)."""
    personal: bool = False
    """Values are personal data: masked everywhere but the database."""
    detail: str | None = None
    id: str = dc_field(init=False)

    def __post_init__(self) -> None:
        self.id = fingerprint(self.kind, self.entity, self.key, self.field, self.owner, self.system)


@dataclass(slots=True)
class SourceReport:
    """How reading one (system, entity) went in one run."""

    system: str
    entity: str
    status: SourceStatus
    records: int = 0
    problems: int = 0
    error: str | None = None
    """Why it failed or is suspect; never contains credentials."""
    error_kind: str | None = None
    """Machine-readable reason: source_error, rate_limited, invalid_payload, suspect_empty..."""
    duration_s: float = 0.0
    problem_samples: list[str] = dc_field(default_factory=list)
    """The first few per-record problems, located (system, resource, row, field)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """What a run fully evaluated: stored discrepancies inside a scope but not found again resolve.

    A discrepancy (entity, system, kind, key) is inside when entity and system match, its kind is
    in ``kinds``, ``keys`` is None (everything) or holds its key, ``owner`` is None or equals its
    owner, and ``fields`` is None or holds its field. Sources that failed or are
    suspect get no scope for record-level kinds, so an outage never resolves (or opens) anything.
    """

    entity: str
    system: str
    kinds: frozenset[Kind]
    keys: frozenset[str] | None = None
    owner: str | None = None
    """Only discrepancies against this owner (None: any owner)."""
    fields: frozenset[str] | None = None
    """Only discrepancies of these fields (None: any field, including key-level ones)."""


@dataclass(frozen=True, slots=True)
class ObservedChange:
    """A change-log entry as evidence of who writes a field (kept for `discover`)."""

    entity: str
    field: str
    system: str
    acting_system: str
    actor: str | None
    changed_at: datetime


@dataclass(slots=True)
class RunResult:
    """Everything one run found, handed to the store to commit in one transaction."""

    mode: str  # "full" | "incremental"
    started_at: datetime
    finished_at: datetime
    sources: list[SourceReport] = dc_field(default_factory=list)
    discrepancies: list[Discrepancy] = dc_field(default_factory=list)
    scopes: list[Scope] = dc_field(default_factory=list)
    cursors: dict[tuple[str, str], str] = dc_field(default_factory=dict)
    """(system, entity) -> opaque cursor to resume the change log from; stored only with the run."""
    changes: list[ObservedChange] = dc_field(default_factory=list)
    values_compared: int = 0
    records: int = 0

    @property
    def status(self) -> RunStatus:
        if not self.sources:
            return RunStatus.OK
        bad = [s for s in self.sources if s.status is not SourceStatus.OK]
        if not bad:
            return RunStatus.OK
        if len(bad) == len(self.sources):
            return RunStatus.FAILED
        return RunStatus.PARTIAL
