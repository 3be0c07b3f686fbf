"""Deterministic generator of an N-SKU benchmark stack (see ``bench.stack`` for its layout).

``python -m bench.generate --sizes 2000,100000`` writes ``bench/data/<N>/``:

* ``csv/<system>/<resource>.csv`` and ``parquet/<system>/<resource>.parquet`` (the ERP's
  parquet export is typed: Decimal prices and weights, Int64 stock; every other column is text);
* ``fieldwarden-csv.yaml`` / ``fieldwarden-parquet.yaml`` (SQLite storage in the same folder);
* ``truth.json``: the ground-truth discrepancy set, a sorted list of
  ``[kind, entity, key, field, owner, system]``, plus counts.

What is planted, per field (~1% of records): a real value change (sometimes just over the
tolerance, e.g. +0.006 on money), an empty reader value against a non-empty owner value
(``value_mismatch``), or an empty owner value (``missing_owner_value``); ~0.2% of keys missing
in a reader, ~0.1% orphans, a few duplicate keys per system (the duplicate carries different
values, which must not be compared), draft variants out of the ``where`` scope; and noise inside
every compare rule that must NOT be reported (listed in ``bench.stack``).

The truth is derived from what was planted, not by running any comparator: record-level kinds
come from the key sets (with ``where`` and the key rule applied), value-level kinds from the
planted event flags of records whose key is held once in both systems.
Everything is vectorised (numpy + polars); the same N and seed give byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bench.stack import (
    DATA_ROOT,
    KEY_COMPARE,
    RESOURCES,
    config_path,
    data_dir,
    pairs,
    write_configs,
)

__all__ = ["SEED", "Truth", "compute_truth", "generate", "load_truth", "ready"]

SEED = 20261127
EVENT_RATE = 0.01
MISSING_RATE = 0.002
ORPHAN_RATE = 0.001
DRAFT_RATE = 0.0005

Truth = set[tuple[str, str, str | None, str | None, str | None, str]]

# Kinds of planted value events (0: none).
_DRIFT, _READER_EMPTY, _OWNER_EMPTY = 1, 2, 3
_EVENT_KIND = {
    _DRIFT: "value_mismatch",
    _READER_EMPTY: "value_mismatch",
    _OWNER_EMPTY: "missing_owner_value",
}

ADJECTIVES = [
    "Red",
    "Blue",
    "Green",
    "Classic",
    "Modern",
    "Rustic",
    "Café",
    "Crème",
    "Naïve",
    "Alpine",
    "Urban",
    "Coastal",
    "Soft",
    "Sturdy",
    "Light",
    "Heavy",
    "Compact",
    "Deluxe",
    "Basic",
    "Pro",
    "Vintage",
    "Nordic",
    "Señor",
    "Über",
    "Jalapeño",
    "Smart",
    "Eco",
    "Trail",
    "Summit",
    "Daily",
]
NOUNS = [
    "Shirt",
    "Mug",
    "Backpack",
    "Jacket",
    "Lamp",
    "Chair",
    "Table",
    "Bottle",
    "Tent",
    "Boots",
    "Scarf",
    "Hat",
    "Gloves",
    "Blanket",
    "Pillow",
    "Kettle",
    "Pan",
    "Knife",
    "Sofa",
    "Desk",
    "Shelf",
    "Rug",
    "Vase",
    "Clock",
    "Frame",
    "Candle",
    "Towel",
    "Apron",
    "Basket",
    "Stool",
    "Helmet",
    "Jersey",
    "Socks",
    "Belt",
    "Wallet",
    "Watch",
    "Tote",
    "Duffel",
    "Hoodie",
    "Parka",
]
MATERIALS = [
    "cotton",
    "wool",
    "linen",
    "suède",
    "leather",
    "crêpe",
    "lamé",
    "bamboo",
    "oak",
    "steel",
    "ceramic",
    "glass",
    "nylon",
    "polyester",
    "silk",
    "cashmere",
    "walnut",
    "copper",
    "cork",
    "hemp",
]
CARE = ["hand wash", "machine wash cold", "wipe clean", "dry clean only", "do not tumble dry"]
FIRST_NAMES = [
    "Ann",
    "José",
    "Zoë",
    "Renée",
    "Lars",
    "Mia",
    "Noah",
    "Émile",
    "Björn",
    "Chloé",
    "Liam",
    "Olivia",
    "Mateo",
    "Sofía",
    "Ines",
    "Yusuf",
    "Aiko",
    "Raúl",
    "Léa",
    "Omar",
    "Priya",
    "Jonas",
    "Elena",
    "Marta",
    "Hugo",
    "Nina",
    "Ravi",
    "Sara",
    "Tomás",
    "Clara",
]
LAST_NAMES = [
    "Lee",
    "Müller",
    "Núñez",
    "García",
    "Smith",
    "Dubois",
    "Rossi",
    "Novák",
    "Öztürk",
    "Jensen",
    "Kowalski",
    "Silva",
    "Brown",
    "Martín",
    "Søgaard",
    "Nguyen",
    "Ibáñez",
    "Larsen",
    "Moreau",
    "Fischer",
    "Costa",
    "Eriksson",
    "Walsh",
    "Patel",
    "Kim",
    "Lòpez",
    "Weiß",
    "Olsen",
    "Hall",
    "Young",
]
ASCII = str.maketrans("éëèüñáóúíöøßòçô", "eeeunaouioosoco")
DOMAINS = ["example.com", "mail.example.org", "shop.example.net", "Example.co.uk"]


# --- small vectorised helpers --------------------------------------------------------------


def _pick(variant: str, options: Sequence[pl.Expr]) -> pl.Expr:
    """``options[variant]`` row by row."""
    expr: Any = pl.when(pl.col(variant) == 0).then(options[0])
    for number, option in enumerate(options[1:], start=1):
        expr = expr.when(pl.col(variant) == number).then(option)
    result: pl.Expr = expr.otherwise(options[-1])
    return result


def _cents(expr: pl.Expr) -> pl.Expr:
    """Integer cents -> "19.90"."""
    return pl.format("{}.{}", expr // 100, (expr % 100).cast(pl.Utf8).str.zfill(2))


def _mills(expr: pl.Expr) -> pl.Expr:
    """Integer thousandths -> "19.905"."""
    return pl.format("{}.{}", expr // 1000, (expr % 1000).cast(pl.Utf8).str.zfill(3))


def _word(column: str, words: Sequence[str]) -> pl.Expr:
    return pl.col(column).replace_strict(list(range(len(words))), list(words), return_dtype=pl.Utf8)


def _variants(rng: np.random.Generator, n: int, weights: Sequence[float]) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum()).astype(np.int8)


def _events(rng: np.random.Generator, n: int) -> np.ndarray:
    """Per record: 0 none, or a planted event (90% drift, 5% reader empty, 5% owner empty)."""
    hit = rng.random(n) < EVENT_RATE
    kind = _variants(rng, n, [0.9, 0.05, 0.05]) + 1
    return np.where(hit, kind, 0).astype(np.int8)


def _other(rng: np.random.Generator, values: np.ndarray, size: int) -> np.ndarray:
    """A different index in ``range(size)`` for each value."""
    return (values + rng.integers(1, size, values.shape[0])) % size


# --- products ------------------------------------------------------------------------------


def _product_base(rng: np.random.Generator, count: int, start: int) -> pl.DataFrame:
    price = rng.integers(199, 99_999, count)
    return pl.DataFrame(
        {
            "i": np.arange(start, start + count, dtype=np.int64),
            "price_c": price,
            "cost_c": (price * rng.uniform(0.3, 0.8, count)).astype(np.int64),
            "stock_n": rng.integers(0, 500, count),
            "weight_n": rng.integers(50, 25_000, count),
            "adj": rng.integers(0, len(ADJECTIVES), count),
            "noun": rng.integers(0, len(NOUNS), count),
            "mat1": rng.integers(0, len(MATERIALS), count),
            "mat2": rng.integers(0, len(MATERIALS), count),
            "care": rng.integers(0, len(CARE), count),
        }
    ).with_columns(sku=pl.format("SKU-{}", pl.col("i").cast(pl.Utf8).str.zfill(7)))


def _text_columns(noun: str, mat1: str) -> dict[str, pl.Expr]:
    """Title and description (plain text D, escaped D, care line) from word indices."""
    title = pl.format(
        "{} {} M{}", _word("adj", ADJECTIVES), _word(noun, NOUNS), (pl.col("i") % 1000)
    )
    text = pl.format(
        "{} {} made of {} & {}.",
        _word("adj", ADJECTIVES),
        _word(noun, NOUNS).str.to_lowercase(),
        _word(mat1, MATERIALS),
        _word("mat2", MATERIALS),
    )
    return {"title": title, "text": text, "care_line": pl.format("Care: {}", _word("care", CARE))}


def _money_reader(prefix: str) -> pl.Expr:
    """Storefront text of a money amount in cents ``{prefix}_c``, per noise/drift variant."""
    c = pl.col(f"{prefix}_c")
    d = pl.col(f"{prefix}_d")
    two = _cents(c)
    noise = _pick(
        f"{prefix}_v",
        [
            two,  # "19.90"
            two.str.strip_chars_end("0").str.strip_chars_end("."),  # "19.9", "19"
            pl.format("${}", two),
            pl.format("{} USD", two),
            _mills(c * 10 + 5),  # +0.005: inside the tolerance (inclusive)
            _mills(c * 10 - 5),
            pl.format(" {} ", two),
            pl.format("{}0", two),  # "19.900"
        ],
    )
    drift = _pick(
        f"{prefix}_dv",
        [_cents(c + d), _mills(c * 10 + 6), _mills(c * 10 - 6), pl.format("${}", _cents(c + d))],
    )
    return _apply_event(f"{prefix}_e", noise, drift)


def _apply_event(event: str, noise: pl.Expr, drift: pl.Expr) -> pl.Expr:
    """The reader's value: drifted, empty, or (no event / owner empty) a noisy equal value."""
    e = pl.col(event)
    return (
        pl.when(e == _DRIFT)
        .then(drift)
        .when(e == _READER_EMPTY)
        .then(pl.lit(None, dtype=pl.Utf8))
        .otherwise(noise)
    )


def _owner(event: str, value: pl.Expr) -> pl.Expr:
    return pl.when(pl.col(event) == _OWNER_EMPTY).then(pl.lit(None, dtype=pl.Utf8)).otherwise(value)


def _esc(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_all("&", "&amp;", literal=True)


def _products(rng: np.random.Generator, n: int) -> dict[str, pl.DataFrame]:
    """erp/products, pim/products and storefront/variants, with planted event columns."""
    base = _product_base(rng, n, 0)
    base = base.with_columns(
        **{
            f"{f}_e": pl.Series(_events(rng, n))
            for f in ("price", "cost", "stock", "weight", "title", "description")
        },
        price_v=pl.Series(_variants(rng, n, [40, 15, 10, 10, 5, 5, 5, 10])),
        cost_v=pl.Series(_variants(rng, n, [40, 15, 10, 10, 5, 5, 5, 10])),
        price_dv=pl.Series(_variants(rng, n, [70, 10, 10, 10])),
        cost_dv=pl.Series(_variants(rng, n, [70, 10, 10, 10])),
        price_d=pl.Series(rng.integers(1, 500, n)),
        cost_d=pl.Series(rng.integers(1, 500, n)),
        stock_v=pl.Series(_variants(rng, n, [60, 10, 10, 10, 10])),
        stock_d=pl.Series(rng.integers(1, 50, n)),
        weight_v=pl.Series(_variants(rng, n, [60, 15, 15, 10])),
        weight_d=pl.Series(rng.integers(1, 200, n)),
        title_v=pl.Series(_variants(rng, n, [50, 15, 15, 10, 10])),
        desc_v=pl.Series(_variants(rng, n, [50, 10, 10, 10, 10, 10])),
        noun2=pl.Series(_other(rng, base.get_column("noun").to_numpy(), len(NOUNS))),
        mat1b=pl.Series(_other(rng, base.get_column("mat1").to_numpy(), len(MATERIALS))),
        empty_v=pl.Series(rng.random(n)),
    )
    base = base.with_columns(
        **_text_columns("noun", "mat1"),
        title_drift=_text_columns("noun2", "mat1")["title"],
        text_drift=_text_columns("noun", "mat1b")["text"],
    )
    quiet = (pl.col("empty_v") < 0.005) & (pl.col("cost_e") == 0)
    # erp: the owner of price, cost, stock and weight writes canonical values.
    erp = base.select(
        "sku",
        price=_owner("price_e", _cents(pl.col("price_c"))),
        cost=pl.when(quiet)
        .then(pl.lit(None, dtype=pl.Utf8))
        .otherwise(_owner("cost_e", _cents(pl.col("cost_c")))),
        stock=_owner("stock_e", pl.col("stock_n").cast(pl.Utf8)),
        weight_kg=_owner("weight_e", _mills(pl.col("weight_n"))),
    )
    # pim: owner of title and description, reader of weight (in grams).
    grams = pl.col("weight_n").cast(pl.Utf8)
    pim_html = pl.format("<p>{}</p><ul><li>{}</li></ul>", _esc(pl.col("text")), pl.col("care_line"))
    desc_quiet = (pl.col("empty_v") > 0.995) & (pl.col("description_e") == 0)
    pim = base.select(
        "sku",
        title=_owner("title_e", pl.col("title")),
        description=pl.when(desc_quiet)
        .then(pl.lit(None, dtype=pl.Utf8))
        .otherwise(_owner("description_e", pim_html)),
        weight_g=_apply_event(
            "weight_e",
            _pick(
                "weight_v",
                [
                    grams,
                    pl.format("{}.0", grams),
                    pl.format(" {}", grams),
                    pl.format("{}.000", grams),
                ],
            ),
            (pl.col("weight_n") + pl.col("weight_d")).cast(pl.Utf8),
        ),
    )
    # storefront: reader of everything but weight.
    stock = pl.col("stock_n").cast(pl.Utf8)
    title = pl.col("title")
    text = pl.col("text")
    care = pl.col("care_line")
    html_noise = _pick(
        "desc_v",
        [
            pim_html,
            pl.format("<div>{}</div><ul><li>{}</li></ul>", text, care),
            pl.format(
                '<p class="lead">{}</p> <ul>\t<li>{}</li> </ul>',
                _esc(text).str.replace(" ", "&nbsp;", literal=True),
                care,
            ),
            pl.format("{} {}", text, care),
            pl.format("<p><b>{}</b></p><ul><li><i>{}</i></li></ul>", _esc(text), care),
            pim_html.str.replace_all("è", "&egrave;", literal=True)
            .str.replace_all("ê", "&ecirc;", literal=True)
            .str.replace_all("é", "&eacute;", literal=True),
        ],
    )
    storefront = base.select(
        "sku",
        price=_money_reader("price"),
        cost=pl.when(quiet).then(pl.lit(None, dtype=pl.Utf8)).otherwise(_money_reader("cost")),
        stock=_apply_event(
            "stock_e",
            _pick(
                "stock_v",
                [
                    stock,
                    pl.format("{}.0", stock),
                    pl.format("+{}", stock),
                    pl.format(" {} ", stock),
                    pl.format("{}.00", stock),
                ],
            ),
            (pl.col("stock_n") + pl.col("stock_d")).cast(pl.Utf8),
        ),
        title=_apply_event(
            "title_e",
            _pick(
                "title_v",
                [
                    title,
                    pl.format("  {} ", title),
                    title.str.replace_all(" ", "  ", literal=True),
                    title.str.normalize("NFD"),
                    title.str.replace(" ", "\t", literal=True),
                ],
            ),
            pl.col("title_drift"),
        ),
        description=pl.when(desc_quiet)
        .then(pl.lit("<p><br></p>"))
        .otherwise(
            _apply_event(
                "description_e",
                html_noise,
                pl.format("<p>{}</p><ul><li>{}</li></ul>", _esc(pl.col("text_drift")), care),
            )
        ),
        status=pl.when(pl.col("empty_v").is_between(0.3, 0.301))
        .then(pl.lit(" active "))
        .otherwise(pl.lit("active")),
        **{
            f"__ev_{f}": pl.col(f"{f}_e")
            for f in ("price", "cost", "stock", "title", "description")
        },
    )
    pim = pim.with_columns(__ev_weight=base.get_column("weight_e"))
    # A few unreadable stock values: a type problem each, never a mismatch.
    bad = rng.choice(n, size=max(2, n // 200_000), replace=False)
    bad_mask = np.zeros(n, dtype=bool)
    bad_mask[bad] = True
    storefront = storefront.with_columns(
        stock=pl.when(pl.Series(bad_mask) & (pl.col("__ev_stock") == 0))
        .then(pl.lit("n/a"))
        .otherwise(pl.col("stock"))
    )
    return {"erp": erp, "pim": pim, "storefront": storefront}


def _plain_products(rng: np.random.Generator, count: int, start: int) -> pl.DataFrame:
    """Records outside the shared catalogue (orphans), with plausible, un-planted values."""
    base = _product_base(rng, count, start).with_columns(**_text_columns("noun", "mat1"))
    return base.select(
        "sku",
        price=_cents(pl.col("price_c")),
        cost=_cents(pl.col("cost_c")),
        stock=pl.col("stock_n").cast(pl.Utf8),
        weight_kg=_mills(pl.col("weight_n")),
        weight_g=pl.col("weight_n").cast(pl.Utf8),
        title=pl.col("title"),
        description=pl.format("<p>{}</p>", _esc(pl.col("text"))),
        status=pl.lit("active"),
    )


# --- customers -----------------------------------------------------------------------------


def _customer_base(rng: np.random.Generator, count: int, start: int) -> pl.DataFrame:
    ascii_first = [name.translate(ASCII).lower() for name in FIRST_NAMES]
    ascii_last = [name.translate(ASCII).lower() for name in LAST_NAMES]
    frame = pl.DataFrame(
        {
            "i": np.arange(start, start + count, dtype=np.int64),
            "first": rng.integers(0, len(FIRST_NAMES), count),
            "last": rng.integers(0, len(LAST_NAMES), count),
            "domain": rng.integers(0, len(DOMAINS), count),
            "area": rng.integers(201, 990, count),
            "exch": rng.integers(200, 1000, count),
            "line": rng.integers(0, 10_000, count),
        }
    )
    return frame.with_columns(
        email=pl.format(
            "{}.{}.{}@{}",
            _word("first", ascii_first),
            _word("last", ascii_last),
            pl.col("i"),
            _word("domain", DOMAINS).str.to_lowercase(),
        ),
        first_name=_word("first", FIRST_NAMES),
        last_name=_word("last", LAST_NAMES),
    )


def _phone(area: pl.Expr, exch: pl.Expr, line: pl.Expr, variant: str) -> pl.Expr:
    digits = line.cast(pl.Utf8).str.zfill(4)
    return _pick(
        variant,
        [
            pl.format("+1 {}-{}-{}", area, exch, digits),
            pl.format("({}) {}-{}", area, exch, digits),
            pl.format("{}.{}.{}", area, exch, digits),
            pl.format("1-{}-{}-{}", area, exch, digits),
            pl.format("+1{}{}{}", area, exch, digits),
            pl.format("{}{}{}", area, exch, digits),
            pl.format("+1 ({}) {} {}", area, exch, digits),
        ],
    )


def _name_noise(column: str, variant: str) -> pl.Expr:
    name = pl.col(column)
    return _pick(
        variant,
        [
            name,
            name.str.to_uppercase(),
            name.str.to_lowercase(),
            pl.format("  {} ", name),
            name.str.normalize("NFD"),
        ],
    )


def _customers(rng: np.random.Generator, m: int) -> dict[str, pl.DataFrame]:
    base = _customer_base(rng, m, 0)
    base = base.with_columns(
        phone_e=pl.Series(_events(rng, m)),
        first_name_e=pl.Series(_events(rng, m)),
        last_name_e=pl.Series(_events(rng, m)),
        crm_phone_v=pl.lit(0, dtype=pl.Int8),
        phone_v=pl.Series(_variants(rng, m, [20, 15, 15, 15, 10, 15, 10])),
        line2=pl.Series((base.get_column("line").to_numpy() + rng.integers(1, 10_000, m)) % 10_000),
        first2=pl.Series(_other(rng, base.get_column("first").to_numpy(), len(FIRST_NAMES))),
        last2=pl.Series(_other(rng, base.get_column("last").to_numpy(), len(LAST_NAMES))),
        first_v=pl.Series(_variants(rng, m, [50, 15, 15, 10, 10])),
        last_v=pl.Series(_variants(rng, m, [50, 15, 15, 10, 10])),
        email_v=pl.Series(_variants(rng, m, [60, 30, 10])),
    )
    area, exch = pl.col("area"), pl.col("exch")
    crm = base.select(
        "email",
        phone=_owner("phone_e", _phone(area, exch, pl.col("line"), "crm_phone_v")),
        first_name=_owner("first_name_e", pl.col("first_name")),
        last_name=_owner("last_name_e", pl.col("last_name")),
    )
    email = pl.col("email")
    storefront = base.select(
        email=_pick("email_v", [email, email.str.to_titlecase(), email.str.to_uppercase()]),
        phone=_apply_event(
            "phone_e",
            _phone(area, exch, pl.col("line"), "phone_v"),
            _phone(area, exch, pl.col("line2"), "phone_v"),
        ),
        first_name=_apply_event(
            "first_name_e", _name_noise("first_name", "first_v"), _word("first2", FIRST_NAMES)
        ),
        last_name=_apply_event(
            "last_name_e", _name_noise("last_name", "last_v"), _word("last2", LAST_NAMES)
        ),
        __ev_phone=pl.col("phone_e"),
        __ev_first_name=pl.col("first_name_e"),
        __ev_last_name=pl.col("last_name_e"),
    )
    return {"crm": crm, "storefront": storefront}


def _plain_customers(rng: np.random.Generator, count: int, start: int) -> pl.DataFrame:
    base = _customer_base(rng, count, start).with_columns(v=pl.lit(0, dtype=pl.Int8))
    return base.select(
        "email",
        phone=_phone(pl.col("area"), pl.col("exch"), pl.col("line"), "v"),
        first_name="first_name",
        last_name="last_name",
    )


# --- membership: missing, orphans, drafts, duplicates --------------------------------------


def _drop(frame: pl.DataFrame, rows: np.ndarray) -> pl.DataFrame:
    keep = np.ones(frame.height, dtype=bool)
    keep[rows] = False
    return frame.filter(pl.Series(keep))


def _append(frame: pl.DataFrame, extra: pl.DataFrame) -> pl.DataFrame:
    """``extra`` under ``frame``'s schema (absent columns null, extra columns dropped)."""
    columns = [
        (extra.get_column(c) if c in extra.columns else pl.Series(c, [None] * extra.height))
        .cast(frame.schema[c])
        .alias(c)
        for c in frame.columns
    ]
    return pl.concat([frame, pl.DataFrame(columns)])


def _shuffle(rng: np.random.Generator, frame: pl.DataFrame) -> pl.DataFrame:
    return frame[rng.permutation(frame.height)]


def _duplicates(
    rng: np.random.Generator, frame: pl.DataFrame, count: int, key: str, changes: dict[str, pl.Expr]
) -> pl.DataFrame:
    """Copies of ``count`` existing rows with other values (and, for emails, another case)."""
    rows = rng.choice(frame.height, size=count, replace=False)
    copies = frame[np.sort(rows)].with_columns(**changes)
    if key == "email":
        copies = copies.with_columns(pl.col("email").str.to_uppercase())
    return copies


def _build(n: int, seed: int) -> dict[tuple[str, str], pl.DataFrame]:
    rng = np.random.default_rng([seed, n])
    products = _products(rng, n)
    n_missing = max(1, round(n * MISSING_RATE))
    n_orphan = max(1, round(n * ORPHAN_RATE))
    n_draft = max(1, round(n * DRAFT_RATE))
    n_dup = max(2, n // 50_000)

    order = rng.permutation(n)
    pim_missing = order[:n_missing]
    sf_missing = order[n_missing : 2 * n_missing]
    sf_draft = order[2 * n_missing : 2 * n_missing + n_draft]

    erp = products["erp"]
    pim = _drop(products["pim"], pim_missing)
    storefront = products["storefront"]
    draft_mask = np.zeros(n, dtype=bool)
    draft_mask[sf_draft] = True
    storefront = storefront.with_columns(
        status=pl.when(pl.Series(draft_mask)).then(pl.lit("draft")).otherwise(pl.col("status"))
    )
    storefront = _drop(storefront, sf_missing)
    pim = _append(pim, _plain_products(rng, n_orphan, n))
    storefront = _append(storefront, _plain_products(rng, n_orphan, n + n_orphan))
    storefront = _append(
        storefront,
        _plain_products(rng, n_draft, n + 2 * n_orphan).with_columns(status=pl.lit("draft")),
    )

    erp = _shuffle(rng, erp)
    pim = _shuffle(rng, pim)
    storefront = _shuffle(rng, storefront)
    active = storefront.filter(pl.col("status") == "active")
    erp = pl.concat(
        [erp, _duplicates(rng, erp, n_dup, "sku", {"price": pl.lit("1.00"), "stock": pl.lit("0")})]
    )
    pim = pl.concat(
        [pim, _duplicates(rng, pim, n_dup, "sku", {"title": pl.format("{} (copy)", "title")})]
    )
    storefront = pl.concat(
        [storefront, _duplicates(rng, active, n_dup, "sku", {"price": pl.lit("0.01")})]
    )

    m = max(10, n // 5)
    customers = _customers(rng, m)
    crm = customers["crm"]
    sf_customers = _drop(
        customers["storefront"], rng.choice(m, size=max(1, round(m * MISSING_RATE)), replace=False)
    )
    sf_customers = _append(sf_customers, _plain_customers(rng, max(1, round(m * ORPHAN_RATE)), m))
    crm = _shuffle(rng, crm)
    sf_customers = _shuffle(rng, sf_customers)
    n_cdup = max(2, m // 50_000)
    crm = pl.concat(
        [crm, _duplicates(rng, crm, n_cdup, "email", {"last_name": pl.lit("Duplicate")})]
    )
    sf_customers = pl.concat(
        [
            sf_customers,
            _duplicates(rng, sf_customers, n_cdup, "email", {"phone": pl.lit("+1 201-555-0000")}),
        ]
    )
    return {
        ("product", "erp"): erp,
        ("product", "pim"): pim,
        ("product", "storefront"): storefront,
        ("customer", "crm"): crm,
        ("customer", "storefront"): sf_customers,
    }


# --- truth ---------------------------------------------------------------------------------


def match_key(column: pl.Expr, key_compare: str) -> pl.Expr:
    if key_compare == "exact":
        return column
    return column.str.strip_chars().str.to_lowercase()  # email


def compute_truth(frames: dict[tuple[str, str], pl.DataFrame]) -> Truth:
    """The discrepancies Fieldwarden must report (SPEC kinds), from keys and planted events."""
    truth: Truth = set()
    keyed: dict[tuple[str, str], pl.DataFrame] = {}
    unique: dict[tuple[str, str], pl.DataFrame] = {}
    for (entity, system), frame in frames.items():
        _, key, where = RESOURCES[entity][system]
        data = frame
        for column, accepted in where.items():
            data = data.filter(pl.col(column).str.strip_chars() == accepted)
        data = data.with_columns(match=match_key(pl.col(key), KEY_COMPARE[entity]), key=pl.col(key))
        groups = data.group_by("match", maintain_order=True).agg(
            pl.col("key").first(), pl.len().alias("n")
        )
        for display in groups.filter(pl.col("n") > 1).get_column("key").to_list():
            truth.add(("duplicate_key", entity, display, None, None, system))
        keyed[(entity, system)] = groups
        once = groups.filter(pl.col("n") == 1).get_column("match")
        unique[(entity, system)] = data.filter(pl.col("match").is_in(once.implode()))
    for entity in RESOURCES:
        for (owner, reader), fields in pairs(entity).items():
            o_keys, r_keys = keyed[(entity, owner)], keyed[(entity, reader)]
            for display in o_keys.join(r_keys, on="match", how="anti").get_column("key").to_list():
                truth.add(("missing_in_reader", entity, display, None, owner, reader))
            for display in r_keys.join(o_keys, on="match", how="anti").get_column("key").to_list():
                truth.add(("orphan_in_reader", entity, display, None, owner, reader))
            both = unique[(entity, reader)].join(
                unique[(entity, owner)].select("match"), on="match", how="semi"
            )
            for f in fields:
                hits = both.filter(pl.col(f"__ev_{f.name}") > 0)
                for display, event in hits.select("key", f"__ev_{f.name}").iter_rows():
                    truth.add((_EVENT_KIND[event], entity, display, f.name, owner, reader))
    return truth


def load_truth(directory: Path) -> Truth:
    data = json.loads((directory / "truth.json").read_text(encoding="utf-8"))
    return {tuple(item) for item in data["discrepancies"]}


# --- writing -------------------------------------------------------------------------------

_ERP_TYPES: dict[str, Any] = {
    "price": pl.Decimal(12, 2),
    "cost": pl.Decimal(12, 2),
    "stock": pl.Int64,
    "weight_kg": pl.Decimal(12, 3),
}


def _public(entity: str, system: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The columns the system's export holds (planted-event columns dropped)."""
    columns = [c for c in frame.columns if not c.startswith("__")]
    if entity == "product":
        wanted = {
            "erp": ["sku", "price", "cost", "stock", "weight_kg"],
            "pim": ["sku", "title", "description", "weight_g"],
            "storefront": ["sku", "price", "cost", "stock", "title", "description", "status"],
        }[system]
        columns = [c for c in wanted if c in frame.columns]
    return frame.select(columns)


def _sort_key(item: tuple[str | None, ...]) -> tuple[str, ...]:
    return tuple("" if part is None else part for part in item)


def generate(n: int, root: Path = DATA_ROOT, seed: int = SEED) -> Path:
    """Write the N-SKU stack under ``root/<n>`` (replacing it) and return that folder."""
    directory = data_dir(n, root)
    if directory.exists():
        shutil.rmtree(directory)
    frames = _build(n, seed)
    truth = compute_truth(frames)
    for (entity, system), frame in frames.items():
        resource = RESOURCES[entity][system][0]
        public = _public(entity, system, frame)
        for fmt in ("csv", "parquet"):
            folder = directory / fmt / system
            folder.mkdir(parents=True, exist_ok=True)
            if fmt == "csv":
                public.write_csv(folder / f"{resource}.csv")
            else:
                typed = public
                if system == "erp":
                    typed = public.with_columns(pl.col(c).cast(t) for c, t in _ERP_TYPES.items())
                typed.write_parquet(folder / f"{resource}.parquet")
    write_configs(directory)
    items = sorted(truth, key=_sort_key)
    counts: dict[str, int] = {}
    for item in items:
        counts[item[0]] = counts.get(item[0], 0) + 1
    document = {
        "n": n,
        "seed": seed,
        "records": {f"{e}/{s}": f.height for (e, s), f in frames.items()},
        "counts": counts,
        "discrepancies": [list(item) for item in items],
    }
    (directory / "truth.json").write_text(json.dumps(document, ensure_ascii=False), "utf-8")
    return directory


def ready(n: int, root: Path = DATA_ROOT) -> bool:
    """Whether the stack for ``n`` is generated completely (its last files are written)."""
    directory = data_dir(n, root)
    return (directory / "truth.json").is_file() and config_path(directory, "parquet").is_file()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,100000,1000000")
    parser.add_argument("--root", type=Path, default=DATA_ROOT)
    args = parser.parse_args(argv)
    for size in (int(s) for s in args.sizes.split(",")):
        started = time.perf_counter()
        directory = generate(size, args.root)
        print(f"{size:>9} SKUs -> {directory} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
