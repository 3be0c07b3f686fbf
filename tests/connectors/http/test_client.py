"""HttpClient: throttling reported inside a 200 (GraphQL cost) is waited for up to the cap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from connectors.http import HttpClient, check_graphql
from detector.errors import RateLimitedError
from tests.connectors.http.conftest import BASE, make_client

URL = f"{BASE}/graphql.json"

THROTTLED = {
    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
    "extensions": {
        "cost": {
            "requestedQueryCost": 300,
            "actualQueryCost": None,
            "throttleStatus": {
                "maximumAvailable": 1000.0,
                "currentlyAvailable": 100,
                "restoreRate": 50.0,
            },
        }
    },
}


def _check(data: Any, response: requests.Response) -> Any:
    return check_graphql(data)


def test_throttled_then_success_waits_the_cost_based_time(
    client: HttpClient, mock: responses.RequestsMock, slept: list[float]
) -> None:
    mock.post(URL, json=THROTTLED)
    mock.post(URL, json={"data": {"shop": {"name": "x"}}})
    result = client.post_json("graphql.json", json={"query": "{shop{name}}"}, check=_check)
    assert result.data == {"shop": {"name": "x"}}
    assert slept == [pytest.approx(4.1)]


def test_throttled_over_the_cap_fails_without_sleeping(
    tmp_path: Path, mock: responses.RequestsMock, slept: list[float]
) -> None:
    client = make_client(tmp_path, retry_after_cap=2)
    mock.post(URL, json=THROTTLED)
    with pytest.raises(RateLimitedError, match="over the 2s cap") as caught:
        client.post_json("graphql.json", json={}, check=_check)
    assert caught.value.retry_after == pytest.approx(4.1)
    assert slept == []


def test_throttled_forever_gives_up_after_max_retries(
    tmp_path: Path, mock: responses.RequestsMock, slept: list[float]
) -> None:
    client = make_client(tmp_path, max_retries=2)
    for _ in range(3):
        mock.post(URL, json=THROTTLED)
    with pytest.raises(RateLimitedError, match="still throttled after 2 retries"):
        client.post_json("graphql.json", json={}, check=_check)
    assert len(slept) == 2


def test_post_is_retried_on_503(client: HttpClient, mock: responses.RequestsMock) -> None:
    mock.post(URL, status=503)
    mock.post(URL, json={"data": {}})
    assert client.post_json("graphql.json", json={}).data == {"data": {}}


def test_close_only_closes_its_own_session(tmp_path: Path) -> None:
    client = make_client(tmp_path)
    session = client.session
    client.close()
    assert client._session is None
    assert session is not None
