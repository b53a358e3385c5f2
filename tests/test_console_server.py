"""What the expert console needs from a node: wrap-up, shift skills, the queue overview,
the login cookie with CSRF, and the audit log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from signaling.client import SignalingClient, SignalingError
from signaling.protocol import (
    Availability,
    CallQueued,
    ErrorCode,
    Offer,
    QueueOverview,
    SessionEnded,
    Welcome,
    parse_server_message,
)
from signaling.staff_web import COOKIE, CSRF_HEADER
from signaling.store import MemoryStore

from .support import (
    booth_client,
    directory_with,
    node_of,
    running_node,
    staff_client,
)

KELA = {"type": "call_request", "agency": "kela", "service": "general", "language": "fi"}
KELA_SV = {**KELA, "language": "sv"}


async def availability(client: SignalingClient, status: str) -> Availability:
    """Wait for the server to tell the expert a given availability."""
    return await client.wait_for(Availability, lambda a: a.status == status)


async def take_call(booth: SignalingClient, expert: SignalingClient, call: dict[str, Any]) -> str:
    """Have the booth call and the expert accept; return the session id."""
    queued = await booth.request(call, expect=CallQueued)
    session_id = queued.session.session_id
    await expert.wait_for(Offer, lambda o: o.session_id == session_id)
    await expert.request({"type": "offer_accept", "session_id": session_id})
    return session_id


# --- availability and wrap-up ----------------------------------------------------------


async def test_an_expert_is_told_their_availability_after_hello() -> None:
    async with running_node(MemoryStore()) as node:
        expert = await staff_client(node.base_url, "kela.expert")
        try:
            first = await expert.wait_for(Availability)
            assert first.status == "paused"
            assert first.skills is not None and first.skills.agencies == ["kela"]
            assert first.can_choose_skills
            await expert.request({"type": "set_availability", "status": "available"})
            assert (await expert.wait_for(Availability)).status == "available"
            await expert.close()
            expert = await staff_client(node.base_url, "kela.expert")
            again = await expert.wait_for(Availability)
            assert again.status == "available", "a reload shows what routing holds"
        finally:
            await expert.close()


@asynccontextmanager
async def in_wrap_up(
    wrap_up_s: float,
) -> AsyncIterator[tuple[Availability, SignalingClient, SignalingClient]]:
    """Yield an expert just out of a call (and their wrap-up), with a second call waiting."""
    directory = directory_with(routing={"wrap_up_s": wrap_up_s})
    async with running_node(MemoryStore(), directory) as node:
        booth = await booth_client(node.base_url)
        other = await booth_client(node.base_url, "bus-lieksa")
        expert = await staff_client(node.base_url, "kela.expert")
        try:
            await expert.request({"type": "set_availability", "status": "available"})
            session_id = await take_call(booth, expert, KELA)
            await expert.request(
                {"type": "session_end", "session_id": session_id, "outcome": "resolved"}
            )
            wrap_up = await availability(expert, "wrap_up")
            yield wrap_up, other, expert
        finally:
            for client in (booth, other, expert):
                await client.close()


async def test_after_a_call_the_expert_wraps_up_and_is_then_offered_calls_again() -> None:
    async with in_wrap_up(1.5) as (wrap_up, other, expert):
        assert wrap_up.wrap_up_s is not None and 1.0 < wrap_up.wrap_up_s <= 1.5
        queued = await other.request(KELA, expect=CallQueued)
        with pytest.raises(TimeoutError):
            await expert.wait_for(Offer, timeout=0.8)  # still writing notes
        offer = await expert.wait_for(Offer, timeout=5)
        assert offer.session_id == queued.session.session_id


async def test_going_available_ends_the_wrap_up_at_once() -> None:
    async with in_wrap_up(600) as (_, other, expert):
        queued = await other.request(KELA, expect=CallQueued)
        with pytest.raises(TimeoutError):
            await expert.wait_for(Offer, timeout=0.5)
        await expert.request({"type": "set_availability", "status": "available"})
        offer = await expert.wait_for(Offer, timeout=5)
        assert offer.session_id == queued.session.session_id


async def test_a_transfer_puts_the_expert_in_wrap_up_too() -> None:
    directory = directory_with(routing={"wrap_up_s": 60})
    async with running_node(MemoryStore(), directory) as node:
        booth = await booth_client(node.base_url)
        expert = await staff_client(node.base_url, "kela.expert")
        try:
            await expert.request({"type": "set_availability", "status": "available"})
            session_id = await take_call(booth, expert, KELA)
            await expert.request(
                {
                    "type": "transfer",
                    "session_id": session_id,
                    "agency": "vero",
                    "service": "tax-card",
                    "language": "fi",
                    "note": "asks about the tax card",
                }
            )
            assert (await availability(expert, "wrap_up")).wrap_up_s is not None
        finally:
            await booth.close()
            await expert.close()


# --- skills chosen for the shift --------------------------------------------------------


async def test_an_expert_chooses_this_shifts_languages_and_routing_follows() -> None:
    async with running_node(MemoryStore()) as node:
        booth = await booth_client(node.base_url)
        expert = await staff_client(node.base_url, "kela.expert")
        try:
            skills = {"agencies": ["kela"], "languages": ["fi"]}
            await expert.request(
                {"type": "set_availability", "status": "available", "skills": skills}
            )
            told = await availability(expert, "available")
            assert told.skills is not None and told.skills.languages == ["fi"]
            await booth.request(KELA_SV, expect=CallQueued)
            with pytest.raises(TimeoutError):
                await expert.wait_for(Offer, timeout=1.0)
            # Paused and back without naming skills: the shift's choice stays.
            await expert.request({"type": "set_availability", "status": "paused"})
            await expert.request({"type": "set_availability", "status": "available"})
            kept = await availability(expert, "available")
            assert kept.skills is not None and kept.skills.languages == ["fi"]
            everything = {"agencies": ["kela"], "languages": ["fi", "sv"]}
            await expert.request(
                {"type": "set_availability", "status": "available", "skills": everything}
            )
            offer = await expert.wait_for(Offer, timeout=5)
            assert offer.language == "sv"
        finally:
            await booth.close()
            await expert.close()


@pytest.mark.parametrize(
    ("skills", "field"),
    [
        ({"agencies": ["vero"], "languages": ["fi"]}, "skills.agencies"),
        ({"agencies": ["kela"], "languages": ["ar"]}, "skills.languages"),
        ({"agencies": ["kela"], "services": ["tax-card"], "languages": ["fi"]}, "skills.services"),
        ({"agencies": ["kela"], "services": [], "languages": ["fi"]}, "skills.services"),
    ],
)
async def test_skills_outside_the_account_are_refused_and_change_nothing(
    skills: dict[str, Any], field: str
) -> None:
    async with running_node(MemoryStore()) as node:
        expert = await staff_client(node.base_url, "kela.expert")
        try:
            await expert.request({"type": "set_availability", "status": "paused"})
            with pytest.raises(SignalingError) as caught:
                await expert.request(
                    {"type": "set_availability", "status": "available", "skills": skills}
                )
            assert (caught.value.code, caught.value.field) == (ErrorCode.INVALID_FIELD, field)
            record = await node_of(node).store.load_expert("staff:kela.expert")
            assert record is not None
            assert (record.state, record.languages) == ("paused", ["fi", "sv"])
        finally:
            await expert.close()


async def test_an_expert_whose_role_does_not_allow_it_cannot_choose_skills() -> None:
    async with running_node(MemoryStore()) as node:
        expert = await staff_client(node.base_url, "vero.expert")
        try:
            assert not (await expert.wait_for(Availability)).can_choose_skills
            with pytest.raises(SignalingError) as caught:
                await expert.request(
                    {
                        "type": "set_availability",
                        "status": "available",
                        "skills": {"agencies": ["vero"], "languages": ["fi"]},
                    }
                )
            assert (caught.value.code, caught.value.field) == (ErrorCode.FORBIDDEN, "skills")
        finally:
            await expert.close()


# --- queue overview ---------------------------------------------------------------------


async def test_the_queue_overview_follows_calls_and_colleagues() -> None:
    directory = directory_with({"kela.b": ["kela"]})
    async with running_node(MemoryStore(), directory) as node:
        expert = await staff_client(node.base_url, "kela.expert")
        colleague = await staff_client(node.base_url, "kela.b")
        booth = await booth_client(node.base_url)
        try:
            first = await expert.wait_for(QueueOverview)
            queues = {q.queue: q for q in first.queues}
            assert "kela/general/fi" in queues and "kela/housing/sv" in queues
            assert "kela/general/en" not in queues, "kela.expert serves fi and sv only"
            assert queues["kela/general/fi"].waiting == 0
            assert [(c.agency, c.available) for c in first.colleagues] == [("kela", 0)]

            await colleague.request({"type": "set_availability", "status": "available"})
            seen = await expert.wait_for(
                QueueOverview, lambda o: o.colleagues[0].available == 1, timeout=5
            )
            assert seen.colleagues[0].agency == "kela"
            await colleague.request({"type": "set_availability", "status": "paused"})
            await expert.wait_for(QueueOverview, lambda o: o.colleagues[0].available == 0)

            await booth.request(KELA, expect=CallQueued)

            def one_waiting(o: QueueOverview) -> bool:
                row = next(q for q in o.queues if q.queue == "kela/general/fi")
                return row.waiting == 1 and row.oldest_wait_s is not None

            await expert.wait_for(QueueOverview, one_waiting, timeout=5)
        finally:
            for client in (expert, colleague, booth):
                await client.close()


# --- the console's login cookie ---------------------------------------------------------


@asynccontextmanager
async def browser_like(base_url: str) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client that keeps cookies (also for 127.0.0.1) and sends the page's Origin."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(
        base_url, cookie_jar=jar, headers={"Origin": base_url}
    ) as http:
        yield http


async def console_login(http: aiohttp.ClientSession, username: str = "kela.expert") -> Any:
    async with http.post(
        "/console/api/login", json={"username": username, "password": "demo"}
    ) as resp:
        assert resp.status == 200, await resp.text()
        cookie = resp.headers["Set-Cookie"]
        assert COOKIE in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        return await resp.json()


async def test_console_login_sets_an_httponly_cookie_and_never_a_token_in_the_body() -> None:
    async with running_node(MemoryStore()) as node, browser_like(node.base_url) as http:
        body = await console_login(http)
        assert "token" not in body
        assert body["user"]["username"] == "kela.expert"
        assert body["user"]["grants"]["expert"]["choose_skills"] is True
        assert body["session_expires_at"] > body["expires_at"] > 0
        async with http.get("/console/api/me") as resp:
            assert resp.status == 200
            assert (await resp.json())["csrf_token"] == body["csrf_token"]
        async with http.get("/console/api/config") as resp:
            config = await resp.json()
            assert "resolved" in [o["id"] for o in config["outcomes"]]
            assert config["routing"]["wrap_up_s"] == 30
            assert any(s["id"] == "bus-lieksa" and s["kind"] == "XS" for s in config["sites"])
            names = {p["id"]: p["name"] for p in config["providers"]}
            assert names["demo-tulkkaus"] == "Demo Tulkkaus Oy"


async def test_the_cookie_is_secure_behind_tls() -> None:
    async with running_node(MemoryStore()) as node, browser_like(node.base_url) as http:
        async with http.post(
            "/console/api/login",
            json={"username": "kela.expert", "password": "demo"},
            headers={"X-Forwarded-Proto": "https"},
        ) as resp:
            assert "Secure" in resp.headers["Set-Cookie"]
        async with http.post(
            "/console/api/login", json={"username": "kela.expert", "password": "demo"}
        ) as resp:
            assert "Secure" not in resp.headers["Set-Cookie"], "plain http on loopback"


async def test_console_requests_without_a_login_or_csrf_token_are_refused() -> None:
    async with running_node(MemoryStore()) as node, browser_like(node.base_url) as http:
        for method, path in (("GET", "/console/api/me"), ("GET", "/console/api/config")):
            async with http.request(method, path) as resp:
                assert resp.status == 401
                assert (await resp.json())["error"]["code"] == "unauthenticated"
        body = await console_login(http)
        for headers in ({}, {CSRF_HEADER: "0" * 64}):
            async with http.post("/console/api/refresh", headers=headers) as resp:
                assert resp.status == 403
                error = (await resp.json())["error"]
                assert (error["code"], error["field"]) == ("forbidden", "csrf")
        async with http.post(
            "/console/api/refresh", headers={CSRF_HEADER: body["csrf_token"]}
        ) as resp:
            assert resp.status == 200
        async with http.post(
            "/console/api/logout", headers={CSRF_HEADER: body["csrf_token"]}
        ) as resp:
            assert resp.status == 204
        async with http.get("/console/api/me") as resp:
            assert resp.status == 401, "logged out"


async def test_requests_from_another_origin_are_refused() -> None:
    async with running_node(MemoryStore()) as node, browser_like(node.base_url) as http:
        body = await console_login(http)
        evil = {"Origin": "https://evil.example"}
        async with http.post(
            "/console/api/login", json={"username": "kela.expert", "password": "demo"}, headers=evil
        ) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["field"] == "origin"
        async with http.post(
            "/console/api/logout", headers={**evil, CSRF_HEADER: body["csrf_token"]}
        ) as resp:
            assert resp.status == 403


async def test_a_login_session_ends_after_its_maximum_length() -> None:
    directory = directory_with(auth={"staff_session_max_s": 2, "token_ttl_s": 60})
    async with running_node(MemoryStore(), directory) as node, browser_like(node.base_url) as http:
        body = await console_login(http)
        assert body["expires_at"] <= body["session_expires_at"]
        await asyncio.sleep(1.2)
        async with http.post(
            "/console/api/refresh", headers={CSRF_HEADER: body["csrf_token"]}
        ) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "unauthenticated"


async def hello_over(http: aiohttp.ClientSession, url: str, origin: str) -> Any:
    """Say hello without a token over a WebSocket that carries the session's cookies."""
    async with http.ws_connect(url, headers={"Origin": origin}) as ws:
        await ws.send_json({"type": "hello", "id": "h", "versions": [1]})
        return parse_server_message((await ws.receive(timeout=5)).data)


async def test_the_console_websocket_authenticates_with_the_cookie_from_its_own_origin() -> None:
    async with running_node(MemoryStore()) as node, browser_like(node.base_url) as http:
        await console_login(http)
        welcome = await hello_over(http, node.ws_url, node.base_url)
        assert isinstance(welcome, Welcome)
        assert welcome.identity.subject == "staff:kela.expert"
        refused = await hello_over(http, node.ws_url, "https://evil.example")
        assert refused.type == "error" and refused.code == ErrorCode.UNAUTHENTICATED
        assert refused.field == "token"


async def test_console_pages_carry_a_strict_content_security_policy() -> None:
    async with running_node(MemoryStore()) as node, browser_like(node.base_url) as http:
        async with http.get("/console/api/me") as resp:
            csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        for page in ("/console/", "/console/console.js"):
            async with http.get(page) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Security-Policy"] == csp
                assert resp.headers["X-Frame-Options"] == "DENY"
        async with http.get("/client/signaling.js") as resp:
            assert resp.status == 200


# --- audit log --------------------------------------------------------------------------


async def test_logins_and_who_joined_which_session_are_in_the_audit_log() -> None:
    store = MemoryStore()
    async with running_node(store) as node:
        async with browser_like(node.base_url) as http:
            async with http.post(
                "/console/api/login", json={"username": "kela.expert", "password": "wrong"}
            ) as resp:
                assert resp.status == 401
        booth = await booth_client(node.base_url)
        expert = await staff_client(node.base_url, "kela.expert")
        try:
            await expert.request({"type": "set_availability", "status": "available"})
            session_id = await take_call(booth, expert, KELA)
            await expert.request(
                {"type": "session_end", "session_id": session_id, "outcome": "resolved"}
            )
            await expert.wait_for(SessionEnded)
        finally:
            await booth.close()
            await expert.close()

        async def entries() -> list[tuple[str, str | None, str | None]]:
            log = await store.read_events(log="audit")
            return [(e["action"], e.get("username"), e.get("session_id")) for _, e in log]

        seen = await entries()
        assert seen == [
            ("login_failed", "kela.expert", None),
            ("login", "kela.expert", None),
            ("session_joined", "kela.expert", session_id),
            ("session_left", "kela.expert", session_id),
        ]
        statistics = [event for _, event in await store.read_events()]
        assert all("username" not in event for event in statistics), "no names in statistics"
