"""Fieldwarden's connectors: one module per system kind, discovered through entry points."""

from connectors.base import (
    ROW_COLUMN,
    Change,
    Connector,
    ConnectorContext,
    ConnectorOptions,
    FieldSpec,
    KeyTuple,
    ResourceSpec,
    SourceFrame,
)

__all__ = [
    "ROW_COLUMN",
    "Change",
    "Connector",
    "ConnectorContext",
    "ConnectorOptions",
    "FieldSpec",
    "KeyTuple",
    "ResourceSpec",
    "SourceFrame",
]
