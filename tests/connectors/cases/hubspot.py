"""Contract case for the hubspot connector, and ``FakeHubSpot``: CRM v3 served by ``responses``.

``FakeHubSpot`` answers the list (``after`` paging), search (``IN`` and ``GTE`` filters, ascending
sort on the modification date, ``after`` paging, the 10,000-result cap) and batch-read
(``propertiesWithHistory``) endpoints from ``fixtures/hubspot/contacts.json``, and refuses any
request without ``Authorization: Bearer <TOKEN>`` with HubSpot's 401 body. Pages hold at most
``max_page`` records so every walk spans several pages.
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

from connectors.base import ConnectorContext
from connectors.hubspot import HubSpotConnector, HubSpotOptions
from connectors.vendor import parse_timestamp
from tests.connectors.conftest import make_spec
from tests.connectors.contract import ContractCase
from tests.connectors.vendor_helpers import fixture_loader

API = "https://api.hubapi.com"
TOKEN = "pat-eu1-CANARY-0123-4567-89ab-cdef01234567"
OBJECT_URL = re.compile(rf"{re.escape(API)}/crm/v3/objects/contacts(/search|/batch/read)?(\?.*)?$")
fixture = fixture_loader("hubspot")
CONTACTS: list[dict[str, Any]] = fixture("contacts.json")


@dataclass
class FakeHubSpot:
    records: list[dict[str, Any]] = field(default_factory=lambda: [dict(r) for r in CONTACTS])
    max_page: int = 2
    search_cap: int = 10_000
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def register(self, rsps: responses.RequestsMock) -> None:
        for method in (responses.GET, responses.POST):
            rsps.add_callback(method, OBJECT_URL, callback=self, content_type="application/json")

    def __call__(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {}, json.dumps(fixture("unauthorized.json"))
        parts = urlsplit(request.url or "")
        body: dict[str, Any] = json.loads(request.body) if request.body else {}
        self.calls.append((parts.path, body))
        if parts.path.endswith("/search"):
            return 200, {}, json.dumps(self._search(body))
        if parts.path.endswith("/batch/read"):
            return 200, {}, json.dumps(self._batch(body))
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        props = query.get("properties", "").split(",")
        start = int(query.get("after", "0"))
        limit = min(int(query.get("limit", "10")), self.max_page)
        page = self.records[start : start + limit]
        result: dict[str, Any] = {"results": [self._public(r, props) for r in page]}
        if start + limit < len(self.records):
            after = str(start + limit)
            result["paging"] = {
                "next": {"after": after, "link": f"{API}/crm/v3/objects/contacts?after={after}"}
            }
        return 200, {}, json.dumps(result)

    @staticmethod
    def _public(record: dict[str, Any], props: list[str]) -> dict[str, Any]:
        always = {"hs_object_id", "createdate", "lastmodifieddate"}
        properties = {k: v for k, v in record["properties"].items() if k in props or k in always}
        return {k: record[k] for k in ("id", "createdAt", "updatedAt", "archived")} | {
            "properties": properties
        }

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        matches = list(self.records)
        for flt in body["filterGroups"][0]["filters"]:
            name = flt["propertyName"]
            if flt["operator"] == "IN":
                matches = [r for r in matches if r["properties"].get(name) in flt["values"]]
            elif flt["operator"] == "GTE":
                floor = int(flt["value"])
                matches = [r for r in matches if _ms(r["properties"][name]) >= floor]
        for sort in body.get("sorts", []):
            matches.sort(key=lambda r: _ms(r["properties"][sort["propertyName"]]))
        start = int(body.get("after", "0"))
        limit = min(int(body["limit"]), self.max_page)
        if start + limit > self.search_cap:
            return {
                "status": "error",
                "message": "paging past the cap",
            }  # the connector never gets here
        page = matches[start : start + limit]
        result: dict[str, Any] = {
            "total": len(matches),
            "results": [self._public(r, body.get("properties", [])) for r in page],
        }
        if start + limit < len(matches):
            result["paging"] = {"next": {"after": str(start + limit)}}
        return result

    def _batch(self, body: dict[str, Any]) -> dict[str, Any]:
        wanted = {i["id"] for i in body["inputs"]}
        results = []
        for record in self.records:
            if record["id"] in wanted:
                public = self._public(record, body.get("properties", []))
                public["propertiesWithHistory"] = {
                    p: record["propertiesWithHistory"].get(p, [])
                    for p in body["propertiesWithHistory"]
                }
                results.append(public)
        return {
            "status": "COMPLETE",
            "results": results,
            "startedAt": "2024-05-06T10:00:00Z",
            "completedAt": "2024-05-06T10:00:01Z",
        }


def _ms(text: str) -> int:
    stamp = parse_timestamp(text)
    assert stamp is not None
    return int(stamp.timestamp() * 1000)


def spec(**fields: str) -> Any:
    return make_spec(
        "contacts",
        "email",
        fields or {"first_name": "firstname", "phone": "phone"},
        system="crm",
        entity="customer",
    )


def connector(tmp_path: Path, *, plain: bool = False, **options: Any) -> HubSpotConnector:
    settings = HubSpotOptions.model_validate({"token": TOKEN, "backoff_factor": 0, **options})
    context = ConnectorContext(base_dir=tmp_path, session=requests.Session() if plain else None)
    return HubSpotConnector("crm", settings, context)


def case(tmp_path: Path) -> ContractCase:
    fake = FakeHubSpot()
    return ContractCase(
        connector=connector(tmp_path, plain=True),
        spec=spec(),
        expected=[
            {
                "email": r["properties"]["email"],
                "firstname": r["properties"]["firstname"],
                "phone": r["properties"]["phone"],
            }
            for r in CONTACTS
        ],
        subset=[("ben@example.com",), ("eva@example.com",)],
        mock=fake.register,
        since=datetime(2024, 5, 1, tzinfo=UTC),
        min_changes=4,
    )
