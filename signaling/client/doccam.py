"""An expert's view of a booth's document camera from Python (tests, benchmarks).

It answers the document camera's offer (docs/protocol.md §4.5), counts the preview's
frames, and collects stills from the ``doccam`` data channel, checking each part's
SHA-256 as the console does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from ..protocol import SignalRelay
from .trickle import remote_candidate
from .wire import SignalingClient


class ChecksumError(Exception):
    """A still's part did not match its SHA-256."""


@dataclass
class ReceivedStill:
    """A still as it arrived: its announcement, its parts' bytes, when it was complete."""

    announcement: dict[str, Any]
    parts: dict[str, bytes] = field(default_factory=dict)
    arrived_at: dict[str, float] = field(default_factory=dict)  # perf_counter per part
    completed_at: float = 0.0


class DoccamViewer:
    """Answer the document camera of one session and keep what it sends."""

    def __init__(self, client: SignalingClient, session_id: str) -> None:
        self.client = client
        self.session_id = session_id
        self.pc: RTCPeerConnection | None = None
        self.channel: RTCDataChannel | None = None
        self.messages: list[dict[str, Any]] = []
        self.stills: list[ReceivedStill] = []
        self.preview_frames = 0
        self.preview_size = (0, 0)
        self._current: ReceivedStill | None = None
        self._buffer = bytearray()
        self._changed = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start answering the document camera's offers."""
        self._tasks.append(asyncio.create_task(self._follow(), name="doccam-viewer"))

    async def close(self) -> None:
        """Close the peer connection and stop following; idempotent."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.pc is not None:
            await self.pc.close()
            self.pc = None

    def send(self, message: dict[str, Any]) -> None:
        """Send a request (``capture``, ``options``) over the data channel."""
        assert self.channel is not None, "the data channel is not open"
        self.channel.send(json.dumps(message))

    async def wait(self, predicate: Any, timeout: float = 30.0) -> None:
        """Wait until ``predicate()`` is true, re-checking whenever something arrives."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """Return the text messages of one type, in order."""
        return [m for m in self.messages if m.get("type") == kind]

    async def _follow(self) -> None:
        while True:
            relay = await self.client.wait_for(
                SignalRelay, lambda r: r.session_id == self.session_id, timeout=3600
            )
            payload = relay.payload
            if payload.kind == "sdp" and payload.sdp_type == "offer":
                await self._answer(relay.from_, payload.sdp)
            elif payload.kind == "ice" and self.pc is not None:
                with contextlib.suppress(ValueError):
                    await self.pc.addIceCandidate(remote_candidate(payload))

    async def _answer(self, doccam_id: str, sdp: str) -> None:
        if self.pc is not None:
            await self.pc.close()
        pc = self.pc = RTCPeerConnection()
        pc.on("datachannel", self._on_channel)
        pc.on("track", self._on_track)
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

    def _on_channel(self, channel: RTCDataChannel) -> None:
        self.channel = channel
        channel.on("message", self._on_message)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.create_task(self._count(track)))

    async def _count(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame: Any = await track.recv()
                self.preview_frames += 1
                self.preview_size = (frame.width, frame.height)
                await self._notify()

    def _on_message(self, data: str | bytes) -> None:
        if isinstance(data, str):
            message = json.loads(data)
            self.messages.append(message)
            if message.get("type") == "still":
                self._current = ReceivedStill(message)
                self._buffer.clear()
        elif self._current is not None:
            self._buffer.extend(data)
            self._take_parts(self._current)
        asyncio.ensure_future(self._notify())

    def _take_parts(self, still: ReceivedStill) -> None:
        """Cut complete parts off the buffer, checking each one's SHA-256."""
        for part in still.announcement["parts"]:
            if part["name"] in still.parts:
                continue
            if len(self._buffer) < part["bytes"]:
                return
            data = bytes(self._buffer[: part["bytes"]])
            del self._buffer[: part["bytes"]]
            if hashlib.sha256(data).hexdigest() != part["sha256"]:
                raise ChecksumError(f"{part['name']} of {still.announcement['still_id']}")
            still.parts[part["name"]] = data
            still.arrived_at[part["name"]] = time.perf_counter()
        still.completed_at = time.perf_counter()
        self.stills.append(still)
        self._current = None

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()
