"""Pieces shared by the fake vendor servers in ``tests/connectors/cases`` (Salesforce, NetSuite,
Business Central, Akeneo, HubSpot): JSON fixtures, reading what a connector sent, and reading
the literals back out of a query it wrote."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_loader(vendor: str) -> Callable[[str], Any]:
    """``fixture(name)``: the decoded JSON file ``tests/connectors/fixtures/<vendor>/<name>``."""
    directory = FIXTURES / vendor

    def fixture(name: str) -> Any:
        return json.loads((directory / name).read_text())

    return fixture


def form_fields(request: requests.PreparedRequest) -> dict[str, str]:
    """The first value of each field of a form-encoded body (an OAuth token request)."""
    body = request.body
    text = body if isinstance(body, str) else (body or b"").decode()
    return {k: v[0] for k, v in parse_qs(text).items()}


def query_fields(request: requests.PreparedRequest) -> dict[str, str]:
    """The first value of each parameter of the request URL's query string."""
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url or "").query).items()}


def bearer_token(request: requests.PreparedRequest) -> str:
    """The token of an ``Authorization: Bearer`` header ("" without one)."""
    return request.headers.get("Authorization", "").removeprefix("Bearer ")


def doubled_quote_values(text: str) -> list[str]:
    """The string literals of a query whose dialect escapes ``'`` by doubling it (SuiteQL, OData)."""
    return [m.group(1).replace("''", "'") for m in re.finditer(r"'((?:''|[^'])*)'", text)]
