"""ICE servers for clients: STUN, and TURN with coturn's use-auth-secret credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac

from .directory import IceSettings
from .protocol import IceServer


def turn_credentials(secret: str, user: str, now: float, ttl_s: int) -> tuple[str, str]:
    """Return a TURN REST (use-auth-secret) username and password valid for ``ttl_s``."""
    username = f"{int(now + ttl_s)}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(settings: IceSettings, user: str, now: float) -> list[IceServer]:
    """Return the ICE servers to hand a client, minting TURN credentials if configured."""
    servers: list[IceServer] = []
    if settings.stun_urls:
        servers.append(IceServer(urls=list(settings.stun_urls)))
    if settings.turn_urls and settings.turn_secret is not None:
        username, credential = turn_credentials(
            settings.turn_secret.get_secret_value(), user, now, settings.turn_ttl_s
        )
        servers.append(
            IceServer(urls=list(settings.turn_urls), username=username, credential=credential)
        )
    return servers
