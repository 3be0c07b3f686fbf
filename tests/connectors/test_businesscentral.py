"""Business Central connector, offline: Entra client credentials, OData paging through
@odata.nextLink, $filter quoting, Change Log entries as changes with User ID actors (API page and
web-service names), no change log without the endpoint, 401 renewal, 429, errors, secrets."""

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
from connectors.businesscentral import BusinessCentralConnector, BusinessCentralOptions, odata_quote
from detector.config import load_config
from detector.engine.changes import ChangeLog, summarise_changes
from detector.errors import RateLimitedError, SourceFatalError
from tests.connectors.cases.businesscentral import (
    CLIENT_SECRET,
    COMPANY,
    HUMAN,
    INTEGRATION,
    ITEMS,
    ITEMS_URL,
    ROOT,
    TENANT,
    FakeBusinessCentral,
    connector,
    fixture,
    odata_values,
    spec,
)

SINCE = datetime(2024, 5, 1, tzinfo=UTC)
STATIC = "eyJ0eXAiOiJKV1QifQ.e30.CANARYstatic"
EMPTY: dict[str, Any] = {"value": []}


@pytest.fixture
def fake(slept: list[float]) -> Iterator[FakeBusinessCentral]:
    server = FakeBusinessCentral()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        server.register(rsps)
        yield server


@pytest.fixture
def bc(tmp_path: Path) -> Iterator[BusinessCentralConnector]:
    made = connector(tmp_path)
    with made:
        yield made


def static(tmp_path: Path, **options: Any) -> BusinessCentralConnector:
    return connector(tmp_path, client_id=None, client_secret=None, token=STATIC, **options)


# --- auth and options ------------------------------------------------------------------------


def test_client_credentials_for_the_bc_scope(
    bc: BusinessCentralConnector, fake: FakeBusinessCentral
) -> None:
    bc.read(spec())
    bc.read(spec())
    assert len(fake.grants) == 1
    assert fake.grants[0]["grant_type"] == "client_credentials"
    assert fake.grants[0]["scope"] == "https://api.businesscentral.dynamics.com/.default"


def test_rejected_token_is_renewed_once(
    bc: BusinessCentralConnector, fake: FakeBusinessCentral
) -> None:
    bc.read(spec())
    fake.expire()
    assert bc.read(spec()).data.height == len(ITEMS)
    assert len(fake.grants) == 2


def test_bad_secret_is_never_printed(tmp_path: Path, fake: FakeBusinessCentral) -> None:
    wrong = "bc~CANARY~wrong~secret"
    made = connector(tmp_path, client_secret=wrong)
    with made, capture_logs() as logs:
        with pytest.raises(SourceFatalError, match="invalid_client") as raised:
            made.read(spec())
        text = f"{raised.value} {raised.value.__dict__} {logs} {made.options!r}"
    assert wrong not in text
    assert CLIENT_SECRET not in text
    assert "AADSTS" not in text  # the free-text description stays out


def test_options_are_checked() -> None:
    base = {"tenant": TENANT, "company_id": COMPANY, "token": "t"}
    assert (
        BusinessCentralOptions.model_validate(base).url
        == "https://api.businesscentral.dynamics.com"
    )
    with pytest.raises(ValidationError, match="client_id"):
        BusinessCentralOptions.model_validate({**base, "token": None})
    with pytest.raises(ValidationError, match="company_id"):
        BusinessCentralOptions.model_validate({**base, "company_id": "x/../y"})


# --- records --------------------------------------------------------------------------------


def test_read_follows_absolute_next_links(
    bc: BusinessCentralConnector, fake: FakeBusinessCentral
) -> None:
    frame = bc.read(spec(price="unitPrice", inventory="inventory", blocked="blocked"))
    rows = {r["number"]: r for r in frame.data.to_dicts()}
    assert len(rows) == len(ITEMS)
    assert rows["1896-S"]["unitPrice"] == "24.0"
    assert rows["1896-S"]["inventory"] == "40"
    assert rows["1908-S"]["blocked"] == "true"
    assert fake.filters == [None]


def test_keys_filter_in_odata_with_quotes_doubled(
    bc: BusinessCentralConnector, fake: FakeBusinessCentral
) -> None:
    frame = bc.read(spec(), keys=[("O'NEIL-1",), ("1920-S",)])
    assert sorted(frame.data.get_column("number").to_list()) == ["1920-S", "O'NEIL-1"]
    assert fake.filters == ["((number eq '1920-S') or (number eq 'O''NEIL-1'))"]


@pytest.mark.parametrize("raw", ["plain", "O'Neil", "' or 1 eq 1 or '"])
def test_odata_quote_round_trips(raw: str) -> None:
    assert odata_values(odata_quote(raw)) == [raw]


def test_read_updated_filters_last_modified(
    bc: BusinessCentralConnector, fake: FakeBusinessCentral
) -> None:
    frame = bc.read_updated(spec(), datetime(2024, 5, 2, 12, tzinfo=UTC))
    assert sorted(frame.data.get_column("number").to_list()) == ["1908-S", "O'NEIL-1"]
    assert fake.filters == ["(lastModifiedDateTime gt 2024-05-02T12:00:00Z)"]


def test_page_size_and_paths(tmp_path: Path, mock: responses.RequestsMock) -> None:
    mock.get(ITEMS_URL.replace("/production/", "/sandbox-eu/"), json=EMPTY)
    with static(tmp_path, page_size=500, environment="sandbox-eu") as bc:
        bc.read(spec())
    request = mock.calls[0].request
    assert request.url is not None
    assert request.url.startswith(
        f"https://api.businesscentral.dynamics.com/v2.0/{TENANT}/sandbox-eu/api/v2.0/companies({COMPANY})/items"
    )
    assert request.headers["Prefer"] == "odata.maxpagesize=500"
    assert request.headers["Authorization"] == f"Bearer {STATIC}"


# --- changes --------------------------------------------------------------------------------


def test_change_log_entries_become_changes(
    bc: BusinessCentralConnector, fake: FakeBusinessCentral
) -> None:
    changes = list(bc.read_changes(spec(), SINCE))
    assert [(c.key, c.field, c.changed_by, c.old_value, c.new_value) for c in changes] == [
        (("1896-S",), "unitPrice", INTEGRATION, "19.9", "24"),
        (("1896-S",), "unitPrice", HUMAN, "24", "21.5"),
        (("1896-S",), "displayName", HUMAN, "Cap", "Wool Cap"),
        (("1908-S",), "blocked", INTEGRATION, "No", "Yes"),
    ]
    assert changes[0].changed_at == datetime(2024, 5, 2, 9, 14, 0, 793000, tzinfo=UTC)
    assert fake.filters == ["tableNo eq 27 and dateAndTime ge 2024-05-01T00:00:00Z"]


def test_change_log_keys_are_looked_up_when_the_key_is_not_the_number(
    bc: BusinessCentralConnector, fake: FakeBusinessCentral
) -> None:
    by_name = replace(spec(price="unitPrice"), key=(FieldSpec("key", "displayName"),))
    changes = list(bc.read_changes(by_name, SINCE))
    assert [(c.key, c.changed_by) for c in changes] == [
        (("Wool Cap",), INTEGRATION),
        (("Wool Cap",), HUMAN),
    ]
    assert fake.filters[1] == "number eq '1896-S'"


def test_change_log_fields_option_and_caption_fallback(
    tmp_path: Path, fake: FakeBusinessCentral
) -> None:
    made = connector(tmp_path, change_log_fields={"Last Date Modified": "lastModified"})
    with made:
        changes = list(made.read_changes(spec(cost="unitCost", modified="lastModified"), SINCE))
    fields = {(c.key[0], c.field) for c in changes}
    assert ("O'NEIL-1", "unitCost") in fields  # built in: field 22
    assert ("1908-S", "lastModified") in fields  # from the option


def test_no_change_log_endpoint_means_no_changes(
    tmp_path: Path, mock: responses.RequestsMock
) -> None:
    with static(tmp_path, change_log_endpoint=None) as bc:
        assert list(bc.read_changes(spec(), SINCE)) == []
    assert len(mock.calls) == 0


def test_web_service_page_names(tmp_path: Path, mock: responses.RequestsMock) -> None:
    url = f"{ROOT}/ODataV4/Company('CRONUS')/ChangeLogEntries"
    entry = {
        "Entry_No": 9, "Date_and_Time": "2024-05-02T10:00:00Z", "User_ID": "ADMIN", "Table_No": 27,
        "Field_No": 18, "Field_Caption": "Unit Price", "Old_Value": "1", "New_Value": "2",
        "Primary_Key_Field_1_Value": "1896-S",
    }  # fmt: skip
    mock.get(url, json={"value": [entry]})
    with static(tmp_path, change_log_endpoint="ODataV4/Company('CRONUS')/ChangeLogEntries") as bc:
        changes = list(bc.read_changes(spec(), SINCE))
    assert [(c.key, c.field, c.changed_by) for c in changes] == [
        (("1896-S",), "unitPrice", "ADMIN")
    ]
    assert (
        mock.calls[0].request.params["$filter"]
        == "Table_No eq 27 and Date_and_Time ge 2024-05-01T00:00:00Z"
    )  # type: ignore[attr-defined]


def test_other_tables_need_table_no(tmp_path: Path, mock: responses.RequestsMock) -> None:
    mock.get(f"{ROOT}/api/contoso/audit/v1.0/companies({COMPANY})/changeLogEntries", json=EMPTY)
    with static(tmp_path) as bc:
        assert list(bc.read_changes(replace(spec(), resource="itemVariants"), SINCE)) == []
        assert (
            list(
                bc.read_changes(
                    replace(spec(), resource="itemVariants", options={"table_no": 5401}), SINCE
                )
            )
            == []
        )
    assert len(mock.calls) == 1
    assert "tableNo eq 5401" in mock.calls[0].request.params["$filter"]  # type: ignore[attr-defined]


def test_scenario_only_the_humans_edit_is_a_non_owner_write(
    tmp_path: Path, bc: BusinessCentralConnector, fake: FakeBusinessCentral
) -> None:
    """Prices are owned by the pricing system; its app user writes them in BC, Jane does too."""
    changes = [c for c in bc.read_changes(spec(), SINCE) if c.field == "unitPrice"]
    assert {c.changed_by for c in changes} == {INTEGRATION, HUMAN}
    found = _non_owner_writes(tmp_path, changes)
    assert [(d.key, d.field, d.writer) for d in found] == [("1896-S", "price", HUMAN)]


def _non_owner_writes(tmp_path: Path, changes: list[Change]) -> list[Any]:
    (tmp_path / "fw.yaml").write_text(
        f"""
version: 1
storage: sqlite:///fw.db
systems:
  pricing: {{connector: csv, directory: pricing}}
  erp:
    connector: businesscentral
    tenant: "{TENANT}"
    company_id: "{COMPANY}"
    token: "{STATIC}"
    change_log_endpoint: "api/contoso/audit/v1.0/companies({{company_id}})/changeLogEntries"
    writers: {{"{INTEGRATION}": pricing}}
entities:
  product:
    systems:
      pricing: {{resource: prices, key: sku, fields: {{price: price}}}}
      erp: {{resource: items, key: number, fields: {{price: unitPrice}}}}
ownership:
  product.price: {{owner: pricing, readers: [erp], compare: money}}
"""
    )
    config = load_config(tmp_path / "fw.yaml")
    return summarise_changes(config, [ChangeLog("erp", "product", changes, None)]).non_owner_writes


# --- throttling and errors -------------------------------------------------------------------


def test_429_retried_then_rate_limited(tmp_path: Path, mock: responses.RequestsMock) -> None:
    for _ in range(2):
        mock.get(ITEMS_URL, status=429, json=fixture("too_many_requests.json"))
    with static(tmp_path, max_retries=1) as bc, pytest.raises(RateLimitedError):
        bc.read(spec())


def test_error_body_is_quoted(tmp_path: Path, mock: responses.RequestsMock) -> None:
    mock.get(ITEMS_URL, status=400, json=fixture("bad_request.json"))
    with (
        static(tmp_path) as bc,
        pytest.raises(SourceFatalError, match="BadRequest_PropertyNotFound") as raised,
    ):
        bc.read(spec())
    assert STATIC not in str(raised.value)


def test_static_token_rejected_fails(tmp_path: Path, mock: responses.RequestsMock) -> None:
    mock.get(ITEMS_URL, status=401, json=fixture("unauthorized.json"))
    with static(tmp_path) as bc, pytest.raises(SourceFatalError, match="authentication failed"):
        bc.read(spec())
    assert len(mock.calls) == 1
