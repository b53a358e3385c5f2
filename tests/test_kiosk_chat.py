"""The citizen writes to the expert on the booth's own on-screen keyboard, in real Chromium.

A real `etapiste serve` node and a real `etapiste booth --no-kiosk-browser --fake-devices`
serve the kiosk page; the expert is a staff protocol client with aiortc media
(tests/kiosk.py). The writing panel is checked in fi, sv and en with axe-core, target and
text sizes, and saved as docs/screens/kiosk-chat-<lang>.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page

from signaling.client import SignalingClient
from signaling.protocol import ChatRelay

from .browser import video_frames_advancing
from .kiosk import (
    SignalingCut,
    ask_for,
    chat_lines,
    check,
    expert_at,
    in_the_call,
    kiosk_tab,
    on_screen,
    t,
    tap,
    type_on_screen,
    until,
)
from .support import ServeProcess

pytestmark = [pytest.mark.browser]

REMOTE = "[data-testid=remote-video]"
HOSTILE = '<img src=x onerror="window.injected=1"><script>window.injected=2</script>'

# lang: (site, agency, service, expert, the agency's name in lang, the expert's public name)
CALLS = {
    "fi": ("lib-kitee", "kela", "general", "kela.expert", "Kela", "Anna"),
    "sv": ("th-kaskinen", "kela", "housing", "kela.expert", "FPA", "Anna"),
    "en": (
        "bus-lieksa",
        "vero",
        "tax-card",
        "vero.expert",
        "Finnish Tax Administration",
        "Veroneuvoja",
    ),
}
# What the expert writes, and what the citizen taps back: capitals, å ä ö, digits and
# punctuation (behind the 123 key).
GREETINGS = {
    "fi": "Hei! Miten voin auttaa?",
    "sv": "Hej! Hur kan jag hjälpa dig?",
    "en": "Hello! How can I help you?",
}
REPLIES = {
    "fi": "Muutin Ålandista 2024. Täytyykö tuoda Kela-kortti?",
    "sv": "Hej! Får jag bostadsbidrag för år 2025? Hyran är 640 €.",
    "en": "Hello, I moved from Åland to Kitee. Is my tax card (2025) OK?",
}
SECOND = {"fi": "Kiitos, ymmä", "sv": "Tack, jag för", "en": "Thank you, I und"}


async def relayed(expert: SignalingClient, session_id: str) -> str:
    """Wait for the next chat line relayed to the expert in `session_id`; return its text."""
    relay = await expert.wait_for(ChatRelay, lambda m: m.session_id == session_id, timeout=10)
    return relay.text


async def expert_is_seen(page: Page, *, min_height: int) -> None:
    """The expert's video moves on the call screen and is at least `min_height` px tall."""
    await video_frames_advancing(page, REMOTE, min_frames=5, timeout=10)
    box = await page.locator(REMOTE).bounding_box()
    assert box is not None and box["height"] >= min_height, box


@pytest.mark.timeout(180)
@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_the_citizen_writes_on_the_screen_and_the_expert_reads_it(
    browser: Browser, node: ServeProcess, lang: str
) -> None:
    site, agency, service, username, agency_name, public_name = CALLS[lang]
    expert_who = f"{public_name}, {agency_name}"
    you = t(lang, "call.you")
    async with kiosk_tab(browser, node, site) as kiosk, expert_at(node, username) as expert:
        page = kiosk.page
        await ask_for(page, lang, agency, service)
        offer, _ = await expert.answer()
        session_id = offer.session_id
        await in_the_call(page)
        await expert.client.request(
            {"type": "chat", "session_id": session_id, "text": GREETINGS[lang]}
        )
        await until(page, "document.querySelectorAll('[data-testid=kiosk-chat-line]').length")

        # A large, labelled button opens the panel: the field takes the focus, and the
        # expert's face stays in view beside the conversation, smaller.
        write = page.get_by_test_id("kiosk-chat-open")
        assert (await write.inner_text()).strip() == t(lang, "chat.open")
        assert await write.get_attribute("aria-expanded") == "false"
        await write.click()
        keyboard = page.get_by_test_id("kiosk-keyboard")
        await keyboard.wait_for()
        assert await write.get_attribute("aria-expanded") == "true"
        field = page.get_by_test_id("kiosk-chat-input")
        assert await page.evaluate("document.activeElement.dataset.testid") == "kiosk-chat-input"
        assert await page.get_by_test_id("kiosk-chat-send").is_disabled()  # nothing to send
        await expert_is_seen(page, min_height=240)

        # Keys are buttons with names; shift makes the next letter a capital, then lets go.
        shift = keyboard.get_by_test_id("kiosk-key-shift")
        assert await shift.get_attribute("aria-pressed") == "false"
        assert await keyboard.get_by_role("button", name="å", exact=True).is_visible()
        await type_on_screen(page, REPLIES[lang])
        assert await field.input_value() == REPLIES[lang]
        await keyboard.get_by_test_id("kiosk-key-erase").click()  # erase the last, tap it again
        await type_on_screen(page, REPLIES[lang][-1])
        assert await field.input_value() == REPLIES[lang]

        # Send: the expert gets exactly that line; the conversation shows who said what.
        await page.get_by_test_id("kiosk-chat-send").click()
        assert await relayed(expert.client, session_id) == REPLIES[lang]
        await until(page, "document.querySelectorAll('[data-testid=kiosk-chat-line]').length === 2")
        assert await field.input_value() == ""
        # A new line starts on lower-case letters again.
        assert await keyboard.get_attribute("data-mode") == "letters"
        assert await shift.get_attribute("aria-pressed") == "false"
        assert await chat_lines(page) == [(expert_who, GREETINGS[lang]), (you, REPLIES[lang])]

        # The expert answers; the citizen starts the next line (shift locked on a second
        # tap, all capitals) and the panel is checked and photographed as it is now.
        answer = {"fi": "Kyllä, ota kortti mukaan.", "sv": "Ja, det får du.", "en": "Yes, it is."}
        await expert.client.request(
            {"type": "chat", "session_id": session_id, "text": answer[lang]}
        )
        await until(page, "document.querySelectorAll('[data-testid=kiosk-chat-line]').length === 3")
        await type_on_screen(page, SECOND[lang])
        await shift.click()
        await shift.click()
        assert await shift.get_attribute("data-state") == "lock"
        assert await keyboard.get_by_role("button", name="Ö", exact=True).is_visible()
        await check(page, "chat", lang)
        await expert_is_seen(page, min_height=240)

        # Close: the panel goes, the call's buttons come back; the draft stays until the end.
        await page.get_by_test_id("kiosk-chat-close").click()
        await keyboard.wait_for(state="hidden")
        assert await page.evaluate("document.activeElement.dataset.testid") == "kiosk-chat-open"
        assert await page.get_by_test_id("end-call").is_visible()
        assert await field.input_value() == SECOND[lang]
        await expert_is_seen(page, min_height=400)

        # At the end of the call nothing typed or said stays, not even before the reset.
        await tap(page, "end-call", "feedback")
        assert await field.input_value() == ""
        assert await chat_lines(page) == []
        await page.get_by_test_id("feedback-skip").click()
        await page.get_by_test_id("feedback-thanks").wait_for()
        await page.locator("#thanks-done").click()
        await on_screen(page, "welcome", timeout=20_000)
        assert await field.input_value() == ""
        assert await chat_lines(page) == []
        assert kiosk.console.errors == [], kiosk.console.dump()


@pytest.mark.timeout(120)
async def test_a_physical_keyboard_writes_too_and_hostile_lines_stay_text(
    browser: Browser, node: ServeProcess
) -> None:
    async with kiosk_tab(browser, node) as kiosk, expert_at(node, "kela.expert") as expert:
        page = kiosk.page
        await ask_for(page, "fi", "kela", "general")
        offer, _ = await expert.answer()
        session_id = offer.session_id
        await in_the_call(page)

        # A line that looks like markup is shown as the characters it is, and runs nothing.
        await expert.client.request({"type": "chat", "session_id": session_id, "text": HOSTILE})
        await until(page, "document.querySelectorAll('[data-testid=kiosk-chat-line]').length")
        assert await chat_lines(page) == [("Anna, Kela", HOSTILE)]
        assert await page.evaluate(
            "!document.querySelector("
            "'[data-testid=conversation] img, [data-testid=conversation] script')"
            " && window.injected === undefined"
        )

        # With a keyboard attached, typing on the call screen opens the panel and writes;
        # Enter sends. Escape closes the panel.
        await page.keyboard.type("Kuuluuko ääni? <b>1</b>")
        keyboard = page.get_by_test_id("kiosk-keyboard")
        await keyboard.wait_for()
        field = page.get_by_test_id("kiosk-chat-input")
        assert await field.input_value() == "Kuuluuko ääni? <b>1</b>"
        await page.keyboard.press("Enter")
        assert await relayed(expert.client, session_id) == "Kuuluuko ääni? <b>1</b>"
        await until(page, "document.querySelectorAll('[data-testid=kiosk-chat-line]').length === 2")
        assert (await chat_lines(page))[-1] == ("Sinä", "Kuuluuko ääni? <b>1</b>")
        assert await page.evaluate("!document.querySelector('[data-testid=conversation] b')")
        # The screen's keys and the physical keyboard mix, at the caret.
        await page.keyboard.type("Hei")
        await page.keyboard.press("ArrowLeft")
        await type_on_screen(page, "j")
        assert await field.input_value() == "Heji"
        await page.keyboard.press("Backspace")
        assert await field.input_value() == "Hei"
        await page.keyboard.press("Escape")
        await keyboard.wait_for(state="hidden")
        assert await page.get_by_test_id("mute").is_visible()
        assert kiosk.console.errors == [], kiosk.console.dump()


@pytest.mark.timeout(120)
async def test_a_line_that_cannot_go_stays_in_the_field_with_a_plain_word(
    browser: Browser, node: ServeProcess
) -> None:
    async with (
        kiosk_tab(browser, node, load=False) as kiosk,
        expert_at(node, "kela.expert") as expert,
    ):
        page = kiosk.page
        link = SignalingCut()
        await page.route_web_socket(re.compile(r"/ws$"), link.route)
        await page.goto(kiosk.booth.url)
        await ask_for(page, "fi", "kela", "general")
        offer, _ = await expert.answer()
        await in_the_call(page)
        await page.get_by_test_id("kiosk-chat-open").click()
        line = "Kuuleeko kukaan?"
        await type_on_screen(page, line)

        # The booth's link is down: Send says so plainly and keeps the line.
        await link.start()
        await until(page, "window.kioskDiagnostics().signaling !== 'open'")
        await page.get_by_test_id("kiosk-chat-send").click()
        error = page.get_by_test_id("kiosk-chat-error")
        await error.wait_for()
        assert (await error.inner_text()).strip() == t("fi", "chat.failed")
        field = page.get_by_test_id("kiosk-chat-input")
        assert await field.input_value() == line
        assert await chat_lines(page) == []

        # The link is back: the same line goes with one more tap, and the word goes away.
        link.stop()
        await until(page, "window.kioskDiagnostics().signaling === 'open'", timeout=20_000)
        await page.get_by_test_id("kiosk-chat-send").click()
        assert await relayed(expert.client, offer.session_id) == line
        await error.wait_for(state="hidden")
        await until(page, "document.querySelectorAll('[data-testid=kiosk-chat-line]').length")
        assert await chat_lines(page) == [("Sinä", line)]
        errors = [e for e in kiosk.console.errors if "WebSocket" not in e]
        assert errors == [], kiosk.console.dump()
