"""Two real `etapiste serve` processes sharing one real Redis, or a three-master Redis
Cluster."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import RedisCluster
from redis.exceptions import MaxConnectionsError

import signaling.store.redis as redis_store
from signaling.client import SignalingClient
from signaling.protocol import (
    CallQueued,
    Offer,
    ParticipantEvent,
    SessionEnded,
)
from signaling.store import Store, open_store

from .conftest import STORE_SPECS
from .support import (
    ServeProcess,
    booth_client,
    eventually,
    frames,
    parties,
    staff_client,
    start_call,
)
from .test_call_e2e import run_call

pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]


@pytest.fixture(params=["redis", "cluster"])
def shared(request: pytest.FixtureRequest) -> str:
    """The store the nodes share: one Redis, or a three-master Redis Cluster (empty)."""
    return str(request.getfixturevalue(STORE_SPECS[request.param]))


@pytest.fixture
async def nodes(shared: str) -> AsyncIterator[tuple[ServeProcess, ServeProcess]]:
    a, b = ServeProcess(shared, "node-a"), ServeProcess(shared, "node-b")
    try:
        await a.start()
        await b.start()
        yield a, b
    finally:
        a.kill()
        b.kill()


@pytest.fixture
async def events(shared: str) -> AsyncIterator[Store]:
    store = open_store(shared)
    yield store
    await store.close()


async def test_call_between_booth_on_one_node_and_expert_on_other(
    nodes: tuple[ServeProcess, ServeProcess], events: Store
) -> None:
    a, b = nodes
    async with parties(a.base_url, b.base_url) as (booth, expert):
        assert booth.welcome and booth.welcome.node_id == "node-a"
        assert expert.welcome and expert.welcome.node_id == "node-b"
        await run_call(booth, expert, events)


async def test_killed_node_booth_resumes_on_other_node_and_call_goes_on(
    nodes: tuple[ServeProcess, ServeProcess], events: Store
) -> None:
    a, b = nodes
    booth = await booth_client(a.base_url)
    expert = await staff_client(b.base_url, "kela.expert")
    booth_call = expert_call = None
    try:
        session_id, booth_call, expert_call = await start_call(booth, expert)
        a.kill()  # SIGKILL: no goodbye, no cleanup
        await booth.disconnected.wait()
        welcome = await booth.connect(b.ws_url)
        assert welcome.node_id == "node-b" and welcome.resumed
        (session,) = welcome.sessions
        assert session.session_id == session_id and session.state in ("connecting", "active")
        await booth_call.resumed(session)
        back = await expert.wait_for(ParticipantEvent, lambda e: e.event == "reconnected")
        assert back.participant.kind == "booth"
        before = (frames(booth_call), frames(expert_call))
        await eventually(
            lambda: frames(booth_call) > before[0] + 10 and frames(expert_call) > before[1] + 10,
            timeout=15,
            message="frames keep arriving after the node died",
        )
        await expert.request(
            {"type": "session_end", "session_id": session_id, "outcome": "resolved"}
        )
        ended = await booth.wait_for(SessionEnded)
        assert (ended.state, ended.outcome) == ("ended", "resolved")
        kinds = [e["kind"] for _, e in await events.read_events() if e["session_id"] == session_id]
        assert "participant_reconnected" in kinds and kinds[-1] == "session_ended"
        assert "session_requeued" not in kinds and "abandoned" not in str(kinds)
    finally:
        for call in (booth_call, expert_call):
            if call is not None:
                await call.close()
        await booth.close()
        await expert.close()


async def test_drained_node_sends_going_away_and_booth_resumes_elsewhere(
    nodes: tuple[ServeProcess, ServeProcess], events: Store
) -> None:
    a, b = nodes
    async with parties(a.base_url, b.base_url) as (booth, expert):
        await expert.request({"type": "set_availability", "status": "paused"})
        queued = await booth.request(
            {"type": "call_request", "agency": "kela", "service": "general", "language": "fi"},
            expect=CallQueued,
        )
        drained = asyncio.create_task(a.terminate())  # SIGTERM: graceful drain
        await booth.going_away.wait()
        await booth.disconnected.wait()
        welcome = await booth.connect(b.ws_url)
        assert welcome.resumed and welcome.sessions[0].state == "queued"
        # The call still routes: the expert on node B goes available and is offered it.
        await expert.request({"type": "set_availability", "status": "available"})
        offer = await expert.wait_for(Offer)
        assert offer.session_id == queued.session.session_id
        assert await drained == 0, "node A exited cleanly"


async def test_new_connection_on_other_node_replaces_the_old_one(
    nodes: tuple[ServeProcess, ServeProcess],
) -> None:
    a, b = nodes
    old = await booth_client(a.base_url)
    new = SignalingClient(b.ws_url, old.token)
    try:
        await new.connect()
        await asyncio.wait_for(old.disconnected.wait(), 10)
        errors = [m for m in old.drain_buffer() if getattr(m, "type", "") == "error"]
        assert errors and errors[-1].code == "conflict"  # type: ignore[attr-defined]
        pong = await new.request({"type": "ping"})
        assert pong.type == "pong"  # type: ignore[attr-defined]
    finally:
        await old.close()
        await new.close()


async def test_cluster_commands_wait_for_a_connection_instead_of_failing(
    redis_cluster_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # redis-py's cluster client raises MaxConnectionsError when a node's pool is empty;
    # the store's client waits instead. A pool of 4 against 200 concurrent store calls
    # (the two-node load test hit the default of 64).
    monkeypatch.setattr(redis_store, "MAX_CONNECTIONS", 4)
    store = open_store(redis_cluster_url)
    try:
        members = [f"s-{i:03d}" for i in range(100)]
        await asyncio.gather(
            *(store.enqueue("kela/general/fi", m, i) for i, m in enumerate(members))
        )
        ranks = await asyncio.gather(*(store.queue_rank("kela/general/fi", m) for m in members))
        assert ranks == list(range(100))
        assert await store.queue_members("kela/general/fi", 1000) == members
    finally:
        await store.close()

    # Why the store wraps it: the bare client, same pool, same load, fails.
    plain = redis_cluster_url.replace("redis+cluster://", "redis://")
    bare = RedisCluster.from_url(plain, max_connections=4)
    try:
        replies = await asyncio.gather(
            *(bare.zcard("{probe}:q") for _ in range(200)), return_exceptions=True
        )
        assert any(isinstance(r, MaxConnectionsError) for r in replies), replies[:3]
    finally:
        await bare.aclose()
