"""Routing on both stores: queues, offers, ring timeouts, declines, races, transfers."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from signaling.directory import Directory
from signaling.identity import Principal
from signaling.protocol import (
    Availability,
    CallRequest,
    ErrorCode,
    Message,
    Offer,
    OfferWithdrawn,
    QueueStatus,
    SessionEnded,
    Transfer,
)
from signaling.records import SessionRecord
from signaling.routing import Router, RoutingError
from signaling.store import Store

from .support import directory_with

EXPERTS = {"kela.a": ["kela"], "kela.b": ["kela"], "kela.c": ["kela"], "vero.a": ["vero"]}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Courier:
    """Collects what the router would deliver."""

    def __init__(self) -> None:
        self.sent: defaultdict[str, list[Message]] = defaultdict(list)
        self.latencies: list[float] = []

    async def send(self, subject: str, message: Message) -> None:
        self.sent[subject].append(message)

    async def queue_changed(self, queue: str) -> None:
        pass

    def observe_routing(self, seconds: float) -> None:
        self.latencies.append(seconds)

    def offers(self, subject: str) -> list[Offer]:
        return [m for m in self.sent[subject] if isinstance(m, Offer)]


def booth(site: str = "lib-kitee") -> Principal:
    return Principal(kind="booth", subject=f"site:{site}", roles=("booth",), site=site)


def expert(username: str) -> Principal:
    return Principal(
        kind="staff", subject=f"staff:{username}", roles=("expert",), username=username
    )


def kela_call(**extra: object) -> CallRequest:
    return CallRequest.model_validate(
        {
            "type": "call_request",
            "id": "r1",
            "agency": "kela",
            "service": "general",
            "language": "fi",
            **extra,
        }
    )


@pytest.fixture
def directory() -> Directory:
    return directory_with(EXPERTS, routing={"ring_timeout_s": 20, "reoffer_cooldown_s": 30})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def courier() -> Courier:
    return Courier()


@pytest.fixture
def router(store: Store, directory: Directory, courier: Courier, clock: Clock) -> Router:
    return Router(store, directory, courier, "node-a", clock)


async def request(router: Router, principal: Principal, call: CallRequest) -> SessionRecord:
    """Request a call and route its queue, as the node does."""
    record = await router.request_call(principal, call)
    await router.dispatch(record.queue)
    return record


async def event_kinds(store: Store, session_id: str) -> list[str]:
    return [e["kind"] for _, e in await store.read_events() if e["session_id"] == session_id]


async def test_calls_wait_in_order_with_positions_and_estimates(
    router: Router, clock: Clock
) -> None:
    sessions = []
    for site in ("lib-kitee", "bus-lieksa", "lib-kemijarvi"):
        sessions.append(await request(router, booth(site), kela_call()))
        clock.advance(0.001)
    statuses = [await router.queue_status(s) for s in sessions]
    assert [s.position for s in statuses if s] == [1, 2, 3]
    # No handling history and no expert available: default handling time per place.
    default = router.settings.default_handling_time_s
    assert [s.estimated_wait_s for s in statuses if s] == [default, 2 * default, 3 * default]


async def test_estimate_follows_recent_handling_times(
    router: Router, store: Store, clock: Clock, courier: Courier
) -> None:
    first = await request(router, booth(), kela_call())
    await router.set_availability(expert("kela.a"), "available", None)
    await router.accept(expert("kela.a"), first.session_id)
    clock.advance(120)
    await router.end(expert("kela.a"), first.session_id, "resolved")
    assert await store.handling_times("kela/general/fi") == [120.0]
    await router.set_availability(expert("kela.a"), "paused", "lunch")
    waiting = await request(router, booth("bus-lieksa"), kela_call())
    status = await router.queue_status(waiting)
    assert status == QueueStatus(session_id=waiting.session_id, position=1, estimated_wait_s=120)


async def test_offer_goes_to_longest_idle_matching_expert(
    router: Router, courier: Courier, clock: Clock
) -> None:
    await router.set_availability(expert("vero.a"), "available", None)
    clock.advance(1)
    await router.set_availability(expert("kela.b"), "available", None)
    clock.advance(1)
    await router.set_availability(expert("kela.a"), "available", None)
    session = await request(router, booth(), kela_call())
    await router.dispatch(session.queue)
    assert [o.session_id for o in courier.offers("staff:kela.b")] == [session.session_id]
    assert courier.offers("staff:kela.a") == [] and courier.offers("staff:vero.a") == []
    offer = courier.offers("staff:kela.b")[0]
    assert (offer.site.id, offer.site.kind, offer.site.municipality) == ("lib-kitee", "S", "Kitee")
    assert courier.latencies, "routing latency observed"


async def test_unanswered_offer_times_out_to_next_expert(
    router: Router, courier: Courier, clock: Clock, store: Store
) -> None:
    await router.set_availability(expert("kela.a"), "available", None)
    clock.advance(1)
    await router.set_availability(expert("kela.b"), "available", None)
    session = await request(router, booth(), kela_call())
    await router.dispatch(session.queue)
    assert len(courier.offers("staff:kela.a")) == 1
    clock.advance(19)
    assert await router.expire_offers() == 0
    clock.advance(1.5)
    assert await router.expire_offers() == 1
    assert courier.sent["staff:kela.a"][-1] == OfferWithdrawn(
        session_id=session.session_id, reason="timeout"
    )
    assert [o.session_id for o in courier.offers("staff:kela.b")] == [session.session_id]
    # The late accept of the first expert loses.
    with pytest.raises(RoutingError) as late:
        await router.accept(expert("kela.a"), session.session_id)
    assert late.value.code == ErrorCode.CONFLICT
    accepted = await router.accept(expert("kela.b"), session.session_id)
    assert accepted.state == "connecting"
    assert "offer_timed_out" in await event_kinds(store, session.session_id)


async def test_decline_passes_call_on_and_not_back_within_cooldown(
    router: Router, courier: Courier, clock: Clock
) -> None:
    await router.set_availability(expert("kela.a"), "available", None)
    session = await request(router, booth(), kela_call())
    await router.dispatch(session.queue)
    await router.decline(expert("kela.a"), session.session_id)
    # Only kela.a is available, and it just declined: the call waits.
    assert len(courier.offers("staff:kela.a")) == 1
    record = await router.store.load_session(session.session_id)
    assert record is not None and record.state == "queued"
    await router.set_availability(expert("kela.b"), "available", None)
    assert [o.session_id for o in courier.offers("staff:kela.b")] == [session.session_id]
    await router.decline(expert("kela.b"), session.session_id)
    clock.advance(31)
    await router.dispatch(session.queue)
    assert len(courier.offers("staff:kela.a")) == 2, "offered again once the cooldown passed"


async def test_cancel_while_offered_withdraws_offer_and_frees_expert(
    router: Router, courier: Courier, store: Store
) -> None:
    await router.set_availability(expert("kela.a"), "available", None)
    session = await request(router, booth(), kela_call())
    await router.dispatch(session.queue)
    cancelled = await router.cancel(booth(), session.session_id)
    assert (cancelled.state, cancelled.end_reason) == ("abandoned", "cancelled")
    assert courier.sent["staff:kela.a"][-1] == OfferWithdrawn(
        session_id=session.session_id, reason="cancelled"
    )
    record = await store.load_expert("staff:kela.a")
    assert record is not None and record.state == "available"
    assert await store.available_experts("kela") == ["staff:kela.a"]
    assert await store.memberships("site:lib-kitee") == []
    assert any(isinstance(m, SessionEnded) for m in courier.sent["site:lib-kitee"])


async def test_closed_agency_is_refused_with_next_opening(router: Router, store: Store) -> None:
    ulosotto = router.directory.agency("ulosotto")
    assert ulosotto is not None
    with pytest.raises(RoutingError) as never:
        await request(
            router, booth(), kela_call(agency="ulosotto", service=ulosotto.services[0].id)
        )
    assert (never.value.code, never.value.field) == (ErrorCode.CLOSED, "agency")
    assert never.value.next_opening is None  # no opening hours at all
    rise = router.directory.agency("rise")
    assert rise is not None
    # The test clock stands on a Friday morning; RISE opens on Tuesdays and Thursdays.
    now = datetime.fromtimestamp(router.clock(), UTC)
    assert now.weekday() == 4 and not rise.hours.is_open(now)
    with pytest.raises(RoutingError) as closed:
        await request(router, booth(), kela_call(agency="rise", service=rise.services[0].id))
    assert (closed.value.code, closed.value.field) == (ErrorCode.CLOSED, "agency")
    opening = rise.hours.next_opening(now)
    assert opening is not None and closed.value.next_opening == opening.isoformat()
    assert opening.weekday() == 1, "next Tuesday"
    assert await store.count_sessions_by_state() == {}
    assert await store.read_events() == []


async def test_the_withdrawal_of_a_cancelled_offer_comes_before_the_next_offer(
    router: Router, courier: Courier
) -> None:
    await router.set_availability(expert("kela.a"), "available", None)
    first = await request(router, booth(), kela_call())
    second = await router.request_call(booth("bus-lieksa"), kela_call())
    await router.cancel(booth(), first.session_id)
    told = [
        (type(m).__name__, getattr(m, "session_id", None))
        for m in courier.sent["staff:kela.a"]
        if isinstance(m, Offer | OfferWithdrawn)
    ]
    assert told == [
        ("Offer", first.session_id),
        ("OfferWithdrawn", first.session_id),
        ("Offer", second.session_id),
    ]


class LateClear:
    """Wraps a store so that the next clear of the available index waits until let go:
    a slow round trip from one node while another node re-indexes the expert."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.armed = False
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    async def clear_available(self, agency: str, subject: str) -> None:
        if self.armed:
            self.armed = False
            self.holding.set()
            await self.release.wait()
        await self.store.clear_available(agency, subject)


async def test_a_late_index_clear_never_hides_an_available_expert(
    store: Store, directory: Directory, courier: Courier, clock: Clock
) -> None:
    slow = LateClear(store)
    node_a = Router(slow, directory, courier, "node-a", clock)  # type: ignore[arg-type]
    node_b = Router(store, directory, courier, "node-b", clock)
    await node_b.set_availability(expert("kela.a"), "available", None)
    first = await request(node_b, booth(), kela_call())  # rings kela.a
    # Node A routes a call it read together with an index that still had kela.a; the
    # call is gone by the time it claims (so nothing else can take kela.a meanwhile).
    stale = await node_a.request_call(booth("bus-lieksa"), kela_call())
    await node_a.cancel(booth("bus-lieksa"), stale.session_id)
    slow.armed = True
    attempt = asyncio.create_task(node_a._offer_to_first(stale, ["staff:kela.a"], 0.0))
    async with asyncio.timeout(5):
        await slow.holding.wait()  # the claim failed; node A clears the index, slowly...
    await node_b.cancel(booth(), first.session_id)  # ...while node B frees kela.a
    slow.release.set()
    await attempt
    record = await store.load_expert("staff:kela.a")
    assert record is not None and record.state == "available"
    assert await store.available_experts("kela") == ["staff:kela.a"]
    third = await request(node_b, booth("lib-kemijarvi"), kela_call())
    offered = await store.load_session(third.session_id)
    assert offered is not None and offered.offered_to == "staff:kela.a"


class EagerQueue:
    """Wraps a store so that another node routes a queue the moment a call enters it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.other: Router | None = None

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    async def enqueue(self, queue: str, session_id: str, score: float) -> None:
        await self.store.enqueue(queue, session_id, score)
        if self.other is not None:
            await self.other.dispatch(queue)


async def test_a_declined_call_is_logged_back_before_another_node_can_offer_it(
    store: Store, directory: Directory, courier: Courier, clock: Clock
) -> None:
    eager = EagerQueue(store)
    node_a = Router(eager, directory, courier, "node-a", clock)  # type: ignore[arg-type]
    eager.other = Router(store, directory, courier, "node-b", clock)
    await node_a.set_availability(expert("kela.a"), "available", None)
    clock.advance(1)
    await node_a.set_availability(expert("kela.b"), "available", None)
    session = await request(node_a, booth(), kela_call())
    await node_a.decline(expert("kela.a"), session.session_id)
    kinds = [kind for kind in await event_kinds(store, session.session_id) if "offer" in kind]
    assert kinds == ["session_offered", "offer_declined", "session_offered"]


async def test_exactly_one_of_two_routers_offers_each_call(
    store: Store, directory: Directory, clock: Clock
) -> None:
    couriers = [Courier(), Courier()]
    routers = [Router(store, directory, c, f"node-{i}", clock) for i, c in enumerate(couriers)]
    for name in ("kela.a", "kela.b", "kela.c"):
        await routers[0].set_availability(expert(name), "available", None)
        clock.advance(1)
    # Take them off the index so the requests queue up, then route from both nodes at once.
    sessions = []
    for name in ("kela.a", "kela.b", "kela.c"):
        await routers[0].set_availability(expert(name), "paused", None)
    for site in ("lib-kitee", "bus-lieksa", "lib-kemijarvi"):
        sessions.append(await routers[0].request_call(booth(site), kela_call()))
        clock.advance(0.001)
    for name in ("kela.a", "kela.b", "kela.c"):
        record = await store.load_expert(f"staff:{name}")
        assert record is not None
        record.state = "available"
        assert await store.save_expert(record)
        for agency in record.agencies:
            await store.set_available(agency, record.subject, record.idle_since)
    await asyncio.gather(*(r.dispatch("kela/general/fi") for r in routers * 3))
    offers: defaultdict[str, list[str]] = defaultdict(list)
    for c in couriers:
        for subject, messages in c.sent.items():
            for m in messages:
                if isinstance(m, Offer):
                    offers[m.session_id].append(subject)
    assert sorted(offers) == sorted(s.session_id for s in sessions)
    assert all(len(v) == 1 for v in offers.values()), offers
    assert len({v[0] for v in offers.values()}) == 3, "each expert got exactly one call"


async def test_two_accepts_of_one_offer_have_one_winner(router: Router, courier: Courier) -> None:
    await router.set_availability(expert("kela.a"), "available", None)
    session = await request(router, booth(), kela_call())
    await router.dispatch(session.queue)
    results = await asyncio.gather(
        *(router.accept(expert("kela.a"), session.session_id) for _ in range(5)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, RoutingError)]
    assert len(winners) == 1 and len(losers) == 4
    assert all(r.code == ErrorCode.CONFLICT for r in losers)
    assert [m.kind for m in winners[0].members] == ["booth", "expert"]


async def test_transfer_puts_call_at_front_of_other_queue_with_note(
    router: Router, courier: Courier, clock: Clock, store: Store
) -> None:
    await router.set_availability(expert("kela.a"), "available", None)
    session = await request(router, booth(), kela_call())
    await router.accept(expert("kela.a"), session.session_id)
    clock.advance(1)
    waiting = await request(
        router, booth("bus-lieksa"), kela_call(agency="vero", service="tax-card")
    )
    clock.advance(60)
    await router.transfer(
        expert("kela.a"),
        Transfer(
            type="transfer",
            id="t",
            session_id=session.session_id,
            agency="vero",
            service="tax-card",
            language="fi",
            note="tax card question",
        ),
    )
    assert await store.queue_members("vero/tax-card/fi") == [session.session_id, waiting.session_id]
    kela = await store.load_expert("staff:kela.a")
    assert kela is not None and kela.state == "available"
    await router.set_availability(expert("vero.a"), "available", None)
    offer = courier.offers("staff:vero.a")[0]
    assert (offer.session_id, offer.transfer_note) == (session.session_id, "tax card question")
    assert "session_transferred" in await event_kinds(store, session.session_id)


async def test_lost_booth_abandons_waiting_call_and_lost_expert_requeues(
    router: Router, store: Store, courier: Courier
) -> None:
    waiting = await request(router, booth("bus-lieksa"), kela_call())
    await router.subject_lost("site:bus-lieksa")
    lost = await store.load_session(waiting.session_id)
    assert lost is not None and (lost.state, lost.end_reason) == ("abandoned", "booth_lost")

    await router.set_availability(expert("kela.a"), "available", None)
    session = await request(router, booth(), kela_call())
    await router.accept(expert("kela.a"), session.session_id)
    await router.subject_lost("staff:kela.a")
    requeued = await store.load_session(session.session_id)
    assert requeued is not None and (requeued.state, requeued.priority) == ("queued", 0)
    assert [m.kind for m in requeued.members] == ["booth"]
    gone = await store.load_expert("staff:kela.a")
    assert gone is not None and gone.state == "paused"
    assert await store.available_experts("kela") == []
    kinds = await event_kinds(store, session.session_id)
    assert kinds[-2:] == ["participant_left", "session_requeued"]


async def test_booth_lost_in_call_fails_session_and_frees_expert(
    router: Router, store: Store, courier: Courier
) -> None:
    await router.set_availability(expert("kela.a"), "available", None)
    session = await request(router, booth(), kela_call())
    await router.accept(expert("kela.a"), session.session_id)
    await router.subject_lost("site:lib-kitee")
    record = await store.load_session(session.session_id)
    assert record is not None and (record.state, record.end_reason) == ("failed", "booth_lost")
    freed = await store.load_expert("staff:kela.a")
    assert freed is not None and freed.state == "available"
    ended = [m for m in courier.sent["staff:kela.a"] if isinstance(m, SessionEnded)]
    assert ended and ended[-1].state == "failed"


async def test_pause_during_call_applies_after_it(router: Router, store: Store) -> None:
    await router.set_availability(expert("kela.a"), "available", None)
    session = await request(router, booth(), kela_call())
    await router.accept(expert("kela.a"), session.session_id)
    await router.set_availability(expert("kela.a"), "paused", "break")
    busy = await store.load_expert("staff:kela.a")
    assert busy is not None and busy.state == "busy"
    await router.end(expert("kela.a"), session.session_id, "resolved")
    after = await store.load_expert("staff:kela.a")
    assert after is not None and after.state == "paused"


async def test_every_state_change_is_logged_without_names(
    router: Router, store: Store, clock: Clock
) -> None:
    await router.set_availability(expert("kela.a"), "available", None)
    session = await request(
        router, booth(), kela_call(interpreter={"language": "ar", "modality": "spoken"})
    )
    await router.accept(expert("kela.a"), session.session_id)
    await router.mark_active(session.session_id)
    clock.advance(300)
    await router.end(expert("kela.a"), session.session_id, "follow_up")
    events = [e for _, e in await store.read_events() if e["session_id"] == session.session_id]
    assert [e["kind"] for e in events] == [
        "session_requested",
        "session_queued",
        "session_offered",
        "session_connecting",
        "participant_joined",
        "session_active",
        "session_ended",
    ]
    last = events[-1]
    assert last["interpreter"] == {"language": "ar", "modality": "spoken"}
    assert (last["site"], last["site_kind"], last["municipality"]) == ("lib-kitee", "S", "Kitee")
    assert last["outcome"] == "follow_up" and last["ended_at"] - last["answered_at"] == 300
    assert "kela.a" not in repr(events)


async def test_periodic_dispatch_reoffers_once_cooldown_ends(
    router: Router, courier: Courier, clock: Clock
) -> None:
    await router.set_availability(expert("kela.a"), "available", None)
    session = await request(router, booth(), kela_call())
    await router.decline(expert("kela.a"), session.session_id)
    assert await router.dispatch_all() == 0, "not back to the decliner within the cooldown"
    clock.advance(31)
    assert await router.dispatch_all() == 1
    assert [o.session_id for o in courier.offers("staff:kela.a")] == [session.session_id] * 2


async def test_lost_expert_in_call_is_not_offered_the_next_call(
    router: Router, courier: Courier, store: Store, clock: Clock
) -> None:
    await router.set_availability(expert("kela.a"), "available", None)
    first = await request(router, booth(), kela_call())
    await router.accept(expert("kela.a"), first.session_id)
    clock.advance(1)
    await request(router, booth("bus-lieksa"), kela_call())
    await router.subject_lost("staff:kela.a")
    assert len(courier.offers("staff:kela.a")) == 1, "no call rings at an empty desk"
    record = await store.load_expert("staff:kela.a")
    assert record is not None and record.state == "paused"
    assert await store.queue_members("kela/general/fi") == [
        first.session_id,
        (await store.memberships("site:bus-lieksa"))[0],
    ], "the lost call is back at the front"


async def test_reoffer_after_reconnect_rings_only_for_the_time_left(
    router: Router, courier: Courier, store: Store, clock: Clock
) -> None:
    await router.set_availability(expert("kela.a"), "available", None)
    session = await request(router, booth(), kela_call())
    clock.advance(15)
    record = await store.load_session(session.session_id)
    assert record is not None
    assert router._offer_message(record).ring_timeout_s == 5.0


async def ring_out(router: Router, clock: Clock) -> None:
    """Let the ring time pass and the cooldown too, as the tick loop would see it."""
    clock.advance(router.settings.ring_timeout_s + 1)
    await router.expire_offers()
    clock.advance(router.settings.reoffer_cooldown_s + 1)


async def test_two_offers_rung_out_in_a_row_pause_the_expert(
    router: Router, courier: Courier, clock: Clock, store: Store
) -> None:
    await router.set_availability(expert("kela.a"), "available", None)
    session = await request(router, booth(), kela_call())
    assert len(courier.offers("staff:kela.a")) == 1
    await ring_out(router, clock)
    first = await store.load_expert("staff:kela.a")
    assert first is not None and (first.state, first.missed_offers) == ("available", 1)

    await router.dispatch(session.queue)  # the cooldown is over: it rings here again
    assert len(courier.offers("staff:kela.a")) == 2
    await ring_out(router, clock)
    paused = await store.load_expert("staff:kela.a")
    assert paused is not None
    assert (paused.state, paused.pause_reason, paused.missed_offers) == (
        "paused",
        "missed_offers",
        0,
    )
    told = [m for m in courier.sent["staff:kela.a"] if isinstance(m, Availability)]
    assert [(m.status, m.reason) for m in told] == [("paused", "missed_offers")]
    await router.dispatch(session.queue)
    assert len(courier.offers("staff:kela.a")) == 2, "a paused desk is not rung"


async def test_an_answer_between_missed_offers_starts_the_count_over(
    router: Router, courier: Courier, clock: Clock, store: Store
) -> None:
    await router.set_availability(expert("kela.a"), "available", None)
    first = await request(router, booth(), kela_call())
    await ring_out(router, clock)
    await router.dispatch(first.queue)
    await router.decline(expert("kela.a"), first.session_id)  # an answer, though a no
    record = await store.load_expert("staff:kela.a")
    assert record is not None and (record.state, record.missed_offers) == ("available", 0)
    clock.advance(router.settings.reoffer_cooldown_s + 1)
    await router.dispatch(first.queue)
    await ring_out(router, clock)
    record = await store.load_expert("staff:kela.a")
    assert record is not None and (record.state, record.missed_offers) == ("available", 1)
