"""The benchmark stack's layout, shared by the generator, the references and the runner.

Four systems (erp, pim, storefront, crm), two entities (product, customer). Every field has one
owner and one reader, so each (owner, reader) pair below is one join of the reconciliation:

=================  ==========  ==========  =========  ====================================
field              owner       reader      compare    noise planted that must NOT be reported
=================  ==========  ==========  =========  ====================================
product.price      erp         storefront  money      "19.9"/"19.90", "$19.90", "19.90 USD",
                                                      +-0.005 exactly (tolerance inclusive)
product.cost       erp         storefront  money      as price; both empty
product.stock      erp         storefront  integer    "12.0", "+12", " 12 "; "n/a" (invalid:
                                                      a type problem, never a mismatch)
product.weight     erp (kg)    pim (g)     number     scale 0.001: "1.250" kg = "1250.0" g
product.title      pim         storefront  text       padding, doubled spaces, NFD accents
product.description pim        storefront  html       tags, entities vs text, &nbsp;, rare
                                                      entities (&egrave;), attributes
customer.phone     crm         storefront  phone      (555) 010-0123, 1-555-..., +1555...
customer.first_name crm        storefront  text/cf    case, padding, NFD
customer.last_name crm         storefront  text/cf    case, padding, NFD
customer key       email (key_compare: email): "Ann.Lee@Example.COM" is "ann.lee@example.com"
=================  ==========  ==========  =========  ====================================

storefront variants are scoped ``where: {status: active}`` (" active " counts: values are
trimmed); drafts are out of scope, so a draft SKU the ERP sells is ``missing_in_reader``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CUSTOMER_FIELDS",
    "DATA_ROOT",
    "FIELDS",
    "KEY_COMPARE",
    "PRODUCT_FIELDS",
    "RESOURCES",
    "SYSTEMS",
    "FieldDef",
    "config_path",
    "data_dir",
    "pairs",
    "write_configs",
]

DATA_ROOT = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True, slots=True)
class FieldDef:
    entity: str
    name: str
    owner: str
    reader: str
    compare: str
    owner_path: str
    reader_path: str
    owner_scale: str | None = None
    reader_scale: str | None = None
    casefold: bool = False
    default_region: str | None = None


PRODUCT_FIELDS: tuple[FieldDef, ...] = (
    FieldDef("product", "price", "erp", "storefront", "money", "price", "price"),
    FieldDef("product", "cost", "erp", "storefront", "money", "cost", "cost"),
    FieldDef("product", "stock", "erp", "storefront", "integer", "stock", "stock"),
    FieldDef(
        "product", "weight", "erp", "pim", "number", "weight_kg", "weight_g", reader_scale="0.001"
    ),
    FieldDef("product", "title", "pim", "storefront", "text", "title", "title"),
    FieldDef("product", "description", "pim", "storefront", "html", "description", "description"),
)
CUSTOMER_FIELDS: tuple[FieldDef, ...] = (
    FieldDef(
        "customer", "phone", "crm", "storefront", "phone", "phone", "phone", default_region="US"
    ),
    FieldDef(
        "customer",
        "first_name",
        "crm",
        "storefront",
        "text",
        "first_name",
        "first_name",
        casefold=True,
    ),
    FieldDef(
        "customer",
        "last_name",
        "crm",
        "storefront",
        "text",
        "last_name",
        "last_name",
        casefold=True,
    ),
)
FIELDS = PRODUCT_FIELDS + CUSTOMER_FIELDS

#: entity -> system -> (resource file stem, key column, where {column: accepted})
RESOURCES: dict[str, dict[str, tuple[str, str, dict[str, str]]]] = {
    "product": {
        "erp": ("products", "sku", {}),
        "pim": ("products", "sku", {}),
        "storefront": ("variants", "sku", {"status": "active"}),
    },
    "customer": {
        "crm": ("customers", "email", {}),
        "storefront": ("customers", "email", {}),
    },
}
KEY_COMPARE = {"product": "exact", "customer": "email"}
SYSTEMS = ("erp", "pim", "storefront", "crm")


def pairs(entity: str) -> dict[tuple[str, str], list[FieldDef]]:
    """(owner, reader) -> the fields that pair shares, in declaration order."""
    result: dict[tuple[str, str], list[FieldDef]] = {}
    for f in FIELDS:
        if f.entity == entity:
            result.setdefault((f.owner, f.reader), []).append(f)
    return result


def data_dir(n: int, root: Path = DATA_ROOT) -> Path:
    return root / str(n)


def config_path(directory: Path, fmt: str) -> Path:
    return directory / f"fieldwarden-{fmt}.yaml"


def _yaml_field(path: str, scale: str | None) -> str:
    return f"{{path: {path}, scale: {scale}}}" if scale else path


def config_text(fmt: str) -> str:
    """The fieldwarden.yaml of the stack read through the ``csv`` or ``parquet`` connector."""
    lines = [
        f"# Benchmark stack read as {fmt}; written by bench/generate.py (do not edit).",
        "version: 1",
        f"storage: sqlite:///fieldwarden-{fmt}.db",
        "systems:",
    ]
    lines += [f"  {s}: {{connector: {fmt}, directory: {fmt}/{s}}}" for s in SYSTEMS]
    lines.append("entities:")
    for entity, systems in RESOURCES.items():
        lines.append(f"  {entity}:")
        if KEY_COMPARE[entity] != "exact":
            lines.append(f"    key_compare: {KEY_COMPARE[entity]}")
        lines.append("    systems:")
        for system, (resource, key, where) in systems.items():
            fields: list[str] = []
            for f in FIELDS:
                if f.entity != entity:
                    continue
                if f.owner == system:
                    fields.append(f"{f.name}: {_yaml_field(f.owner_path, f.owner_scale)}")
                elif f.reader == system:
                    fields.append(f"{f.name}: {_yaml_field(f.reader_path, f.reader_scale)}")
            lines.append(f"      {system}:")
            lines.append(f"        resource: {resource}")
            lines.append(f"        key: {key}")
            lines.append(f"        fields: {{{', '.join(fields)}}}")
            if where:
                clauses = ", ".join(f"{k}: {v}" for k, v in where.items())
                lines.append(f"        where: {{{clauses}}}")
    lines.append("ownership:")
    for f in FIELDS:
        extra = ""
        if f.casefold:
            extra += ", casefold: true"
        if f.default_region:
            extra += f", default_region: {f.default_region}, personal: true"
        lines.append(
            f"  {f.entity}.{f.name}: {{owner: {f.owner}, readers: [{f.reader}],"
            f" compare: {f.compare}{extra}}}"
        )
    return "\n".join(lines) + "\n"


def write_configs(directory: Path) -> None:
    for fmt in ("csv", "parquet"):
        config_path(directory, fmt).write_text(config_text(fmt), encoding="utf-8")
