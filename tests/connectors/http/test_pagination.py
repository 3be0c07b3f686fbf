"""Paginators: follow every page, refuse repeats and cycles, stop at the cap, report totals."""

from __future__ import annotations

from typing import Any

import pytest
import responses
from responses import matchers

from connectors.http import (
    CursorPaginator,
    HttpClient,
    JsonResponse,
    LinkHeaderPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    Paginator,
)
from detector.errors import InvalidPayloadError, PaginationLoopError
from tests.connectors.http.conftest import BASE

URL = f"{BASE}/items"


def _cursor_pages(
    mock: responses.RequestsMock, cursors: list[str | None], per_page: int = 1
) -> None:
    after: str | None = None
    for n, cursor in enumerate(cursors):
        params = {"after": after} if after else {}
        mock.get(
            URL,
            json={
                "items": [{"id": n * per_page + i} for i in range(per_page)],
                "next": cursor,
            },
            match=[matchers.query_param_matcher(params)],
        )
        after = cursor


def _walk(paginator: Paginator[Any], fetch: Any) -> list[Any]:
    return [record for page in paginator.pages(fetch) for record in page.records]


def _by_cursor(client: HttpClient) -> Any:
    def fetch(cursor: str | None) -> JsonResponse:
        return client.get_json("items", params={"after": cursor} if cursor else None)

    return fetch


def test_cursor_walks_every_page(client: HttpClient, mock: responses.RequestsMock) -> None:
    _cursor_pages(mock, ["A", "B", None], per_page=2)
    paginator = CursorPaginator(records_path="items", cursor_path="next")
    assert [r["id"] for r in _walk(paginator, _by_cursor(client))] == [0, 1, 2, 3, 4, 5]
    assert paginator.pages_read == 3
    assert paginator.complete


def test_same_token_twice_is_a_loop(client: HttpClient, mock: responses.RequestsMock) -> None:
    mock.get(URL, json={"items": [{"id": 1}], "next": "A"})
    mock.get(URL, json={"items": [{"id": 2}], "next": "A"})
    paginator = CursorPaginator(records_path="items", cursor_path="next")
    with pytest.raises(PaginationLoopError, match="repeated"):
        _walk(paginator, _by_cursor(client))


def test_a_b_a_cycle_is_a_loop(client: HttpClient, mock: responses.RequestsMock) -> None:
    mock.get(URL, json={"items": [{"id": 1}], "next": "A"})
    mock.get(URL, json={"items": [{"id": 2}], "next": "B"})
    mock.get(URL, json={"items": [{"id": 3}], "next": "A"})
    paginator = CursorPaginator(records_path="items", cursor_path="next")
    with pytest.raises(PaginationLoopError, match="cycled back"):
        _walk(paginator, _by_cursor(client))
    assert len(mock.calls) == 3


def test_page_cap_stops_an_endless_listing(
    client: HttpClient, mock: responses.RequestsMock
) -> None:
    for n in range(3):
        mock.get(URL, json={"items": [], "next": f"T{n}"})
    paginator = CursorPaginator(records_path="items", cursor_path="next", max_pages=3)
    with pytest.raises(PaginationLoopError, match="page cap of 3"):
        _walk(paginator, _by_cursor(client))
    assert len(mock.calls) == 3


def test_empty_pages_with_a_new_token_are_followed(
    client: HttpClient, mock: responses.RequestsMock
) -> None:
    mock.get(URL, json={"items": [], "next": "A"})
    mock.get(URL, json={"items": [], "next": "B"})
    mock.get(URL, json={"items": [{"id": 9}], "next": None})
    paginator = CursorPaginator(records_path="items", cursor_path="next")
    assert _walk(paginator, _by_cursor(client)) == [{"id": 9}]


def test_has_more_false_ends_the_walk(client: HttpClient, mock: responses.RequestsMock) -> None:
    mock.get(URL, json={"items": [{"id": 1}], "info": {"more": False, "end": "Z"}})
    paginator = CursorPaginator(
        records_path="items", cursor_path="info.end", has_more_path="info.more"
    )
    assert len(_walk(paginator, _by_cursor(client))) == 1


def test_declared_total_mismatch_marks_incomplete(
    client: HttpClient, mock: responses.RequestsMock
) -> None:
    mock.get(URL, json={"items": [{"id": 1}], "total": 3, "next": "A"})
    mock.get(URL, json={"items": [{"id": 2}], "total": 3, "next": None})
    paginator = CursorPaginator(records_path="items", cursor_path="next", total_path="total")
    assert len(_walk(paginator, _by_cursor(client))) == 2
    assert not paginator.complete
    assert paginator.incomplete_reason == "the source declared 3 records but returned 2"


def test_records_path_must_hold_a_list(client: HttpClient, mock: responses.RequestsMock) -> None:
    mock.get(URL, json={"items": {"id": 1}})
    paginator = CursorPaginator(records_path="items", cursor_path="next")
    with pytest.raises(InvalidPayloadError, match="expected a list of records at 'items'"):
        _walk(paginator, _by_cursor(client))


def test_next_url_relative_and_absolute(client: HttpClient, mock: responses.RequestsMock) -> None:
    mock.get(URL, json={"data": [1], "links": {"next": "?page=2"}})
    mock.get(f"{URL}?page=2", json={"data": [2], "links": {"next": f"{URL}?page=3"}})
    mock.get(f"{URL}?page=3", json={"data": [3], "links": {}})
    paginator = NextUrlPaginator(records_path="data", next_path="links.next")
    assert _walk(paginator, lambda url: client.get_json(url or "items")) == [1, 2, 3]
    assert mock.calls[1].request.url == f"{URL}?page=2"


def test_next_url_cycle(client: HttpClient, mock: responses.RequestsMock) -> None:
    mock.get(URL, json={"data": [1], "next": "?page=2"})
    mock.get(f"{URL}?page=2", json={"data": [2], "next": f"{URL}?page=2"})
    paginator = NextUrlPaginator(records_path="data", next_path="next")
    with pytest.raises(PaginationLoopError):
        _walk(paginator, lambda url: client.get_json(url or "items"))


def test_link_header(client: HttpClient, mock: responses.RequestsMock) -> None:
    mock.get(URL, json=[1], headers={"Link": f'<{URL}?page_info=abc&limit=1>; rel="next"'})
    mock.get(
        f"{URL}?page_info=abc&limit=1",
        json=[2],
        headers={"Link": f'<{URL}?page_info=zz>; rel="previous"'},
    )
    paginator = LinkHeaderPaginator()
    assert _walk(paginator, lambda url: client.get_json(url or "items")) == [1, 2]


def test_offset_stops_at_a_short_page(client: HttpClient, mock: responses.RequestsMock) -> None:
    mock.get(URL, json=[1, 2])
    mock.get(URL, json=[3, 4])
    mock.get(URL, json=[5])
    offsets: list[int | None] = []

    def fetch(offset: int | None) -> JsonResponse:
        offsets.append(offset)
        return client.get_json("items", params={"offset": offset, "limit": 2})

    assert _walk(OffsetPaginator(limit=2), fetch) == [1, 2, 3, 4, 5]
    assert offsets == [0, 2, 4]


def test_offset_ignored_by_the_server_is_a_loop(
    client: HttpClient, mock: responses.RequestsMock
) -> None:
    mock.get(URL, json=[1, 2])
    mock.get(URL, json=[1, 2])
    with pytest.raises(PaginationLoopError, match="same page"):
        _walk(OffsetPaginator(limit=2), lambda o: client.get_json("items"))


def test_page_number_with_total_pages(client: HttpClient, mock: responses.RequestsMock) -> None:
    for page in (1, 2, 3):
        mock.get(
            URL,
            json={"data": [page] if page != 2 else [], "meta": {"total_pages": 3, "total": 3}},
        )
    paginator = PageNumberPaginator(
        page_size=1,
        total_pages_path="meta.total_pages",
        records_path="data",
        total_path="meta.total",
    )
    pages: list[int | None] = []

    def fetch(page: int | None) -> JsonResponse:
        pages.append(page)
        return client.get_json("items", params={"page": page})

    assert _walk(paginator, fetch) == [1, 3]
    assert pages == [1, 2, 3]
    assert not paginator.complete  # declared 3, page 2 came back empty


def test_page_number_without_total_stops_at_a_short_page(
    client: HttpClient, mock: responses.RequestsMock
) -> None:
    mock.get(URL, json=[1, 2])
    mock.get(URL, json=[3])
    assert _walk(PageNumberPaginator(page_size=2), lambda p: client.get_json("items")) == [1, 2, 3]
