"""A session's media from Python: one aiortc peer connection per remote participant.

Who makes the first offer between two participants is fixed by their ids: the smaller
id offers. Later, either side may renegotiate when its connection broke; if both offer
at once, the smaller id's offer wins and the other side answers it ("perfect
negotiation"). SDP goes without candidates; candidates trickle as ``ice`` signals, as
browsers send them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError

from ..protocol import (
    IcePayload,
    ParticipantEvent,
    SdpPayload,
    ServerMessage,
    SessionInfo,
    SessionUpdate,
    SignalRelay,
)
from .ice import rtc_configuration
from .trickle import description_payloads, remote_candidate
from .wire import SignalingClient

log = logging.getLogger(__name__)


# How long a connection that aiortc closed by itself waits before we renegotiate: the
# other side may be a reloaded page, whose own offer is on its way and wins.
CLOSED_REPAIR_DELAY_S = 3.0


@dataclass(frozen=True)
class _Repair:
    """A peer connection broke: renegotiate with that participant.

    With ``pc`` set, only while that connection is still the participant's: an offer that
    arrived meanwhile has already replaced it.
    """

    participant_id: str
    pc: RTCPeerConnection | None = None


@dataclass(frozen=True)
class _Resumed:
    """Our own connection to the server was re-established."""

    session: SessionInfo


@dataclass
class Received:
    """What arrived from one remote participant."""

    video_frames: int = 0
    audio_frames: int = 0
    video_size: tuple[int, int] = (0, 0)
    audio_peak: int = 0
    ice_candidates: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class Call:
    """Media of one session seen from one participant."""

    def __init__(
        self,
        client: SignalingClient,
        session_id: str,
        tracks: list[MediaStreamTrack],
        turn_transports: Sequence[str] | None = None,
    ) -> None:
        self.client = client
        self.session_id = session_id
        self.tracks = tracks
        # aiortc uses one TURN URL: the one of the first of these transports (signaling.client.ice).
        self.turn_transports = turn_transports
        # Each peer connection gets its own view of every source track: closing a peer
        # connection stops the tracks it sends, and the source must outlive it.
        self._relay = MediaRelay()
        self._ignored_offer: set[str] = set()
        # Document cameras: this client shows no pictures, so it takes none of their offers.
        self._doccams: set[str] = set()
        self.self_id: str | None = None
        self.peers: dict[str, RTCPeerConnection] = {}
        self.received: defaultdict[str, Received] = defaultdict(Received)
        self._inbox: asyncio.Queue[ServerMessage | _Resumed | _Repair] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._delayed: set[asyncio.TimerHandle] = set()
        self._closed = False
        client.add_listener(self._inbox.put_nowait)

    def start(self, update: SessionUpdate | None = None) -> None:
        """Start following the session (optionally from a session update in hand)."""
        if update is not None:
            self._inbox.put_nowait(update)
        self._worker = asyncio.create_task(self._work(), name=f"call-{self.session_id}")

    def _configuration(self) -> RTCConfiguration:
        return rtc_configuration(self.client.welcome, self.turn_transports)

    async def _work(self) -> None:
        while True:
            message = await self._inbox.get()
            try:
                await self._handle(message)
            except Exception:
                log.exception("call %s failed to handle %r", self.session_id, message)

    async def _handle(self, message: ServerMessage | _Resumed | _Repair) -> None:
        if isinstance(message, _Repair):
            if message.pc is None or self.peers.get(message.participant_id) is message.pc:
                await self._repair(message.participant_id)
            return
        if isinstance(message, _Resumed):
            self.self_id = message.session.self_id or self.self_id
            for participant in message.session.participants:
                if participant.id != self.self_id and participant.kind != "doccam":
                    await self._repair(participant.id)
            return
        if isinstance(message, SessionUpdate) and message.session.session_id == self.session_id:
            self.self_id = message.session.self_id or self.self_id
            self._doccams = {p.id for p in message.session.participants if p.kind == "doccam"}
            for participant in message.session.participants:
                if participant.id != self.self_id and participant.id not in self.peers:
                    if self._offers_to(participant.id) and participant.kind != "doccam":
                        await self._offer(participant.id)
        elif isinstance(message, ParticipantEvent) and message.session_id == self.session_id:
            pid = message.participant.id
            if message.event == "left":
                await self._drop(pid)
            elif message.event == "reconnected":
                await self._repair(pid)
        elif isinstance(message, SignalRelay) and message.session_id == self.session_id:
            if message.from_ not in self._doccams:
                await self._on_signal(message.from_, message.payload)

    async def _repair(self, participant_id: str) -> None:
        """Renegotiate with a participant unless media to it still flows.

        Media is peer-to-peer: a signaling node dying leaves it running, and tearing a
        working connection down would only cause a gap. An offer still waiting for its
        answer is made again: the server drops signals to a participant who is away, and
        that lost offer would otherwise win every later glare.
        """
        pc = self.peers.get(participant_id)
        if (
            pc is not None
            and pc.connectionState in ("new", "connecting", "connected")
            and pc.signalingState != "have-local-offer"
        ):
            return
        await self._drop(participant_id)
        try:
            await self._offer(participant_id)
        except ConnectionError:
            # Our signaling link is down: no half-made connection stays in the way of
            # the offer the resume makes once it is back.
            await self._drop(participant_id)

    async def resumed(self, session: SessionInfo) -> None:
        """Repair every peer connection after our own signaling reconnect."""
        self._inbox.put_nowait(_Resumed(session))

    def _offers_to(self, participant_id: str) -> bool:
        return self.self_id is not None and self.self_id < participant_id

    def _peer(self, participant_id: str) -> RTCPeerConnection:
        pc = RTCPeerConnection(self._configuration())
        for track in self.tracks:
            pc.addTrack(self._relay.subscribe(track, buffered=False))
        received = self.received[participant_id]

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            received.tasks.append(asyncio.create_task(self._consume(track, received)))

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if self.peers.get(participant_id) is not pc:
                return  # our own close: _drop pops the connection first
            if pc.connectionState == "failed":
                self._inbox.put_nowait(_Repair(participant_id))
            elif pc.connectionState == "closed":
                # aiortc closes by itself when consent is lost (a restarted TURN server)
                # and when the other side hangs up its DTLS (a reloaded page, whose new
                # offer must not race ours): repair later, unless an offer came first.
                self._later(CLOSED_REPAIR_DELAY_S, _Repair(participant_id, pc))

        self.peers[participant_id] = pc
        return pc

    def _later(self, delay: float, message: _Repair) -> None:
        """Hand ``message`` to the worker after ``delay`` seconds (cancelled by close)."""

        def deliver() -> None:
            self._delayed.discard(handle)
            self._inbox.put_nowait(message)

        handle = asyncio.get_running_loop().call_later(delay, deliver)
        self._delayed.add(handle)

    async def _consume(self, track: MediaStreamTrack, received: Received) -> None:
        """Decode every frame of a remote track and count it."""
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame: Any = await track.recv()
                if track.kind == "video":
                    received.video_frames += 1
                    received.video_size = (frame.width, frame.height)
                else:
                    received.audio_frames += 1
                    samples = frame.to_ndarray()
                    received.audio_peak = max(received.audio_peak, int(np.abs(samples).max()))

    async def _send_description(self, participant_id: str, pc: RTCPeerConnection) -> None:
        for payload in description_payloads(pc.localDescription):
            await self._signal(participant_id, payload)

    async def _signal(self, participant_id: str, payload: dict[str, Any]) -> None:
        await self.client.send(
            {
                "type": "signal",
                "session_id": self.session_id,
                "to": participant_id,
                "payload": payload,
            }
        )

    async def _offer(self, participant_id: str) -> None:
        pc = self._peer(participant_id)
        await pc.setLocalDescription(await pc.createOffer())
        await self._send_description(participant_id, pc)

    async def _on_signal(self, participant_id: str, payload: SdpPayload | IcePayload) -> None:
        if isinstance(payload, SdpPayload):
            if payload.sdp_type == "offer":
                current = self.peers.get(participant_id)
                glare = current is not None and current.signalingState == "have-local-offer"
                if glare and self._offers_to(participant_id):
                    # Both offered at once: ours wins; theirs, and its candidates, are ignored.
                    self._ignored_offer.add(participant_id)
                    return
                self._ignored_offer.discard(participant_id)
                await self._drop(participant_id)
                pc = self._peer(participant_id)
                await pc.setRemoteDescription(RTCSessionDescription(payload.sdp, "offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                await self._send_description(participant_id, pc)
            elif payload.sdp_type == "answer" and participant_id in self.peers:
                self._ignored_offer.discard(participant_id)
                await self.peers[participant_id].setRemoteDescription(
                    RTCSessionDescription(payload.sdp, "answer")
                )
            return
        pc_or_none = self.peers.get(participant_id)
        if pc_or_none is None or participant_id in self._ignored_offer:
            return
        candidate = remote_candidate(payload)
        with contextlib.suppress(ValueError):  # a duplicate after end-of-candidates
            await pc_or_none.addIceCandidate(candidate)
        if candidate is not None:
            self.received[participant_id].ice_candidates += 1

    async def _drop(self, participant_id: str) -> None:
        pc = self.peers.pop(participant_id, None)
        received = self.received.get(participant_id)
        if received is not None:
            for task in received.tasks:
                task.cancel()
            await asyncio.gather(*received.tasks, return_exceptions=True)
            received.tasks.clear()
        if pc is not None:
            await pc.close()

    async def close(self) -> None:
        """Close every peer connection and stop following the session; idempotent."""
        if self._closed:
            return
        self._closed = True
        for handle in self._delayed:
            handle.cancel()
        self._delayed.clear()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        for participant_id in list(self.peers):
            await self._drop(participant_id)
