"""Contract case for the netsuite connector, and ``FakeNetSuite`` served by ``responses``.

``FakeNetSuite`` issues tokens for the client assertion at the OAuth 2.0 token endpoint and
answers SuiteQL (``POST .../query/v1/suiteql?limit=&offset=``, ``Prefer: transient`` required)
on ``item`` (``itemid IN (...)`` with ``''`` escapes) and ``systemnote`` (``sn.date >=
TO_TIMESTAMP(...)``) from the fixtures, two rows a page, with ``links[rel=next]``, ``hasMore`` and
``totalResults``; a token it did not issue or has expired gets NetSuite's 401 body.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
import responses

from connectors.base import ConnectorContext, ResourceSpec
from connectors.netsuite import NetSuiteConnector, NetSuiteOptions
from tests.connectors.conftest import make_spec
from tests.connectors.contract import ContractCase
from tests.connectors.vendor_helpers import (
    bearer_token,
    doubled_quote_values,
    fixture_loader,
    form_fields,
    query_fields,
)

ACCOUNT = "1234567_SB1"
URL = "https://1234567-sb1.suitetalk.api.netsuite.com"
SUITEQL = f"{URL}/services/rest/query/v1/suiteql"
TOKEN_URL = f"{URL}/services/rest/auth/oauth2/v1/token"
ASSERTION = "eyJhbGciOiJQUzI1NiIsImtpZCI6ImNlcnQtMSJ9.eyJpc3MiOiJjbGllbnQifQ.CANARYassertion"


fixture = fixture_loader("netsuite")


ITEMS: list[dict[str, Any]] = fixture("items.json")
NOTES: list[dict[str, Any]] = fixture("systemnotes.json")


suiteql_values = doubled_quote_values


@dataclass
class FakeNetSuite:
    page: int = 2
    issued: list[str] = field(default_factory=list)
    expired: set[str] = field(default_factory=set)
    queries: list[str] = field(default_factory=list)
    grants: list[dict[str, str]] = field(default_factory=list)

    def register(self, rsps: responses.RequestsMock) -> None:
        rsps.add_callback(
            responses.POST, TOKEN_URL, callback=self.token, content_type="application/json"
        )
        rsps.add_callback(
            responses.POST,
            re.compile(rf"{re.escape(SUITEQL)}.*"),
            callback=self.suiteql,
            content_type="application/json",
        )

    def expire(self) -> None:
        self.expired.update(self.issued)

    def token(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        form = form_fields(request)
        self.grants.append(form)
        if (
            form.get("client_assertion") != ASSERTION
            or form.get("grant_type") != "client_credentials"
        ):
            return 400, {}, json.dumps({"error": "invalid_client"})
        token = f"{fixture('token.json')['access_token']}.{len(self.issued) + 1}"
        self.issued.append(token)
        return 200, {}, json.dumps({**fixture("token.json"), "access_token": token})

    def suiteql(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        token = bearer_token(request)
        if token not in self.issued or token in self.expired:
            return 401, {}, json.dumps(fixture("invalid_login.json"))
        if request.headers.get("Prefer") != "transient":
            return 400, {}, json.dumps(fixture("invalid_query.json"))
        query = query_fields(request)
        limit, offset = min(int(query["limit"]), self.page), int(query["offset"])
        q = json.loads(request.body or b"{}")["q"]
        if offset == 0:
            self.queries.append(q)
        if " FROM systemnote " in q:
            floor = re.search(r"sn\.date >= TO_TIMESTAMP\('([^']+)'", q)
            assert floor is not None
            rows = [n for n in NOTES if n["changed_at"] >= floor.group(1).replace(" ", "T")]
        elif re.search(r"\bFROM item\b", q):
            rows = [{k: v for k, v in i.items() if k != "lastmodifieddate"} for i in ITEMS]
            if " IN (" in q:
                wanted = set(suiteql_values(q))
                rows = [r for r in rows if r["itemid"] in wanted]
            rows.sort(key=lambda r: r["itemid"])
        else:
            return 400, {}, json.dumps(fixture("invalid_query.json"))
        page = rows[offset : offset + limit]
        more = offset + limit < len(rows)
        links = [
            {"rel": "self", "href": f"{SUITEQL}?{urlencode({'limit': limit, 'offset': offset})}"}
        ]
        if more:
            links.insert(
                0,
                {
                    "rel": "next",
                    "href": f"{SUITEQL}?{urlencode({'limit': limit, 'offset': offset + limit})}",
                },
            )
        body = {
            "links": links,
            "count": len(page),
            "hasMore": more,
            "offset": offset,
            "totalResults": len(rows),
            "items": page,
        }
        return 200, {}, json.dumps(body)


def spec(**fields: str) -> ResourceSpec:
    return make_spec(
        "item",
        "itemid",
        fields or {"title": "displayname", "description": "salesdescription"},
        system="erp",
        entity="product",
    )


def connector(tmp_path: Path, *, plain: bool = False, **options: Any) -> NetSuiteConnector:
    settings = NetSuiteOptions.model_validate(
        {
            "account_id": ACCOUNT,
            "assertion": ASSERTION,
            "backoff_factor": 0,
            "history_fields": {"ITEM.SSALESDESCRIPTION": "salesdescription"},
            **options,
        }
    )
    context = ConnectorContext(base_dir=tmp_path, session=requests.Session() if plain else None)
    return NetSuiteConnector("erp", settings, context)


def case(tmp_path: Path) -> ContractCase:
    fake = FakeNetSuite()
    return ContractCase(
        connector=connector(tmp_path, plain=True),
        spec=spec(),
        expected=[
            {
                "itemid": i["itemid"],
                "displayname": i["displayname"],
                "salesdescription": i.get("salesdescription"),
            }
            for i in ITEMS
        ],
        subset=[("O'NEIL-TEE",), ("SOCK-3PK",)],
        mock=fake.register,
        since=datetime(2024, 5, 1, tzinfo=UTC),
        min_changes=4,
    )
