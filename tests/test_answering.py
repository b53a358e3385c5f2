"""The demo's headless expert answers a booth's call with media and ends it on time."""

from __future__ import annotations

import asyncio
import contextlib

from signaling.client import Call, SyntheticCamera, SyntheticMicrophone
from signaling.client.answering import answer_calls
from signaling.protocol import CallQueued, SessionEnded, SessionUpdate
from signaling.store import MemoryStore

from .support import KELA_CALL, booth_client, eventually, frames, running_node


async def test_demo_expert_answers_with_media_and_ends_after_the_hold_time() -> None:
    async with running_node(MemoryStore()) as node:
        expert = asyncio.create_task(answer_calls(node.base_url, "kela.expert", "demo", hold_s=6))
        booth = await booth_client(node.base_url)
        call: Call | None = None
        try:
            queued = await booth.request(KELA_CALL, expect=CallQueued)
            session_id = queued.session.session_id
            call = Call(booth, session_id, [SyntheticCamera(), SyntheticMicrophone()])
            call.start(SessionUpdate(session=queued.session))
            await eventually(lambda: frames(call) >= 10, timeout=20, message="expert's video")
            ended = await booth.wait_for(
                SessionEnded, lambda e: e.session_id == session_id, timeout=20
            )
            assert (ended.state, ended.outcome) == ("ended", "resolved")
        finally:
            if call is not None:
                await call.close()
            await booth.close()
            expert.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await expert
