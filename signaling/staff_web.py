"""Staff sign-in over HTTP: password login with throttling, and the consoles' login cookie.

Programs (tests, the headless demo experts) get a bearer token from ``/auth/login``.
Browsers never see a token: ``/console/api/login`` sets an HttpOnly, SameSite=Strict
cookie that the WebSocket upgrade carries, so an injected script has nothing to steal.
Every other POST needs the login's CSRF token in a header, and a same-origin Origin.
"""

from __future__ import annotations

import hmac
import math
import secrets
from pathlib import Path
from typing import Any

from aiohttp import web

from .audit import audit
from .forwarded import client_address
from .http import NODE, json_error, read_fields, same_origin
from .identity import Principal, TokenError
from .node import Node
from .protocol import ErrorCode

COOKIE = "etapiste_staff"
CSRF_HEADER = "X-CSRF-Token"
# The console's own pages: scripts and styles from this origin only, nothing inline.
CONSOLE_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self' ws: wss:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)


def _address(request: web.Request) -> str:
    return client_address(request)


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
            response = json_error(
                429,
                ErrorCode.RATE_LIMITED,
                "too many failed logins; wait before trying again",
                "username" if key.startswith("user:") else None,
                retry_after_s=round(retry_after + 0.0005, 3),
            )
            response.headers["Retry-After"] = str(math.ceil(retry_after))
            return response
    return None


async def authenticate(request: web.Request) -> Principal | web.Response:
    """Check a username and password from the body, throttled and audited."""
    node = request.app[NODE]
    fields = await read_fields(request, "username", "password")
    if isinstance(fields, web.Response):
        return fields
    username, address = fields["username"], _address(request)
    throttled = await _login_throttled(node, username, address)
    if throttled is not None:
        return throttled
    principal = await node.authority.authenticate_staff(username, fields["password"])
    now = node.clock()
    if principal is None:
        window = node.directory.auth.login_failure_window_s
        for key, _ in _login_keys(username, address):
            await node.store.add_login_failure(key, now, window)
        await audit(
            node.store,
            "login_failed",
            at=now,
            node=node.node_id,
            username=username,
            address=address,
        )
        return json_error(401, ErrorCode.UNAUTHENTICATED, "wrong username or password")
    await node.store.clear_login_failures("user:" + username)
    await audit(node.store, "login", at=now, node=node.node_id, username=username, address=address)
    return principal


def _user(node: Node, principal: Principal) -> dict[str, Any]:
    account = node.directory.account(principal.username or "")
    return {
        "username": principal.username,
        "roles": list(principal.roles),
        "display_name": account.display_name if account else None,
        "grants": account.grants() if account else {},
    }


async def staff_token(request: web.Request) -> web.Response:
    """Exchange a username and password for a short-lived bearer token with roles."""
    node = request.app[NODE]
    principal = await authenticate(request)
    if isinstance(principal, web.Response):
        return principal
    token, expires = node.authority.issue(principal)
    return web.json_response({"token": token, "expires_at": expires, **_user(node, principal)})


# --- the console's login cookie --------------------------------------------------------


def _cookie_login(request: web.Request) -> tuple[Principal, dict[str, Any]] | None:
    """Return the principal and claims of a valid console login cookie, or None."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        principal, claims = request.app[NODE].authority.verify_claims(token)
    except TokenError:
        return None
    if principal.kind != "staff" or not isinstance(claims.get("login"), str):
        return None
    return principal, claims


def cookie_token(request: web.Request) -> str | None:
    """Return the login cookie's token for a same-origin WebSocket upgrade, else None."""
    return request.cookies.get(COOKIE) if same_origin(request) else None


def _login_response(
    request: web.Request, principal: Principal, login: str, login_at: float
) -> web.Response:
    """Issue a fresh cookie for a login session and describe the session to the page."""
    node = request.app[NODE]
    session_ends = login_at + node.directory.auth.staff_session_max_s
    token, expires = node.authority.issue(
        principal, extra={"login": login, "login_at": login_at}, not_after=session_ends
    )
    response = web.json_response(
        {
            "user": _user(node, principal),
            "csrf_token": node.authority.csrf_token(login),
            "expires_at": expires,
            "session_expires_at": session_ends,
        }
    )
    secure = request.secure or request.headers.get("X-Forwarded-Proto") == "https"
    response.set_cookie(
        COOKIE,
        token,
        max_age=max(1, math.ceil(expires - node.clock())),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=secure,
    )
    return response


def _forbidden_origin() -> web.Response:
    return json_error(403, ErrorCode.FORBIDDEN, "requests must come from this site", "origin")


def _unauthenticated() -> web.Response:
    return json_error(401, ErrorCode.UNAUTHENTICATED, "sign in first")


def _checked(request: web.Request) -> tuple[Principal, dict[str, Any]] | web.Response:
    """Return a POST's login, or the error: no cookie, foreign origin, wrong CSRF token."""
    if not same_origin(request):
        return _forbidden_origin()
    login = _cookie_login(request)
    if login is None:
        return _unauthenticated()
    expected = request.app[NODE].authority.csrf_token(login[1]["login"])
    given = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return json_error(403, ErrorCode.FORBIDDEN, "missing or wrong CSRF token", "csrf")
    return login


def staff_request(request: web.Request, *, write: bool) -> Principal | web.Response:
    """Return the staff member behind a REST request, or the error response: a bearer
    token (programs), or the console's login cookie (with the CSRF token for writes)."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        try:
            principal = request.app[NODE].authority.verify(header.removeprefix("Bearer "))
        except TokenError:
            return _unauthenticated()
        if principal.kind != "staff":
            return json_error(403, ErrorCode.FORBIDDEN, "staff only", "token")
        return principal
    if write:
        login = _checked(request)
        return login if isinstance(login, web.Response) else login[0]
    cookie = _cookie_login(request)
    return _unauthenticated() if cookie is None else cookie[0]


async def console_login(request: web.Request) -> web.Response:
    """Sign in to the console: set the login cookie."""
    if not same_origin(request):
        return _forbidden_origin()
    principal = await authenticate(request)
    if isinstance(principal, web.Response):
        return principal
    login_at = request.app[NODE].clock()
    return _login_response(request, principal, secrets.token_urlsafe(16), login_at)


async def console_me(request: web.Request) -> web.Response:
    """Describe the signed-in user (after a reload), or 401."""
    login = _cookie_login(request)
    if login is None:
        return _unauthenticated()
    principal, claims = login
    node = request.app[NODE]
    return web.json_response(
        {
            "user": _user(node, principal),
            "csrf_token": node.authority.csrf_token(claims["login"]),
            "expires_at": claims["exp"],
            "session_expires_at": claims["login_at"] + node.directory.auth.staff_session_max_s,
        }
    )


async def console_refresh(request: web.Request) -> web.Response:
    """Renew the login cookie, up to the login session's maximum length."""
    login = _checked(request)
    if isinstance(login, web.Response):
        return login
    principal, claims = login
    node = request.app[NODE]
    if node.clock() >= claims["login_at"] + node.directory.auth.staff_session_max_s - 1:
        return json_error(401, ErrorCode.UNAUTHENTICATED, "the login session is over")
    return _login_response(request, principal, claims["login"], claims["login_at"])


async def console_logout(request: web.Request) -> web.Response:
    """Sign out: forget the cookie."""
    login = _checked(request)
    if isinstance(login, web.Response):
        return login
    node = request.app[NODE]
    await audit(
        node.store,
        "logout",
        at=node.clock(),
        node=node.node_id,
        username=login[0].username,
        address=_address(request),
    )
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/")
    return response


async def console_config(request: web.Request) -> web.Response:
    """What the console shows names for: outcomes, agencies, sites, providers, timers."""
    if _cookie_login(request) is None:
        return _unauthenticated()
    directory = request.app[NODE].directory
    return web.json_response(
        {
            "outcomes": [o.model_dump(mode="json") for o in directory.outcomes],
            "agencies": [
                {
                    "id": agency.id,
                    "name": agency.name.model_dump(),
                    "services": [
                        {
                            "id": service.id,
                            "name": service.name.model_dump(),
                            "languages": agency.service_languages(service.id),
                        }
                        for service in agency.services
                    ],
                }
                for agency in directory.agencies
            ],
            "sites": [
                {
                    "id": site.id,
                    "kind": site.kind,
                    "name": site.name.model_dump(),
                    "municipality": site.municipality,
                    "region": site.region,
                }
                for site in directory.sites
            ],
            "providers": [
                {"id": provider.id, "name": provider.name}
                for provider in directory.interpreter_providers
            ],
            "routing": {
                "ring_timeout_s": directory.routing.ring_timeout_s,
                "wrap_up_s": directory.routing.wrap_up_s,
            },
        }
    )


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    """Give every response the headers that keep the console's pages to themselves."""
    response: web.StreamResponse = await handler(request)
    if response.prepared:
        return response  # a WebSocket (or a stream): its headers are long sent
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith(("/console", "/guest", "/kiosk/")):
        response.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith("/console/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
    return response


async def no_such_api(request: web.Request) -> web.Response:
    """Answer an unknown console API path plainly."""
    return json_error(404, ErrorCode.NOT_FOUND, "no such API on this node", "path")


def add_console(app: web.Application, static_dir: Path | None, client_dir: Path | None) -> None:
    """Serve the console: its REST API, its pages and the browser call client."""
    app.router.add_post("/console/api/login", console_login)
    app.router.add_get("/console/api/me", console_me)
    app.router.add_post("/console/api/refresh", console_refresh)
    app.router.add_post("/console/api/logout", console_logout)
    app.router.add_get("/console/api/config", console_config)
    # Any other API path is a JSON 404, not the static files' (a part this node does not
    # run, such as statistics without --stats-db).
    app.router.add_route("*", "/console/api/{path:.*}", no_such_api)
    if static_dir is not None:
        index = static_dir / "index.html"

        async def console_index(request: web.Request) -> web.StreamResponse:
            return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

        async def to_console(request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound("/console/")

        app.router.add_get("/console", to_console)
        app.router.add_get("/console/", console_index)
        app.router.add_static("/console/", static_dir)
    if client_dir is not None:
        app.router.add_static("/client/", client_dir)
