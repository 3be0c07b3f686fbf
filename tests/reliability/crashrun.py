"""``python -m tests.reliability.crashrun ARGS``: the fieldwarden CLI with three more crash points.

The store has its own crash points inside ``record_run`` (``detector.storage.store.checkpoint``,
armed by ``RECON_CRASH_AT``). The service and the alert dispatcher have none yet, so this
wrapper adds them around the real functions, with the same ``checkpoint`` and the same
environment variable, then runs the real CLI:

* ``service.after_fetch``: every source was read and compared, nothing recorded yet;
* ``service.after_commit``: the run's transaction committed, the outbox not yet dispatched;
* ``alerts.during_delivery``: a sink accepted a message, its delivery not yet recorded.
"""

from __future__ import annotations

from typing import Any

from detector import service
from detector.alerts import dispatcher
from detector.cli import main
from detector.storage.store import checkpoint

LABELS = ("service.after_fetch", "service.after_commit", "alerts.during_delivery")


def install() -> None:
    reconcile = service.reconcile
    deliver = service._deliver
    record_attempts = dispatcher.record_attempts

    def reconcile_then_crash(*args: Any, **kwargs: Any) -> Any:
        result = reconcile(*args, **kwargs)
        checkpoint("service.after_fetch")
        return result

    def crash_then_deliver(*args: Any, **kwargs: Any) -> Any:
        checkpoint("service.after_commit")
        return deliver(*args, **kwargs)

    def crash_then_record(*args: Any, **kwargs: Any) -> Any:
        checkpoint("alerts.during_delivery")
        return record_attempts(*args, **kwargs)

    service.reconcile = reconcile_then_crash  # type: ignore[assignment]
    service._deliver = crash_then_deliver
    dispatcher.record_attempts = crash_then_record  # type: ignore[assignment]


if __name__ == "__main__":
    install()
    main()
