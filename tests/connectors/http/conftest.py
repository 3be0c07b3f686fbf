"""Fixtures for HTTP-layer tests: no real sleeping, a client on a mocked session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import responses
from responses.registries import OrderedRegistry

from connectors.base import ConnectorContext
from connectors.http import HttpClient, HttpOptions

BASE = "https://api.example.com/v1"
TOKEN = "sk_CANARY_0123456789"


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the HTTP layer asked for, instead of waiting."""
    waits: list[float] = []
    monkeypatch.setattr("connectors.http.retry.sleep", waits.append)
    return waits


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        yield rsps


def make_client(tmp_path: Path, **options: object) -> HttpClient:
    settings = HttpOptions.model_validate(
        {"url": BASE, "token": TOKEN, "backoff_factor": 0, **options}
    )
    assert settings.token is not None
    return HttpClient(
        settings,
        ConnectorContext(base_dir=tmp_path),
        system="shop",
        auth={"X-Api-Token": settings.token},
    )


@pytest.fixture
def client(tmp_path: Path, slept: list[float]) -> HttpClient:
    return make_client(tmp_path)
