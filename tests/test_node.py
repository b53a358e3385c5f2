"""A node over real WebSockets: resume, grace period, limits, shutdown, health, metrics."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from signaling.client import SignalingClient
from signaling.protocol import (
    CallQueued,
    ErrorCode,
    GoingAway,
    Offer,
    ParticipantEvent,
    QueueStatus,
    SessionEnded,
    Welcome,
)
from signaling.store import MemoryStore

from .support import (
    booth_client,
    directory_with,
    eventually,
    node_of,
    parties,
    running_node,
    staff_client,
)

KELA = {"type": "call_request", "agency": "kela", "service": "general", "language": "fi"}


async def drop(client: SignalingClient) -> None:
    """Lose the socket as a network failure would (the client keeps its resume token)."""
    assert client._ws is not None
    await client._ws.close()
    await client.disconnected.wait()


async def test_booth_resumes_its_place_within_grace() -> None:
    store = MemoryStore()
    async with running_node(store) as node:
        first = await booth_client(node.base_url, "bus-lieksa")
        booth = await booth_client(node.base_url)
        try:
            await first.request(KELA)
            queued = await booth.request(KELA, expect=CallQueued)
            status = await booth.wait_for(QueueStatus)
            assert status.position == 2
            await drop(booth)
            await eventually(
                lambda: "site:lib-kitee" not in node_of(node).connections, message="dropped"
            )
            welcome = await booth.connect()
            assert welcome.resumed
            assert [s.session_id for s in welcome.sessions] == [queued.session.session_id]
            assert welcome.sessions[0].state == "queued"
            again = await booth.wait_for(
                QueueStatus, lambda s: s.session_id == queued.session.session_id
            )
            assert again.position == 2
        finally:
            await first.close()
            await booth.close()


async def test_grace_period_running_out_abandons_waiting_call() -> None:
    store = MemoryStore()
    directory = directory_with(routing={"grace_period_s": 1.0})
    async with running_node(store, directory) as node:
        booth = await booth_client(node.base_url)
        queued = await booth.request(KELA, expect=CallQueued)
        await booth.close()

        async def abandoned() -> bool:
            record = await store.load_session(queued.session.session_id)
            return record is not None and record.state == "abandoned"

        await eventually(abandoned, timeout=10, message="session abandoned after grace")
        record = await store.load_session(queued.session.session_id)
        assert record is not None and record.end_reason == "booth_lost"
        assert await store.queue_lengths() == {}
        kinds = [e["kind"] for _, e in await store.read_events()]
        assert kinds[-2:] == ["participant_disconnected", "session_ended"]


async def test_members_are_told_of_disconnect_and_reconnect() -> None:
    store = MemoryStore()
    async with running_node(store) as node:
        async with parties(node.base_url, node.base_url) as (booth, expert):
            await expert.request({"type": "set_availability", "status": "available"})
            queued = await booth.request(KELA, expect=CallQueued)
            session_id = queued.session.session_id
            await expert.wait_for(Offer)
            await expert.request({"type": "offer_accept", "session_id": session_id})
            await drop(expert)
            gone = await booth.wait_for(ParticipantEvent, lambda e: e.event == "disconnected")
            assert gone.participant.kind == "expert" and not gone.participant.connected
            welcome = await expert.connect()
            assert welcome.resumed and welcome.sessions[0].state == "connecting"
            back = await booth.wait_for(ParticipantEvent, lambda e: e.event == "reconnected")
            assert back.participant.id == gone.participant.id and back.participant.connected
            await expert.request(
                {"type": "session_end", "session_id": session_id, "outcome": "resolved"}
            )
            assert (await booth.wait_for(SessionEnded)).outcome == "resolved"


async def test_expert_reconnect_rings_open_offer_again() -> None:
    store = MemoryStore()
    async with running_node(store) as node:
        async with parties(node.base_url, node.base_url) as (booth, expert):
            await expert.request({"type": "set_availability", "status": "available"})
            await booth.request(KELA)
            first = await expert.wait_for(Offer)
            await drop(expert)
            expert.drain_buffer()
            await expert.connect()
            again = await expert.wait_for(Offer)
            assert again.session_id == first.session_id


async def test_token_refresh_gives_a_working_token() -> None:
    async with running_node(MemoryStore()) as node:
        expert = await staff_client(node.base_url, "kela.expert")
        try:
            old = expert.token
            expires = await expert.refresh_token()
            assert expert.token != old and expires > node_of(node).clock()
            principal = node_of(node).authority.verify(expert.token)
            assert principal.subject == "staff:kela.expert" and "expert" in principal.roles
            await drop(expert)
            welcome = await expert.connect()
            assert welcome.identity.subject == "staff:kela.expert"
        finally:
            await expert.close()


async def test_second_connection_of_a_subject_replaces_the_first() -> None:
    async with running_node(MemoryStore()) as node:
        old = await booth_client(node.base_url)
        new = SignalingClient(old.url, old.token)
        try:
            await new.connect()
            await old.disconnected.wait()
            assert old.drain_buffer()[-1].code == ErrorCode.CONFLICT  # type: ignore[union-attr]
            assert node_of(node).connections["site:lib-kitee"].ws is not None
            pong = await new.request({"type": "ping"})
            assert pong.type == "pong"  # type: ignore[attr-defined]
        finally:
            await old.close()
            await new.close()


async def test_slow_consumer_is_dropped_not_buffered_without_bound() -> None:
    limits = {"send_queue_max": 16, "rate_per_s": 10_000, "rate_burst": 10_000}
    store = MemoryStore()
    async with running_node(store, directory_with(limits=limits)) as node:
        async with parties(node.base_url, node.base_url) as (booth, expert):
            await expert.request({"type": "set_availability", "status": "available"})
            queued = await booth.request(KELA, expect=CallQueued)
            session_id = queued.session.session_id
            await expert.wait_for(Offer)
            await expert.request({"type": "offer_accept", "session_id": session_id})
            record = await store.load_session(session_id)
            assert record is not None
            expert_id = next(m.id for m in record.members if m.kind == "expert")
            # The expert stops reading; the booth sends it large (valid) SDP frames.
            assert expert._reader is not None
            expert._reader.cancel()
            frame = json.dumps(
                {
                    "type": "signal",
                    "session_id": session_id,
                    "to": expert_id,
                    "payload": {"kind": "sdp", "sdp_type": "offer", "sdp": "v=0 " + "a" * 50_000},
                }
            )
            n = node_of(node)
            slow = n.connections["staff:kela.expert"]
            sent = 0
            while not slow.closing and sent < 1000:
                await booth.send_raw(frame)
                sent += 1
                await asyncio.sleep(0.001)
            assert slow.closing, f"still open after {sent} frames of 50 KB"
            assert slow.pending <= 16, "the send queue never grows past its bound"
            assert n.metrics.slow_consumers._value.get() == 1
            await eventually(lambda: "staff:kela.expert" not in n.connections, message="gone")
            pong = await booth.request({"type": "ping"})
            assert pong.type == "pong"  # type: ignore[attr-defined]


async def test_silent_client_is_closed_by_heartbeat() -> None:
    directory = directory_with(limits={"heartbeat_s": 0.4})
    async with running_node(MemoryStore(), directory) as node:
        booth = await booth_client(node.base_url)
        # Stop reading: aiohttp answers pings only while the client reads.
        assert booth._reader is not None
        booth._reader.cancel()
        n = node_of(node)
        await eventually(lambda: not n.connections, timeout=5, message="closed by heartbeat")
        assert await n.store.stale_subjects(n.clock() + 1) == ["site:lib-kitee"]
        await booth.close()


async def test_shutdown_sends_going_away_and_keeps_sessions() -> None:
    store = MemoryStore()
    async with running_node(store) as node:
        booth = await booth_client(node.base_url)
        queued = await booth.request(KELA, expect=CallQueued)
        await node.stop()
        await booth.going_away.wait()
        await booth.disconnected.wait()
        assert isinstance(
            [m for m in booth.drain_buffer() if isinstance(m, GoingAway)][0], GoingAway
        )
        record = await store.load_session(queued.session.session_id)
        assert record is not None and record.state == "queued", "a shutdown ends no session"
        await booth.close()


async def test_healthz_and_metrics() -> None:
    async with running_node(MemoryStore(), node_id="n-health") as node:
        booth = await booth_client(node.base_url)
        await booth.request(KELA)
        await booth.send_raw("{not json")
        async with aiohttp.ClientSession() as http:
            async with http.get(node.base_url + "/healthz") as resp:
                health = await resp.json()
            async with http.get(node.base_url + "/metrics") as resp:
                metrics = await resp.text()
        assert health["node_id"] == "n-health" and health["store"] == "memory"
        assert health["clients"] == 1 and health["status"] == "ok" and health["uptime_s"] >= 0
        for line in (
            'etapiste_connections{kind="booth"} 1.0',
            'etapiste_messages_in_total{type="call_request"} 1.0',
            'etapiste_messages_out_total{type="welcome"} 1.0',
            'etapiste_errors_total{code="bad_json"} 1.0',
            'etapiste_queue_length{queue="kela/general/fi"} 1.0',
            'etapiste_sessions{state="queued"} 1.0',
            "etapiste_routing_latency_seconds_bucket",
            "etapiste_send_queue_messages",
            "etapiste_events_waiting 0.0",
        ):
            assert line in metrics, line
        await booth.close()


async def test_welcome_carries_turn_credentials_when_configured() -> None:
    directory = directory_with(
        ice={
            "stun_urls": ["stun:turn.example.test:3478"],
            "turn_urls": ["turn:turn.example.test:3478?transport=udp"],
            "turn_secret": "s3cret-for-tests",
            "turn_ttl_s": 600,
        }
    )
    async with running_node(MemoryStore(), directory) as node:
        booth = await booth_client(node.base_url)
        welcome = booth.welcome
        assert isinstance(welcome, Welcome)
        stun, turn = welcome.ice_servers
        assert stun.urls == ["stun:turn.example.test:3478"] and stun.username is None
        expiry, user = (turn.username or "").split(":")
        assert user == "site" and 590 <= int(expiry) - node_of(node).clock() <= 600
        import base64
        import hashlib
        import hmac

        expected = base64.b64encode(
            hmac.new(b"s3cret-for-tests", turn.username.encode(), hashlib.sha1).digest()  # type: ignore[union-attr]
        ).decode()
        assert turn.credential == expected
        await booth.close()


async def test_queue_status_is_pushed_on_change_and_at_an_interval() -> None:
    directory = directory_with(routing={"queue_status_interval_s": 1.0})
    async with running_node(MemoryStore(), directory) as node:
        first = await booth_client(node.base_url, "bus-lieksa")
        second = await booth_client(node.base_url)
        try:
            ahead = await first.request(KELA, expect=CallQueued)
            mine = await second.request(KELA, expect=CallQueued)
            sid = mine.session.session_id
            assert (await second.wait_for(QueueStatus, lambda s: s.session_id == sid)).position == 2
            await first.request({"type": "call_cancel", "session_id": ahead.session.session_id})
            moved = await second.wait_for(
                QueueStatus, lambda s: s.session_id == sid and s.position == 1, timeout=3
            )
            assert moved.estimated_wait_s > 0
            # Nothing changes now, yet the booth hears again within the interval.
            second.drain_buffer()
            again = await second.wait_for(QueueStatus, lambda s: s.session_id == sid, timeout=3)
            assert again.position == 1
        finally:
            await first.close()
            await second.close()


async def test_staff_token_and_welcome_carry_role_scopes() -> None:
    import jwt

    async with running_node(MemoryStore()) as node:
        expert = await staff_client(node.base_url, "kela.expert")
        interpreter = await staff_client(node.base_url, "tulkki.fse")
        try:
            claims = jwt.decode(expert.token, options={"verify_signature": False})
            assert claims["roles"] == ["expert"]
            assert claims["grants"]["expert"]["agencies"] == ["kela"]
            assert expert.welcome is not None
            assert expert.welcome.identity.grants["expert"]["languages"] == ["fi", "sv"]
            assert interpreter.welcome is not None
            grants = interpreter.welcome.identity.grants["interpreter"]
            assert grants["modalities"] == ["sign"] and "fse" in grants["languages"]
            assert grants["provider"]
        finally:
            await expert.close()
            await interpreter.close()


def test_retry_after_is_never_zero_while_refused() -> None:
    from signaling.connection import TokenBucket

    bucket = TokenBucket(rate=20, burst=1)
    bucket._tokens = 0.99995  # a hair short of the next token: still refused
    assert bucket.retry_after() == 0.001  # rounded up, never 0.0
    bucket._tokens = 0.0
    assert bucket.retry_after() == 0.05  # a whole token at 20 a second
