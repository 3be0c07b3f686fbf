"""Status codes, bodies and errors inside a 200 become the right SourceError, without secrets."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
import responses
from structlog.testing import capture_logs

from connectors.http import (
    HttpClient,
    RetryLater,
    check_graphql,
    check_jsonrpc,
    redact_url,
    scrub,
)
from detector.errors import (
    InvalidPayloadError,
    RateLimitedError,
    SourceError,
    SourceFatalError,
    SourceRetriableError,
)
from tests.connectors.http.conftest import BASE, TOKEN

URL = f"{BASE}/items"


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (401, {"errors": "[API] Invalid API key"}, SourceFatalError, "authentication failed"),
        (403, {"errors": "forbidden"}, SourceFatalError, "authentication failed"),
        (
            403,
            [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded"}],
            RateLimitedError,
            "rate limited",
        ),
        (404, {"errors": "Not Found"}, SourceFatalError, "/v1/items"),
        (422, {"errors": "bad filter"}, SourceFatalError, "bad filter"),
    ],
)
def test_status_mapping(  # parametrised test arguments
    client: HttpClient,
    mock: responses.RequestsMock,
    status: int,
    body: object,
    error: type[SourceError],
    text: str,
) -> None:
    mock.get(URL, status=status, json=body)
    with pytest.raises(error, match=text) as caught:
        client.get_json("items")
    assert caught.value.status == status
    assert caught.value.system == "shop"


@pytest.mark.parametrize(
    ("body", "content_type", "text"),
    [
        (b'{"items": [{"id": 1}, {"id": ', "application/json", "truncated"),
        (b"<html><body>Maintenance</body></html>", "application/json", "invalid"),
        (b"", "application/json", "empty"),
        (b"   ", "application/json", "empty"),
        (b"<html></html>", "text/html", "content type"),
        (b"\xff\xfe\x00", "application/json", "invalid"),
    ],
)
def test_bad_bodies_are_invalid_payloads(
    client: HttpClient,
    mock: responses.RequestsMock,
    body: bytes,
    content_type: str,
    text: str,
) -> None:
    mock.get(URL, body=body, content_type=content_type)
    with pytest.raises(InvalidPayloadError, match=text):
        client.get_json("items")


def test_deep_nesting_is_an_invalid_payload(
    client: HttpClient, mock: responses.RequestsMock
) -> None:
    mock.get(URL, body=b"[" * 100_000 + b"]" * 100_000, content_type="application/json")
    with pytest.raises(InvalidPayloadError, match="nested"):
        client.get_json("items")


def test_truncated_stream_is_an_invalid_payload(
    client: HttpClient, mock: responses.RequestsMock
) -> None:
    mock.get(URL, body=requests.exceptions.ChunkedEncodingError("IncompleteRead(10 bytes read)"))
    with pytest.raises(InvalidPayloadError, match="truncated"):
        client.get_json("items")


def test_decimals_keep_their_written_form(client: HttpClient, mock: responses.RequestsMock) -> None:
    mock.get(URL, body=b'{"price": 24.00, "qty": 3}', content_type="application/json")
    assert client.get_json("items").data == {"price": Decimal("24.00"), "qty": 3}


def test_transport_errors_never_quote_the_url_query(
    client: HttpClient, mock: responses.RequestsMock
) -> None:
    mock.get(URL, body=requests.exceptions.ConnectionError(f"Max retries: {URL}?key={TOKEN}"))
    with pytest.raises(SourceRetriableError) as caught:
        client.get_json("items", params={"key": TOKEN})
    assert TOKEN not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_timeouts_are_retriable(client: HttpClient, mock: responses.RequestsMock) -> None:
    mock.get(URL, body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(SourceRetriableError, match="timed out after 30s"):
        client.get_json("items")


def test_bad_credentials_leave_no_token_in_errors_or_logs(
    client: HttpClient, mock: responses.RequestsMock
) -> None:
    mock.get(URL, status=401, json={"errors": f"token {TOKEN} is not valid"})
    with capture_logs() as logs, pytest.raises(SourceFatalError) as caught:
        client.get_json(f"items?access_token={TOKEN}")
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)
    assert TOKEN not in repr(logs)


def test_vendor_text_is_scrubbed_of_secrets(
    client: HttpClient, mock: responses.RequestsMock
) -> None:
    mock.get(URL, status=400, json={"errors": f"bad token {TOKEN}"})
    with pytest.raises(SourceFatalError) as caught:
        client.get_json("items")
    assert "***" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_redact_url_and_scrub() -> None:
    assert redact_url("https://u:p@h.example:8443/a/b?token=x#f") == "https://h.example:8443/a/b"
    assert scrub("x" * 500).endswith("…")
    assert scrub(f"a {TOKEN} b", [TOKEN]) == "a *** b"


def test_graphql_errors_inside_a_200() -> None:
    with pytest.raises(InvalidPayloadError, match="Field 'bogus' doesn't exist"):
        check_graphql({"errors": [{"message": "Field 'bogus' doesn't exist"}], "data": None})
    with pytest.raises(SourceFatalError, match="authentication"):
        check_graphql({"errors": [{"message": "no", "extensions": {"code": "ACCESS_DENIED"}}]})
    with pytest.raises(InvalidPayloadError, match="no data"):
        check_graphql({"data": None})
    assert check_graphql({"data": {"a": 1}}) == {"a": 1}


def test_graphql_throttled_asks_for_the_cost_based_wait() -> None:
    body = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {
            "cost": {
                "requestedQueryCost": 752,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 1000.0,
                    "currentlyAvailable": 252,
                    "restoreRate": 50.0,
                },
            }
        },
    }
    with pytest.raises(RetryLater) as caught:
        check_graphql(body)
    assert caught.value.seconds == pytest.approx(10.1)


def test_jsonrpc_errors_inside_a_200() -> None:
    odoo_error = {
        "jsonrpc": "2.0",
        "id": 3,
        "error": {
            "code": 200,
            "message": "Odoo Server Error",
            "data": {"name": "builtins.ValueError", "message": "Invalid field 'bogus'"},
        },
    }
    with pytest.raises(InvalidPayloadError, match="Invalid field 'bogus'"):
        check_jsonrpc(odoo_error)
    denied = {
        "error": {"message": "Odoo Server Error", "data": {"name": "odoo.exceptions.AccessDenied"}}
    }
    with pytest.raises(SourceFatalError, match="access denied"):
        check_jsonrpc(denied)
    with pytest.raises(InvalidPayloadError, match="neither"):
        check_jsonrpc({"jsonrpc": "2.0", "id": 1})
    assert check_jsonrpc({"id": 1, "result": [1]}) == [1]
    with pytest.raises(InvalidPayloadError, match="UserError"):
        check_jsonrpc({"id": 1, "error": ["UserError", ["no"]]})  # Tryton's shape
