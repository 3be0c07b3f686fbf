"""Fieldwarden: a live sync-conflict detector for ecommerce stacks."""

__version__ = "0.1.0"
__all__ = ["__version__"]
