"""Every error Fieldwarden raises, arranged by what the caller must do about it.

    FieldwardenError                      root: catch this to catch anything of ours
    ├── ConfigError                       fatal at load; carries every problem, each with file:line:col
    ├── ConnectorNotFoundError            unknown connector name; lists the installed ones (also a ConfigError)
    ├── PluginError                       an installed connector failed to load: a broken plugin, never skipped
    ├── SourceError                       a system could not be read for this run (run becomes partial, exit 3)
    │   ├── SourceRetriableError          transient: 429/5xx/timeouts; the next run may succeed
    │   │   └── RateLimitedError          the vendor asked us to wait longer than our cap
    │   ├── SourceFatalError              needs a human: bad credentials, missing table, 4xx
    │   ├── InvalidPayloadError           the body was not what the API promises (truncated, HTML, bad JSON)
    │   └── PaginationLoopError           a cursor repeated or cycled, or the page cap was reached
    ├── RecordError                       one bad record: skipped and counted, never a false mismatch
    ├── StorageError                      the database refused; the run rolls back whole
    │   └── LockedError                   another daemon (or reconcile) holds the storage
    └── AlertDeliveryError                a sink could not take an event; the outbox retries it

Each exception keeps its context (system, entity, url, status...) as attributes so that
callers can log it as data. Messages never contain credentials: URLs are stripped of their
query strings and user info before they get here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AlertDeliveryError",
    "ConfigError",
    "ConfigProblem",
    "ConnectorNotFoundError",
    "FieldwardenError",
    "InvalidPayloadError",
    "LockedError",
    "PaginationLoopError",
    "PluginError",
    "RateLimitedError",
    "RecordError",
    "SourceError",
    "SourceFatalError",
    "SourceRetriableError",
    "StorageError",
]


class FieldwardenError(Exception):
    """Root of every error Fieldwarden raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One located problem in a config or ownership file."""

    file: str
    line: int | None
    column: int | None
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{self.message}"


class ConfigError(FieldwardenError):
    """The config or ownership map is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ConnectorNotFoundError(ConfigError):
    """A system names a connector that no installed plugin provides."""

    def __init__(self, name: str, available: Sequence[str], problem: ConfigProblem) -> None:
        self.name = name
        self.available = sorted(available)
        super().__init__([problem])


class PluginError(FieldwardenError):
    """An installed connector plugin could not be imported or is not a connector."""

    def __init__(self, name: str, target: str, reason: str) -> None:
        self.name = name
        self.target = target
        super().__init__(f"connector plugin {name!r} ({target}) is broken: {reason}")


class SourceError(FieldwardenError):
    """A system could not be read; what it would have said is unknown for this run."""

    status_label = "source_error"

    def __init__(
        self,
        message: str,
        *,
        system: str | None = None,
        entity: str | None = None,
        url: str | None = None,
        status: int | None = None,
    ) -> None:
        self.system = system
        self.entity = entity
        self.url = url
        self.status = status
        parts = [p for p in (f"system {system!r}" if system else None, url) if p]
        super().__init__(f"{message} ({', '.join(parts)})" if parts else message)
        self.message = message


class SourceRetriableError(SourceError):
    """Transient failure (throttling, 5xx, timeouts): the next run may well succeed."""


class RateLimitedError(SourceRetriableError):
    """The vendor asked us to wait longer than we are willing to sleep inside one run."""

    status_label = "rate_limited"

    def __init__(
        self, message: str, *, retry_after: float | None = None, **context: object
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, **context)  # type: ignore[arg-type]


class SourceFatalError(SourceError):
    """Needs a human: bad credentials, a missing table or file, a rejected request."""


class InvalidPayloadError(SourceError):
    """The body was not what the API promises: truncated, HTML, invalid JSON, an error inside a 200."""

    status_label = "invalid_payload"


class PaginationLoopError(SourceError):
    """Pagination repeated or cycled a cursor, or ran past its page cap."""

    status_label = "pagination_loop"


class RecordError(FieldwardenError):
    """One record could not be used (wrong type, missing key); it is skipped and counted."""

    def __init__(
        self,
        message: str,
        *,
        system: str,
        resource: str | None = None,
        row: int | str | None = None,
        field: str | None = None,
    ) -> None:
        self.system = system
        self.resource = resource
        self.row = row
        self.field = field
        where = ", ".join(
            p
            for p in (
                f"system {system!r}",
                f"resource {resource!r}" if resource else None,
                f"row {row}" if row is not None else None,
                f"field {field!r}" if field else None,
            )
            if p
        )
        super().__init__(f"{message} ({where})")


class StorageError(FieldwardenError):
    """The database refused a read or write; a run's results roll back whole."""


class LockedError(StorageError):
    """Another daemon or reconcile holds the storage lock."""


class AlertDeliveryError(FieldwardenError):
    """A sink could not take an event. ``retriable`` tells the outbox whether to try again."""

    def __init__(
        self, message: str, *, sink: str, retriable: bool, retry_after: float | None = None
    ) -> None:
        self.sink = sink
        self.retriable = retriable
        self.retry_after = retry_after
        super().__init__(f"{sink}: {message}")
