"""A naive pure-Python reconciliation of the benchmark stack: the baseline Fieldwarden must beat.

What a developer would write in an afternoon: the ``csv`` module, one dict per record, a loop
per record and field, ``Decimal`` for money and numbers, and plain functions implementing the
same compare rules (SPEC) for the values this stack holds. Every value is normalised and
compared; no vectorisation, no raw-text shortcut.

``python -m bench.naive DATA_DIR -o OUT.json`` reads ``DATA_DIR/csv`` and writes
``{"discrepancies": [[kind, entity, key, field, owner, system], ...]}``.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from bench.stack import FIELDS, KEY_COMPARE, RESOURCES, FieldDef, pairs

__all__ = [
    "INVALID",
    "canonical_phone",
    "html_text",
    "main",
    "normalizer",
    "reconcile",
    "text",
]

INVALID = object()
"""A value that cannot be read as its field's type: a type problem, never a mismatch."""

_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_CURRENCY = r"(?:[A-Z]{0,3}[$€£¥₹₩₽₺₪฿₫]|[A-Z]{3})"
_CURRENCY_BEFORE = re.compile(rf"^([+-]?)\s*{_CURRENCY}\s*")
_CURRENCY_AFTER = re.compile(rf"\s*{_CURRENCY}$")
_SPACES = re.compile(r"\s+")
_COMMENT = re.compile(r"(?s)<!--.*?(?:-->|$)")
_SCRIPT = re.compile(r"(?is)<script\b[^>]*>.*?(?:</script\s*>|$)")
_STYLE = re.compile(r"(?is)<style\b[^>]*>.*?(?:</style\s*>|$)")
_BLOCK_TAG = re.compile(
    r"(?i)</?(?:address|article|aside|blockquote|br|dd|div|dl|dt|figcaption|figure|footer"
    r"|h[1-6]|header|hr|li|main|nav|ol|p|pre|section|table|tbody|td|tfoot|th|thead|tr|ul)"
    r"\b[^>]*>"
)
_OTHER_TAG = re.compile(r"<(?:/?[A-Za-z][^>]*|![^>]*|\?[^>]*)>")
_NON_DIGIT = re.compile(r"\D", re.ASCII)
_PHONE_CHARS = re.compile(r"\+?[\d\s().\-/]+", re.ASCII)
_TOLERANCE = {"money": Decimal("0.005")}

Value = object


def text(value: str, *, fold: bool = False) -> str | None:
    result = unicodedata.normalize("NFC", _SPACES.sub(" ", value).strip())
    if fold:
        result = unicodedata.normalize("NFC", result.casefold())
    return result or None


def html_text(value: str, *, fold: bool = False) -> str | None:
    stripped = _COMMENT.sub("", value)
    stripped = _SCRIPT.sub(" ", stripped)
    stripped = _STYLE.sub(" ", stripped)
    stripped = _BLOCK_TAG.sub(" ", stripped)
    stripped = _OTHER_TAG.sub("", stripped)
    return text(html.unescape(stripped), fold=fold)


def decimal(value: str, *, money: bool = False, scale: Decimal | None = None) -> Value:
    cleaned = value.strip()
    if money:
        cleaned = _CURRENCY_AFTER.sub("", _CURRENCY_BEFORE.sub(r"\1", cleaned))
    if not _NUMBER.fullmatch(cleaned):
        return INVALID
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        return INVALID
    return number * scale if scale is not None else number


def integer(value: str, *, scale: Decimal | None = None) -> Value:
    number = decimal(value)
    if not isinstance(number, Decimal) or number != number.to_integral_value():
        return INVALID
    return number * scale if scale is not None else number


def canonical_phone(value: str) -> str | None:
    """E.164 of a North American number ("+15550100123"), or None when it is not one."""
    cleaned = " ".join(value.strip().split())
    if not _PHONE_CHARS.fullmatch(cleaned):
        return None
    digits = _NON_DIGIT.sub("", cleaned)
    if cleaned.startswith("+") or (len(digits) == 11 and digits.startswith("1")):
        international = digits
    elif len(digits) == 10:
        international = "1" + digits
    else:
        return None
    return "+" + international


def phone(value: str) -> Value:
    result = canonical_phone(value)
    return INVALID if result is None else result


def normalizer(f: FieldDef, side: str) -> Callable[[str], Value]:
    """value (non-empty text) -> canonical value or INVALID, for one side of field ``f``."""
    raw_scale = f.owner_scale if side == "owner" else f.reader_scale
    scale = Decimal(raw_scale) if raw_scale else None
    if f.compare == "money":
        return lambda v: decimal(v, money=True, scale=scale)
    if f.compare == "number":
        return lambda v: decimal(v, scale=scale)
    if f.compare == "integer":
        return lambda v: integer(v, scale=scale)
    if f.compare == "text":
        return lambda v: text(v, fold=f.casefold)
    if f.compare == "html":
        return lambda v: html_text(v, fold=f.casefold)
    if f.compare == "phone":
        return phone
    raise ValueError(f"the naive reference does not implement compare {f.compare!r}")


def equal(a: Value, b: Value, compare: str) -> bool:
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return abs(a - b) <= _TOLERANCE.get(compare, Decimal(0))
    return a == b


def _empty(value: str | None) -> bool:
    return value is None or value.strip() == ""


def _match(key: str, key_compare: str) -> str:
    return key.strip().lower() if key_compare == "email" else key


Row = dict[str, str]
Found = set[tuple[str, str, str | None, str | None, str | None, str]]


def _read(path: Path, key: str, where: dict[str, str], key_compare: str) -> dict[str, list[Row]]:
    """match key -> the records holding it (in scope), in file order."""
    records: dict[str, list[Row]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if any(row[column].strip() != accepted for column, accepted in where.items()):
                continue
            if not row[key]:
                continue
            records.setdefault(_match(row[key], key_compare), []).append(row)
    return records


def reconcile(directory: Path) -> Found:
    found: Found = set()
    for entity, systems in RESOURCES.items():
        key_compare = KEY_COMPARE[entity]
        data: dict[str, dict[str, list[Row]]] = {}
        for system, (resource, key, where) in systems.items():
            path = directory / "csv" / system / f"{resource}.csv"
            data[system] = records = _read(path, key, where, key_compare)
            for rows in records.values():
                if len(rows) > 1:
                    found.add(("duplicate_key", entity, rows[0][key], None, None, system))
        for (owner, reader), fields in pairs(entity).items():
            o_key, r_key = systems[owner][1], systems[reader][1]
            o_data, r_data = data[owner], data[reader]
            for match, rows in o_data.items():
                if match not in r_data:
                    found.add(("missing_in_reader", entity, rows[0][o_key], None, owner, reader))
            for match, rows in r_data.items():
                if match not in o_data:
                    found.add(("orphan_in_reader", entity, rows[0][r_key], None, owner, reader))
            rules = [(f, normalizer(f, "owner"), normalizer(f, "reader")) for f in fields]
            for match, o_rows in o_data.items():
                r_rows = r_data.get(match)
                if r_rows is None or len(o_rows) > 1 or len(r_rows) > 1:
                    continue
                o_row, r_row = o_rows[0], r_rows[0]
                for f, o_norm, r_norm in rules:
                    o_raw, r_raw = o_row[f.owner_path], r_row[f.reader_path]
                    o_val = None if _empty(o_raw) else o_norm(o_raw)
                    r_val = None if _empty(r_raw) else r_norm(r_raw)
                    if o_val is INVALID or r_val is INVALID or (o_val is None and r_val is None):
                        continue
                    if o_val is None:
                        kind = "missing_owner_value"
                    elif r_val is None or not equal(o_val, r_val, f.compare):
                        kind = "value_mismatch"
                    else:
                        continue
                    found.add((kind, entity, r_row[r_key], f.name, owner, reader))
    return found


def write_found(found: Found, output: Path) -> None:
    items = sorted(found, key=lambda t: tuple("" if p is None else p for p in t))
    output.write_text(json.dumps({"discrepancies": [list(t) for t in items]}), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    write_found(reconcile(args.directory), args.output)
    return 0


assert all(f.compare in ("money", "number", "integer", "text", "html", "phone") for f in FIELDS)

if __name__ == "__main__":
    sys.exit(main())
