"""NetSuite connector, offline: M2M token from a client assertion, SuiteQL paging through
links[rel=next], literal quoting, SystemNote history with <context>:<author> actors, time zones,
re-windowing past the row cap, 401 renewal, 429, error bodies, secrets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from pydantic import ValidationError
from structlog.testing import capture_logs

from connectors.base import Change
from connectors.netsuite import NetSuiteConnector, NetSuiteOptions, suiteql_quote
from detector.config import load_config
from detector.engine.changes import ChangeLog, summarise_changes
from detector.errors import RateLimitedError, SourceFatalError, SourceRetriableError
from tests.connectors.cases.netsuite import (
    ASSERTION,
    ITEMS,
    SUITEQL,
    TOKEN_URL,
    URL,
    FakeNetSuite,
    connector,
    fixture,
    spec,
    suiteql_values,
)

SINCE = datetime(2024, 5, 1, tzinfo=UTC)
STATIC = "eyJraWQiOiJzdGF0aWMifQ.CANARY.static"


@pytest.fixture
def fake(slept: list[float]) -> Iterator[FakeNetSuite]:
    server = FakeNetSuite()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        server.register(rsps)
        yield server


@pytest.fixture
def ns(tmp_path: Path) -> Iterator[NetSuiteConnector]:
    with connector(tmp_path) as made:
        assert isinstance(made, NetSuiteConnector)
        yield made


def static(tmp_path: Path, **options: Any) -> NetSuiteConnector:
    return connector(tmp_path, assertion=None, token=STATIC, **options)


# --- auth and options ------------------------------------------------------------------------


def test_account_id_gives_the_url() -> None:
    options = NetSuiteOptions.model_validate({"account_id": "1234567_SB1", "token": "t"})
    assert options.url == URL
    with pytest.raises(ValidationError, match="token"):
        NetSuiteOptions.model_validate({"account_id": "1234567"})
    with pytest.raises(ValidationError, match="time zone"):
        NetSuiteOptions.model_validate(
            {"account_id": "1234567", "token": "t", "timezone": "Mars/Base"}
        )


def test_client_assertion_grant_then_bearer_and_transient(
    ns: NetSuiteConnector, fake: FakeNetSuite
) -> None:
    ns.read(spec())
    ns.read(spec())
    assert fake.grants == [
        {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": ASSERTION,
        }
    ]


def test_rejected_token_is_renewed_once(ns: NetSuiteConnector, fake: FakeNetSuite) -> None:
    ns.read(spec())
    fake.expire()
    assert ns.read(spec()).data.height == len(ITEMS)
    assert len(fake.grants) == 2


def test_bad_assertion_is_never_printed(tmp_path: Path, fake: FakeNetSuite) -> None:
    wrong = "eyJhbGciOiJQUzI1NiJ9.e30.CANARYwrong"
    with connector(tmp_path, assertion=wrong) as ns, capture_logs() as logs:
        with pytest.raises(SourceFatalError, match="invalid_client") as raised:
            ns.read(spec())
        text = f"{raised.value} {raised.value.__dict__} {logs} {ns.options!r}"
    assert wrong not in text
    assert ASSERTION not in text


def test_static_token_rejected_fails_at_once(tmp_path: Path, mock: responses.RequestsMock) -> None:
    mock.post(SUITEQL, status=401, json=fixture("invalid_login.json"))
    with (
        static(tmp_path) as ns,
        pytest.raises(SourceFatalError, match="authentication failed") as raised,
    ):
        ns.read(spec())
    assert STATIC not in str(raised.value)
    assert len(mock.calls) == 1


# --- records --------------------------------------------------------------------------------


def test_read_follows_next_links_and_orders_by_key(
    ns: NetSuiteConnector, fake: FakeNetSuite
) -> None:
    frame = ns.read(spec())
    assert frame.complete
    rows = {r["itemid"]: r for r in frame.data.to_dicts()}
    assert rows["SCARF-RED"]["salesdescription"] is None  # NetSuite leaves null columns out
    assert rows["CAP-GRY"]["displayname"] == "Wool Cap"
    assert fake.queries == [
        "SELECT itemid, displayname, salesdescription FROM item ORDER BY itemid"
    ]


def test_keys_are_quoted_suiteql_literals(ns: NetSuiteConnector, fake: FakeNetSuite) -> None:
    frame = ns.read(spec(), keys=[("O'NEIL-TEE",), ("CAP-GRY",)])
    assert sorted(frame.data.get_column("itemid").to_list()) == ["CAP-GRY", "O'NEIL-TEE"]
    assert "WHERE (itemid IN ('CAP-GRY', 'O''NEIL-TEE'))" in fake.queries[0]


@pytest.mark.parametrize("raw", ["plain", "O'Neil", "'; DROP TABLE item --", "back\\slash"])
def test_suiteql_quote_round_trips(raw: str) -> None:
    assert suiteql_values(suiteql_quote(raw)) == [raw]


def test_a_query_in_place_of_a_resource(tmp_path: Path, mock: responses.RequestsMock) -> None:
    body = {
        "links": [], "count": 2, "hasMore": False, "offset": 0, "totalResults": 2,
        "items": [
            {"links": [], "sku": "CAP-GRY", "location": "Berlin", "quantityonhand": "40"},
            {"links": [], "sku": "CAP-GRY", "location": "Leeds", "quantityonhand": "3"},
        ],
    }  # fmt: skip
    mock.post(SUITEQL, json=body)
    stock = replace(
        spec(stock="quantityonhand"),
        resource=None,
        query="SELECT i.itemid AS sku, BUILTIN.DF(l.location) AS location, l.quantityonhand "
        "FROM inventoryitemlocations l JOIN item i ON i.id = l.item",
    )
    stock = replace(
        stock,
        key=(
            replace(stock.key[0], name="key.0", path="sku"),
            replace(stock.key[0], name="key.1", path="location"),
        ),
    )
    with static(tmp_path) as ns:
        frame = ns.read(stock, keys=[("CAP-GRY", "Leeds")])
    assert frame.data.select("sku", "location", "quantityonhand").rows() == [
        ("CAP-GRY", "Leeds", "3")
    ]


def test_read_updated_filters_lastmodifieddate(
    tmp_path: Path, mock: responses.RequestsMock
) -> None:
    mock.post(
        SUITEQL,
        json={
            "links": [],
            "count": 0,
            "hasMore": False,
            "offset": 0,
            "totalResults": 0,
            "items": [],
        },
    )
    ns = static(tmp_path, timezone="America/Los_Angeles")
    with ns:
        ns.read_updated(spec(), datetime(2024, 5, 2, 9, 0, tzinfo=UTC))
    body = mock.calls[0].request.body
    assert isinstance(body, bytes)
    assert (
        b"lastmodifieddate > TO_TIMESTAMP('2024-05-02 02:00:00', 'YYYY-MM-DD HH24:MI:SS')" in body
    )


# --- changes --------------------------------------------------------------------------------


def test_system_notes_become_changes_with_context_and_author(
    ns: NetSuiteConnector, fake: FakeNetSuite
) -> None:
    with capture_logs() as logs:
        changes = list(ns.read_changes(spec(), SINCE))
    assert [(c.key, c.field, c.changed_by, c.old_value, c.new_value) for c in changes] == [
        (("CAP-GRY",), "displayname", "WEBSERVICES:1401", "Grey Cap", "Wool Cap"),
        (("CAP-GRY",), "displayname", "UIF:-5", "Wool Cap", "Wool Cap (grey)"),
        (("MUG-BLU",), "salesdescription", "WEBSERVICES:1401", None, "Stoneware, 350 ml"),
        (("O'NEIL-TEE",), "displayname", "CSV:1402", "ONeil Tee", "O'Neil Tee"),
        (("SOCK-3PK",), "displayname", "1401", "Socks", "Socks (3 pack)"),
    ]
    assert changes[0].changed_at == datetime(2024, 5, 2, 9, 14, tzinfo=UTC)
    unmapped = [e for e in logs if e["event"] == "netsuite_history_fields_unmapped"]
    assert unmapped[0]["fields"] == ["ITEM.NWEIGHT"]
    query = fake.queries[0]
    assert "FROM systemnote sn JOIN item t ON t.id = sn.recordid" in query
    assert "sn.recordtypeid = -10" in query
    assert "sn.date >= TO_TIMESTAMP('2024-05-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS')" in query
    assert "t.itemid AS key_0" in query


def test_note_times_are_read_in_the_accounts_time_zone(tmp_path: Path, fake: FakeNetSuite) -> None:
    with connector(tmp_path, timezone="Europe/Berlin") as ns:
        changes = list(ns.read_changes(spec(), datetime(2024, 4, 30, 22, 0, tzinfo=UTC)))
    assert changes[0].changed_at == datetime(2024, 5, 2, 7, 14, tzinfo=UTC)  # 09:14 CEST
    assert "TO_TIMESTAMP('2024-05-01 00:00:00'" in fake.queries[0]


def test_rewindow_past_the_row_cap(tmp_path: Path, fake: FakeNetSuite) -> None:
    ns = connector(tmp_path, page_size=2)
    with ns:
        ns.row_cap = 4
        changes = list(ns.read_changes(spec(), SINCE))
    assert len(changes) == 5, "every note once, none twice"
    floors = [q.split("TO_TIMESTAMP('")[1][:19] for q in fake.queries]
    assert floors[0] == "2024-05-01 00:00:00"
    assert len(floors) >= 2
    assert floors[1] > floors[0]


def test_stock_by_location_has_no_notes(tmp_path: Path) -> None:
    stock = replace(spec(stock="quantityonhand"), resource="inventoryitemlocations")
    with static(tmp_path) as ns, capture_logs() as logs:
        assert list(ns.read_changes(stock, SINCE)) == []
    assert [e["event"] for e in logs] == ["netsuite_no_system_notes"]


def test_record_type_id_option(tmp_path: Path, mock: responses.RequestsMock) -> None:
    mock.post(
        SUITEQL,
        json={
            "links": [],
            "count": 0,
            "hasMore": False,
            "offset": 0,
            "totalResults": 0,
            "items": [],
        },
    )
    vendor = replace(spec(), resource="vendor", options={"record_type_id": -3})
    with static(tmp_path) as ns:
        assert list(ns.read_changes(vendor, SINCE)) == []
        with pytest.raises(SourceFatalError, match="record_type_id"):
            list(ns.read_changes(replace(vendor, options={"record_type_id": "x"}), SINCE))
    body = mock.calls[0].request.body
    assert isinstance(body, bytes)
    assert b"sn.recordtypeid = -3" in body


def test_scenario_only_the_humans_edit_is_a_non_owner_write(
    tmp_path: Path, ns: NetSuiteConnector, fake: FakeNetSuite
) -> None:
    """The PIM owns item names; its sync (user 1401 over web services) writes them in NetSuite."""
    changes = [c for c in ns.read_changes(spec(), SINCE) if c.key == ("CAP-GRY",)]
    assert {c.changed_by for c in changes} == {"WEBSERVICES:1401", "UIF:-5"}
    found = _non_owner_writes(tmp_path, changes)
    assert [(d.key, d.field, d.writer) for d in found] == [("CAP-GRY", "title", "UIF:-5")]


def _non_owner_writes(tmp_path: Path, changes: list[Change]) -> list[Any]:
    (tmp_path / "fw.yaml").write_text(
        f"""
version: 1
storage: sqlite:///fw.db
systems:
  pim: {{connector: csv, directory: pim}}
  erp:
    connector: netsuite
    account_id: "1234567_SB1"
    token: "{STATIC}"
    writers: {{"WEBSERVICES:1401": pim}}
entities:
  product:
    systems:
      pim: {{resource: products, key: sku, fields: {{title: name}}}}
      erp: {{resource: item, key: itemid, fields: {{title: displayname}}}}
ownership:
  product.title: {{owner: pim, readers: [erp], compare: text}}
"""
    )
    config = load_config(tmp_path / "fw.yaml")
    return summarise_changes(config, [ChangeLog("erp", "product", changes, None)]).non_owner_writes


# --- throttling and errors -------------------------------------------------------------------


def test_concurrency_429_retried_then_rate_limited(
    tmp_path: Path, mock: responses.RequestsMock
) -> None:
    for _ in range(3):
        mock.post(SUITEQL, status=429, json=fixture("concurrency_limit.json"))
    with static(tmp_path, max_retries=2) as ns, pytest.raises(RateLimitedError):
        ns.read(spec())
    assert len(mock.calls) == 3


def test_query_error_names_the_code(tmp_path: Path, mock: responses.RequestsMock) -> None:
    mock.post(SUITEQL, status=400, json=fixture("invalid_query.json"))
    with (
        static(tmp_path) as ns,
        pytest.raises(SourceFatalError, match="INVALID_PARAMETER") as raised,
    ):
        ns.read(spec(bad="nosuch"))
    assert "nosuch" in str(raised.value)
    assert STATIC not in str(raised.value)


def test_token_endpoint_server_error_is_retriable(
    tmp_path: Path, mock: responses.RequestsMock
) -> None:
    for _ in range(2):
        mock.post(TOKEN_URL, status=503)
    with connector(tmp_path, max_retries=1) as ns, pytest.raises(SourceRetriableError):
        ns.read(spec())
