"""Contract case for the rest connector: an in-house API with next links and a change log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import responses
from responses import matchers

from connectors.base import ConnectorContext, FieldSpec, ResourceSpec
from connectors.rest import RestConnector, RestOptions
from tests.connectors.contract import ContractCase

URL = "https://pim.internal.example.com/api"
ITEMS = f"{URL}/v1/items"
CHANGES = f"{URL}/v1/item-changes"
TOKEN = "Bearer rest_CANARY_0123456789"

PAGE_1: dict[str, Any] = {
    "result": {
        "items": [
            {
                "code": "CAP-GRY",
                "content": {"name": "Wool Cap", "body": "<p>Warm.</p>"},
                "price": 24.0,
            },
            {"code": "CAP-BLU", "content": {"name": "Wool Cap", "body": None}, "price": 22.5},
        ]
    },
    "links": {"next": "/api/v1/items?page=2"},
    "total": 3,
}
PAGE_2: dict[str, Any] = {
    "result": {
        "items": [{"code": "SCARF-RED", "content": {"name": "Scarf", "body": ""}, "price": 39.9}]
    },
    "links": {"next": None},
    "total": 3,
}
CHANGE_LOG = [
    {
        "code": "CAP-GRY",
        "field": "content.name",
        "at": "2024-05-02T09:14:00Z",
        "user": "pim-editor",
    },
    {"code": "SCARF-RED", "field": "price", "at": "2024-05-03T08:00:00+02:00", "user": "erp-sync"},
]


def spec() -> ResourceSpec:
    return ResourceSpec(
        system="pim",
        entity="product",
        resource="v1/items",
        key=(FieldSpec("key", "code"),),
        fields=(FieldSpec("title", "content.name"), FieldSpec("description", "content.body")),
        changes="v1/item-changes",
        options={
            "records_path": "result.items",
            "pagination": {"style": "next_url", "next_path": "links.next", "total_path": "total"},
            "changed_since_param": "since",
            "change_paths": {"key": ["code"], "changed_at": "at", "changed_by": "user"},
            "changes_records_path": "",
            "changes_pagination": {"style": "none"},
        },
    )


def connector(tmp_path: Path, *, plain: bool = False, **options: Any) -> RestConnector:
    settings = RestOptions.model_validate(
        {"url": URL, "token": TOKEN, "backoff_factor": 0, **options}
    )
    context = ConnectorContext(base_dir=tmp_path, session=requests.Session() if plain else None)
    return RestConnector("pim", settings, context)


def register(rsps: responses.RequestsMock) -> None:
    auth = matchers.header_matcher({"Authorization": TOKEN})
    rsps.get(ITEMS, json=PAGE_1, match=[matchers.query_param_matcher({}), auth])
    rsps.get(ITEMS, json=PAGE_2, match=[matchers.query_param_matcher({"page": "2"}), auth])
    rsps.get(
        CHANGES,
        json=CHANGE_LOG,
        match=[matchers.query_param_matcher({"since": "2024-05-01T00:00:00+00:00"}), auth],
    )


def case(tmp_path: Path) -> ContractCase:
    return ContractCase(
        connector=connector(tmp_path, plain=True),
        spec=spec(),
        expected=[
            {"code": "CAP-GRY", "content.name": "Wool Cap", "content.body": "<p>Warm.</p>"},
            {"code": "CAP-BLU", "content.name": "Wool Cap", "content.body": None},
            {"code": "SCARF-RED", "content.name": "Scarf", "content.body": ""},
        ],
        subset=[("CAP-BLU",)],
        mock=register,
        since=datetime(2024, 5, 1, tzinfo=UTC),
        min_changes=2,
    )
