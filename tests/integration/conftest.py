"""Session-scoped real servers for integration tests (initialised once per test session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.tryton_server import (
    Shop,
    TrytonRpc,
    TrytonServer,
    running_server,
    seed,
    trytond_missing_reason,
)


@pytest.fixture(scope="session")
def tryton_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrytonServer]:
    """A trytond on loopback over a fresh SQLite database; skipped only when trytond is absent."""
    reason = trytond_missing_reason()
    if reason is not None:
        pytest.skip(reason)
    with running_server(tmp_path_factory.mktemp("tryton")) as server:
        yield server


@pytest.fixture(scope="session")
def tryton_shop(tryton_server: TrytonServer) -> Iterator[tuple[TrytonServer, Shop]]:
    """The server seeded once: company, currency, products with prices and stock."""
    rpc = tryton_server.client()
    try:
        yield tryton_server, seed(rpc)
    finally:
        rpc.close()


@pytest.fixture
def tryton_rpc(tryton_shop: tuple[TrytonServer, Shop]) -> Iterator[TrytonRpc]:
    """An admin JSON-RPC session (company in its context) for edits made the way Tryton users make them."""
    server, shop = tryton_shop
    rpc = server.client()
    rpc.context = {"company": shop.company}
    try:
        yield rpc
    finally:
        rpc.close()
