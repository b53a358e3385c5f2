"""The agent's local web server: the kiosk page, its token, resume state and heartbeat."""

from __future__ import annotations

import logging
import re
from typing import Any

import aiohttp
from aiohttp import web

import browser_client

from . import KIOSK_DIR
from .agent import BoothAgent

log = logging.getLogger(__name__)

AGENT: web.AppKey[BoothAgent] = web.AppKey("agent", BoothAgent)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
MAX_BODY_BYTES = 8 * 1024
BOUNDARY = "frame"
SESSION_ID = re.compile(r"s-[0-9a-f]{32}")


def _error(status: int, code: str, message: str, field: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if field is not None:
        body["error"]["field"] = field
    return web.json_response(body, status=status)


@web.middleware
async def local_only(request: web.Request, handler: Any) -> web.StreamResponse:
    """Serve only the booth itself: refuse other Host names (DNS rebinding) and origins."""
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    if host not in LOCAL_HOSTS:
        return _error(403, "forbidden", "the kiosk is served to this machine only")
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        return _error(403, "forbidden", "cross-origin requests are refused")
    response: web.StreamResponse = await handler(request)
    if request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _content_security_policy(server_base: str) -> str:
    """Scripts, styles and images from the agent; signaling only to the configured server."""
    ws = "ws" + server_base.removeprefix("http")
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"media-src 'self' blob: mediastream:; connect-src 'self' {ws}; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
    )


async def index(request: web.Request) -> web.StreamResponse:
    """The kiosk page."""
    agent = request.app[AGENT]
    response = web.FileResponse(KIOSK_DIR / "index.html")
    response.headers["Content-Security-Policy"] = _content_security_policy(agent.config.server_base)
    response.headers["Cache-Control"] = "no-store"
    return response


async def kiosk_settings(request: web.Request) -> web.Response:
    """What the page needs to start: where it is, the server, a fresh token."""
    agent = request.app[AGENT]
    try:
        settings = await agent.kiosk_settings()
    except (OSError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("no kiosk token: %s", exc)
        return _error(503, "unavailable", "the service cannot be reached right now")
    return web.json_response(settings)


async def put_resume(request: web.Request) -> web.Response:
    """Keep the page's resume token so that a reloaded page rejoins its call."""
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "bad_json", "the body must be a JSON object")
    if not isinstance(body, dict) or "resume_token" not in body:
        return _error(400, "invalid_field", "resume_token is required", "resume_token")
    token = body["resume_token"]
    if token is not None and (not isinstance(token, str) or not 0 < len(token) <= 4096):
        return _error(400, "invalid_field", "resume_token must be a string or null", "resume_token")
    request.app[AGENT].resume_token = token
    return web.Response(status=204)


async def put_call(request: web.Request) -> web.Response:
    """The page's call: the document camera joins it ({"session_id": null}: leaves)."""
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "bad_json", "the body must be a JSON object")
    if not isinstance(body, dict) or "session_id" not in body:
        return _error(400, "invalid_field", "session_id is required", "session_id")
    session_id = body["session_id"]
    if session_id is not None and (
        not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id)
    ):
        return _error(400, "invalid_field", "session_id must be a session id or null", "session_id")
    await request.app[AGENT].set_call(session_id)
    return web.Response(status=204)


async def doccam_status(request: web.Request) -> web.Response:
    """What the document camera sees now: feedback for the citizen, outline, last still."""
    doccam = request.app[AGENT].doccam
    if doccam is None:
        return _error(503, "unavailable", "the agent is starting")
    return web.json_response(doccam.status())


async def doccam_preview(request: web.Request) -> web.StreamResponse:
    """The document camera's picture for the booth screen, as an MJPEG stream."""
    doccam = request.app[AGENT].doccam
    if doccam is None or doccam.state == "off":
        return _error(404, "not_found", "the document camera is off")
    response = web.StreamResponse(
        headers={
            "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    async for jpeg in doccam.preview_jpegs():
        head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
        await response.write(head.encode() + jpeg + b"\r\n")
    return response


async def alive(request: web.Request) -> web.Response:
    """The page's heartbeat: without it the browser is taken for hung and relaunched."""
    request.app[AGENT].heartbeat.beat()
    return web.Response(status=204)


async def reset(request: web.Request) -> web.Response:
    """The privacy reset between citizens."""
    await request.app[AGENT].privacy_reset()
    return web.Response(status=204)


async def health(request: web.Request) -> web.Response:
    """The latest health report, as sent to the server."""
    uplink = request.app[AGENT].uplink
    report = uplink.last_report if uplink is not None else None
    if report is None:
        return _error(503, "unavailable", "no health report was sent yet")
    return web.json_response(report.model_dump(mode="json", exclude={"id", "type"}))


def create_app(agent: BoothAgent) -> web.Application:
    """Build the agent's local web application (the caller starts and closes the agent)."""
    app = web.Application(middlewares=[local_only], client_max_size=MAX_BODY_BYTES)
    app[AGENT] = agent
    app.router.add_get("/", index)
    app.router.add_get("/api/kiosk", kiosk_settings)
    app.router.add_put("/api/resume", put_resume)
    app.router.add_put("/api/call", put_call)
    app.router.add_get("/api/doccam", doccam_status)
    app.router.add_get("/api/doccam/preview", doccam_preview)
    app.router.add_post("/api/alive", alive)
    app.router.add_post("/api/reset", reset)
    app.router.add_get("/api/health", health)
    app.router.add_static("/kiosk/", KIOSK_DIR)
    app.router.add_static("/client/", browser_client.DIRECTORY)
    return app
