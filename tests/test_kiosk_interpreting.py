"""Interpreters in the booth's call, in real Chromium (docs/protocol.md §5.3, docs/booth.md).

A real `etapiste serve` node and a real `etapiste booth --no-kiosk-browser --fake-devices`
serve the kiosk page. The expert is a staff protocol client with aiortc media; the
interpreters are too, signed in with the token REST API as the demo's tulkki.ar, tulkki.fse
and tulkki.text. The citizen chooses the interpreter before the call; the server requests
one when the expert answers. Each new state is checked with axe-core, target and text sizes,
and saved as docs/screens/kiosk-<state>-fi.png.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from signaling.directory import DEMO_CONFIG
from signaling.protocol import SessionUpdate

from .browser import video_state
from .kiosk import (
    ask_with_interpreter,
    check,
    expert_at,
    in_the_call,
    interpreter_at,
    kiosk_tab,
    on_screen,
    t,
    tap,
    text_of,
    until,
)
from .support import ServeProcess, serving

pytestmark = [pytest.mark.browser]

EXPERT = "[data-testid=remote-video]"
INTERPRETER = "[data-testid=remote-video-interpreter]"
CAPTIONS = "[data-testid=captions]"
ANSWER_LIMIT_S = 3.0


# The call each language makes: lang -> (agency, service, expert). The demo's interpreters
# work between their language and Finnish; the test's directory gives tulkki.ar and
# tulkki.text Swedish and English too, so that every language's screens can be seen.
CALLS = {
    "fi": ("kela", "general", "kela.expert"),
    "sv": ("kela", "general", "kela.expert"),
    "en": ("vero", "tax-card", "vero.expert"),
}


def demo_directory(tmp_path: Path, *, answer_limit_s: float | None = None) -> Path:
    """The demo directory with a second Arabic interpreter (team interpreting), tulkki.ar
    and tulkki.text in fi, sv and en, and optionally a short interpreting.answer_limit_s;
    return the file."""
    text = DEMO_CONFIG.read_text()
    for before, after in (
        ('languages = ["ar", "fi"]', 'languages = ["ar", "fi", "sv", "en"]'),
        (
            '[staff.interpreter]\nlanguages = ["fi"]',
            '[staff.interpreter]\nlanguages = ["fi", "sv", "en"]',
        ),
    ):
        assert text.count(before) == 1, f"the demo directory's {before!r} moved"
        text = text.replace(before, after)
    if answer_limit_s is not None:
        changed = re.sub(
            r"(?m)^answer_limit_s = 90\b", f"answer_limit_s = {answer_limit_s:g}", text
        )
        assert changed != text, "the demo directory's answer_limit_s line moved"
        text = changed
    ar = re.search(r'(?ms)^\[\[staff\]\]\nusername = "tulkki\.ar"\n(.*?)(?=^\[\[|\Z)', text)
    assert ar is not None, "the demo directory's tulkki.ar entry moved"
    second = ar.group(0).replace('"tulkki.ar"', '"tulkki.ar2"', 1)
    second = second.replace('display_name = "Arabian tulkki"', 'display_name = "Toinen tulkki"')
    config = tmp_path / "directory.toml"
    config.write_text(text.rstrip() + "\n\n" + second)
    return config


@pytest.fixture
async def team_node(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    """A node on the demo directory with two Arabic interpreters (and more languages)."""
    async with serving("memory", "team-node", config=demo_directory(tmp_path)) as server:
        yield server


@pytest.fixture
async def impatient_node(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    """A node that tells the booth after ANSWER_LIMIT_S that nobody has answered."""
    config = demo_directory(tmp_path, answer_limit_s=ANSWER_LIMIT_S)
    async with serving("memory", "impatient-node", config=config) as server:
        yield server


async def box(page: Page, selector: str) -> dict[str, float]:
    found = await page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not on the screen"
    return found


async def diagnostics(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate("window.kioskDiagnostics()")
    return result


async def interpreter_tiles(page: Page) -> int:
    count: int = await page.locator(INTERPRETER).count()
    return count


async def interpreter_moves(page: Page, participant_id: str) -> None:
    """The interpreter's picture is on the booth's screen and its frames advance."""
    await moving(page, f'[data-participant="{participant_id}"] {INTERPRETER}')


async def moving(page: Page, selector: str, timeout: float = 30) -> None:
    """A <video> shows 10 new frames.

    Unlike video_frames_advancing this survives the element's count starting over (a peer
    connection repaired from a new one, as on a loaded machine): frames are counted as
    they come, whatever the count says.
    """
    deadline = time.monotonic() + timeout
    last, seen = None, 0
    while True:
        state = await video_state(page, selector)
        if state is not None and state["width"] > 0:
            if last is not None:
                seen += state["frames"] - last if state["frames"] >= last else state["frames"]
            last = state["frames"]
            if seen >= 10:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector}: {seen} new frames in {timeout} s ({state})")
        await page.wait_for_timeout(50)


def session_of(update: SessionUpdate, session_id: str) -> bool:
    return update.session.session_id == session_id


# --- a sign-language interpreter: pinned beside the expert at the same size -------------------


@pytest.mark.timeout(180)
async def test_a_sign_language_interpreter_is_pinned_beside_the_expert_at_equal_size(
    browser: Browser, node: ServeProcess
) -> None:
    async with (
        kiosk_tab(browser, node) as kiosk,
        expert_at(node, "kela.expert") as expert,
        interpreter_at(node, "tulkki.fse") as fse,
    ):
        page = kiosk.page
        await fse.available()
        await ask_with_interpreter(page, "fi", "fse")
        offer, _ = await expert.answer()
        session_id = offer.session_id
        await in_the_call(page)

        # The server calls the interpreter the citizen chose; the booth says so plainly.
        status = page.get_by_test_id("interpreter-status")
        await status.wait_for()
        calling = await text_of(page, "interpreter-status")
        assert t("fi", "interp.calling") in calling, calling
        assert t("fi", "interp.language", language=t("fi", "lang.fse")) in calling, calling
        assert (await diagnostics(page))["signLanguage"] is False

        # The interpreter answers and joins with a picture.
        ring, interpreter_call = await fse.join()
        assert (ring.language, ring.modality) == ("fse", "sign")
        await page.locator(INTERPRETER).wait_for()
        interpreter_id = await page.locator(INTERPRETER).evaluate(
            "(video) => video.closest('[data-participant]').dataset.participant"
        )
        await interpreter_moves(page, interpreter_id)
        await moving(page, EXPERT)
        await status.wait_for(state="hidden")

        # Pinned beside the expert at the same size; both large, the self-view small.
        diag = await diagnostics(page)
        assert diag["layout"] == "sign", diag
        expert_box, interpreter_box = await box(page, EXPERT), await box(page, INTERPRETER)
        self_box = await box(page, "[data-testid=self-video]")
        print(f"sign layout: expert {expert_box}, interpreter {interpreter_box}, self {self_box}")
        assert abs(expert_box["width"] - interpreter_box["width"]) <= 2
        assert abs(expert_box["height"] - interpreter_box["height"]) <= 2
        assert abs(expert_box["y"] - interpreter_box["y"]) <= 2  # side by side
        assert interpreter_box["x"] >= expert_box["x"] + expert_box["width"] - 2
        assert expert_box["width"] >= 560 and expert_box["height"] >= 300, expert_box
        assert self_box["width"] * self_box["height"] < (
            interpreter_box["width"] * interpreter_box["height"] / 4
        )
        label = await page.locator(
            f'[data-participant="{interpreter_id}"] .party-name'
        ).inner_text()
        assert t("fi", "call.interpreter_of", language=t("fi", "lang.fse")) in label, label

        # Sign language needs motion: the booth's camera is asked for 25 fps or more, and
        # its video goes with the resolution kept and high priority, to everyone.
        assert diag["signLanguage"] is True
        assert diag["camera"]["constraints"]["frameRate"]["min"] == 25, diag["camera"]
        assert diag["camera"]["frameRate"] >= 25, diag["camera"]
        assert len(diag["videoSenders"]) == 2, diag["videoSenders"]
        for params in diag["videoSenders"].values():
            assert params["degradationPreference"] == "maintain-resolution", params
            assert params["priority"] == "high" and params["networkPriority"] == "high", params
        await check(page, "three-way-sign", "fi")

        # The interpreter sees the citizen and the expert.
        await until_frames(interpreter_call, 2)

        # A reloaded page (a crash, a relaunched browser) goes straight back to the same
        # three-way call, laid out the same.
        await page.reload()
        await on_screen(page, "call", timeout=20_000)
        await page.locator(INTERPRETER).wait_for()
        await interpreter_moves(page, interpreter_id)
        await moving(page, EXPERT)
        await until(page, "window.kioskDiagnostics().layout === 'sign'")
        await until(page, "window.kioskDiagnostics().signLanguage === true")

        # The interpreter leaves: two-way again, and the call goes on.
        await fse.leave(session_id)
        await page.locator(INTERPRETER).wait_for(state="detached")
        await until(page, "window.kioskDiagnostics().layout === 'two'")
        await moving(page, EXPERT)
        await on_screen(page, "call")
        diag = await diagnostics(page)
        assert diag["signLanguage"] is False
        assert [p["degradationPreference"] for p in diag["videoSenders"].values()] == [
            "maintain-framerate"
        ]
        full = await box(page, EXPERT)
        print(f"two-way again: expert {full}")
        assert full["width"] > expert_box["width"], (full, expert_box)
        assert kiosk.console.errors == [], kiosk.console.dump()


async def until_frames(call: Any, peers: int, at_least: int = 10, timeout: float = 20) -> None:
    """Wait until an aiortc call decodes video from `peers` participants."""
    deadline = time.monotonic() + timeout
    while True:
        seen = [r.video_frames for r in call.received.values() if r.video_frames >= at_least]
        if len(seen) >= peers:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"video from {len(seen)} of {peers} participants within {timeout} s"
            )
        await asyncio.sleep(0.05)


# --- spoken-language interpreters: the expert large, the interpreters beside -----------------


@pytest.mark.timeout(240)
async def test_spoken_language_interpreters_beside_the_expert_and_a_team_of_two(
    browser: Browser, team_node: ServeProcess
) -> None:
    node = team_node
    async with (
        kiosk_tab(browser, node) as kiosk,
        expert_at(node, "kela.expert") as expert,
        interpreter_at(node, "tulkki.ar") as first,
        interpreter_at(node, "tulkki.ar2") as second,
    ):
        page = kiosk.page
        await first.available()
        await ask_with_interpreter(page, "fi", "ar")
        offer, _ = await expert.answer()
        session_id = offer.session_id
        await in_the_call(page)
        await page.get_by_test_id("interpreter-status").wait_for()
        await check(page, "interpreter-calling", "fi")

        _, first_call = await first.join()
        await page.locator(INTERPRETER).wait_for()
        first_id = await page.locator(INTERPRETER).evaluate(
            "(video) => video.closest('[data-participant]').dataset.participant"
        )
        await interpreter_moves(page, first_id)
        await page.get_by_test_id("interpreter-status").wait_for(state="hidden")
        diag = await diagnostics(page)
        assert diag["layout"] == "spoken" and diag["signLanguage"] is False, diag
        expert_box, interpreter_box = await box(page, EXPERT), await box(page, INTERPRETER)
        print(f"spoken layout: expert {expert_box}, interpreter {interpreter_box}")
        assert expert_box["width"] >= 1.5 * interpreter_box["width"]
        assert interpreter_box["x"] >= expert_box["x"] + expert_box["width"] - 2
        label = await page.locator(f'[data-participant="{first_id}"] .party-name').inner_text()
        assert t("fi", "call.interpreter_of", language=t("fi", "lang.ar")) in label, label
        await check(page, "three-way-spoken", "fi")

        # Team interpreting: the expert asks for a second; both are shown.
        await second.available()
        await expert.client.request(
            {
                "type": "interpreter_request",
                "session_id": session_id,
                "language": "ar",
                "modality": "spoken",
            }
        )
        await second.join()
        await until(page, f"document.querySelectorAll('{INTERPRETER}').length === 2", 20_000)
        ids = await page.locator(INTERPRETER).evaluate_all(
            "(videos) => videos.map((v) => v.closest('[data-participant]').dataset.participant)"
        )
        second_id = next(i for i in ids if i != first_id)
        await interpreter_moves(page, second_id)
        boxes = [await box(page, f'[data-participant="{i}"] {INTERPRETER}') for i in ids]
        assert all(b["height"] >= 120 for b in boxes), boxes
        await until_frames(first_call, 3)  # the first hears and sees the second too

        # The first leaves, then the second: nothing drops, then two-way again.
        await first.leave(session_id)
        await until(page, f"document.querySelectorAll('{INTERPRETER}').length === 1", 15_000)
        await interpreter_moves(page, second_id)
        await second.leave(session_id)
        await page.locator(INTERPRETER).wait_for(state="detached")
        await until(page, "window.kioskDiagnostics().layout === 'two'")
        await moving(page, EXPERT)
        await on_screen(page, "call")
        assert kiosk.console.errors == [], kiosk.console.dump()


# --- speech-to-text: live captions ---------------------------------------------------------

WATCH_CAPTIONS = """() => {
  // When each caption text first shows on the screen (epoch ms), as the citizen would see it.
  window.captionSeen = {};
  const band = document.querySelector('[data-testid=captions]');
  new MutationObserver(() => {
    const now = performance.timeOrigin + performance.now();
    for (const line of band.querySelectorAll('.caption-line')) {
      const key = `${line.parentElement.id}:${line.textContent}`;
      if (!(key in window.captionSeen)) window.captionSeen[key] = now;
    }
  }).observe(band, { subtree: true, childList: true, characterData: true });
}"""

HOSTILE = '<img src=x onerror="window.injected=1">'
# What the interpreter types in each language: the line as it grows, then finished lines.
# The markup-like line is seen as the characters it is (captionSeen holds textContent), and
# is gone from the screen (only the last few stay) when the screenshot is taken.
WRITTEN = {
    "fi": (
        ["Hyvää", "Hyvää päivää,", "Hyvää päivää, miten voin"],
        [
            "Hyvää päivää, miten voin auttaa?",
            HOSTILE,
            "Kela tarvitsee vuokrasopimuksen.",
            "Tuokaa se tullessanne.",
            "Voitte näyttää paperin kameralle.",
        ],
        "Seuraavaksi kysyn osoitett",
    ),
    "sv": (
        ["God", "God dag,", "God dag, hur kan"],
        [
            "God dag, hur kan jag hjälpa till?",
            HOSTILE,
            "FPA behöver ert hyresavtal.",
            "Ta med det nästa gång.",
            "Ni kan visa papperet för kameran.",
        ],
        "Nu frågar jag efter er adre",
    ),
    "en": (
        ["Good", "Good morning,", "Good morning, how can"],
        [
            "Good morning, how can I help you?",
            HOSTILE,
            "We need last year's tax decision.",
            "Please bring it with you.",
            "You can show the paper to the camera.",
        ],
        "Next I will ask for your addre",
    ),
}


async def seen_within(page: Page, key: str, sent_ms: float, limit_ms: float) -> float:
    """Wait until caption `key` has been seen on the page; return its delay after sending."""
    await until(page, f"{key!r} in window.captionSeen", timeout=5_000)
    seen: float = await page.evaluate(f"window.captionSeen[{key!r}]")
    latency = seen - sent_ms
    assert latency < limit_ms, f"{key}: shown {latency:.0f} ms after it was sent"
    return latency


@pytest.mark.timeout(180)
@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_captions_of_a_speech_to_text_interpreter_show_live(
    browser: Browser, team_node: ServeProcess, lang: str
) -> None:
    node = team_node
    agency, service, username = CALLS[lang]
    typed, finished, typing = WRITTEN[lang]
    async with (
        kiosk_tab(browser, node) as kiosk,
        expert_at(node, username) as expert,
        interpreter_at(node, "tulkki.text") as writer,
    ):
        page = kiosk.page
        await writer.available()
        await ask_with_interpreter(page, lang, "text", agency, service)
        offer, _ = await expert.answer()
        session_id = offer.session_id
        await in_the_call(page)
        ring, _ = await writer.join()
        assert (ring.language, ring.modality) == (lang, "text")
        band = page.locator(CAPTIONS)
        await band.wait_for()  # the band shows when the speech-to-text interpreter joins
        waiting = await page.locator("#caption-waiting").inner_text()
        assert waiting.strip() == t(lang, "captions.waiting")
        await page.evaluate(WATCH_CAPTIONS)

        # The line being typed updates in place; each finished line goes above it.
        latencies: list[float] = []
        for text in typed:
            sent = time.time() * 1000
            await writer.caption(session_id, text, final=False)
            latencies.append(await seen_within(page, f"caption-live:{text}", sent, 500))
        assert await page.locator("#caption-live .caption-line").count() == 1
        for text in finished:
            sent = time.time() * 1000
            await writer.caption(session_id, text, final=True)
            latencies.append(await seen_within(page, f"caption-lines:{text}", sent, 500))
        print(
            f"caption latency ({lang}) over {len(latencies)} lines: max {max(latencies):.0f} ms,"
            f" mean {sum(latencies) / len(latencies):.0f} ms"
        )
        # The last few finished lines stay, as text (never markup); nothing is typed now.
        lines = await page.locator("#caption-lines .caption-line").all_inner_texts()
        assert lines == finished[-3:], lines
        assert await page.locator("#caption-live .caption-line").count() == 0
        assert await page.evaluate(
            "!document.querySelector('[data-testid=captions] img') && window.injected === undefined"
        )
        # Finished lines are in a polite log; the line being typed is not announced.
        assert await page.locator("#caption-lines").get_attribute("role") == "log"
        assert await page.locator("#caption-live").get_attribute("aria-hidden") == "true"

        await writer.caption(session_id, typing, final=False)
        await until(page, f"document.querySelector('#caption-live').textContent === {typing!r}")
        caption_box, expert_box = await box(page, CAPTIONS), await box(page, EXPERT)
        assert caption_box["y"] >= expert_box["y"] + expert_box["height"] - 2  # under the picture
        size = await page.locator("#caption-live .caption-line").evaluate(
            "(line) => parseFloat(getComputedStyle(line).fontSize)"
        )
        assert size >= 32, size
        await check(page, "captions", lang)

        # At the end of the call the captions go at once; the reset finds nothing either.
        await tap(page, "end-call", "feedback")
        assert await page.locator("#caption-lines .caption-line").count() == 0
        assert await page.locator("#caption-live .caption-line").count() == 0
        await page.get_by_test_id("feedback-skip").click()
        await page.get_by_test_id("feedback-thanks").wait_for()
        await page.locator("#thanks-done").click()
        await on_screen(page, "welcome", timeout=20_000)
        assert await page.locator("#caption-lines .caption-line").count() == 0
        assert kiosk.console.errors == [], kiosk.console.dump()


# --- nobody answers: the citizen's choices -------------------------------------------------


def open_request(session_id: str, state: str) -> Callable[[SessionUpdate], bool]:
    """Match a session_update of `session_id` whose interpreter request is in `state`."""
    return lambda u: (
        session_of(u, session_id)
        and u.session.interpreter_request is not None
        and u.session.interpreter_request.state == state
    )


@pytest.mark.timeout(180)
@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_when_no_interpreter_answers_the_citizen_may_wait_or_try_again(
    browser: Browser, impatient_node: ServeProcess, lang: str
) -> None:
    node = impatient_node
    agency, service, username = CALLS[lang]
    async with (
        kiosk_tab(browser, node) as kiosk,
        expert_at(node, username) as expert,
        interpreter_at(node, "tulkki.ar") as interpreter,
    ):
        page = kiosk.page
        # The Arabic interpreter is signed in but not available: nobody can answer yet.
        await ask_with_interpreter(page, lang, "ar", agency, service)
        offer, _ = await expert.answer()
        session_id = offer.session_id
        await in_the_call(page)
        await page.get_by_test_id("interpreter-status").wait_for()

        unanswered = page.get_by_test_id("interpreter-unanswered")
        await unanswered.wait_for(timeout=(ANSWER_LIMIT_S + 10) * 1000)
        text = await text_of(page, "interpreter-unanswered")
        for key in ("interp.unanswered_title", "interp.unanswered_text", "interp.booking"):
            assert t(lang, key) in text, (key, text)
        assert t(lang, "interp.language", language=t(lang, "lang.ar")) in text, text
        keep = page.get_by_test_id("interpreter-keep-waiting")
        again = page.get_by_test_id("interpreter-try-again")
        assert (await keep.inner_text()).strip() == t(lang, "interp.keep_waiting")
        assert (await again.inner_text()).strip() == t(lang, "interp.try_again")
        for button in (keep, again):
            found = await button.bounding_box()
            assert found is not None and found["height"] >= 72 and found["width"] >= 300, found
        await check(page, "interpreter-unanswered", lang)

        # Try again (here by keyboard): the same need is asked for again and the clock
        # starts over; the citizen is told the interpreter is being called.
        ringing = expert.client.wait_for(
            SessionUpdate, open_request(session_id, "ringing"), timeout=10
        )
        await again.focus()
        await page.keyboard.press("Enter")
        request = (await ringing).session.interpreter_request
        assert request is not None and (request.language, request.modality) == ("ar", "spoken")
        assert request.waited_s < ANSWER_LIMIT_S, request
        await unanswered.wait_for(state="hidden")
        calling = await text_of(page, "interpreter-status")
        assert t(lang, "interp.calling") in calling, calling
        assert await page.get_by_test_id("interpreter-error").is_hidden()

        # Nobody again: the choices come back. Keep waiting: they go, the request stays
        # open ("still looking"), and the self-view is back.
        await unanswered.wait_for(timeout=(ANSWER_LIMIT_S + 10) * 1000)
        await keep.click()
        await unanswered.wait_for(state="hidden")
        still = await text_of(page, "interpreter-status")
        assert t(lang, "interp.still_calling") in still, still
        assert await page.get_by_test_id("self-video").is_visible()

        # The request stays open: an interpreter who becomes available is rung and joins.
        await interpreter.available()
        await interpreter.join()
        await page.locator(INTERPRETER).wait_for()
        await page.get_by_test_id("interpreter-status").wait_for(state="hidden")
        interpreter_id = await page.locator(INTERPRETER).evaluate(
            "(video) => video.closest('[data-participant]').dataset.participant"
        )
        await interpreter_moves(page, interpreter_id)
        label = await page.locator(
            f'[data-participant="{interpreter_id}"] .party-name'
        ).inner_text()
        assert t(lang, "call.interpreter_of", language=t(lang, "lang.ar")) in label, label
        assert kiosk.console.errors == [], kiosk.console.dump()


# --- every language's three-way screens; a sign-language team of two -----------------------


@pytest.mark.timeout(180)
@pytest.mark.parametrize("lang", ["sv", "en"])
async def test_a_spoken_language_interpreter_in_swedish_and_english(
    browser: Browser, team_node: ServeProcess, lang: str
) -> None:
    agency, service, username = CALLS[lang]
    async with (
        kiosk_tab(browser, team_node) as kiosk,
        expert_at(team_node, username) as expert,
        interpreter_at(team_node, "tulkki.ar") as interpreter,
    ):
        page = kiosk.page
        await interpreter.available()
        await ask_with_interpreter(page, lang, "ar", agency, service)
        await expert.answer()
        await in_the_call(page)
        await interpreter.join()
        await page.locator(INTERPRETER).wait_for()
        interpreter_id = await page.locator(INTERPRETER).evaluate(
            "(video) => video.closest('[data-participant]').dataset.participant"
        )
        await interpreter_moves(page, interpreter_id)
        await page.get_by_test_id("interpreter-status").wait_for(state="hidden")
        assert (await diagnostics(page))["layout"] == "spoken"
        label = await page.locator(
            f'[data-participant="{interpreter_id}"] .party-name'
        ).inner_text()
        assert t(lang, "call.interpreter_of", language=t(lang, "lang.ar")) in label, label
        await check(page, "three-way-spoken", lang)
        assert kiosk.console.errors == [], kiosk.console.dump()


def sign_team_directory(tmp_path: Path) -> Path:
    """The team directory with two Finland-Swedish Sign Language interpreters (fss <-> sv)."""
    config = demo_directory(tmp_path)
    text = config.read_text()
    fse = re.search(r'(?ms)^\[\[staff\]\]\nusername = "tulkki\.fse"\n(.*?)(?=^\[\[|\Z)', text)
    assert fse is not None, "the demo directory's tulkki.fse entry moved"
    team = []
    for username, name in (("tulkki.fss", "Teckenspråkstolk"), ("tulkki.fss2", "Andra tolken")):
        entry = fse.group(0).replace('"tulkki.fse"', f'"{username}"', 1)
        entry = entry.replace('display_name = "Viittomakielen tulkki"', f'display_name = "{name}"')
        entry = re.sub(r"languages = \[.*\n", 'languages = ["fss", "sv"]\n', entry, count=1)
        team.append(entry)
    config.write_text(text.rstrip() + "\n\n" + "\n".join(team))
    return config


@pytest.mark.timeout(240)
async def test_a_sign_language_team_of_two_hands_over_without_a_drop(
    browser: Browser, tmp_path: Path
) -> None:
    """Finland-Swedish Sign Language in a Swedish call: two interpreters pinned beside the
    expert, all three the same size; the first hands over to the second, the call goes on."""
    async with (
        serving("memory", "sign-team", config=sign_team_directory(tmp_path)) as node,
        kiosk_tab(browser, node) as kiosk,
        expert_at(node, "kela.expert") as expert,
        interpreter_at(node, "tulkki.fss") as first,
        interpreter_at(node, "tulkki.fss2") as second,
    ):
        page = kiosk.page
        await first.available()
        await ask_with_interpreter(page, "sv", "fss")
        offer, _ = await expert.answer()
        session_id = offer.session_id
        await in_the_call(page)
        ring, _ = await first.join()
        assert (ring.language, ring.modality, ring.session_language) == ("fss", "sign", "sv")
        await page.locator(INTERPRETER).wait_for()
        first_id = await page.locator(INTERPRETER).evaluate(
            "(video) => video.closest('[data-participant]').dataset.participant"
        )
        await interpreter_moves(page, first_id)
        await page.get_by_test_id("interpreter-status").wait_for(state="hidden")
        assert (await diagnostics(page))["layout"] == "sign"
        expert_box, first_box = await box(page, EXPERT), await box(page, INTERPRETER)
        assert abs(expert_box["width"] - first_box["width"]) <= 2, (expert_box, first_box)
        label = await page.locator(f'[data-participant="{first_id}"] .party-name').inner_text()
        assert t("sv", "call.interpreter_of", language=t("sv", "lang.fss")) in label, label
        await check(page, "three-way-sign", "sv")

        # The second of the team joins: expert and both interpreters side by side, equal.
        await second.available()
        await expert.client.request(
            {
                "type": "interpreter_request",
                "session_id": session_id,
                "language": "fss",
                "modality": "sign",
            }
        )
        await second.join()
        await until(page, f"document.querySelectorAll('{INTERPRETER}').length === 2", 20_000)
        ids = await page.locator(INTERPRETER).evaluate_all(
            "(videos) => videos.map((v) => v.closest('[data-participant]').dataset.participant)"
        )
        second_id = next(i for i in ids if i != first_id)
        await interpreter_moves(page, second_id)
        diag = await diagnostics(page)
        assert diag["layout"] == "sign" and diag["signLanguage"] is True, diag
        tiles = [await box(page, EXPERT)] + [
            await box(page, f'[data-participant="{i}"] {INTERPRETER}')
            for i in (first_id, second_id)
        ]
        print(f"sign team: {tiles}")
        assert max(b["width"] for b in tiles) - min(b["width"] for b in tiles) <= 2, tiles
        assert max(b["y"] for b in tiles) - min(b["y"] for b in tiles) <= 2, tiles
        assert all(b["width"] >= 300 for b in tiles), tiles
        await check(page, "sign-team", "sv")

        # Hand-over: the first leaves; the second stays pinned at the expert's size and
        # the citizen's call never leaves the call screen.
        await first.leave(session_id)
        await until(page, f"document.querySelectorAll('{INTERPRETER}').length === 1", 15_000)
        await interpreter_moves(page, second_id)
        await moving(page, EXPERT)
        await on_screen(page, "call")
        assert (await diagnostics(page))["layout"] == "sign"
        expert_box, second_box = await box(page, EXPERT), await box(page, INTERPRETER)
        assert abs(expert_box["width"] - second_box["width"]) <= 2, (expert_box, second_box)
        assert kiosk.console.errors == [], kiosk.console.dump()
