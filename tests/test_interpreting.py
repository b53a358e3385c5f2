"""Interpreters on demand, through a real node: ring, accept, race, decline, time out,
nobody answers, captions, leave (docs/protocol.md §5.3). Python clients, both stores."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from interpreter_bridge.records import INTERPRETER, InterpreterRecord
from signaling.client import SignalingClient, SignalingError
from signaling.directory import DEMO_CONFIG, load_directory
from signaling.protocol import (
    Ack,
    Availability,
    CallQueued,
    CaptionRelay,
    DoccamShareRequested,
    Error,
    ErrorCode,
    InterpreterOffer,
    InterpreterOfferWithdrawn,
    Offer,
    ParticipantEvent,
    SessionEnded,
    SessionInfo,
    SessionUpdate,
)
from signaling.store import Store

from .support import booth_client, running_node, staff_client

KELA_CALL = {"type": "call_request", "agency": "kela", "service": "general", "language": "fi"}
ARABIC = {"language": "ar", "modality": "spoken"}
# A second Arabic interpreter of another provider, not on Kela's preferred list (the same
# demo password hash as tulkki.ar: "demo").
SECOND_ARABIC = """
[[staff]]
username = "tulkki.ar2"
display_name = "Toinen arabian tulkki"
password_hash = '$argon2id$v=19$m=65536,t=3,p=4$W4D+/6MZYkh8ftmzTxtx1w$rfmaf9/uSNCdGaemkmY1+X7xSk3tTgXFWx0b/uGdAo0'
[staff.interpreter]
languages = ["ar", "fi"]
modalities = ["spoken"]
provider = "demo-tulkkaus"
"""  # noqa: E501 (the argon2 hash)


def directory_with(tmp_path: Path, extra: str = "", **settings: float) -> Path:
    """Write the demo directory with other [interpreting] and [appointments] settings and
    extra TOML appended."""
    lines = []
    section = ""
    for line in DEMO_CONFIG.read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[] ")
        key = line.split("=", 1)[0].strip()
        if section in ("interpreting", "appointments") and key in settings:
            line = f"{key} = {settings.pop(key)}"
        lines.append(line)
    assert not settings, f"no such settings: {settings}"
    path = tmp_path / "directory.toml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


@dataclass
class World:
    base_url: str
    store: Store
    clients: list[SignalingClient] = field(default_factory=list)

    async def booth(self, site: str = "lib-kitee") -> SignalingClient:
        client = await booth_client(self.base_url, site)
        self.clients.append(client)
        return client

    async def staff(self, username: str) -> SignalingClient:
        client = await staff_client(self.base_url, username)
        self.clients.append(client)
        return client

    async def interpreter(self, username: str) -> SignalingClient:
        client = await self.staff(username)
        await client.request({"type": "set_availability", "status": "available"}, expect=Ack)
        await client.wait_for(Availability, lambda a: a.status == "available")
        return client

    async def call(
        self, interpreter: dict[str, str] | None = None
    ) -> tuple[SignalingClient, SignalingClient, str]:
        """A lib-kitee booth and kela.expert in one call; return them and the session id."""
        booth = await self.booth()
        expert = await self.staff("kela.expert")
        await expert.request({"type": "set_availability", "status": "available"}, expect=Ack)
        request = {**KELA_CALL, **({"interpreter": interpreter} if interpreter else {})}
        queued = await booth.request(request, expect=CallQueued)
        sid = queued.session.session_id
        await expert.wait_for(Offer, lambda o: o.session_id == sid)
        await expert.request({"type": "offer_accept", "session_id": sid}, expect=Ack)
        return booth, expert, sid

    async def events(self) -> list[dict[str, Any]]:
        return [event for _, event in await self.store.read_events(count=10_000)]


@asynccontextmanager
async def world(
    store: Store, tmp_path: Path, extra: str = "", **timers: float
) -> AsyncIterator[World]:
    directory = load_directory(directory_with(tmp_path, extra, **timers))
    async with running_node(store, directory) as node:
        w = World(node.base_url, store)
        try:
            yield w
        finally:
            for client in w.clients:
                await client.close()


def request_of(update: SessionUpdate) -> Any:
    return update.session.interpreter_request


async def ask(client: SignalingClient, sid: str, need: dict[str, str] = ARABIC) -> None:
    await client.request({"type": "interpreter_request", "session_id": sid, **need}, expect=Ack)


async def refused(
    client: SignalingClient, message: dict[str, Any], code: ErrorCode, where: str | None
) -> None:
    with pytest.raises(SignalingError) as info:
        await client.request(message)
    assert info.value.error.code == code, info.value.error
    assert info.value.error.field == where


def interpreters_in(session: SessionInfo) -> list[Any]:
    return [p for p in session.participants if p.kind == "interpreter"]


# --- the whole on-demand flow -------------------------------------------------------------


async def test_expert_asks_for_arabic_and_the_interpreter_joins(
    store: Store, tmp_path: Path
) -> None:
    async with world(store, tmp_path) as w:
        interp = await w.interpreter("tulkki.ar")
        booth, expert, sid = await w.call()
        await ask(expert, sid)

        ringing = await booth.wait_for(SessionUpdate, lambda u: request_of(u) is not None)
        shown = request_of(ringing)
        assert (shown.language, shown.modality, shown.state, shown.by) == (
            "ar",
            "spoken",
            "ringing",
            "expert",
        )
        offer = await interp.wait_for(InterpreterOffer)
        assert offer.session_id == sid and offer.request_id == shown.request_id
        assert (offer.language, offer.modality, offer.session_language) == ("ar", "spoken", "fi")
        assert (offer.agency, offer.service, offer.urgency) == ("kela", "general", "on_demand")
        assert offer.site.id == "lib-kitee" and offer.site.kind == "S"
        assert 29 <= offer.ring_timeout_s <= 30

        await interp.request(
            {"type": "interpreter_accept", "request_id": offer.request_id}, expect=Ack
        )
        for member in (booth, expert):
            joined = await member.wait_for(
                ParticipantEvent, lambda e: e.participant.kind == "interpreter"
            )
            assert joined.event == "joined"
            assert joined.participant.interpreting is not None
            assert joined.participant.interpreting.modality == "spoken"
            update = await member.wait_for(
                SessionUpdate, lambda u: bool(interpreters_in(u.session))
            )
            assert update.session.interpreter_request is None
        mine = await interp.wait_for(SessionUpdate, lambda u: u.session.session_id == sid)
        assert [p.kind for p in mine.session.participants] == ["booth", "expert", "interpreter"]
        assert mine.session.self_id == interpreters_in(mine.session)[0].id
        await interp.wait_for(Availability, lambda a: a.status == "busy")

        events = await w.events()
        kinds = [e["kind"] for e in events]
        assert "interpreter_requested" in kinds
        joined_event = next(
            e
            for e in events
            if e["kind"] == "participant_joined" and e["participant_kind"] == "interpreter"
        )
        assert joined_event["interpreting"] == ARABIC
        assert 0 <= joined_event["interpreter_wait_s"] < 10
        assert "tulkki" not in json.dumps(events)  # no names in the statistics


async def test_the_booth_need_is_asked_for_when_the_expert_answers(
    store: Store, tmp_path: Path
) -> None:
    async with world(store, tmp_path) as w:
        interp = await w.interpreter("tulkki.ar")
        booth, _expert, sid = await w.call(interpreter=ARABIC)
        offer = await interp.wait_for(InterpreterOffer)
        assert offer.session_id == sid
        update = await booth.wait_for(SessionUpdate, lambda u: request_of(u) is not None)
        assert request_of(update).by == "booth"


async def test_a_booth_need_nobody_serves_is_shown_unavailable_at_once(
    store: Store, tmp_path: Path
) -> None:
    async with world(store, tmp_path) as w:
        interp = await w.interpreter("tulkki.ar")
        somali = {"language": "so", "modality": "spoken"}  # under no contract of Kela's
        booth, expert, sid = await w.call(interpreter=somali)
        for member in (booth, expert):
            update = await member.wait_for(SessionUpdate, lambda u: request_of(u) is not None)
            shown = request_of(update)
            assert (shown.language, shown.state, shown.by) == ("so", "unavailable", "booth")
        events = await w.events()
        unavailable = [e for e in events if e["kind"] == "interpreter_unavailable"]
        assert [e["interpreting"] for e in unavailable] == [somali]
        assert "interpreter_requested" not in [e["kind"] for e in events]
        assert not [m for m in interp.drain_buffer() if isinstance(m, InterpreterOffer)]
        # The expert agrees on Arabic with the citizen: the new request replaces it.
        await ask(expert, sid)
        offer = await interp.wait_for(InterpreterOffer)
        ringing = await booth.wait_for(
            SessionUpdate, lambda u: request_of(u) is not None and request_of(u).state == "ringing"
        )
        assert request_of(ringing).request_id == offer.request_id != shown.request_id
        await expert.request({"type": "interpreter_cancel", "session_id": sid}, expect=Ack)
        await booth.wait_for(SessionUpdate, lambda u: request_of(u) is None)


async def test_an_unavailable_need_can_be_cleared(store: Store, tmp_path: Path) -> None:
    async with world(store, tmp_path) as w:
        booth, expert, sid = await w.call(interpreter={"language": "so", "modality": "spoken"})
        await booth.wait_for(SessionUpdate, lambda u: request_of(u) is not None)
        await expert.request({"type": "interpreter_cancel", "session_id": sid}, expect=Ack)
        await booth.wait_for(SessionUpdate, lambda u: request_of(u) is None)
        assert "interpreter_cancelled" in [e["kind"] for e in await w.events()]


# --- who is rung ----------------------------------------------------------------------------


async def test_the_preferred_list_rings_first_then_everyone(store: Store, tmp_path: Path) -> None:
    async with world(store, tmp_path, SECOND_ARABIC, widen_after_s=1.5) as w:
        preferred = await w.interpreter("tulkki.ar")
        other = await w.interpreter("tulkki.ar2")
        booth, expert, sid = await w.call()
        loop = asyncio.get_running_loop()
        asked = loop.time()
        await ask(expert, sid)
        await preferred.wait_for(InterpreterOffer)
        assert not [m for m in other.drain_buffer() if isinstance(m, InterpreterOffer)]
        await other.wait_for(InterpreterOffer, timeout=5)
        assert loop.time() - asked >= 1.4  # not before widen_after_s
        widened = await booth.wait_for(
            SessionUpdate, lambda u: request_of(u) is not None and request_of(u).widened
        )
        assert request_of(widened).rung == 2


async def test_everyone_rings_at_once_when_no_preferred_interpreter_is_free(
    store: Store, tmp_path: Path
) -> None:
    async with world(store, tmp_path, SECOND_ARABIC, widen_after_s=60) as w:
        other = await w.interpreter("tulkki.ar2")  # tulkki.ar (preferred) is not on duty
        _booth, expert, sid = await w.call()
        await ask(expert, sid)
        offer = await other.wait_for(InterpreterOffer, timeout=3)
        assert offer.session_id == sid


async def test_only_interpreters_of_the_language_and_modality_are_rung(
    store: Store, tmp_path: Path
) -> None:
    async with world(store, tmp_path) as w:
        arabic = await w.interpreter("tulkki.ar")
        sign = await w.interpreter("tulkki.fse")
        text = await w.interpreter("tulkki.text")
        _booth, expert, sid = await w.call()
        await ask(expert, sid, {"language": "fse", "modality": "sign"})
        offer = await sign.wait_for(InterpreterOffer)
        assert offer.modality == "sign"
        await asyncio.sleep(0.5)  # the others would have been rung in the same breath
        for client in (arabic, text):
            assert not [m for m in client.drain_buffer() if isinstance(m, InterpreterOffer)]


async def test_an_interpreter_going_available_is_rung_at_once(store: Store, tmp_path: Path) -> None:
    async with world(store, tmp_path) as w:
        booth, expert, sid = await w.call()
        await ask(expert, sid)
        update = await booth.wait_for(SessionUpdate, lambda u: request_of(u) is not None)
        assert request_of(update).rung == 0
        interp = await w.interpreter("tulkki.ar")
        offer = await interp.wait_for(InterpreterOffer, timeout=3)
        assert offer.session_id == sid


# --- exactly one joins --------------------------------------------------------------------


async def test_two_interpreters_accepting_at_once_exactly_one_joins(
    store: Store, tmp_path: Path
) -> None:
    async with world(store, tmp_path, SECOND_ARABIC, widen_after_s=0) as w:
        first = await w.interpreter("tulkki.ar")
        second = await w.interpreter("tulkki.ar2")
        booth, expert, sid = await w.call()
        await ask(expert, sid)
        offers = [await c.wait_for(InterpreterOffer) for c in (first, second)]
        assert offers[0].request_id == offers[1].request_id
        accept = {"type": "interpreter_accept", "request_id": offers[0].request_id}
        results = await asyncio.gather(
            first.request(accept), second.request(accept), return_exceptions=True
        )
        winners = [r for r in results if isinstance(r, Ack)]
        losers = [r for r in results if isinstance(r, SignalingError)]
        assert len(winners) == 1 and len(losers) == 1, results
        assert losers[0].error.code == ErrorCode.CONFLICT
        assert losers[0].error.field == "request_id"
        loser = (first, second)[results.index(losers[0])]
        withdrawn = await loser.wait_for(InterpreterOfferWithdrawn)
        assert withdrawn.reason == "taken"
        # The loser is still available (whether or not it was claimed for a moment).
        loser_name = ("tulkki.ar", "tulkki.ar2")[results.index(losers[0])]
        record = await w.store.load_record(INTERPRETER, f"staff:{loser_name}", InterpreterRecord)
        assert record is not None and record.state == "available"
        update = await booth.wait_for(SessionUpdate, lambda u: bool(interpreters_in(u.session)))
        assert len(interpreters_in(update.session)) == 1


# --- decline, ring out, nobody answers, cancel --------------------------------------------


async def test_a_decline_is_not_rung_again_until_try_again(store: Store, tmp_path: Path) -> None:
    async with world(store, tmp_path) as w:
        interp = await w.interpreter("tulkki.ar")
        _booth, expert, sid = await w.call()
        await ask(expert, sid)
        offer = await interp.wait_for(InterpreterOffer)
        await interp.request(
            {"type": "interpreter_decline", "request_id": offer.request_id}, expect=Ack
        )
        assert (await interp.wait_for(InterpreterOfferWithdrawn)).reason == "declined"
        await asyncio.sleep(1.5)  # a tick or more
        assert not [m for m in interp.drain_buffer() if isinstance(m, InterpreterOffer)]
        await refused(
            interp,
            {"type": "interpreter_accept", "request_id": offer.request_id},
            ErrorCode.CONFLICT,
            "request_id",
        )
        await ask(expert, sid)  # try again: a new request rings everyone again
        again = await interp.wait_for(InterpreterOffer)
        assert again.request_id != offer.request_id


async def test_a_ring_runs_out_and_missed_rings_pause_the_interpreter(
    store: Store, tmp_path: Path
) -> None:
    async with world(store, tmp_path, ring_timeout_s=1, pause_after_missed_rings=1) as w:
        interp = await w.interpreter("tulkki.ar")
        _booth, expert, sid = await w.call()
        await ask(expert, sid)
        offer = await interp.wait_for(InterpreterOffer)
        withdrawn = await interp.wait_for(InterpreterOfferWithdrawn, timeout=5)
        assert (withdrawn.request_id, withdrawn.reason) == (offer.request_id, "timeout")
        paused = await interp.wait_for(
            Availability, lambda a: a.status == "paused" and a.reason is not None, timeout=5
        )
        assert paused.reason == "missed_offers"


async def test_nobody_answers_the_call_is_told_and_the_request_stays_open(
    store: Store, tmp_path: Path
) -> None:
    async with world(store, tmp_path, answer_limit_s=1) as w:
        booth, expert, sid = await w.call()
        await ask(expert, sid)
        for member in (booth, expert):
            told = await member.wait_for(
                SessionUpdate,
                lambda u: request_of(u) is not None and request_of(u).state == "unanswered",
                timeout=5,
            )
            assert request_of(told).limit_s == 1
            assert request_of(told).waited_s >= 1
        assert "interpreter_unanswered" in [e["kind"] for e in await w.events()]
        # Keep waiting: someone who comes on duty now is still rung.
        interp = await w.interpreter("tulkki.ar")
        offer = await interp.wait_for(InterpreterOffer, timeout=3)
        assert offer.session_id == sid


async def test_the_booth_may_try_again_and_cancel(store: Store, tmp_path: Path) -> None:
    async with world(store, tmp_path) as w:
        interp = await w.interpreter("tulkki.ar")
        booth, expert, sid = await w.call()
        await ask(booth, sid)
        first = await interp.wait_for(InterpreterOffer)
        await ask(booth, sid)  # try again replaces the open request
        assert (await interp.wait_for(InterpreterOfferWithdrawn)).reason == "cancelled"
        second = await interp.wait_for(InterpreterOffer)
        assert second.request_id != first.request_id
        await booth.request({"type": "interpreter_cancel", "session_id": sid}, expect=Ack)
        withdrawn = await interp.wait_for(InterpreterOfferWithdrawn)
        assert (withdrawn.request_id, withdrawn.reason) == (second.request_id, "cancelled")
        await expert.wait_for(
            SessionUpdate, lambda u: u.session.session_id == sid and request_of(u) is None
        )
        await refused(
            booth,
            {"type": "interpreter_cancel", "session_id": sid},
            ErrorCode.CONFLICT,
            "session_id",
        )


async def test_the_call_ending_withdraws_the_rings(store: Store, tmp_path: Path) -> None:
    async with world(store, tmp_path) as w:
        interp = await w.interpreter("tulkki.ar")
        _booth, expert, sid = await w.call()
        await ask(expert, sid)
        await interp.wait_for(InterpreterOffer)
        await expert.request(
            {"type": "session_end", "session_id": sid, "outcome": "resolved"}, expect=Ack
        )
        assert (await interp.wait_for(InterpreterOfferWithdrawn)).reason == "cancelled"


async def test_the_expert_leaving_withdraws_the_request(store: Store, tmp_path: Path) -> None:
    async with world(store, tmp_path) as w:
        interp = await w.interpreter("tulkki.ar")
        booth, expert, sid = await w.call()
        await ask(expert, sid)
        await interp.wait_for(InterpreterOffer)
        await expert.request({"type": "session_leave", "session_id": sid}, expect=Ack)
        assert (await interp.wait_for(InterpreterOfferWithdrawn)).reason == "cancelled"
        queued = await booth.wait_for(SessionUpdate, lambda u: u.session.state == "queued")
        assert request_of(queued) is None


# --- in the call --------------------------------------------------------------------------


async def join(
    w: World, username: str, expert: SignalingClient, sid: str, need: dict[str, str]
) -> SignalingClient:
    """Ask for an interpreter and let ``username`` accept; return its client."""
    interp = await w.interpreter(username)
    await ask(expert, sid, need)
    offer = await interp.wait_for(InterpreterOffer)
    await interp.request({"type": "interpreter_accept", "request_id": offer.request_id}, expect=Ack)
    await interp.wait_for(SessionUpdate, lambda u: u.session.session_id == sid)
    return interp


async def test_captions_reach_the_others_and_are_kept_nowhere(store: Store, tmp_path: Path) -> None:
    async with world(store, tmp_path) as w:
        booth, expert, sid = await w.call()
        text = await join(w, "tulkki.text", expert, sid, {"language": "fi", "modality": "text"})
        secret = "Hakemus on vireillä <b>"
        await text.send({"type": "caption", "session_id": sid, "text": secret, "final": True})
        for member in (booth, expert):
            caption = await member.wait_for(CaptionRelay)
            assert (caption.text, caption.final) == (secret, True)
        assert secret not in json.dumps(await w.events())
        assert secret not in json.dumps(await store.read_events(log="audit"))
        # Only an interpreter sends captions; a refusal has no id (captions have none).
        await expert.send({"type": "caption", "session_id": sid, "text": "x", "final": False})
        error = await expert.wait_for(Error)
        assert (error.code, error.field, error.id) == (ErrorCode.FORBIDDEN, "type", None)
        assert not [m for m in booth.drain_buffer() if isinstance(m, CaptionRelay)]


async def test_an_interpreter_asks_to_see_the_document_camera(store: Store, tmp_path: Path) -> None:
    async with world(store, tmp_path) as w:
        _booth, expert, sid = await w.call()
        interp = await join(w, "tulkki.ar", expert, sid, ARABIC)
        await interp.request({"type": "doccam_share_request", "session_id": sid}, expect=Ack)
        asked = await expert.wait_for(DoccamShareRequested)
        assert asked.session_id == sid


async def test_the_interpreter_leaves_and_the_call_goes_on(store: Store, tmp_path: Path) -> None:
    async with world(store, tmp_path) as w:
        booth, expert, sid = await w.call()
        interp = await join(w, "tulkki.ar", expert, sid, ARABIC)
        await interp.request({"type": "session_leave", "session_id": sid}, expect=Ack)
        left = await booth.wait_for(ParticipantEvent, lambda e: e.event == "left")
        assert left.participant.kind == "interpreter"
        update = await expert.wait_for(
            SessionUpdate, lambda u: u.session.session_id == sid and not interpreters_in(u.session)
        )
        assert update.session.state in ("connecting", "active")
        await interp.wait_for(Availability, lambda a: a.status == "available")
        # and the expert may ask for another
        await ask(expert, sid)
        assert (await interp.wait_for(InterpreterOffer)).session_id == sid


async def test_team_interpreting_allows_two_and_no_more(store: Store, tmp_path: Path) -> None:
    async with world(store, tmp_path, SECOND_ARABIC, widen_after_s=0) as w:
        booth, expert, sid = await w.call()
        await join(w, "tulkki.ar", expert, sid, ARABIC)
        await join(w, "tulkki.ar2", expert, sid, ARABIC)
        update = await booth.wait_for(SessionUpdate, lambda u: len(interpreters_in(u.session)) == 2)
        assert len(update.session.participants) == 4
        await refused(
            expert,
            {"type": "interpreter_request", "session_id": sid, **ARABIC},
            ErrorCode.CONFLICT,
            "session_id",
        )


async def test_an_ended_call_frees_its_interpreter(store: Store, tmp_path: Path) -> None:
    async with world(store, tmp_path) as w:
        booth, expert, sid = await w.call()
        interp = await join(w, "tulkki.ar", expert, sid, ARABIC)
        await interp.wait_for(Availability, lambda a: a.status == "busy")
        await booth.request({"type": "session_leave", "session_id": sid}, expect=Ack)
        await interp.wait_for(SessionEnded)
        await interp.wait_for(Availability, lambda a: a.status == "available")


# --- refused, and nothing changes ---------------------------------------------------------


async def test_bad_requests_are_refused_plainly(store: Store, tmp_path: Path) -> None:
    async with world(store, tmp_path) as w:
        interp = await w.interpreter("tulkki.ar")
        booth, expert, sid = await w.call()
        for need, where in (
            ({"language": "so", "modality": "spoken"}, "language"),
            ({"language": "ar", "modality": "sign"}, "modality"),
        ):
            await refused(
                expert,
                {"type": "interpreter_request", "session_id": sid, **need},
                ErrorCode.NOT_FOUND,
                where,
            )
        await refused(
            interp,
            {"type": "interpreter_request", "session_id": sid, **ARABIC},
            ErrorCode.FORBIDDEN,
            "session_id",
        )
        await refused(
            interp,
            {"type": "interpreter_accept", "request_id": "ir-" + "0" * 24},
            ErrorCode.NOT_FOUND,
            "request_id",
        )
        await refused(
            expert,
            {"type": "interpreter_accept", "request_id": "ir-" + "0" * 24},
            ErrorCode.FORBIDDEN,
            "type",
        )
        # A caption from an interpreter who is not in the call.
        await interp.send({"type": "caption", "session_id": sid, "text": "x", "final": True})
        error = await interp.wait_for(Error)
        assert (error.code, error.field) == (ErrorCode.FORBIDDEN, "session_id")
        await refused(
            interp,
            {
                "type": "set_availability",
                "status": "available",
                "skills": {"agencies": ["kela"], "languages": ["fi"]},
            },
            ErrorCode.FORBIDDEN,
            "skills",
        )
        # Nothing was asked for, so nothing rings and the call shows no request.
        await asyncio.sleep(0.3)
        assert not [m for m in interp.drain_buffer() if isinstance(m, InterpreterOffer)]
        assert "interpreter_requested" not in [e["kind"] for e in await w.events()]
        # A call still waiting in the queue cannot have an interpreter yet.
        other = await w.booth("bus-lieksa")
        queued = await other.request(KELA_CALL, expect=CallQueued)
        await refused(
            other,
            {"type": "interpreter_request", "session_id": queued.session.session_id, **ARABIC},
            ErrorCode.CONFLICT,
            "session_id",
        )
        del booth
