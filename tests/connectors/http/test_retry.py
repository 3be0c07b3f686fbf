"""Retries: 429/5xx retried, Retry-After honoured up to the cap, above it no sleep at all."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import responses
from urllib3.exceptions import MaxRetryError
from urllib3.response import HTTPResponse

from connectors.http import CappedRetry, HttpClient, build_retry, retry_after_from_headers
from detector.errors import RateLimitedError, SourceFatalError, SourceRetriableError
from tests.connectors.http.conftest import BASE, TOKEN, make_client

URL = f"{BASE}/items"


def test_5xx_then_success_is_retried(
    client: HttpClient, mock: responses.RequestsMock, slept: list[float]
) -> None:
    mock.get(URL, status=503)
    mock.get(URL, status=502)
    mock.get(URL, status=500)
    mock.get(URL, json={"items": [1]})
    assert client.get_json("items").data == {"items": [1]}
    assert len(mock.calls) == 4


def test_retry_after_under_the_cap_then_success(
    client: HttpClient, mock: responses.RequestsMock
) -> None:
    mock.get(URL, status=429, headers={"Retry-After": "7"})
    mock.get(URL, json={"ok": True})
    assert client.get_json("items").data == {"ok": True}
    assert len(mock.calls) == 2


def test_retry_after_over_the_cap_fails_at_once_without_sleeping(
    client: HttpClient, mock: responses.RequestsMock, slept: list[float]
) -> None:
    mock.get(URL, status=429, headers={"Retry-After": "3600"})
    with pytest.raises(RateLimitedError) as caught:
        client.get_json("items")
    assert caught.value.retry_after == 3600
    assert len(mock.calls) == 1
    assert slept == []


def test_bigcommerce_reset_header_over_the_cap(
    tmp_path: Path, mock: responses.RequestsMock, slept: list[float]
) -> None:
    client = make_client(tmp_path, retry_after_cap=10)
    mock.get(URL, status=429, headers={"X-Rate-Limit-Time-Reset-Ms": "15000"})
    with pytest.raises(RateLimitedError) as caught:
        client.get_json("items")
    assert caught.value.retry_after == 15
    assert slept == []


def test_persistent_5xx_ends_retriable_after_max_retries(
    tmp_path: Path, mock: responses.RequestsMock, slept: list[float]
) -> None:
    client = make_client(tmp_path, max_retries=2)
    for _ in range(3):
        mock.get(URL, status=503)
    with pytest.raises(SourceRetriableError) as caught:
        client.get_json("items")
    assert not isinstance(caught.value, RateLimitedError)
    assert caught.value.status == 503
    assert len(mock.calls) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_not_retried(
    client: HttpClient, mock: responses.RequestsMock, status: int
) -> None:
    mock.get(URL, status=status, json={"error": f"bad token {TOKEN}"})
    with pytest.raises(SourceFatalError) as caught:
        client.get_json("items")
    assert len(mock.calls) == 1
    assert TOKEN not in str(caught.value)


def _response(headers: dict[str, str], status: int = 429) -> HTTPResponse:
    return HTTPResponse(body=b"", headers=headers, status=status, preload_content=False)


def test_retry_sleeps_for_retry_after_and_backs_off_otherwise(slept: list[float]) -> None:
    retry = build_retry(max_retries=3, backoff_factor=0, retry_after_cap=300)
    retry = retry.increment("GET", "https://h/x", response=_response({"Retry-After": "7"}))
    retry.sleep(_response({"Retry-After": "7"}))
    retry.sleep(_response({"Retry-After": "2.5"}))
    retry.sleep(_response({}))  # backoff 0: no wait at all
    assert slept == [7.0, 2.5]


def test_retry_refuses_a_wait_over_the_cap() -> None:
    retry = build_retry(max_retries=3, backoff_factor=0, retry_after_cap=60)
    with pytest.raises(MaxRetryError):
        retry.increment("GET", "https://h/x?token=abc", response=_response({"Retry-After": "61"}))
    kept = retry.new()
    assert isinstance(kept, CappedRetry)
    assert kept.retry_after_cap == 60


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "2.0"}, 2.0),
        ({"retry-after": "-3"}, 0.0),
        ({"X-Rate-Limit-Time-Reset-Ms": "1500"}, 1.5),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({}, None),
        ({"X-Rate-Limit-Time-Reset-Ms": "soon"}, None),
    ],
)
def test_retry_after_parsing(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_from_headers(headers) == expected


# -- the same behaviour through real urllib3 (responses emulates the retry loop) --------------


class _Scripted(BaseHTTPRequestHandler):
    script: ClassVar[list[tuple[int, dict[str, str], bytes]]] = []

    def do_GET(self) -> None:
        status, headers, body = self.script.pop(0)
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # stdlib name
        return


@pytest.fixture
def loopback() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_real_urllib3_honours_retry_after_under_the_cap(
    loopback: str, tmp_path: Path, slept: list[float]
) -> None:
    _Scripted.script = [(429, {"Retry-After": "3"}, b"{}"), (200, {}, b'{"ok": true}')]
    client = make_client(tmp_path, url=loopback)
    assert client.get_json("x").data == {"ok": True}
    assert slept == [3.0]
    client.close()


def test_real_urllib3_over_the_cap_never_sleeps(
    loopback: str, tmp_path: Path, slept: list[float]
) -> None:
    _Scripted.script = [(429, {"Retry-After": "3600"}, b"{}"), (200, {}, b"{}")]
    client = make_client(tmp_path, url=loopback)
    with pytest.raises(RateLimitedError):
        client.get_json("x")
    assert slept == []
    client.close()


def test_real_urllib3_retries_5xx_with_backoff(
    loopback: str, tmp_path: Path, slept: list[float]
) -> None:
    _Scripted.script = [(503, {}, b"{}"), (503, {}, b"{}"), (200, {}, b"[]")]
    client = make_client(tmp_path, url=loopback, backoff_factor=1)
    assert client.get_json("x").data == []
    assert len(slept) == 1  # urllib3 skips backoff before the first retry
    assert 2.0 <= slept[0] <= 3.0  # 1 * 2**1 plus jitter up to 1
    client.close()
