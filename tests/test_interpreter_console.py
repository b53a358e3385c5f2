"""Interpreting in the console, end to end, in real Chromium (docs/protocol.md §5.3).

A real `etapiste serve` serves the console. The interpreter and the expert each have a
browser context of their own (their own login cookies); the citizen is a real
`etapiste booth --no-kiosk-browser --fake-devices` with its kiosk page in Chromium
(tests/kiosk.py). The expert asks for an interpreter in a running call; the request rings
on the interpreter's desk; the interpreter answers and sees the citizen's and the expert's
video; a speech-to-text interpreter's lines reach the expert's view; leaving, declining,
cancelling, nobody answering and two interpreters racing for one request are each told
plainly.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import pytest
from playwright.async_api import Browser, Page

from document_camera.synth import sample_frame
from signaling.directory import DEMO_CONFIG

from .browser import video_frames_advancing
from .console import (
    PILL,
    accept,
    check_screen,
    console_tab,
    diagnostics,
    directory_toml,
    go_available,
    interpreter_state,
    log_in,
    log_in_interpreter,
    on_screen,
    request_count,
    request_interpreter,
    t,
    text_of,
    until,
    wait_for_interpreter_state,
    wait_for_offer,
    wait_for_request,
)
from .kiosk import KioskTab, ask_for_kela, ask_with_interpreter, check, in_the_call, kiosk_tab
from .support import ServeProcess, eventually, serving

pytestmark = [pytest.mark.browser]

REMOTE = "[data-testid=remote-video]"
BOOTH = "[data-testid=remote-video-booth]"
EXPERT = "[data-testid=remote-video-expert]"
INTERPRETER = "[data-testid=interpreter-video]"
HOSTILE = '<img src=x onerror="window.__pwned=1">'
# Records each caption the page sends on its WebSocket: {at: performance.now(), message}.
SPY_CAPTIONS = """
window.__captions = [];
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  if (typeof data === 'string' && data.includes('"caption"')) {
    window.__captions.push({ at: performance.now(), message: JSON.parse(data) });
  }
  return send.call(this, data);
};
"""
FOCUSED = """() => {
  const el = document.activeElement;
  return [el?.dataset?.testid ?? '', el ? getComputedStyle(el).outlineStyle : ''];
}"""
# Keeps every RTCPeerConnection a page makes, so that the test can read its getStats.
SPY_PEERS = """
window.__peers = [];
const Native = window.RTCPeerConnection;
window.RTCPeerConnection = class extends Native {
  constructor(...args) { super(...args); window.__peers.push(this); }
};
"""
# For each connected peer connection: the audio energy and samples received so far.
AUDIO_IN = """async () => {
  const heard = [];
  for (const pc of window.__peers) {
    if (pc.connectionState !== 'connected') continue;
    for (const report of (await pc.getStats()).values()) {
      if (report.type === 'inbound-rtp' && report.kind === 'audio') {
        heard.push([report.totalAudioEnergy ?? 0, report.totalSamplesReceived ?? 0]);
      }
    }
  }
  return heard;
}"""
KELA_IN = {"fi": "Kela", "sv": "FPA", "en": "Kela – Social Insurance Institution of Finland"}
KELA = KELA_IN["en"]


def page_errors(errors: list[str]) -> list[str]:
    """The console's errors, without the browser's line for a refused /me (401)."""
    return [e for e in errors if "401" not in e]


async def expert_in_a_call(page: Page, kiosk: KioskTab, username: str = "kela.expert") -> str:
    """Sign the expert in, answer the kiosk's call to Kela and wait for moving video."""
    await log_in(page, username)
    await go_available(page)
    await ask_for_kela(kiosk.page)
    await wait_for_offer(page)
    session_id: str = (await diagnostics(page))["offer"]
    await accept(page)
    await video_frames_advancing(page, REMOTE, timeout=20)
    await in_the_call(kiosk.page, timeout=20)
    return session_id


async def hears(page: Page, peers: int, timeout: float = 20) -> None:
    """Wait until sound (the fake microphones' beeps) arrives from `peers` participants:
    that many connected peer connections whose received audio energy and samples grow."""
    deadline = asyncio.get_running_loop().time() + timeout
    before = await page.evaluate(AUDIO_IN)
    while True:
        await page.wait_for_timeout(1000)
        now = await page.evaluate(AUDIO_IN)
        growing = sum(
            1
            for (energy, samples), (energy0, samples0) in zip(now, before, strict=False)
            if energy > energy0 and samples > samples0
        )
        if growing >= peers and len(now) == len(before):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"sound from {growing} of {peers} participants: {now}")
        before = now


async def interpreter_available(page: Page, username: str = "tulkki.ar") -> None:
    await log_in_interpreter(page, username)
    await page.get_by_test_id("availability-available").click()
    await until(page, f"{PILL}.dataset.status === 'available'")


@pytest.mark.timeout(240)
@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_an_arabic_interpreter_joins_a_running_call_and_leaves(
    browser: Browser, node: ServeProcess, doccam_page: Path, lang: str
) -> None:
    async with (
        console_tab(browser, node, lang=lang, load=False) as interp,
        console_tab(browser, node, lang=lang, load=False) as expert,
        kiosk_tab(
            browser, node, booth_args=("--doccam-fake", str(doccam_page)), load=False
        ) as kiosk,
    ):
        for tab in (interp, expert):
            await tab.page.add_init_script(SPY_PEERS)
            await tab.page.goto(tab.url)
            await until(tab.page, "document.body.dataset.ready === 'true'")
        await kiosk.page.add_init_script(SPY_PEERS)
        await kiosk.page.goto(kiosk.booth.url)
        # The interpreter's desk: what the account interprets, nothing ringing yet.
        await log_in_interpreter(interp.page, "tulkki.ar")
        assert (await diagnostics(interp.page))["desk"] == "interpreter"
        assert await text_of(interp.page, "interp-language-ar") == t(lang, "lang.ar")
        assert await text_of(interp.page, "interp-modality-spoken") == t(lang, "modality.spoken")
        assert await interp.page.get_by_test_id("requests-empty").is_visible()
        await interp.page.get_by_test_id("availability-available").click()
        await until(interp.page, f"{PILL}.dataset.status === 'available'")
        await check_screen(interp.page, "desk", lang, prefix="interpreter")

        # A Kela call is running; the expert asks for Arabic, spoken.
        session_id = await expert_in_a_call(expert.page, kiosk)
        # The dialog offers the languages of each kind: sign languages for sign language.
        await expert.page.get_by_test_id("invite-interpreter").click()
        await expert.page.get_by_test_id("interpreter-modality").select_option("sign")
        options = expert.page.get_by_test_id("interpreter-language").locator("option")
        assert await options.all_inner_texts() == [t(lang, "lang.fse"), t(lang, "lang.fss")]
        await expert.page.keyboard.press("Escape")
        await request_interpreter(expert.page, "ar", "spoken")
        await wait_for_interpreter_state(expert.page, "ringing")
        status = await text_of(expert.page, "interpreter-status")
        assert t(lang, "lang.ar") in status, status

        # It rings at the interpreter: language, kind, agency, where, urgency, waited time.
        await wait_for_request(interp.page)
        state = await diagnostics(interp.page)
        assert state["ringing"] and len(state["requests"]) == 1, state
        ring = interp.page.get_by_test_id("request")
        need = await ring.get_by_test_id("request-need").inner_text()
        assert t(lang, "lang.ar") in need and t(lang, "requests.urgency_on_demand") in need, need
        agency = await ring.get_by_test_id("request-agency").inner_text()
        assert agency.startswith(KELA_IN[lang]), agency
        site = await ring.get_by_test_id("request-site").inner_text()
        assert "Kitee" in site and t(lang, "site.kind_S") in site, site
        waited = ring.get_by_test_id("request-waited")
        first = await waited.inner_text()
        await until(
            interp.page,
            "document.querySelector('[data-testid=request-waited]').textContent !== "
            + json.dumps(first),
        )
        await check_screen(interp.page, "request", lang, prefix="interpreter")
        await check_screen(expert.page, "interpreter-ringing", lang)

        # Accept, with the keyboard: Tab reaches the request's buttons, with the focus ring.
        await interp.page.evaluate("document.activeElement.blur()")
        for _ in range(30):
            await interp.page.keyboard.press("Tab")
            testid, outline = await interp.page.evaluate(FOCUSED)
            if testid == "request-accept":
                break
        assert (testid, outline) == ("request-accept", "solid"), (testid, outline)
        await interp.page.keyboard.press("Enter")
        # The interpreter sees the citizen and the expert, the expert sees the interpreter.
        await on_screen(interp.page, "interp-call", timeout=20_000)
        assert (await diagnostics(interp.page))["ringing"] is False
        await video_frames_advancing(interp.page, BOOTH, timeout=20)
        await video_frames_advancing(interp.page, EXPERT, timeout=20)
        await video_frames_advancing(expert.page, INTERPRETER, timeout=20)
        # All three see each other, and hear each other: frames advance on every leg, and
        # each page receives sound from both others. The booth's document camera agent runs
        # beside them all the while (its preview reaches the expert).
        await video_frames_advancing(
            kiosk.page, "[data-testid=remote-video-interpreter]", timeout=20
        )
        await video_frames_advancing(kiosk.page, REMOTE, timeout=10)
        await video_frames_advancing(expert.page, REMOTE, timeout=10)
        await video_frames_advancing(expert.page, "[data-testid=doccam-video]", timeout=20)
        for page in (kiosk.page, expert.page, interp.page):
            await hears(page, 2)
        await wait_for_interpreter_state(expert.page, "joined")
        assert await text_of(expert.page, "interpreter-members") == t(
            lang, "istatus.members", needs=f"{t(lang, 'lang.ar')} ({t(lang, 'modality.spoken')})"
        )
        await until(interp.page, f"{PILL}.dataset.call === 'true'")
        await until(interp.page, f"{PILL}.dataset.status === 'busy'")  # the server's word
        assert (await diagnostics(interp.page))["call"]["session"] == session_id
        await check_screen(interp.page, "call", lang, prefix="interpreter")
        await check_screen(expert.page, "interpreter-call", lang)

        # The interpreter leaves: back at the desk, and the expert's call goes on.
        await interp.page.get_by_test_id("leave-call").click()
        await on_screen(interp.page, "interp-home")
        assert await text_of(interp.page, "interp-notice") == t(lang, "icall.you_left")
        await wait_for_interpreter_state(expert.page, "left")
        await expert.page.get_by_test_id("interpreter-tile").wait_for(state="hidden")
        assert (await diagnostics(expert.page))["screen"] == "call"
        await video_frames_advancing(expert.page, REMOTE, timeout=10)
        await kiosk.page.locator("[data-testid=remote-video-interpreter]").wait_for(
            state="detached"
        )
        await video_frames_advancing(kiosk.page, REMOTE, timeout=10)
        await hears(kiosk.page, 1)
        await hears(expert.page, 1)
        await until(interp.page, f"{PILL}.dataset.status === 'available'")
        assert (await diagnostics(interp.page))["call"] is None
        assert page_errors(interp.console.errors) == [], interp.console.dump()
        assert page_errors(expert.console.errors) == [], expert.console.dump()


@pytest.fixture
def doccam_page(tmp_path: Path) -> Path:
    """A still picture of a page on a desk, for the booth's made-up document camera."""
    path = tmp_path / "page.png"
    cv2.imwrite(str(path), sample_frame((1280, 720)).image)
    return path


@pytest.mark.timeout(200)
async def test_typed_captions_reach_the_expert_as_they_are_typed(
    browser: Browser, node: ServeProcess
) -> None:
    async with (
        console_tab(browser, node, lang="en") as interp,
        console_tab(browser, node, lang="en") as expert,
        kiosk_tab(browser, node) as kiosk,
    ):
        # Every caption the interpreter's page sends, with the page's time it went.
        await interp.page.add_init_script(SPY_CAPTIONS)
        await interp.page.reload()
        await until(interp.page, "document.body.dataset.ready === 'true'")
        await interpreter_available(interp.page, "tulkki.text")
        await expert_in_a_call(expert.page, kiosk)
        await request_interpreter(expert.page, "fi", "text")
        await wait_for_request(interp.page)
        await interp.page.get_by_test_id("request-accept").click()
        await on_screen(interp.page, "interp-call", timeout=20_000)
        await wait_for_interpreter_state(expert.page, "joined")

        # Typing: the line being typed shows in the expert's view as it grows, at most
        # ten times a second; Enter sends the finished line and empties the field.
        field = interp.page.get_by_test_id("caption-input")
        await field.click()
        line = "Asiakas kysyy asumistuesta ja sen hakemisesta verkossa."
        await field.press_sequentially(line, delay=15, timeout=90_000)
        await until(
            expert.page,
            "document.querySelector('[data-testid=caption-live]').textContent === "
            + json.dumps(line),
        )
        sent = await interp.page.evaluate("window.__captions")
        partial = [m for m in sent if m["message"]["final"] is False]
        assert partial and partial[-1]["message"]["text"] == line, partial[-3:]
        # At most one every 100 ms (ten a second), however fast the typing.
        times = [m["at"] for m in partial]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert len(partial) >= 3 and min(gaps) >= 99, gaps
        await field.press("Enter")
        await until(
            expert.page, "document.querySelectorAll('[data-testid=caption-line]').length === 1"
        )
        assert await text_of(expert.page, "caption-line") == line
        assert await field.input_value() == ""
        last = (await interp.page.evaluate("window.__captions"))[-1]["message"]
        assert last["final"] is True and last["text"] == line, last
        assert not await expert.page.get_by_test_id("caption-live").is_visible()

        # The next line, half typed: the expert sees it as it grows.
        half = "Hakemuksen voi tehdä myös"
        await field.press_sequentially(half, delay=15, timeout=90_000)
        await until(
            expert.page,
            "document.querySelector('[data-testid=caption-live]').textContent === "
            + json.dumps(half),
        )
        await check_screen(interp.page, "captions", "en", prefix="interpreter")
        await check_screen(expert.page, "captions", "en")
        await field.fill("")  # wiped: the line being typed empties on the expert's view too
        await until(
            expert.page, "document.querySelector('[data-testid=caption-live]').hidden === true"
        )

        # A hostile line is shown as the characters it is, and runs nothing.
        await field.fill(HOSTILE)
        await field.press("Enter")
        await until(
            expert.page, "document.querySelectorAll('[data-testid=caption-line]').length === 2"
        )
        assert await expert.page.get_by_test_id("caption-line").last.inner_text() == HOSTILE
        assert await expert.page.evaluate("window.__pwned === undefined")
        assert page_errors(interp.console.errors) == [], interp.console.dump()
        assert page_errors(expert.console.errors) == [], expert.console.dump()


@pytest.mark.timeout(240)
async def test_the_interpreter_sees_the_document_camera_while_the_expert_shows_it(
    browser: Browser, node: ServeProcess, doccam_page: Path
) -> None:
    async with (
        console_tab(browser, node, lang="en") as interp,
        console_tab(browser, node, lang="en") as expert,
        kiosk_tab(browser, node, booth_args=("--doccam-fake", str(doccam_page))) as kiosk,
    ):
        await interpreter_available(interp.page)
        await expert_in_a_call(expert.page, kiosk)
        await request_interpreter(expert.page, "ar", "spoken")
        await wait_for_request(interp.page)
        await interp.page.get_by_test_id("request-accept").click()
        await on_screen(interp.page, "interp-call", timeout=20_000)
        await wait_for_interpreter_state(expert.page, "joined")

        # The interpreter asks to see the booth's document camera; the expert is asked plainly.
        await video_frames_advancing(expert.page, "[data-testid=doccam-video]", timeout=20)
        assert await text_of(interp.page, "icall-doccam-empty") == t(
            "en", "icall.doccam_not_shared"
        )
        await interp.page.get_by_test_id("doccam-share-request").click()
        await until(
            interp.page, "document.querySelector('[data-testid=doccam-share-request]').disabled"
        )
        assert await text_of(interp.page, "icall-doccam-empty") == t("en", "icall.doccam_asked")
        dialog = expert.page.get_by_test_id("doccam-share-dialog")
        await dialog.wait_for()
        assert t("en", "doccam_share.text") in await text_of(expert.page, "doccam-share-dialog")
        await check_screen(expert.page, "doccam-share", "en")
        await expert.page.get_by_test_id("doccam-share-yes").click()
        await dialog.wait_for(state="hidden")
        share = expert.page.get_by_test_id("doccam-share")
        await until(
            expert.page,
            "document.querySelector('[data-testid=doccam-share]').getAttribute('aria-pressed')"
            " === 'true'",
        )
        # The document camera connects to the interpreter too: its picture moves there.
        await video_frames_advancing(interp.page, "[data-testid=icall-doccam-video]", timeout=20)
        assert not await interp.page.get_by_test_id("doccam-share-request").is_visible()
        await check_screen(interp.page, "doccam", "en", prefix="interpreter")
        # The expert stops showing it: the document camera closes that connection.
        await share.click()
        await until(
            interp.page,
            "document.querySelector('[data-testid=icall-doccam-empty]').textContent === "
            + json.dumps(t("en", "icall.doccam_not_shared")),
        )
        await interp.page.get_by_test_id("icall-doccam-video").wait_for(state="hidden")
        assert page_errors(interp.console.errors) == [], interp.console.dump()
        assert page_errors(expert.console.errors) == [], expert.console.dump()


@pytest.fixture
async def quick_node(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    """A node where nobody-answered comes after 4 s."""
    config = directory_toml(tmp_path, (r"^answer_limit_s = 90\b", "answer_limit_s = 4"))
    async with serving("memory", "quick-interpreting-node", config=config) as server:
        yield server


@pytest.mark.timeout(150)
async def test_cancel_decline_and_nobody_answering_are_told_plainly(
    browser: Browser, quick_node: ServeProcess
) -> None:
    node = quick_node
    async with (
        console_tab(browser, node, lang="en") as interp,
        console_tab(browser, node, lang="en") as expert,
        kiosk_tab(browser, node) as kiosk,
    ):
        await interpreter_available(interp.page)
        await expert_in_a_call(expert.page, kiosk)

        # The expert cancels while it rings: the ring goes, with a plain reason.
        await request_interpreter(expert.page, "ar", "spoken")
        await wait_for_request(interp.page)
        await expert.page.get_by_test_id("interpreter-cancel").click()
        await wait_for_interpreter_state(expert.page, "cancelled")
        await until(interp.page, "document.querySelectorAll('[data-testid=request]').length === 0")
        assert await text_of(interp.page, "interp-notice") == t(
            "en", "requests.cancelled", agency=KELA, place=f"Kitee, {t('en', 'site.kind_S')}"
        )
        assert (await diagnostics(interp.page))["ringing"] is False

        # Asked again, the interpreter declines: nobody else can come, and within the
        # limit the expert is told so, with the choices.
        await request_interpreter(expert.page, "ar", "spoken")
        await wait_for_request(interp.page)
        await interp.page.get_by_test_id("request-decline").click()
        assert await request_count(interp.page) == 0
        await wait_for_interpreter_state(expert.page, "unanswered", timeout=10_000)
        status = await text_of(expert.page, "interpreter-status")
        assert t("en", "lang.ar") in status and "0:04" in status, status
        for testid in ("interpreter-keep-waiting", "interpreter-retry", "interpreter-cancel"):
            assert await expert.page.get_by_test_id(testid).is_visible(), testid
        await check_screen(expert.page, "interpreter-unanswered", "en")

        # Keep waiting puts the choices aside; the request stays open.
        await expert.page.get_by_test_id("interpreter-keep-waiting").click()
        await wait_for_interpreter_state(expert.page, "waiting")
        assert not await expert.page.get_by_test_id("interpreter-retry").is_visible()
        assert await expert.page.get_by_test_id("interpreter-cancel").is_visible()

        # Try again: the clock starts over and the interpreter who declined is rung again.
        await expert.page.get_by_test_id("interpreter-cancel").click()
        await wait_for_interpreter_state(expert.page, "cancelled")
        await request_interpreter(expert.page, "ar", "spoken")
        await wait_for_request(interp.page)
        await interp.page.get_by_test_id("request-decline").click()
        await wait_for_interpreter_state(expert.page, "unanswered", timeout=10_000)
        await expert.page.get_by_test_id("interpreter-retry").click()
        await wait_for_interpreter_state(expert.page, "ringing")
        await wait_for_request(interp.page)
        await interp.page.get_by_test_id("request-accept").click()
        await on_screen(interp.page, "interp-call", timeout=20_000)
        await wait_for_interpreter_state(expert.page, "joined")

        # The interpreter's page reloads mid-call: it goes straight back into the call.
        await interp.page.reload()
        await on_screen(interp.page, "interp-call", timeout=20_000)
        await video_frames_advancing(interp.page, BOOTH, timeout=20)
        await video_frames_advancing(interp.page, EXPERT, timeout=20)
        await video_frames_advancing(expert.page, INTERPRETER, timeout=20)
        assert await interpreter_state(expert.page) == "joined"
        assert page_errors(interp.console.errors) == [], interp.console.dump()
        assert page_errors(expert.console.errors) == [], expert.console.dump()


@pytest.mark.timeout(120)
async def test_rings_that_ring_out_are_told_and_two_in_a_row_pause_the_interpreter(
    browser: Browser, tmp_path: Path
) -> None:
    config = directory_toml(tmp_path, (r"^ring_timeout_s = 30\b", "ring_timeout_s = 2"))
    async with (
        serving("memory", "short-ring-node", config=config) as node,
        console_tab(browser, node, lang="fi") as interp,
        console_tab(browser, node, lang="fi") as expert,
        kiosk_tab(browser, node) as kiosk,
    ):
        await interpreter_available(interp.page)
        await expert_in_a_call(expert.page, kiosk)
        await request_interpreter(expert.page, "ar", "spoken")
        await wait_for_request(interp.page)
        # Nobody answers: the ring goes with a line saying so, and the chime stops.
        await until(interp.page, "document.querySelectorAll('[data-testid=request]').length === 0")
        place = f"Kitee, {t('fi', 'site.kind_S')}"
        assert await text_of(interp.page, "interp-notice") == t(
            "fi", "requests.timed_out", agency="Kela", place=place
        )
        assert (await diagnostics(interp.page))["ringing"] is False
        # Try again rings it again; the second ring in a row that rings out pauses.
        await expert.page.get_by_test_id("interpreter-cancel").click()
        await wait_for_interpreter_state(expert.page, "cancelled")
        await request_interpreter(expert.page, "ar", "spoken")
        await wait_for_request(interp.page)
        await until(interp.page, f"{PILL}.dataset.status === 'paused'", timeout=10_000)
        assert await text_of(interp.page, "interp-notice") == t(
            "fi", "availability.missed_requests_notice"
        )
        assert await text_of(interp.page, "availability") == t(
            "fi", "availability.is_paused_reason", reason=t("fi", "reason.missed_requests")
        )
        await check_screen(interp.page, "paused", "fi", prefix="interpreter")
        assert page_errors(interp.console.errors) == [], interp.console.dump()


def with_second_arabic_interpreter(tmp_path: Path) -> Path:
    """The demo directory with tulkki.ar2, a second Arabic interpreter; everyone rung at once."""
    block = re.search(
        r'^\[\[staff\]\]\nusername = "tulkki\.ar"\n.*?\n\n', DEMO_CONFIG.read_text(), re.M | re.S
    )
    assert block, "the demo directory has no tulkki.ar"
    second = block.group(0).replace('"tulkki.ar"', '"tulkki.ar2"', 1)
    assert "\\" not in second
    return directory_toml(
        tmp_path,
        (r'^(\[\[staff\]\]\nusername = "tulkki\.fse")', second + r"\1"),
        (r"^widen_after_s = 15\b", "widen_after_s = 0.2"),
    )


@pytest.mark.timeout(180)
async def test_two_interpreters_race_then_work_as_a_team(browser: Browser, tmp_path: Path) -> None:
    config = with_second_arabic_interpreter(tmp_path)
    async with (
        serving("memory", "two-interpreters-node", config=config) as node,
        console_tab(browser, node, lang="en") as first,
        console_tab(browser, node, lang="en") as second,
        console_tab(browser, node, lang="en") as expert,
        kiosk_tab(browser, node) as kiosk,
    ):
        await interpreter_available(first.page, "tulkki.ar")
        await interpreter_available(second.page, "tulkki.ar2")
        await expert_in_a_call(expert.page, kiosk)
        await request_interpreter(expert.page, "ar", "spoken")
        await wait_for_request(first.page)
        await wait_for_request(second.page, timeout=20_000)

        # Both press Accept at once: exactly one joins, the other is told plainly.
        press = "document.querySelector('[data-testid=request-accept]').click()"
        await asyncio.gather(first.page.evaluate(press), second.page.evaluate(press))
        await wait_for_interpreter_state(expert.page, "joined", timeout=20_000)

        async def one_joined() -> bool:
            screens = [(await diagnostics(p))["screen"] for p in (first.page, second.page)]
            return "interp-call" in screens

        await eventually(one_joined, timeout=20, message="one interpreter in the call")
        in_call = (await diagnostics(first.page))["screen"] == "interp-call"
        winner, loser = (first, second) if in_call else (second, first)
        await until(loser.page, "!document.querySelector('[data-testid=interp-notice]').hidden")
        assert (await diagnostics(loser.page))["screen"] == "interp-home"
        told = await text_of(loser.page, "interp-notice")
        place = f"Kitee, {t('en', 'site.kind_S')}"
        # Its accept lost (conflict), or the withdrawal came before it was sent.
        assert told in (
            t("en", "requests.lost_race", agency=KELA, place=place),
            t("en", "requests.taken", agency=KELA, place=place),
        ), told
        members = await text_of(expert.page, "interpreter-members")
        assert members.count(t("en", "lang.ar")) == 1, members

        # Team interpreting: the expert asks for a second one; the other interpreter joins,
        # and everyone sees everyone.
        await request_interpreter(expert.page, "ar", "spoken")
        await wait_for_request(loser.page, timeout=20_000)
        await loser.page.get_by_test_id("request-accept").click()
        await on_screen(loser.page, "interp-call", timeout=20_000)
        await video_frames_advancing(expert.page, "[data-testid=interpreter-video-2]", timeout=20)
        await video_frames_advancing(expert.page, INTERPRETER, timeout=20)
        await video_frames_advancing(
            loser.page, "[data-testid=remote-video-interpreter]", timeout=20
        )
        await video_frames_advancing(
            winner.page, "[data-testid=remote-video-interpreter]", timeout=20
        )
        await check_screen(expert.page, "interpreter-team", "en")

        # The first hands over and leaves; nothing drops for the others.
        await winner.page.get_by_test_id("leave-call").click()
        await on_screen(winner.page, "interp-home")
        await wait_for_interpreter_state(expert.page, "one_left")
        await video_frames_advancing(loser.page, BOOTH, timeout=10)
        await video_frames_advancing(expert.page, REMOTE, timeout=10)
        await until(
            expert.page,
            "[...document.querySelectorAll('[data-testid^=interpreter-tile]')]"
            ".filter((tile) => !tile.hidden).length === 1",
        )
        for tab in (first, second, expert):
            assert page_errors(tab.console.errors) == [], tab.console.dump()


@pytest.mark.timeout(180)
async def test_a_booth_need_nobody_serves_is_told_at_once_on_both_screens(
    browser: Browser, node: ServeProcess
) -> None:
    """The citizen chose Somali interpreting; Kela's providers have nobody for it. Nothing
    rings: the booth and the expert are told so as soon as the call is answered."""
    async with (
        console_tab(browser, node, lang="fi") as expert,
        kiosk_tab(browser, node) as kiosk,
    ):
        await log_in(expert.page, "kela.expert")
        await go_available(expert.page)
        await ask_with_interpreter(kiosk.page, "fi", "so")
        await wait_for_offer(expert.page)
        await accept(expert.page)
        await video_frames_advancing(expert.page, REMOTE, timeout=20)
        await in_the_call(kiosk.page, timeout=20)

        await wait_for_interpreter_state(expert.page, "unavailable")
        status = await text_of(expert.page, "interpreter-status")
        assert status == t(
            "fi", "istatus.unavailable", need=f"{t('fi', 'lang.so')} ({t('fi', 'modality.spoken')})"
        ), status
        assert await expert.page.get_by_test_id("interpreter-cancel").is_visible()
        assert not await expert.page.locator("#interpreter-waited").is_visible()
        await check_screen(expert.page, "interpreter-unavailable", "fi")

        booth = kiosk.page.get_by_test_id("interpreter-status")
        await booth.wait_for()
        await until(
            kiosk.page,
            "document.querySelector('[data-testid=interpreter-status]').dataset.state "
            "=== 'unavailable'",
        )
        said = await booth.inner_text()
        assert "Tulkkia ei ole saatavilla" in said and "somali" in said, said
        await check(kiosk.page, "interpreter-unavailable", "fi")

        # The expert clears it: both screens let it go, and the call goes on.
        await expert.page.get_by_test_id("interpreter-cancel").click()
        await booth.wait_for(state="hidden")
        await video_frames_advancing(expert.page, REMOTE, timeout=10)
        assert page_errors(expert.console.errors) == [], expert.console.dump()
        assert kiosk.console.errors == [], kiosk.console.dump()
