"""The aiohttp application of a node: /ws, /healthz, /metrics and token endpoints."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from .connection import Connection
from .directory import Directory
from .identity import DEVICE_ROLES
from .metrics import Metrics
from .node import Node
from .protocol import MAX_MESSAGE_BYTES, ErrorCode
from .store import Store

log = logging.getLogger(__name__)

NODE = web.AppKey("node", Node)

# Frames up to this size are read and answered with ``too_large``; beyond it the
# socket is closed, since a client sending megabytes is not one to keep talking to.
HARD_FRAME_FACTOR = 4
HARD_FRAME_LIMIT = HARD_FRAME_FACTOR * MAX_MESSAGE_BYTES  # with the default limits


def _json_error(
    status: int,
    code: ErrorCode,
    message: str,
    field: str | None = None,
    *,
    retry_after_s: float | None = None,
) -> web.Response:
    body: dict[str, Any] = {"error": {"code": code.value, "message": message}}
    if field is not None:
        body["error"]["field"] = field
    if retry_after_s is not None:
        body["error"]["retry_after_s"] = retry_after_s
    return web.json_response(body, status=status)


def _is_utf8(text: str) -> bool:
    """Tell whether a string can be encoded (JSON allows lone surrogates; UTF-8 does not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def _read_fields(
    request: web.Request, *names: str, optional: tuple[str, ...] = ()
) -> dict[str, str] | web.Response:
    """Read a JSON object with the given string fields, or return the error response."""
    try:
        body = await request.json()
    except web.HTTPRequestEntityTooLarge:
        return _json_error(413, ErrorCode.TOO_LARGE, f"the body exceeds {MAX_MESSAGE_BYTES} bytes")
    except (ValueError, UnicodeDecodeError):
        return _json_error(400, ErrorCode.BAD_JSON, "the body must be a JSON object")
    if not isinstance(body, dict):
        return _json_error(400, ErrorCode.BAD_JSON, "the body must be a JSON object")
    fields: dict[str, str] = {}
    for name in (*names, *optional):
        value = body.get(name)
        if name in optional and value is None:
            continue
        if not isinstance(value, str) or not value or len(value) > 256 or not _is_utf8(value):
            return _json_error(400, ErrorCode.INVALID_FIELD, f"{name} must be a string", name)
        fields[name] = value
    return fields


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
    await node.serve(Connection(ws, node.limits, node.metrics, request.transport))
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
    await node.metrics.refresh(node.store, node.pending_messages())
    return web.Response(body=node.metrics.render(), content_type="text/plain", charset="utf-8")


async def device_token(request: web.Request) -> web.Response:
    """Exchange a site's device secret for a short-lived token."""
    node = request.app[NODE]
    fields = await _read_fields(request, "site", "secret", optional=("role",))
    if isinstance(fields, web.Response):
        return fields
    role = fields.get("role", "kiosk")
    if role not in DEVICE_ROLES:
        return _json_error(
            400, ErrorCode.INVALID_FIELD, f"role must be one of {', '.join(DEVICE_ROLES)}", "role"
        )
    principal = node.authority.authenticate_device(fields["site"], fields["secret"], role)
    if principal is None:
        return _json_error(401, ErrorCode.UNAUTHENTICATED, "unknown site or wrong secret")
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


def _login_keys(username: str, address: str) -> list[tuple[str, int]]:
    """The throttling keys of a login attempt, each with its failure limit."""
    return [("user:" + username, 1), ("addr:" + address, 10)]


async def _login_throttled(node: Node, username: str, address: str) -> web.Response | None:
    """Refuse a login whose username or address failed too often lately (429)."""
    settings = node.directory.auth
    now = node.clock()
    for key, factor in _login_keys(username, address):
        window = settings.login_failure_window_s
        failures = await node.store.login_failures(key, now, window)
        if len(failures) >= settings.login_max_failures * factor:
            retry_after = max(0.001, failures[0] + window - now)
            response = _json_error(
                429,
                ErrorCode.RATE_LIMITED,
                "too many failed logins; wait before trying again",
                "username" if key.startswith("user:") else None,
                retry_after_s=round(retry_after + 0.0005, 3),
            )
            response.headers["Retry-After"] = str(math.ceil(retry_after))
            return response
    return None


async def _record_login_failure(node: Node, username: str, address: str) -> None:
    now = node.clock()
    for key, _ in _login_keys(username, address):
        await node.store.add_login_failure(key, now, node.directory.auth.login_failure_window_s)


async def staff_token(request: web.Request) -> web.Response:
    """Exchange a username and password for a short-lived token with roles."""
    node = request.app[NODE]
    fields = await _read_fields(request, "username", "password")
    if isinstance(fields, web.Response):
        return fields
    throttled = await _login_throttled(node, fields["username"], request.remote or "unknown")
    if throttled is not None:
        return throttled
    principal = await node.authority.authenticate_staff(fields["username"], fields["password"])
    if principal is None:
        await _record_login_failure(node, fields["username"], request.remote or "unknown")
        return _json_error(401, ErrorCode.UNAUTHENTICATED, "wrong username or password")
    await node.store.clear_login_failures("user:" + fields["username"])
    token, expires = node.authority.issue(principal)
    account = node.directory.account(fields["username"])
    return web.json_response(
        {
            "token": token,
            "expires_at": expires,
            "username": principal.username,
            "roles": list(principal.roles),
            "display_name": account.display_name if account else None,
            "grants": account.grants() if account else {},
        }
    )


def create_app(
    directory: Directory, store: Store, node_id: str, *, shutdown_timeout: float = 5.0
) -> web.Application:
    """Build a node's web application; the node starts and stops with it."""
    # aiohttp rounds timeouts above the threshold up to whole seconds, which fires the
    # heartbeat pings of thousands of clients in one loop iteration; keep them spread.
    app = web.Application(
        client_max_size=MAX_MESSAGE_BYTES, handler_args={"timeout_ceil_threshold": 3600}
    )
    node = Node(directory, store, node_id, Metrics())
    app[NODE] = node

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
    return app
