"""Pausing Python's cyclic garbage collector while a run builds objects that are never cyclic.

A run of a million records allocates hundreds of thousands of long-lived objects (findings,
stored views, outbox rows, the report's dictionaries). Each time enough of them survive, the
collector walks every tracked object again; none of them is cyclic garbage, so those walks
find nothing and cost several percent of a run. Reference counting still frees everything as
usual; only the search for reference cycles waits, and resumes (and catches up) when the
block ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (nested blocks are fine)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
