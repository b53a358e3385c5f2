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
from pathlib import Path

import pytest
from playwright.async_api import Browser

from signaling.client import SignalingClient, device_token
from signaling.directory import load_directory

from .browser import video_frames_advancing
from .kiosk import (
    FIRST_IN_LINE,
    ask_for,
    check,
    confirm_devices,
    expert_at,
    in_the_call,
    kiosk_tab,
    on_screen,
    t,
    tap,
    text_of,
    until,
)
from .support import ServeProcess, eventually, frames

pytestmark = [pytest.mark.browser]

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


@pytest.mark.timeout(240)
@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_every_screen_in_each_language(
    browser: Browser, node: ServeProcess, lang: str
) -> None:
    site, default_lang, agency, service, username, public_name = JOURNEYS[lang]
    async with kiosk_tab(browser, node, site) as kiosk, expert_at(node, username) as expert:
        page = kiosk.page
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

        # 5. Appointment code: too short, then not found (nobody booked this one).
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
        await tap(page, "ready-back", "device-check")
        await confirm_devices(page)
        await on_screen(page, "ready")

        # 7. Waiting: position and estimate from the server.
        await tap(page, "call-start", "waiting")
        await until(page, FIRST_IN_LINE)
        assert await text_of(page, "estimated-wait") == t(lang, "waitshort.minutes", n=5)
        await check(page, "waiting", lang)

        # 8. The expert answers: the call, with the interpreter request on the offer.
        offer, expert_call = await expert.answer()
        assert offer.interpreter is not None
        assert (offer.interpreter.language, offer.interpreter.modality) == ("ar", "spoken")
        progress = await in_the_call(page)
        assert progress.width > 0 and progress.height > 0
        await eventually(lambda: frames(expert_call) >= 10, timeout=20, message="expert sees booth")
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
        await tap(page, f"lang-{lang}", "agencies")
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
        assert kiosk.console.errors == [], kiosk.console.dump()


@pytest.mark.timeout(120)
async def test_keyboard_only_from_welcome_to_a_service(
    browser: Browser, node: ServeProcess
) -> None:
    async with kiosk_tab(browser, node) as kiosk:
        page = kiosk.page
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
        assert kiosk.console.errors == [], kiosk.console.dump()


async def still_there_in(
    browser: Browser, node: ServeProcess, config: Path, site: str, lang: str
) -> None:
    """A booth whose citizen chose `lang` and went quiet: the question, checked and answered."""
    async with kiosk_tab(browser, node, site, booth_args=("--config", str(config))) as kiosk:
        page = kiosk.page
        await on_screen(page, "welcome")
        await tap(page, f"lang-{lang}", "agencies")
        dialog = page.get_by_test_id("inactivity-dialog")
        await dialog.wait_for(timeout=25_000)
        assert await page.locator("html").get_attribute("lang") == lang
        title = await page.locator("#inactivity-title").inner_text()
        assert title == t(lang, "inactivity.title")
        await check(page, "inactivity", lang)
        await tap(page, "inactivity-continue", "agencies")
        await dialog.wait_for(state="hidden")
        assert kiosk.console.errors == [], kiosk.console.dump()


async def asks_then_wipes_the_visit_in_english(
    browser: Browser, node: ServeProcess, config: Path
) -> None:
    """Asked, answered, nothing lost; asked again, unanswered: the visit is wiped."""
    async with kiosk_tab(browser, node, booth_args=("--config", str(config))) as kiosk:
        page = kiosk.page
        await on_screen(page, "welcome")
        await tap(page, "lang-en", "agencies")
        await page.evaluate("window.visitMarker = 'citizen'")
        await tap(page, "need-interpreter", "interpreter")
        await tap(page, "interpreter-lang-so", "agencies")

        dialog = page.get_by_test_id("inactivity-dialog")
        await dialog.wait_for(timeout=25_000)
        countdown = int(await text_of(page, "inactivity-countdown"))
        assert 0 < countdown <= 20
        await check(page, "inactivity", "en")
        await tap(page, "inactivity-continue", "agencies")  # nothing was lost
        await dialog.wait_for(state="hidden")

        # Asked again after another quiet spell; this time nobody answers.
        await dialog.wait_for(timeout=25_000)
        started = time.monotonic()
        await on_screen(page, "welcome", timeout=30_000)
        assert time.monotonic() - started >= 15
        assert await page.locator("html").get_attribute("lang") == "fi"
        assert await page.locator("#interpreter-chip").is_hidden()
        # A fresh page: nothing of the visit is left in JavaScript memory.
        assert await page.evaluate("window.visitMarker") is None
        assert kiosk.console.errors == [], kiosk.console.dump()


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
    async with kiosk_tab(browser, node) as kiosk, expert_at(node, "kela.expert") as expert:
        page = kiosk.page
        await ask_for(page, "sv", "kela", "pension")
        _, expert_call = await expert.answer()
        await in_the_call(page)

        # The page is reloaded (a crash, a relaunch): no citizen state was stored,
        # the server's welcome brings the live session back, in the call's language.
        await page.reload()
        await on_screen(page, "call", timeout=20_000)
        assert await page.locator("html").get_attribute("lang") == "sv"
        progress = await video_frames_advancing(page, "[data-testid=remote-video]", timeout=30)
        assert progress.width > 0
        before = frames(expert_call)
        await eventually(
            lambda: frames(expert_call) >= before + 10,
            timeout=30,
            message="expert sees booth again",
        )
        await tap(page, "end-call", "feedback")
        assert kiosk.console.errors == [], kiosk.console.dump()
