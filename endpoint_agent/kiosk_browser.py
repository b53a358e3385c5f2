"""Chromium in kiosk mode on the kiosk page, relaunched when it crashes or hangs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from typing import Literal

from signaling.tasks import cancel_and_wait

log = logging.getLogger(__name__)

KioskState = Literal["running", "starting", "restarting", "down"]

# Without a heartbeat from the page for this long, the page (or the browser) hangs.
HANG_AFTER_S = 30.0
# A fresh browser gets this long to load the page before the hang check applies.
STARTUP_GRACE_S = 30.0
BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_AFTER_S = 60.0  # a browser that ran this long starts the backoff over

KIOSK_FLAGS = (
    "--kiosk",
    "--incognito",
    "--no-first-run",
    "--noerrdialogs",
    "--disable-session-crashed-bubble",
    "--disable-infobars",
    "--disable-translate",
    "--disable-features=Translate",
    "--autoplay-policy=no-user-gesture-required",
    # Camera and microphone without a prompt: the booth only ever opens the local page.
    "--use-fake-ui-for-media-stream",
    "--check-for-update-interval=31536000",
    "--overscroll-history-navigation=0",
    "--disable-pinch",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--ozone-platform-hint=auto",  # Wayland (cage) on the booth, X11 where that is what runs
)


def chromium_command(
    chromium: str, url: str, profile: str, *, fake_devices: bool, headless: bool
) -> list[str]:
    """Return the command line that opens the kiosk page full screen."""
    command = [chromium, *KIOSK_FLAGS, f"--user-data-dir={profile}"]
    if fake_devices:
        command.append("--use-fake-device-for-media-stream=fps=25")
    if headless:
        command += ["--headless=new", "--disable-gpu"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    command.append(url)
    return command


class PageHeartbeat:
    """When the kiosk page last said it is alive."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.last: float | None = None

    def beat(self) -> None:
        """Record a heartbeat from the page."""
        self.last = self._clock()

    def age(self) -> float | None:
        """Return seconds since the last heartbeat, or None if there was none."""
        return None if self.last is None else self._clock() - self.last

    def state(self) -> KioskState:
        """The page's state when nobody supervises a browser (it is opened by hand)."""
        age = self.age()
        if age is None:
            return "starting"
        return "running" if age < HANG_AFTER_S else "down"


class KioskBrowser:
    """Runs Chromium on the kiosk page and starts it again when it dies or hangs."""

    def __init__(
        self,
        chromium: str,
        url: str,
        heartbeat: PageHeartbeat,
        *,
        fake_devices: bool = False,
        headless: bool = False,
        hang_after_s: float = HANG_AFTER_S,
        startup_grace_s: float = STARTUP_GRACE_S,
    ) -> None:
        self.chromium = chromium
        self.url = url
        self.heartbeat = heartbeat
        self.fake_devices = fake_devices
        self.headless = headless
        self.hang_after_s = hang_after_s
        self.startup_grace_s = startup_grace_s
        self.launches = 0
        self.last_stop: str | None = None  # why the previous browser was stopped
        self._state: KioskState = "starting"
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def state(self) -> KioskState:
        """Running once the page sends heartbeats; restarting between launches."""
        if self._state == "starting" and self.heartbeat.state() == "running":
            return "running"
        return self._state

    @property
    def pid(self) -> int | None:
        """The running browser's process id, if one runs."""
        return self._process.pid if self._process and self._process.returncode is None else None

    def start(self) -> None:
        """Start supervising; the browser opens at once."""
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="kiosk-browser")

    async def close(self) -> None:
        """Stop supervising and close the browser; idempotent."""
        if self._task is not None:
            await cancel_and_wait([self._task], timeout=8.0)  # the browser gets 5 s to exit
            self._task = None
        self._state = "down"

    async def _supervise(self) -> None:
        failures = 0
        while True:
            started = time.monotonic()
            reason = self.last_stop = await self._run_once()
            if time.monotonic() - started >= STABLE_AFTER_S:
                failures = 0
            delay = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
            failures += 1
            log.warning("kiosk browser %s; starting it again in %.0f s", reason, delay)
            self._state = "restarting"
            await asyncio.sleep(delay)

    async def _run_once(self) -> str:
        """Run one browser until it exits or hangs; return why it stopped."""
        profile = tempfile.mkdtemp(prefix="etapiste-kiosk-")
        try:
            command = chromium_command(
                self.chromium,
                self.url,
                profile,
                fake_devices=self.fake_devices,
                headless=self.headless,
            )
            try:
                self._process = await asyncio.create_subprocess_exec(
                    *command,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                    start_new_session=True,  # its helpers die with it
                )
            except OSError as exc:
                self._state = "down"
                return f"could not start ({exc.strerror})"
            self.launches += 1
            self._state = "starting"
            log.info("kiosk browser started (pid %d)", self._process.pid)
            try:
                return await self._watch(self._process, time.monotonic())
            finally:
                await self._stop(self._process)
                self._process = None
        finally:
            # The profile held the visit's cache: nothing of it stays on disk.
            await asyncio.to_thread(shutil.rmtree, profile, True)

    async def _watch(self, process: asyncio.subprocess.Process, launched: float) -> str:
        """Wait until the browser exits or stops sending page heartbeats."""
        while True:
            with contextlib.suppress(TimeoutError):
                code = await asyncio.wait_for(process.wait(), 1.0)
                return f"exited with code {code}"
            age = self.heartbeat.age()
            since_launch = time.monotonic() - launched
            alive_since_launch = age is not None and age < since_launch
            if alive_since_launch:
                self._state = "running"
                if age is not None and age > self.hang_after_s:
                    return f"hangs (no heartbeat for {age:.0f} s)"
            elif since_launch > self.startup_grace_s:
                return f"did not load the kiosk page in {since_launch:.0f} s"

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        """End the browser and its helper processes."""
        if process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 5.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
