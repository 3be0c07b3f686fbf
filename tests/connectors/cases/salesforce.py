"""Contract case for the salesforce connector, and ``FakeSalesforce`` served by ``responses``.

``FakeSalesforce`` issues tokens at ``{LOGIN}/services/oauth2/token`` (client credentials or JWT
bearer; ``instance_url`` in the answer), answers SOQL on Product2 (``ProductCode IN (...)``
parsed with SOQL escapes) and Product2History (``CreatedDate >=``) from the fixtures, two records
a page with a relative ``nextRecordsUrl``, and answers 401 INVALID_SESSION_ID to any token it did
not issue or has expired (``expire()``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses

from connectors.base import ConnectorContext, ResourceSpec
from connectors.salesforce import SalesforceConnector, SalesforceOptions
from connectors.vendor import parse_timestamp
from tests.connectors.conftest import make_spec
from tests.connectors.contract import ContractCase
from tests.connectors.vendor_helpers import bearer_token, fixture_loader, form_fields

LOGIN = "https://acme.my.salesforce.com"
INSTANCE = "https://acme.my.salesforce.com"
CLIENT_ID = "3MVG9CANARYclientid"
CLIENT_SECRET = "sf-CANARY-secret-0123456789ABCDEF"
ASSERTION = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIzTVZHOSJ9.CANARYsignature"
QUERY = f"{INSTANCE}/services/data/v62.0/query"
TOKEN_URL = f"{LOGIN}/services/oauth2/token"
INTEGRATION = "005XX000001SvAAYA0"
HUMAN = "005XX000002HmnBYAS"


fixture = fixture_loader("salesforce")


PRODUCTS: list[dict[str, Any]] = fixture("product2.json")
HISTORY: list[dict[str, Any]] = fixture("product2history.json")
_LITERAL = re.compile(r"'((?:\\.|[^'\\])*)'")
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def soql_values(text: str) -> list[str]:
    return [
        re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m.group(1), m.group(1)), m.group(1))
        for m in _LITERAL.finditer(text)
    ]


@dataclass
class FakeSalesforce:
    page: int = 2
    issued: list[str] = field(default_factory=list)
    expired: set[str] = field(default_factory=set)
    queries: list[str] = field(default_factory=list)
    grants: list[dict[str, str]] = field(default_factory=list)
    _cursors: dict[str, tuple[list[Any], int]] = field(default_factory=dict)

    def register(self, rsps: responses.RequestsMock) -> None:
        rsps.add_callback(
            responses.POST, TOKEN_URL, callback=self.token, content_type="application/json"
        )
        rsps.add_callback(
            responses.GET,
            re.compile(rf"{re.escape(QUERY)}.*"),
            callback=self.query,
            content_type="application/json",
        )

    def expire(self) -> None:
        self.expired.update(self.issued)

    def token(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        form = form_fields(request)
        self.grants.append(form)
        good = (
            form.get("grant_type") == "client_credentials"
            and form.get("client_id") == CLIENT_ID
            and form.get("client_secret") == CLIENT_SECRET
        ) or (
            form.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer"
            and form.get("assertion") == ASSERTION
        )
        if not good:
            return 400, {}, json.dumps(fixture("invalid_client.json"))
        token = f"00DXX0000001gPL!AQ4AQ.CANARY.{len(self.issued) + 1}"
        self.issued.append(token)
        return (
            200,
            {},
            json.dumps({**fixture("token.json"), "access_token": token, "instance_url": INSTANCE}),
        )

    def query(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        token = bearer_token(request)
        if token not in self.issued or token in self.expired:
            return 401, {}, json.dumps(fixture("invalid_session.json"))
        parts = urlsplit(request.url or "")
        headers = {"Sforce-Limit-Info": "api-usage=18/100000"}
        if "/query/" in parts.path:
            locator = parts.path.rsplit("/", 1)[1]
            rows, total = self._cursors.pop(locator)
            return 200, headers, json.dumps(self._page(rows, locator, total))
        soql = parse_qs(parts.query)["q"][0]
        self.queries.append(soql)
        source = re.search(r"\bFROM (\w+)", soql)
        assert source is not None
        if source.group(1) == "Product2":
            rows = list(PRODUCTS)
            if " IN (" in soql:
                wanted = set(soql_values(soql))
                rows = [r for r in rows if r["ProductCode"] in wanted]
        elif source.group(1) == "Product2History":
            floor = re.search(r"CreatedDate >= (\S+)", soql)
            assert floor is not None
            start = parse_timestamp(floor.group(1))
            assert start is not None
            fields = set(soql_values(soql.split("Field IN", 1)[1]))
            rows = [
                r
                for r in HISTORY
                if (parse_timestamp(r["CreatedDate"]) or start) >= start and r["Field"] in fields
            ]
        else:
            return (
                400,
                {},
                json.dumps(
                    [
                        {
                            "message": f"sObject type '{source.group(1)}' is not supported.",
                            "errorCode": "INVALID_TYPE",
                        }
                    ]
                ),
            )
        return 200, headers, json.dumps(self._page(rows, "01gXX0000016PIA", len(rows)))

    def _page(self, rows: list[Any], locator: str, total: int) -> dict[str, Any]:
        body: dict[str, Any] = {"totalSize": total, "done": True, "records": rows[: self.page]}
        rest = rows[self.page :]
        if rest:
            following = f"{locator.split('-', maxsplit=1)[0]}-{len(self.queries)}{len(self._cursors)}{len(rest)}"
            self._cursors[following] = (rest, total)
            body["done"] = False
            body["nextRecordsUrl"] = f"/services/data/v62.0/query/{following}"
        # totalSize is the whole result's size on every page, as Salesforce sends it.
        return body


def spec(**fields: str) -> ResourceSpec:
    return make_spec(
        "Product2",
        "ProductCode",
        fields or {"title": "Name", "description": "Description", "active": "IsActive"},
        system="crm",
        entity="product",
    )


def connector(tmp_path: Path, *, plain: bool = False, **options: Any) -> SalesforceConnector:
    settings = SalesforceOptions.model_validate(
        {
            "url": LOGIN,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "backoff_factor": 0,
            **options,
        }
    )
    context = ConnectorContext(base_dir=tmp_path, session=requests.Session() if plain else None)
    return SalesforceConnector("crm", settings, context)


def case(tmp_path: Path) -> ContractCase:
    fake = FakeSalesforce()
    return ContractCase(
        connector=connector(tmp_path, plain=True),
        spec=spec(),
        expected=[
            {
                "ProductCode": p["ProductCode"],
                "Name": p["Name"],
                "Description": p["Description"],
                "IsActive": "true" if p["IsActive"] else "false",
            }
            for p in PRODUCTS
        ],
        subset=[("O'NEIL-TEE",), ("MUG-BLU",)],
        mock=fake.register,
        since=datetime(2024, 5, 1, tzinfo=UTC),
        min_changes=4,
    )
