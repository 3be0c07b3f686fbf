"""Salesforce connector, offline: OAuth (client credentials, JWT bearer, pre-issued token),
SOQL paging and quoting, relationship paths, field history with actors, REQUEST_LIMIT_EXCEEDED,
INVALID_SESSION_ID renewal, error bodies, secrets."""

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
from connectors.salesforce import SalesforceConnector, SalesforceOptions, soql_quote
from detector.config import load_config
from detector.engine.changes import ChangeLog, summarise_changes
from detector.errors import RateLimitedError, SourceFatalError
from tests.connectors.cases.salesforce import (
    ASSERTION,
    CLIENT_SECRET,
    HUMAN,
    INSTANCE,
    INTEGRATION,
    PRODUCTS,
    QUERY,
    TOKEN_URL,
    FakeSalesforce,
    connector,
    fixture,
    soql_values,
    spec,
)

SINCE = datetime(2024, 5, 1, tzinfo=UTC)
STATIC = "00DXX0000001gPL!AQ4AQ.CANARY.static"


@pytest.fixture
def fake(slept: list[float]) -> Iterator[FakeSalesforce]:
    server = FakeSalesforce()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        server.register(rsps)
        yield server


@pytest.fixture
def sf(tmp_path: Path) -> Iterator[SalesforceConnector]:
    with connector(tmp_path) as made:
        assert isinstance(made, SalesforceConnector)
        yield made


def static(tmp_path: Path, **options: Any) -> SalesforceConnector:
    return connector(
        tmp_path, client_id=None, client_secret=None, token=STATIC, instance_url=INSTANCE, **options
    )


# --- auth -----------------------------------------------------------------------------------


def test_client_credentials_token_once_then_bearer(
    sf: SalesforceConnector, fake: FakeSalesforce
) -> None:
    sf.read(spec())
    sf.read(spec())
    assert len(fake.grants) == 1
    assert fake.grants[0]["grant_type"] == "client_credentials"
    assert fake.grants[0]["client_secret"] == CLIENT_SECRET


def test_jwt_bearer_posts_the_assertion(tmp_path: Path, fake: FakeSalesforce) -> None:
    with connector(tmp_path, client_id=None, client_secret=None, assertion=ASSERTION) as sf:
        assert sf.read(spec()).data.height == len(PRODUCTS)
    assert fake.grants == [
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": ASSERTION}
    ]


def test_expired_session_is_renewed_once(sf: SalesforceConnector, fake: FakeSalesforce) -> None:
    sf.read(spec())
    fake.expire()
    with capture_logs() as logs:
        frame = sf.read(spec())
    assert frame.data.height == len(PRODUCTS)
    assert len(fake.grants) == 2
    assert any(e["event"] == "oauth_token_rejected" for e in logs)


def test_session_rejected_twice_fails_as_bad_credentials(
    sf: SalesforceConnector, mock: responses.RequestsMock
) -> None:
    mock.post(TOKEN_URL, json=fixture("token.json"))
    mock.get(QUERY, status=401, json=fixture("invalid_session.json"))
    mock.post(TOKEN_URL, json=fixture("token.json"))
    mock.get(QUERY, status=401, json=fixture("invalid_session.json"))
    with pytest.raises(SourceFatalError, match="authentication failed"):
        sf.read(spec())


def test_pre_issued_token_is_not_renewed(tmp_path: Path, mock: responses.RequestsMock) -> None:
    mock.get(QUERY, status=401, json=fixture("invalid_session.json"))
    with (
        static(tmp_path) as sf,
        pytest.raises(SourceFatalError, match="authentication failed") as raised,
    ):
        sf.read(spec())
    assert len(mock.calls) == 1
    assert STATIC not in str(raised.value)


def test_bad_client_secret_is_never_printed(sf: SalesforceConnector, fake: FakeSalesforce) -> None:
    bad = connector(Path("."), client_secret="wrong-CANARY-secret-9876")
    with capture_logs() as logs, pytest.raises(SourceFatalError, match="invalid_client") as raised:
        bad.read(spec())
    for secret in ("wrong-CANARY-secret-9876", CLIENT_SECRET):
        assert secret not in str(raised.value)
        assert secret not in repr(logs)
        assert secret not in repr(bad.options)


def test_options_need_credentials() -> None:
    with pytest.raises(ValidationError, match="client_id"):
        SalesforceOptions.model_validate({})


# --- records --------------------------------------------------------------------------------


def test_read_follows_relative_next_records_url(
    sf: SalesforceConnector, fake: FakeSalesforce
) -> None:
    frame = sf.read(spec())
    assert frame.complete
    rows = {r["ProductCode"]: r for r in frame.data.to_dicts()}
    assert rows["CAP-GRY"] == {
        "ProductCode": "CAP-GRY",
        "Name": "Wool Cap",
        "Description": "Warm grey wool cap",
        "IsActive": "true",
        "__row__": 1,
    }
    assert rows["SCARF-RED"]["Description"] is None
    assert rows["MUG-BLU"]["IsActive"] == "false"
    assert fake.queries == ["SELECT ProductCode, Name, Description, IsActive FROM Product2"]


def test_keys_are_quoted_with_soql_escapes(sf: SalesforceConnector, fake: FakeSalesforce) -> None:
    frame = sf.read(spec(), keys=[("O'NEIL-TEE",), ("MUG-BLU",), ("NOPE",)])
    assert sorted(frame.data.get_column("ProductCode").to_list()) == ["MUG-BLU", "O'NEIL-TEE"]
    assert "ProductCode IN ('MUG-BLU', 'NOPE', 'O\\'NEIL-TEE')" in fake.queries[0]


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [
        ("plain", "'plain'"),
        ("O'Neil", "'O\\'Neil'"),
        ("back\\slash", "'back\\\\slash'"),
        ("a\nb\tc", "'a\\nb\\tc'"),
        ("' OR Name != '", "'\\' OR Name != \\''"),
    ],
)
def test_soql_quote(raw: str, quoted: str) -> None:
    assert soql_quote(raw) == quoted
    assert soql_values(quoted) == [raw]


def test_relationship_paths_read_nested_records(
    tmp_path: Path, mock: responses.RequestsMock
) -> None:
    body = {
        "totalSize": 2,
        "done": True,
        "records": [
            {
                "attributes": {"type": "PricebookEntry"},
                "UnitPrice": 24.0,
                "Product2": {"attributes": {"type": "Product2"}, "ProductCode": "CAP-GRY"},
            },
            {"attributes": {"type": "PricebookEntry"}, "UnitPrice": 9.5, "Product2": None},
        ],
    }
    mock.get(QUERY, json=body)
    entries = replace(
        spec(price="UnitPrice"),
        resource="PricebookEntry",
        key=(FieldSpec("key", "Product2.ProductCode"),),
    )
    with static(tmp_path) as sf:
        frame = sf.read(entries)
    assert frame.data.select("Product2.ProductCode", "UnitPrice").rows() == [("CAP-GRY", "24.0")]
    assert len(frame.problems) == 1  # the entry without a product has no key
    assert mock.calls[0].request.headers["Authorization"] == f"Bearer {STATIC}"


def test_unsafe_paths_are_refused(tmp_path: Path) -> None:
    with static(tmp_path) as sf, pytest.raises(SourceFatalError, match="API names"):
        sf.read(spec(bad="Name FROM User --"))


def test_batch_size_header(tmp_path: Path, mock: responses.RequestsMock) -> None:
    mock.get(QUERY, json={"totalSize": 0, "done": True, "records": []})
    with static(tmp_path, page_size=500) as sf:
        sf.read(spec())
    assert mock.calls[0].request.headers["Sforce-Query-Options"] == "batchSize=500"


# --- changes --------------------------------------------------------------------------------


def test_history_becomes_changes_with_the_writer_id(
    sf: SalesforceConnector, fake: FakeSalesforce
) -> None:
    changes = list(sf.read_changes(spec(), SINCE))
    assert [(c.key, c.field, c.changed_by, c.old_value, c.new_value) for c in changes] == [
        (("CAP-GRY",), "Name", INTEGRATION, "Grey Cap", "Wool Cap"),
        (("CAP-GRY",), "Name", HUMAN, "Wool Cap", "Wool Cap (grey)"),
        (("MUG-BLU",), "Description", INTEGRATION, None, "Stoneware, 350 ml"),
        (("MUG-BLU",), "IsActive", HUMAN, "true", "false"),
    ]
    assert changes[0].changed_at == datetime(2024, 5, 2, 9, 14, tzinfo=UTC)
    history_query = fake.queries[-1]
    assert "FROM Product2History" in history_query
    assert "Product2.ProductCode" in history_query
    assert "CreatedDate >= 2024-05-01T00:00:00Z" in history_query
    assert "Field IN ('Description', 'IsActive', 'Name')" in history_query


def test_pricebook_entries_have_no_history(tmp_path: Path) -> None:
    entries = replace(spec(price="UnitPrice"), resource="PricebookEntry")
    with static(tmp_path) as sf, capture_logs() as logs:
        assert list(sf.read_changes(entries, SINCE)) == []
    assert [e["event"] for e in logs] == ["salesforce_no_field_history"]


def test_history_can_be_switched_off_per_entity(tmp_path: Path) -> None:
    account = replace(spec(), resource="Account", options={"history": False})
    with static(tmp_path) as sf:
        assert list(sf.read_changes(account, SINCE)) == []


def test_custom_objects_use_their_history_object(
    tmp_path: Path, mock: responses.RequestsMock
) -> None:
    mock.get(QUERY, json={"totalSize": 0, "done": True, "records": []})
    custom = replace(spec(), resource="Stock_Level__c", key=(FieldSpec("key", "Sku__c"),))
    with static(tmp_path) as sf:
        list(sf.read_changes(custom, SINCE))
    query = mock.calls[0].request.params["q"]  # type: ignore[attr-defined]  # added by responses
    assert "FROM Stock_Level__History" in query
    assert "Parent.Sku__c" in query


def test_scenario_only_the_humans_edit_is_a_non_owner_write(
    tmp_path: Path, sf: SalesforceConnector, fake: FakeSalesforce
) -> None:
    """The ERP owns product names; its integration user writes them in Salesforce, Jane does too."""
    changes = [c for c in sf.read_changes(spec(), SINCE) if c.field == "Name"]
    assert {c.changed_by for c in changes} == {INTEGRATION, HUMAN}
    found = _non_owner_writes(tmp_path, changes)
    assert [(d.key, d.field, d.writer) for d in found] == [("CAP-GRY", "title", HUMAN)]


def _non_owner_writes(tmp_path: Path, changes: list[Change]) -> list[Any]:
    (tmp_path / "fw.yaml").write_text(
        f"""
version: 1
storage: sqlite:///fw.db
systems:
  erp: {{connector: csv, directory: erp}}
  crm:
    connector: salesforce
    token: "{STATIC}"
    instance_url: "{INSTANCE}"
    writers: {{"{INTEGRATION}": erp}}
entities:
  product:
    systems:
      erp: {{resource: products, key: sku, fields: {{title: name}}}}
      crm: {{resource: Product2, key: ProductCode, fields: {{title: Name}}}}
ownership:
  product.title: {{owner: erp, readers: [crm], compare: text}}
"""
    )
    config = load_config(tmp_path / "fw.yaml")
    return summarise_changes(config, [ChangeLog("crm", "product", changes, None)]).non_owner_writes


# --- throttling and errors -------------------------------------------------------------------


def test_request_limit_exceeded_is_rate_limiting_not_bad_credentials(
    tmp_path: Path, mock: responses.RequestsMock
) -> None:
    mock.get(QUERY, status=403, json=fixture("request_limit_exceeded.json"))
    with static(tmp_path) as sf, pytest.raises(RateLimitedError, match="rate limited"):
        sf.read(spec())


def test_query_errors_keep_the_code_not_the_query(
    tmp_path: Path, mock: responses.RequestsMock
) -> None:
    mock.get(QUERY, status=400, json=fixture("invalid_field.json"))
    with static(tmp_path) as sf, pytest.raises(SourceFatalError, match="INVALID_FIELD") as raised:
        sf.read(spec(title="Nmae"), keys=[("CAP-GRY",)])
    assert "CAP-GRY" not in str(raised.value)
    assert STATIC not in str(raised.value)


def test_server_errors_are_retried(tmp_path: Path, mock: responses.RequestsMock) -> None:
    mock.get(QUERY, status=503)
    mock.get(QUERY, json={"totalSize": 0, "done": True, "records": []})
    with static(tmp_path) as sf:
        assert sf.read(spec()).data.height == 0
