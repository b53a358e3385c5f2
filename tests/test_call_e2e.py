"""A whole booth-to-expert call with real aiortc media through a real node."""

from __future__ import annotations

from signaling.client import SignalingClient
from signaling.protocol import SessionEnded, SessionUpdate
from signaling.store import MemoryStore, Store

from .support import booth_client, eventually, frames, running_node, staff_client, start_call


async def run_call(booth: SignalingClient, expert: SignalingClient, store: Store) -> None:
    """Drive a Kela call from request to end and check media and events."""
    session_id, booth_call, expert_call = await start_call(booth, expert)
    try:
        for call in (booth_call, expert_call):
            (received,) = call.received.values()
            assert received.video_size == (320, 240) and received.audio_frames >= 10
            assert received.ice_candidates > 0  # candidates came only as relayed ICE
        await booth.wait_for(SessionUpdate, lambda u: u.session.state == "active")

        await expert.request(
            {"type": "session_end", "session_id": session_id, "outcome": "resolved"}
        )
        ended = await booth.wait_for(SessionEnded)
        assert (ended.state, ended.outcome) == ("ended", "resolved")
    finally:
        await booth_call.close()
        await expert_call.close()

    events = [e for _, e in await store.read_events() if e["session_id"] == session_id]
    kinds = [e["kind"] for e in events]
    for expected in (
        "session_requested",
        "session_queued",
        "session_offered",
        "session_connecting",
        "participant_joined",
        "session_active",
        "session_ended",
    ):
        assert expected in kinds, (expected, kinds)
    assert (
        kinds.index("session_requested")
        < kinds.index("session_offered")
        < kinds.index("session_active")
        < kinds.index("session_ended")
    )
    final = events[-1]
    assert final["state"] == "ended" and final["outcome"] == "resolved"
    assert final["answered_at"] is not None and final["ended_at"] >= final["answered_at"]
    # No names in the log: subjects and usernames never appear.
    assert "kela.expert" not in str(events) and "staff:" not in str(events)


async def test_booth_to_expert_call_on_memory_store() -> None:
    store = MemoryStore()
    async with running_node(store) as node:
        booth = await booth_client(node.base_url)
        expert = await staff_client(node.base_url, "kela.expert")
        try:
            await run_call(booth, expert, store)
        finally:
            await booth.close()
            await expert.close()


async def test_media_comes_back_after_a_broken_peer_connection_is_renegotiated() -> None:
    async with running_node(MemoryStore()) as node:
        booth = await booth_client(node.base_url)
        expert = await staff_client(node.base_url, "kela.expert")
        session_id, booth_call, expert_call = await start_call(booth, expert)
        try:
            (expert_id,) = booth_call.peers
            # The booth loses its peer connection (e.g. its page reloaded).
            await booth_call.peers[expert_id].close()
            before = (frames(booth_call), frames(expert_call))
            welcome = await booth.connect()
            (session,) = welcome.sessions
            await booth_call.resumed(session)
            await eventually(
                lambda: (
                    frames(booth_call) > before[0] + 20 and frames(expert_call) > before[1] + 20
                ),
                timeout=30,
                message="video flows both ways again after renegotiation",
            )
            assert booth_call.peers[expert_id].connectionState == "connected"
        finally:
            await booth_call.close()
            await expert_call.close()
            await booth.close()
            await expert.close()
