"""From a connector's raw frame to the engine's canonical frame for one (system, entity).

The canonical frame has ``MATCH`` (the key normalised by the entity's ``key_compare``, used to
align systems), ``KEY`` (the key as the system writes it, parts joined by ``|``, used in output and
fingerprints), ``ROW_COLUMN``, and one column per mapped canonical field holding the raw text.
``where`` scopes are applied here, before anything is compared, and keys held more than once are
split off: they are reported as ``duplicate_key`` and never value-compared, never silently resolved.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from connectors.base import ROW_COLUMN, FieldSpec, ResourceSpec, SourceFrame

__all__ = [
    "KEY",
    "KEY_SEPARATOR",
    "MATCH",
    "CanonicalFrame",
    "canonical_frame",
    "display_key",
    "match_expr",
]

KEY = "__key__"
MATCH = "__match__"
KEY_SEPARATOR = "|"


@dataclass(slots=True)
class CanonicalFrame:
    system: str
    entity: str
    unique: pl.DataFrame
    """Records whose key is held once: these are value-compared."""
    keys: pl.DataFrame
    """Every distinct key in scope (MATCH, KEY), duplicates included: used for missing/orphan."""
    duplicates: pl.DataFrame
    """MATCH, KEY, rows (list of record positions) for keys held more than once."""
    in_scope: int
    """Records in scope after ``where``."""


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
    counts = selected.group_by(MATCH).agg(
        pl.len().alias("__n__"), pl.col(KEY).first(), pl.col(ROW_COLUMN).alias("rows")
    )
    duplicates = counts.filter(pl.col("__n__") > 1).select(MATCH, KEY, "rows")
    if duplicates.height:
        unique = selected.join(duplicates.select(MATCH), on=MATCH, how="anti")
    else:
        unique = selected
    return CanonicalFrame(
        system=spec.system,
        entity=spec.entity,
        unique=unique,
        keys=counts.select(MATCH, KEY),
        duplicates=duplicates,
        in_scope=selected.height,
    )


def _mapped_field(field: FieldSpec) -> pl.Expr:
    """The raw text of a field under its canonical name (``map`` and ``scale`` apply at compare time)."""
    return pl.col(field.path).alias(field.name)
