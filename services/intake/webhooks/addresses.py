"""Where a webhook may go: never to loopback, private, link-local (the cloud metadata service at
169.254.169.254 among them), shared, reserved or multicast addresses, judged on the addresses a name
resolves to, not on the name; the caller then connects to the address judged here, so a second
DNS answer (rebinding) cannot send the request elsewhere. A development allow-list of exact
`ip:port` destinations lets a local receiver through."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

#: Cloud metadata services that are not in a link-local range (AWS's IPv6 one, Alibaba's).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
MAX_URL_LENGTH = 2000


class AddressRefused(ValueError):
    """The destination is not one a webhook may reach; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked destination: connect to `ip`, and name `host` in `Host` and TLS."""

    scheme: str
    host: str
    port: int
    ip: str
    path: str  # with the query string


def forbidden_reason(ip: IpAddress) -> str | None:
    """Why no webhook may reach `ip`, or None if it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return forbidden_reason(ip.ipv4_mapped)  # ::ffff:127.0.0.1 is loopback too
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a public address"),  # 100.64.0.0/10 (shared) and the like
    )
    return next((reason for hit, reason in checks if hit), None)


def parse_allow_list(entries: Iterable[str]) -> frozenset[tuple[IpAddress, int]]:
    """`["127.0.0.1:8080", "[::1]:8080"]` → the (ip, port) pairs; a malformed entry raises."""
    allowed = set()
    for entry in entries:
        parts = urlsplit(f"//{entry}")
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"allow-list entry {entry!r} is not ip:port")
        allowed.add((ipaddress.ip_address(parts.hostname), parts.port))
    return frozenset(allowed)


def split_url(url: str, *, allow_http: bool) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a webhook URL; AddressRefused if it is not one."""
    if len(url) > MAX_URL_LENGTH:
        raise AddressRefused(f"longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AddressRefused(f"not a URL: {exc}") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise AddressRefused("must be an absolute https:// URL")
    if parts.scheme == "http" and not allow_http:
        raise AddressRefused("must use https")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("must not carry a user name or password")
    if parts.fragment:
        raise AddressRefused("must not have a fragment")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (an IP literal gives itself)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class AddressPolicy:
    allowed: frozenset[tuple[IpAddress, int]] = frozenset()
    resolve: Resolver = system_resolver

    @classmethod
    def from_settings(cls, allowed_targets: Iterable[str]) -> AddressPolicy:
        return cls(parse_allow_list(allowed_targets))

    async def check(self, url: str) -> Target:
        """The destination to connect to for `url`: every address its host resolves to must be
        public (or allow-listed with its port), else AddressRefused and no connection is made.
        Plain HTTP only to allow-listed destinations."""
        scheme, host, port, path = split_url(url, allow_http=bool(self.allowed))
        try:
            addresses = await self.resolve(host.strip("[]"), port)
        except (OSError, UnicodeError) as exc:
            raise AddressRefused(f"the name {host!r} does not resolve") from exc
        if not addresses:
            raise AddressRefused(f"the name {host!r} does not resolve")
        # One forbidden answer refuses the name: a resolver that mixes a public and a private
        # address would otherwise choose for the attacker.
        ips = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
        listed = [(ip, port) in self.allowed for ip in ips]
        for ip, is_listed in zip(ips, listed, strict=True):
            reason = forbidden_reason(ip)
            if reason is not None and not is_listed:
                raise AddressRefused(f"{host} resolves to {ip}, {reason}")
        if scheme == "http" and not all(listed):
            raise AddressRefused("must use https")
        return Target(scheme, host, port, str(ips[0]), path)
