"""Comparing one reader against one owner over the fields the owner owns and the reader reads.

Vectorised over whole columns: records are aligned with one join on the matched key; for each
field, raw text equality settles almost every row (equal text is equal under every compare rule),
and only the remaining candidates go through the field's comparator. No Python loop runs per
cell; Python objects are created only for the discrepancies found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from connectors.base import ROW_COLUMN, FieldSpec, ResourceSpec
from detector.compare import (
    PERSONAL_TYPES,
    Normalized,
    equal,
    finish,
    normalize,
    prepare,
    staged,
)
from detector.config.ownership import OwnershipEntry
from detector.engine.mapping import HASH, KEY, MATCH, POSITION, UNIQUE, CanonicalFrame
from detector.engine.parallel import in_parallel
from detector.model import Discrepancy, Kind, Severity

__all__ = ["PairResult", "TypeProblem", "compare_pair", "severity_of"]

_OWNER = "__o__"
_READER = "__r__"


@dataclass(frozen=True, slots=True)
class TypeProblem:
    """A value that cannot be read as its field's type: counted, never reported as a mismatch."""

    system: str
    entity: str
    key: str
    field: str
    row: int | None
    compare: str


@dataclass(slots=True)
class PairResult:
    discrepancies: list[Discrepancy] = field(default_factory=list)
    problems: list[TypeProblem] = field(default_factory=list)
    values_compared: int = 0
    held_back: tuple[int, int] | None = None
    """(missing, orphaned) keys not reported because there were more than the mass limit."""
    mismatched: dict[str, set[str]] = field(default_factory=dict)
    """field -> reader keys (display) whose value currently differs from the owner's."""


def severity_of(entries: Sequence[OwnershipEntry]) -> Severity:
    return max((e.severity for e in entries), key=lambda s: s.rank, default=Severity.MEDIUM)


def _field_spec(spec: ResourceSpec, name: str) -> FieldSpec:
    return next(f for f in spec.fields if f.name == name)


_O_ROW = "__o_row__"
_R_ROW = "__r_row__"


def _align(owner: CanonicalFrame, reader: CanonicalFrame) -> pl.DataFrame:
    """One full join of the two sides' keys: each side's row position (null where absent) and uniqueness.

    Only integers travel through the join (the 64-bit key hash and row positions); field values
    are gathered afterwards one column at a time, so no wide frame of strings is ever built.
    Both sides come sorted by hash (``CanonicalFrame.key_index``), so the join is a merge.
    The matched key text is checked after the join: should two different keys ever share a
    hash, the join is redone on the text.
    """
    if not (owner.hash_safe and reader.hash_safe):
        return _align_on_text(owner, reader)
    left = owner.key_index().lazy().rename({POSITION: _O_ROW})
    right = reader.key_index().lazy().rename({POSITION: _R_ROW})
    aligned = left.join(right, on=HASH, how="full", coalesce=True, suffix=_READER).collect()
    both = aligned.filter(pl.col(_O_ROW).is_not_null() & pl.col(_R_ROW).is_not_null())
    owner_keys = owner.records.get_column(MATCH).gather(both.get_column(_O_ROW))
    reader_keys = reader.records.get_column(MATCH).gather(both.get_column(_R_ROW))
    if not owner_keys.equals(reader_keys):
        return _align_on_text(owner, reader)
    return aligned


def _align_on_text(owner: CanonicalFrame, reader: CanonicalFrame) -> pl.DataFrame:
    """``_align`` on the MATCH text, for frames where two different keys share a hash."""
    left = owner.one_per_key(MATCH).rename({POSITION: _O_ROW})
    right = reader.one_per_key(MATCH).rename({POSITION: _R_ROW})
    return left.join(right, on=MATCH, how="full", coalesce=True, suffix=_READER).collect()


def compare_pair(
    owner: CanonicalFrame,
    reader: CanonicalFrame,
    owner_spec: ResourceSpec,
    reader_spec: ResourceSpec,
    entries: Sequence[OwnershipEntry],
    *,
    compare_records: bool,
    mass_limit: int | None = None,
) -> PairResult:
    """Discrepancies of ``reader`` against ``owner`` for ``entries`` (fields owned by one, read by the other).

    ``compare_records`` is False when either side failed or is suspect: then no key is reported
    missing or orphaned, because an outage is not a deletion. More missing (or orphaned) keys than
    ``mass_limit`` look like a broken export rather than real deletions: none is reported and
    ``held_back`` says how many there were.
    """
    result = PairResult()
    entity = owner.entity
    severity = severity_of(entries)

    aligned = _align(owner, reader)
    if compare_records:
        missing = aligned.filter(pl.col(_R_ROW).is_null()).get_column(_O_ROW).sort()
        orphans = aligned.filter(pl.col(_O_ROW).is_null()).get_column(_R_ROW).sort()
        if mass_limit is not None and max(missing.len(), orphans.len()) > mass_limit:
            result.held_back = (missing.len(), orphans.len())
            missing, orphans = missing.clear(), orphans.clear()
        for key in owner.records.get_column(KEY).gather(missing).to_list():
            result.discrepancies.append(
                Discrepancy(
                    Kind.MISSING_IN_READER, entity, key, None, owner.system, reader.system, severity
                )
            )
        for key in reader.records.get_column(KEY).gather(orphans).to_list():
            result.discrepancies.append(
                Discrepancy(
                    Kind.ORPHAN_IN_READER, entity, key, None, owner.system, reader.system, severity
                )
            )
    # keys held twice on either side take part in presence checks only, never in value comparison
    # in the reader's row order: a parallel join's order varies, and findings (and the first
    # problems a source reports) should come out the same on every run
    owner_rows, reader_rows = _in_reader_order(
        aligned.filter(pl.col(UNIQUE) & pl.col(UNIQUE + _READER)), reader.records.height
    )
    result.values_compared = reader_rows.len() * len(entries)

    def gather(entry: OwnershipEntry) -> _Candidates | None:
        return _candidates(owner, reader, owner_rows, reader_rows, entry)

    # each field's values are gathered and compared as raw text side by side
    fields = [candidates for candidates in in_parallel(gather, entries) if candidates is not None]
    sides = ((_OWNER, owner_spec), (_READER, reader_spec))
    fields = _first_stage(fields, sides)
    # Normalising the candidates is nearly all the work: each side of each field is one job.
    jobs = [(candidates, side, spec) for candidates in fields for side, spec in sides]
    normalised = in_parallel(_normalise, jobs, cost=lambda job: job[0].frame.height)
    for n, candidates in enumerate(fields):
        _findings(candidates, normalised[2 * n], normalised[2 * n + 1], owner, reader, result)
    return result


def _in_reader_order(pairs: pl.DataFrame, reader_height: int) -> tuple[pl.Series, pl.Series]:
    """The (owner, reader) row positions of aligned ``pairs``, ordered by reader row.

    A parallel join's output order varies, and findings (and the first problems a source
    reports) should come out the same on every run. Reader rows are distinct positions below
    ``reader_height``, so each owner row is put in its reader row's slot: a counting sort,
    twice as fast as sorting a million pairs.
    """
    slots = pl.repeat(None, reader_height, dtype=pl.UInt32, eager=True).scatter(
        pairs.get_column(_R_ROW), pairs.get_column(_O_ROW)
    )
    held = slots.is_not_null()
    return slots.filter(held).alias(_O_ROW), held.arg_true().alias(_R_ROW)


@dataclass(slots=True)
class _Candidates:
    """One field's aligned rows whose raw text differs: the only ones a comparator must see."""

    entry: OwnershipEntry
    frame: pl.DataFrame
    """KEY, ROW_COLUMN (the reader's row), and the owner's and the reader's raw text."""
    prepared: dict[str, pl.Series] | None = None
    """Per side, the first stage of a staged compare type (see ``_first_stage``)."""

    def raw(self, side: str) -> pl.Series:
        return self.frame.get_column(self.entry.field + side)


_Job = tuple[_Candidates, str, ResourceSpec]
"""One side of one field to normalise: (candidates, _OWNER or _READER, that side's spec)."""


def _first_stage(
    fields: Sequence[_Candidates], sides: Sequence[tuple[str, ResourceSpec]]
) -> list[_Candidates]:
    """Fields of a staged compare type narrowed to the rows still differing after ``prepare``.

    Equal prepared text normalises equal (``StagedComparator``), as equal raw text does, so
    those rows are settled here; the costly rest of normalising runs only on the others. Both
    sides of every staged field are prepared side by side; other fields pass unchanged.
    """
    staged_fields = [candidates for candidates in fields if staged(candidates.entry.rule)]
    if not staged_fields:
        return list(fields)
    jobs: list[_Job] = [
        (candidates, side, spec) for candidates in staged_fields for side, spec in sides
    ]
    # results come in the jobs' order: the fields' order, owner side then reader side
    texts = iter(in_parallel(_prepare, jobs, cost=lambda job: job[0].frame.height))
    narrowed = []
    for candidates in fields:
        if not staged(candidates.entry.rule):
            narrowed.append(candidates)
            continue
        by_side = {side: next(texts) for side, _ in sides}
        differs = by_side[_OWNER].ne_missing(by_side[_READER])
        if differs.any():
            narrowed.append(
                _Candidates(
                    candidates.entry,
                    candidates.frame.filter(differs),
                    {side: text.filter(differs) for side, text in by_side.items()},
                )
            )
    return narrowed


def _prepare(job: _Job) -> pl.Series:
    candidates, side, spec = job
    field = _field_spec(spec, candidates.entry.field)
    return prepare(candidates.raw(side), candidates.entry.rule, value_map=field.value_map)


def _normalise(job: _Job) -> Normalized:
    candidates, side, spec = job
    if candidates.prepared is not None:
        return finish(candidates.prepared[side], candidates.entry.rule)
    field = _field_spec(spec, candidates.entry.field)
    return normalize(
        candidates.raw(side), candidates.entry.rule, scale=field.scale, value_map=field.value_map
    )


def _candidates(
    owner: CanonicalFrame,
    reader: CanonicalFrame,
    owner_rows: pl.Series,
    reader_rows: pl.Series,
    entry: OwnershipEntry,
) -> _Candidates | None:
    """The aligned rows of ``entry``'s field whose raw text differs (None when there are none).

    Equal raw text is equal under every compare rule, so only these go through the comparator.
    """
    name = entry.field
    o_all = owner.records.get_column(name).gather(owner_rows)
    r_all = reader.records.get_column(name).gather(reader_rows)
    differs = o_all.ne_missing(r_all)
    if not differs.any():
        return None
    r_rows = reader_rows.filter(differs)
    frame = pl.DataFrame(
        {
            KEY: reader.records.get_column(KEY).gather(r_rows),
            ROW_COLUMN: reader.records.get_column(ROW_COLUMN).gather(r_rows),
            name + _OWNER: o_all.filter(differs),
            name + _READER: r_all.filter(differs),
        }
    )
    return _Candidates(entry, frame)


def _findings(
    field: _Candidates,
    o_norm: Normalized,
    r_norm: Normalized,
    owner: CanonicalFrame,
    reader: CanonicalFrame,
    result: PairResult,
) -> None:
    """Add the discrepancies and type problems among one field's candidates, in row order."""
    entry = field.entry
    name, rule = entry.field, entry.rule
    owner_system, reader_system = owner.system, reader.system
    same = equal(o_norm.values, r_norm.values, rule)
    flagged = field.frame.with_columns(
        __same__=same,
        __o_invalid__=o_norm.invalid,
        __r_invalid__=r_norm.invalid,
        __o_empty__=o_norm.values.is_null(),
        __r_empty__=r_norm.values.is_null(),
    ).filter(~pl.col("__same__") | pl.col("__o_invalid__") | pl.col("__r_invalid__"))
    unreadable = pl.col("__o_invalid__") | pl.col("__r_invalid__")
    for key, position, o_invalid in (
        flagged.filter(unreadable).select(KEY, ROW_COLUMN, "__o_invalid__").iter_rows()
    ):
        # a value that cannot be read as the field's type is a located problem, not a mismatch
        result.problems.append(
            TypeProblem(
                owner_system if o_invalid else reader_system,
                entry.entity,
                key,
                name,
                None if o_invalid else position,
                rule.type,
            )
        )
    differing = flagged.filter(~unreadable & ~(pl.col("__o_empty__") & pl.col("__r_empty__")))
    keys = differing.get_column(KEY).to_list()
    result.mismatched.setdefault(name, set()).update(keys)
    personal = entry.personal or rule.type in PERSONAL_TYPES
    entity, severity, lag = entry.entity, entry.severity, entry.lag
    result.discrepancies.extend(
        Discrepancy(
            Kind.MISSING_OWNER_VALUE if o_empty else Kind.VALUE_MISMATCH,
            entity,
            key,
            name,
            owner_system,
            reader_system,
            severity,
            owner_value=o_value,
            system_value=r_value,
            lag=None if o_empty else lag,
            personal=personal,
        )
        for key, o_value, r_value, o_empty in zip(
            keys,
            differing.get_column(name + _OWNER).to_list(),
            differing.get_column(name + _READER).to_list(),
            differing.get_column("__o_empty__").to_list(),
            strict=True,
        )
    )
