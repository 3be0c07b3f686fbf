"""Contract case for the businesscentral connector, and ``FakeBusinessCentral`` (``responses``).

``FakeBusinessCentral`` issues Entra ID client-credentials tokens, answers the API v2.0 ``items``
entity set (``$filter`` on ``number eq '...'`` with ``''`` escapes or ``lastModifiedDateTime
gt``; two items a page with an absolute ``@odata.nextLink`` carrying a ``$skiptoken``) and a custom
API page of Change Log entries (``tableNo eq`` and ``dateAndTime ge``), from the fixtures; a token
it did not issue or has expired gets BC's 401 body.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
import responses

from connectors.base import ConnectorContext, ResourceSpec
from connectors.businesscentral import BusinessCentralConnector, BusinessCentralOptions
from connectors.vendor import parse_timestamp
from tests.connectors.conftest import make_spec
from tests.connectors.contract import ContractCase
from tests.connectors.vendor_helpers import (
    bearer_token,
    doubled_quote_values,
    fixture_loader,
    form_fields,
)

TENANT = "7c5f2d1e-3b4a-4c6d-8e9f-0a1b2c3d4e5f"
COMPANY = "a1b2c3d4-0000-ef11-9f88-6045bdc8c100"
CLIENT_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
CLIENT_SECRET = "bc~CANARY~secret~0123456789abcdef"
API = "https://api.businesscentral.dynamics.com"
ROOT = f"{API}/v2.0/{TENANT}/production"
ITEMS_URL = f"{ROOT}/api/v2.0/companies({COMPANY})/items"
CHANGE_LOG = "api/contoso/audit/v1.0/companies({company_id})/changeLogEntries"
CHANGE_LOG_URL = f"{ROOT}/api/contoso/audit/v1.0/companies({COMPANY})/changeLogEntries"
TOKEN_URL = f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
INTEGRATION = "BC-SYNC APP"
HUMAN = "CONTOSO\\JANE"


fixture = fixture_loader("businesscentral")


ITEMS: list[dict[str, Any]] = fixture("items.json")
ENTRIES: list[dict[str, Any]] = fixture("changelog.json")


odata_values = doubled_quote_values


@dataclass
class FakeBusinessCentral:
    page: int = 2
    issued: list[str] = field(default_factory=list)
    expired: set[str] = field(default_factory=set)
    grants: list[dict[str, str]] = field(default_factory=list)
    filters: list[str | None] = field(default_factory=list)

    def register(self, rsps: responses.RequestsMock) -> None:
        rsps.add_callback(
            responses.POST, TOKEN_URL, callback=self.token, content_type="application/json"
        )
        for url, rows in ((ITEMS_URL, ITEMS), (CHANGE_LOG_URL, ENTRIES)):
            rsps.add_callback(
                responses.GET,
                re.compile(rf"{re.escape(url)}(\?.*)?$"),
                callback=partial(self.listing, rows=rows),
                content_type="application/json",
            )

    def expire(self) -> None:
        self.expired.update(self.issued)

    def token(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        form = form_fields(request)
        self.grants.append(form)
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {}, json.dumps(fixture("invalid_client.json"))
        token = f"{fixture('token.json')['access_token']}.{len(self.issued) + 1}"
        self.issued.append(token)
        return 200, {}, json.dumps({**fixture("token.json"), "access_token": token})

    def listing(
        self, request: requests.PreparedRequest, *, rows: list[dict[str, Any]]
    ) -> tuple[int, dict[str, str], str]:
        token = bearer_token(request)
        if token not in self.issued or token in self.expired:
            return 401, {}, json.dumps(fixture("unauthorized.json"))
        parts = urlsplit(request.url or "")
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        where = query.get("$filter")
        skip = int(query.get("$skiptoken", "0"))
        if skip == 0:
            self.filters.append(where)
        matches = list(rows)
        if where and " eq '" in where:
            wanted = set(odata_values(where))
            matches = [r for r in matches if r["number"] in wanted]
        if where and "lastModifiedDateTime gt " in where:
            floor = parse_timestamp(where.split("lastModifiedDateTime gt ")[1].split(")")[0])
            assert floor is not None
            matches = [
                r for r in matches if (parse_timestamp(r["lastModifiedDateTime"]) or floor) > floor
            ]
        if where and "tableNo eq " in where:
            table = int(where.split("tableNo eq ")[1].split()[0])
            floor = parse_timestamp(where.split("dateAndTime ge ")[1].split()[0])
            assert floor is not None
            matches = [
                r
                for r in matches
                if r["tableNo"] == table and (parse_timestamp(r["dateAndTime"]) or floor) >= floor
            ]
        page = matches[skip : skip + self.page]
        body: dict[str, Any] = {
            "@odata.context": f"{ROOT}/api/v2.0/$metadata#companies({COMPANY})/items",
            "value": page,
        }
        if skip + self.page < len(matches):
            following = {
                **({"$filter": where} if where else {}),
                "aid": "FIN",
                "$skiptoken": str(skip + self.page),
            }
            body["@odata.nextLink"] = (
                f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(following)}"
            )
        return 200, {}, json.dumps(body)


def spec(**fields: str) -> ResourceSpec:
    return make_spec(
        "items",
        "number",
        fields or {"title": "displayName", "price": "unitPrice", "blocked": "blocked"},
        system="erp",
        entity="product",
    )


def connector(tmp_path: Path, *, plain: bool = False, **options: Any) -> BusinessCentralConnector:
    settings = BusinessCentralOptions.model_validate(
        {
            "tenant": TENANT,
            "company_id": COMPANY,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "change_log_endpoint": CHANGE_LOG,
            "backoff_factor": 0,
            **options,
        }
    )
    context = ConnectorContext(base_dir=tmp_path, session=requests.Session() if plain else None)
    return BusinessCentralConnector("erp", settings, context)


def case(tmp_path: Path) -> ContractCase:
    fake = FakeBusinessCentral()
    return ContractCase(
        connector=connector(tmp_path, plain=True),
        spec=spec(),
        expected=[
            {
                "number": i["number"],
                "displayName": i["displayName"],
                "unitPrice": str(i["unitPrice"]),
                "blocked": "true" if i["blocked"] else "false",
            }
            for i in ITEMS
        ],
        subset=[("O'NEIL-1",), ("1920-S",)],
        mock=fake.register,
        since=datetime(2024, 5, 1, tzinfo=UTC),
        min_changes=4,
    )
