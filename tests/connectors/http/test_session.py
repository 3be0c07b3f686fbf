"""The session factory: timeouts always, TLS always, a User-Agent, no cross-host redirects."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import responses

from connectors.base import ConnectorContext
from connectors.http import (
    USER_AGENT,
    HttpClient,
    HttpOptions,
    TimeoutHTTPAdapter,
    build_session,
    resolve_ca_bundle,
)
from detector.errors import SourceFatalError
from tests.connectors.http.conftest import BASE, TOKEN, make_client


def test_session_puts_a_timeout_on_requests_sent_without_one(
    mock: responses.RequestsMock,
) -> None:
    session = build_session(HttpOptions(url=BASE, timeout=12))
    mock.get(f"{BASE}/a", json={})
    session.get(f"{BASE}/a")  # no timeout passed on purpose
    assert mock.calls[0].request.req_kwargs["timeout"] == 12  # type: ignore[attr-defined]
    assert mock.calls[0].request.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("fieldwarden/")


def test_client_passes_the_timeout_even_on_a_plain_injected_session(
    tmp_path: Path, mock: responses.RequestsMock
) -> None:
    options = HttpOptions(url=BASE, timeout=7)
    client = HttpClient(
        options, ConnectorContext(base_dir=tmp_path, session=requests.Session()), system="s"
    )
    mock.get(f"{BASE}/a", json={})
    client.get_json("a")
    assert mock.calls[0].request.req_kwargs["timeout"] == 7  # type: ignore[attr-defined]


def test_tls_verification_cannot_be_switched_off(mock: responses.RequestsMock) -> None:
    session = build_session(HttpOptions(url=BASE))
    assert session.verify is True
    with pytest.raises(SourceFatalError, match="TLS verification"):
        session.get(f"{BASE}/a", verify=False)


def test_ca_bundle_resolves_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    assert resolve_ca_bundle(Path("certs/ca.pem"), tmp_path) == str(tmp_path / "certs" / "ca.pem")
    session = build_session(
        HttpOptions(url=BASE, ca_bundle=Path("certs/ca.pem")), base_dir=tmp_path
    )
    assert session.verify == str(tmp_path / "certs" / "ca.pem")
    with pytest.raises(SourceFatalError, match="ca_bundle"):
        resolve_ca_bundle(Path("missing.pem"), tmp_path)


def test_adapters_are_timeout_adapters() -> None:
    session = build_session(HttpOptions(url=BASE))
    assert isinstance(session.get_adapter("https://x"), TimeoutHTTPAdapter)
    assert isinstance(session.get_adapter("http://x"), TimeoutHTTPAdapter)


@pytest.mark.parametrize(
    "url",
    ["ftp://host/x", "https://user:pw@host/x", "https://host/x?token=1", "not a url"],
)
def test_url_option_rejects_schemes_credentials_and_queries(url: str) -> None:
    with pytest.raises(ValueError, match="url"):
        HttpOptions(url=url)


def test_secrets_do_not_show_in_reprs(tmp_path: Path) -> None:
    options = HttpOptions(url=BASE, token=TOKEN, password="hunter22")
    client = make_client(tmp_path)
    assert TOKEN not in repr(options)
    assert "hunter22" not in repr(options)
    assert TOKEN not in repr(client.auth)


def test_session_refuses_a_redirect_to_another_host(mock: responses.RequestsMock) -> None:
    session = build_session(HttpOptions(url=BASE))
    mock.get(f"{BASE}/a", status=302, headers={"Location": "https://evil.example.net/steal"})
    with pytest.raises(SourceFatalError, match="another host"):
        session.get(f"{BASE}/a", headers={"Authorization": "Bearer x"})


def test_client_refuses_a_redirect_to_another_host(
    client: HttpClient, mock: responses.RequestsMock
) -> None:
    mock.get(f"{BASE}/a", status=301, headers={"Location": "https://evil.example.net/a"})
    with pytest.raises(SourceFatalError, match="another host"):
        client.get_json("a")
    assert len(mock.calls) == 1


def test_client_follows_a_same_host_redirect(
    client: HttpClient, mock: responses.RequestsMock
) -> None:
    mock.get(f"{BASE}/a", status=307, headers={"Location": "/v1/b"})
    mock.get(f"{BASE}/b", json={"here": 1})
    assert client.get_json("a").data == {"here": 1}
    assert mock.calls[1].request.headers["X-Api-Token"] == TOKEN


def test_client_refuses_absolute_urls_on_another_host(client: HttpClient) -> None:
    with pytest.raises(SourceFatalError, match="another host"):
        client.get_json("https://evil.example.net/next?page=2")
