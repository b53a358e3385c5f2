"""Driving the kiosk page as a citizen would, and the aiortc expert who answers.

Shared by the kiosk tests (screens, journeys, resilience): the booth and its page, the
catalogues, the screen checks (axe, sizes, screenshot) and the steps of a visit.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, WebSocketRoute

from signaling.client import Call, SignalingClient, SyntheticCamera, SyntheticMicrophone
from signaling.protocol import InterpreterOffer, Offer

from .browser import (
    Console,
    VideoProgress,
    describe_violations,
    open_page,
    run_axe,
    screenshot,
    video_frames_advancing,
)
from .support import BoothProcess, ServeProcess, staff_client

KIOSK = Path(__file__).resolve().parent.parent / "endpoint_agent" / "kiosk"
CATALOGS = {
    lang: json.loads((KIOSK / "i18n" / f"{lang}.json").read_text()) for lang in ("fi", "sv", "en")
}
VIEWPORT = {"width": 1280, "height": 800}

# What a screen must satisfy besides axe: returns the offending targets and texts.
MEASURE = """() => {
  const visible = (el) => el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
  const targets = [];
  for (const el of document.querySelectorAll('button, input, a[href], [role="button"]')) {
    if (!visible(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.width < 64 || r.height < 64) {
      const name = el.dataset.testid || el.id || el.textContent.trim().slice(0, 30);
      targets.push(`${name} ${Math.round(r.width)}x${Math.round(r.height)}`);
    }
  }
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const el = node.parentElement;
    if (!text || !el || !visible(el) || el.closest('.visually-hidden')) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < 24) texts.push(`${text.slice(0, 40)}: ${size}px`);
  }
  return { targets, texts };
}"""

FIRST_IN_LINE = "document.querySelector('[data-testid=queue-position]').textContent === '1'"


def t(lang: str, key: str, **values: Any) -> str:
    """Return a catalogue message as the page shows it."""
    text: str = CATALOGS[lang][key]
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


# --- the booth and its page ------------------------------------------------------------------


@dataclass
class KioskTab:
    """A real booth agent and its kiosk page, open in Chromium."""

    booth: BoothProcess
    page: Page
    console: Console


@asynccontextmanager
async def kiosk_tab(
    browser: Browser,
    node: ServeProcess,
    site: str = "lib-kitee",
    *,
    booth_args: tuple[str, ...] = (),
    load: bool = True,
) -> AsyncIterator[KioskTab]:
    """Start `etapiste booth` for `site` on `node` and open its page (loaded unless `load`
    is false, for a test that routes the page first); stop the booth after."""
    booth = BoothProcess(node.base_url, site, *booth_args)
    await booth.start()
    try:
        # axe-core runs under the kiosk's real Content-Security-Policy (tests/browser.py).
        async with open_page(browser, viewport=VIEWPORT) as tab:
            if load:
                await tab.page.goto(booth.url)
            yield KioskTab(booth, tab.page, tab.console)
    finally:
        await booth.stop()


# --- looking at the page ---------------------------------------------------------------------


async def on_screen(page: Page, name: str, timeout: float = 15_000) -> None:
    """Wait until the screen `name` is the visible one."""
    await page.wait_for_selector(f'section[data-screen="{name}"]:not([hidden])', timeout=timeout)


async def check(page: Page, name: str, lang: str) -> None:
    """Axe, target sizes and text sizes on what is shown now; save the screenshot."""
    await page.evaluate("document.fonts.ready.then(() => new Promise(requestAnimationFrame))")
    violations = await run_axe(page)
    assert not violations, f"{name}/{lang}:\n{describe_violations(violations)}"
    measured = await page.evaluate(MEASURE)
    assert measured["targets"] == [], f"{name}/{lang}: targets under 64x64: {measured['targets']}"
    assert measured["texts"] == [], f"{name}/{lang}: text under 24 px: {measured['texts']}"
    await screenshot(page, f"kiosk-{name}-{lang}")


async def until(page: Page, expression: str, timeout: float = 15_000) -> None:
    """Wait until a JavaScript expression is true on the page (timeout in ms).

    Playwright's wait_for_function polls by eval inside the page, which the kiosk's
    Content-Security-Policy refuses; page.evaluate goes through DevTools and is allowed.
    """
    deadline = time.monotonic() + timeout / 1000
    while not await page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout / 1000:g} s: {expression}")
        await page.wait_for_timeout(50)


async def text_of(page: Page, testid: str) -> str:
    return (await page.get_by_test_id(testid).inner_text()).strip()


async def in_the_call(page: Page, timeout: float = 15.0) -> VideoProgress:
    """Wait for the call screen and for the expert's video moving on it."""
    await on_screen(page, "call")
    return await video_frames_advancing(page, "[data-testid=remote-video]", timeout=timeout)


# --- the citizen's steps ---------------------------------------------------------------------


async def tap(page: Page, testid: str, then: str) -> None:
    """Click the element `testid` and wait for the screen `then`."""
    await page.get_by_test_id(testid).click()
    await on_screen(page, then)


async def confirm_devices(page: Page) -> None:
    """On the device check: wait until camera and microphone are ready, then go on."""
    await page.wait_for_selector("[data-testid=device-check-ok]:not([disabled])")
    await page.get_by_test_id("device-check-ok").click()


async def call_about(page: Page, agency: str, service: str) -> None:
    """From the agencies to the waiting screen: agency, service, devices, ready, call."""
    await tap(page, f"agency-{agency}", "services")
    await tap(page, f"service-{service}", "device-check")
    await confirm_devices(page)
    await on_screen(page, "ready")
    await tap(page, "call-start", "waiting")


async def ask_for(page: Page, lang: str, agency: str, service: str) -> None:
    """From the greeting to the waiting screen: language, then as `call_about`."""
    await on_screen(page, "welcome")
    await tap(page, f"lang-{lang}", "agencies")
    await call_about(page, agency, service)


async def ask_for_kela(page: Page) -> None:
    """From the greeting to the waiting screen: suomi, Kela, general, devices, call."""
    await ask_for(page, "fi", "kela", "general")


# --- writing to the expert (the call screen's keyboard) ------------------------------------

# Where each character is on the kiosk's on-screen keyboard (endpoint_agent/kiosk/keyboard.js).
LETTER_KEYS = set("qwertyuiopåasdfghjklöäzxcvbnm")
SYMBOL_KEYS = set("1234567890+@€%&/()\":;'#*=_<>[]$")
KEYS_ON_BOTH = set(",.-?!")


async def type_on_screen(page: Page, text: str) -> None:
    """Tap `text` on the call screen's keyboard, key by key by their accessible names:
    shift before a capital, the 123/abc toggle between letters and digits."""
    keyboard = page.get_by_test_id("kiosk-keyboard")
    for char in text:
        if char == " ":
            await keyboard.get_by_test_id("kiosk-key-space").click()
            continue
        mode = await keyboard.get_attribute("data-mode")
        if char.lower() in LETTER_KEYS:
            wanted = "letters"
        elif char in SYMBOL_KEYS:
            wanted = "symbols"
        else:
            assert char in KEYS_ON_BOTH, f"{char!r} is not on the kiosk's keyboard"
            wanted = mode
        if wanted != mode:
            await keyboard.get_by_test_id("kiosk-key-mode").click()
        if char != char.lower():
            shift = keyboard.get_by_test_id("kiosk-key-shift")
            if await shift.get_attribute("data-state") == "off":
                await shift.click()
        await keyboard.get_by_role("button", name=char, exact=True).click()


async def chat_lines(page: Page) -> list[tuple[str, str]]:
    """Return the conversation on the call screen as (who, what) pairs, oldest first."""
    lines: list[tuple[str, str]] = await page.evaluate(
        """() => [...document.querySelectorAll('#conversation [data-testid=kiosk-chat-line]')].map(
          (line) => [line.querySelector('.chat-who').textContent,
                     line.querySelector('.chat-text').textContent])"""
    )
    return [(who, what) for who, what in lines]


# --- the booth's link -----------------------------------------------------------------------


class SignalingCut:
    """The page's signaling WebSockets, passed through to the server until cut.

    Chromium's offline emulation (BrowserContext.set_offline) leaves an open WebSocket
    alone, so the test holds every socket of the page instead: while cut, the open ones
    are closed on both sides and new ones are refused at once, as with a dead link.
    """

    def __init__(self) -> None:
        self.cut = False
        self.open: list[tuple[WebSocketRoute, WebSocketRoute]] = []
        self.refused = 0

    async def route(self, ws: WebSocketRoute) -> None:
        if self.cut:
            self.refused += 1
            await ws.close(code=1011, reason="link down")
            return
        self.open.append((ws, ws.connect_to_server()))

    async def start(self) -> None:
        self.cut = True
        opened, self.open = self.open, []
        for page_side, server_side in opened:
            # The server side is a real WebSocket: only 1000 and 3000-4999 may be sent
            # (and Playwright swallows the error of any other code).
            await server_side.close(code=3000, reason="link down")
            await page_side.close(code=1011, reason="link down")

    def stop(self) -> None:
        self.cut = False


# --- the expert ------------------------------------------------------------------------------


async def answer(
    expert: SignalingClient, camera: SyntheticCamera | None = None
) -> tuple[Offer, Call]:
    """Go available, take the first call offered and start aiortc media on it."""
    await expert.request({"type": "set_availability", "status": "available"})
    offer = await expert.wait_for(Offer, timeout=15)
    call = Call(expert, offer.session_id, [camera or SyntheticCamera(), SyntheticMicrophone()])
    call.start()
    await expert.request({"type": "offer_accept", "session_id": offer.session_id})
    return offer, call


@dataclass
class Expert:
    """A staff member's signaling client, and the calls they answered (closed with it)."""

    client: SignalingClient
    calls: list[Call] = field(default_factory=list)

    async def answer(self, camera: SyntheticCamera | None = None) -> tuple[Offer, Call]:
        """As `answer`; the call is closed when the expert signs out."""
        offer, call = await answer(self.client, camera)
        self.calls.append(call)
        return offer, call


@asynccontextmanager
async def expert_at(node: ServeProcess, username: str) -> AsyncIterator[Expert]:
    """Sign a demo staff member in to `node`; close their calls and client after."""
    expert = Expert(await staff_client(node.base_url, username))
    try:
        yield expert
    finally:
        for call in expert.calls:
            await call.close()
        await expert.client.close()


# --- the interpreter -------------------------------------------------------------------------


@dataclass
class Interpreter:
    """An interpreter's signaling client, and the calls they joined (closed with it)."""

    client: SignalingClient
    calls: list[Call] = field(default_factory=list)

    async def available(self) -> None:
        """Go available: requests that this interpreter could serve ring here."""
        await self.client.request({"type": "set_availability", "status": "available"})

    async def join(self, timeout: float = 20) -> tuple[InterpreterOffer, Call]:
        """Wait for a ring, take it and join the call with aiortc media."""
        offer = await self.client.wait_for(InterpreterOffer, timeout=timeout)
        # Listening before the accept: the session_update that makes us a member comes first.
        call = Call(self.client, offer.session_id, [SyntheticCamera(), SyntheticMicrophone()])
        call.start()
        self.calls.append(call)
        await self.client.request({"type": "interpreter_accept", "request_id": offer.request_id})
        return offer, call

    async def caption(self, session_id: str, text: str, *, final: bool) -> None:
        """Send a caption line (no reply comes)."""
        await self.client.send(
            {"type": "caption", "session_id": session_id, "text": text, "final": final}
        )

    async def leave(self, session_id: str) -> None:
        """Leave the call; the others carry on."""
        await self.client.request({"type": "session_leave", "session_id": session_id})
        for call in self.calls:
            if call.session_id == session_id:
                await call.close()


@asynccontextmanager
async def interpreter_at(node: ServeProcess, username: str) -> AsyncIterator[Interpreter]:
    """Sign a demo interpreter in to `node` (the token REST API); close their calls after."""
    interpreter = Interpreter(await staff_client(node.base_url, username))
    try:
        yield interpreter
    finally:
        # Leave first, so that the others (often in this process) close their side in order.
        for call in interpreter.calls:
            with contextlib.suppress(Exception):
                await interpreter.client.request(
                    {"type": "session_leave", "session_id": call.session_id}, timeout=5
                )
            await call.close()
        await interpreter.client.close()


async def ask_with_interpreter(
    page: Page, lang: str, choice: str, agency: str = "kela", service: str = "general"
) -> None:
    """From the greeting to the waiting screen: language, the interpreter `choice` (a tile
    id: "ar", "fse", "text"…), then the agency and service (Kela's general benefits)."""
    await on_screen(page, "welcome")
    await tap(page, f"lang-{lang}", "agencies")
    await tap(page, "need-interpreter", "interpreter")
    await tap(page, f"interpreter-lang-{choice}", "agencies")
    await call_about(page, agency, service)
