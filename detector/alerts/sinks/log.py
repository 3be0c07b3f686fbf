"""The alert log: every event as one JSON line appended to a file.

Written directly (``O_APPEND``, mode 0600 for a new file) and fsynced, so an event is marked
delivered only once it is on disk. JSON escapes newlines and control characters, so a stored
value cannot forge a line. A failed write (full disk, missing folder) fails the delivery, which
the outbox retries; it never raises out of the dispatcher.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime

from detector.alerts.model import Alert, Digest
from detector.alerts.sinks.base import Sink
from detector.errors import AlertDeliveryError
from detector.storage.views import iso

__all__ = ["LogSink"]


class LogSink(Sink):
    type = "log"
    writes_batches = True

    def send_alert(self, alert: Alert) -> None:
        self.send_batch([alert])

    def send_digest(self, digest: Digest) -> None:
        self.send_batch(digest.alerts)

    def send_batch(self, alerts: Sequence[Alert]) -> None:
        logged_at = iso(datetime.now(UTC))
        lines = "".join(
            json.dumps({"logged_at": logged_at, **alert.to_json()}, ensure_ascii=True) + "\n"
            for alert in alerts
        )
        path: str = self.model.path
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                data = memoryview(lines.encode("utf-8"))
                while data:
                    written = os.write(fd, data)
                    data = data[written:]
                _fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise AlertDeliveryError(
                f"cannot write the alert log {path}: {exc.strerror or exc}",
                sink=self.name,
                retriable=True,
            ) from None


def _fsync(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # not a regular file: nothing to sync
            raise
