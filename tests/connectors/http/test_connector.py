"""HttpConnector base and parse_timestamp."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import responses

from connectors.base import ConnectorContext, ConnectorOptions, FieldSpec, ResourceSpec, SourceFrame
from connectors.http import (
    DEFAULT_CHANGES_WINDOW,
    HttpConnector,
    HttpOptions,
    SinglePagePaginator,
    drain,
    parse_timestamp,
)
from detector.errors import SourceFatalError
from tests.connectors.http.conftest import BASE


class _Demo(HttpConnector):
    name = "demo"

    def read(self, spec: ResourceSpec, *, keys: object = None) -> SourceFrame:
        raise NotImplementedError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-02T09:14:00Z", datetime(2024, 5, 2, 9, 14, tzinfo=UTC)),
        ("2024-05-02 09:14:00", datetime(2024, 5, 2, 9, 14, tzinfo=UTC)),
        (
            "2024-05-02T11:14:00+02:00",
            datetime(2024, 5, 2, 11, 14, tzinfo=timezone(timedelta(hours=2))),
        ),
        (1714641240, datetime(2024, 5, 2, 9, 14, tzinfo=UTC)),
        (1714641240000, datetime(2024, 5, 2, 9, 14, tzinfo=UTC)),
        (Decimal("1714641240"), datetime(2024, 5, 2, 9, 14, tzinfo=UTC)),
        (None, None),
        ("", None),
        (False, None),
    ],
)
def test_parse_timestamp(value: object, expected: datetime | None) -> None:
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize("value", ["yesterday", {"a": 1}, True])
def test_parse_timestamp_refuses_garbage(value: object) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_timestamp(value)


def test_connector_needs_http_options(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="HttpOptions"):
        _Demo("s", ConnectorOptions(), ConnectorContext(base_dir=tmp_path))


def test_require_resource_and_default_window(tmp_path: Path) -> None:
    demo = _Demo("s", HttpOptions(url=BASE), ConnectorContext(base_dir=tmp_path))
    query_spec = ResourceSpec("s", "e", None, (FieldSpec("key", "id"),), (), query="select 1")
    with pytest.raises(SourceFatalError, match="reads a 'resource'"):
        demo.require_resource(query_spec)
    other = ResourceSpec("s", "e", "orders", (FieldSpec("key", "id"),), ())
    with pytest.raises(SourceFatalError, match="unknown demo resource 'orders'; known: items"):
        demo.require_resource(other, {"items"})
    start = demo.since_or_default(None)
    assert datetime.now(UTC) - start == pytest.approx(
        DEFAULT_CHANGES_WINDOW, abs=timedelta(seconds=5)
    )
    assert demo.since_or_default(datetime(2024, 1, 1)).tzinfo is UTC  # naive on purpose
    demo.close()
    demo.close()


def test_single_page_and_drain(mock: responses.RequestsMock, tmp_path: Path) -> None:
    demo = _Demo("s", HttpOptions(url=BASE), ConnectorContext(base_dir=tmp_path))
    mock.get(f"{BASE}/items", json={"items": [1, 2], "count": 2, "next": "ignored"})
    records, complete = drain(
        SinglePagePaginator(records_path="items", total_path="count"),
        lambda _: demo.client.get_json("items"),
    )
    assert (records, complete) == ([1, 2], True)
