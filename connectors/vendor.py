"""Small helpers shared by the vendor API connectors (HubSpot, Salesforce, Akeneo, NetSuite,
Business Central): change windows, vendor timestamps, batching, identifier checks, key filters
for SQL-like query languages, listings paged by a next URL.

All reads of the wall clock go through :func:`utcnow`, which tests monkeypatch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from connectors.base import KeyTuple, ResourceSpec
from connectors.http import HttpClient, JsonResponse, NextUrlPaginator, drain
from detector.errors import SourceFatalError

__all__ = [
    "DEFAULT_WINDOW",
    "chunks",
    "get_listing",
    "parse_timestamp",
    "require_identifier",
    "sql_key_filters",
    "utc_stamp",
    "utcnow",
    "window_start",
]

T = TypeVar("T")

DEFAULT_WINDOW = timedelta(days=7)
"""How far back ``read_changes(spec, since=None)`` looks (the SPEC's default for APIs)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware (tests replace it)."""
    return datetime.now(UTC)


def window_start(since: datetime | None) -> datetime:
    """``since`` as an aware UTC datetime, or the default window's start when None."""
    if since is None:
        return utcnow() - DEFAULT_WINDOW
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return since.astimezone(UTC)


def utc_stamp(value: datetime) -> str:
    """``value`` as ISO-8601 UTC to the second, ``2024-05-01T12:00:00Z`` (SOQL and OData literals)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: Any) -> datetime | None:
    """An aware datetime from ISO-8601 text (``Z``, ``+0000``, 7-digit fractions) or epoch ms."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return _EPOCH + timedelta(milliseconds=float(value))
    text = str(value).strip()
    if text.isdigit():
        return _EPOCH + timedelta(milliseconds=int(text))
    # Fractions longer than microseconds (BC writes 7 digits, HubSpot sometimes 9) are cut.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def require_identifier(spec: ResourceSpec, value: str | None, what: str, connector: str) -> str:
    """``value`` when it is a plain identifier (safe to put into a URL path or query)."""
    if not value or not _IDENTIFIER.fullmatch(value):
        raise SourceFatalError(
            f"the {connector} connector needs {what} to be a plain name, got {value!r}",
            system=spec.system,
            entity=spec.entity,
        )
    return value


def sql_key_filters(
    columns: Sequence[str],
    keys: Collection[KeyTuple],
    quote: Callable[[str], str],
    per_query: int,
) -> Iterator[str]:
    """WHERE conditions (SOQL, SuiteQL) selecting ``keys``, at most ``per_query`` values each.

    One key column: ``col IN ('a', 'b')``; several: ``(c1 = 'a' AND c2 = 'b') OR (...)``, with
    ``per_query // len(columns)`` keys a condition. ``columns`` must be checked identifiers and
    ``quote`` must turn any text into a literal of the dialect.
    """
    distinct = sorted(set(keys))
    if len(columns) == 1:
        for batch in chunks([k[0] for k in distinct], per_query):
            yield f"{columns[0]} IN ({', '.join(quote(v) for v in batch)})"
        return
    for group in chunks(distinct, per_query // len(columns)):
        yield " OR ".join(
            "(" + " AND ".join(f"{c} = {quote(v)}" for c, v in zip(columns, key, strict=True)) + ")"
            for key in group
        )


def get_listing(
    client: HttpClient, path: str, params: Mapping[str, Any], paginator: NextUrlPaginator
) -> tuple[list[Any], bool]:
    """Every record of a GET listing: ``path`` with ``params`` first, then each next URL as the
    server gives it (it carries its own query); and whether the listing is complete."""

    def fetch(next_url: str | None) -> JsonResponse:
        if next_url is None:
            return client.get_json(path, params=params)
        return client.get_json(next_url)

    return drain(paginator, fetch)
