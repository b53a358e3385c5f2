"""The document camera as a participant of a call: its own signaling link, aiortc peers.

The document camera makes every offer (docs/protocol.md §4.5): one send-only video track
(the live preview) and one data channel, ``doccam``, for stills and their requests. It
connects only to the members the server lets it see: experts, and interpreters while
the expert shares it. It repairs its own connections, because browsers never offer to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import cv2
import numpy as np
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from av import VideoFrame

from document_camera.capture import DocumentCamera
from signaling.client import SignalingClient, SignalingError
from signaling.client.ice import rtc_configuration
from signaling.client.trickle import description_payloads, remote_candidate
from signaling.protocol import (
    IcePayload,
    ParticipantEvent,
    SdpPayload,
    ServerMessage,
    SessionEnded,
    SessionInfo,
    SessionUpdate,
    SignalRelay,
)
from signaling.tasks import cancel_and_wait

from .doccam_still import DoccamStill

log = logging.getLogger(__name__)

PREVIEW_FPS = 10
PREVIEW_LONG_SIDE = 1280  # 1280x720 from a 16:9 camera, 1280x960 from a 4:3 one
CHUNK_BYTES = 64 * 1024
# Stop queueing a still's chunks while this much is still unsent (memory stays bounded).
HIGH_WATER_BYTES = 1024 * 1024
RECONNECT_BACKOFF_S = (0.5, 1.0, 2.0, 5.0)
REPAIR_DELAY_S = 1.0
VIDEO_CLOCK = 90_000

Request = Callable[[str, dict[str, Any]], Awaitable[None]]


def preview_size(width: int, height: int, long_side: int = PREVIEW_LONG_SIDE) -> tuple[int, int]:
    """Return the preview's size: the frame scaled to ``long_side``, even numbers."""
    scale = long_side / max(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


class PreviewTrack(VideoStreamTrack):
    """The live preview: the newest camera frame, scaled down, at a steady 10 fps."""

    def __init__(self, camera: DocumentCamera) -> None:
        super().__init__()
        self._camera = camera
        self._size = (PREVIEW_LONG_SIDE, PREVIEW_LONG_SIDE * 9 // 16)
        self._started: float | None = None
        self._count = 0
        self._last: tuple[int, np.ndarray] | None = None

    async def recv(self) -> VideoFrame:
        if self._started is None:
            self._started = time.monotonic()
        else:
            self._count += 1
            wait = self._started + self._count / PREVIEW_FPS - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        image = await self._image()
        frame = VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = round(self._count * VIDEO_CLOCK / PREVIEW_FPS)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame

    async def _image(self) -> np.ndarray:
        """Return the newest frame at preview size (grey until the camera gives one)."""
        latest = self._camera.latest()
        if latest is None:
            return np.full((self._size[1], self._size[0], 3), 40, np.uint8)
        if self._last is not None and self._last[0] == latest.seq:
            return self._last[1]
        height, width = latest.image.shape[:2]
        self._size = preview_size(width, height)
        small = await asyncio.to_thread(
            cv2.resize, latest.image, self._size, interpolation=cv2.INTER_AREA
        )
        self._last = (latest.seq, small)
        return small


class Viewer:
    """One member who sees the document camera: our peer connection and channel to them."""

    def __init__(self, participant_id: str, kind: str, pc: RTCPeerConnection) -> None:
        self.participant_id = participant_id
        self.kind = kind
        self.pc = pc
        self.channel: RTCDataChannel | None = None
        self.drained = asyncio.Event()
        self.drained.set()

    @property
    def open(self) -> bool:
        """Tell whether the data channel is open."""
        return self.channel is not None and self.channel.readyState == "open"


class DoccamLink:
    """The document camera's membership of one session, kept up until closed."""

    def __init__(
        self,
        websocket_url: str,
        token: Callable[[], Awaitable[str]],
        session_id: str,
        camera: DocumentCamera,
        on_request: Request,
        hello: Callable[[], dict[str, Any]],
        turn_transports: Sequence[str] | None = None,
    ) -> None:
        self._url = websocket_url
        # aiortc uses one TURN URL: the one of the first of these transports
        # (signaling.client.ice; None: $ETAPISTE_TURN_TRANSPORT, else udp, tcp, tls).
        self._turn_transports = turn_transports
        self._token = token
        self.session_id = session_id
        self._camera = camera
        self._on_request = on_request
        self._hello = hello
        self._client: SignalingClient | None = None
        self._resume_token: str | None = None
        self._session: SessionInfo | None = None
        self._viewers: dict[str, Viewer] = {}
        self._inbox: asyncio.Queue[ServerMessage] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._repairs: dict[str, asyncio.Task[None]] = {}
        self.joined = asyncio.Event()
        self.ended = asyncio.Event()

    # --- the service's side ---------------------------------------------------------------

    def start(self) -> None:
        """Join the session in the background and keep the membership up."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"doccam-{self.session_id}")

    @property
    def expert_watching(self) -> bool:
        """Tell whether an expert's data channel is open (someone can take stills)."""
        return any(v.open and v.kind == "expert" for v in self._viewers.values())

    async def send_status(self, status: dict[str, Any]) -> None:
        """Send a status message to every open channel."""
        text = json.dumps({"type": "status", **status})
        for viewer in list(self._viewers.values()):
            if viewer.open:
                assert viewer.channel is not None
                viewer.channel.send(text)

    async def send_to(self, participant_id: str | None, message: dict[str, Any]) -> None:
        """Send a text message to one viewer (None: to every expert)."""
        text = json.dumps(message)
        for viewer in list(self._viewers.values()):
            if viewer.open and (viewer.participant_id == participant_id or participant_id is None):
                assert viewer.channel is not None
                viewer.channel.send(text)

    async def send_still(self, still: DoccamStill) -> int:
        """Send a still to every expert whose channel is open; return how many got it."""
        viewers = [v for v in self._viewers.values() if v.open and v.kind == "expert"]
        sent = await asyncio.gather(*(self._send_still(v, still) for v in viewers))
        return sum(sent)

    async def close(self) -> None:
        """Leave the session and close every peer connection; idempotent."""
        client = self._client
        if client is not None and not client.disconnected.is_set() and not self.ended.is_set():
            # Leave first, while the link is up: the call goes on without the camera.
            with contextlib.suppress(Exception):
                await client.request(
                    {"type": "session_leave", "session_id": self.session_id}, timeout=2
                )
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait([task, *self._repairs.values()])
            self._repairs.clear()
        for participant_id in list(self._viewers):
            await self._drop(participant_id)

    # --- the membership -------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while not self.ended.is_set():
            try:
                await self._serve_once()
                failures = 0
            except (OSError, aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
                log.warning("document camera link lost: %s", exc)
            except SignalingError as exc:
                log.warning("document camera refused: %s", exc)
                if exc.error.code in ("forbidden", "conflict", "not_found"):
                    self.ended.set()  # the call is over or not ours: nothing to retry
                    return
            if self.ended.is_set():
                return
            await asyncio.sleep(RECONNECT_BACKOFF_S[min(failures, len(RECONNECT_BACKOFF_S) - 1)])
            failures += 1

    async def _serve_once(self) -> None:
        """Connect (resuming), join, and follow the session until the link drops."""
        client = SignalingClient(self._url, await self._token(), resume_token=self._resume_token)
        self._inbox = asyncio.Queue()
        client.add_listener(self._inbox.put_nowait)
        try:
            await client.connect()
            self._client = client
            self._resume_token = client.resume_token
            await client.request({"type": "doccam_join", "session_id": self.session_id})
            self.joined.set()
            # After a reconnect, signals sent meanwhile were dropped: mend what is broken.
            for participant_id in list(self._viewers):
                self._schedule_repair(participant_id, 0, force=False)
            disconnected = asyncio.create_task(client.disconnected.wait())
            getter: asyncio.Task[ServerMessage] | None = None
            try:
                while not self.ended.is_set():
                    getter = asyncio.create_task(self._inbox.get())
                    done, _ = await asyncio.wait(
                        {getter, disconnected}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if getter not in done:
                        raise ConnectionError("the signaling link closed")
                    await self._handle(getter.result())
            finally:
                await cancel_and_wait([t for t in (getter, disconnected) if t is not None])
        finally:
            if self._client is client:
                self._client = None
            await client.close()

    async def _handle(self, message: ServerMessage) -> None:
        try:
            if isinstance(message, SessionUpdate):
                if message.session.session_id == self.session_id:
                    await self._apply(message.session)
            elif isinstance(message, ParticipantEvent) and message.session_id == self.session_id:
                if message.event == "left":
                    await self._drop(message.participant.id)
                elif message.event == "reconnected" and message.participant.id in self._viewers:
                    # The viewer's page may have reloaded and lost its side: offer afresh.
                    self._schedule_repair(message.participant.id, 0)
            elif isinstance(message, SignalRelay) and message.session_id == self.session_id:
                await self._on_signal(message.from_, message.payload)
            elif isinstance(message, SessionEnded) and message.session_id == self.session_id:
                self.ended.set()
        except Exception:
            log.exception("document camera: could not handle %s", message.type)

    def _allowed(self, session: SessionInfo) -> dict[str, str]:
        """Return the members we may connect to, by id, with their kind."""
        return {
            p.id: p.kind
            for p in session.participants
            if p.kind == "expert" or (p.kind == "interpreter" and session.doccam_shared)
        }

    async def _apply(self, session: SessionInfo) -> None:
        self._session = session
        allowed = self._allowed(session)
        for participant_id in list(self._viewers):
            if participant_id not in allowed:
                await self._drop(participant_id)
        for participant_id, kind in allowed.items():
            if participant_id not in self._viewers:
                await self._offer(participant_id, kind)

    # --- peer connections -----------------------------------------------------------------

    def _configuration(self) -> RTCConfiguration:
        welcome = self._client.welcome if self._client else None
        return rtc_configuration(welcome, self._turn_transports)

    async def _offer(self, participant_id: str, kind: str) -> None:
        """Open a new peer connection to a viewer and send it our offer."""
        await self._drop(participant_id)
        pc = RTCPeerConnection(self._configuration())
        viewer = Viewer(participant_id, kind, pc)
        self._viewers[participant_id] = viewer
        pc.addTransceiver(PreviewTrack(self._camera), direction="sendonly")
        channel = pc.createDataChannel("doccam", ordered=True)
        channel.bufferedAmountLowThreshold = HIGH_WATER_BYTES // 4
        viewer.channel = channel

        @channel.on("open")
        def on_open() -> None:
            channel.send(json.dumps({"type": "hello", **self._hello()}))

        @channel.on("message")
        def on_message(data: str | bytes) -> None:
            if isinstance(data, str):
                asyncio.ensure_future(self._request(participant_id, data))

        @channel.on("bufferedamountlow")
        def on_low() -> None:
            viewer.drained.set()

        @pc.on("connectionstatechange")
        def on_state() -> None:
            # "closed" by aiortc itself (consent lost, e.g. a restarted TURN server) is a
            # failure too; our own closes pop the viewer first.
            failed = pc.connectionState in ("failed", "closed")
            if failed and self._viewers.get(participant_id) is viewer:
                self._schedule_repair(participant_id, REPAIR_DELAY_S)

        await pc.setLocalDescription(await pc.createOffer())
        await self._send_description(participant_id, pc)

    async def _request(self, participant_id: str, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            return
        if isinstance(message, dict) and isinstance(message.get("type"), str):
            try:
                await self._on_request(participant_id, message)
            except Exception:
                log.exception("document camera: request %s failed", message.get("type"))

    def _schedule_repair(self, participant_id: str, delay: float, *, force: bool = True) -> None:
        """Offer a viewer again from a new peer connection (unless not forced and working)."""
        old = self._repairs.pop(participant_id, None)
        if old is not None:
            old.cancel()
        self._repairs[participant_id] = asyncio.create_task(
            self._repair(participant_id, delay, force)
        )

    async def _repair(self, participant_id: str, delay: float, force: bool) -> None:
        await asyncio.sleep(delay)
        viewer = self._viewers.get(participant_id)
        if viewer is None:
            return
        if not force and viewer.pc.connectionState in ("new", "connecting", "connected"):
            return  # media is peer-to-peer: our own signaling blip left it running
        await self._offer(participant_id, viewer.kind)

    async def _send_description(self, participant_id: str, pc: RTCPeerConnection) -> None:
        for payload in description_payloads(pc.localDescription):
            await self._signal(participant_id, payload)

    async def _signal(self, participant_id: str, payload: dict[str, Any]) -> None:
        if self._client is None:
            return
        message = {
            "type": "signal",
            "session_id": self.session_id,
            "to": participant_id,
            "payload": payload,
        }
        with contextlib.suppress(ConnectionError):
            await self._client.send(message)

    async def _on_signal(self, participant_id: str, payload: SdpPayload | IcePayload) -> None:
        viewer = self._viewers.get(participant_id)
        if viewer is None:
            return
        pc = viewer.pc
        if isinstance(payload, SdpPayload):
            if payload.sdp_type == "answer" and pc.signalingState == "have-local-offer":
                await pc.setRemoteDescription(RTCSessionDescription(payload.sdp, "answer"))
            elif payload.sdp_type == "offer":
                # Browsers never offer to us; whoever did lost its side: start over.
                self._schedule_repair(participant_id, 0)
            return
        if pc.remoteDescription is None:
            return  # a candidate for an offer of theirs that we do not take
        with contextlib.suppress(ValueError):  # a duplicate after end-of-candidates
            await pc.addIceCandidate(remote_candidate(payload))

    async def _drop(self, participant_id: str) -> None:
        viewer = self._viewers.pop(participant_id, None)
        if viewer is not None:
            await viewer.pc.close()

    # --- stills ---------------------------------------------------------------------------

    async def _send_still(self, viewer: Viewer, still: DoccamStill) -> bool:
        """Send the announcement, then every part's bytes in chunks, holding back at high water."""
        channel = viewer.channel
        assert channel is not None
        try:
            channel.send(json.dumps(still.announcement()))
            for part in still.parts:
                view = memoryview(part.data)
                for offset in range(0, len(view), CHUNK_BYTES):
                    if channel.readyState != "open":
                        return False
                    if channel.bufferedAmount > HIGH_WATER_BYTES:
                        viewer.drained.clear()
                        await viewer.drained.wait()
                    channel.send(bytes(view[offset : offset + CHUNK_BYTES]))
        except Exception as exc:  # the channel closed under us
            log.info("document camera: still %s not sent: %s", still.still_id, exc)
            return False
        return True
