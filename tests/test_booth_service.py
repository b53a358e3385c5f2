"""What the kiosk asks of the server: the catalog, feedback, appointment codes, identities."""

from __future__ import annotations

import json

import pytest

from signaling.catalog import build_catalog
from signaling.client import SignalingClient, SignalingError
from signaling.directory import Directory
from signaling.protocol import (
    Ack,
    CallQueued,
    Catalog,
    ChatRelay,
    Error,
    ErrorCode,
    Offer,
    SessionUpdate,
)
from signaling.routing import Router, RoutingError
from signaling.store import MemoryStore, Store

from .support import KELA_CALL, booth_client, directory_with, running_node, staff_client
from .test_routing import Clock, Courier, booth, expert, kela_call, request


@pytest.fixture
def directory() -> Directory:
    return directory_with({"kela.a": ["kela"]})


@pytest.fixture
def router(store: Store, directory: Directory, clock: Clock) -> Router:
    return Router(store, directory, Courier(), "node-a", clock)


@pytest.fixture
def clock() -> Clock:
    return Clock()  # a Friday, 10:00 in Helsinki


async def test_catalog_shows_open_and_closed_agencies_with_waits(
    router: Router, directory: Directory, clock: Clock
) -> None:
    before = {a.id: a for a in await build_catalog(directory, router, clock())}
    assert set(before) == {a.id for a in directory.agencies}
    kela = before["kela"]
    assert kela.open and kela.next_opening is None
    assert kela.name == {"fi": "Kela", "sv": "FPA", "en": kela.name["en"]}
    general = next(s for s in kela.services if s.id == "general")
    assert general.languages == ["fi", "sv", "en"]
    default = router.settings.default_handling_time_s
    assert [(q.language, q.waiting, q.estimated_wait_s) for q in general.queues] == [
        ("fi", 0, default),
        ("sv", 0, default),
        ("en", 0, default),
    ]
    # Always closed in the demo: no wait, and no opening to promise.
    ulosotto = before["ulosotto"]
    assert not ulosotto.open and ulosotto.next_opening is None
    assert all(q.estimated_wait_s is None for s in ulosotto.services for q in s.queues)
    # Open on Tuesdays and Thursdays only: on a Friday it tells when it opens next.
    rise = before["rise"]
    assert not rise.open and rise.next_opening == "2027-01-19T09:00:00+02:00"

    await request(router, booth(), kela_call())
    await request(router, booth("bus-lieksa"), kela_call())
    await router.set_availability(expert("kela.a"), "paused", "training")
    after = {a.id: a for a in await build_catalog(directory, router, clock())}
    general = next(s for s in after["kela"].services if s.id == "general")
    fi = next(q for q in general.queues if q.language == "fi")
    # A new caller would be third in line.
    assert (fi.waiting, fi.estimated_wait_s) == (2, 3 * default)


async def test_feedback_is_given_once_after_a_call_that_took_place(
    router: Router, store: Store, clock: Clock
) -> None:
    answered = await request(router, booth(), kela_call())
    with pytest.raises(RoutingError) as early:
        await router.feedback(booth(), answered.session_id, 5)
    assert (early.value.code, early.value.field) == (ErrorCode.CONFLICT, "session_id")
    await router.set_availability(expert("kela.a"), "available", None)
    await router.dispatch(answered.queue)
    await router.accept(expert("kela.a"), answered.session_id)
    clock.advance(60)
    await router.end(expert("kela.a"), answered.session_id, "resolved")

    with pytest.raises(RoutingError) as stranger:
        await router.feedback(booth("bus-lieksa"), answered.session_id, 5)
    assert (stranger.value.code, stranger.value.field) == (ErrorCode.NOT_FOUND, "session_id")
    record = await router.feedback(booth(), answered.session_id, 4)
    assert record.feedback == 4
    with pytest.raises(RoutingError) as again:
        await router.feedback(booth(), answered.session_id, 1)
    assert again.value.code == ErrorCode.CONFLICT
    stored = await store.load_session(answered.session_id)
    assert stored is not None and stored.feedback == 4
    events = [e for _, e in await store.read_events() if e["kind"] == "feedback_given"]
    assert [(e["session_id"], e["feedback"]) for e in events] == [(answered.session_id, 4)]

    # A call the citizen gave up on while waiting gets no score.
    abandoned = await request(router, booth("bus-lieksa"), kela_call())
    await router.cancel(booth("bus-lieksa"), abandoned.session_id)
    with pytest.raises(RoutingError) as never_answered:
        await router.feedback(booth("bus-lieksa"), abandoned.session_id, 3)
    assert never_answered.value.code == ErrorCode.CONFLICT


async def test_feedback_window_closes(router: Router, clock: Clock) -> None:
    record = await request(router, booth(), kela_call())
    await router.set_availability(expert("kela.a"), "available", None)
    await router.dispatch(record.queue)
    await router.accept(expert("kela.a"), record.session_id)
    await router.end(expert("kela.a"), record.session_id, "resolved")
    clock.advance(16 * 60)
    with pytest.raises(RoutingError) as late:
        await router.feedback(booth(), record.session_id, 5)
    assert late.value.code == ErrorCode.CONFLICT


async def test_booth_reads_the_catalog_and_staff_cannot() -> None:
    async with running_node(MemoryStore()) as node:
        kiosk = await booth_client(node.base_url)
        agent = await booth_client(node.base_url, role="agent")
        expert_client = await staff_client(node.base_url, "kela.expert")
        try:
            catalog = await kiosk.request({"type": "catalog_request"}, expect=Catalog)
            assert "kela" in {a.id for a in catalog.agencies}
            cached = await kiosk.request({"type": "catalog_request"}, expect=Catalog)
            assert cached.generated_at == catalog.generated_at
            for outsider in (agent, expert_client):
                with pytest.raises(SignalingError) as refused:
                    await outsider.request({"type": "catalog_request"})
                assert refused.value.code == ErrorCode.FORBIDDEN
            # The agent's link did not replace the kiosk's: both are still served.
            assert agent.welcome is not None and kiosk.welcome is not None
            assert agent.welcome.identity.subject == "agent:lib-kitee"
            assert agent.welcome.identity.roles == ["booth_agent"]
            assert kiosk.welcome.identity.subject == "site:lib-kitee"
            await kiosk.request({"type": "ping"})
        finally:
            for client in (kiosk, agent, expert_client):
                await client.close()


async def test_appointment_codes_are_checked_and_unknown_ones_named() -> None:
    async with running_node(MemoryStore()) as node:
        kiosk = await booth_client(node.base_url)
        try:
            with pytest.raises(SignalingError) as unknown:
                await kiosk.request({"type": "appointment_checkin", "code": "123456"})
            assert (unknown.value.code, unknown.value.field) == (ErrorCode.NOT_FOUND, "code")
            for bad in ("12", "12ab56", "1" * 13, 123456):
                await kiosk.send_raw(
                    json.dumps({"type": "appointment_checkin", "id": "bad", "code": bad})
                )
                error = await kiosk.wait_for(Error, lambda e: e.id == "bad")
                assert (error.code, error.field) == (ErrorCode.INVALID_FIELD, "code")
                kiosk.drain_buffer()
        finally:
            await kiosk.close()


async def answered_call(kiosk: SignalingClient, expert: SignalingClient) -> SessionUpdate:
    """Put a Kela call through to the expert; return the booth's view with both members."""
    await expert.request({"type": "set_availability", "status": "available"})
    queued = await kiosk.request(KELA_CALL, expect=CallQueued)
    session_id = queued.session.session_id
    await expert.wait_for(Offer, lambda o: o.session_id == session_id)
    await expert.request({"type": "offer_accept", "session_id": session_id})
    return await kiosk.wait_for(SessionUpdate, lambda u: len(u.session.participants) == 2)


async def test_booth_sees_the_experts_chosen_name_and_answers_feedback_on_the_wire() -> None:
    async with running_node(MemoryStore()) as node:
        kiosk = await booth_client(node.base_url)
        expert_client = await staff_client(node.base_url, "kela.expert")
        try:
            update = await answered_call(kiosk, expert_client)
            session_id = update.session.session_id
            shown = {p.kind: p.display_name for p in update.session.participants}
            assert shown == {"booth": None, "expert": "Anna"}
            await expert_client.request(
                {"type": "session_end", "session_id": session_id, "outcome": "resolved"}
            )
            reply = await kiosk.request(
                {"type": "feedback", "session_id": session_id, "score": 5}, expect=Ack
            )
            assert reply.type == "ack"
        finally:
            await kiosk.close()
            await expert_client.close()


async def test_a_booth_back_from_a_long_outage_goes_to_the_front(
    router: Router, store: Store, clock: Clock
) -> None:
    lost = await request(router, booth(), kela_call())
    clock.advance(1)
    other = await request(router, booth("bus-lieksa"), kela_call())
    await router.subject_lost("site:lib-kitee")  # the grace period ran out
    stored = await store.load_session(lost.session_id)
    assert stored is not None and stored.end_reason == "booth_lost"
    clock.advance(60)
    again = await request(router, booth(), kela_call(previous_session=lost.session_id))
    assert await store.queue_rank(again.queue, again.session_id) == 0
    assert await store.queue_rank(other.queue, other.session_id) == 1

    with pytest.raises(RoutingError) as stranger:
        await router.request_call(
            booth("lib-kemijarvi"), kela_call(previous_session=lost.session_id)
        )
    assert (stranger.value.code, stranger.value.field) == (ErrorCode.NOT_FOUND, "previous_session")
    # A call the citizen cancelled themselves earns no front place.
    await router.cancel(booth(), again.session_id)
    third = await request(router, booth(), kela_call(previous_session=again.session_id))
    assert await store.queue_rank(third.queue, third.session_id) == 1


async def test_chat_goes_both_ways_to_members_only_and_is_kept_nowhere() -> None:
    store = MemoryStore()
    async with running_node(store) as node:
        kiosk = await booth_client(node.base_url)
        kela = await staff_client(node.base_url, "kela.expert")
        outsider = await staff_client(node.base_url, "vero.expert")
        try:
            update = await answered_call(kiosk, kela)
            session_id = update.session.session_id
            ids = {p.kind: p.id for p in update.session.participants}

            hostile = "<img src=x onerror=alert(1)> Tervetuloa, miten voin auttaa?"
            chat = {"type": "chat", "session_id": session_id}
            await kela.request({**chat, "text": hostile}, expect=Ack)
            line = await kiosk.wait_for(ChatRelay)
            assert (line.from_, line.text) == (ids["expert"], hostile)
            await kiosk.request({**chat, "text": "Hei! Kuulen hyvin."}, expect=Ack)
            back = await kela.wait_for(ChatRelay)
            assert (back.from_, back.text) == (ids["booth"], "Hei! Kuulen hyvin.")

            with pytest.raises(SignalingError) as stranger:
                await outsider.request({**chat, "text": "hello?"})
            assert (stranger.value.code, stranger.value.field) == (
                ErrorCode.FORBIDDEN,
                "session_id",
            )
            for n, text in enumerate(("", "x" * 1001)):
                # The Python client refuses to send these, so they go as raw frames.
                await kela.send_raw(json.dumps({**chat, "text": text, "id": f"bad{n}"}))
                bad = await kela.wait_for(Error, lambda e, n=n: e.id == f"bad{n}")
                assert (bad.code, bad.field) == (ErrorCode.INVALID_FIELD, "text")

            await kela.request(
                {"type": "session_end", "session_id": session_id, "outcome": "resolved"}
            )
            with pytest.raises(SignalingError) as over:
                await kiosk.request({**chat, "text": "vielä yksi asia"})
            assert over.value.code == ErrorCode.CONFLICT
            logged = json.dumps([event for _, event in await store.read_events()])
            assert "Tervetuloa" not in logged and "Kuulen" not in logged
            record = await store.load_session(session_id)
            assert record is not None and "Kuulen" not in record.model_dump_json()
        finally:
            for client in (kiosk, kela, outsider):
                await client.close()
