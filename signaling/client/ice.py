"""The aiortc side of welcome.ice_servers: which TURN URL aiortc uses, and relay-only ICE.

aiortc (1.16) gathers through one TURN URL only: the first one it can use
(``turn:`` over UDP or TCP, ``turns:`` over TCP). Browsers try every URL; aiortc does
not fall back. So the aiortc participants put the TURN URL of the transport they prefer
first: UDP, then TCP, then TLS, unless told otherwise (``turn_transports``, or the
``ETAPISTE_TURN_TRANSPORT`` environment variable of the process, e.g. ``tls,tcp`` for a
device behind a firewall that lets only port 443 out). See infra/coturn/README.md.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import parse_qs

from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy

from ..protocol import IceServer, Welcome

TURN_TRANSPORTS = ("udp", "tcp", "tls")
DEFAULT_TURN_TRANSPORTS = TURN_TRANSPORTS
TURN_TRANSPORT_ENV = "ETAPISTE_TURN_TRANSPORT"


def turn_transport(url: str) -> str | None:
    """Return how aiortc reaches the TURN server of ``url`` (udp, tcp, tls), or None."""
    scheme, _, rest = url.partition(":")
    _, _, query = rest.partition("?")
    transports = parse_qs(query).get("transport")
    transport = transports[0] if transports else None
    if scheme == "turn":
        if transport is None:
            return "udp"
        return transport if transport in ("udp", "tcp") else None
    if scheme == "turns":
        return "tls" if transport in (None, "tcp") else None
    return None


def preferred_transports(turn_transports: Sequence[str] | None = None) -> tuple[str, ...]:
    """Return the TURN transports in order of preference (argument, environment, default)."""
    if turn_transports is None:
        setting = os.environ.get(TURN_TRANSPORT_ENV, "")
        turn_transports = [t.strip() for t in setting.split(",") if t.strip()]
    chosen = tuple(turn_transports) or DEFAULT_TURN_TRANSPORTS
    unknown = [t for t in chosen if t not in TURN_TRANSPORTS]
    if unknown:
        raise ValueError(f"TURN transports {unknown} are not among {list(TURN_TRANSPORTS)}")
    # The ones not named come last, in the default order: still better than no relay.
    return chosen + tuple(t for t in DEFAULT_TURN_TRANSPORTS if t not in chosen)


def order_turn_urls(urls: Sequence[str], turn_transports: Sequence[str] | None = None) -> list[str]:
    """Return ``urls`` with TURN URLs sorted by preferred transport (aiortc uses the first)."""
    order = preferred_transports(turn_transports)

    def rank(url: str) -> int:
        transport = turn_transport(url)
        return order.index(transport) if transport is not None else len(order)

    turns = sorted((u for u in urls if u.startswith(("turn:", "turns:"))), key=rank)
    return [u for u in urls if not u.startswith(("turn:", "turns:"))] + turns


def rtc_configuration(
    welcome: Welcome | None, turn_transports: Sequence[str] | None = None
) -> RTCConfiguration:
    """Return the aiortc configuration for the ICE servers and policy of a welcome."""
    servers: list[IceServer] = welcome.ice_servers if welcome else []
    relay = welcome is not None and welcome.ice_transport_policy == "relay"
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(
                urls=order_turn_urls(s.urls, turn_transports),
                username=s.username,
                credential=s.credential,
            )
            for s in servers
        ],
        iceTransportPolicy=RTCIceTransportPolicy.RELAY if relay else RTCIceTransportPolicy.ALL,
    )
