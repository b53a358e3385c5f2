"""The document camera: one capture thread keeping the latest frame, for asyncio code.

The thread owns the source (opens, reads, paces, closes it) and never touches the event
loop except through ``call_soon_threadsafe``. It keeps only the newest frame: a slow
consumer skips frames, memory stays at one frame. When the source fails, the thread
reports why (a stable code) and opens it again with a growing, capped delay until the
camera is back or the camera is closed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from .sources import CaptureError, CaptureSettings, ErrorCode, FrameSource, Image, SourceInfo
from .sources import source_for as default_source_for

log = logging.getLogger(__name__)

RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0)
"""Seconds before each new attempt to open a failed source; the last one repeats."""
STALL_AFTER = 3.0
"""Seconds without a frame (or three frame intervals, if longer) before a source is stalled."""
JOIN_TIMEOUT = 5.0
OPEN_TIMEOUT = 10.0
THREAD_NAME = "doccam-capture"

State = Literal["starting", "running", "error", "closed"]


class CaptureClosedError(Exception):
    """The document camera is closed."""


class Frame(NamedTuple):
    """One frame: the image (read-only), when it was read (the camera's clock), its number."""

    image: Image
    timestamp: float
    seq: int


@dataclass(frozen=True)
class CaptureStatus:
    """How the capture is doing, for the booth's health report."""

    state: State
    code: ErrorCode | None = None
    message: str = ""
    source: SourceInfo | None = None
    since: float = 0.0

    @property
    def device_state(self) -> Literal["ok", "missing", "error"]:
        """The state in the health report's terms (booth_health.devices.document_camera)."""
        if self.state == "running":
            return "ok"
        return "missing" if self.code == "doccam_missing" else "error"

    def as_dict(self) -> dict[str, Any]:
        """Return the status as JSON-ready data."""
        data: dict[str, Any] = {"state": self.state, "code": self.code, "message": self.message}
        if self.source is not None:
            data["source"] = {
                "description": self.source.description,
                "width": self.source.width,
                "height": self.source.height,
                "fps": self.source.fps,
                "refused": list(self.source.refused),
            }
        return data


def retry_delay(attempt: int, delays: Sequence[float] = RETRY_DELAYS) -> float:
    """Return the delay before attempt ``attempt`` (1 = the first retry) to open again."""
    return delays[min(max(attempt, 1), len(delays)) - 1]


class DocumentCamera:
    """Capture frames from a source in one worker thread and hand out the newest."""

    def __init__(
        self,
        settings: CaptureSettings,
        *,
        source_for: Callable[[CaptureSettings], FrameSource] = default_source_for,
        on_status: Callable[[CaptureStatus], None] | None = None,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        stall_after: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        open_timeout: float = OPEN_TIMEOUT,
        join_timeout: float = JOIN_TIMEOUT,
    ) -> None:
        if not retry_delays or min(retry_delays) <= 0:
            raise ValueError(f"retry_delays must be positive, not {tuple(retry_delays)}")
        self.settings = settings
        self._source_for = source_for
        self._on_status = on_status
        self._retry_delays = tuple(retry_delays)
        self._stall_after = stall_after or max(STALL_AFTER, 3.0 / settings.fps)
        self._clock = clock
        self._open_timeout = open_timeout
        self._join_timeout = join_timeout

        # Shared with the capture thread, under _lock.
        self._lock = threading.Lock()
        self._latest: Frame | None = None
        self._seq = 0
        self._last_frame_at: float | None = None
        self._status = CaptureStatus("starting", since=clock())
        self._wake_pending = False
        self._stop = threading.Event()

        # The loop's side.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._thread_done: asyncio.Future[None] | None = None
        self._first_attempt: asyncio.Future[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._new_frame = asyncio.Event()
        self._closing = False

    # --- the asyncio API ------------------------------------------------------------------

    @property
    def status(self) -> CaptureStatus:
        """The current status (running, or an error with its code, or closed)."""
        return self._status

    def latest(self) -> Frame | None:
        """Return the newest frame, or None before the first one and after close()."""
        return self._latest

    async def start(self) -> CaptureStatus:
        """Start capturing; return once the first attempt to open the source is over."""
        if self._closing:
            raise CaptureClosedError("cannot start a document camera that was closed")
        if self._thread is None:
            loop = self._loop = asyncio.get_running_loop()
            self._thread_done = loop.create_future()
            self._first_attempt = loop.create_future()
            self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
            self._thread.start()
            self._watchdog = asyncio.create_task(self._watch(), name="doccam-watchdog")
        assert self._first_attempt is not None
        # Opening a UVC camera can take a second or two; a driver that hangs must not
        # hang the agent, so the wait is bounded and the status then says "starting".
        await asyncio.wait({self._first_attempt}, timeout=self._open_timeout)
        return self._status

    async def next_frame(self, after_seq: int = 0, timeout: float | None = None) -> Frame:
        """Wait for a frame newer than ``after_seq`` and return it (the newest).

        Raise TimeoutError when none comes within ``timeout`` seconds, and
        CaptureClosedError when the camera is closed meanwhile.
        """
        async with asyncio.timeout(timeout):
            while True:
                if self._closing:
                    raise CaptureClosedError("the document camera is closed")
                # Take the event before looking: a frame published after the look sets it.
                event = self._new_frame
                frame = self._latest
                if frame is not None and frame.seq > after_seq:
                    return frame
                await event.wait()

    async def close(self) -> None:
        """Stop the capture thread and forget the frames; safe to call more than once."""
        self._closing = True
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
        if self._thread_done is not None and self._thread is not None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._join_timeout
            await asyncio.wait({self._thread_done}, timeout=self._join_timeout)
            # The thread said goodbye from its last lines: it is leaving now. Wait for it
            # to be gone without join(), which would block the loop.
            while self._thread_done.done() and self._thread.is_alive():
                if loop.time() > deadline:
                    break
                await asyncio.sleep(0.001)
        if self._thread is not None and self._thread.is_alive():
            # Stuck in a driver call; it is a daemon and releases the source when the call
            # returns (OpenCV's V4L2 read gives up after 10 s).
            log.warning(
                "document camera: the capture thread did not end within %s s", self._join_timeout
            )
        with self._lock:
            self._latest = None  # a citizen's page must not outlive the camera
            closed = self._status.state != "closed"
            if closed:
                self._status = CaptureStatus("closed", since=self._clock())
        if closed:
            self._emit(self._status)
        self._wake()

    async def __aenter__(self) -> DocumentCamera:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- the loop's side of the thread ----------------------------------------------------

    def _wake(self) -> None:
        """Wake every next_frame() waiting (on the loop)."""
        self._wake_pending = False
        event, self._new_frame = self._new_frame, asyncio.Event()
        event.set()

    def _emit(self, status: CaptureStatus) -> None:
        """Tell the listener about a new status (on the loop)."""
        if (
            status.state != "starting"
            and self._first_attempt is not None
            and not self._first_attempt.done()
        ):
            self._first_attempt.set_result(None)
        if self._on_status is not None:
            try:
                self._on_status(status)
            except Exception:
                log.exception("document camera: the status listener failed")

    def _call_on_loop(self, callback: Callable[..., None], *args: object) -> None:
        if self._loop is None:
            return
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            pass  # the loop is closed: nobody is left to tell

    async def _watch(self) -> None:
        """Mark the source stalled when frames stop (the thread may be stuck in a read)."""
        while True:
            await asyncio.sleep(self._stall_after / 4)
            with self._lock:
                last = self._last_frame_at
                stalled = (
                    self._status.state == "running"
                    and last is not None
                    and self._clock() - last > self._stall_after
                )
            if stalled:
                self._set_status(
                    "error",
                    "doccam_stalled",
                    f"no frame from the document camera for {self._stall_after:g} s",
                    self._status.source,
                )

    # --- the capture thread ---------------------------------------------------------------

    def _set_status(
        self, state: State, code: ErrorCode | None, message: str, source: SourceInfo | None
    ) -> None:
        """Change the status and tell the loop, unless nothing changed (any thread)."""
        with self._lock:
            if self._stop.is_set():
                return
            old = self._status
            if (old.state, old.code, old.message, old.source) == (state, code, message, source):
                return
            self._status = status = CaptureStatus(state, code, message, source, self._clock())
        if state == "error":
            log.warning("document camera: %s: %s", code, message)
        else:
            log.info("document camera: %s %s", state, source.description if source else "")
        self._call_on_loop(self._emit, status)

    def _publish(self, image: Image) -> None:
        image.flags.writeable = False
        with self._lock:
            self._seq += 1
            now = self._clock()
            self._latest = Frame(image, now, self._seq)
            self._last_frame_at = now
            wake = not self._wake_pending
            self._wake_pending = True
        if wake:  # one wake-up on the loop at a time, however fast the frames come
            self._call_on_loop(self._wake)

    def _run(self) -> None:
        try:
            self._capture_until_stopped()
        except Exception:
            log.exception("document camera: the capture thread failed")
            self._set_status("error", "doccam_stalled", "the capture thread failed", None)
        finally:
            self._call_on_loop(self._thread_ended)

    def _thread_ended(self) -> None:
        if self._thread_done is not None and not self._thread_done.done():
            self._thread_done.set_result(None)

    def _capture_until_stopped(self) -> None:
        failures = 0
        while not self._stop.is_set():
            source: FrameSource | None = None
            try:
                source = self._source_for(self.settings)
                info = source.open()
            except CaptureError as exc:
                self._set_status("error", exc.code, exc.message, None)
            except Exception as exc:  # OpenCV raises cv2.error for odd devices
                log.exception("document camera: opening the source failed")
                self._set_status("error", "doccam_busy", f"could not be opened: {exc}", None)
            else:
                self._set_status("running", None, "", info)
                if self._stream(source, info):
                    failures = 0
            finally:
                if source is not None:
                    try:
                        source.close()
                    except Exception:
                        log.exception("document camera: closing the source failed")
            if self._stop.is_set():
                return
            failures += 1
            self._stop.wait(retry_delay(failures, self._retry_delays))

    def _stream(self, source: FrameSource, info: SourceInfo) -> bool:
        """Read and publish frames until the source fails or we stop; True if any came."""
        delivered = False
        interval = source.interval
        due = time.monotonic()
        try:
            while not self._stop.is_set():
                image = source.read()
                self._publish(image)
                if self._status.state != "running":  # the watchdog had called it stalled
                    self._set_status("running", None, "", info)
                delivered = True
                if interval:
                    # Paced by the clock, not by the time a frame took: no drift, and no
                    # burst to catch up after a slow frame.
                    due += interval
                    delay = due - time.monotonic()
                    if delay > 0:
                        self._stop.wait(delay)
                    else:
                        due = time.monotonic()
        except CaptureError as exc:
            self._set_status("error", exc.code, exc.message, info)
        except Exception as exc:
            log.exception("document camera: reading a frame failed")
            self._set_status("error", "doccam_stalled", f"reading a frame failed: {exc}", info)
        return delivered


__all__ = [
    "CaptureClosedError",
    "CaptureStatus",
    "DocumentCamera",
    "Frame",
    "retry_delay",
]
