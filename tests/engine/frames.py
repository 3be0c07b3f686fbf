"""Canonical frames of (sku, price) records built in memory, for engine tests."""

from __future__ import annotations

import polars as pl

from connectors.base import ROW_COLUMN, FieldSpec, ResourceSpec, SourceFrame
from detector.engine.mapping import CanonicalFrame, canonical_frame


def product_spec(system: str, resource: str = "products") -> ResourceSpec:
    """A product resource keyed by ``sku`` with one field, ``price``."""
    return ResourceSpec(
        system=system,
        entity="product",
        resource=resource,
        key=(FieldSpec(name="sku", path="sku"),),
        fields=(FieldSpec(name="price", path="price"),),
    )


def canonical(
    spec: ResourceSpec, skus: list[str], prices: list[str] | None = None
) -> CanonicalFrame:
    """The canonical frame of records (sku, price), rows numbered from 2 as in a file."""
    data = pl.DataFrame(
        {
            "sku": skus,
            "price": prices if prices is not None else ["1"] * len(skus),
            ROW_COLUMN: list(range(2, 2 + len(skus))),
        }
    )
    return canonical_frame(SourceFrame(data=data), spec, "exact")
