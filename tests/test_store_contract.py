"""One contract for every Store: the memory and Redis stores must behave alike."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest
import redis

from signaling.records import ExpertRecord, Member, SessionRecord
from signaling.store import MemoryStore, Store, open_store
from signaling.store.redis import RedisStore

from .redis_server import RedisServer

DELIVERY_DEADLINE_S = 10.0
COMPETITORS = 10


def make_session(session_id: str = "s1", **changes: Any) -> SessionRecord:
    """Return a fresh (version 0) session record; ``changes`` override fields."""
    fields: dict[str, Any] = {
        "session_id": session_id,
        "state": "requested",
        "site": "kp-utsjoki",
        "site_kind": "S",
        "municipality": "Utsjoki",
        "region": "Lappi",
        "agency": "kela",
        "service": "benefits",
        "language": "fi",
        "queue": "kela/benefits/fi",
        "requested_at": 1000.0,
        "queued_at": 1000.0,
        "members": [Member(id="p1", kind="booth", subject="booth:kp-utsjoki")],
    }
    fields.update(changes)
    return SessionRecord(**fields)


def make_expert(subject: str = "e1", **changes: Any) -> ExpertRecord:
    """Return a fresh (version 0) expert record; ``changes`` override fields."""
    fields: dict[str, Any] = {
        "subject": subject,
        "state": "available",
        "agencies": ["kela"],
        "languages": ["fi", "sv"],
        "idle_since": 500.0,
    }
    fields.update(changes)
    return ExpertRecord(**fields)


class Inbox:
    """Collects published payloads so a test can wait for them with a deadline."""

    def __init__(self) -> None:
        """Start empty."""
        self.queue: asyncio.Queue[str] = asyncio.Queue()

    async def handler(self, payload: str) -> None:
        """Receive one payload (the subscription handler)."""
        await self.queue.put(payload)

    async def next(self, timeout: float = DELIVERY_DEADLINE_S) -> str:
        """Return the next payload, failing the test if none comes in time."""
        async with asyncio.timeout(timeout):
            return await self.queue.get()


# --- sessions ---------------------------------------------------------------------------


async def test_session_create_save_and_stale_version(store: Store) -> None:
    assert await store.load_session("s1") is None

    record = make_session("s1")
    assert await store.save_session(record)
    assert record.version == 1
    loaded = await store.load_session("s1")
    assert loaded == record

    # Creating again with version 0 loses: the record exists.
    assert not await store.save_session(make_session("s1", state="failed"))

    assert loaded is not None
    stale = loaded.model_copy(deep=True)
    loaded.state = "queued"
    assert await store.save_session(loaded)
    assert loaded.version == 2

    stale.state = "abandoned"
    assert not await store.save_session(stale)
    assert stale.version == 1  # a loser keeps its version
    current = await store.load_session("s1")
    assert current is not None
    assert (current.version, current.state) == (2, "queued")


async def test_session_concurrent_saves_exactly_one_wins(store: Store) -> None:
    assert await store.save_session(make_session("s1"))
    copies = [await store.load_session("s1") for _ in range(COMPETITORS)]
    competitors: list[SessionRecord] = []
    for n, copy in enumerate(copies):
        assert copy is not None
        copy.offered_to = f"e{n}"
        competitors.append(copy)

    results = await asyncio.gather(*(store.save_session(c) for c in competitors))

    assert sum(results) == 1
    winner = competitors[results.index(True)]
    stored = await store.load_session("s1")
    assert stored is not None
    assert stored.version == 2
    assert stored.offered_to == winner.offered_to
    assert [c.version for c in competitors if c is not winner] == [1] * (COMPETITORS - 1)


# --- experts ----------------------------------------------------------------------------


async def test_expert_create_save_and_stale_version(store: Store) -> None:
    assert await store.load_expert("e1") is None

    record = make_expert("e1")
    assert await store.save_expert(record)
    assert record.version == 1
    assert await store.load_expert("e1") == record
    assert not await store.save_expert(make_expert("e1"))

    stale = record.model_copy(deep=True)
    record.state = "busy"
    record.session_id = "s1"
    assert await store.save_expert(record)
    assert record.version == 2

    stale.state = "paused"
    assert not await store.save_expert(stale)
    stored = await store.load_expert("e1")
    assert stored is not None
    assert (stored.version, stored.state, stored.session_id) == (2, "busy", "s1")


async def test_expert_concurrent_saves_exactly_one_wins(store: Store) -> None:
    assert await store.save_expert(make_expert("e1"))
    competitors: list[ExpertRecord] = []
    for n in range(COMPETITORS):
        copy = await store.load_expert("e1")
        assert copy is not None
        copy.state = "offered"
        copy.session_id = f"s{n}"
        competitors.append(copy)

    results = await asyncio.gather(*(store.save_expert(c) for c in competitors))

    assert sum(results) == 1
    winner = competitors[results.index(True)]
    stored = await store.load_expert("e1")
    assert stored is not None
    assert stored.version == 2
    assert stored.session_id == winner.session_id


# --- other records and indexes -----------------------------------------------------------


async def test_record_create_save_stale_version_and_namespaces(store: Store) -> None:
    assert await store.load_record("iv", "tulkki.ar", ExpertRecord) is None
    record = make_expert("tulkki.ar")
    assert await store.save_record("iv", "tulkki.ar", record)
    assert record.version == 1
    stale = make_expert("tulkki.ar")  # version 0: someone else's old copy
    assert not await store.save_record("iv", "tulkki.ar", stale)
    record.state = "busy"
    assert await store.save_record("iv", "tulkki.ar", record)
    loaded = await store.load_record("iv", "tulkki.ar", ExpertRecord)
    assert loaded is not None and loaded.state == "busy" and loaded.version == 2
    # Another kind with the same key is another record, and experts are apart too.
    assert await store.load_record("ir", "tulkki.ar", ExpertRecord) is None
    assert await store.load_expert("tulkki.ar") is None


async def test_record_concurrent_saves_exactly_one_wins(store: Store) -> None:
    assert await store.save_record("iv", "t1", make_expert("t1"))
    copies = [await store.load_record("iv", "t1", ExpertRecord) for _ in range(COMPETITORS)]
    for n, copy in enumerate(copies):
        assert copy is not None
        copy.session_id = f"s{n}"
    results = await asyncio.gather(*(store.save_record("iv", "t1", c) for c in copies if c))
    assert sum(results) == 1
    stored = await store.load_record("iv", "t1", ExpertRecord)
    assert stored is not None and stored.session_id == f"s{results.index(True)}"


async def test_record_with_a_ttl_expires(store: Store) -> None:
    record = make_expert("gone")
    assert await store.save_record("ir", "gone", record, ttl_s=1)
    assert await store.load_record("ir", "gone", ExpertRecord) is not None
    deadline = asyncio.get_running_loop().time() + 5
    while await store.load_record("ir", "gone", ExpertRecord) is not None:
        assert asyncio.get_running_loop().time() < deadline, "the record did not expire"
        await asyncio.sleep(0.1)


async def test_index_orders_by_score_moves_and_removes(store: Store) -> None:
    assert await store.index_members("open") == []
    await store.index_add("open", "b", 2.0)
    await store.index_add("open", "a", 1.0)
    await store.index_add("open", "c", 3.0)
    assert await store.index_members("open") == ["a", "b", "c"]
    await store.index_add("open", "a", 4.0)
    await store.index_remove("open", "b")
    await store.index_remove("open", "missing")
    assert await store.index_members("open") == ["c", "a"]
    assert await store.index_members("other") == []


# --- available experts ------------------------------------------------------------------


async def test_available_experts_longest_idle_first(store: Store) -> None:
    assert await store.available_experts("kela") == []
    await store.set_available("kela", "e1", 300.0)
    await store.set_available("kela", "e2", 100.0)
    await store.set_available("kela", "e3", 200.0)
    await store.set_available("vero", "e4", 50.0)
    assert await store.available_experts("kela") == ["e2", "e3", "e1"]

    await store.set_available("kela", "e1", 10.0)  # re-indexing moves, never duplicates
    assert await store.available_experts("kela") == ["e1", "e2", "e3"]

    await store.clear_available("kela", "e2")
    await store.clear_available("kela", "nobody")
    assert await store.available_experts("kela") == ["e1", "e3"]
    assert await store.available_experts("vero") == ["e4"]


async def test_count_available_counts_those_idle_before_a_time(store: Store) -> None:
    assert await store.count_available("kela", 100.0) == 0
    await store.set_available("kela", "e1", 10.0)
    await store.set_available("kela", "e2", 50.0)
    await store.set_available("kela", "e3", 150.0)  # in wrap-up until 150
    await store.set_available("vero", "e4", 10.0)
    assert await store.count_available("kela", 100.0) == 2
    assert await store.count_available("kela", 50.0) == 2, "idle since exactly then counts"
    assert await store.count_available("kela", 9.0) == 0
    assert await store.count_available("kela", 200.0) == 3


# --- queues -----------------------------------------------------------------------------


async def test_queue_order_rank_and_dequeue(store: Store) -> None:
    q = "kela/benefits/fi"
    await store.enqueue(q, "a", 1_000.0)
    await store.enqueue(q, "b", 3_000.0)
    await store.enqueue(q, "c", 2_000.0)
    assert await store.queue_members(q) == ["a", "c", "b"]
    assert await store.queue_members(q, limit=2) == ["a", "c"]
    assert [await store.queue_rank(q, s) for s in ("a", "b", "c")] == [0, 2, 1]
    assert await store.queue_rank(q, "missing") is None

    # The front of the queue: a lower score goes before everyone.
    await store.enqueue(q, "front", 0.0)
    assert await store.queue_members(q) == ["front", "a", "c", "b"]

    await store.dequeue(q, "c")
    await store.dequeue(q, "never-queued")
    assert await store.queue_members(q) == ["front", "a", "b"]
    assert await store.queue_rank(q, "c") is None
    assert await store.queue_rank(q, "b") == 2


async def test_queue_lengths_only_non_empty(store: Store) -> None:
    assert await store.queue_lengths() == {}
    await store.enqueue("kela/benefits/fi", "a", 1.0)
    await store.enqueue("kela/benefits/fi", "b", 2.0)
    await store.enqueue("vero/tax/sv", "c", 1.0)
    await store.enqueue("migri/permits/en", "d", 1.0)
    await store.dequeue("migri/permits/en", "d")
    await store.queue_members("dvv/addresses/fi")  # reading must not create a queue
    assert await store.queue_lengths() == {"kela/benefits/fi": 2, "vero/tax/sv": 1}


async def test_handling_times_keep_newest(store: Store) -> None:
    q = "kela/benefits/fi"
    assert await store.handling_times(q) == []
    for n in range(1, 26):
        await store.add_handling_time(q, float(n))
    assert await store.handling_times(q) == [float(s) for s in range(25, 5, -1)]

    for seconds in (1.5, 2.5, 3.5, 4.5):
        await store.add_handling_time("vero/tax/fi", seconds, keep=3)
    assert await store.handling_times("vero/tax/fi") == [4.5, 3.5, 2.5]


# --- offers -----------------------------------------------------------------------------


async def test_offer_deadlines(store: Store) -> None:
    assert await store.expired_offers(1e12) == []
    await store.set_offer_deadline("s1", 100.0)
    await store.set_offer_deadline("s2", 200.0)
    await store.set_offer_deadline("s3", 300.0)
    assert await store.expired_offers(99.9) == []
    assert await store.expired_offers(200.0) == ["s1", "s2"]  # a deadline of now has passed

    await store.clear_offer_deadline("s1")
    await store.clear_offer_deadline("never-offered")
    assert await store.expired_offers(250.0) == ["s2"]

    await store.set_offer_deadline("s2", 400.0)  # a new offer moves the deadline
    assert await store.expired_offers(350.0) == ["s3"]
    assert await store.expired_offers(1e12) == ["s3", "s2"]


# --- presence and membership ------------------------------------------------------------


async def test_presence_and_disconnects(store: Store) -> None:
    assert await store.presence_node("alice") is None
    await store.touch_presence([], "n1", 50.0)
    await store.touch_presence(["alice", "bob"], "n1", 100.0)
    assert await store.presence_node("alice") == "n1"
    assert await store.presence_node("bob") == "n1"

    # Only the node the subject is connected to can mark it disconnected.
    await store.mark_disconnected("alice", "n2", 150.0)
    assert await store.presence_node("alice") == "n1"
    await store.mark_disconnected("alice", "n1", 150.0)
    assert await store.presence_node("alice") is None

    assert await store.stale_subjects(99.0) == []
    assert await store.stale_subjects(120.0) == ["bob"]  # alice was seen at 150
    assert sorted(await store.stale_subjects(200.0)) == ["alice", "bob"]

    await store.touch_presence(["bob"], "n2", 300.0)  # reconnected elsewhere
    assert await store.presence_node("bob") == "n2"
    assert await store.stale_subjects(200.0) == ["alice"]

    await store.forget_presence("alice")
    await store.forget_presence("bob")
    await store.forget_presence("nobody")
    assert await store.presence_node("bob") is None
    assert await store.stale_subjects(1e12) == []


async def test_memberships(store: Store) -> None:
    assert await store.memberships("alice") == []
    await store.add_membership("alice", "s2")
    await store.add_membership("alice", "s1")
    await store.add_membership("alice", "s1")
    await store.add_membership("bob", "s3")
    assert await store.memberships("alice") == ["s1", "s2"]

    await store.remove_membership("alice", "s2")
    await store.remove_membership("alice", "never")
    assert await store.memberships("alice") == ["s1"]
    await store.remove_membership("alice", "s1")
    assert await store.memberships("alice") == []
    await store.remove_membership("carol", "s1")
    assert await store.memberships("carol") == []
    assert await store.memberships("bob") == ["s3"]


# --- events -----------------------------------------------------------------------------


async def test_events_append_and_read_after(store: Store) -> None:
    assert await store.read_events() == []
    events: list[dict[str, Any]] = [
        {"type": "session.requested", "n": n, "ok": True, "tags": ["a", n], "x": None}
        for n in range(6)
    ]
    ids = [await store.append_event(e) for e in events]
    assert len(set(ids)) == len(ids)
    assert all(isinstance(i, str) for i in ids)

    assert await store.read_events() == list(zip(ids, events, strict=True))
    assert await store.read_events(after=ids[2]) == list(zip(ids[3:], events[3:], strict=True))
    assert await store.read_events(count=2) == list(zip(ids[:2], events[:2], strict=True))
    assert await store.read_events(after=ids[0], count=3) == list(
        zip(ids[1:4], events[1:4], strict=True)
    )
    assert await store.read_events(after=ids[-1]) == []


async def test_trimmed_events_are_gone_and_reading_goes_on(store: Store) -> None:
    events: list[dict[str, Any]] = [{"type": "session.requested", "n": n} for n in range(6)]
    ids = [await store.append_event(e) for e in events]
    audit_id = await store.append_event({"action": "login"}, log="audit")

    assert await store.trim_events(ids[2]) == 3
    assert await store.trim_events(ids[2]) == 0  # again: nothing more
    kept = list(zip(ids[3:], events[3:], strict=True))
    assert await store.read_events() == kept
    assert await store.read_events(after=ids[2]) == kept
    assert await store.read_events(after=ids[0]) == kept  # a reader behind the trim
    assert await store.read_events(after=ids[3], count=1) == kept[1:2]
    # New entries follow on; the other log is untouched.
    later = await store.append_event({"type": "session.ended"})
    assert [i for i, _ in await store.read_events(after=ids[-1])] == [later]
    assert later not in ids
    assert [i for i, _ in await store.read_events(log="audit")] == [audit_id]
    assert await store.trim_events(later) == 4
    assert await store.read_events() == []
    assert await store.append_event({"n": 7}) not in [*ids, later]


async def test_present_subjects_are_the_connected_ones_with_their_nodes(store: Store) -> None:
    assert await store.present_subjects() == {}
    await store.touch_presence(["staff:a", "site:b"], "node-1", 10.0)
    await store.touch_presence(["staff:c"], "node-2", 11.0)
    assert await store.present_subjects() == {
        "staff:a": "node-1",
        "site:b": "node-1",
        "staff:c": "node-2",
    }
    await store.forget_presence("site:b")
    assert await store.present_subjects() == {"staff:a": "node-1", "staff:c": "node-2"}


async def test_a_log_keeps_its_epoch_for_its_life(store: Store) -> None:
    epoch = await store.log_epoch()
    await store.append_event({"kind": "session_requested"})
    assert await store.log_epoch() == epoch and len(epoch) == 32
    assert await MemoryStore().log_epoch() != epoch  # another store: another life


async def test_the_audit_log_is_apart_from_the_statistics_events(store: Store) -> None:
    event_id = await store.append_event({"kind": "session_requested"})
    audit_id = await store.append_event({"action": "login", "username": "a"}, log="audit")
    assert await store.read_events() == [(event_id, {"kind": "session_requested"})]
    assert await store.read_events(log="audit") == [
        (audit_id, {"action": "login", "username": "a"})
    ]


async def test_event_log_is_not_aliased(store: Store) -> None:
    event: dict[str, Any] = {"type": "x", "n": 1}
    event_id = await store.append_event(event)
    event["n"] = 2
    [(_, stored)] = await store.read_events()
    stored["n"] = 3
    assert await store.read_events() == [(event_id, {"type": "x", "n": 1})]


# --- state counts -----------------------------------------------------------------------


async def test_count_sessions_by_state_follows_transitions(store: Store) -> None:
    assert await store.count_sessions_by_state() == {}
    first, second = make_session("s1"), make_session("s2")
    assert await store.save_session(first)
    assert await store.save_session(second)
    assert await store.count_sessions_by_state() == {"requested": 2}

    stale = first.model_copy(deep=True)
    first.state = "queued"
    assert await store.save_session(first)
    assert await store.count_sessions_by_state() == {"requested": 1, "queued": 1}

    stale.state = "failed"  # a losing save counts nothing
    assert not await store.save_session(stale)
    assert await store.count_sessions_by_state() == {"requested": 1, "queued": 1}

    first.transfer_note = "same state"  # a save without a transition counts nothing
    assert await store.save_session(first)
    assert await store.count_sessions_by_state() == {"requested": 1, "queued": 1}

    first.state = "ended"
    assert await store.save_session(first)
    assert await store.count_sessions_by_state() == {"requested": 1, "ended": 1}

    second.state = "queued"
    assert await store.save_session(second)
    assert await store.count_sessions_by_state() == {"queued": 1, "ended": 1}


# --- delivery between nodes -------------------------------------------------------------


async def test_publish_reaches_only_subscribers_of_the_channel(store: Store) -> None:
    n1, everyone = Inbox(), Inbox()
    await store.subscribe(["n1"], n1.handler)
    await store.subscribe(["n1", "all"], everyone.handler)

    await store.publish("n2", "for n2")
    await store.publish("n1", "for n1")
    await store.publish("all", "for all")
    await store.publish("n1", "last")

    assert await n1.next() == "for n1"
    assert await n1.next() == "last"  # "for n2" and "for all" never came
    assert [await everyone.next() for _ in range(3)] == ["for n1", "for all", "last"]
    assert n1.queue.empty() and everyone.queue.empty()


async def test_a_failing_handler_does_not_stop_delivery(store: Store) -> None:
    seen_by_broken = Inbox()

    async def broken(payload: str) -> None:
        await seen_by_broken.handler(payload)
        raise ValueError(f"cannot handle {payload}")

    inbox = Inbox()
    await store.subscribe(["n1"], broken)
    await store.subscribe(["n1"], inbox.handler)
    await store.publish("n1", "one")  # the publisher never sees the handler's error
    await store.publish("n1", "two")
    assert [await inbox.next(), await inbox.next()] == ["one", "two"]
    # The failing handler keeps its subscription too.
    assert [await seen_by_broken.next(), await seen_by_broken.next()] == ["one", "two"]


# --- lifecycle --------------------------------------------------------------------------


async def test_ping_and_idempotent_close(store: Store) -> None:
    assert await store.ping()
    await store.subscribe(["n1"], Inbox().handler)
    await store.close()
    await store.close()


# --- Redis only -------------------------------------------------------------------------


def _restart_gracefully(server: RedisServer) -> None:
    """Stop redis with SIGTERM and start it again."""
    server.restart()


def _restart_after_crash(server: RedisServer) -> None:
    """Kill redis with SIGKILL (no shutdown work) and start it again."""
    server.kill()
    server.start()


@pytest.mark.redis
@pytest.mark.parametrize(
    "restart",
    [
        pytest.param(_restart_gracefully, id="sigterm"),
        pytest.param(_restart_after_crash, id="sigkill"),
    ],
)
async def test_redis_data_survives_a_restart(
    redis_server: RedisServer, redis_url: str, restart: Callable[[RedisServer], None]
) -> None:
    before = open_store(redis_url)
    try:
        event_id = await before.append_event({"type": "session.requested", "session": "s1"})
        record = make_session("s1", state="queued")
        assert await before.save_session(record)
        assert await before.save_expert(make_expert("e1"))

        await asyncio.to_thread(restart, redis_server)

        # The old client reconnects by itself.
        assert await before.ping()
        assert await before.load_session("s1") == record
    finally:
        await before.close()

    after = open_store(redis_url)
    try:
        assert await after.read_events() == [
            (event_id, {"type": "session.requested", "session": "s1"})
        ]
        assert await after.load_session("s1") == record
        expert = await after.load_expert("e1")
        assert expert is not None and expert.version == 1
        assert await after.count_sessions_by_state() == {"queued": 1}
    finally:
        await after.close()


@pytest.mark.redis
async def test_redis_subscription_survives_a_restart(
    redis_server: RedisServer, redis_url: str
) -> None:
    store = open_store(redis_url)
    try:
        inbox = Inbox()
        await store.subscribe(["n1"], inbox.handler)
        await store.publish("n1", "before")
        assert await inbox.next() == "before"

        await asyncio.to_thread(redis_server.restart)

        # Messages published before the listener re-subscribes are lost (pub/sub is
        # fire-and-forget): publish again until one arrives.
        async with asyncio.timeout(DELIVERY_DEADLINE_S):
            while True:
                await store.publish("n1", "after")
                try:
                    payload = await asyncio.wait_for(inbox.queue.get(), 0.2)
                except TimeoutError:
                    continue
                break
        assert payload == "after"
    finally:
        await store.close()


KEY_WITH_HASH_TAG = re.compile(r"^etp:\{[^}]+\}")


@pytest.mark.redis
async def test_redis_every_key_has_a_hash_tag(redis_url: str) -> None:
    store = open_store(redis_url)
    try:
        session = make_session("s1")
        assert await store.save_session(session)
        session.state = "ended"
        assert await store.save_session(session)
        assert await store.save_session(make_session("s2"))
        assert await store.save_expert(make_expert("e1"))
        await store.set_available("kela", "e1", 1.0)
        await store.set_available("vero", "e2", 1.0)
        await store.clear_available("vero", "e2")
        await store.enqueue("kela/benefits/fi", "s2", 1.0)
        await store.enqueue("vero/tax/fi", "s3", 1.0)
        await store.dequeue("vero/tax/fi", "s3")
        await store.add_handling_time("kela/benefits/fi", 120.0)
        await store.set_offer_deadline("s2", 10.0)
        await store.touch_presence(["alice", "bob"], "n1", 1.0)
        await store.mark_disconnected("alice", "n1", 2.0)
        await store.add_membership("bob", "s2")
        await store.append_event({"type": "x"})
        assert await store.save_record("iv", "t1", make_expert("t1"))
        await store.index_add("iv-available", "t1", 1.0)
        await store.subscribe(["n1"], Inbox().handler)
        await store.publish("n1", "payload")
        await store.load_session("s1")
        await store.load_expert("e1")
        await store.count_sessions_by_state()
        await store.available_experts("kela")
        await store.queue_members("kela/benefits/fi")
        await store.queue_rank("kela/benefits/fi", "s2")
        await store.queue_lengths()
        await store.handling_times("kela/benefits/fi")
        await store.expired_offers(100.0)
        await store.presence_node("bob")
        await store.stale_subjects(100.0)
        await store.memberships("bob")
        await store.read_events()
        assert await store.ping()
    finally:
        await store.close()

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        keys = sorted(str(k) for k in client.keys("*"))
    finally:
        client.close()
    assert len(keys) >= 10
    assert [k for k in keys if not KEY_WITH_HASH_TAG.match(k)] == []


@pytest.mark.redis
async def test_redis_subscribe_after_close_is_refused(redis_url: str) -> None:
    store = RedisStore(redis_url)
    await store.close()

    async def handler(payload: str) -> None:
        pass

    with pytest.raises(RuntimeError, match="closed"):
        await asyncio.wait_for(store.subscribe(["n1"], handler), 5)


async def test_booth_health_keeps_the_latest_report_per_site(store: Store) -> None:
    assert await store.booth_health() == {}
    await store.save_booth_health("lib-kitee", {"kiosk": "running", "received_at": 1.0})
    await store.save_booth_health("bus-lieksa", {"kiosk": "down", "received_at": 2.0})
    await store.save_booth_health("lib-kitee", {"kiosk": "starting", "received_at": 3.0})
    assert await store.booth_health() == {
        "lib-kitee": {"kiosk": "starting", "received_at": 3.0},
        "bus-lieksa": {"kiosk": "down", "received_at": 2.0},
    }


async def test_login_failures_count_within_their_window_and_clear(store: Store) -> None:
    assert await store.login_failures("user:kela.expert", 1000.0, 60.0) == []
    for at in (1000.0, 1010.0, 1050.0):
        await store.add_login_failure("user:kela.expert", at, 60.0)
    await store.add_login_failure("user:vero.expert", 1050.0, 60.0)
    assert await store.login_failures("user:kela.expert", 1055.0, 60.0) == [
        1000.0,
        1010.0,
        1050.0,
    ]
    # The first failure left the window.
    assert await store.login_failures("user:kela.expert", 1065.0, 60.0) == [1010.0, 1050.0]
    await store.clear_login_failures("user:kela.expert")
    assert await store.login_failures("user:kela.expert", 1065.0, 60.0) == []
    assert await store.login_failures("user:vero.expert", 1065.0, 60.0) == [1050.0]
