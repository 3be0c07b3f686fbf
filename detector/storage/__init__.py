"""Storage: SQLAlchemy models, Alembic migrations and the :class:`Store` (one transaction per run).

Use ``Store.open(url)``; it migrates the schema to head. See ``store.py`` for what a run's
transaction holds and ``lifecycle.py`` for how discrepancies move between statuses.
"""

from detector.storage.store import (
    CRASH_ENV,
    DEFAULT_REMINDER,
    AmbiguousIdError,
    DiscrepancyNotFoundError,
    Store,
)
from detector.storage.views import (
    DeliveryView,
    DiscrepancyFilter,
    DiscrepancyView,
    EventView,
    RunOutcome,
    RunView,
    SourceView,
    iso,
    mask_value,
)

__all__ = [
    "CRASH_ENV",
    "DEFAULT_REMINDER",
    "AmbiguousIdError",
    "DeliveryView",
    "DiscrepancyFilter",
    "DiscrepancyNotFoundError",
    "DiscrepancyView",
    "EventView",
    "RunOutcome",
    "RunView",
    "SourceView",
    "Store",
    "iso",
    "mask_value",
]
