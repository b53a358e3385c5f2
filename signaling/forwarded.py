"""The client's address behind reverse proxies that the node is told to trust.

Behind nginx every request comes from the proxy's address. The proxy appends the address
it saw to ``X-Forwarded-For``; anything to the left of that came from the client and may
be forged. So the address is the rightmost entry that is not a trusted proxy, and the
header is read only when the request itself comes from a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

TRUSTED_PROXIES: web.AppKey[tuple[Network, ...]] = web.AppKey("trusted_proxies")


def parse_networks(specs: Iterable[str]) -> tuple[Network, ...]:
    """Parse addresses or CIDR networks ("10.0.0.5", "10.0.0.0/24"); ValueError names a
    bad one."""
    networks = []
    for spec in specs:
        try:
            networks.append(ipaddress.ip_network(spec.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"trusted proxy {spec!r} is not an address or network") from exc
    return tuple(networks)


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(request: web.Request) -> str:
    """Return the address of the client, looking through trusted proxies only."""
    remote = request.remote or "unknown"
    proxies = request.app.get(TRUSTED_PROXIES, ())
    if not proxies or not _trusted(remote, proxies):
        return remote
    hops = [
        hop.strip()
        for header in request.headers.getall("X-Forwarded-For", [])
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop
    # Every hop is a trusted proxy: the leftmost is as far back as anyone can tell.
    return hops[0] if hops else remote
