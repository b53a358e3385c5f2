"""Booked appointments through a real node: booking over REST, the interpreter's answer,
check-in at the booth with the code, the booked expert and interpreter first."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from signaling.client import SignalingClient, SignalingError, login
from signaling.directory import load_directory
from signaling.protocol import (
    Ack,
    Availability,
    CallQueued,
    ErrorCode,
    InterpreterOffer,
    Offer,
    SessionEnded,
    SessionUpdate,
)
from signaling.store import Store

from .support import booth_client, running_node, staff_client
from .test_interpreting import directory_with

# A second Kela expert, to see that a booked call waits for its own expert.
SECOND_KELA = """
[[staff]]
username = "kela.expert2"
display_name = "Toinen Kela-asiantuntija"
password_hash = '$argon2id$v=19$m=65536,t=3,p=4$ip4yF2VW1AaSKMI9QZUjOw$bG5RsZHzsVAJZiZZoWrRPlT3KPtaii+OYrBLocaPAFc'
[staff.expert]
agencies = ["kela"]
languages = ["fi", "sv"]
"""  # noqa: E501 (the argon2 hash)
POLICE = """
[[staff]]
username = "poliisi.expert"
display_name = "Lupapalvelujen asiantuntija"
password_hash = '$argon2id$v=19$m=65536,t=3,p=4$ip4yF2VW1AaSKMI9QZUjOw$bG5RsZHzsVAJZiZZoWrRPlT3KPtaii+OYrBLocaPAFc'
[staff.expert]
agencies = ["poliisi"]
languages = ["fi"]
"""  # noqa: E501 (the argon2 hash)
SIGN = {"language": "fse", "modality": "sign", "username": "tulkki.fse"}


def at(minutes: float) -> str:
    """An ISO 8601 time with an offset, ``minutes`` from now."""
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


@dataclass
class World:
    base_url: str
    store: Store
    http: aiohttp.ClientSession
    clients: list[SignalingClient] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    async def api(
        self, username: str, method: str, path: str, body: Any = None
    ) -> tuple[int, dict[str, Any]]:
        if username not in self.tokens:
            self.tokens[username] = await login(self.base_url, username, "demo")
        headers = {"Authorization": f"Bearer {self.tokens[username]}"}
        async with self.http.request(
            method, f"{self.base_url}/console/api{path}", json=body, headers=headers
        ) as response:
            return response.status, await response.json()

    async def book(self, username: str = "kela.expert", **changes: Any) -> dict[str, Any]:
        body = {
            "site": "lib-kitee",
            "start": at(5),
            "duration_min": 30,
            "agency": "kela",
            "service": "general",
            "language": "fi",
            **changes,
        }
        status, answer = await self.api(username, "POST", "/appointments", body)
        assert status == 201, answer
        return answer["appointment"]

    async def listed(self, username: str) -> list[dict[str, Any]]:
        status, answer = await self.api(username, "GET", "/appointments")
        assert status == 200, answer
        return answer["appointments"]

    async def booth(self, site: str = "lib-kitee") -> SignalingClient:
        client = await booth_client(self.base_url, site)
        self.clients.append(client)
        return client

    async def staff(self, username: str, available: bool = True) -> SignalingClient:
        client = await staff_client(self.base_url, username)
        self.clients.append(client)
        if available:
            await client.request({"type": "set_availability", "status": "available"}, expect=Ack)
        return client


@asynccontextmanager
async def world(store: Store, tmp_path: Path, **timers: float) -> AsyncIterator[World]:
    directory = load_directory(directory_with(tmp_path, SECOND_KELA + POLICE, **timers))
    async with running_node(store, directory) as node, aiohttp.ClientSession() as http:
        w = World(node.base_url, store, http)
        try:
            yield w
        finally:
            for client in w.clients:
                await client.close()


async def check_in(booth: SignalingClient, code: str) -> Any:
    return await booth.request({"type": "appointment_checkin", "code": code}, expect=CallQueued)


async def refused_code(booth: SignalingClient, code: str, expected: ErrorCode) -> Any:
    with pytest.raises(SignalingError) as info:
        await booth.request({"type": "appointment_checkin", "code": code})
    assert (info.value.error.code, info.value.error.field) == (expected, "code")
    return info.value.error


# --- booking --------------------------------------------------------------------------------


async def test_book_list_and_the_interpreter_confirms(store: Store, tmp_path: Path) -> None:
    async with world(store, tmp_path) as w:
        booked = await w.book(interpreter=SIGN)
        assert len(booked["code"]) == 8 and booked["code"].isdigit()
        assert booked["state"] == "booked" and booked["expert"] == "kela.expert"
        assert booked["interpreter"]["status"] == "pending"

        mine = await w.listed("kela.expert")
        assert [a["id"] for a in mine] == [booked["id"]] and mine[0]["code"] == booked["code"]
        theirs = await w.listed("tulkki.fse")
        assert [a["id"] for a in theirs] == [booked["id"]]
        assert "code" not in theirs[0]  # the citizen's code is not the interpreter's to know
        assert await w.listed("tulkki.ar") == []
        assert [a["id"] for a in await w.listed("admin")] == [booked["id"]]

        status, answer = await w.api("tulkki.fse", "POST", f"/appointments/{booked['id']}/confirm")
        assert status == 200 and answer["appointment"]["interpreter"]["status"] == "confirmed"
        status, answer = await w.api("tulkki.ar", "POST", f"/appointments/{booked['id']}/confirm")
        assert (status, answer["error"]["code"]) == (403, "forbidden")


@pytest.mark.parametrize(
    ("changes", "status", "code", "where"),
    [
        ({"site": "nowhere"}, 404, "not_found", "site"),
        ({"agency": "nope"}, 404, "not_found", "agency"),
        ({"service": "nope"}, 404, "not_found", "service"),
        ({"language": "ar"}, 404, "not_found", "language"),
        ({"start": at(-10)}, 400, "invalid_field", "start"),
        ({"start": "2026-12-01T10:00:00"}, 400, "invalid_field", "start"),
        ({"start": "tomorrow"}, 400, "invalid_field", "start"),
        ({"duration_min": 1}, 400, "invalid_field", "duration_min"),
        ({"expert": "vero.expert"}, 403, "forbidden", "expert"),
        (
            {"interpreter": {"language": "so", "modality": "spoken"}},
            404,
            "not_found",
            "interpreter.language",
        ),
        (
            {"interpreter": {**SIGN, "username": "tulkki.ar"}},
            400,
            "invalid_field",
            "interpreter.username",
        ),
        ({"colour": "red"}, 400, "invalid_field", "colour"),
    ],
)
async def test_bad_bookings_are_refused_and_change_nothing(
    store: Store, tmp_path: Path, changes: dict[str, Any], status: int, code: str, where: str
) -> None:
    async with world(store, tmp_path) as w:
        body = {
            "site": "lib-kitee",
            "start": at(60),
            "agency": "kela",
            "service": "general",
            "language": "fi",
            **changes,
        }
        got, answer = await w.api("kela.expert", "POST", "/appointments", body)
        assert (got, answer["error"]["code"], answer["error"].get("field")) == (
            status,
            code,
            where,
        ), answer
        assert await w.listed("kela.expert") == []


async def test_overlaps_closed_hours_and_strangers_are_refused(
    store: Store, tmp_path: Path
) -> None:
    async with world(store, tmp_path) as w:
        await w.book(start=at(60))
        status, answer = await w.api(
            "kela.expert",
            "POST",
            "/appointments",
            {
                "site": "lib-kitee",
                "start": at(75),
                "agency": "kela",
                "service": "general",
                "language": "fi",
            },
        )
        assert (status, answer["error"]["field"]) == (409, "start")
        # The police permit services are closed at night.
        night = (datetime.now(UTC) + timedelta(days=2)).replace(hour=1, minute=0).isoformat()
        status, answer = await w.api(
            "admin",
            "POST",
            "/appointments",
            {
                "site": "lib-kitee",
                "start": night,
                "agency": "poliisi",
                "service": "passport",
                "language": "fi",
                "expert": "poliisi.expert",
            },
        )
        assert (status, answer["error"]["code"], answer["error"]["field"]) == (
            409,
            "closed",
            "start",
        ), answer
        async with w.http.get(f"{w.base_url}/console/api/appointments") as response:
            assert response.status == 401
        status, answer = await w.api("tulkki.ar", "POST", "/appointments", {"site": "lib-kitee"})
        assert status == 400  # the body is checked first; then the role:
        status, answer = await w.api(
            "tulkki.ar",
            "POST",
            "/appointments",
            {
                "site": "lib-kitee",
                "start": at(60),
                "agency": "kela",
                "service": "general",
                "language": "fi",
            },
        )
        assert (status, answer["error"]["code"]) == (403, "forbidden")


# --- at the booth ---------------------------------------------------------------------------


async def test_the_code_brings_the_booked_expert_then_the_booked_interpreter(
    store: Store, tmp_path: Path
) -> None:
    async with world(store, tmp_path) as w:
        booked = await w.book(interpreter=SIGN)
        other = await w.staff("kela.expert2")  # longer idle: would be first in the queue
        expert = await w.staff("kela.expert")
        sign = await w.staff("tulkki.fse")
        await sign.wait_for(Availability, lambda a: a.status == "available")
        booth = await w.booth()
        queued = await check_in(booth, booked["code"])
        sid = queued.session.session_id
        assert (queued.session.agency, queued.session.service) == ("kela", "general")
        assert queued.session.interpreter is not None
        assert queued.session.interpreter.language == "fse"
        offer = await expert.wait_for(Offer, lambda o: o.session_id == sid)
        assert not [m for m in other.drain_buffer() if isinstance(m, Offer)]
        await expert.request({"type": "offer_accept", "session_id": sid}, expect=Ack)
        ring = await sign.wait_for(InterpreterOffer)
        assert (ring.session_id, ring.urgency, ring.modality) == (sid, "booked", "sign")
        update = await booth.wait_for(
            SessionUpdate, lambda u: u.session.interpreter_request is not None
        )
        assert update.session.interpreter_request.by == "booking"
        await sign.request(
            {"type": "interpreter_accept", "request_id": ring.request_id}, expect=Ack
        )
        joined = await booth.wait_for(
            SessionUpdate, lambda u: any(p.kind == "interpreter" for p in u.session.participants)
        )
        assert [p.kind for p in joined.session.participants] == ["booth", "expert", "interpreter"]
        assert offer.site.id == "lib-kitee"
        listed = await w.listed("kela.expert")
        assert listed[0]["state"] == "checked_in" and listed[0]["session_id"] == sid


async def test_an_absent_booked_expert_does_not_keep_the_citizen_waiting(
    store: Store, tmp_path: Path
) -> None:
    async with world(store, tmp_path) as w:
        booked = await w.book()  # kela.expert, who is not signed in
        other = await w.staff("kela.expert2")
        booth = await w.booth()
        queued = await check_in(booth, booked["code"])
        offer = await other.wait_for(Offer, timeout=5)
        assert offer.session_id == queued.session.session_id


async def test_wrong_codes_are_refused_alike_and_throttled(store: Store, tmp_path: Path) -> None:
    async with world(store, tmp_path, wrong_code_limit=3) as w:
        here = await w.book(start=at(5), duration_min=5)
        early = await w.book(start=at(60), duration_min=5)
        elsewhere = await w.book(start=at(120), duration_min=5, site="bus-lieksa")
        cancelled = await w.book(start=at(12), duration_min=5)
        status, _ = await w.api("kela.expert", "DELETE", f"/appointments/{cancelled['id']}")
        assert status == 200
        booth = await w.booth()
        started = time.monotonic()
        for code in (early["code"], elsewhere["code"], cancelled["code"]):
            error = await refused_code(booth, code, ErrorCode.NOT_FOUND)
            assert error.message == "no appointment with this code here now"
        # The fourth try within the window is throttled, even with the right code.
        error = await refused_code(booth, here["code"], ErrorCode.RATE_LIMITED)
        assert error.retry_after_s is not None and error.retry_after_s > 0
        assert time.monotonic() - started < 10
        # Another booth is not throttled by this one.
        other = await w.booth("bus-lieksa")
        await refused_code(other, "00000000", ErrorCode.NOT_FOUND)
        assert [e for e in await w.store.read_events() if e[1]["kind"] == "session_requested"] == []


# --- from home: the guest link ----------------------------------------------------------


async def redeem(w: World, secret: str) -> tuple[int, dict[str, Any]]:
    async with w.http.post(f"{w.base_url}/auth/guest", json={"link": secret}) as response:
        return response.status, await response.json()


async def test_a_guest_link_works_once_and_the_citizen_calls_from_home(
    store: Store, tmp_path: Path
) -> None:
    async with world(store, tmp_path) as w:
        booked = await w.book()
        status, first = await w.api(
            "kela.expert", "POST", f"/appointments/{booked['id']}/guest-link"
        )
        assert status == 200 and first["path"].startswith("/guest/#")
        status, link = await w.api(
            "kela.expert", "POST", f"/appointments/{booked['id']}/guest-link"
        )
        assert status == 200
        secret = link["path"].split("#", 1)[1]
        # A newer link replaces the older one; a stranger cannot make one.
        status, answer = await redeem(w, first["path"].split("#", 1)[1])
        assert (status, answer["error"]["field"]) == (404, "link")
        status, answer = await w.api(
            "vero.expert", "POST", f"/appointments/{booked['id']}/guest-link"
        )
        assert status == 403

        status, answer = await redeem(w, secret)
        assert status == 200, answer
        assert answer["appointment"]["agency"] == "kela" and "code" not in answer["appointment"]
        status, again = await redeem(w, secret)
        assert status == 404  # one time only

        async with w.http.get(f"{w.base_url}/guest/") as page:
            assert page.status == 200 and "text/html" in page.headers["Content-Type"]

        expert = await w.staff("kela.expert")
        guest = SignalingClient(w.base_url.replace("http", "ws", 1) + "/ws", answer["token"])
        w.clients.append(guest)
        welcome = await guest.connect()
        assert welcome.identity.kind == "guest" and welcome.identity.roles == ["guest"]
        queued = await guest.request({"type": "guest_checkin"}, expect=CallQueued)
        sid = queued.session.session_id
        assert queued.session.site == "home"
        assert [p.kind for p in queued.session.participants] == ["guest"]
        offer = await expert.wait_for(Offer, lambda o: o.session_id == sid)
        assert offer.site.kind == "home"
        await expert.request({"type": "offer_accept", "session_id": sid}, expect=Ack)
        # The citizen at home leaving ends the call, as a booth's leaving does.
        await guest.request({"type": "session_leave", "session_id": sid}, expect=Ack)
        ended = await expert.wait_for(SessionEnded, lambda e: e.session_id == sid)
        assert (ended.state, ended.reason) == ("ended", "booth_left")
        # A guest cannot call anything else.
        with pytest.raises(SignalingError) as info:
            await guest.request(
                {"type": "call_request", "agency": "kela", "service": "general", "language": "fi"}
            )
        assert (info.value.error.code, info.value.error.field) == (ErrorCode.FORBIDDEN, "type")
