"""Akeneo connector, offline: password grant and refresh before expiry, search_after paging,
attribute values by locale/channel/currency, keys and the updated filter, 429, errors, secrets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import responses
from pydantic import ValidationError
from structlog.testing import capture_logs

from connectors.akeneo import AkeneoConnector, AkeneoOptions, ValuePath, parse_value_path
from connectors.base import FieldSpec
from detector.errors import RateLimitedError, SourceFatalError
from tests.connectors.cases.akeneo import (
    CLIENT_SECRET,
    PASSWORD,
    PRODUCTS,
    PRODUCTS_URL,
    TOKEN_URL,
    USERNAME,
    FakeAkeneo,
    connector,
    fixture,
    spec,
)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """``connectors.oauth.now``, moved by the test."""
    now = [1000.0]
    monkeypatch.setattr("connectors.oauth.now", lambda: now[0])
    return now


@pytest.fixture
def fake(slept: list[float], clock: list[float]) -> Iterator[FakeAkeneo]:
    server = FakeAkeneo()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        server.register(rsps)
        yield server


@pytest.fixture
def pim(tmp_path: Path) -> Iterator[AkeneoConnector]:
    with connector(tmp_path) as made:
        assert isinstance(made, AkeneoConnector)
        yield made


# --- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "parsed"),
    [
        ("values.sku", ValuePath("sku")),
        ("values.name[en_US]", ValuePath("name", locale="en_US")),
        ("values.ean[ecommerce]", ValuePath("ean", scope="ecommerce")),
        ("values.description[en_US,ecommerce]", ValuePath("description", "en_US", "ecommerce")),
        ("values.description[ecommerce, en_US]", ValuePath("description", "en_US", "ecommerce")),
        ("values.price[EUR]", ValuePath("price", currency="EUR")),
        ("values.name[sr_Latn_RS]", ValuePath("name", locale="sr_Latn_RS")),
        ("identifier", None),
        ("values.name.en_US", None),
    ],
)
def test_value_paths(path: str, parsed: ValuePath | None) -> None:
    assert parse_value_path(path) == parsed


def test_read_flattens_values_exactly_as_mapped(pim: AkeneoConnector, fake: FakeAkeneo) -> None:
    frame = pim.read(
        spec(
            title="values.name[en_US]",
            title_de="values.name[de_DE]",
            description="values.description[en_US,ecommerce]",
            mobile="values.description[en_US,mobile]",
            price="values.price[EUR]",
            usd="values.price[USD]",
            weight="values.weight",
            family="family",
            enabled="enabled",
        )
    )
    rows = {r["identifier"]: r for r in frame.data.to_dicts()}
    cap = rows["CAP-GRY"]
    assert cap["values.name[en_US]"] == "Wool Cap"
    assert cap["values.name[de_DE]"] == "Wollmütze"
    assert cap["values.description[en_US,ecommerce]"] == "<p>Warm.</p>"
    assert cap["values.description[en_US,mobile]"] == "Warm"
    assert (cap["values.price[EUR]"], cap["values.price[USD]"]) == ("24.00", "26.50")
    assert cap["values.weight"] == '{"amount":"0.2000","unit":"KILOGRAM"}'
    assert (cap["family"], cap["enabled"]) == ("caps", "true")
    assert rows["MUG-BLU"]["values.name[en_US]"] is None  # only a German name
    assert rows["MUG-BLU"]["values.price[EUR]"] is None
    assert rows["SCARF-RED"]["values.price[USD]"] is None
    assert len(rows) == len(PRODUCTS)
    assert len(fake.listings) == 3  # two products a page, next links followed
    assert fake.listings[0]["pagination_type"] == "search_after"


def test_keys_search_the_identifier_attribute(pim: AkeneoConnector, fake: FakeAkeneo) -> None:
    frame = pim.read(spec(), keys=[("SOCK-3PK",), ("CAP-GRY",), ("NOPE",)])
    assert sorted(frame.data.get_column("identifier").to_list()) == ["CAP-GRY", "SOCK-3PK"]
    assert json.loads(fake.listings[0]["search"]) == {
        "sku": [{"operator": "IN", "value": ["CAP-GRY", "NOPE", "SOCK-3PK"]}]
    }


def test_keys_on_another_path_are_filtered_locally(pim: AkeneoConnector, fake: FakeAkeneo) -> None:
    by_uuid = replace(spec(), key=(FieldSpec("key", "uuid"),))
    frame = pim.read(by_uuid, keys=[("1c3e5f4a-8f0e-4a3b-9d6c-1a2b3c4d5e03",)])
    assert frame.data.get_column("uuid").to_list() == ["1c3e5f4a-8f0e-4a3b-9d6c-1a2b3c4d5e03"]
    assert "search" not in fake.listings[0]


def test_read_updated_uses_the_updated_filter(pim: AkeneoConnector, fake: FakeAkeneo) -> None:
    frame = pim.read_updated(spec(), datetime(2024, 5, 2, 12, 0, tzinfo=UTC))
    assert sorted(frame.data.get_column("identifier").to_list()) == ["MUG-BLU", "TEE-WHT-M"]
    assert json.loads(fake.listings[0]["search"]) == {
        "updated": [{"operator": ">", "value": "2024-05-02 12:00:00"}]
    }


def test_no_change_history(pim: AkeneoConnector) -> None:
    assert AkeneoConnector.supports_changes is False
    assert list(pim.read_changes(spec(), None)) == []


def test_unknown_resource_is_refused(pim: AkeneoConnector) -> None:
    with pytest.raises(SourceFatalError, match="products"):
        pim.read(replace(spec(), resource="channels"))


# --- tokens ---------------------------------------------------------------------------------


def test_password_grant_once_with_basic_client_auth(pim: AkeneoConnector, fake: FakeAkeneo) -> None:
    pim.read(spec())
    pim.read(spec())
    assert fake.grants == [{"grant_type": "password", "username": USERNAME, "password": PASSWORD}]


def test_token_is_refreshed_before_it_expires(
    pim: AkeneoConnector, fake: FakeAkeneo, clock: list[float]
) -> None:
    pim.read(spec())
    clock[0] += 3300  # 5 minutes left of the hour: still fine
    pim.read(spec())
    assert len(fake.grants) == 1
    clock[0] += 250  # under the margin: renew before the API refuses it
    pim.read(spec())
    assert fake.grants[1] == {"grant_type": "refresh_token", "refresh_token": "CANARYrefresh0001"}
    assert len(fake.tokens) == 2


def test_refused_refresh_falls_back_to_the_password_grant(
    pim: AkeneoConnector, fake: FakeAkeneo, clock: list[float]
) -> None:
    pim.read(spec())
    fake.refresh_tokens.clear()
    clock[0] += 3590
    pim.read(spec())
    assert [g["grant_type"] for g in fake.grants] == ["password", "refresh_token", "password"]


def test_a_401_renews_the_token_once(pim: AkeneoConnector, fake: FakeAkeneo) -> None:
    pim.read(spec())
    fake.expire()
    assert pim.read(spec()).data.height == len(PRODUCTS)
    assert [g["grant_type"] for g in fake.grants] == ["password", "refresh_token"]


def test_wrong_password_never_printed(tmp_path: Path, fake: FakeAkeneo) -> None:
    wrong = "akeneo-CANARY-wrong-password"
    with connector(tmp_path, password=wrong) as pim, capture_logs() as logs:
        with pytest.raises(SourceFatalError, match="authentication failed") as raised:
            pim.read(spec())
        text = f"{raised.value} {raised.value.__dict__} {logs} {pim.options!r}"
    for secret in (wrong, CLIENT_SECRET, PASSWORD):
        assert secret not in text


def test_options_need_credentials() -> None:
    with pytest.raises(ValidationError, match="client_id"):
        AkeneoOptions.model_validate({"url": "https://pim.example.com", "username": "u"})


# --- throttling and errors -------------------------------------------------------------------


def test_429_over_the_cap_is_rate_limited(
    tmp_path: Path, mock: responses.RequestsMock, slept: list[float]
) -> None:
    mock.post(TOKEN_URL, json=fixture("token.json"))
    mock.get(
        PRODUCTS_URL,
        status=429,
        json=fixture("too_many_requests.json"),
        headers={"Retry-After": "900"},
    )
    with connector(tmp_path) as pim, pytest.raises(RateLimitedError) as raised:
        pim.read(spec())
    assert raised.value.retry_after == 900
    assert slept == []


def test_429_then_success(tmp_path: Path, mock: responses.RequestsMock) -> None:
    mock.post(TOKEN_URL, json=fixture("token.json"))
    mock.get(
        PRODUCTS_URL,
        status=429,
        json=fixture("too_many_requests.json"),
        headers={"Retry-After": "1"},
    )
    mock.get(PRODUCTS_URL, json={"_links": {}, "_embedded": {"items": PRODUCTS[:1]}})
    with connector(tmp_path) as pim:
        assert pim.read(spec()).data.height == 1


def test_error_body_is_quoted_and_scrubbed(tmp_path: Path, mock: responses.RequestsMock) -> None:
    token = fixture("token.json")["access_token"]
    mock.post(TOKEN_URL, json=fixture("token.json"))
    mock.get(PRODUCTS_URL, status=422, json=fixture("invalid_search.json"))
    with (
        connector(tmp_path) as pim,
        pytest.raises(SourceFatalError, match="not supported") as raised,
    ):
        pim.read(spec(), keys=[("CAP-GRY",)])
    assert token not in str(raised.value)
