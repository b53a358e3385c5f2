"""The appointments REST API of the consoles (docs/protocol.md §5.5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from signaling.http import NODE, json_error, read_fields
from signaling.identity import Principal
from signaling.protocol import ErrorCode
from signaling.routing import RoutingError
from signaling.staff_web import staff_request

from .appointments import Appointments, Booking

STATUS = {
    ErrorCode.INVALID_FIELD: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.CLOSED: 409,
}


def _appointments(request: web.Request) -> Appointments:
    return request.app[NODE].appointments.book


def _refused(exc: RoutingError) -> web.Response:
    return json_error(STATUS.get(exc.code, 400), exc.code, exc.message, exc.field)


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return json_error(400, ErrorCode.BAD_JSON, "the body must be a JSON object")
    if not isinstance(body, dict):
        return json_error(400, ErrorCode.BAD_JSON, "the body must be a JSON object")
    return body


async def list_appointments(request: web.Request) -> web.Response:
    """The signed-in staff member's appointments from an hour ago on."""
    principal = staff_request(request, write=False)
    if isinstance(principal, web.Response):
        return principal
    return web.json_response({"appointments": await _appointments(request).visible_to(principal)})


async def book_appointment(request: web.Request) -> web.Response:
    """Book an appointment; the answer carries the citizen's code."""
    principal = staff_request(request, write=True)
    if isinstance(principal, web.Response):
        return principal
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    try:
        booking = Booking.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or None
        return json_error(400, ErrorCode.INVALID_FIELD, first["msg"], where)
    try:
        record = await _appointments(request).book(principal, booking)
    except RoutingError as exc:
        return _refused(exc)
    return web.json_response({"appointment": record.public(with_code=True)}, status=201)


async def _answer(request: web.Request, status: str) -> web.Response:
    principal = staff_request(request, write=True)
    if isinstance(principal, web.Response):
        return principal
    if not principal.has_role("interpreter"):
        return json_error(403, ErrorCode.FORBIDDEN, "only the booked interpreter answers", "id")
    try:
        record = await _appointments(request).answer(
            principal,
            request.match_info["id"],
            status,  # type: ignore[arg-type]
        )
    except RoutingError as exc:
        return _refused(exc)
    return web.json_response({"appointment": record.public(with_code=False)})


async def confirm_appointment(request: web.Request) -> web.Response:
    """The booked interpreter confirms."""
    return await _answer(request, "confirmed")


async def decline_appointment(request: web.Request) -> web.Response:
    """The booked interpreter declines."""
    return await _answer(request, "declined")


async def cancel_appointment(request: web.Request) -> web.Response:
    """Cancel an appointment: its code stops working at once."""
    principal = staff_request(request, write=True)
    if isinstance(principal, web.Response):
        return principal
    try:
        record = await _appointments(request).cancel(principal, request.match_info["id"])
    except RoutingError as exc:
        return _refused(exc)
    return web.json_response({"appointment": record.public(with_code=True)})


async def booking_options(request: web.Request) -> web.Response:
    """Who can be booked: interpreters (and, for an admin, experts)."""
    principal = staff_request(request, write=False)
    if isinstance(principal, web.Response):
        return principal
    return web.json_response(_options(request.app[NODE].directory, principal))


def _options(directory: Any, principal: Principal) -> dict[str, Any]:
    interpreters = []
    for account in directory.interpreters():
        role = account.interpreter
        provider = directory.provider(role.provider)
        interpreters.append(
            {
                "username": account.username,
                "display_name": account.display_name,
                "languages": role.languages,
                "modalities": role.modalities,
                "provider": provider.name if provider else role.provider,
                "agencies": provider.agencies if provider else [],
            }
        )
    experts = [
        {
            "username": account.username,
            "display_name": account.display_name,
            "agencies": account.expert.agencies,
            "services": account.expert.services,
            "languages": account.expert.languages,
        }
        for account in directory.staff
        if account.expert is not None
        and (principal.has_role("admin") or account.username == principal.username)
    ]
    return {"interpreters": interpreters, "experts": experts}


async def guest_link(request: web.Request) -> web.Response:
    """Issue a one-time link for the citizen to join the appointment from home."""
    principal = staff_request(request, write=True)
    if isinstance(principal, web.Response):
        return principal
    try:
        secret = await _appointments(request).issue_guest_link(principal, request.match_info["id"])
    except RoutingError as exc:
        return _refused(exc)
    path = f"/guest/#{secret}"
    scheme = request.headers.get("X-Forwarded-Proto", request.scheme)
    return web.json_response({"url": f"{scheme}://{request.host}{path}", "path": path})


async def guest_token(request: web.Request) -> web.Response:
    """Exchange a guest link's secret (once) for a guest's access token."""
    fields = await read_fields(request, "link")
    if isinstance(fields, web.Response):
        return fields
    node = request.app[NODE]
    record = await node.appointments.book.redeem_guest_link(fields["link"])
    if record is None:
        return json_error(
            404, ErrorCode.NOT_FOUND, "this link is not valid (used, replaced or over)", "link"
        )
    principal = node.authority.guest(record.appointment_id)
    token, expires = node.authority.issue(principal)
    appointment = {
        key: value
        for key, value in record.public(with_code=False).items()
        if key in ("start", "end", "agency", "service", "language", "interpreter")
    }
    # The page at home cannot ask for the catalog (a booth's request): it gets the names it
    # shows, and when its Join button may work, here.
    agency = node.directory.agency(record.agency)
    service = agency.service(record.service) if agency is not None else None
    names = {
        "agency": agency.name.model_dump() if agency is not None else None,
        "service": service.name.model_dump() if service is not None else None,
    }
    checkin_from = record.start - node.appointments.book.settings.checkin_early_s
    return web.json_response(
        {
            "token": token,
            "expires_at": expires,
            "appointment": appointment,
            "names": names,
            "checkin_from": checkin_from,
        }
    )


def add_guest_page(app: web.Application, kiosk_dir: Path) -> None:
    """Serve the booth's page to citizens at home (/guest/, with the kiosk's files)."""
    index = kiosk_dir / "index.html"

    async def guest_index(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

    async def to_guest(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/guest/")

    app.router.add_get("/guest", to_guest)
    app.router.add_get("/guest/", guest_index)
    app.router.add_static("/kiosk/", kiosk_dir)


def add_appointments(app: web.Application) -> None:
    """Serve the appointments API and the guest link's token exchange."""
    app.router.add_post("/console/api/appointments/{id}/guest-link", guest_link)
    app.router.add_post("/auth/guest", guest_token)
    app.router.add_get("/console/api/appointments", list_appointments)
    app.router.add_post("/console/api/appointments", book_appointment)
    app.router.add_post("/console/api/appointments/{id}/confirm", confirm_appointment)
    app.router.add_post("/console/api/appointments/{id}/decline", decline_appointment)
    app.router.add_delete("/console/api/appointments/{id}", cancel_appointment)
    app.router.add_get("/console/api/booking-options", booking_options)
