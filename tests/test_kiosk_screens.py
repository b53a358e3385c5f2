"""The kiosk page in real Chromium: every screen in every language, as the citizen uses it.

A real `etapiste serve` node and a real `etapiste booth --no-kiosk-browser --fake-devices`
serve the page; an aiortc expert (signaling.client) answers. On every screen the test runs
axe-core, measures every visible target (>= 64x64 CSS px) and every visible text
(computed font size >= 24 px), and saves docs/screens/kiosk-<screen>-<lang>.png.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from signaling.client import (
    Call,
    SignalingClient,
    SyntheticCamera,
    SyntheticMicrophone,
    device_token,
)
from signaling.directory import load_directory
from signaling.protocol import Offer

from .browser import (
    describe_violations,
    launch_chromium,
    open_page,
    run_axe,
    screenshot,
    video_frames_advancing,
)
from .support import (
    BoothProcess,
    ServeProcess,
    eventually,
    frames,
    staff_client,
)

pytestmark = [pytest.mark.browser]

KIOSK = Path(__file__).resolve().parent.parent / "endpoint_agent" / "kiosk"
CATALOGS = {
    lang: json.loads((KIOSK / "i18n" / f"{lang}.json").read_text()) for lang in ("fi", "sv", "en")
}
VIEWPORT = {"width": 1280, "height": 800}
# axe-core runs under the kiosk's real Content-Security-Policy (tests/browser.py run_axe).
AXE_CONTEXT: dict[str, Any] = {"viewport": VIEWPORT}

# Each language walks from its own kind of site, to the expert who serves that language.
JOURNEYS = {
    # lang: (site, its default language, agency, service, expert, the expert's public name)
    "fi": ("lib-kitee", "fi", "kela", "general", "kela.expert", "Anna"),
    "sv": ("th-kaskinen", "sv", "kela", "housing", "kela.expert", "Anna"),
    "en": ("bus-lieksa", "fi", "vero", "tax-card", "vero.expert", "Veroneuvoja"),
}

# The agency and service names each journey's ready screen shows (from the demo catalog).
READY_NAMES = {
    "fi": ("Kela", "Yleiset etuusasiat"),
    "sv": ("FPA", "Bostadsbidrag"),
    "en": ("Finnish Tax Administration", "Tax card"),
}

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


def t(lang: str, key: str, **values: Any) -> str:
    """Return a catalogue message as the page shows it."""
    text: str = CATALOGS[lang][key]
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
async def node() -> AsyncIterator[ServeProcess]:
    server = ServeProcess("memory", "kiosk-node")
    await server.start()
    try:
        yield server
    finally:
        server.kill()


async def start_booth(node: ServeProcess, site: str, *extra: str) -> BoothProcess:
    booth = BoothProcess(node.base_url, site, *extra)
    await booth.start()
    return booth


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


@pytest.mark.timeout(240)
@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_every_screen_in_each_language(
    browser: Browser, node: ServeProcess, lang: str
) -> None:
    site, default_lang, agency, service, username, public_name = JOURNEYS[lang]
    booth = await start_booth(node, site)
    expert = await staff_client(node.base_url, username)
    expert_call: Call | None = None
    try:
        async with open_page(browser, **AXE_CONTEXT) as tab:
            page = tab.page
            await page.goto(booth.url)

            # 1. Welcome: the site's default language first.
            await on_screen(page, "welcome")
            first = page.locator("#lang-buttons button").first
            assert await first.get_attribute("data-testid") == f"lang-{default_lang}"
            assert await page.locator("html").get_attribute("lang") == default_lang
            await check(page, "welcome", lang)

            # 2. Agencies, in the chosen language, with open and closed tiles.
            await page.get_by_test_id(f"lang-{lang}").click()
            await on_screen(page, "agencies")
            await page.get_by_test_id(f"agency-{agency}").wait_for()
            assert await page.locator("html").get_attribute("lang") == lang
            kela = await text_of(page, f"agency-{agency}")
            assert t(lang, "agency.open") in kela and t(lang, "wait.minutes", n=5) in kela, kela
            closed = await text_of(page, "agency-ulosotto")
            assert t(lang, "agency.closed") in closed and t(lang, "opening.unknown") in closed
            await check(page, "agencies", lang)

            # Closed: tapping explains when it opens, and no call is made.
            await page.get_by_test_id("agency-ulosotto").click()
            dialog = page.get_by_test_id("message-dialog")
            await dialog.wait_for()
            names = {"fi": "Ulosottolaitos", "sv": "Utsökningsverket"}
            title = names.get(lang, "National Enforcement Authority Finland")
            assert await page.locator("#message-title").inner_text() == t(
                lang, "closed.title", agency=title
            )
            assert await page.locator("#message-text").inner_text() == t(lang, "opening.unknown")
            await check(page, "closed", lang)
            await page.get_by_test_id("message-ok").click()
            await dialog.wait_for(state="hidden")
            await on_screen(page, "agencies")

            # 4. Interpreter: names in the UI language and in the language itself.
            await page.get_by_test_id("need-interpreter").click()
            await on_screen(page, "interpreter")
            arabic = page.get_by_test_id("interpreter-lang-ar")
            assert t(lang, "lang.ar") in await arabic.inner_text()
            endonym = arabic.locator('[lang="ar"]')
            assert await endonym.inner_text() == "العربية"
            assert await endonym.get_attribute("dir") == "rtl"
            assert await page.get_by_test_id("interpreter-lang-text").is_visible()
            assert await page.get_by_test_id("interpreter-lang-fse").is_visible()
            await check(page, "interpreter", lang)
            await arabic.click()
            await on_screen(page, "agencies")
            chip = page.locator("#interpreter-chip")
            assert (await chip.inner_text()).strip() == t(
                lang, "interpreter.chip", language=t(lang, "lang.ar")
            )

            # 5. Appointment code: too short, then not found (booked appointments come later).
            await page.get_by_test_id("appointment-code").click()
            await on_screen(page, "appointment")
            await page.locator('.keypad [data-key="1"]').click()
            await page.locator('.keypad [data-key="2"]').click()
            await page.get_by_test_id("keypad-ok").click()
            error = page.get_by_test_id("appointment-error")
            assert await error.inner_text() == t(lang, "appointment.too_short")
            await page.keyboard.type("3456")  # typing digits on a keyboard works too
            assert await page.get_by_test_id("appointment-code-input").input_value() == "123456"
            await page.keyboard.press("Enter")
            not_found = json.dumps(t(lang, "appointment.not_found"))
            await until(
                page, f"document.getElementById('appointment-error').textContent === {not_found}"
            )
            await check(page, "appointment", lang)
            await page.keyboard.press("Escape")
            await on_screen(page, "agencies")

            # 3. Services of the agency.
            await page.get_by_test_id(f"agency-{agency}").click()
            await on_screen(page, "services")
            await check(page, "services", lang)
            await page.get_by_test_id(f"service-{service}").click()

            # 6. Device check: self-view, a moving microphone bar, the start button.
            await on_screen(page, "device-check")
            await page.wait_for_selector("[data-testid=device-check-ok]:not([disabled])")
            await video_frames_advancing(page, "#device-video", min_frames=5)
            await until(
                page,
                "Number(document.getElementById('mic-meter').getAttribute('aria-valuenow')) > 0",
                timeout=10_000,
            )
            assert await page.get_by_test_id("device-problem").is_hidden()
            await check(page, "device-check", lang)
            await page.get_by_test_id("device-check-ok").click()

            # 6b. Ready: a calm summary of what was chosen, and the button that calls.
            await on_screen(page, "ready")
            assert await text_of(page, "ready-agency") == READY_NAMES[lang][0]
            assert await text_of(page, "ready-service") == READY_NAMES[lang][1]
            assert await text_of(page, "ready-language") == t(lang, f"lang.{lang}")
            assert await text_of(page, "ready-interpreter") == t(lang, "lang.ar")
            await check(page, "ready", lang)
            # Back to the camera check and forward again: the camera stays on meanwhile.
            await page.get_by_test_id("ready-back").click()
            await on_screen(page, "device-check")
            await page.wait_for_selector("[data-testid=device-check-ok]:not([disabled])")
            await page.get_by_test_id("device-check-ok").click()
            await on_screen(page, "ready")
            await page.get_by_test_id("call-start").click()

            # 7. Waiting: position and estimate from the server.
            await on_screen(page, "waiting")
            await until(
                page, "document.querySelector('[data-testid=queue-position]').textContent === '1'"
            )
            assert await text_of(page, "estimated-wait") == t(lang, "waitshort.minutes", n=5)
            await check(page, "waiting", lang)

            # 8. The expert answers: the call, with the interpreter request on the offer.
            await expert.request({"type": "set_availability", "status": "available"})
            offer = await expert.wait_for(Offer, lambda o: True, timeout=15)
            assert offer.interpreter is not None
            assert (offer.interpreter.language, offer.interpreter.modality) == ("ar", "spoken")
            expert_call = Call(expert, offer.session_id, [SyntheticCamera(), SyntheticMicrophone()])
            expert_call.start()
            await expert.request({"type": "offer_accept", "session_id": offer.session_id})
            await on_screen(page, "call")
            progress = await video_frames_advancing(page, "[data-testid=remote-video]")
            assert progress.width > 0 and progress.height > 0
            call = expert_call
            await eventually(lambda: frames(call) >= 10, timeout=20, message="expert sees booth")
            assert (await text_of(page, "quality")) != ""
            await until(
                page,
                "document.querySelector('[data-testid=quality]').dataset.level !== 'unknown'",
                timeout=15_000,
            )
            level = await page.get_by_test_id("quality").get_attribute("data-level")
            assert await text_of(page, "quality") == t(lang, f"quality.{level}")
            assert public_name in await page.locator("#expert-name").inner_text()
            mute = page.get_by_test_id("mute")
            await mute.click()
            assert await mute.get_attribute("aria-pressed") == "true"
            await check(page, "call", lang)
            await mute.click()
            assert await mute.get_attribute("aria-pressed") == "false"

            # 9. End the call, answer the question, and the page wipes itself.
            await page.get_by_test_id("end-call").click()
            await on_screen(page, "feedback")
            await check(page, "feedback", lang)
            await page.get_by_test_id("feedback-4").click()
            await page.get_by_test_id("feedback-thanks").wait_for()
            await check(page, "thanks", lang)
            await on_screen(page, "welcome", timeout=20_000)
            assert await page.locator("html").get_attribute("lang") == default_lang
            assert await page.evaluate("sessionStorage.length + localStorage.length") == 0

            # 10. The error screen: another kiosk took over this booth's connection.
            await page.get_by_test_id(f"lang-{lang}").click()
            await on_screen(page, "agencies")
            demo_site = load_directory().site(site)
            assert demo_site is not None
            secret = demo_site.device_secret.get_secret_value()
            intruder = SignalingClient(node.ws_url, await device_token(node.base_url, site, secret))
            await intruder.connect()
            try:
                await on_screen(page, "error")
                await check(page, "error", lang)
            finally:
                await intruder.close()
            await page.get_by_test_id("error-retry").click()
            await on_screen(page, "welcome", timeout=20_000)
            assert tab.console.errors == [], tab.console.dump()
    finally:
        if expert_call is not None:
            await expert_call.close()
        await expert.close()
        await booth.stop()


@pytest.mark.timeout(120)
async def test_keyboard_only_from_welcome_to_a_service(
    browser: Browser, node: ServeProcess
) -> None:
    booth = await start_booth(node, "lib-kitee")
    try:
        async with open_page(browser, viewport=VIEWPORT) as tab:
            page = tab.page
            await page.goto(booth.url)
            await on_screen(page, "welcome")

            async def tab_to(testid: str, most: int = 6) -> None:
                for _ in range(most):
                    await page.keyboard.press("Tab")
                    focused = await page.evaluate("document.activeElement?.dataset?.testid")
                    if focused == testid:
                        ring = await page.evaluate(
                            "(() => { const s = getComputedStyle(document.activeElement);"
                            " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
                        )
                        assert ring[0] != "none" and ring[1] >= 3, f"no focus ring: {ring}"
                        return
                raise AssertionError(f"{testid} not reached with {most} Tabs")

            # The first Tab from the greeting lands on the first language.
            await tab_to("lang-fi", most=1)
            await page.keyboard.press("Enter")
            await on_screen(page, "agencies")
            await page.get_by_test_id("agency-kela").wait_for()
            # Interpreter and appointment code come first, then the tiles in order.
            await tab_to("agency-kela", most=3)
            await page.keyboard.press("Space")
            await on_screen(page, "services")
            await page.keyboard.press("Escape")
            await on_screen(page, "agencies")

            # The closed agency answers the keyboard too, and Escape closes the dialog.
            await page.get_by_test_id("agency-ulosotto").focus()
            await page.keyboard.press("Enter")
            await page.get_by_test_id("message-dialog").wait_for()
            assert await page.evaluate("document.activeElement.dataset.testid") == "message-ok"
            await page.keyboard.press("Escape")
            await page.get_by_test_id("message-dialog").wait_for(state="hidden")
            assert await page.evaluate("document.activeElement.dataset.testid") == "agency-ulosotto"
            await on_screen(page, "agencies")

            # Escape goes back a step: agencies -> welcome.
            await page.keyboard.press("Escape")
            await on_screen(page, "welcome")
            assert tab.console.errors == [], tab.console.dump()
    finally:
        await booth.stop()


async def still_there_in(
    browser: Browser, node: ServeProcess, config: Path, site: str, lang: str
) -> None:
    """A booth whose citizen chose `lang` and went quiet: the question, checked and answered."""
    booth = await start_booth(node, site, "--config", str(config))
    try:
        async with open_page(browser, **AXE_CONTEXT) as tab:
            page = tab.page
            await page.goto(booth.url)
            await on_screen(page, "welcome")
            await page.get_by_test_id(f"lang-{lang}").click()
            await on_screen(page, "agencies")
            dialog = page.get_by_test_id("inactivity-dialog")
            await dialog.wait_for(timeout=25_000)
            assert await page.locator("html").get_attribute("lang") == lang
            title = await page.locator("#inactivity-title").inner_text()
            assert title == t(lang, "inactivity.title")
            await check(page, "inactivity", lang)
            await page.get_by_test_id("inactivity-continue").click()
            await dialog.wait_for(state="hidden")
            await on_screen(page, "agencies")
            assert tab.console.errors == [], tab.console.dump()
    finally:
        await booth.stop()


async def asks_then_wipes_the_visit_in_english(
    browser: Browser, node: ServeProcess, config: Path
) -> None:
    """Asked, answered, nothing lost; asked again, unanswered: the visit is wiped."""
    booth = await start_booth(node, "lib-kitee", "--config", str(config))
    try:
        async with open_page(browser, **AXE_CONTEXT) as tab:
            page = tab.page
            await page.goto(booth.url)
            await on_screen(page, "welcome")
            await page.get_by_test_id("lang-en").click()
            await on_screen(page, "agencies")
            await page.evaluate("window.visitMarker = 'citizen'")
            await page.get_by_test_id("need-interpreter").click()
            await on_screen(page, "interpreter")
            await page.get_by_test_id("interpreter-lang-so").click()
            await on_screen(page, "agencies")

            dialog = page.get_by_test_id("inactivity-dialog")
            await dialog.wait_for(timeout=25_000)
            countdown = int(await text_of(page, "inactivity-countdown"))
            assert 0 < countdown <= 20
            await check(page, "inactivity", "en")
            await page.get_by_test_id("inactivity-continue").click()
            await dialog.wait_for(state="hidden")
            await on_screen(page, "agencies")  # nothing was lost

            # Asked again after another quiet spell; this time nobody answers.
            await dialog.wait_for(timeout=25_000)
            started = time.monotonic()
            await on_screen(page, "welcome", timeout=30_000)
            assert time.monotonic() - started >= 15
            assert await page.locator("html").get_attribute("lang") == "fi"
            assert await page.locator("#interpreter-chip").is_hidden()
            # A fresh page: nothing of the visit is left in JavaScript memory.
            assert await page.evaluate("window.visitMarker") is None
            assert tab.console.errors == [], tab.console.dump()
    finally:
        await booth.stop()


@pytest.mark.timeout(150)
async def test_inactivity_asks_then_wipes_the_visit(
    browser: Browser, node: ServeProcess, tmp_path: Path
) -> None:
    config = tmp_path / "booth.toml"
    config.write_text('site = "lib-kitee"\ninactivity_s = 15\n')
    # The question in Swedish and Finnish comes from two more booths on the same node, quiet
    # meanwhile (the shortest spell a booth accepts is 15 s: in turn they would add 30 s).
    async with asyncio.TaskGroup() as group:
        group.create_task(still_there_in(browser, node, config, "th-kaskinen", "sv"))
        group.create_task(still_there_in(browser, node, config, "lib-kemijarvi", "fi"))
        group.create_task(asks_then_wipes_the_visit_in_english(browser, node, config))


@pytest.mark.timeout(150)
async def test_a_reloaded_page_goes_straight_back_to_its_call(
    browser: Browser, node: ServeProcess
) -> None:
    booth = await start_booth(node, "lib-kitee")
    expert = await staff_client(node.base_url, "kela.expert")
    expert_call: Call | None = None
    try:
        async with open_page(browser, viewport=VIEWPORT) as tab:
            page = tab.page
            await page.goto(booth.url)
            await on_screen(page, "welcome")
            await page.get_by_test_id("lang-sv").click()
            await page.get_by_test_id("agency-kela").click()
            await page.get_by_test_id("service-pension").click()
            await page.wait_for_selector("[data-testid=device-check-ok]:not([disabled])")
            await page.get_by_test_id("device-check-ok").click()
            await page.get_by_test_id("call-start").click()
            await on_screen(page, "waiting")
            await expert.request({"type": "set_availability", "status": "available"})
            offer = await expert.wait_for(Offer, lambda o: True, timeout=15)
            expert_call = Call(expert, offer.session_id, [SyntheticCamera(), SyntheticMicrophone()])
            expert_call.start()
            await expert.request({"type": "offer_accept", "session_id": offer.session_id})
            await on_screen(page, "call")
            await video_frames_advancing(page, "[data-testid=remote-video]")

            # The page is reloaded (a crash, a relaunch): no citizen state was stored,
            # the server's welcome brings the live session back, in the call's language.
            await page.reload()
            await on_screen(page, "call", timeout=20_000)
            assert await page.locator("html").get_attribute("lang") == "sv"
            progress = await video_frames_advancing(page, "[data-testid=remote-video]", timeout=30)
            assert progress.width > 0
            call = expert_call
            before = frames(call)
            await eventually(
                lambda: frames(call) >= before + 10, timeout=30, message="expert sees booth again"
            )
            await page.get_by_test_id("end-call").click()
            await on_screen(page, "feedback")
            assert tab.console.errors == [], tab.console.dump()
    finally:
        if expert_call is not None:
            await expert_call.close()
        await expert.close()
        await booth.stop()
