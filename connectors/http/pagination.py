"""Paginators as objects: each knows where the next token is and refuses to loop forever.

Usage (the ``fetch`` callable sends one request for a token and returns a ``JsonResponse``;
``None`` is the first page unless ``start`` says otherwise)::

    paginator = CursorPaginator(
        records_path="data.products.nodes",
        cursor_path="data.products.pageInfo.endCursor",
        has_more_path="data.products.pageInfo.hasNextPage",
        max_pages=options.max_pages,
    )
    for page in paginator.pages(lambda cursor: client.post_json(path, json=query(cursor))):
        records.extend(page.records)
    frame = frame_from_records(records, spec, complete=paginator.complete)

Every paginator

* raises ``PaginationLoopError`` when a token comes back that it has already followed (the same
  token twice in a row *and* an A -> B -> A cycle: all seen tokens are remembered), and when
  ``max_pages`` pages were read and the server still offers another;
* follows empty pages as long as they carry a new token;
* compares a declared total (``total_path``) with the records received and reports a mismatch
  through ``complete`` / ``incomplete_reason`` (the connector marks its SourceFrame incomplete).

Offset and page-number paginators also refuse a server that ignores the offset (the same
non-empty page twice in a row).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urljoin

import requests
import structlog

from connectors.http.redact import redact_url
from connectors.records import extract_path
from detector.errors import InvalidPayloadError, PaginationLoopError

__all__ = [
    "CursorPaginator",
    "Fetched",
    "LinkHeaderPaginator",
    "NextUrlPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "Paginator",
    "SinglePagePaginator",
    "drain",
]

T = TypeVar("T")
_log = structlog.get_logger(__name__)


class Fetched(Protocol):
    """What ``fetch`` returns: decoded JSON and the response it came from (a ``JsonResponse``)."""

    @property
    def data(self) -> Any: ...

    @property
    def response(self) -> requests.Response: ...


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing."""

    number: int
    """1-based position in this walk."""
    records: Sequence[Any]
    data: Any
    response: requests.Response


RecordsLocator = str | Callable[[Any], Any]


class Paginator(ABC, Generic[T]):
    """Base paginator; subclasses implement :meth:`next_token`."""

    detect_repeated_pages = False

    def __init__(
        self,
        *,
        records_path: RecordsLocator = "",
        total_path: str | None = None,
        max_pages: int = 10_000,
        start: T | None = None,
        system: str | None = None,
    ) -> None:
        self.records_path = records_path
        self.total_path = total_path
        self.max_pages = max_pages
        self.start = start
        self.system = system
        self.pages_read = 0
        self.received = 0
        self.declared_total: int | None = None
        self.incomplete_reason: str | None = None
        self._seen: set[str] = set()

    # -- hooks -----------------------------------------------------------------------------
    @abstractmethod
    def next_token(self, page: Page, token: T | None) -> T | None:
        """The token of the page after ``page`` (fetched with ``token``), or None at the end."""

    def extract_records(self, data: Any, response: requests.Response) -> Sequence[Any]:
        """The records of one page, from ``records_path`` (a JSON path or a callable)."""
        if callable(self.records_path):
            found = self.records_path(data)
        elif self.records_path == "":
            found = data
        else:
            found = extract_path(data, self.records_path) if isinstance(data, dict) else None
        if not isinstance(found, list):
            where = self.records_path if isinstance(self.records_path, str) else "records"
            raise InvalidPayloadError(
                f"expected a list of records at {where or 'the top level'!r}, "
                f"got {type(found).__name__}",
                system=self.system,
                url=redact_url(response.url or ""),
                status=response.status_code,
            )
        return found

    # -- the walk --------------------------------------------------------------------------
    @property
    def complete(self) -> bool:
        """False when the source declared more (or fewer) records than the walk received."""
        return self.incomplete_reason is None

    def pages(self, fetch: Callable[[T | None], Fetched]) -> Iterator[Page]:
        """Fetch and yield every page, following tokens until the last page."""
        token = self.start
        if token is not None:
            self._seen.add(self._token_key(token))
        previous_fingerprint: str | None = None
        while True:
            fetched = fetch(token)
            self.pages_read += 1
            records = self.extract_records(fetched.data, fetched.response)
            self.received += len(records)
            self._note_total(fetched.data)
            page = Page(self.pages_read, records, fetched.data, fetched.response)
            _log.debug(
                "http_page",
                system=self.system,
                page=self.pages_read,
                records=len(records),
                url=redact_url(fetched.response.url or ""),
            )
            if self.detect_repeated_pages and records:
                fingerprint = json.dumps(records, sort_keys=True, default=str)
                if fingerprint == previous_fingerprint:
                    self._loop(
                        "the server returned the same page again (it ignores the offset)", page
                    )
                previous_fingerprint = fingerprint
            yield page
            following = self.next_token(page, token)
            if following is None:
                self._finish()
                return
            key = self._token_key(following)
            if key in self._seen:
                what = "repeated" if following == token else "cycled back to an earlier page"
                self._loop(f"pagination token {what} after page {self.pages_read}", page)
            if self.pages_read >= self.max_pages:
                self._loop(
                    f"page cap of {self.max_pages} pages reached with more pages on offer", page
                )
            self._seen.add(key)
            token = following

    # -- helpers ---------------------------------------------------------------------------
    def _token_key(self, token: T) -> str:
        return repr(token)

    def _loop(self, message: str, page: Page) -> None:
        _log.warning("http_pagination_loop", system=self.system, page=page.number, reason=message)
        raise PaginationLoopError(
            message, system=self.system, url=redact_url(page.response.url or "")
        )

    def _note_total(self, data: Any) -> None:
        if self.total_path is None or not isinstance(data, dict):
            return
        value = extract_path(data, self.total_path)
        try:
            self.declared_total = int(value) if value is not None else self.declared_total
        except (TypeError, ValueError):
            return

    def _finish(self) -> None:
        if self.declared_total is not None and self.declared_total != self.received:
            self.incomplete_reason = (
                f"the source declared {self.declared_total} records but returned {self.received}"
            )
            _log.warning(
                "http_total_mismatch",
                system=self.system,
                declared=self.declared_total,
                received=self.received,
            )


class SinglePagePaginator(Paginator[str]):
    """A listing that is one response (no paging); still checks records and a declared total."""

    def next_token(self, page: Page, token: str | None) -> str | None:
        return None


def drain(paginator: Paginator[T], fetch: Callable[[T | None], Fetched]) -> tuple[list[Any], bool]:
    """Every record of every page, and whether the listing is complete."""
    records: list[Any] = []
    for page in paginator.pages(fetch):
        records.extend(page.records)
    return records, paginator.complete


class CursorPaginator(Paginator[str]):
    """Next token at ``cursor_path`` in the body (GraphQL ``pageInfo.endCursor``, HubSpot's
    ``paging.next.after``).

    With ``has_more_path`` a false value there ends the walk even if a cursor is present.
    """

    def __init__(
        self, *, cursor_path: str, has_more_path: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.cursor_path = cursor_path
        self.has_more_path = has_more_path

    def next_token(self, page: Page, token: str | None) -> str | None:
        if not isinstance(page.data, dict):
            return None
        if self.has_more_path is not None and not extract_path(page.data, self.has_more_path):
            return None
        cursor = extract_path(page.data, self.cursor_path)
        if cursor is None or cursor == "":
            return None
        return str(cursor)


class NextUrlPaginator(Paginator[str]):
    """Next URL at ``next_path`` in the body, absolute or relative to the page's own URL."""

    def __init__(self, *, next_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.next_path = next_path

    def next_token(self, page: Page, token: str | None) -> str | None:
        if not isinstance(page.data, dict):
            return None
        link = extract_path(page.data, self.next_path)
        if not link or not isinstance(link, str):
            return None
        return urljoin(page.response.url or "", link)


class LinkHeaderPaginator(Paginator[str]):
    """Next URL from the RFC 8288 ``Link: <...>; rel="next"`` header (Shopify REST, GitHub)."""

    def next_token(self, page: Page, token: str | None) -> str | None:
        link = page.response.links.get("next", {}).get("url")
        if not link:
            return None
        return urljoin(page.response.url or "", link)


class OffsetPaginator(Paginator[int]):
    """Offset/limit paging (Odoo, Tryton): stops at the first page shorter than ``limit``."""

    detect_repeated_pages = True

    def __init__(self, *, limit: int, **kwargs: Any) -> None:
        kwargs.setdefault("start", 0)
        super().__init__(**kwargs)
        self.limit = limit

    def next_token(self, page: Page, token: int | None) -> int | None:
        if len(page.records) < self.limit:
            return None
        return (token or 0) + len(page.records)


class PageNumberPaginator(Paginator[int]):
    """Page-number paging (BigCommerce): up to the declared ``total_pages`` when the body gives one,
    else until a page shorter than ``page_size``."""

    detect_repeated_pages = True

    def __init__(
        self,
        *,
        page_size: int,
        total_pages_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("start", 1)
        super().__init__(**kwargs)
        self.page_size = page_size
        self.total_pages_path = total_pages_path
        self.total_pages: int | None = None

    def next_token(self, page: Page, token: int | None) -> int | None:
        current = token if token is not None else 1
        if self.total_pages_path is not None and isinstance(page.data, dict):
            value = extract_path(page.data, self.total_pages_path)
            try:
                self.total_pages = int(value) if value is not None else None
            except (TypeError, ValueError):
                self.total_pages = None
        if self.total_pages is not None:
            return current + 1 if current < self.total_pages else None
        if len(page.records) < self.page_size:
            return None
        return current + 1
