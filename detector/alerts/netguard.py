"""Where a webhook may point: http(s) to a public address, unless the sink allows private ones.

A webhook URL comes from config, and an alert is a request our host makes on its behalf: a URL
pointing at ``127.0.0.1``, ``10.0.0.5``, ``169.254.169.254`` (cloud metadata) or a name that
resolves to one would turn alerts into a way to reach internal services. So the host is
resolved and EVERY address it resolves to must be global (not loopback, private, link-local,
multicast, reserved, unspecified or shared), unless the sink sets ``allow_private: true``.
Redirects are never followed (see the webhook sink), so a public URL cannot bounce us inward.

Known limit: the check resolves the name once and the HTTP client resolves it again when it
connects; a DNS server that answers differently the second time (rebinding) is not caught.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from detector.errors import FieldwardenError

__all__ = ["DestinationRefusedError", "Resolver", "check_destination", "describe", "resolve_host"]

Resolver = Callable[[str, int], Sequence[str]]
"""host, port -> the IP addresses the host resolves to."""

_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)


class DestinationRefusedError(FieldwardenError):
    """The destination is not allowed (scheme, or an address that is not public): never retried."""


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def describe(url: str) -> str:
    """``https://hooks.slack.com``: scheme and host only (the path of a webhook is its secret)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable url>"
    return f"{parts.scheme}://{host}{port}"


def forbidden(address: str) -> str | None:
    """Why ``address`` may not be a webhook destination, or None when it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA:
        return "a cloud metadata address"
    for label, flag in (
        ("a loopback address", ip.is_loopback),
        ("a link-local address", ip.is_link_local),
        ("a multicast address", ip.is_multicast),
        ("an unspecified address", ip.is_unspecified),
        ("a reserved address", ip.is_reserved),
        ("a private address", ip.is_private),
    ):
        if flag:
            return label
    if not ip.is_global:
        return "a non-public address"
    return None


def check_destination(url: str, *, allow_private: bool, resolve: Resolver = resolve_host) -> None:
    """Raise :class:`DestinationRefusedError` unless ``url`` is an allowed destination.

    A name that cannot be resolved right now raises ``OSError`` (the caller retries later).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationRefusedError(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        scheme = parts.scheme or "none"
        raise DestinationRefusedError(
            f"only http and https destinations are allowed, not {scheme!r}"
        )
    host = parts.hostname
    if not host:
        raise DestinationRefusedError("the URL has no host")
    if allow_private:
        return
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        addresses: Sequence[str] = resolve(host, port or (443 if parts.scheme == "https" else 80))
    else:
        addresses = [str(literal)]
    if not addresses:
        raise OSError(f"{host} resolved to no address")
    for address in addresses:
        reason = forbidden(address)
        if reason is not None:
            raise DestinationRefusedError(
                f"{describe(url)} resolves to {reason} ({address}); set allow_private: true on the sink to allow it"
            )
