"""The demo's headless expert answers a booth's call with media and ends it on time."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path

from signaling.client import Call, SyntheticCamera, SyntheticMicrophone
from signaling.client.answering import answer_calls
from signaling.protocol import CallQueued, CaptionRelay, SessionEnded, SessionUpdate
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


async def test_demo_interpreter_joins_a_call_with_media_and_writes_captions(tmp_path: Path) -> None:
    async with running_node(MemoryStore()) as node:
        # The demo's robots, as `make demo` runs them: one process, expert and interpreter.
        log_path = tmp_path / "robots.log"
        with log_path.open("wb") as log:
            robots = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "signaling.cli",
                    "answer",
                    "--server",
                    node.base_url,
                    "--username",
                    "kela.expert",
                    "--interpreter",
                    "tulkki.text",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        booth = await booth_client(node.base_url)
        call: Call | None = None
        try:
            await eventually(
                lambda: b"tulkki.text is available" in log_path.read_bytes(),
                timeout=30,
                message="the robots signed in",
            )
            # The citizen chose speech-to-text at the booth: it is asked for on answer.
            request = {**KELA_CALL, "interpreter": {"language": "fi", "modality": "text"}}
            queued = await booth.request(request, expect=CallQueued)
            session_id = queued.session.session_id
            call = Call(booth, session_id, [SyntheticCamera(), SyntheticMicrophone()])
            call.start(SessionUpdate(session=queued.session))
            joined = await booth.wait_for(
                SessionUpdate,
                lambda u: any(p.kind == "interpreter" for p in u.session.participants),
                timeout=20,
            )
            interpreter = next(p for p in joined.session.participants if p.kind == "interpreter")
            assert interpreter.interpreting is not None
            assert interpreter.interpreting.modality == "text"
            await eventually(
                lambda: call is not None and call.received[interpreter.id].video_frames >= 10,
                timeout=30,
                message="the interpreter's video at the booth",
            )
            caption = await booth.wait_for(CaptionRelay, timeout=10)
            assert caption.session_id == session_id and caption.text
            assert caption.from_ == interpreter.id
            assert b"tulkki.text joined " + session_id.encode() in log_path.read_bytes()
        finally:
            robots.terminate()
            try:
                robots.wait(timeout=10)
            except subprocess.TimeoutExpired:
                robots.kill()
            if call is not None:
                await call.close()
            await booth.close()
