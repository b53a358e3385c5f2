"""The booth's document camera during a call: capture, live look, preview, stills.

The camera runs only while the kiosk is in a call (the page tells the agent). Four times
a second the newest frame is looked at, scaled down: where the page is, whether it is
sharp, glare-free and whole. The booth shows that to the citizen and the console to the
expert; auto-capture takes a still once a good page has lain still. Stills are made from
the full-resolution frame and exist only in memory, on their way to the expert.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

from document_camera.capture import CaptureClosedError, DocumentCamera, Frame
from document_camera.pipeline import process
from document_camera.quality import Quality, QualityCode
from document_camera.sources import CaptureSettings
from document_camera.steady import AutoCapture
from signaling.tasks import cancel_and_wait

from .doccam_link import DoccamLink
from .doccam_still import DoccamStill, Trigger, make_still

log = logging.getLogger(__name__)

LOOK_INTERVAL_S = 0.25
LOOK_LONG_SIDE = 1280
KIOSK_PREVIEW_FPS = 8
KIOSK_PREVIEW_WIDTH = 1280
KIOSK_JPEG_QUALITY = 80
Feedback = Literal["no_document", "blur", "glare", "not_in_view", "too_small", "ok"]
State = Literal["off", "starting", "on", "error"]


@dataclass(frozen=True)
class Look:
    """What the live look saw in one frame."""

    feedback: Feedback
    corners: list[list[float]] | None  # 0-1 of the frame
    corners_px: np.ndarray | None  # in the scaled frame, for the steadiness check
    quality: Quality


def look(image: np.ndarray) -> Look:
    """Judge a frame scaled down: the page's outline and the first gate it fails."""
    height, width = image.shape[:2]
    scale = min(1.0, LOOK_LONG_SIDE / max(height, width))
    small = image
    if scale < 1.0:
        size = (round(width * scale), round(height * scale))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    result = process(small)
    failed = result.quality.failed
    feedback: Feedback
    if result.corners is None:
        feedback = "not_in_view" if QualityCode.NOT_IN_VIEW in failed else "no_document"
        return Look(feedback, None, None, result.quality)
    feedback = str(failed[0]) if failed else "ok"  # type: ignore[assignment]
    h, w = small.shape[:2]
    corners = [[round(float(x) / w, 4), round(float(y) / h, 4)] for x, y in result.corners]
    return Look(feedback, corners, result.corners, result.quality)


class DoccamService:
    """The document camera of the booth, on during calls and off between them."""

    def __init__(
        self,
        settings: CaptureSettings | None,
        websocket_url: str,
        token: Callable[[], Awaitable[str]],
        camera_factory: Callable[[CaptureSettings], DocumentCamera] = DocumentCamera,
    ) -> None:
        self.settings = settings
        self._url = websocket_url
        self._token = token
        self._camera_factory = camera_factory
        self.session_id: str | None = None
        self.camera: DocumentCamera | None = None
        self.link: DoccamLink | None = None
        self._looker: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._switch = asyncio.Lock()
        self._still_lock = asyncio.Lock()
        self._auto = AutoCapture()
        self.auto_capture = True
        self.black_and_white = False
        self._look: Look | None = None
        self.last_still: dict[str, Any] | None = None
        self._sent_status: dict[str, Any] | None = None

    # --- on and off -----------------------------------------------------------------------

    async def set_call(self, session_id: str | None) -> None:
        """Follow the kiosk's call: start for a session, stop (and forget all) for None."""
        async with self._switch:
            if session_id == self.session_id:
                return
            await self._stop()
            if session_id is None or self.settings is None:
                return
            self.session_id = session_id
            self.camera = self._camera_factory(self.settings)
            await self.camera.start()
            self.link = DoccamLink(
                self._url, self._token, session_id, self.camera, self._on_request, self._hello
            )
            self.link.start()
            self._looker = asyncio.create_task(self._look_loop(), name="doccam-look")
            self._watcher = asyncio.create_task(self._off_when_over(self.link), name="doccam-end")
            log.info("document camera on for %s", session_id)

    async def _off_when_over(self, link: DoccamLink) -> None:
        """Turn off when the call ends or refuses the camera, even if the page never says."""
        await link.ended.wait()
        async with self._switch:
            if self.link is link:
                self._watcher = None  # this task: _stop must not cancel it
                await self._stop()

    async def _stop(self) -> None:
        """Leave the call, close the camera and forget every frame, look and still."""
        if self._watcher is not None:
            await cancel_and_wait([self._watcher])
            self._watcher = None
        if self._looker is not None:
            await cancel_and_wait([self._looker])
            self._looker = None
        if self.link is not None:
            await self.link.close()
            self.link = None
        if self.camera is not None:
            await self.camera.close()
            self.camera = None
            log.info("document camera off")
        self.session_id = None
        self._auto = AutoCapture()
        self._look = None
        self.last_still = None
        self._sent_status = None

    async def close(self) -> None:
        """Turn the document camera off; idempotent."""
        async with self._switch:
            await self._stop()

    # --- what the booth and the console see -----------------------------------------------

    @property
    def state(self) -> State:
        """Off, starting, on, or error (the camera failed)."""
        if self.camera is None:
            return "off"
        status = self.camera.status
        if status.state == "running":
            return "on"
        return "error" if status.state == "error" else "starting"

    def status(self) -> dict[str, Any]:
        """The document camera as the kiosk page sees it (GET /api/doccam)."""
        error = None
        if self.camera is not None and self.camera.status.state == "error":
            error = {"code": self.camera.status.code, "message": self.camera.status.message}
        live = self.state == "on" and self._look is not None
        return {
            "state": self.state,
            "error": error,
            "feedback": self._look.feedback if live and self._look else None,
            "steady": round(self._auto.progress(time.monotonic()), 2) if live else 0.0,
            "corners": self._look.corners if live and self._look else None,
            "last_still": self.last_still,
            "expert_connected": self._expert_watching(),
            # Whether a good page held still will be captured (the booth's countdown).
            "auto_capture": self.auto_capture and self._expert_watching(),
        }

    def _expert_watching(self) -> bool:
        return bool(self.link and self.link.expert_watching)

    def _hello(self) -> dict[str, Any]:
        source = self.camera.status.source if self.camera else None
        return {
            "width": source.width if source else 0,
            "height": source.height if source else 0,
            "auto_capture": self.auto_capture,
            "bw": self.black_and_white,
        }

    async def preview_jpegs(self) -> AsyncIterator[bytes]:
        """Yield the kiosk's preview: JPEGs of the newest frames, until the camera stops."""
        camera = self.camera
        if camera is None:
            return
        seq = 0
        while True:
            started = time.monotonic()
            try:
                frame = await camera.next_frame(seq, timeout=5.0)
            except CaptureClosedError:
                return
            except TimeoutError:
                if self.camera is not camera:
                    return
                continue
            seq = frame.seq
            yield await asyncio.to_thread(_preview_jpeg, frame.image)
            await asyncio.sleep(max(0.0, 1 / KIOSK_PREVIEW_FPS - (time.monotonic() - started)))

    # --- the live look and auto-capture ---------------------------------------------------

    async def _look_loop(self) -> None:
        camera, link = self.camera, self.link
        assert camera is not None and link is not None
        seq = 0
        while True:
            started = time.monotonic()
            frame = camera.latest()
            if frame is not None and frame.seq != seq:
                seq = frame.seq
                seen = await asyncio.to_thread(look, frame.image)
                self._look = seen
                await self._judge(seen, frame, link)
                await self._report(link)
            await asyncio.sleep(max(0.05, LOOK_INTERVAL_S - (time.monotonic() - started)))

    async def _judge(self, seen: Look, frame: Frame, link: DoccamLink) -> None:
        """Feed auto-capture; take a still when a good page has lain still long enough."""
        if not (self.auto_capture and link.expert_watching):
            self._auto = AutoCapture()  # nobody to send to: start the dwell afresh later
            return
        if self._auto.feed(seen.corners_px, seen.quality, time.monotonic()):
            await self.take_still("auto", None, self.black_and_white, frame)

    async def _report(self, link: DoccamLink) -> None:
        """Tell the console what the booth tells the citizen, when it changed."""
        status = self.status()
        sent = {k: status[k] for k in ("feedback", "steady", "corners")}  # the console's
        if sent != self._sent_status:
            self._sent_status = sent
            await link.send_status(sent)

    # --- stills ---------------------------------------------------------------------------

    async def take_still(
        self, trigger: Trigger, request_id: str | None, bw: bool, frame: Frame | None = None
    ) -> DoccamStill | None:
        """Make a still of the newest full-resolution frame and send it to the expert."""
        async with self._still_lock:
            camera, link = self.camera, self.link
            if camera is None or link is None:
                return None
            frame = frame or camera.latest()
            if frame is None:
                status = camera.status
                await link.send_to(
                    None,
                    {
                        "type": "still_failed",
                        "request_id": request_id,
                        "code": status.code or "no_frame",
                        "message": status.message or "the document camera has no picture yet",
                    },
                )
                return None
            still = await asyncio.to_thread(make_still, frame.image, trigger, request_id, bw)
            self.last_still = {
                "still_id": still.still_id,
                "trigger": trigger,
                "at": still.captured_at,
            }
            sent = await link.send_still(still)
            # Figures only, no picture: what an operator (and the end-to-end test) needs.
            log.info(
                "still %s (%s) sent to %d viewer(s): corners %s, sha256 %s",
                still.still_id,
                trigger,
                sent,
                json.dumps(still.corners),
                " ".join(f"{p.name}={p.describe()['sha256']}" for p in still.parts),
            )
            return still

    async def _on_request(self, participant_id: str, message: dict[str, Any]) -> None:
        """Handle what a viewer's console asks over the data channel."""
        kind = message.get("type")
        if kind == "capture":
            request_id = message.get("request_id")
            if not isinstance(request_id, str) or not 0 < len(request_id) <= 64:
                request_id = None
            await self.take_still("expert", request_id, message.get("bw") is True)
        elif kind == "options":
            if isinstance(message.get("auto_capture"), bool):
                self.auto_capture = message["auto_capture"]
            if isinstance(message.get("bw"), bool):
                self.black_and_white = message["bw"]
            if self.link is not None:
                await self.link.send_to(participant_id, {"type": "hello", **self._hello()})


def _preview_jpeg(image: np.ndarray) -> bytes:
    """Scale a frame to the kiosk preview's width and encode it as JPEG."""
    height, width = image.shape[:2]
    if width > KIOSK_PREVIEW_WIDTH:
        size = (KIOSK_PREVIEW_WIDTH, round(height * KIOSK_PREVIEW_WIDTH / width))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, KIOSK_JPEG_QUALITY])
    if not ok:
        raise ValueError("could not encode the preview")
    return buffer.tobytes()
