"""The document camera as a call participant: server rules, aiortc publishing, stills.

A real node, the agent's real DoccamService with a fake source (a generated 12 MP page),
and an expert whose side is a plain aiortc peer connection answering the document
camera's offer. The browser console's side is tested in test_doccam_e2e.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

from document_camera.sources import CaptureSettings
from document_camera.synth import MP_12, sample_frame
from endpoint_agent.doccam import DoccamService
from signaling.client import SignalingClient, SignalingError, device_token
from signaling.protocol import (
    CallQueued,
    ErrorCode,
    Offer,
    SessionUpdate,
    SignalRelay,
)
from signaling.store import MemoryStore

from .support import DEMO_SECRETS, RunningNode, booth_client, eventually, running_node, staff_client

pytestmark = pytest.mark.timeout(90)

KELA_CALL = {"type": "call_request", "agency": "kela", "service": "general", "language": "fi"}


@pytest.fixture(scope="module")
def sample_12mp(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A generated 12 MP frame of the sample page on a desk, and its ground truth."""
    scene = sample_frame(MP_12)
    path = tmp_path_factory.mktemp("doccam") / "page.png"
    cv2.imwrite(str(path), scene.image)
    return path, scene


@dataclass
class ExpertSide:
    """The expert's end of the document camera: answers its offer, keeps what arrives."""

    client: SignalingClient
    session_id: str
    pc: RTCPeerConnection | None = None
    texts: list[dict[str, Any]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    frames: int = 0
    channel: Any = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self) -> asyncio.Task[None]:
        return asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        while True:
            relay = await self.client.wait_for(SignalRelay, timeout=60)
            payload = relay.payload
            if payload.kind == "sdp" and payload.sdp_type == "offer":
                await self._answer(relay.from_, payload.sdp)
            elif payload.kind == "ice" and self.pc is not None and payload.candidate:
                candidate = candidate_from_sdp(payload.candidate.split(":", 1)[1])
                candidate.sdpMid = payload.sdp_mid
                candidate.sdpMLineIndex = payload.sdp_mline_index
                await self.pc.addIceCandidate(candidate)

    async def _answer(self, doccam_id: str, sdp: str) -> None:
        if self.pc is not None:
            await self.pc.close()
        pc = self.pc = RTCPeerConnection()

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            self.channel = channel

            @channel.on("message")
            def on_message(data: str | bytes) -> None:
                if isinstance(data, str):
                    self.texts.append(json.loads(data))
                else:
                    self.chunks.append(data)
                self.arrived.set()

        @pc.on("track")
        def on_track(track: Any) -> None:
            async def count() -> None:
                with contextlib.suppress(MediaStreamError):
                    while True:
                        await track.recv()
                        self.frames += 1

            asyncio.ensure_future(count())

        await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await self.client.send(
            {
                "type": "signal",
                "session_id": self.session_id,
                "to": doccam_id,
                "payload": {"kind": "sdp", "sdp_type": "answer", "sdp": pc.localDescription.sdp},
            }
        )

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.texts if m.get("type") == kind]


@asynccontextmanager
async def call_with_doccam(
    fake: Path,
) -> AsyncIterator[tuple[RunningNode, SignalingClient, SignalingClient, str, DoccamService]]:
    """A Kela call at lib-kitee with kela.expert, and the booth's document camera on."""
    store = MemoryStore()
    async with running_node(store) as node:
        booth = await booth_client(node.base_url)
        expert = await staff_client(node.base_url, "kela.expert")
        await expert.request({"type": "set_availability", "status": "available"})
        queued = await booth.request(KELA_CALL, expect=CallQueued)
        session_id = queued.session.session_id
        await expert.wait_for(Offer)
        await expert.request({"type": "offer_accept", "session_id": session_id})

        async def token() -> str:
            return await device_token(
                node.base_url, "lib-kitee", DEMO_SECRETS["lib-kitee"], "doccam"
            )

        service = DoccamService(
            CaptureSettings(fake=fake, fps=10), node.base_url.replace("http", "ws") + "/ws", token
        )
        try:
            yield node, booth, expert, session_id, service
        finally:
            await service.close()
            await booth.close()
            await expert.close()
            await store.close()


async def test_the_doccam_joins_sends_preview_and_a_requested_12mp_still_intact(
    sample_12mp: tuple[Path, Any],
) -> None:
    path, scene = sample_12mp
    async with call_with_doccam(path) as (_, booth, expert, session_id, service):
        side = ExpertSide(expert, session_id)
        follower = side.start()
        try:
            await service.set_call(session_id)
            update = await booth.wait_for(
                SessionUpdate,
                lambda u: any(p.kind == "doccam" for p in u.session.participants),
            )
            assert [p.kind for p in update.session.participants].count("doccam") == 1
            await eventually(lambda: bool(side.of_type("hello")), timeout=30, message="channel hello")
            hello = side.of_type("hello")[0]
            assert (hello["width"], hello["height"]) == MP_12
            await eventually(lambda: side.frames >= 10, timeout=30, message="preview frames")
            await eventually(lambda: bool(side.of_type("status")), timeout=10, message="a status")
            assert side.of_type("status")[-1]["feedback"] in ("ok", "blur", "glare")

            # The fake page lies still: auto-capture sends one still by itself. Wait for it
            # so the requested one below is told apart.
            await eventually(lambda: bool(side.of_type("still")), timeout=15, message="auto still")
            auto = side.of_type("still")[0]
            assert auto["trigger"] == "auto"
            await eventually(
                lambda: sum(map(len, side.chunks)) >= sum(p["bytes"] for p in auto["parts"]),
                timeout=15,
                message="the auto still's bytes",
            )
            side.chunks.clear()

            requested = time.perf_counter()
            side.channel.send(json.dumps({"type": "capture", "request_id": "r1", "bw": False}))
            await eventually(
                lambda: any(s.get("request_id") == "r1" for s in side.of_type("still")),
                timeout=15,
                message="the requested still",
            )
            still = next(s for s in side.of_type("still") if s.get("request_id") == "r1")
            total = sum(p["bytes"] for p in still["parts"])
            await eventually(
                lambda: sum(map(len, side.chunks)) >= total, timeout=15, message="all bytes"
            )
            took = time.perf_counter() - requested
            data = b"".join(side.chunks)
            assert len(data) == total
            assert max(len(c) for c in side.chunks) <= 64 * 1024
            offset = 0
            images = {}
            for part in still["parts"]:
                blob = data[offset : offset + part["bytes"]]
                offset += part["bytes"]
                assert hashlib.sha256(blob).hexdigest() == part["sha256"]
                images[part["name"]] = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR)
            assert still["trigger"] == "expert" and (still["width"], still["height"]) == MP_12
            assert images["original"].shape[:2] == (MP_12[1], MP_12[0])
            page = images["page"]
            assert page is not None
            truth = cv2.resize(scene.page, (page.shape[1], page.shape[0]))
            a = cv2.GaussianBlur(cv2.cvtColor(page, cv2.COLOR_BGR2GRAY), (0, 0), 2).astype(float)
            b = cv2.GaussianBlur(cv2.cvtColor(truth, cv2.COLOR_BGR2GRAY), (0, 0), 2).astype(float)
            assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.85
            print(f"12 MP still, request to last byte: {took * 1000:.0f} ms, {total} bytes")
            assert service.status()["last_still"]["trigger"] == "expert"
        finally:
            follower.cancel()
            if side.pc is not None:
                await side.pc.close()

        booth.drain_buffer()
        await service.set_call(None)
        gone = await booth.wait_for(
            SessionUpdate, lambda u: all(p.kind != "doccam" for p in u.session.participants)
        )
        assert gone.session.state in ("active", "connecting")
        assert service.status() == {
            "state": "off",
            "error": None,
            "feedback": None,
            "steady": 0.0,
            "corners": None,
            "last_still": None,
            "expert_connected": False,
        }


async def test_the_server_keeps_the_doccam_to_its_site_and_to_the_expert(
    sample_12mp: tuple[Path, Any],
) -> None:
    path, _ = sample_12mp
    async with call_with_doccam(path) as (node, booth, expert, session_id, _):
        other = SignalingClient(
            node.base_url.replace("http", "ws") + "/ws",
            await device_token(node.base_url, "bus-lieksa", DEMO_SECRETS["bus-lieksa"], "doccam"),
        )
        ours = SignalingClient(
            node.base_url.replace("http", "ws") + "/ws",
            await device_token(node.base_url, "lib-kitee", DEMO_SECRETS["lib-kitee"], "doccam"),
        )
        await other.connect()
        await ours.connect()
        try:
            join = {"type": "doccam_join", "session_id": session_id}
            with pytest.raises(SignalingError) as refused:
                await other.request(join)
            assert (refused.value.error.code, refused.value.error.field) == (
                ErrorCode.FORBIDDEN,
                "session_id",
            )
            with pytest.raises(SignalingError) as unknown:
                await ours.request({**join, "session_id": "s-" + "0" * 32})
            assert unknown.value.error.code == ErrorCode.FORBIDDEN
            # A kiosk may not join as the document camera.
            with pytest.raises(SignalingError) as wrong_role:
                await booth.request(join)
            assert (wrong_role.value.error.code, wrong_role.value.error.field) == (
                ErrorCode.FORBIDDEN,
                "type",
            )
            await ours.request(join)
            await ours.request(join)  # twice is harmless
            update = await expert.wait_for(
                SessionUpdate, lambda u: any(p.kind == "doccam" for p in u.session.participants)
            )
            members = {p.kind: p.id for p in update.session.participants}
            assert sorted(p.kind for p in update.session.participants) == [
                "booth",
                "doccam",
                "expert",
            ]
            signal = {
                "type": "signal",
                "session_id": session_id,
                "payload": {"kind": "sdp", "sdp_type": "offer", "sdp": "v=0\r\n"},
            }
            # To the expert: relayed. To the booth: refused, in both directions.
            await ours.send({**signal, "to": members["expert"]})
            relayed = await expert.wait_for(SignalRelay)
            assert relayed.from_ == members["doccam"]
            for sender, to in ((ours, members["booth"]), (booth, members["doccam"])):
                sender.drain_buffer()
                await sender.send({**signal, "to": to})
                error = await sender.wait_for(type(refused.value.error), timeout=5)
                assert (error.code, error.field) == (ErrorCode.FORBIDDEN, "to")

            # Sharing with interpreters is the expert's call, and everyone is told.
            with pytest.raises(SignalingError) as not_expert:
                await booth.request(
                    {"type": "doccam_share", "session_id": session_id, "shared": True}
                )
            assert not_expert.value.error.code == ErrorCode.FORBIDDEN
            await expert.request({"type": "doccam_share", "session_id": session_id, "shared": True})
            shared = await booth.wait_for(SessionUpdate, lambda u: u.session.doccam_shared)
            assert shared.session.doccam_shared is True

            await ours.request({"type": "session_leave", "session_id": session_id})
            left = await expert.wait_for(
                SessionUpdate, lambda u: all(p.kind != "doccam" for p in u.session.participants)
            )
            assert left.session.state == "active" or left.session.state == "connecting"
        finally:
            await other.close()
            await ours.close()
