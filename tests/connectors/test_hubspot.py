"""HubSpot connector, offline: list paging and flattening, keys through search, history into
changes with actors, search re-windowing past the cap, 429 policies, errors, secrets."""

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

from connectors.base import Change, FieldSpec
from connectors.hubspot import HubSpotConnector, HubSpotOptions, hubspot_actor
from detector.config import load_config
from detector.engine.changes import ChangeLog, summarise_changes
from detector.errors import RateLimitedError, SourceFatalError
from tests.connectors.cases.hubspot import (
    API,
    CONTACTS,
    TOKEN,
    FakeHubSpot,
    connector,
    fixture,
    spec,
)

LIST = f"{API}/crm/v3/objects/contacts"
SINCE = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
def fake(slept: list[float]) -> Iterator[FakeHubSpot]:
    server = FakeHubSpot()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        server.register(rsps)
        yield server


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[HubSpotConnector]:
    with connector(tmp_path) as made:
        assert isinstance(made, HubSpotConnector)
        yield made


# --- records --------------------------------------------------------------------------------


def test_read_walks_every_page_and_flattens_properties(
    crm: HubSpotConnector, fake: FakeHubSpot
) -> None:
    frame = crm.read(spec(phone="phone", also="properties.phone", ident="id"))
    assert frame.data.height == len(CONTACTS)
    rows = {r["email"]: r for r in frame.data.to_dicts()}
    assert rows["ana@example.com"]["phone"] == "+49 30 1234"
    assert rows["ana@example.com"]["properties.phone"] == "+49 30 1234"
    assert rows["ana@example.com"]["id"] == "51"
    assert rows["chloe@example.com"]["phone"] is None
    lists = [c for c in fake.calls if c[0].endswith("/contacts")]
    assert len(lists) == 3  # 5 records, 2 a page


def test_read_asks_only_for_mapped_properties(
    crm: HubSpotConnector, mock: responses.RequestsMock
) -> None:
    mock.get(LIST, json={"results": []})
    crm.read(spec(phone="phone", created="createdAt"))
    params = mock.calls[0].request.params  # type: ignore[attr-defined]  # added by responses
    assert params["properties"] == "email,phone"
    assert params["archived"] == "false"
    assert mock.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_read_keys_searches_with_an_in_filter(crm: HubSpotConnector, fake: FakeHubSpot) -> None:
    frame = crm.read(spec(), keys=[("dev@example.com",), ("nobody@example.com",)])
    assert frame.data.get_column("email").to_list() == ["dev@example.com"]
    path, body = fake.calls[0]
    assert path.endswith("/search")
    assert body["filterGroups"][0]["filters"][0] == {
        "propertyName": "email",
        "operator": "IN",
        "values": ["dev@example.com", "nobody@example.com"],
    }


def test_read_keys_by_id_searches_hs_object_id(tmp_path: Path, fake: FakeHubSpot) -> None:
    with connector(tmp_path) as crm:
        spec_by_id = replace(spec(), key=(FieldSpec("key", "id"),))
        frame = crm.read(spec_by_id, keys=[("52",)])
    assert frame.data.get_column("id").to_list() == ["52"]
    assert fake.calls[0][1]["filterGroups"][0]["filters"][0]["propertyName"] == "hs_object_id"


# --- changes --------------------------------------------------------------------------------


def test_history_becomes_changes_with_actors_and_old_values(
    crm: HubSpotConnector, fake: FakeHubSpot
) -> None:
    changes = list(crm.read_changes(spec(), SINCE))
    found = {(c.key[0], c.field, c.changed_at.isoformat()): c for c in changes}
    integration = found[("ana@example.com", "phone", "2024-05-02T09:14:00.512000+00:00")]
    assert integration.changed_by == "INTEGRATION:2212345"
    assert (integration.old_value, integration.new_value) == ("+49 30 9999", "+49 30 1234")
    human = found[("ana@example.com", "phone", "2024-05-01T12:00:00+00:00")]
    assert human.changed_by == "CRM_UI:user:77"
    assert (human.old_value, human.new_value) == ("+49 30 0000", "+49 30 9999")
    assert (
        found[("ben@example.com", "firstname", "2024-05-03T07:30:00+00:00")].old_value == "Benjamin"
    )
    assert (
        found[("ben@example.com", "phone", "2024-05-03T07:30:00+00:00")].changed_by == "API:3301999"
    )
    assert (
        found[("dev@example.com", "phone", "2024-05-04T18:05:00+00:00")].changed_by
        == "WORKFLOWS:wf-88"
    )
    assert (
        found[("eva@example.com", "phone", "2024-05-05T08:00:00+00:00")].changed_by == "CALCULATED"
    )
    assert all(c.changed_at >= SINCE for c in changes)
    assert len(changes) == 6  # older history entries stay out of the window
    search = fake.calls[0][1]
    assert search["filterGroups"][0]["filters"][0] == {
        "propertyName": "lastmodifieddate",
        "operator": "GTE",
        "value": str(int(SINCE.timestamp() * 1000)),
    }
    assert search["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    batch = next(body for path, body in fake.calls if path.endswith("/batch/read"))
    assert batch["propertiesWithHistory"] == ["firstname", "phone"]


def test_companies_window_on_hs_lastmodifieddate(
    crm: HubSpotConnector, mock: responses.RequestsMock
) -> None:
    mock.post(f"{API}/crm/v3/objects/companies/search", json={"total": 0, "results": []})
    company = replace(spec(), resource="companies")
    assert list(crm.read_changes(company, SINCE)) == []
    body = mock.calls[0].request.body
    assert isinstance(body, bytes)
    assert b'"hs_lastmodifieddate"' in body


def test_search_rewindows_past_the_result_cap(crm: HubSpotConnector, fake: FakeHubSpot) -> None:
    crm.search_cap = 4
    crm.search_limit = 2
    fake.search_cap = 4
    changes = list(crm.read_changes(spec(), datetime(2024, 1, 1, tzinfo=UTC)))
    searches = [body for path, body in fake.calls if path.endswith("/search")]
    floors = [s["filterGroups"][0]["filters"][0]["value"] for s in searches]
    assert len(set(floors)) >= 2, "the search restarted from a later timestamp"
    batches = [body for path, body in fake.calls if path.endswith("/batch/read")]
    ids = [i["id"] for b in batches for i in b["inputs"]]
    assert sorted(ids) == ["51", "52", "53", "54", "55"], "every record once, none twice"
    assert {c.key[0] for c in changes} >= {"ana@example.com", "eva@example.com"}


def test_default_window_is_seven_days(
    crm: HubSpotConnector, mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.vendor.utcnow", lambda: datetime(2024, 5, 8, tzinfo=UTC))
    mock.post(f"{LIST}/search", json={"total": 0, "results": []})
    list(crm.read_changes(spec(), None))
    body = mock.calls[0].request.body
    assert isinstance(body, bytes)
    assert str(int(datetime(2024, 5, 1, tzinfo=UTC).timestamp() * 1000)).encode() in body


@pytest.mark.parametrize(
    ("entry", "actor"),
    [
        ({"sourceType": "INTEGRATION", "sourceId": "2212345"}, "INTEGRATION:2212345"),
        (
            {"sourceType": "CRM_UI", "sourceId": "userId:77", "updatedByUserId": 77},
            "CRM_UI:user:77",
        ),
        ({"sourceType": "CRM_UI", "sourceId": "userId:77"}, "CRM_UI:user:77"),
        ({"sourceType": "IMPORT", "sourceId": "import-1", "updatedByUserId": 9}, "IMPORT:user:9"),
        ({"sourceType": "CALCULATED"}, "CALCULATED"),
        ({}, None),
    ],
)
def test_actor_format(entry: dict[str, Any], actor: str | None) -> None:
    assert hubspot_actor(entry) == actor


def test_scenario_only_the_humans_edit_is_a_non_owner_write(
    tmp_path: Path, crm: HubSpotConnector, fake: FakeHubSpot
) -> None:
    """ERP owns the phone; its sync app writes it in HubSpot. A person's edit is reported."""
    changes = [c for c in crm.read_changes(spec(), SINCE) if c.key == ("ana@example.com",)]
    assert {c.changed_by for c in changes} == {"INTEGRATION:2212345", "CRM_UI:user:77"}
    writers = {"INTEGRATION:2212345": "erp"}
    acting = {c.changed_by: writers.get(c.changed_by or "", "crm") for c in changes}
    assert acting == {"INTEGRATION:2212345": "erp", "CRM_UI:user:77": "crm"}
    found = _non_owner_writes(tmp_path, changes)
    assert [(d.key, d.field, d.writer) for d in found] == [
        ("ana@example.com", "phone", "CRM_UI:user:77")
    ]


def _non_owner_writes(tmp_path: Path, changes: list[Change]) -> list[Any]:
    (tmp_path / "fw.yaml").write_text(
        f"""
version: 1
storage: sqlite:///fw.db
systems:
  erp: {{connector: csv, directory: erp}}
  crm:
    connector: hubspot
    token: "{TOKEN}"
    writers: {{"INTEGRATION:2212345": erp}}
entities:
  customer:
    key_compare: email
    systems:
      erp: {{resource: customers, key: email, fields: {{phone: phone}}}}
      crm: {{resource: contacts, key: email, fields: {{phone: phone}}}}
ownership:
  customer.phone: {{owner: erp, readers: [crm], compare: phone}}
"""
    )
    config = load_config(tmp_path / "fw.yaml")
    return summarise_changes(config, [ChangeLog("crm", "customer", changes, None)]).non_owner_writes


# --- throttling, errors, secrets --------------------------------------------------------------


def test_429_secondly_is_retried_then_succeeds(
    crm: HubSpotConnector, mock: responses.RequestsMock, slept: list[float]
) -> None:
    mock.get(
        LIST, status=429, json=fixture("rate_limited_secondly.json"), headers={"Retry-After": "1"}
    )
    mock.get(LIST, json={"results": [CONTACTS[0] | {"propertiesWithHistory": None}]})
    frame = crm.read(spec())
    assert frame.data.height == 1
    assert len(mock.calls) == 2  # the HTTP layer retried the 429 (responses does not sleep)


def test_429_that_persists_names_the_policy(
    tmp_path: Path, mock: responses.RequestsMock, slept: list[float]
) -> None:
    headers = {
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Max": "190",
        "X-HubSpot-RateLimit-Remaining": "0",
    }
    with connector(tmp_path, max_retries=1) as crm:
        for _ in range(2):
            mock.get(LIST, status=429, json=fixture("rate_limited_secondly.json"), headers=headers)
        with pytest.raises(RateLimitedError, match="SECONDLY") as raised:
            crm.read(spec())
    assert raised.value.retry_after == 10.0


def test_429_daily_limit_has_no_short_wait(
    tmp_path: Path, mock: responses.RequestsMock, slept: list[float]
) -> None:
    with connector(tmp_path, max_retries=0) as crm:
        mock.get(
            LIST,
            status=429,
            json=fixture("rate_limited_daily.json"),
            headers={"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"},
        )
        with pytest.raises(RateLimitedError, match="DAILY") as raised:
            crm.read(spec())
    assert raised.value.retry_after is None


def test_validation_error_body_is_quoted(
    crm: HubSpotConnector, mock: responses.RequestsMock
) -> None:
    mock.get(LIST, status=400, json=fixture("validation_error.json"))
    with pytest.raises(SourceFatalError, match="VALIDATION_ERROR"):
        crm.read(spec())


def test_bad_token_fails_without_printing_it(
    crm: HubSpotConnector, mock: responses.RequestsMock
) -> None:
    mock.get(LIST, status=401, json=fixture("unauthorized.json"))
    with capture_logs() as logs, pytest.raises(SourceFatalError, match="authentication") as raised:
        crm.read(spec())
    assert TOKEN not in str(raised.value)
    assert TOKEN not in repr(raised.value.__dict__)
    assert TOKEN not in repr(logs)
    assert TOKEN not in repr(crm.options)


def test_options_need_a_token() -> None:
    with pytest.raises(ValidationError, match="token"):
        HubSpotOptions.model_validate({})


def test_unknown_object_type_is_refused(crm: HubSpotConnector) -> None:
    bad = replace(spec(), resource="contacts/../owners")
    with pytest.raises(SourceFatalError, match="object type"):
        crm.read(bad)
