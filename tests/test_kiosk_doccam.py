"""The booth screen shows the citizen what the document camera sees, in real Chromium.

A real `etapiste serve` node and a real `etapiste booth` serve the kiosk page; an aiortc
expert answers (tests/kiosk.py). One test runs the real agent with a fake document camera
(a sample page, `[doccam] fake =` in booth.toml). The others answer the agent's document
camera routes (`/api/call`, `/api/doccam`, `/api/doccam/preview`) from the test with
Playwright, to put the view through every state and piece of advice in fi, sv and en:
those are unit tests of the page, not claims about the agent. Every view is checked with
axe-core, target and text sizes, and saved as docs/screens/kiosk-doccam-*.png.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import cv2
import pytest
from playwright.async_api import Browser, Page, Route

from document_camera.synth import sample_frame

from .console import accept, console_tab, go_available, log_in, wait_for_offer
from .kiosk import ask_for, check, expert_at, in_the_call, kiosk_tab, on_screen, t, tap, until
from .support import ServeProcess

pytestmark = [pytest.mark.browser]

CODES = ("no_document", "blur", "glare", "not_in_view", "too_small", "ok")
# A page lying a little askew in the middle of the picture, clockwise from top-left.
CORNERS = [[0.30, 0.14], [0.70, 0.16], [0.69, 0.88], [0.29, 0.86]]
# lang: (site, agency, service, expert)
CALLS = {
    "fi": ("lib-kitee", "kela", "general", "kela.expert"),
    "sv": ("th-kaskinen", "kela", "housing", "kela.expert"),
    "en": ("bus-lieksa", "vero", "tax-card", "vero.expert"),
}
VISIBLE = (
    "(id) => { const el = document.querySelector(`[data-testid=${id}]`);"
    " return !!el && el.checkVisibility(); }"
)
STEADY = "document.querySelector('[data-testid=doccam-steady]').getAttribute('aria-valuenow')"


def page_jpeg(width: int = 1280, height: int = 720) -> bytes:
    """Return the sample page on a dark desk as a JPEG (the document camera's picture)."""
    ok, buffer = cv2.imencode(".jpg", sample_frame((width, height)).image)
    assert ok
    return bytes(buffer.tobytes())


def status(**changes: Any) -> dict[str, Any]:
    """Return a GET /api/doccam answer: off, unless changed."""
    base: dict[str, Any] = {
        "state": "off",
        "error": None,
        "feedback": None,
        "steady": 0.0,
        "corners": None,
        "last_still": None,
        "expert_connected": False,
        "auto_capture": True,  # the page's countdown shows unless a test says otherwise
    }
    return {**base, **changes}


class RoutedDoccam:
    """The agent's document camera routes, answered by the test (a unit test of the page)."""

    def __init__(self, failed_calls: int = 0) -> None:
        self.failed_calls = failed_calls  # answer this many PUT /api/call with a 500 first
        self.status = status()
        self.calls: list[str | None] = []  # every PUT /api/call's session_id
        self.previews = 0
        self.jpeg = page_jpeg()

    async def install(self, page: Page) -> None:
        await page.route("**/api/call", self._call)
        await page.route("**/api/doccam", self._status)
        await page.route("**/api/doccam/preview*", self._preview)

    async def _call(self, route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        self.calls.append(body["session_id"])
        if self.failed_calls:
            self.failed_calls -= 1
            await route.fulfill(status=500, json={"error": {"code": "internal"}})
            return
        await route.fulfill(status=204)

    async def _status(self, route: Route) -> None:
        await route.fulfill(status=200, content_type="application/json", json=self.status)

    async def _preview(self, route: Route) -> None:
        if self.status["state"] != "on":
            await route.fulfill(status=404, json={"error": {"code": "not_found"}})
            return
        self.previews += 1
        part = b"--frame\r\nContent-Type: image/jpeg\r\n\r\n" + self.jpeg + b"\r\n"
        await route.fulfill(
            status=200,
            headers={"content-type": "multipart/x-mixed-replace; boundary=frame"},
            body=part * 2 + b"--frame--\r\n",
        )

    def set(self, **changes: Any) -> None:
        self.status = {**self.status, **changes}


async def visible(page: Page, testid: str) -> bool:
    return bool(await page.evaluate(VISIBLE, testid))


async def until_visible(
    page: Page, testid: str, shown: bool = True, timeout: float = 5_000
) -> None:
    expression = f"({VISIBLE})({json.dumps(testid)})"
    await until(page, expression if shown else f"!{expression}", timeout=timeout)


async def until_feedback(page: Page, lang: str, code: str) -> None:
    """Wait for the advice `code` on the screen, in `lang`; check its sentence."""
    await until(
        page,
        f"document.getElementById('doccam-feedback').dataset.sentence === 'doccam.feedback.{code}'",
    )
    assert await page.get_by_test_id("doccam-feedback").get_attribute("data-feedback") == code
    sentence = (await page.get_by_test_id("doccam-feedback").inner_text()).strip()
    assert sentence == t(lang, f"doccam.feedback.{code}"), (code, sentence)


async def picture_shown(page: Page) -> dict[str, float]:
    """Wait until the preview <img> shows a picture; return its natural and drawn size."""
    await until(page, "document.querySelector('[data-testid=doccam-preview]').naturalWidth > 0")
    size: dict[str, float] = await page.evaluate(
        """() => { const img = document.querySelector('[data-testid=doccam-preview]');
          const r = img.getBoundingClientRect();
          return { natural: img.naturalWidth, naturalHeight: img.naturalHeight,
                   width: r.width, height: r.height }; }"""
    )
    return size


async def outline_points(page: Page) -> str:
    return str(await page.get_by_test_id("doccam-outline").get_attribute("points") or "")


async def guide_on_picture(page: Page) -> None:
    """The guide frame is drawn, inside the picture's drawn area and most of its size."""
    box = await page.get_by_test_id("doccam-guide").bounding_box()
    stage = await page.locator(".doccam-stage").bounding_box()
    assert box is not None and stage is not None
    big = box["width"] > 0.5 * stage["width"] or box["height"] > 0.6 * stage["height"]
    assert big, (box, stage)
    assert stage["x"] <= box["x"] and box["x"] + box["width"] <= stage["x"] + stage["width"] + 1
    assert stage["y"] <= box["y"] and box["y"] + box["height"] <= stage["y"] + stage["height"] + 1


async def paper_is_big_and_expert_seen(page: Page) -> None:
    """In paper mode the paper is the big picture; the expert's video stays in view."""
    stage = await page.locator(".doccam-stage").bounding_box()
    expert = await page.get_by_test_id("remote-video").bounding_box()
    assert stage is not None and expert is not None
    assert stage["width"] >= 700 and stage["height"] >= 380, stage
    assert expert["width"] >= 300 and expert["height"] >= 200, expert


async def agent_doccam(page: Page) -> dict[str, Any]:
    """GET /api/doccam from the page (the real agent's answer)."""
    answer: dict[str, Any] = await page.evaluate(
        "fetch('/api/doccam', {cache: 'no-store'}).then((r) => r.json())"
    )
    return answer


# --- the page's own logic ----------------------------------------------------------------------


@pytest.mark.timeout(60)
async def test_the_advice_holds_still_and_the_outline_fits_the_picture(
    browser: Browser, node: ServeProcess
) -> None:
    async with kiosk_tab(browser, node) as kiosk:
        page = kiosk.page
        await on_screen(page, "welcome")
        result = await page.evaluate(
            """async () => {
              const m = await import('/kiosk/doccam.js');
              const hold = new m.FeedbackHold(600);
              const seen = [
                hold.next('no_document', 0),   // the first advice shows at once
                hold.next('blur', 100),        // a new one waits...
                hold.next('ok', 300),          // ...and another starts its wait afresh
                hold.next('ok', 800),
                hold.next('ok', 900),          // held 600 ms: shown
                hold.next('blur', 1000),
                hold.next('ok', 1100),         // back to what is shown: the wait is over
                hold.next('blur', 1200),
                hold.next('blur', 1900),
              ];
              return {
                seen,
                points: m.outlinePoints(
                  [[0.1, 0.2], [0.9, 0.2], [0.9, 0.8], [0.1, 0.8]], 1000, 500),
                none: m.outlinePoints(null, 1000, 500),
                guide: m.guidePath(1000, 500, 0.1),
                present: [null, 'no_document', 'blur', 'ok'].map(m.documentPresent),
              };
            }"""
        )
        assert result["seen"] == [
            "no_document",
            "no_document",
            "no_document",
            "no_document",
            "ok",
            "ok",
            "ok",
            "ok",
            "blur",
        ]
        assert result["points"] == "100.0,100.0 900.0,100.0 900.0,400.0 100.0,400.0"
        assert result["none"] == ""
        assert result["guide"].startswith("M100 ")
        assert result["present"] == [False, False, True, True]
        assert kiosk.console.errors == [], kiosk.console.dump()


# --- every state and every piece of advice, routed -------------------------------------------


@pytest.mark.timeout(180)
@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_every_doccam_state_in_each_language(
    browser: Browser, node: ServeProcess, lang: str
) -> None:
    site, agency, service, username = CALLS[lang]
    doccam = RoutedDoccam()
    async with kiosk_tab(browser, node, site) as kiosk, expert_at(node, username) as expert:
        page = kiosk.page
        await doccam.install(page)
        await ask_for(page, lang, agency, service)
        offer, _ = await expert.answer()
        await in_the_call(page)
        # The call is connected: the page tells the agent which call the camera joins.
        for _ in range(100):
            if doccam.calls:
                break
            await page.wait_for_timeout(50)
        assert doccam.calls == [offer.session_id]

        # Off: nothing of the document camera shows.
        await page.wait_for_timeout(600)
        for testid in ("doccam-show", "doccam-view", "doccam-error", "doccam-sent"):
            assert not await visible(page, testid), testid

        # Starting: the button comes; pressing it makes the paper the big picture.
        doccam.set(state="starting")
        await until_visible(page, "doccam-show")
        show = page.get_by_test_id("doccam-show")
        assert (await show.inner_text()).strip() == t(lang, "doccam.show")
        assert await show.get_attribute("aria-expanded") == "false"
        await check(page, "doccam-button", lang)
        await show.click()
        await until_visible(page, "doccam-view")
        assert await visible(page, "doccam-hide")
        assert not await visible(page, "doccam-show")
        assert await page.evaluate("document.activeElement.dataset.testid") == "doccam-hide"
        assert (await page.locator("#doccam-starting").inner_text()).strip() == t(
            lang, "doccam.starting"
        )
        assert await page.get_by_test_id("doccam-preview").get_attribute("src") is None
        await guide_on_picture(page)

        # On, an empty table: the picture, the guide, no outline, "lay the paper here".
        doccam.set(state="on", feedback="no_document")
        await until_feedback(page, lang, "no_document")
        size = await picture_shown(page)
        assert size["natural"] == 1280 and size["naturalHeight"] == 720, size
        assert doccam.previews >= 1
        assert await outline_points(page) == ""
        assert not await visible(page, "doccam-steady")
        await paper_is_big_and_expert_seen(page)

        # Every piece of advice in its plain sentence, with the outline the agent found.
        doccam.set(corners=CORNERS)
        for code in ("blur", "glare", "not_in_view", "too_small"):
            doccam.set(feedback=code)
            await until_feedback(page, lang, code)
            assert await outline_points(page) != ""
            assert await page.get_by_test_id("doccam-outline").get_attribute("data-ok") == "false"
            assert not await visible(page, "doccam-steady")
        # Good, but nothing will be captured (no expert on the camera, or auto-capture
        # off): no "hold it still", no countdown.
        doccam.set(feedback="ok", steady=0.0, auto_capture=False)
        await until(page, "document.getElementById('doccam-feedback').dataset.feedback === 'ok'")
        sentence = (await page.get_by_test_id("doccam-feedback").inner_text()).strip()
        assert sentence == t(lang, "doccam.feedback.ok_shown")
        assert not await visible(page, "doccam-steady")
        doccam.set(feedback="ok", steady=0.6, auto_capture=True)
        await until_feedback(page, lang, "ok")
        await until_visible(page, "doccam-steady")
        steady = page.get_by_test_id("doccam-steady")
        await until(page, f"{STEADY} === '60'")
        assert await steady.get_attribute("aria-label") == t(lang, "doccam.steady")
        assert await page.get_by_test_id("doccam-outline").get_attribute("data-ok") == "true"
        # The outline sits on the page in the picture: its corners at 30 % and 70 % across.
        outline = await page.get_by_test_id("doccam-outline").bounding_box()
        img = await page.get_by_test_id("doccam-preview").bounding_box()
        assert outline is not None and img is not None
        drawn_w = min(img["width"], img["height"] * 16 / 9)
        left = img["x"] + (img["width"] - drawn_w) / 2
        assert abs(outline["x"] - (left + 0.29 * drawn_w)) < 12, (outline, img)
        assert abs(outline["width"] - 0.41 * drawn_w) < 16, (outline, img)
        await check(page, "doccam", lang)

        # The picture went to the expert: a plain confirmation, announced once.
        doccam.set(last_still={"still_id": "st-1", "trigger": "auto", "at": 1.0}, steady=0.0)
        await until_visible(page, "doccam-sent")
        assert (await page.get_by_test_id("doccam-sent").inner_text()).strip() == t(
            lang, "doccam.sent"
        )
        sent = json.dumps(t(lang, "doccam.sent"))
        await until(page, f"document.getElementById('announcer').textContent === {sent}")
        await check(page, "doccam-sent", lang)

        # Back to the expert: the stream closes; the button is back where it was.
        await page.get_by_test_id("doccam-hide").click()
        await until_visible(page, "doccam-view", shown=False)
        assert await page.get_by_test_id("doccam-preview").get_attribute("src") is None
        assert await page.evaluate("document.activeElement.dataset.testid") == "doccam-show"
        # The paper still lies there: the view does not push itself back up...
        await page.wait_for_timeout(800)
        assert not await visible(page, "doccam-view")
        # ...until the paper is taken away and a paper is laid there again.
        doccam.set(feedback="no_document", corners=None)
        await page.wait_for_timeout(600)
        assert not await visible(page, "doccam-view")
        doccam.set(feedback="too_small", corners=CORNERS)
        await until_visible(page, "doccam-view")
        await until_feedback(page, lang, "too_small")
        # The focused button gave way to its opposite in the same place: the focus follows.
        assert await page.evaluate("document.activeElement.dataset.testid") == "doccam-hide"

        # The camera broke: the view goes, and a plain sentence says what to do instead.
        doccam.set(state="error", error={"code": "doccam_stalled", "message": "no frame"})
        await until_visible(page, "doccam-error")
        assert not await visible(page, "doccam-view")
        assert not await visible(page, "doccam-show")
        assert (await page.get_by_test_id("doccam-error").inner_text()).strip() == t(
            lang, "doccam.error"
        )
        await check(page, "doccam-error", lang)

        # Off again: nothing of it shows.
        doccam.set(state="off", error=None, feedback=None, corners=None)
        await until_visible(page, "doccam-error", shown=False)
        assert not await visible(page, "doccam-show")

        # On, and the call ends: the view goes with the call, the agent is told.
        doccam.set(state="on", feedback="ok", corners=CORNERS)
        await until_visible(page, "doccam-view")
        await tap(page, "end-call", "feedback")
        assert not await visible(page, "doccam-view")
        assert await page.get_by_test_id("doccam-preview").get_attribute("src") is None
        for _ in range(100):
            if doccam.calls[-1:] == [None]:
                break
            await page.wait_for_timeout(50)
        assert doccam.calls == [offer.session_id, None]
        assert kiosk.console.errors == [], kiosk.console.dump()


@pytest.mark.timeout(120)
async def test_keyboard_and_the_writing_panel_make_room(
    browser: Browser, node: ServeProcess
) -> None:
    doccam = RoutedDoccam(failed_calls=1)
    doccam.set(state="on", feedback="no_document")
    async with kiosk_tab(browser, node) as kiosk, expert_at(node, "kela.expert") as expert:
        page = kiosk.page
        await doccam.install(page)
        await ask_for(page, "fi", "kela", "general")
        offer, _ = await expert.answer()
        await in_the_call(page)
        # The agent did not take the call the first time: the page tells it again.
        for _ in range(100):
            if len(doccam.calls) >= 2:
                break
            await page.wait_for_timeout(50)
        assert doccam.calls == [offer.session_id, offer.session_id]
        await until_visible(page, "doccam-show")
        # Keyboard: the button answers Enter, Escape goes back to the expert.
        await page.get_by_test_id("doccam-show").focus()
        await page.keyboard.press("Enter")
        await until_visible(page, "doccam-view")
        await page.keyboard.press("Escape")
        await until_visible(page, "doccam-view", shown=False)
        assert await page.evaluate("document.activeElement.dataset.testid") == "doccam-show"
        # Writing takes the room: the view closes, and does not come up while writing.
        await page.get_by_test_id("doccam-show").click()
        await until_visible(page, "doccam-view")
        await page.get_by_test_id("kiosk-chat-open").click()
        await until_visible(page, "kiosk-keyboard")
        assert not await visible(page, "doccam-view")
        doccam.set(feedback="ok", corners=CORNERS)
        await page.wait_for_timeout(800)
        assert not await visible(page, "doccam-view")
        await page.get_by_test_id("kiosk-chat-close").click()
        # Done writing, with a paper there (laid while writing): it comes up again once laid anew.
        doccam.set(feedback="no_document", corners=None)
        await page.wait_for_timeout(400)
        doccam.set(feedback="ok", corners=CORNERS)
        await until_visible(page, "doccam-view")

        # On a full-HD booth screen the paper grows with it, and the rules still hold.
        await page.set_viewport_size({"width": 1920, "height": 1080})
        await until_feedback(page, "fi", "ok")
        stage = await page.locator(".doccam-stage").bounding_box()
        assert stage is not None and stage["width"] >= 1200 and stage["height"] >= 650, stage
        await paper_is_big_and_expert_seen(page)
        await check(page, "doccam-1080p", "fi")
        unexpected = [e for e in kiosk.console.errors if "status of 500" not in e]
        assert unexpected == [], kiosk.console.dump()


# --- the real agent with a fake document camera ---------------------------------------------


@pytest.mark.timeout(180)
async def test_the_real_agent_shows_the_paper_on_the_booth_screen(
    browser: Browser, node: ServeProcess, tmp_path: Path
) -> None:
    picture = tmp_path / "page.png"
    cv2.imwrite(str(picture), sample_frame((1920, 1080)).image)
    config = tmp_path / "booth.toml"
    config.write_text(f'site = "lib-kitee"\n\n[doccam]\nfake = "{picture}"\n')
    async with (
        kiosk_tab(browser, node, booth_args=("--config", str(config))) as kiosk,
        expert_at(node, "kela.expert") as expert,
    ):
        page = kiosk.page
        await ask_for(page, "fi", "kela", "general")
        await expert.answer()
        await in_the_call(page)
        # A paper lies under the camera: the view comes up by itself.
        await until_visible(page, "doccam-view", timeout=20_000)
        size = await picture_shown(page)
        assert size["natural"] == 1280 and size["naturalHeight"] == 720, size
        await guide_on_picture(page)
        await until(
            page,
            "!!document.querySelector('[data-testid=doccam-feedback]').dataset.feedback",
            timeout=10_000,
        )
        code = await page.get_by_test_id("doccam-feedback").get_attribute("data-feedback")
        assert code in CODES
        sentence = (await page.get_by_test_id("doccam-feedback").inner_text()).strip()
        agent = await agent_doccam(page)
        assert agent["state"] == "on" and agent["corners"] is not None, agent
        # This expert (aiortc, no screen) does not take the document camera: nothing will
        # be captured, so a good paper is not followed by "hold it still".
        assert agent["expert_connected"] is False and agent["auto_capture"] is False
        key = "ok_shown" if code == "ok" else code
        assert sentence == t("fi", f"doccam.feedback.{key}")
        await until(
            page,
            "document.querySelector('[data-testid=doccam-outline]').getAttribute('points') !== ''",
        )
        await paper_is_big_and_expert_seen(page)
        await check(page, "doccam-agent", "fi")

        # A reloaded page rejoins its call and tells the agent again.
        await page.reload()
        await on_screen(page, "call", timeout=20_000)
        await until_visible(page, "doccam-view", timeout=20_000)
        await picture_shown(page)

        # Back to the expert, then the call ends: the agent turns the camera off.
        await page.get_by_test_id("doccam-hide").click()
        await until_visible(page, "doccam-view", shown=False)
        await tap(page, "end-call", "feedback")
        assert not await visible(page, "doccam-view")
        for _ in range(100):
            if (await agent_doccam(page))["state"] == "off":
                break
            await page.wait_for_timeout(100)
        assert (await agent_doccam(page))["state"] == "off"
        assert kiosk.console.errors == [], kiosk.console.dump()


# --- the boot check (endpoint_agent/kiosk/boot-check.js) ------------------------------------


@pytest.mark.timeout(90)
async def test_a_page_whose_module_did_not_load_loads_itself_again(
    browser: Browser, node: ServeProcess
) -> None:
    async with kiosk_tab(browser, node, load=False) as kiosk:
        page = kiosk.page
        aborted: list[str] = []

        async def flaky(route: Route) -> None:
            # The first load of kiosk.js dies as on a changed network; later ones work.
            if not aborted:
                aborted.append(route.request.url)
                await route.abort("internetdisconnected")
            else:
                await route.continue_()

        await page.route("**/kiosk/kiosk.js", flaky)
        started = time.monotonic()
        await page.goto(kiosk.booth.url)
        await page.wait_for_timeout(1000)
        assert aborted
        assert await page.evaluate("window.etapisteStarted") is None
        await on_screen(page, "welcome", timeout=20_000)
        assert time.monotonic() - started >= 7.5  # it waited for the modules first
        assert page.url == kiosk.booth.url.rstrip("/") + "/", page.url  # ?boot=1 tidied away

        # A page that started is never reloaded.
        await page.evaluate("window.visitMarker = 'still here'")
        await page.wait_for_timeout(9000)
        assert await page.evaluate("window.visitMarker") == "still here"
        unexpected = [e for e in kiosk.console.errors if "ERR_INTERNET_DISCONNECTED" not in e]
        assert unexpected == [], kiosk.console.dump()


# --- end to end: the kiosk and the expert's console ------------------------------------------

# Counts each "sent" confirmation and the highest steadiness the ring showed.
WATCH_SENT = """() => {
  window.doccamSeen = { sent: 0, steady: 0 };
  new MutationObserver(() => {
    if (document.getElementById('doccam-sent-text').textContent) window.doccamSeen.sent += 1;
  }).observe(document.getElementById('doccam-sent-text'), { childList: true });
  const ring = document.getElementById('doccam-steady');
  new MutationObserver(() => {
    const value = Number(ring.getAttribute('aria-valuenow'));
    window.doccamSeen.steady = Math.max(window.doccamSeen.steady, value);
  }).observe(ring, { attributes: true, attributeFilter: ['aria-valuenow'] });
}"""


@pytest.mark.timeout(240)
async def test_a_paper_left_still_is_sent_and_the_citizen_is_told(
    browser: Browser, node: ServeProcess, tmp_path: Path
) -> None:
    picture = tmp_path / "page.png"
    cv2.imwrite(str(picture), sample_frame((1920, 1080)).image)
    config = tmp_path / "booth.toml"
    config.write_text(f'site = "lib-kitee"\n\n[doccam]\nfake = "{picture}"\nfps = 8\n')
    async with (
        kiosk_tab(browser, node, booth_args=("--config", str(config))) as kiosk,
        console_tab(browser, node) as desk,
    ):
        page = kiosk.page
        await log_in(desk.page)
        await go_available(desk.page)
        await ask_for(page, "fi", "kela", "general")
        await wait_for_offer(desk.page)
        await accept(desk.page)
        await in_the_call(page)
        await page.evaluate(WATCH_SENT)

        # The page lies still under the camera: the ring fills, the agent takes the
        # picture by itself for the expert, and the citizen is told.
        await until_visible(page, "doccam-view", timeout=20_000)
        await until(page, "window.doccamSeen.sent >= 1", timeout=40_000)
        assert (await page.get_by_test_id("doccam-sent").inner_text()).strip() == t(
            "fi", "doccam.sent"
        )
        assert await page.evaluate("window.doccamSeen.steady") > 0
        await until(
            desk.page, "document.querySelectorAll('[data-testid=doccam-still]').length >= 1"
        )
        await check(page, "doccam-agent-sent", "fi")

        # The expert asks for another picture: the citizen is told again.
        sent = await page.evaluate("window.doccamSeen.sent")
        await desk.page.get_by_test_id("doccam-capture").click()
        await until(page, f"window.doccamSeen.sent > {sent}", timeout=30_000)
        assert kiosk.console.errors == [], kiosk.console.dump()
