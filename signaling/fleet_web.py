"""The booth fleet for supervisors and admins: each booth's state, and a device test.

GET  /console/api/fleet                     every site's latest health and status
POST /console/api/fleet/{site}/device-test  ask the booth's agent to check its devices now
Booths serve every agency, so every supervisor sees them all (docs/protocol.md §5.7).
"""

from __future__ import annotations

import secrets

from aiohttp import web

from .fleet import fleet
from .http import NODE, json_error
from .identity import Principal
from .protocol import DeviceTest, ErrorCode
from .staff_web import staff_request
from .store import Store


def _supervisor(request: web.Request, *, write: bool) -> Principal | web.Response:
    principal = staff_request(request, write=write)
    if isinstance(principal, web.Response):
        return principal
    if not (principal.has_role("supervisor") or principal.has_role("admin")):
        return json_error(403, ErrorCode.FORBIDDEN, "the fleet is for supervisors", "role")
    return principal


async def fleet_state(request: web.Request) -> web.Response:
    """Every configured booth: status, last report, and whether it is in a call."""
    principal = _supervisor(request, write=False)
    if isinstance(principal, web.Response):
        return principal
    node = request.app[NODE]
    booths = []
    for booth in await fleet(node.store, node.directory, node.clock()):
        row = booth.model_dump(mode="json")
        row["in_call"] = await _in_call(node.store, booth.site)
        booths.append(row)
    return web.json_response({"booths": booths})


async def _in_call(store: Store, site: str) -> bool:
    """Tell whether the site's booth is in a call now."""
    for session_id in await store.memberships(f"site:{site}"):
        record = await store.peek_session(session_id)
        if record is not None and record.state in ("connecting", "active"):
            return True
    return False


async def device_test(request: web.Request) -> web.Response:
    """Ask a booth's agent for a device check now; its report carries the test id."""
    principal = _supervisor(request, write=True)
    if isinstance(principal, web.Response):
        return principal
    node = request.app[NODE]
    site = request.match_info["site"]
    if node.directory.site(site) is None:
        return json_error(404, ErrorCode.NOT_FOUND, "no such site", "site")
    agent = f"agent:{site}"
    if await node.store.presence_node(agent) is None:
        return json_error(409, ErrorCode.CONFLICT, "the booth's agent is not connected", "site")
    test_id = f"dt-{secrets.token_hex(8)}"
    await node.send(agent, DeviceTest(test_id=test_id))
    return web.json_response({"test_id": test_id}, status=202)


def add_fleet(app: web.Application) -> None:
    """Serve the fleet API (before the console's static files)."""
    app.router.add_get("/console/api/fleet", fleet_state)
    app.router.add_post("/console/api/fleet/{site}/device-test", device_test)
