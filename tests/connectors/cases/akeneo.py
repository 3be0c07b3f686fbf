"""Contract case for the akeneo connector, and ``FakeAkeneo`` served by ``responses``.

``FakeAkeneo`` issues tokens at ``/api/oauth/v1/token`` (password grant with the client as HTTP
Basic, and ``refresh_token``), answers ``/api/rest/v1/products-uuid`` from
``fixtures/akeneo/products.json`` with ``search_after`` paging (absolute ``_links.next.href``, two
products a page) and the ``sku IN`` and ``updated >`` filters, and answers 401 to a token it did
not issue or has expired (``expire()``).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
import responses

from connectors.akeneo import AkeneoConnector, AkeneoOptions
from connectors.base import ConnectorContext, ResourceSpec
from tests.connectors.conftest import make_spec
from tests.connectors.contract import ContractCase
from tests.connectors.vendor_helpers import bearer_token, fixture_loader, query_fields

PIM = "https://pim.example.com"
CLIENT_ID = "3_5cjb5w3ab2o8wcw4gcks4sgg0kg0ww0gwsokw4og4w48w4k8"
CLIENT_SECRET = "akeneo-CANARY-secret-0123456789"
USERNAME = "fieldwarden_1234"
PASSWORD = "akeneo-CANARY-password-9876"
TOKEN_URL = f"{PIM}/api/oauth/v1/token"
PRODUCTS_URL = f"{PIM}/api/rest/v1/products-uuid"


fixture = fixture_loader("akeneo")


PRODUCTS: list[dict[str, Any]] = fixture("products.json")


@dataclass
class FakeAkeneo:
    page: int = 2
    tokens: list[str] = field(default_factory=list)
    refresh_tokens: list[str] = field(default_factory=list)
    expired: set[str] = field(default_factory=set)
    grants: list[dict[str, Any]] = field(default_factory=list)
    listings: list[dict[str, str]] = field(default_factory=list)

    def register(self, rsps: responses.RequestsMock) -> None:
        rsps.add_callback(
            responses.POST, TOKEN_URL, callback=self.token, content_type="application/json"
        )
        rsps.add_callback(
            responses.GET,
            re.compile(rf"{re.escape(PRODUCTS_URL)}.*"),
            callback=self.products,
            content_type="application/json",
        )

    def expire(self) -> None:
        self.expired.update(self.tokens)

    def token(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {basic}":
            return (
                422,
                {},
                json.dumps(
                    {
                        "code": 422,
                        "message": 'Parameter "client_id" is missing or does not match any client, or secret is invalid',
                    }
                ),
            )
        body = json.loads(request.body or b"{}")
        self.grants.append(body)
        if body.get("grant_type") == "password":
            if (body.get("username"), body.get("password")) != (USERNAME, PASSWORD):
                return 422, {}, json.dumps(fixture("invalid_grant.json"))
        elif body.get("grant_type") == "refresh_token":
            if body.get("refresh_token") not in self.refresh_tokens:
                return (
                    422,
                    {},
                    json.dumps({"code": 422, "message": "Refresh token is invalid or has expired"}),
                )
        else:
            return (
                422,
                {},
                json.dumps(
                    {"code": 422, "message": "Invalid grant_type parameter or parameter missing"}
                ),
            )
        n = len(self.tokens) + 1
        access, refresh = f"CANARYaccess{n:04d}", f"CANARYrefresh{n:04d}"
        self.tokens.append(access)
        self.refresh_tokens.append(refresh)
        return (
            200,
            {},
            json.dumps({**fixture("token.json"), "access_token": access, "refresh_token": refresh}),
        )

    def products(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        token = bearer_token(request)
        if token not in self.tokens or token in self.expired:
            return 401, {}, json.dumps(fixture("expired_token.json"))
        query = query_fields(request)
        self.listings.append(query)
        rows = sorted(PRODUCTS, key=lambda p: p["uuid"])
        search = json.loads(query.get("search", "{}"))
        for name, conditions in search.items():
            for condition in conditions:
                if name == "updated" and condition["operator"] == ">":
                    floor = datetime.fromisoformat(condition["value"]).replace(tzinfo=UTC)
                    rows = [p for p in rows if datetime.fromisoformat(p["updated"]) > floor]
                elif condition["operator"] == "IN":
                    rows = [p for p in rows if p["values"][name][0]["data"] in condition["value"]]
                else:
                    return 422, {}, json.dumps(fixture("invalid_search.json"))
        after = query.get("search_after")
        if after:
            rows = [p for p in rows if p["uuid"] > after]
        limit = min(int(query.get("limit", "10")), self.page)
        page = rows[:limit]
        base = {k: v for k, v in query.items() if k != "search_after"}
        links: dict[str, Any] = {
            "self": {"href": f"{PRODUCTS_URL}?{urlencode(query)}"},
            "first": {"href": f"{PRODUCTS_URL}?{urlencode(base)}"},
        }
        if len(rows) > limit:
            links["next"] = {
                "href": f"{PRODUCTS_URL}?{urlencode({**base, 'search_after': page[-1]['uuid']})}"
            }
        return 200, {}, json.dumps({"_links": links, "_embedded": {"items": page}})


def spec(**fields: str) -> ResourceSpec:
    return make_spec(
        "products",
        "identifier",
        fields
        or {
            "title": "values.name[en_US]",
            "description": "values.description[en_US,ecommerce]",
            "price": "values.price[EUR]",
        },
        system="pim",
        entity="product",
    )


def connector(tmp_path: Path, *, plain: bool = False, **options: Any) -> AkeneoConnector:
    settings = AkeneoOptions.model_validate(
        {
            "url": PIM,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "username": USERNAME,
            "password": PASSWORD,
            "backoff_factor": 0,
            **options,
        }
    )
    context = ConnectorContext(base_dir=tmp_path, session=requests.Session() if plain else None)
    return AkeneoConnector("pim", settings, context)


def _value(product: dict[str, Any], attribute: str, locale: str | None, scope: str | None) -> Any:
    for entry in product["values"].get(attribute, []):
        if entry["locale"] == locale and entry["scope"] == scope:
            return entry["data"]
    return None


def case(tmp_path: Path) -> ContractCase:
    fake = FakeAkeneo()
    expected = []
    for p in PRODUCTS:
        prices = _value(p, "price", None, None) or []
        expected.append(
            {
                "identifier": p["values"]["sku"][0]["data"],
                "values.name[en_US]": _value(p, "name", "en_US", None),
                "values.description[en_US,ecommerce]": _value(
                    p, "description", "en_US", "ecommerce"
                ),
                "values.price[EUR]": next(
                    (x["amount"] for x in prices if x["currency"] == "EUR"), None
                ),
            }
        )
    return ContractCase(
        connector=connector(tmp_path, plain=True),
        spec=spec(),
        expected=expected,
        subset=[("SCARF-RED",), ("SOCK-3PK",)],
        mock=fake.register,
    )
