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

__all__ = ["freeze_on_resume", "paused_gc"]

_freeze_on_resume = False


def freeze_on_resume() -> None:
    """Have every pause that turns the collector back on freeze what is alive first.

    For a process that ends soon after its pause (the ``fieldwarden`` program running a one-shot
    command such as ``reconcile``): the first collection after a large run walks every object
    the run left alive, about 40 ms after a million-record run, and finds nothing, since a run
    builds nothing cyclic. Frozen objects are still freed by reference counting; only cyclic
    garbage alive at that moment would never be collected, which a long-running process (the
    daemon) must not accept, so it never calls this.
    """
    global _freeze_on_resume  # noqa: PLW0603 - one process-wide switch, set once at start-up
    _freeze_on_resume = True


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (nested blocks are fine)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if _freeze_on_resume:
                gc.freeze()
            gc.enable()
