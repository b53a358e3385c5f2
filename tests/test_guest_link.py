"""From home: a citizen joins a booked appointment with the guest link, in real Chromium.

A real `etapiste serve` serves the booth's page at /guest/; the expert who answers is the
aiortc expert the kiosk tests use (tests/kiosk.py). The citizen's browser is a fresh
Chromium context with the fake camera and microphone, as a laptop at home would be.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page

from signaling.client import login
from signaling.protocol import SessionEnded

from .browser import describe_violations, open_page, run_axe, screenshot, video_frames_advancing
from .kiosk import (
    MEASURE,
    VIEWPORT,
    SignalingCut,
    expert_at,
    in_the_call,
    on_screen,
    t,
    text_of,
    until,
)
from .support import ServeProcess, eventually, frames
from .test_kiosk_appointment import book

pytestmark = [pytest.mark.browser]

JOIN_ENABLED = "!document.querySelector('[data-testid=guest-join]').disabled"


async def guest_link(node: ServeProcess, appointment_id: str) -> str:
    """Ask for the appointment's guest link as its expert; return its path (/guest/#…)."""
    token = await login(node.base_url, "kela.expert", "demo")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{node.base_url}/console/api/appointments/{appointment_id}/guest-link",
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        answer: dict[str, Any] = await response.json()
        assert response.status == 200, answer
        path: str = answer["path"]
        assert path.startswith("/guest/#")
        return path


async def look(page: Page, name: str) -> None:
    """Axe, target sizes and text sizes on what is shown now; save docs/screens/<name>.png."""
    await page.evaluate("document.fonts.ready.then(() => new Promise(requestAnimationFrame))")
    violations = await run_axe(page)
    assert not violations, f"{name}:\n{describe_violations(violations)}"
    measured = await page.evaluate(MEASURE)
    assert measured["targets"] == [], f"{name}: targets under 64x64: {measured['targets']}"
    assert measured["texts"] == [], f"{name}: text under 24 px: {measured['texts']}"
    await screenshot(page, name)


async def notice(page: Page, kind: str) -> None:
    """Wait for the guest page's plain notice of `kind` (used, no_link, ended…)."""
    await page.wait_for_selector(
        f'section[data-screen="guest-notice"][data-kind="{kind}"]:not([hidden])', timeout=15_000
    )


async def diagnostics(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = await page.evaluate("window.kioskDiagnostics()")
    return found


@pytest.mark.timeout(240)
async def test_a_citizen_joins_the_booked_call_from_home_with_the_link(
    browser: Browser, node: ServeProcess
) -> None:
    appointment = await book(node)
    path = await guest_link(node, appointment["id"])
    secret = path.split("#", 1)[1]
    async with (
        open_page(browser, viewport=VIEWPORT) as home,
        expert_at(node, "kela.expert") as expert,
    ):
        page = home.page
        await page.goto(node.base_url + path)
        await on_screen(page, "guest")
        # The secret is out of the address bar (and the history) at once, and not kept.
        assert secret not in page.url and "#" not in page.url, page.url
        stored = await page.evaluate(
            "JSON.stringify(sessionStorage) + JSON.stringify(localStorage)"
        )
        assert secret not in stored

        # The appointment in plain words, in Finnish (the booked language) first.
        assert await text_of(page, "guest-agency") == "Kela"
        assert await text_of(page, "guest-service")
        start = datetime.fromtimestamp(appointment["start"], UTC).astimezone()
        assert f"{start.hour:02d}.{start.minute:02d}" in await text_of(page, "guest-time")
        await until(page, JOIN_ENABLED)
        assert await text_of(page, "guest-when") == t("fi", "guest.join_now")
        await video_frames_advancing(page, "[data-testid=guest-video]")
        for lang in ("sv", "en", "fi"):
            await page.get_by_test_id(f"guest-lang-{lang}").click()
            await until(page, f"document.documentElement.lang === '{lang}'")
            assert await text_of(page, "guest-when") == t(lang, "guest.join_now")
            await look(page, f"guest-welcome-{lang}")

        # Join: the booked expert is rung for a call from home, and answers.
        await page.get_by_test_id("guest-join").click()
        offer, call = await expert.answer()
        assert (offer.agency, offer.service, offer.language) == ("kela", "general", "fi")
        assert offer.site.kind == "home"
        await in_the_call(page, timeout=30)
        await eventually(lambda: frames(call) >= 10, timeout=20, message="expert sees the guest")
        seen = await diagnostics(page)
        assert seen["guest"] is True
        assert seen["session"]["state"] in ("connecting", "active")
        assert seen["session"]["site"] == "home"
        assert sorted(seen["session"]["kinds"]) == ["expert", "guest"]
        await page.get_by_test_id("kiosk-chat-open").click()
        await page.get_by_test_id("kiosk-chat-input").fill("Hei, kuuluuko?")
        await page.get_by_test_id("guest-chat-send").click()
        await page.get_by_test_id("kiosk-chat-line").wait_for()
        assert await page.get_by_test_id("kiosk-keyboard").is_hidden()
        await page.get_by_test_id("kiosk-chat-close").click()
        await look(page, "guest-call-fi")

        # Someone else opening the same link gets the plain "used" page, not the call.
        # (That browser speaks Finnish: the page knows no appointment to take it from.)
        async with open_page(browser, viewport=VIEWPORT, locale="fi-FI") as other:
            await other.page.goto(node.base_url + path)
            await notice(other.page, "used")
            assert await text_of(other.page, "guest-notice") == t("fi", "guest.notice.used.text")
            assert "#" not in other.page.url
            await look(other.page, "guest-used-fi")
            # Chromium itself logs the 404 of the refused exchange; nothing else.
            errors = [e for e in other.console.errors if "status of 404" not in e]
            assert errors == [], other.console.errors

        # A reload of the tab resumes the same call: no "used", no new call.
        before = frames(call)
        await page.reload()
        await in_the_call(page, timeout=30)
        await eventually(
            lambda: frames(call) >= before + 10 or len(expert.calls) > 1,
            timeout=30,
            message="the expert sees the guest again after the reload",
        )
        seen = await diagnostics(page)
        assert seen["session"]["state"] in ("connecting", "active")
        assert sorted(seen["session"]["kinds"]) == ["expert", "guest"]

        # The citizen ends the call: a plain goodbye, and a reload says the same.
        await page.get_by_test_id("end-call").click()
        ended = await expert.client.wait_for(
            SessionEnded, lambda e: e.session_id == offer.session_id, timeout=15
        )
        assert ended.state == "ended"
        await on_screen(page, "feedback")
        assert await text_of(page, "feedback-ended") == t("fi", "guest.call_ended")
        await page.get_by_test_id("feedback-skip").click()
        await notice(page, "ended")
        await page.reload()
        await notice(page, "ended")
        assert home.console.errors == [], home.console.errors


@pytest.mark.timeout(180)
async def test_before_its_window_the_link_says_when_and_join_enables_itself(
    browser: Browser, node: ServeProcess
) -> None:
    # The check-in window opens 15 min before the start: here in about 25 s.
    start = datetime.now(UTC) + timedelta(minutes=15, seconds=25)
    appointment = await book(node, start=start.isoformat())
    path = await guest_link(node, appointment["id"])
    async with open_page(browser, viewport=VIEWPORT) as home:
        page = home.page
        link = SignalingCut()
        await page.route_web_socket(re.compile(r"/ws$"), link.route)
        await page.goto(node.base_url + path)
        await on_screen(page, "guest")
        opens = datetime.fromtimestamp(appointment["start"] - 15 * 60, UTC).astimezone()
        expected = t("fi", "guest.join_from", time=f"{opens.hour:02d}.{opens.minute:02d}")
        assert await text_of(page, "guest-when") == expected
        assert await page.get_by_test_id("guest-join").is_disabled()
        await look(page, "guest-wait-fi")
        # Nobody touches anything: the button enables itself when the window opens.
        await until(page, JOIN_ENABLED, timeout=60_000)
        assert await text_of(page, "guest-when") == t("fi", "guest.join_now")

        # The home network drops: plainly "reconnecting", and Join waits for the connection.
        await link.start()
        await until(
            page,
            f"document.querySelector('[data-testid=guest-when]').textContent === "
            f"{t('fi', 'call.reconnecting')!r}",
        )
        assert await page.get_by_test_id("guest-join").is_disabled()
        link.stop()
        await until(page, JOIN_ENABLED, timeout=30_000)
        assert await text_of(page, "guest-when") == t("fi", "guest.join_now")
        # A reload before joining comes back to the same appointment (the link is spent).
        await page.reload()
        await on_screen(page, "guest")
        await until(page, JOIN_ENABLED)
        # On a phone the same screen is one column that scrolls, Join at the end.
        await page.set_viewport_size({"width": 390, "height": 844})
        await look(page, "guest-welcome-phone-fi")
        # A token the server no longer takes (the tab slept past its lifetime): a new link.
        await page.evaluate(
            "sessionStorage.setItem('etapiste.guest', JSON.stringify("
            "{...JSON.parse(sessionStorage.getItem('etapiste.guest')), token: 'expired'}))"
        )
        await page.reload()
        await notice(page, "expired")
        assert home.console.errors == [], home.console.errors

    # Without the secret in the address, the page says what to do.
    async with open_page(browser, viewport=VIEWPORT, locale="fi-FI") as bare:
        await bare.page.goto(node.base_url + "/guest/")
        await notice(bare.page, "no_link")
        await look(bare.page, "guest-no-link-fi")
        assert bare.console.errors == [], bare.console.errors


# getUserMedia as a browser whose user refused the camera, or a computer without one.
REFUSE_CAMERA = """(() => {
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    if (window.__camera === 'denied') {
      throw new DOMException('Permission denied', 'NotAllowedError');
    }
    if (window.__camera === 'missing' && constraints.video) {
      throw new DOMException('Requested device not found', 'NotFoundError');
    }
    return real(constraints);
  };
})();"""


@pytest.mark.timeout(120)
async def test_a_refused_or_missing_camera_is_explained_in_plain_words(
    browser: Browser, node: ServeProcess
) -> None:
    appointment = await book(node)
    for camera, joinable in (("denied", False), ("missing", True)):
        path = await guest_link(node, appointment["id"])
        async with open_page(browser, viewport=VIEWPORT) as home:
            page = home.page
            await page.add_init_script(f"window.__camera = '{camera}';\n{REFUSE_CAMERA}")
            await page.goto(node.base_url + path)
            await on_screen(page, "guest")
            await page.get_by_test_id("guest-problem").wait_for()
            problem = await text_of(page, "guest-problem")
            if joinable:
                # Sound only: the citizen may still join, and knows the expert won't see them.
                assert t("fi", "guest.problem.no-camera") in problem
                await until(page, JOIN_ENABLED)
                assert await text_of(page, "guest-when") == t("fi", "guest.join_now")
                await look(page, "guest-camera-missing-fi")
            else:
                assert t("fi", "guest.problem.denied") in problem
                assert await page.get_by_test_id("guest-join").is_disabled()
                assert await text_of(page, "guest-when") == t("fi", "guest.join_needs_camera")
                await look(page, "guest-camera-denied-fi")
                # Allowed after all: Try again, and Join works.
                await page.evaluate("window.__camera = 'ok'")
                await page.get_by_test_id("guest-retry").click()
                await until(page, JOIN_ENABLED)
                assert await page.get_by_test_id("guest-problem").is_hidden()
