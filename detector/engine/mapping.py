"""From a connector's raw frame to the engine's canonical frame for one (system, entity).

The canonical frame has ``MATCH`` (the key normalised by the entity's ``key_compare``, used to
align systems), ``KEY`` (the key as the system writes it, parts joined by ``|``, used in output and
fingerprints), ``ROW_COLUMN``, and one column per mapped canonical field holding the raw text.
``where`` scopes are applied here, before anything is compared, and keys held more than once are
split off: they are reported as ``duplicate_key`` and never value-compared, never silently resolved.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import polars as pl

from connectors.base import ROW_COLUMN, FieldSpec, ResourceSpec, SourceFrame

__all__ = [
    "FIRST",
    "HASH",
    "KEY",
    "KEY_SEPARATOR",
    "MATCH",
    "POSITION",
    "UNIQUE",
    "CanonicalFrame",
    "canonical_frame",
    "display_key",
    "match_expr",
]

KEY = "__key__"
MATCH = "__match__"
HASH = "__hash__"
UNIQUE = "__unique__"
FIRST = "__first__"
KEY_SEPARATOR = "|"
POSITION = "__position__"


@dataclass(slots=True)
class CanonicalFrame:
    system: str
    entity: str
    records: pl.DataFrame
    """One row per record in scope: HASH, MATCH, KEY, UNIQUE, FIRST, ROW_COLUMN and the fields.

    ``UNIQUE`` is False on every record of a key held more than once: such a key takes part
    only in presence checks (missing/orphan), never in value comparison. ``FIRST`` marks the
    one record that stands for its key when systems are aligned (every record of a unique key,
    the first of a repeated one). Records stay where the source put them: dropping the few
    repeated ones would copy every column of a million-row frame.
    """
    duplicates: pl.DataFrame
    """MATCH, KEY, rows (list of record positions) for keys held more than once."""
    in_scope: int
    """Records in scope after ``where``."""
    hash_safe: bool = True
    """False when two different keys share a 64-bit hash: align on MATCH text instead."""
    by_hash: pl.Series | None = field(default=None, repr=False, compare=False)
    """Record positions in HASH order, when ``canonical_frame`` sorted them already."""
    _key_index: pl.DataFrame | None = field(default=None, repr=False, compare=False)
    _key_index_lock: threading.Lock = field(
        default_factory=threading.Lock, repr=False, compare=False
    )

    def key_index(self) -> pl.DataFrame:
        """One row per key, sorted by HASH: HASH, UNIQUE and the record's POSITION in ``records``.

        What aligning this frame with another needs, built once per frame: an owner is aligned
        with each of its readers (pairs compare on threads side by side, so the first to ask
        builds it and the other waits). Joining two sides sorted by hash is a merge, about a
        sixth of the cost of a hash join of a million keys; the sort itself is mostly done
        already, by ``canonical_frame`` looking for repeated keys (``by_hash``).
        """
        with self._key_index_lock:
            if self._key_index is None:
                keyed = self.one_per_key(HASH, order=self.by_hash).collect()
                hashes = keyed.get_column(HASH)
                # in the order found (one pass checks it; flagged, joins on it merge), or sorted
                # afresh when there is none or ``records`` changed since
                self._key_index = (
                    keyed.with_columns(hashes.set_sorted())
                    if hashes.is_sorted()
                    else keyed.sort(HASH)
                )
            return self._key_index

    def one_per_key(self, on: str, order: pl.Series | None = None) -> pl.LazyFrame:
        """``on``, UNIQUE and the record's POSITION, for the one record standing for each key.

        Of a key held more than once that is its first record; positions still count every
        record, so they index ``records``. With ``order`` (record positions), the rows come in
        that order.
        """
        if order is None:
            keyed = self.records.lazy().select(
                on, UNIQUE, FIRST, pl.int_range(pl.len(), dtype=pl.UInt32).alias(POSITION)
            )
        else:  # gathered eagerly, the order being the positions: a third of a lazy gather
            ordered = self.records.select(on, UNIQUE, FIRST)[order]
            keyed = ordered.with_columns(order.cast(pl.UInt32).alias(POSITION)).lazy()
        if self.duplicates.height:
            keyed = keyed.filter(FIRST)
        return keyed.drop(FIRST)

    @property
    def key_count(self) -> int:
        """Distinct keys in scope (a key held more than once counts once)."""
        return self.records.height - sum(len(rows) - 1 for rows in self.duplicates["rows"])


def _mapped(spec: FieldSpec) -> pl.Expr:
    column = pl.col(spec.path)
    if spec.value_map:
        column = column.replace(dict(spec.value_map))
    return column


def match_expr(column: pl.Expr, key_compare: str) -> pl.Expr:
    """How keys are matched across systems (SPEC key_compare): exact, text or email."""
    if key_compare == "exact":
        return column
    normalised = column.str.strip_chars()
    if key_compare == "text":
        normalised = normalised.str.replace_all(r"\s+", " ").str.normalize("NFC").str.to_lowercase()
    else:  # email
        normalised = normalised.str.to_lowercase()
    return normalised


def display_key(parts: tuple[str, ...]) -> str:
    return KEY_SEPARATOR.join(parts)


def _key_expr(spec: ResourceSpec) -> pl.Expr:
    parts = [_mapped(part).cast(pl.Utf8) for part in spec.key]
    if len(parts) == 1:
        return parts[0]
    return pl.concat_str(parts, separator=KEY_SEPARATOR)


def _where_expr(spec: ResourceSpec) -> pl.Expr | None:
    condition: pl.Expr | None = None
    for path, accepted in spec.where.items():
        clause = pl.col(path).str.strip_chars().is_in(list(accepted))
        condition = clause if condition is None else condition & clause
    return condition


def canonical_frame(frame: SourceFrame, spec: ResourceSpec, key_compare: str) -> CanonicalFrame:
    data = frame.data
    condition = _where_expr(spec)
    if condition is not None:
        data = data.filter(condition.fill_null(value=False))
    key = _key_expr(spec)
    selected = data.select(
        key.alias(KEY),
        pl.col(ROW_COLUMN),
        *(_mapped_field(field) for field in spec.fields),
    ).with_columns(match_expr(pl.col(KEY), key_compare).alias(MATCH))
    # One contiguous chunk per column: a parallel CSV read yields dozens, and gathering values
    # by row position across many chunks costs ten times more than one copy up front.
    selected = selected.with_columns(pl.col(MATCH).hash().alias(HASH)).rechunk()
    # hashing first makes duplicate detection and alignment integer work, not string work; the
    # hash order found here also sorts the frame's key index (``key_index``) later
    by_hash = selected.get_column(HASH).arg_sort()
    repeated = _repeated(selected.get_column(HASH), by_hash)
    hash_safe = True
    if not repeated.any():
        return CanonicalFrame(
            system=spec.system,
            entity=spec.entity,
            records=selected.with_columns(
                pl.lit(value=True).alias(UNIQUE), pl.lit(value=True).alias(FIRST)
            ),
            duplicates=pl.DataFrame(
                schema={MATCH: pl.Utf8, KEY: pl.Utf8, "rows": pl.List(pl.Int64)}
            ),
            in_scope=selected.height,
            by_hash=by_hash,
        )
    suspects = selected.with_row_index(POSITION).filter(repeated)
    groups = suspects.group_by(HASH, maintain_order=True).agg(
        pl.col(MATCH).n_unique().alias("__distinct__"),
        pl.col(MATCH).first(),
        pl.col(KEY).first(),
        pl.col(ROW_COLUMN).alias("rows"),
        pl.col(POSITION).first(),
    )
    if groups.get_column("__distinct__").max() != 1:
        # two different keys share a hash: rare beyond belief, handled exactly all the same
        hash_safe = False
        groups = (
            suspects.group_by(MATCH, maintain_order=True)
            .agg(
                pl.col(KEY).first(),
                pl.col(ROW_COLUMN).alias("rows"),
                pl.col(POSITION).first(),
            )
            .filter(pl.col("rows").list.len() > 1)
        )
        repeated = selected.get_column(MATCH).is_in(groups.get_column(MATCH).implode())
    first = (~repeated).scatter(groups.get_column(POSITION), values=True)
    return CanonicalFrame(
        system=spec.system,
        entity=spec.entity,
        records=selected.with_columns((~repeated).alias(UNIQUE), first.alias(FIRST)),
        duplicates=groups.select(MATCH, KEY, "rows"),
        in_scope=selected.height,
        hash_safe=hash_safe,
        by_hash=by_hash,
    )


def _repeated(hashes: pl.Series, by_hash: pl.Series) -> pl.Series:
    """Which rows hold a hash that occurs more than once (``by_hash``: the rows in hash order).

    Sorting and comparing neighbours finds the few repeated values three times faster than
    ``is_duplicated``'s hash table on a million rows; only rows holding one of those values
    are then marked.
    """
    if hashes.len() < 2:
        return pl.Series(HASH, [False] * hashes.len(), dtype=pl.Boolean)
    ordered = hashes.gather(by_hash)
    later = ordered.slice(1)
    twice = later.filter(later == ordered.slice(0, ordered.len() - 1)).unique()
    return hashes.is_in(twice.implode())


def _mapped_field(field: FieldSpec) -> pl.Expr:
    """The raw text of a field under its canonical name (``map`` and ``scale`` apply at compare time)."""
    return pl.col(field.path).alias(field.name)
