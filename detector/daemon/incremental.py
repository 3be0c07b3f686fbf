"""The incremental job: find the keys that changed, fetch just those, compare just those.

For one entity, every system it maps says which of its keys changed since the last run:

* **a system with a change log** (its connector ``supports_changes``, and for the file and SQL
  connectors the mapping names a ``changes`` resource): the log is read from the stored cursor
  minus ``settings.cursor_lookback`` (``read_change_log``); each entry's key changed. The new
  cursor is committed with the run, and only if every source of the entity was read cleanly.
  An overlap re-read only repeats keys (a set) and change-log findings the store already holds
  (the runner drops those), so it creates no duplicates. When the log cannot be read, this
  tick falls back to a full read of that system (every key counts as changed) and the cursor
  stays where it was.
* **a system without one**: the system is read in full (there is no cheaper way to know what it
  changed), each record's mapped columns are hashed (polars ``hash_rows``, a fixed seed) and
  compared with the hash stored at the last run (``Store.record_hashes``). New, changed and
  vanished keys changed. Only those hashes are written, with the run (``record_run(...,
  record_hashes=...)``); a vanished key is stored with the empty hash as a tombstone. The full
  read is kept as this tick's snapshot and serves the keyed read of the comparison, so the
  system is read once per tick.

The union of the keys (each also spelt as every other system holds it, through key ``map``s)
goes to ``run_once(keys={entity: keys})``: every system is asked for just those keys
(``Connector.read(spec, keys=...)``). A connector with ``supports_keys = False`` cannot be asked
for keys: its keyed read falls back to its snapshot of this tick when there is one, otherwise to
a full read filtered to the keys (what such connectors do when handed keys); either way the job
logs ``incremental_fallback`` once. Its cost then grows with that system's size; every other
system still costs only the changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
import structlog

from connectors.base import Change, Connector, KeyTuple, ResourceSpec, SourceFrame
from connectors.http.connector import HttpConnector
from connectors.records import filter_keys
from detector.config import Config
from detector.engine.changes import read_change_log
from detector.engine.sources import ConnectorPool
from detector.errors import SourceError
from detector.secrets import redact
from detector.service import RunReport, run_once
from detector.storage import Store

__all__ = [
    "TOMBSTONE",
    "ChangedKeys",
    "IncrementalOutcome",
    "SnapshotPool",
    "collect_changes",
    "has_change_log",
    "hash_records",
    "run_incremental",
]

log = structlog.get_logger()

TOMBSTONE = ""
"""The stored hash of a key that vanished from its system (so it is not reported again)."""

_SEED = 0x5EED_F1E1D
_HASH = "__hash__"
_KEY = "__hkey__"
KEY_JOIN = "|"


def has_change_log(connector_class: type[Connector], spec: ResourceSpec) -> bool:
    """True when the system can say what changed: a change log this mapping can read."""
    if not connector_class.supports_changes:
        return False
    # API connectors read their vendor's log (events, history) without a `changes` resource;
    # the file and SQL connectors need the mapping to name one.
    return spec.changes is not None or issubclass(connector_class, HttpConnector)


def hash_records(frame: SourceFrame, spec: ResourceSpec) -> dict[str, str]:
    """{raw key joined by '|': hash of the record's mapped columns} for one read.

    The row position is left out (inserting a row above must not change the rows below). Keys
    held by several records get one hash over all of theirs, in a stable order.
    """
    data = frame.data
    if data.height == 0:
        return {}
    paths = list(spec.paths)
    keyed = data.select(
        pl.concat_str([pl.col(p).fill_null("") for p in spec.key_paths], separator=KEY_JOIN).alias(
            _KEY
        ),
        data.select(paths).hash_rows(seed=_SEED).alias(_HASH),
    )
    duplicated = keyed.filter(pl.col(_KEY).is_duplicated())
    out: dict[str, str] = {}
    for key, value in keyed.filter(~pl.col(_KEY).is_duplicated()).iter_rows():
        out[key] = f"{value:016x}"
    if duplicated.height:
        grouped = duplicated.group_by(_KEY).agg(pl.col(_HASH).sort())
        for key, values in grouped.iter_rows():
            joined = ",".join(f"{v:016x}" for v in values)
            out[key] = hashlib.blake2b(joined.encode(), digest_size=8).hexdigest() + "*"
    return out


@dataclass(slots=True)
class ChangedKeys:
    """What one entity's systems changed since the last run, and what to commit with the run."""

    entity: str
    keys: set[KeyTuple] = field(default_factory=set)
    by_system: dict[str, int] = field(default_factory=dict)
    """How many keys each system reported changed."""
    how: dict[str, str] = field(default_factory=dict)
    """system -> "change_log" | "hash" | "full_read" (change log unreadable this tick)."""
    cursors: dict[tuple[str, str], str] = field(default_factory=dict)
    hashes: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)


class _SnapshotConnector(Connector):
    """A connector whose keyed reads are served from this tick's full read when there is one."""

    name = "snapshot"

    def __init__(self, inner: Connector, pool: SnapshotPool) -> None:
        super().__init__(inner.system, inner.options, inner.context)
        self.inner = inner
        self._pool = pool

    def read(self, spec: ResourceSpec, *, keys: Collection[KeyTuple] | None = None) -> SourceFrame:
        snapshot = self._pool.snapshots.get((spec.system, spec.entity))
        if snapshot is not None:
            return filter_keys(snapshot, spec, keys)
        if keys is not None and not self.inner.supports_keys:
            self._pool.fallback(spec, "the connector cannot fetch by key: read in full, filtered")
        return self.inner.read(spec, keys=keys)

    def read_changes(self, spec: ResourceSpec, since: datetime | None) -> Iterator[Change]:
        return self.inner.read_changes(spec, since)

    def close(self) -> None:
        self.inner.close()


class SnapshotPool(ConnectorPool):
    """A ``ConnectorPool`` that remembers the full reads made to derive changes, for one tick."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.snapshots: dict[tuple[str, str], SourceFrame] = {}
        self._wrapped: dict[str, _SnapshotConnector] = {}
        self._fallbacks: set[tuple[str, str]] = set()

    def get(self, system: str) -> Connector:
        wrapped = self._wrapped.get(system)
        if wrapped is None:
            wrapped = self._wrapped[system] = _SnapshotConnector(super().get(system), self)
        return wrapped

    def fallback(self, spec: ResourceSpec, reason: str) -> None:
        if (spec.system, spec.entity) not in self._fallbacks:
            self._fallbacks.add((spec.system, spec.entity))
            log.warning(
                "incremental_fallback", system=spec.system, entity=spec.entity, reason=reason
            )

    def close(self) -> None:
        super().close()
        self._wrapped.clear()
        self.snapshots.clear()


def _spellings(config: Config, entity: str, system: str, key: KeyTuple) -> set[KeyTuple]:
    """``key`` as ``system`` holds it, plus as every other system of the entity would hold it."""
    spec = config.resource_spec(entity, system)
    canonical = tuple(
        part.value_map.get(value, value) for part, value in zip(spec.key, key, strict=False)
    )
    out = {key, canonical}
    for other in config.model.entities[entity].systems:
        if other == system:
            continue
        other_spec = config.resource_spec(entity, other)
        if len(other_spec.key) != len(canonical):
            continue
        raw = []
        for part, value in zip(other_spec.key, canonical, strict=True):
            inverse = {v: k for k, v in part.value_map.items()}
            raw.append(inverse.get(value, value))
        out.add(tuple(raw))
    return out


def collect_changes(
    config: Config,
    entity: str,
    store: Store,
    pool: SnapshotPool,
    *,
    now: datetime,
) -> ChangedKeys:
    """Which keys of ``entity`` changed in any of its systems since the last successful run."""
    found = ChangedKeys(entity)
    stored_cursors = store.cursors()
    for system in config.model.entities[entity].systems:
        spec = config.resource_spec(entity, system)
        connector_class = config.systems[system].connector_class
        raw: set[KeyTuple] = set()
        if has_change_log(connector_class, spec):
            change_log = read_change_log(
                pool.get(system),
                spec,
                stored_cursors.get((system, entity)),
                lookback=config.settings.cursor_lookback,
                now=now,
            )
            if change_log.error is None:
                raw = {c.key for c in change_log.changes}
                found.how[system] = "change_log"
                if change_log.cursor and change_log.cursor != stored_cursors.get((system, entity)):
                    found.cursors[(system, entity)] = change_log.cursor
            else:
                log.warning(
                    "incremental_fallback",
                    system=system,
                    entity=entity,
                    reason=f"change log unreadable, every key counts as changed: {change_log.error}",
                )
                frame = _full_read(pool, spec)
                if frame is not None:
                    raw = _frame_keys(frame, spec)
                found.how[system] = "full_read"
        else:
            frame = _full_read(pool, spec)
            found.how[system] = "hash"
            if frame is not None:
                current = hash_records(frame, spec)
                stored = store.record_hashes(system, entity)
                changed = {k: h for k, h in current.items() if stored.get(k) != h}
                vanished = {
                    k: TOMBSTONE for k, h in stored.items() if h != TOMBSTONE and k not in current
                }
                raw = {_split(k, len(spec.key)) for k in (*changed, *vanished)}
                if changed or vanished:
                    found.hashes[(system, entity)] = {**changed, **vanished}
        found.by_system[system] = len(raw)
        for key in raw:
            found.keys |= _spellings(config, entity, system, key)
    return found


def _split(key: str, parts: int) -> KeyTuple:
    if parts == 1:
        return (key,)
    return tuple(key.split(KEY_JOIN, parts - 1))


def _frame_keys(frame: SourceFrame, spec: ResourceSpec) -> set[KeyTuple]:
    keys = frame.data.select(list(spec.key_paths)).drop_nulls()
    return {tuple(str(v) for v in row) for row in keys.iter_rows()}


def _full_read(pool: SnapshotPool, spec: ResourceSpec) -> SourceFrame | None:
    """Read a system in full for this tick; kept as its snapshot. None when it cannot be read
    (the comparison's own read then reports the failure, and nothing is committed for it)."""
    try:
        frame = pool.get(spec.system).read(spec)
    except SourceError as exc:
        log.warning(
            "change_detection_failed",
            system=spec.system,
            entity=spec.entity,
            error=redact(str(exc)),
        )
        return None
    except Exception as exc:  # a connector bug: the comparison's read reports it as a failed source
        log.error(
            "change_detection_failed",
            system=spec.system,
            entity=spec.entity,
            error=f"{type(exc).__name__}: {redact(str(exc))}",
        )
        return None
    pool.snapshots[(spec.system, spec.entity)] = frame
    log.info(
        "source_read",
        system=spec.system,
        entity=spec.entity,
        records=frame.height,
        purpose="change_detection",
    )
    return frame


@dataclass(slots=True)
class IncrementalOutcome:
    changes: ChangedKeys
    report: RunReport | None
    """None when nothing changed (no run is recorded)."""


def run_incremental(
    config: Config,
    entity: str,
    store: Store,
    *,
    lock_wait: float,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    pool_factory: Callable[[Config], SnapshotPool] = SnapshotPool,
) -> IncrementalOutcome:
    """One incremental check of ``entity``; holds the run lock from reading cursors to commit."""
    from detector.locking import run_lock  # noqa: PLC0415 - keeps this module importable alone

    pool = pool_factory(config)
    try:
        with run_lock(config.storage_url).hold(lock_wait, purpose=f"incremental:{entity}"):
            changes = collect_changes(config, entity, store, pool, now=now())
            log.info(
                "incremental_changes",
                entity=entity,
                keys=len(changes.keys),
                by_system=changes.by_system,
                how=changes.how,
            )
            if not changes.keys:
                return IncrementalOutcome(changes, None)
            report = run_once(
                config,
                entities=[entity],
                keys={entity: changes.keys},
                deliver_alerts=False,
                store=store,
                now=now,
                lock_wait=lock_wait,
                cursors=changes.cursors,
                record_hashes=changes.hashes,
                pool=pool,
            )
            return IncrementalOutcome(changes, report)
    finally:
        pool.close()
