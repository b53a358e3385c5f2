"""Driving the expert console (agent_console/static) in real Chromium, as an expert would.

Shared by tests/test_console_ui.py, tests/test_console_journey.py and
tests/test_interpreter_console.py: opening the console in a browser context of its own,
signing in (as an expert or an interpreter), reading its state, the screen checks (axe and
screenshots) and the citizen's side played by a protocol client with aiortc media.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page

from signaling.client import Call, SignalingClient, SyntheticCamera, SyntheticMicrophone
from signaling.directory import DEMO_CONFIG
from signaling.protocol import CallQueued, SessionUpdate

from .browser import Console, describe_violations, open_page, run_axe, screenshot
from .support import ServeProcess, booth_client

STATIC = Path(__file__).resolve().parent.parent / "agent_console" / "static"
LANGS = ("fi", "sv", "en")
CATALOGS: dict[str, dict[str, str]] = {
    lang: json.loads((STATIC / "i18n" / f"{lang}.json").read_text()) for lang in LANGS
}
VIEWPORT = {"width": 1280, "height": 800}
LOCALES = {"fi": "fi-FI", "sv": "sv-FI", "en": "en-GB"}
PILL = "document.querySelector('[data-testid=availability]')"
KELA_CALL = {"type": "call_request", "agency": "kela", "service": "general", "language": "fi"}


def t(lang: str, key: str, **values: Any) -> str:
    """Return a console catalogue message as the page shows it."""
    text = CATALOGS[lang][key]
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


# --- the page ------------------------------------------------------------------------


@dataclass
class ConsoleTab:
    """The console open in a browser context of its own (its own cookies)."""

    node: ServeProcess
    page: Page
    console: Console

    @property
    def url(self) -> str:
        return self.node.base_url + "/console/"


@asynccontextmanager
async def console_tab(
    browser: Browser, node: ServeProcess, *, lang: str = "fi", load: bool = True
) -> AsyncIterator[ConsoleTab]:
    """Open the console of `node` with the browser's language `lang` (its default)."""
    async with open_page(browser, viewport=VIEWPORT, locale=LOCALES[lang]) as tab:
        console_tab = ConsoleTab(node, tab.page, tab.console)
        if load:
            await tab.page.goto(console_tab.url)
            await until(tab.page, "document.body.dataset.ready === 'true'")
        yield console_tab


async def until(page: Page, expression: str, timeout: float = 15_000) -> None:
    """Wait until a JavaScript expression is true on the page (timeout in ms).

    Playwright's wait_for_function evaluates through eval inside the page, which the
    console's Content-Security-Policy refuses; page.evaluate goes through DevTools.
    """
    deadline = time.monotonic() + timeout / 1000
    while not await page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout / 1000:g} s: {expression}")
        await page.wait_for_timeout(50)


async def on_screen(page: Page, name: str, timeout: float = 15_000) -> None:
    """Wait until the screen `name` is the visible one."""
    await page.wait_for_selector(f'section[data-screen="{name}"]:not([hidden])', timeout=timeout)


async def diagnostics(page: Page) -> dict[str, Any]:
    """Return the console's technical state (window.consoleDiagnostics)."""
    state: dict[str, Any] = await page.evaluate("window.consoleDiagnostics()")
    return state


async def text_of(page: Page, testid: str) -> str:
    return (await page.get_by_test_id(testid).inner_text()).strip()


async def log_in(page: Page, username: str = "kela.expert", password: str = "demo") -> None:
    """Sign in on the login screen and wait for the desk with a live connection."""
    await on_screen(page, "login")
    await page.get_by_test_id("login-username").fill(username)
    await page.get_by_test_id("login-password").fill(password)
    await page.get_by_test_id("login-submit").click()
    await on_screen(page, "home")
    await until(page, "window.consoleDiagnostics().signaling === 'open'")


async def availability(page: Page) -> str:
    """Return the status the availability pill shows (available, paused, wrap_up…)."""
    status: str = await page.get_by_test_id("availability").get_attribute("data-status") or ""
    return status


async def go_available(page: Page) -> None:
    """Press Available and wait until the server confirms it."""
    await page.get_by_test_id("availability-available").click()
    await until(page, f"{PILL}.dataset.status === 'available'")


async def wait_for_offer(page: Page, timeout: float = 20_000) -> None:
    await on_screen(page, "offer", timeout=timeout)


async def accept(page: Page) -> None:
    """Accept the ringing call and wait for the call screen."""
    await page.get_by_test_id("offer-accept").click()
    await on_screen(page, "call")


async def check_screen(page: Page, name: str, lang: str, *, prefix: str = "console") -> None:
    """Axe (no serious or critical violations) on what is shown now; save the screenshot.

    The screenshot is docs/screens/<prefix>-<name>-<lang>.png.
    """
    await page.evaluate("document.fonts.ready.then(() => new Promise(requestAnimationFrame))")
    violations = await run_axe(page)
    assert not violations, f"{name}/{lang}:\n{describe_violations(violations)}"
    await screenshot(page, f"{prefix}-{name}-{lang}")


# --- interpreting --------------------------------------------------------------------------


async def log_in_interpreter(page: Page, username: str = "tulkki.ar") -> None:
    """Sign in as an interpreter and wait for the interpreter's desk with a live connection."""
    await on_screen(page, "login")
    await page.get_by_test_id("login-username").fill(username)
    await page.get_by_test_id("login-password").fill("demo")
    await page.get_by_test_id("login-submit").click()
    await on_screen(page, "interp-home")
    await until(page, "window.consoleDiagnostics().signaling === 'open'")


async def request_interpreter(page: Page, language: str, modality: str) -> None:
    """In the expert's call, ask for an interpreter and wait until the server took it."""
    await page.get_by_test_id("invite-interpreter").click()
    dialog = page.get_by_test_id("interpreter-dialog")
    await dialog.wait_for()
    await page.get_by_test_id("interpreter-modality").select_option(modality)
    await page.get_by_test_id("interpreter-language").select_option(language)
    await page.get_by_test_id("interpreter-request").click()
    await dialog.wait_for(state="hidden")


async def interpreter_state(page: Page) -> str:
    """Return the expert's interpreter card state (ringing, unanswered, joined, left…)."""
    state: str = await page.get_by_test_id("interpreter-status").get_attribute("data-state") or ""
    return state


async def wait_for_interpreter_state(page: Page, state: str, timeout: float = 15_000) -> None:
    """Wait until the expert's interpreter card shows `state`."""
    await until(
        page,
        f"document.querySelector('[data-testid=interpreter-status]').dataset.state === '{state}'",
        timeout,
    )


async def wait_for_request(page: Page, timeout: float = 15_000) -> None:
    """Wait until a request rings at the interpreter."""
    await page.locator("[data-testid=request]").first.wait_for(timeout=timeout)


async def request_count(page: Page) -> int:
    return await page.locator("[data-testid=request]").count()


# --- the citizen's side, played by a protocol client -----------------------------------


@dataclass
class Citizen:
    """A booth's signaling client, with aiortc media once its call is made."""

    client: SignalingClient
    calls: list[Call] = field(default_factory=list)

    async def call(self, request: dict[str, Any] | None = None) -> str:
        """Ask for a call (Kela general in Finnish by default) with media; return its id."""
        queued = await self.client.request(request or KELA_CALL, expect=CallQueued)
        media = [SyntheticCamera(), SyntheticMicrophone()]
        call = Call(self.client, queued.session.session_id, media)
        call.start(SessionUpdate(session=queued.session))
        self.calls.append(call)
        return queued.session.session_id


@asynccontextmanager
async def citizen_at(node: ServeProcess, site: str = "lib-kitee") -> AsyncIterator[Citizen]:
    """A booth of `site` connected to `node` (protocol client); closed after."""
    citizen = Citizen(await booth_client(node.base_url, site))
    try:
        yield citizen
    finally:
        for call in citizen.calls:
            await call.close()
        await citizen.client.close()


# --- nodes with a changed directory ------------------------------------------------------


def directory_toml(tmp_path: Path, *changes: tuple[str, str]) -> Path:
    """Write the demo directory with each (regex, replacement) applied once; return its path.

    A change that matches nothing fails, so that a moved line in the demo is noticed.
    """
    text = DEMO_CONFIG.read_text()
    for pattern, replacement in changes:
        changed, count = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
        assert count == 1, f"the demo directory has no line matching {pattern!r}"
        text = changed
    path = tmp_path / "directory.toml"
    path.write_text(text)
    return path
