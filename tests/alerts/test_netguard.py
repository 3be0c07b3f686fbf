"""Webhook destinations: http(s) only, and never a private address unless the sink allows it."""

from __future__ import annotations

import pytest

from detector.alerts.netguard import (
    DestinationRefusedError,
    Resolver,
    check_destination,
    describe,
)


def resolver(*addresses: str) -> Resolver:
    def resolve(_host: str, _port: int) -> list[str]:
        return list(addresses)

    return resolve


PUBLIC = resolver("93.184.216.34")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.8.9.10/hook",
        "http://10.1.2.3/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://100.100.100.200/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "http://[fd00:ec2::254]/",
        "http://[fe80::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::]/hook",
    ],
)
def test_private_literal_addresses_are_refused(url: str) -> None:
    with pytest.raises(DestinationRefusedError):
        check_destination(url, allow_private=False, resolve=PUBLIC)


@pytest.mark.parametrize("address", ["10.0.0.5", "127.0.0.1", "::1", "169.254.169.254"])
def test_a_name_resolving_to_a_private_address_is_refused(address: str) -> None:
    with pytest.raises(DestinationRefusedError, match="set allow_private"):
        check_destination(
            "https://hooks.example.com/x", allow_private=False, resolve=resolver(address)
        )


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(DestinationRefusedError):
        check_destination(
            "https://hooks.example.com/x",
            allow_private=False,
            resolve=resolver("93.184.216.34", "10.0.0.1"),
        )


def test_localhost_through_real_dns_is_refused() -> None:
    with pytest.raises(DestinationRefusedError, match="loopback"):
        check_destination("http://localhost:8080/hook", allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/x",
        "gopher://example.com",
        "example.com/x",
        "http:///nohost",
    ],
)
def test_only_http_and_https_with_a_host(url: str) -> None:
    with pytest.raises(DestinationRefusedError):
        check_destination(url, allow_private=True, resolve=PUBLIC)


def test_public_and_allowed_private_destinations_pass() -> None:
    check_destination(
        "https://hooks.slack.com/services/T/B/secret", allow_private=False, resolve=PUBLIC
    )
    check_destination("http://127.0.0.1:9000/hook", allow_private=True)


def test_unresolvable_names_are_retriable_not_refused() -> None:
    def fail(_host: str, _port: int) -> list[str]:
        raise OSError("temporary failure in name resolution")

    with pytest.raises(OSError, match="name resolution"):
        check_destination("https://hooks.example.com/x", allow_private=False, resolve=fail)


def test_describe_keeps_the_secret_path_out() -> None:
    assert (
        describe("https://user:pw@hooks.slack.com:8443/services/T/B/secret?x=1")
        == "https://hooks.slack.com:8443"
    )
