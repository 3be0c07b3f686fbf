"""Exit codes shared by every command (SPEC: Exit codes)."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    OK = 0
    """Nothing wrong."""
    DISCREPANCIES = 1
    """Discrepancies found (open, not pending)."""
    CONFIG = 2
    """Config or usage error."""
    SOURCE = 3
    """A source could not be read, so part of the picture is unknown."""
    INTERNAL = 4
    """Internal error."""
