"""The aiohttp application of a node: /ws, /healthz, /metrics, token endpoints, consoles."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

from aiohttp import web

from interpreter_bridge.web import add_appointments, add_guest_page

from .connection import Connection
from .directory import Directory
from .fleet_web import add_fleet
from .forwarded import TRUSTED_PROXIES, parse_networks
from .http import NODE, json_error, read_fields
from .identity import DEVICE_ROLES
from .metrics import Metrics
from .node import Node
from .protocol import MAX_MESSAGE_BYTES, ErrorCode
from .staff_web import add_console, cookie_token, security_headers, staff_token
from .store import Store

log = logging.getLogger(__name__)

# Frames up to this size are read and answered with ``too_large``; beyond it the
# socket is closed, since a client sending megabytes is not one to keep talking to.
HARD_FRAME_FACTOR = 4
HARD_FRAME_LIMIT = HARD_FRAME_FACTOR * MAX_MESSAGE_BYTES  # with the default limits


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Serve one signaling connection."""
    node = request.app[NODE]
    # A client that does not answer the close handshake gets 2 s, not aiohttp's 10 s.
    ws = web.WebSocketResponse(
        heartbeat=node.limits.heartbeat_s,
        max_msg_size=HARD_FRAME_FACTOR * node.limits.max_message_bytes,
        timeout=2.0,
    )
    await ws.prepare(request)
    conn = Connection(ws, node.limits, node.metrics, request.transport)
    conn.cookie_token = cookie_token(request)
    await node.serve(conn)
    return ws


async def healthz(request: web.Request) -> web.Response:
    """Tell a load balancer whether this node is up and what it holds."""
    node = request.app[NODE]
    store_ok = await node.store.ping()
    body = {
        "status": "ok" if store_ok and node.accepting else "unavailable",
        "node_id": node.node_id,
        "store": node.store.kind,
        "store_ok": store_ok,
        "accepting": node.accepting,
        "uptime_s": round(time.monotonic() - node.started_at, 1),
        "clients": len(node.connections),
    }
    return web.json_response(body, status=200 if body["status"] == "ok" else 503)


async def metrics(request: web.Request) -> web.Response:
    """Export Prometheus metrics."""
    node = request.app[NODE]
    await node.metrics.refresh(node.store, node.pending_messages(), node.router.outbox.pending)
    return web.Response(body=node.metrics.render(), content_type="text/plain", charset="utf-8")


async def device_token(request: web.Request) -> web.Response:
    """Exchange a site's device secret for a short-lived token."""
    node = request.app[NODE]
    fields = await read_fields(request, "site", "secret", optional=("role",))
    if isinstance(fields, web.Response):
        return fields
    role = fields.get("role", "kiosk")
    if role not in DEVICE_ROLES:
        return json_error(
            400, ErrorCode.INVALID_FIELD, f"role must be one of {', '.join(DEVICE_ROLES)}", "role"
        )
    principal = node.authority.authenticate_device(fields["site"], fields["secret"], role)
    if principal is None:
        return json_error(401, ErrorCode.UNAUTHENTICATED, "unknown site or wrong secret")
    token, expires = node.authority.issue(principal)
    site = node.directory.site(fields["site"])
    assert site is not None  # authenticated above
    return web.json_response(
        {
            "token": token,
            "expires_at": expires,
            "site": site.id,
            # What the booth shows about where it is; the agent has no directory of its own.
            "site_info": {
                "id": site.id,
                "kind": site.kind,
                "name": site.name.model_dump(),
                "municipality": site.municipality,
                "default_language": site.default_language,
            },
        }
    )


def create_app(
    directory: Directory,
    store: Store,
    node_id: str,
    *,
    shutdown_timeout: float = 5.0,
    console_dir: Path | None = None,
    client_dir: Path | None = None,
    guest_dir: Path | None = None,
    extensions: Sequence[Callable[[web.Application], None]] = (),
    trusted_proxies: Sequence[str] = (),
) -> web.Application:
    """Build a node's web application; the node starts and stops with it. The console's
    pages and the browser call client are served when their folders are given;
    ``extensions`` add parts that start after the node and stop before it (statistics).
    Requests from ``trusted_proxies`` (addresses or networks) are attributed to the
    address their X-Forwarded-For names (login throttling, the audit log)."""
    # aiohttp rounds timeouts above the threshold up to whole seconds, which fires the
    # heartbeat pings of thousands of clients in one loop iteration; keep them spread.
    app = web.Application(
        client_max_size=MAX_MESSAGE_BYTES,
        handler_args={"timeout_ceil_threshold": 3600},
        middlewares=[security_headers],
    )
    node = Node(directory, store, node_id, Metrics())
    app[NODE] = node
    app[TRUSTED_PROXIES] = parse_networks(trusted_proxies)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await node.start()
        yield
        log.info("stopping node %s", node.node_id)
        await node.close()
        await store.close()
        log.info("node %s stopped", node.node_id)

    async def going_away(app: web.Application) -> None:
        # on_shutdown runs before the server stops waiting for handlers: tell clients
        # to resume elsewhere while their sockets are still open.
        await node.shutdown(shutdown_timeout)

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(going_away)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/auth/device", device_token)
    app.router.add_post("/auth/login", staff_token)
    add_appointments(app)  # before the console's static files, which take /console/
    add_fleet(app)
    for extend in extensions:
        extend(app)
    add_console(app, console_dir, client_dir)
    if guest_dir is not None:
        add_guest_page(app, guest_dir)
    return app
