"""One reconciliation: plan the pairs, read every source, compare, and hand the result to the store.

The runner is where the ownership map meets the data: for each entity it pairs every owner with
each of its readers over the fields they share, reads each involved (system, entity) once,
compares, derives change-log findings and builds the ``Scope``s that tell the store which stored
discrepancies this run was in a position to resolve. A failed or suspect source yields no scope
for key-level kinds, so its absence never resolves (or opens) anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import polars as pl
import structlog

from connectors.base import KeyTuple, ResourceSpec
from detector.config import Config, OwnershipEntry
from detector.engine.changes import (
    ChangeLog,
    display_key_of,
    match_keys,
    read_change_log,
    summarise_changes,
)
from detector.engine.diff import PairResult, compare_pair
from detector.engine.mapping import (
    KEY,
    KEY_SEPARATOR,
    MATCH,
    CanonicalFrame,
    canonical_frame,
)
from detector.engine.parallel import in_parallel
from detector.engine.sources import ConnectorPool, SourceRead, read_source
from detector.model import (
    RECORD_KINDS,
    VALUE_KINDS,
    Discrepancy,
    Kind,
    RunResult,
    Scope,
    Severity,
    SourceReport,
    SourceStatus,
    fingerprint,
)

__all__ = [
    "CURSOR_INVALID",
    "DEADLINE_EXCEEDED",
    "Deadline",
    "Plan",
    "StoredFinding",
    "plan_run",
    "reconcile",
]

log = structlog.get_logger()

DEADLINE_EXCEEDED = "deadline_exceeded"
CURSOR_INVALID = "cursor_invalid"


class Deadline:
    """A run's deadline (``settings.run_deadline``), checked cooperatively between sources.

    A read already under way is bounded by its own request timeouts; a read that would *start*
    after the deadline is not started, and its source is recorded failed (``deadline_exceeded``),
    so the run is partial and nothing is resolved (or reported missing) by the source's absence.
    """

    def __init__(self, limit: timedelta, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.limit = limit
        self._ends = clock() + limit.total_seconds()

    @property
    def expired(self) -> bool:
        return self._clock() >= self._ends

    def skipped(self, system: str, entity: str) -> SourceReport:
        log.warning(
            "source_skipped_deadline",
            system=system,
            entity=entity,
            deadline_s=self.limit.total_seconds(),
        )
        return SourceReport(
            system=system,
            entity=entity,
            status=SourceStatus.FAILED,
            error=(
                f"not read: the run passed its deadline of {self.limit.total_seconds():g} s"
                " (settings.run_deadline) before this source was started"
            ),
            error_kind=DEADLINE_EXCEEDED,
        )


@dataclass(frozen=True, slots=True)
class StoredFinding:
    """An open non_owner_write the store holds, carried forward while its cause stands."""

    key: str
    field: str
    owner: str
    system: str
    entity: str
    writer: str | None
    changed_at: datetime | None
    owner_value: str | None
    system_value: str | None
    resolved: bool = False
    """Resolved ones are kept only so that re-reading an old change does not report it again."""

    @property
    def id(self) -> str:
        return fingerprint(
            Kind.NON_OWNER_WRITE, self.entity, self.key, self.field, self.owner, self.system
        )


@dataclass(slots=True)
class Plan:
    """What a run will compare: per entity, owner/reader pairs and the entries they share."""

    pairs: dict[str, dict[tuple[str, str], list[OwnershipEntry]]] = field(default_factory=dict)
    systems: dict[str, list[str]] = field(default_factory=dict)
    """entity -> systems to read, in config order."""


def plan_run(
    config: Config, entities: Sequence[str] | None = None, systems: Sequence[str] | None = None
) -> Plan:
    plan = Plan()
    wanted_systems = set(systems) if systems else None
    for entity_name, entity in config.model.entities.items():
        if entities and entity_name not in entities:
            continue
        pairs: dict[tuple[str, str], list[OwnershipEntry]] = {}
        for entry in config.ownership.for_entity(entity_name):
            if entry.owner is None:
                continue
            for reader in entry.readers:
                if (
                    wanted_systems
                    and entry.owner not in wanted_systems
                    and reader not in wanted_systems
                ):
                    continue
                pairs.setdefault((entry.owner, reader), []).append(entry)
        involved = {s for pair in pairs for s in pair}
        if wanted_systems:
            involved |= wanted_systems & set(entity.systems)
        else:
            involved |= set(entity.systems)
        plan.pairs[entity_name] = pairs
        plan.systems[entity_name] = [s for s in entity.systems if s in involved]
    return plan


def _dedupe(found: Iterable[Discrepancy]) -> list[Discrepancy]:
    unique: dict[str, Discrepancy] = {}
    for item in found:
        unique.setdefault(item.id, item)
    return list(unique.values())


def reconcile(
    config: Config,
    *,
    entities: Sequence[str] | None = None,
    systems: Sequence[str] | None = None,
    last_good: Mapping[tuple[str, str], int] | None = None,
    cursors: Mapping[tuple[str, str], str] | None = None,
    carried: Sequence[StoredFinding] = (),
    keys: Mapping[str, Collection[KeyTuple]] | None = None,
    accept_mass_missing: bool = False,
    pool: ConnectorPool | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_progress: Callable[[str, str], None] | None = None,
) -> RunResult:
    """Compare every reader against its owner; ``keys`` (per entity) makes it an incremental run."""
    started = now()
    mode = "incremental" if keys is not None else "full"
    plan = plan_run(config, entities, systems)
    result = RunResult(mode=mode, started_at=started, finished_at=started)
    own_pool = pool is None
    pool = pool or ConnectorPool(config)
    deadline = Deadline(config.settings.run_deadline)
    try:
        for entity_name, entity_systems in plan.systems.items():
            entity_keys = keys.get(entity_name) if keys is not None else None
            if keys is not None and not entity_keys:
                continue
            _reconcile_entity(
                config,
                result,
                entity_name,
                entity_systems,
                plan.pairs[entity_name],
                pool=pool,
                last_good=last_good or {},
                cursors=cursors or {},
                carried=carried,
                keys=entity_keys,
                now=started,
                on_progress=on_progress,
                accept_mass_missing=accept_mass_missing,
                deadline=deadline,
            )
    finally:
        if own_pool:
            pool.close()
    result.discrepancies = _dedupe(result.discrepancies)
    result.finished_at = now()
    return result


def _reconcile_entity(
    config: Config,
    result: RunResult,
    entity_name: str,
    entity_systems: list[str],
    pairs: dict[tuple[str, str], list[OwnershipEntry]],
    *,
    pool: ConnectorPool,
    last_good: Mapping[tuple[str, str], int],
    cursors: Mapping[tuple[str, str], str],
    carried: Sequence[StoredFinding],
    keys: Collection[KeyTuple] | None,
    now: datetime,
    on_progress: Callable[[str, str], None] | None,
    accept_mass_missing: bool = False,
    deadline: Deadline | None = None,
) -> None:
    reads, frames = _read_systems(
        config,
        result,
        entity_name,
        entity_systems,
        pairs,
        pool=pool,
        last_good=last_good,
        keys=keys,
        on_progress=on_progress,
        deadline=deadline,
    )
    entity = config.model.entities[entity_name]
    logs = _change_logs(
        config,
        reads,
        pool,
        cursors,
        now=now,
        lookback=config.settings.cursor_lookback,
    )
    for change_log in logs:
        # the cursor advances (with the run's commit) only past a log read in full without error
        if change_log.error is None and change_log.cursor is not None:
            result.cursors[(change_log.system, change_log.entity)] = change_log.cursor
    summary = summarise_changes(config, logs)
    result.changes.extend(summary.observed)
    result.discrepancies.extend(_new_writes(summary.non_owner_writes, carried))

    comparable = [
        (owner, reader, entries)
        for (owner, reader), entries in pairs.items()
        if owner in frames and reader in frames
    ]

    def compare(pair: tuple[str, str, list[OwnershipEntry]]) -> PairResult:
        owner, reader, entries = pair
        return compare_pair(
            frames[owner],
            frames[reader],
            reads[owner].spec,
            reads[reader].spec,
            entries,
            compare_records=_trusted(reads[owner], reads[reader]) and keys is None,
            mass_limit=None if accept_mass_missing else _mass_limit(config, frames[owner]),
        )

    # pairs compare side by side (each also spreads its comparators over threads); what they
    # found is applied in the ownership map's order
    for (owner, reader, entries), found in zip(
        comparable, in_parallel(compare, comparable), strict=True
    ):
        owner_read, reader_read = reads[owner], reads[reader]
        trusted = _trusted(owner_read, reader_read)
        if found.held_back is not None:
            _hold_back(reader_read, owner, found.held_back)
            trusted = False
        _apply_owner_lag(found.discrepancies, summary.owner_changed_at, entity.key_compare)
        result.discrepancies.extend(found.discrepancies)
        result.values_compared += found.values_compared
        for problem in found.problems:
            report = reads[problem.system].report
            report.problems += 1
            if len(report.problem_samples) < 5:
                report.problem_samples.append(
                    f"type_error: value of field {problem.field!r} for key {problem.key!r}"
                    f"{f' (row {problem.row})' if problem.row is not None else ''} is not a valid {problem.compare}"
                )
        fields = frozenset(e.field for e in entries)
        value_scope = _key_scope(keys, reader_read.spec) if keys is not None else None
        if not trusted:
            # An untrusted snapshot (suspect, incomplete) only speaks for the keys it holds: a
            # mismatch on a key it did not return was not compared, so it must not resolve.
            compared = _compared_keys(frames[owner], frames[reader])
            value_scope = compared if value_scope is None else value_scope & compared
        result.scopes.append(
            Scope(entity_name, reader, frozenset(VALUE_KINDS), value_scope, owner, fields)
        )
        result.scopes.append(
            Scope(
                entity_name, reader, frozenset({Kind.NON_OWNER_WRITE}), value_scope, owner, fields
            )
        )
        if trusted and keys is None:
            result.scopes.append(Scope(entity_name, reader, frozenset(RECORD_KINDS), None, owner))
        for finding in (f for f in carried if not f.resolved):
            still_differs = finding.key in found.mismatched.get(finding.field, set())
            if (finding.entity, finding.owner, finding.system) == (
                entity_name,
                owner,
                reader,
            ) and still_differs:
                result.discrepancies.append(_carry(finding, entries))

    covered = {(o, r) for (o, r) in pairs if o in frames and r in frames}
    for finding in (f for f in carried if not f.resolved):
        # writes into a system that is not compared here (e.g. into the owner itself) stay open until acknowledged
        if finding.entity == entity_name and (finding.owner, finding.system) not in covered:
            result.discrepancies.append(
                _carry(finding, list(pairs.get((finding.owner, finding.system), [])))
            )


def _read_systems(
    config: Config,
    result: RunResult,
    entity_name: str,
    entity_systems: list[str],
    pairs: dict[tuple[str, str], list[OwnershipEntry]],
    *,
    pool: ConnectorPool,
    last_good: Mapping[tuple[str, str], int],
    keys: Collection[KeyTuple] | None,
    on_progress: Callable[[str, str], None] | None,
    deadline: Deadline | None,
) -> tuple[dict[str, SourceRead], dict[str, CanonicalFrame]]:
    """Read an entity's systems, each canonicalised as soon as it is read.

    An incremental run's reads (only the changed keys) go side by side on threads: each is
    small, and an HTTP read waits on the network, a file parse now and then leaves a core idle.
    A full run reads one system at a time, because two full frames and their canonical copies
    at once would raise the peak memory by half. No read starts past the run's deadline, and
    what the reads return is applied to ``result`` in the config's order, so the output never
    depends on which read finished first.
    """
    key_compare = config.model.entities[entity_name].key_compare
    specs = [config.resource_spec(entity_name, system) for system in entity_systems]

    def read(spec: ResourceSpec) -> tuple[SourceRead, CanonicalFrame | None]:
        done = _read_unless_late(config, pool, spec, deadline, last_good, keys, on_progress)
        if done.frame is None:
            return done, None
        frame = canonical_frame(done.frame, spec, key_compare)
        done.frame = None  # the raw columns are no longer needed: free them before comparing
        return done, frame

    reads: dict[str, SourceRead] = {}
    frames: dict[str, CanonicalFrame] = {}
    results = in_parallel(read, specs) if keys is not None else [read(spec) for spec in specs]
    for spec, (done, frame) in zip(specs, results, strict=True):
        reads[spec.system] = done
        result.sources.append(done.report)
        if frame is not None:
            frames[spec.system] = frame
            result.records += frame.in_scope
            _duplicates(result, frame, spec, pairs, keys)
    return reads, frames


def _trusted(owner: SourceRead, reader: SourceRead) -> bool:
    """Both sides read completely: only then can an absent key be reported (or resolve)."""
    return owner.report.status is SourceStatus.OK and reader.report.status is SourceStatus.OK


def _read_unless_late(
    config: Config,
    pool: ConnectorPool,
    spec: ResourceSpec,
    deadline: Deadline | None,
    last_good: Mapping[tuple[str, str], int],
    keys: Collection[KeyTuple] | None,
    on_progress: Callable[[str, str], None] | None,
) -> SourceRead:
    """Read one source, or (past the run's deadline) record it failed without starting it."""
    if deadline is not None and deadline.expired:
        return SourceRead(spec, None, deadline.skipped(spec.system, spec.entity))
    return read_source(
        pool,
        spec,
        last_good=last_good.get((spec.system, spec.entity)),
        suspect_below=config.systems[spec.system].suspect_below,
        keys=keys,
        on_progress=on_progress,
    )


def _new_writes(found: Sequence[Discrepancy], known: Sequence[StoredFinding]) -> list[Discrepancy]:
    """Change-log findings not already on record: re-reading the look-back window reports nothing twice."""
    seen = {f.id: f.changed_at for f in known}
    fresh = []
    for item in found:
        previous = seen.get(item.id, _NEVER)
        if previous is _NEVER or (item.changed_at and previous and item.changed_at > previous):
            fresh.append(item)
    return fresh


_NEVER = datetime.min.replace(tzinfo=UTC)


def _mass_limit(config: Config, owner: CanonicalFrame) -> int:
    settings = config.settings
    return max(settings.mass_missing_min, int(settings.mass_missing_ratio * owner.key_count))


def _hold_back(reader: SourceRead, owner: str, counts: tuple[int, int]) -> None:
    """Mark a reader whose missing/orphaned keys look like a broken export, not deletions."""
    missing, orphaned = counts
    report = reader.report
    report.status = SourceStatus.SUSPECT
    report.error_kind = "mass_missing"
    report.error = (
        f"{missing} keys of {owner} missing and {orphaned} orphaned: more than the mass-missing limit"
        " (settings.mass_missing_ratio / mass_missing_min), so none is reported; if they are real,"
        " run `fieldwarden reconcile --accept-mass-missing` once"
    )
    log.warning(
        "mass_missing_held_back",
        system=report.system,
        entity=report.entity,
        owner=owner,
        missing=missing,
        orphaned=orphaned,
    )


def _carry(finding: StoredFinding, entries: Sequence[OwnershipEntry]) -> Discrepancy:
    entry = next((e for e in entries if e.field == finding.field), None)
    return Discrepancy(
        Kind.NON_OWNER_WRITE,
        finding.entity,
        finding.key,
        finding.field,
        finding.owner,
        finding.system,
        entry.severity if entry else Severity.MEDIUM,
        owner_value=finding.owner_value,
        system_value=finding.system_value,
        writer=finding.writer,
        changed_at=finding.changed_at,
        personal=bool(entry and (entry.personal or entry.rule.type in ("email", "phone"))),
    )


def _compared_keys(owner: CanonicalFrame, reader: CanonicalFrame) -> frozenset[str]:
    """Display keys (either side's spelling) of the records present in both frames."""
    both = owner.records.select(MATCH, KEY).join(
        reader.records.select(MATCH, pl.col(KEY).alias("__reader_key__")), on=MATCH, how="inner"
    )
    return frozenset(both[KEY].to_list()) | frozenset(both["__reader_key__"].to_list())


def _key_scope(keys: Collection[KeyTuple], spec: ResourceSpec) -> frozenset[str]:
    """The display keys an incremental run covers in one system: each key as written and as mapped."""
    return frozenset(KEY_SEPARATOR.join(k) for k in keys) | frozenset(
        display_key_of(spec, k) for k in keys
    )


def _duplicates(
    result: RunResult,
    frame: CanonicalFrame,
    spec: ResourceSpec,
    pairs: Mapping[tuple[str, str], list[OwnershipEntry]],
    keys: Collection[KeyTuple] | None,
) -> None:
    entries = [e for (o, r), group in pairs.items() if frame.system in (o, r) for e in group]
    severity = max((e.severity for e in entries), key=lambda s: s.rank) if entries else None
    for key, rows in frame.duplicates.select(KEY, "rows").iter_rows():
        shown = ", ".join(str(r) for r in rows[:10])
        item = Discrepancy(
            Kind.DUPLICATE_KEY,
            frame.entity,
            key,
            None,
            None,
            frame.system,
            detail=f"{len(rows)} records share this key (rows {shown})",
        )
        if severity is not None:
            item.severity = severity
        result.discrepancies.append(item)
    scope_keys = _key_scope(keys, spec) if keys is not None else None
    result.scopes.append(
        Scope(frame.entity, frame.system, frozenset({Kind.DUPLICATE_KEY}), scope_keys)
    )


def _change_logs(
    config: Config,
    reads: Mapping[str, SourceRead],
    pool: ConnectorPool,
    cursors: Mapping[tuple[str, str], str],
    *,
    now: datetime,
    lookback: timedelta,
) -> list[ChangeLog]:
    logs: list[ChangeLog] = []
    for system, read in reads.items():
        connector_class = config.systems[system].connector_class
        if not connector_class.supports_changes:
            continue
        if read.report.error_kind == DEADLINE_EXCEEDED:
            continue  # never started: its change log is not read either, so its cursor stays
        change_log = read_change_log(
            pool.get(system),
            read.spec,
            cursors.get((system, read.spec.entity)),
            lookback=lookback,
            now=now,
        )
        if change_log.error is not None and change_log.error.startswith(CURSOR_INVALID):
            # a corrupt or future cursor is not guessed past: the run is partial until someone
            # resets it explicitly, and the stored cursor is kept as it is
            read.report.status = SourceStatus.INCOMPLETE
            read.report.error_kind = CURSOR_INVALID
            change_log.error += (
                f"; reset it with `fieldwarden reset-cursor {system} {read.spec.entity}`"
            )
            log.error("cursor_invalid", system=system, entity=read.spec.entity)
        if change_log.error is not None:
            read.report.error_kind = read.report.error_kind or "changes_failed"
            read.report.error = (
                read.report.error + "; " if read.report.error else ""
            ) + f"change log: {change_log.error}"
        logs.append(change_log)
    return logs


def _apply_owner_lag(
    found: list[Discrepancy],
    owner_changed_at: Mapping[tuple[str, str, str], datetime],
    key_compare: str,
) -> None:
    """``lag`` counts from the owner's last change of the value, when its change log shows one."""
    if not owner_changed_at:
        return
    pending = [
        d
        for d in found
        if d.kind is Kind.VALUE_MISMATCH and d.lag is not None and d.key is not None
    ]
    if not pending:
        return
    matched = match_keys([d.key or "" for d in pending], key_compare)
    for item, match in zip(pending, matched, strict=True):
        changed = owner_changed_at.get((item.owner or "", item.field or "", match))
        if changed is not None:
            item.owner_changed_at = changed
