"""Shared Playwright helpers: the system Chromium with fake media, axe-core, screenshots.

See docs/adr/0004-*.md. Tests that need Chromium fail (never skip) when it is missing:
a browser test that silently does not run proves nothing.
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    async_playwright,
)

from browser_client import DIRECTORY as CLIENT_DIRECTORY

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SCREENS = REPO / "docs" / "screens"
PAGES = Path(__file__).resolve().parent / "pages"

CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream=fps=25",  # the fake camera runs at 20 fps unless told
    "--use-fake-ui-for-media-stream",  # grant camera and microphone without a prompt
    "--autoplay-policy=no-user-gesture-required",  # a kiosk plays remote audio unprompted
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> Path:
    """Return the system Chromium, failing the test when it is not installed."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/install-system-deps (apt-get install chromium)"
        )
    return CHROMIUM


@asynccontextmanager
async def launch_chromium(*extra_args: str) -> AsyncIterator[Browser]:
    """Run the system Chromium headless with fake camera and microphone."""
    executable = require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(executable),
            headless=True,
            args=[*CHROMIUM_ARGS, *extra_args],
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Console:
    """What a page printed, kept for assertions and for the failure report."""

    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def record(self, message: ConsoleMessage) -> None:
        where = message.location.get("url", "")
        line = f"[{message.type}] {message.text}" + (f" ({where})" if where else "")
        self.lines.append(line)
        if message.type == "error":
            self.errors.append(message.text)

    def page_error(self, error: Exception) -> None:
        self.lines.append(f"[pageerror] {error}")
        self.errors.append(str(error))

    def dump(self) -> str:
        """Return everything printed, one line each (for assertion messages)."""
        return "\n".join(self.lines) or "(nothing printed)"


@dataclass
class BrowserPage:
    """A page in its own context, with its console."""

    context: BrowserContext
    page: Page
    console: Console


@asynccontextmanager
async def open_page(browser: Browser, **context_options: Any) -> AsyncIterator[BrowserPage]:
    """Open a page in a fresh context; print its console if the block fails."""
    context = await browser.new_context(**context_options)
    page = await context.new_page()
    console = Console()
    page.on("console", console.record)
    page.on("pageerror", console.page_error)
    try:
        yield BrowserPage(context, page, console)
    except BaseException:
        # pytest shows captured output of a failed test: the page's view of events.
        print(f"--- browser console ({page.url}) ---\n{console.dump()}")
        raise
    finally:
        await context.close()


async def run_axe(page: Page, selector: str | None = None) -> list[dict[str, Any]]:
    """Run axe-core on the page; return its serious and critical violations."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` in {REPO}")
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated from the driver rather than added as a <script>, so that axe runs under
        # the page's real Content-Security-Policy (which refuses scripts it does not serve).
        await page.evaluate(AXE.read_text(encoding="utf-8"))
    results: dict[str, Any] = await page.evaluate(
        "async (selector) => await axe.run(selector ? document.querySelector(selector) : document)",
        selector,
    )
    return [v for v in results["violations"] if v.get("impact") in ("serious", "critical")]


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """Return axe violations as readable lines (rule, impact, first targets)."""
    lines = []
    for violation in violations:
        targets = [node.get("target") for node in violation.get("nodes", [])[:3]]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} {targets}")
    return "\n".join(lines)


async def screenshot(page: Page, name: str) -> Path:
    """Save a PNG of the page as docs/screens/<name>.png; return its path."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


@dataclass(frozen=True)
class VideoProgress:
    """What a <video> element showed over an interval."""

    width: int
    height: int
    frames_before: int
    frames_after: int

    @property
    def advanced(self) -> int:
        return self.frames_after - self.frames_before


_VIDEO_STATE = """(selector) => {
  const video = document.querySelector(selector);
  if (!video) return null;
  const quality = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
  return {
    width: video.videoWidth,
    height: video.videoHeight,
    frames: quality ? quality.totalVideoFrames : (video.__framesSeen || 0),
  };
}"""


async def video_state(page: Page, selector: str) -> dict[str, int] | None:
    """Return a video element's size and decoded frame count, or None if it is absent."""
    state: dict[str, int] | None = await page.evaluate(_VIDEO_STATE, selector)
    return state


async def video_frames_advancing(
    page: Page,
    selector: str,
    *,
    min_frames: int = 10,
    timeout: float = 15.0,
) -> VideoProgress:
    """Wait until a <video> has a size and shows at least ``min_frames`` new frames.

    Fails the test (AssertionError) with the last state seen when it does not.
    """
    deadline = time.monotonic() + timeout
    state = await video_state(page, selector)
    while state is None or state["width"] == 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector}: no video size within {timeout} s ({state})")
        await page.wait_for_timeout(50)
        state = await video_state(page, selector)
    start = state
    while True:
        now = await video_state(page, selector)
        assert now is not None, f"{selector} disappeared"
        if now["frames"] - start["frames"] >= min_frames:
            return VideoProgress(now["width"], now["height"], start["frames"], now["frames"])
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{selector}: frames went {start['frames']} -> {now['frames']} in {timeout} s"
                f" (wanted {min_frames} more)"
            )
        await page.wait_for_timeout(50)


@asynccontextmanager
async def static_site(*, client_prefix: str = "/client/") -> AsyncIterator[str]:
    """Serve tests/pages/ at / and browser_client/ at /client/ on 127.0.0.1; yield the URL."""
    app = web.Application()
    app.router.add_static(client_prefix, CLIENT_DIRECTORY, append_version=False)
    app.router.add_static("/", PAGES)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    # Bind first, so the port is known and no other process can take it meanwhile.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
