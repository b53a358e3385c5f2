"""Authorisation by role and session membership, against a real node with real clients.

A booth acts only in its own session; an expert takes calls only from queues of its
agencies (and languages); SDP/ICE is relayed only between members of the same session;
no one reads or injects into a session they are not in. Every refusal is one ``error``
with a stable code and field, echoing the request id, and changes nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from signaling.client import SignalingClient, SignalingError
from signaling.directory import load_directory
from signaling.protocol import (
    Ack,
    CallQueued,
    Error,
    ErrorCode,
    Offer,
    SessionInfo,
    SessionUpdate,
    SignalRelay,
    encode,
)
from signaling.store import MemoryStore, Store

from .support import (
    RunningNode,
    booth_client,
    directory_with,
    eventually,
    running_node,
    staff_client,
)

DIRECTORY = load_directory()
STAFF_SUBJECTS = [f"staff:{account.username}" for account in DIRECTORY.staff]
SITE_SUBJECTS = [f"site:{site.id}" for site in DIRECTORY.sites]
NO_SUCH_SESSION = "s-" + "f" * 32
KELA_CALL = {"type": "call_request", "agency": "kela", "service": "general", "language": "fi"}
_ids = itertools.count(1)


async def snapshot(store: Store, sessions: tuple[str, ...] = ()) -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    return {
        "events": await store.read_events(),
        "states": await store.count_sessions_by_state(),
        "queues": await store.queue_lengths(),
        "experts": {
            s: (r.model_dump() if (r := await store.load_expert(s)) else None)
            for s in STAFF_SUBJECTS
        },
        "available": {a.id: await store.available_experts(a.id) for a in DIRECTORY.agencies},
        "memberships": {s: await store.memberships(s) for s in STAFF_SUBJECTS + SITE_SUBJECTS},
        "sessions": {
            s: (r.model_dump() if (r := await store.load_session(s)) else None) for s in sessions
        },
    }


async def refused(
    store: Store,
    client: SignalingClient,
    message: dict[str, Any],
    code: ErrorCode,
    field: str | None,
    *,
    sessions: tuple[str, ...] = (),
) -> Error:
    """Send a request that must be refused; check the error and that nothing changed."""
    before = await snapshot(store, sessions)
    request_id = f"auth-{next(_ids)}"
    with pytest.raises(SignalingError) as info:
        await client.request({**message, "id": request_id})
    error = info.value.error
    assert (error.code, error.field, error.id) == (code, field, request_id), error
    assert error.message
    assert await snapshot(store, sessions) == before
    return error


async def refused_signal(
    store: Store,
    sender: SignalingClient,
    message: dict[str, Any],
    code: ErrorCode,
    field: str | None,
    *,
    bystanders: tuple[SignalingClient, ...] = (),
    sessions: tuple[str, ...] = (),
) -> Error:
    """Send a signal that must be refused: one error, no relay to anyone, no change."""
    for client in (sender, *bystanders):
        client.drain_buffer()
    before = await snapshot(store, sessions)
    await sender.send(message)
    error = await sender.wait_for(Error, timeout=5)
    assert (error.code, error.field, error.id) == (code, field, None), error
    await asyncio.sleep(0.2)  # give a wrongly relayed message time to arrive
    for client in (sender, *bystanders):
        assert not [m for m in client.drain_buffer() if isinstance(m, SignalRelay | Error)]
    assert await snapshot(store, sessions) == before
    return error


def sdp(session_id: str, to: str, sdp_type: str = "offer") -> dict[str, Any]:
    return {
        "type": "signal",
        "session_id": session_id,
        "to": to,
        "payload": {"kind": "sdp", "sdp_type": sdp_type, "sdp": "v=0\r\n"},
    }


def ice(session_id: str, to: str) -> dict[str, Any]:
    return {
        "type": "signal",
        "session_id": session_id,
        "to": to,
        "payload": {
            "kind": "ice",
            "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host",
            "sdp_mid": "0",
            "sdp_mline_index": 0,
        },
    }


@dataclass
class World:
    node: RunningNode
    store: MemoryStore
    clients: list[SignalingClient]

    async def booth(self, site: str = "lib-kitee") -> SignalingClient:
        client = await booth_client(self.node.base_url, site)
        self.clients.append(client)
        return client

    async def staff(self, username: str) -> SignalingClient:
        client = await staff_client(self.node.base_url, username)
        self.clients.append(client)
        return client


@asynccontextmanager
async def world() -> AsyncIterator[World]:
    store = MemoryStore()
    async with running_node(store) as node:
        w = World(node, store, [])
        try:
            yield w
        finally:
            for client in w.clients:
                await client.close()


async def request_call(booth: SignalingClient, **changes: str) -> SessionInfo:
    queued = await booth.request({**KELA_CALL, **changes}, expect=CallQueued)
    return queued.session


async def connected_call(w: World) -> tuple[SignalingClient, SignalingClient, SessionInfo]:
    """A lib-kitee booth and kela.expert in one connecting session."""
    booth = await w.booth()
    expert = await w.staff("kela.expert")
    await expert.request({"type": "set_availability", "status": "available"}, expect=Ack)
    session = await request_call(booth)
    await expert.wait_for(Offer, lambda o: o.session_id == session.session_id)
    await expert.request({"type": "offer_accept", "session_id": session.session_id}, expect=Ack)
    update = await booth.wait_for(
        SessionUpdate,
        lambda u: u.session.session_id == session.session_id and len(u.session.participants) == 2,
    )
    return booth, expert, update.session


# --- roles ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        {"type": "set_availability", "status": "available"},
        {"type": "offer_accept", "session_id": NO_SUCH_SESSION},
        {"type": "offer_decline", "session_id": NO_SUCH_SESSION},
        {"type": "session_end", "session_id": NO_SUCH_SESSION, "outcome": "resolved"},
        {
            "type": "transfer",
            "session_id": NO_SUCH_SESSION,
            "agency": "vero",
            "service": "tax-card",
            "language": "fi",
        },
    ],
    ids=lambda m: m["type"],
)
async def test_booth_cannot_send_expert_messages(message: dict[str, Any]) -> None:
    async with world() as w:
        booth = await w.booth()
        await refused(w.store, booth, message, ErrorCode.FORBIDDEN, "type")


async def test_booth_cannot_send_expert_messages_about_its_own_session() -> None:
    async with world() as w:
        booth = await w.booth()
        session = await request_call(booth)
        sid = session.session_id
        for message in (
            {"type": "offer_accept", "session_id": sid},
            {"type": "offer_decline", "session_id": sid},
            {"type": "session_end", "session_id": sid, "outcome": "resolved"},
            {
                "type": "transfer",
                "session_id": sid,
                "agency": "vero",
                "service": "tax-card",
                "language": "fi",
            },
        ):
            await refused(w.store, booth, message, ErrorCode.FORBIDDEN, "type", sessions=(sid,))


@pytest.mark.parametrize("username", ["kela.expert", "tulkki.ar", "supervisor", "admin"])
async def test_staff_cannot_request_or_cancel_calls(username: str) -> None:
    async with world() as w:
        staff = await w.staff(username)
        await refused(w.store, staff, KELA_CALL, ErrorCode.FORBIDDEN, "type")
        await refused(
            w.store,
            staff,
            {"type": "call_cancel", "session_id": NO_SUCH_SESSION},
            ErrorCode.FORBIDDEN,
            "type",
        )


@pytest.mark.parametrize("username", ["tulkki.ar", "supervisor", "admin"])
async def test_non_experts_cannot_take_calls(username: str) -> None:
    async with world() as w:
        booth = await w.booth()
        expert = await w.staff("kela.expert")
        other = await w.staff(username)
        await expert.request({"type": "set_availability", "status": "available"})
        session = await request_call(booth)
        sid = session.session_id
        await expert.wait_for(Offer, lambda o: o.session_id == sid)
        # An interpreter may go available, but for interpreter requests, not calls.
        availability = (
            [] if username == "tulkki.ar" else [{"type": "set_availability", "status": "available"}]
        )
        for message in (
            *availability,
            {"type": "offer_accept", "session_id": sid},
            {"type": "offer_decline", "session_id": sid},
            {"type": "session_end", "session_id": sid, "outcome": "resolved"},
        ):
            await refused(w.store, other, message, ErrorCode.FORBIDDEN, "type", sessions=(sid,))
        assert not [m for m in other.drain_buffer() if isinstance(m, Offer)]
        # The call is still kela.expert's to take.
        await expert.request({"type": "offer_accept", "session_id": sid}, expect=Ack)


# --- experts take only calls of their agencies ------------------------------------------


async def test_vero_expert_is_never_offered_a_kela_call() -> None:
    async with world() as w:
        booth = await w.booth()
        vero = await w.staff("vero.expert")
        migri = await w.staff("migri.expert")
        for expert in (vero, migri):
            await expert.request({"type": "set_availability", "status": "available"}, expect=Ack)
        session = await request_call(booth)
        sid = session.session_id
        # The kela call waits although two experts of other agencies are free.
        for expert in (vero, migri):
            with pytest.raises(TimeoutError):
                await expert.wait_for(Offer, timeout=1.0)
        record = await w.store.load_session(sid)
        assert record is not None and record.state == "queued"
        assert await w.store.queue_lengths() == {"kela/general/fi": 1}
        # Neither can take it or push it on.
        for expert in (vero, migri):
            for kind in ("offer_accept", "offer_decline"):
                await refused(
                    w.store,
                    expert,
                    {"type": kind, "session_id": sid},
                    ErrorCode.CONFLICT,
                    "session_id",
                    sessions=(sid,),
                )
        # A kela expert gets it as soon as they are free.
        kela = await w.staff("kela.expert")
        await kela.request({"type": "set_availability", "status": "available"}, expect=Ack)
        offer = await kela.wait_for(Offer, lambda o: o.session_id == sid)
        assert offer.agency == "kela"
        # Offered to kela.expert: the others still cannot accept it.
        for expert in (vero, migri):
            await refused(
                w.store,
                expert,
                {"type": "offer_accept", "session_id": sid},
                ErrorCode.CONFLICT,
                "session_id",
                sessions=(sid,),
            )
            assert not [m for m in expert.drain_buffer() if isinstance(m, Offer)]
        await kela.request({"type": "offer_accept", "session_id": sid}, expect=Ack)


async def test_expert_is_not_offered_a_call_in_a_language_it_does_not_serve() -> None:
    async with world() as w:
        booth = await w.booth()
        kela = await w.staff("kela.expert")  # serves fi and sv, not en
        await kela.request({"type": "set_availability", "status": "available"}, expect=Ack)
        session = await request_call(booth, language="en")
        with pytest.raises(TimeoutError):
            await kela.wait_for(Offer, timeout=1.0)
        await refused(
            w.store,
            kela,
            {"type": "offer_accept", "session_id": session.session_id},
            ErrorCode.CONFLICT,
            "session_id",
            sessions=(session.session_id,),
        )


async def test_expert_not_offered_a_session_cannot_accept_it() -> None:
    async with world() as w:
        booth = await w.booth()
        kela = await w.staff("kela.expert")
        session = await request_call(booth)
        sid = session.session_id
        # Queued, offered to no one: even an expert of the right agency cannot grab it.
        await refused(
            w.store,
            kela,
            {"type": "offer_accept", "session_id": sid},
            ErrorCode.CONFLICT,
            "session_id",
            sessions=(sid,),
        )
        # A session that does not exist at all.
        await refused(
            w.store,
            kela,
            {"type": "offer_accept", "session_id": NO_SUCH_SESSION},
            ErrorCode.NOT_FOUND,
            "session_id",
        )


async def test_expert_outside_a_session_cannot_end_leave_or_transfer_it() -> None:
    async with world() as w:
        _, _, session = await connected_call(w)
        sid = session.session_id
        vero = await w.staff("vero.expert")
        for message in (
            {"type": "session_end", "session_id": sid, "outcome": "resolved"},
            {"type": "session_leave", "session_id": sid},
            {
                "type": "transfer",
                "session_id": sid,
                "agency": "vero",
                "service": "tax-card",
                "language": "fi",
            },
        ):
            await refused(
                w.store, vero, message, ErrorCode.FORBIDDEN, "session_id", sessions=(sid,)
            )


# --- booths act only in their own session -----------------------------------------------


async def test_other_booth_cannot_cancel_leave_or_signal_into_a_waiting_session() -> None:
    async with world() as w:
        booth = await w.booth()
        session = await request_call(booth)
        sid = session.session_id
        assert session.self_id is not None
        other = await w.booth("bus-lieksa")
        assert other.welcome is not None and other.welcome.sessions == []
        for message in (
            {"type": "call_cancel", "session_id": sid},
            {"type": "session_leave", "session_id": sid},
        ):
            await refused(
                w.store, other, message, ErrorCode.FORBIDDEN, "session_id", sessions=(sid,)
            )
        await refused_signal(
            w.store,
            other,
            sdp(sid, session.self_id),
            ErrorCode.FORBIDDEN,
            "session_id",
            bystanders=(booth,),
            sessions=(sid,),
        )
        # The owner can still withdraw it.
        await booth.request({"type": "call_cancel", "session_id": sid}, expect=Ack)


async def test_other_booth_cannot_signal_into_a_call_or_read_it() -> None:
    async with world() as w:
        booth, expert, session = await connected_call(w)
        sid = session.session_id
        expert_id = next(p.id for p in session.participants if p.kind == "expert")
        other = await w.booth("bus-lieksa")
        for message in (sdp(sid, expert_id), ice(sid, expert_id), sdp(sid, session.self_id or "")):
            await refused_signal(
                w.store,
                other,
                message,
                ErrorCode.FORBIDDEN,
                "session_id",
                bystanders=(booth, expert),
                sessions=(sid,),
            )
        for message in (
            {"type": "call_cancel", "session_id": sid},
            {"type": "session_leave", "session_id": sid},
        ):
            await refused(
                w.store, other, message, ErrorCode.FORBIDDEN, "session_id", sessions=(sid,)
            )
        # Reconnecting tells the other booth nothing about the call.
        await other.close()
        again = await w.booth("bus-lieksa")
        assert again.welcome is not None and again.welcome.sessions == []
        assert not [
            m
            for m in again.drain_buffer()
            if getattr(m, "session_id", None) == sid
            or (isinstance(m, SessionUpdate) and m.session.session_id == sid)
        ]


async def test_signal_to_a_non_member_is_not_found() -> None:
    async with world() as w:
        booth, expert, session = await connected_call(w)
        sid = session.session_id
        assert session.self_id is not None
        other = await w.booth("bus-lieksa")
        # Participant ids of no one, and of a booth that is in no session with us.
        for to in ("p-000000000000", "site:bus-lieksa", "staff:vero.expert", "kela.expert"):
            await refused_signal(
                w.store,
                booth,
                sdp(sid, to),
                ErrorCode.NOT_FOUND,
                "to",
                bystanders=(expert, other),
                sessions=(sid,),
            )
        # Nor to oneself.
        await refused_signal(
            w.store,
            booth,
            sdp(sid, session.self_id),
            ErrorCode.INVALID_FIELD,
            "to",
            bystanders=(expert,),
            sessions=(sid,),
        )


async def test_booth_cannot_request_a_second_call_while_one_waits() -> None:
    async with world() as w:
        booth = await w.booth()
        session = await request_call(booth)
        for message in (
            KELA_CALL,
            {**KELA_CALL, "agency": "vero", "service": "tax-card"},
        ):
            error = await refused(
                w.store, booth, message, ErrorCode.CONFLICT, None, sessions=(session.session_id,)
            )
            assert session.session_id in error.message
        assert await w.store.count_sessions_by_state() == {"queued": 1}
        # Another site is not held up by it.
        other = await w.booth("bus-lieksa")
        await request_call(other)
        assert await w.store.count_sessions_by_state() == {"queued": 2}


# --- where a call can go ----------------------------------------------------------------


async def test_closed_agency_is_closed_with_no_next_opening() -> None:
    async with world() as w:
        booth = await w.booth()
        error = await refused(
            w.store,
            booth,
            {
                "type": "call_request",
                "agency": "ulosotto",
                "service": "enforcement",
                "language": "fi",
            },
            ErrorCode.CLOSED,
            "agency",
        )
        # Ulosotto has no opening hours at all: there is no next opening to tell.
        assert error.next_opening is None
        assert "next_opening" not in json.loads(encode(error))
        assert await w.store.count_sessions_by_state() == {}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"agency": "nosuch"}, "agency"),
        ({"service": "nosuch"}, "service"),
        ({"service": "tax-card"}, "service"),  # a vero service asked of kela
        ({"language": "de"}, "language"),
        ({"agency": "vero", "service": "inheritance", "language": "en"}, "language"),
    ],
    ids=["agency", "service", "other-agencys-service", "language", "service-narrows-language"],
)
async def test_unknown_queue_target_is_not_found(changes: dict[str, str], field: str) -> None:
    async with world() as w:
        booth = await w.booth()
        await refused(w.store, booth, {**KELA_CALL, **changes}, ErrorCode.NOT_FOUND, field)
        assert await w.store.count_sessions_by_state() == {}


async def test_transfer_to_unknown_or_closed_queue_is_refused_and_the_call_stays() -> None:
    async with world() as w:
        _, expert, session = await connected_call(w)
        sid = session.session_id
        base = {"type": "transfer", "session_id": sid, "service": "general", "language": "fi"}
        for changes, code, field in (
            ({"agency": "nosuch"}, ErrorCode.NOT_FOUND, "agency"),
            ({"agency": "kela", "service": "nosuch"}, ErrorCode.NOT_FOUND, "service"),
            (
                {"agency": "ulosotto", "service": "enforcement"},
                ErrorCode.CLOSED,
                "agency",
            ),
        ):
            await refused(w.store, expert, {**base, **changes}, code, field, sessions=(sid,))
        record = await w.store.load_session(sid)
        assert record is not None and record.state == "connecting"


# --- relaying between members -----------------------------------------------------------


async def test_relayed_signal_carries_the_participant_id_never_a_name() -> None:
    async with world() as w:
        booth, expert, session = await connected_call(w)
        sid = session.session_id
        booth_id = session.self_id
        expert_id = next(p.id for p in session.participants if p.kind == "expert")
        assert booth_id and expert_id and booth_id != expert_id
        for participant_id in (booth_id, expert_id):
            assert participant_id.startswith("p-")

        await booth.send(sdp(sid, expert_id, "offer"))
        relay = await expert.wait_for(SignalRelay, lambda r: r.session_id == sid)
        assert relay.from_ == booth_id
        assert relay.payload.kind == "sdp"
        wire = json.loads(encode(relay))
        assert set(wire) == {"type", "session_id", "from", "payload"}
        assert wire["from"] == booth_id
        for name in ("lib-kitee", "site:", "kela.expert", "staff:"):
            assert name not in encode(relay)

        await expert.send(ice(sid, booth_id))
        relay = await booth.wait_for(SignalRelay, lambda r: r.session_id == sid)
        assert relay.from_ == expert_id
        assert relay.payload.kind == "ice"
        for name in ("kela.expert", "staff:", "site:"):
            assert name not in encode(relay)

        # The answer makes the call active; only the two members heard any of it.
        await expert.send(sdp(sid, booth_id, "answer"))
        await booth.wait_for(SignalRelay, lambda r: r.payload.kind == "sdp")

        async def active() -> bool:
            record = await w.store.load_session(sid)
            return record is not None and record.state == "active"

        await eventually(active, timeout=5, message="session active")


async def test_members_of_one_call_cannot_reach_into_another_call() -> None:
    async with world() as w:
        kitee, kela, kitee_session = await connected_call(w)
        lieksa = await w.booth("bus-lieksa")
        vero = await w.staff("vero.expert")
        await vero.request({"type": "set_availability", "status": "available"}, expect=Ack)
        lieksa_session = await request_call(
            lieksa, agency="vero", service="tax-card", language="fi"
        )
        lid = lieksa_session.session_id
        await vero.wait_for(Offer, lambda o: o.session_id == lid)
        await vero.request({"type": "offer_accept", "session_id": lid}, expect=Ack)
        update = await lieksa.wait_for(
            SessionUpdate,
            lambda u: u.session.session_id == lid and len(u.session.participants) == 2,
        )
        lieksa_booth = update.session.self_id
        vero_id = next(p.id for p in update.session.participants if p.kind == "expert")
        assert lieksa_booth and vero_id
        kid = kitee_session.session_id
        everyone = (kitee, kela, lieksa, vero)
        both = (kid, lid)
        # A real participant of the other call, addressed through one's own session.
        for sender in (kitee, kela):
            for to in (lieksa_booth, vero_id):
                await refused_signal(
                    w.store,
                    sender,
                    ice(kid, to),
                    ErrorCode.NOT_FOUND,
                    "to",
                    bystanders=everyone,
                    sessions=both,
                )
        # The other call's own session id: not a member there.
        for sender in (kitee, kela):
            await refused_signal(
                w.store,
                sender,
                sdp(lid, lieksa_booth),
                ErrorCode.FORBIDDEN,
                "session_id",
                bystanders=everyone,
                sessions=both,
            )
        for message in (
            {"type": "session_end", "session_id": lid, "outcome": "resolved"},
            {"type": "session_leave", "session_id": lid},
        ):
            await refused(w.store, kela, message, ErrorCode.FORBIDDEN, "session_id", sessions=both)
        await refused(
            w.store,
            kitee,
            {"type": "call_cancel", "session_id": lid},
            ErrorCode.FORBIDDEN,
            "session_id",
            sessions=both,
        )


async def test_password_guessing_is_throttled_per_username() -> None:
    directory = directory_with(auth={"login_max_failures": 3, "login_failure_window_s": 1.5})
    async with running_node(MemoryStore(), directory) as node, aiohttp.ClientSession() as http:
        url = node.base_url + "/auth/login"

        async def login(username: str, password: str) -> aiohttp.ClientResponse:
            async with http.post(url, json={"username": username, "password": password}) as r:
                await r.read()
                return r

        for _ in range(3):
            assert (await login("kela.expert", "guess")).status == 401
        # Even the right password waits now: the guesser cannot tell it was right.
        async with http.post(url, json={"username": "kela.expert", "password": "demo"}) as r:
            assert r.status == 429
            error = (await r.json())["error"]
            assert (error["code"], error["field"]) == ("rate_limited", "username")
            assert 0 < error["retry_after_s"] <= 1.5
            assert r.headers["Retry-After"] in ("1", "2")
        # Another account from the same address is not locked out by it.
        assert (await login("vero.expert", "demo")).status == 200
        await asyncio.sleep(1.6)
        assert (await login("kela.expert", "demo")).status == 200
        # A success starts the count over.
        for _ in range(2):
            assert (await login("kela.expert", "guess")).status == 401
        assert (await login("kela.expert", "demo")).status == 200


async def test_one_address_guessing_many_usernames_is_throttled() -> None:
    directory = directory_with(auth={"login_max_failures": 1, "login_failure_window_s": 60})
    async with running_node(MemoryStore(), directory) as node, aiohttp.ClientSession() as http:
        url = node.base_url + "/auth/login"
        for n in range(10):  # ten times the per-username limit, from one address
            body = {"username": f"guess{n}", "password": "x"}
            async with http.post(url, json=body) as r:
                assert r.status == 401
        async with http.post(url, json={"username": "vero.expert", "password": "demo"}) as r:
            assert r.status == 429
            error = (await r.json())["error"]
            assert error["code"] == "rate_limited" and "field" not in error
