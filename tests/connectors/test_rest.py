"""The configurable rest connector: every pagination style, auth, errors, changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers
from structlog.testing import capture_logs

from connectors.base import FieldSpec, ResourceSpec
from connectors.rest import RestConnector
from detector.errors import (
    InvalidPayloadError,
    PaginationLoopError,
    RateLimitedError,
    SourceFatalError,
)
from tests.connectors.cases.rest import ITEMS, PAGE_1, PAGE_2, TOKEN, URL, connector, spec


@pytest.fixture
def rest(tmp_path: Path, slept: list[float]) -> RestConnector:
    return connector(tmp_path)


def flat_spec(**options: Any) -> ResourceSpec:
    return ResourceSpec(
        "inhouse",
        "product",
        "v1/items",
        (FieldSpec("key", "code"),),
        (FieldSpec("price", "price"),),
        options=options,
    )


def items(*codes: str) -> list[dict[str, Any]]:
    return [{"code": c, "price": 1.5} for c in codes]


def test_next_url_pages_and_declared_total(
    rest: RestConnector, mock: responses.RequestsMock
) -> None:
    mock.get(ITEMS, json=PAGE_1)
    mock.get(f"{ITEMS}?page=2", json=PAGE_2)
    frame = rest.read(spec())
    assert frame.data["code"].to_list() == ["CAP-GRY", "CAP-BLU", "SCARF-RED"]
    assert frame.complete
    assert mock.calls[0].request.headers["Authorization"] == TOKEN


def test_declared_total_mismatch_is_incomplete(
    rest: RestConnector, mock: responses.RequestsMock
) -> None:
    mock.get(ITEMS, json={**PAGE_1, "links": {"next": None}})
    frame = rest.read(spec())
    assert frame.height == 2
    assert not frame.complete


def test_cursor_style(rest: RestConnector, mock: responses.RequestsMock) -> None:
    pagination = {"style": "cursor", "cursor_path": "paging.next.after", "cursor_param": "after"}
    mock.get(
        ITEMS,
        json={"results": items("A", "B"), "paging": {"next": {"after": "52"}}},
        match=[matchers.query_param_matcher({})],
    )
    mock.get(
        ITEMS,
        json={"results": items("C"), "paging": {}},
        match=[matchers.query_param_matcher({"after": "52"})],
    )
    frame = rest.read(flat_spec(records_path="results", pagination=pagination))
    assert frame.data["code"].to_list() == ["A", "B", "C"]


def test_offset_style_with_page_size(
    tmp_path: Path, mock: responses.RequestsMock, slept: list[float]
) -> None:
    rest = connector(tmp_path, page_size=2)
    pagination = {"style": "offset", "offset_param": "skip", "limit_param": "take"}
    mock.get(
        ITEMS,
        json=items("A", "B"),
        match=[matchers.query_param_matcher({"skip": "0", "take": "2"})],
    )
    mock.get(
        ITEMS, json=items("C"), match=[matchers.query_param_matcher({"skip": "2", "take": "2"})]
    )
    frame = rest.read(flat_spec(pagination=pagination))
    assert frame.data["code"].to_list() == ["A", "B", "C"]


def test_page_style_with_total_pages(rest: RestConnector, mock: responses.RequestsMock) -> None:
    pagination = {"style": "page", "total_pages_path": "meta.pages", "limit_param": "per_page"}
    for number, codes in ((1, ("A",)), (2, ("B",))):
        mock.get(
            ITEMS,
            json={"data": items(*codes), "meta": {"pages": 2}},
            match=[
                matchers.query_param_matcher({"page": str(number), "per_page": "100", "lang": "en"})
            ],
        )
    frame = rest.read(flat_spec(records_path="data", pagination=pagination, params={"lang": "en"}))
    assert frame.data["code"].to_list() == ["A", "B"]


def test_link_style(rest: RestConnector, mock: responses.RequestsMock) -> None:
    mock.get(ITEMS, json=items("A"), headers={"Link": f'<{ITEMS}?page_info=x>; rel="next"'})
    mock.get(f"{ITEMS}?page_info=x", json=items("B"))
    frame = rest.read(flat_spec(pagination={"style": "link"}))
    assert frame.data["code"].to_list() == ["A", "B"]


def test_next_link_to_another_host_is_refused(
    rest: RestConnector, mock: responses.RequestsMock
) -> None:
    mock.get(ITEMS, json={"data": items("A"), "next": "https://evil.example.net/steal?page=2"})
    with pytest.raises(SourceFatalError, match="another host"):
        rest.read(
            flat_spec(records_path="data", pagination={"style": "next_url", "next_path": "next"})
        )


def test_throttle_then_success(rest: RestConnector, mock: responses.RequestsMock) -> None:
    mock.get(ITEMS, status=429, headers={"Retry-After": "1"})
    mock.get(ITEMS, status=503)
    mock.get(ITEMS, json=items("A"))
    assert rest.read(flat_spec()).height == 1


def test_throttle_over_the_cap(
    rest: RestConnector, mock: responses.RequestsMock, slept: list[float]
) -> None:
    mock.get(ITEMS, status=429, headers={"Retry-After": "86400"})
    with pytest.raises(RateLimitedError):
        rest.read(flat_spec())
    assert slept == []


def test_error_inside_a_200(
    tmp_path: Path, mock: responses.RequestsMock, slept: list[float]
) -> None:
    rest = connector(tmp_path, error_path="error")
    mock.get(
        ITEMS, json={"error": {"code": "DB_DOWN", "message": "database unavailable"}, "data": []}
    )
    with pytest.raises(InvalidPayloadError, match="DB_DOWN"):
        rest.read(flat_spec(records_path="data"))


def test_bad_credentials(rest: RestConnector, mock: responses.RequestsMock) -> None:
    mock.get(ITEMS, status=403, json={"detail": f"token {TOKEN.split()[1]} revoked"})
    with capture_logs() as logs, pytest.raises(SourceFatalError, match="authentication") as err:
        rest.read(flat_spec())
    secret = TOKEN.split()[1]
    assert secret not in str(err.value)
    assert secret not in repr(logs)
    assert secret not in repr(rest.options)


def test_basic_auth(tmp_path: Path, mock: responses.RequestsMock, slept: list[float]) -> None:
    rest = connector(tmp_path, token=None, username="fw", password="s3cret-pass")
    mock.get(ITEMS, json=items("A"))
    rest.read(flat_spec())
    assert mock.calls[0].request.headers["Authorization"].startswith("Basic ")


def test_truncated_body(rest: RestConnector, mock: responses.RequestsMock) -> None:
    mock.get(ITEMS, body=json.dumps(PAGE_1)[:50], content_type="application/json")
    with pytest.raises(InvalidPayloadError, match="truncated"):
        rest.read(spec())


def test_pagination_loop(rest: RestConnector, mock: responses.RequestsMock) -> None:
    mock.get(ITEMS, json=PAGE_1)
    mock.get(f"{ITEMS}?page=2", json={**PAGE_2, "links": {"next": "/api/v1/items?page=2"}})
    with pytest.raises(PaginationLoopError, match="repeated"):
        rest.read(spec())


def test_fields_of_the_wrong_type(rest: RestConnector, mock: responses.RequestsMock) -> None:
    mock.get(
        ITEMS,
        json=[
            {"code": "A", "price": "12,50"},
            {"code": "B", "price": {"amount": 1}},
            7,
            {"price": 1},
        ],
    )
    frame = rest.read(flat_spec())
    assert frame.data["price"].to_list() == ["12,50", '{"amount":1}']
    assert len(frame.problems) == 2


def test_records_path_that_is_not_a_list(rest: RestConnector, mock: responses.RequestsMock) -> None:
    mock.get(ITEMS, json={"data": {"code": "A"}})
    with pytest.raises(InvalidPayloadError, match="expected a list"):
        rest.read(flat_spec(records_path="data"))


def test_invalid_entity_options_are_fatal(rest: RestConnector) -> None:
    with pytest.raises(SourceFatalError, match="pagination"):
        rest.read(flat_spec(pagination={"style": "cursor"}))
    with pytest.raises(SourceFatalError, match="bogus"):
        rest.read(flat_spec(bogus=1))


def test_record_level_changes_from_the_resource(
    rest: RestConnector, mock: responses.RequestsMock
) -> None:
    mock.get(
        ITEMS,
        json=[
            {"code": "A", "updated": 1714641240, "by": "erp-sync"},
            {"code": "B", "updated": 1000, "by": "old"},
            {"code": "C", "updated": "yesterday"},
        ],
        match=[matchers.query_param_matcher({"modified_after": "1714521600"})],
    )
    options = {
        "changed_since_param": "modified_after",
        "since_format": "epoch",
        "changed_at_path": "updated",
        "changed_by_path": "by",
        "change_fields": ["price"],
    }
    changes = list(rest.read_changes(flat_spec(**options), datetime(2024, 5, 1, tzinfo=UTC)))
    assert [(c.key, c.field, c.changed_by) for c in changes] == [(("A",), "price", "erp-sync")]
    assert changes[0].changed_at == datetime(2024, 5, 2, 9, 14, tzinfo=UTC)


def test_change_log_rows_that_cannot_be_used_are_skipped(
    rest: RestConnector, mock: responses.RequestsMock
) -> None:
    mock.get(
        f"{URL}/v1/changes",
        json=[
            {
                "key": "A|WH1",
                "field": "qty",
                "changed_at": "2024-05-02T09:14:00",
                "changed_by": "wms",
                "old_value": 1,
                "new_value": 2,
            },
            {"key": "", "field": "qty", "changed_at": "2024-05-02T09:14:00"},
            {"key": "B|WH1", "field": "qty", "changed_at": "not a date"},
            "junk",
        ],
    )
    composite = ResourceSpec(
        "inhouse",
        "inventory",
        "v1/stock",
        (FieldSpec("key.0", "sku"), FieldSpec("key.1", "warehouse")),
        (FieldSpec("stock", "qty"),),
        changes="v1/changes",
    )
    with capture_logs() as logs:
        changes = list(rest.read_changes(composite, datetime(2024, 5, 1, tzinfo=UTC)))
    assert [(c.key, c.field, c.changed_by, c.old_value, c.new_value) for c in changes] == [
        (("A", "WH1"), "qty", "wms", "1", "2")
    ]
    assert changes[0].changed_at.tzinfo is not None
    assert sum(e["event"] == "change_row_invalid" for e in logs) == 3


def test_no_change_configuration_means_no_changes(rest: RestConnector) -> None:
    assert list(rest.read_changes(flat_spec(), None)) == []
