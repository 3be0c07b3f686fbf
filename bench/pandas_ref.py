"""A plain pandas merge-and-compare reconciliation of the benchmark stack.

What a competent pandas user would write: ``read_csv(dtype=str)``, one ``merge`` per
(owner, reader) pair, and per field vectorised ``.str`` / ``to_numeric`` comparisons with the
same compare rules (SPEC); Python runs only once per *distinct* value where no vectorised form
exists (phone numbers, rare HTML entities). Money and numbers are floats compared after
rounding the difference to 1e-9, so the inclusive 0.005 tolerance holds despite binary noise.

``python -m bench.pandas_ref DATA_DIR -o OUT.json`` reads ``DATA_DIR/csv`` and writes
``{"discrepancies": [[kind, entity, key, field, owner, system], ...]}``.
"""

from __future__ import annotations

import argparse
import html
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bench.naive import Found, canonical_phone, write_found
from bench.stack import KEY_COMPARE, RESOURCES, FieldDef, pairs

__all__ = ["main", "normalize", "reconcile"]

# Python's \s, spelled out with literal characters: pandas hands a pattern holding \s, \b or
# \uXXXX to Python's re one value at a time, but this one to pyarrow's vectorised RE2.
_WS = "[ \t\n\r\f\v\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_NUMBER = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_CURRENCY = r"(?:[A-Z]{0,3}[$€£¥₹₩₽₺₪฿₫]|[A-Z]{3})"
_BLOCK_TAG = (
    r"(?i)</?(?:address|article|aside|blockquote|br|dd|div|dl|dt|figcaption|figure|footer"
    r"|h[1-6]|header|hr|li|main|nav|ol|p|pre|section|table|tbody|td|tfoot|th|thead|tr|ul)"
    r"(?:[^>A-Za-z0-9_][^>]*)?>"  # \b[^>]*> without \b
)
_OTHER_TAG = r"<(?:/?[A-Za-z][^>]*|![^>]*|\?[^>]*)>"


def _text(s: pd.Series, fold: bool) -> pd.Series:
    out = s.str.replace(f"{_WS}+", " ", regex=True).str.strip().str.normalize("NFC")
    if fold:
        out = out.str.casefold().str.normalize("NFC")
    return out.where(out != "")


def _numeric(s: pd.Series, compare: str, scale: str | None) -> tuple[pd.Series, pd.Series]:
    cleaned = s.str.strip()
    if compare == "money":
        cleaned = cleaned.str.replace(rf"^([+-]?){_WS}*{_CURRENCY}{_WS}*", r"\1", regex=True)
        cleaned = cleaned.str.replace(rf"{_WS}*{_CURRENCY}$", "", regex=True)
    shaped = cleaned.str.fullmatch(_NUMBER).fillna(False).astype(bool)
    number = pd.to_numeric(cleaned.where(shaped), errors="coerce")
    readable = number.notna()
    if compare == "integer":
        readable &= number == number.round()
    if scale:
        number = number * float(scale)
    return number.where(readable), s.notna() & ~readable


def normalize(s: pd.Series, f: FieldDef, side: str) -> tuple[pd.Series, pd.Series]:
    """(canonical values, invalid) of non-empty text ``s`` (empties already NaN)."""
    scale = f.owner_scale if side == "owner" else f.reader_scale
    if f.compare in ("money", "number", "integer"):
        return _numeric(s, f.compare, scale)
    no = pd.Series(False, index=s.index)
    if f.compare == "text":
        return _text(s, f.casefold), no
    if f.compare == "html":
        stripped = (
            s.str.replace(r"(?s)<!--.*?(?:-->|$)", "", regex=True)
            .str.replace(
                rf"(?is)<script(?:[^>A-Za-z0-9_][^>]*)?>.*?(?:</script{_WS}*>|$)", " ", regex=True
            )
            .str.replace(
                rf"(?is)<style(?:[^>A-Za-z0-9_][^>]*)?>.*?(?:</style{_WS}*>|$)", " ", regex=True
            )
            .str.replace(_BLOCK_TAG, " ", regex=True)
            .str.replace(_OTHER_TAG, "", regex=True)
        )
        entity = stripped.str.contains("&", regex=False).fillna(False).astype(bool)
        distinct = stripped[entity].unique()
        decoded = dict(zip(distinct, (html.unescape(v) for v in distinct), strict=True))
        stripped = stripped.where(~entity, stripped[entity].map(decoded).astype(stripped.dtype))
        return _text(stripped, f.casefold), no
    if f.compare == "phone":
        distinct = s.dropna().unique()
        canonical = dict(zip(distinct, (canonical_phone(v) for v in distinct), strict=True))
        values = s.map(canonical)
        return values, s.notna() & values.isna()
    raise ValueError(f"the pandas reference does not implement compare {f.compare!r}")


def _read(path: Path, key: str, where: dict[str, str], key_compare: str) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column, accepted in where.items():
        frame = frame[frame[column].str.strip() == accepted]
    frame = frame[frame[key] != ""]
    match = frame[key].str.strip().str.lower() if key_compare == "email" else frame[key]
    return frame.assign(__match__=match)


def reconcile(directory: Path) -> Found:
    found: Found = set()
    for entity, systems in RESOURCES.items():
        key_compare = KEY_COMPARE[entity]
        frames: dict[str, pd.DataFrame] = {}
        firsts: dict[str, pd.DataFrame] = {}
        for system, (resource, key, where) in systems.items():
            frame = _read(directory / "csv" / system / f"{resource}.csv", key, where, key_compare)
            held_more = frame["__match__"].duplicated(keep=False)
            later = frame["__match__"].duplicated(keep="first")
            for display in frame.loc[held_more & ~later, key]:
                found.add(("duplicate_key", entity, display, None, None, system))
            frames[system] = frame[~held_more]
            firsts[system] = frame.loc[~later, ["__match__", key]]
        for (owner, reader), fields in pairs(entity).items():
            o_key, r_key = systems[owner][1], systems[reader][1]
            o_first, r_first = firsts[owner], firsts[reader]
            o_show, r_show = o_key + "__o", r_key + "__r"
            o_first = o_first.rename(columns={o_key: o_show})
            r_first = r_first.rename(columns={r_key: r_show})
            left_only = o_first.merge(r_first, on="__match__", how="left", indicator=True)
            right_only = r_first.merge(o_first, on="__match__", how="left", indicator=True)
            missing = left_only.loc[left_only["_merge"] == "left_only", o_show]
            orphans = right_only.loc[right_only["_merge"] == "left_only", r_show]
            found.update(("missing_in_reader", entity, k, None, owner, reader) for k in missing)
            found.update(("orphan_in_reader", entity, k, None, owner, reader) for k in orphans)
            left = frames[owner][["__match__", *{f.owner_path for f in fields}]]
            right = frames[reader][["__match__", r_key, *{f.reader_path for f in fields}]]
            merged = left.merge(right, on="__match__", suffixes=("__o", "__r"))
            for f in fields:
                o_col = f.owner_path + ("__o" if f.owner_path in right.columns else "")
                r_col = f.reader_path + ("__r" if f.reader_path in left.columns else "")
                o_raw = merged[o_col].where(merged[o_col].str.strip() != "")
                r_raw = merged[r_col].where(merged[r_col].str.strip() != "")
                o_val, o_bad = normalize(o_raw, f, "owner")
                r_val, r_bad = normalize(r_raw, f, "reader")
                if f.compare in ("money", "number", "integer"):
                    tolerance = 0.005 if f.compare == "money" else 0.0
                    same = ((o_val - r_val).abs().round(9) <= tolerance).to_numpy()
                else:
                    same = (o_val == r_val).to_numpy()
                o_empty, r_empty = o_val.isna().to_numpy(), r_val.isna().to_numpy()
                usable = ~(o_bad.to_numpy() | r_bad.to_numpy()) & ~(o_empty & r_empty)
                owner_missing = usable & o_empty
                mismatch = usable & ~o_empty & (r_empty | ~same)
                keys = merged[r_key].to_numpy()
                for kind, mask in (
                    ("missing_owner_value", owner_missing),
                    ("value_mismatch", mismatch),
                ):
                    found.update(
                        (kind, entity, k, f.name, owner, reader) for k in keys[np.flatnonzero(mask)]
                    )
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    write_found(reconcile(args.directory), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
