"""Where a webhook may be sent. A target must be `https` and every address its name resolves to must be a
public one: not loopback, private, link-local (cloud metadata lives there), unique-local, shared, reserved
or multicast. It is checked when a subscription is made and again before each send, and the send then
connects to the very addresses checked (the name only goes in the TLS handshake and the Host header), so a
name that resolves elsewhere a second time (DNS rebinding) cannot reach inside.

`WEBHOOK_ALLOW_PRIVATE_TARGETS=true` allows plain `http` and non-public addresses, for tests and private
deployments."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeTarget(ValueError):
    """The URL may not be a webhook target; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (lower case, no brackets)
    port: int
    addresses: tuple[str, ...]  # what it resolved to, all checked


def resolve(host: str, port: int) -> list[str]:
    """The addresses a name resolves to (tests replace this to play a DNS server)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: IPAddress) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        return is_public(mapped)
    return address.is_global and not address.is_multicast


def check_url(url: str, *, allow_private: bool) -> Target:
    """The parsed, resolved target, or UnsafeTarget."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeTarget("must be an https URL")
    if scheme == "http" and not allow_private:
        raise UnsafeTarget("must be https (plain http only where private targets are allowed)")
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeTarget("has no host")
    if parts.username or parts.password:
        raise UnsafeTarget("must not carry a user name or password")
    port = port or (443 if scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise UnsafeTarget(f"has a host that does not resolve ({exc.__class__.__name__})") from None
        if not addresses:
            raise UnsafeTarget("has a host that does not resolve")
    if not allow_private:
        for address in addresses:
            if not is_public(ipaddress.ip_address(address.split("%", 1)[0])):
                raise UnsafeTarget(f"resolves to {address}, which is not a public address")
    return Target(scheme=scheme, host=host, port=port, addresses=tuple(addresses))


def is_literal(url: str) -> bool:
    """Whether the URL's host is an IP address (so checking it resolves no name)."""
    try:
        ipaddress.ip_address((urlsplit(url).hostname or "").split("%", 1)[0])
    except ValueError:
        return False
    return True
