"""The expert console in real Chromium: its screens, languages, keyboard and escaping.

A real `etapiste serve` serves the console at /console/; the citizen's side is a booth's
protocol client with aiortc media (tests/console.py). Every screen (login, idle, offer,
call) is checked with axe-core in fi, sv and en and saved as
docs/screens/console-<screen>-<lang>.png. The whole journey with a real kiosk page is
tests/test_console_journey.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from .browser import describe_violations, run_axe, screenshot, video_frames_advancing
from .console import (
    CATALOGS,
    LANGS,
    PILL,
    STATIC,
    accept,
    check_screen,
    citizen_at,
    console_tab,
    diagnostics,
    directory_toml,
    go_available,
    log_in,
    on_screen,
    t,
    text_of,
    until,
    wait_for_offer,
)
from .support import ServeProcess, serving, staff_client

pytestmark = [pytest.mark.browser]

# Each language answers a different call: the offer and call screens show its details.
CALLS: dict[str, tuple[str, str, dict[str, Any]]] = {
    # lang: (site, expert, call_request)
    "fi": (
        "lib-kitee",
        "kela.expert",
        {"type": "call_request", "agency": "kela", "service": "general", "language": "fi"},
    ),
    "sv": (
        "lib-kitee",
        "kela.expert",
        {"type": "call_request", "agency": "kela", "service": "housing", "language": "sv"},
    ),
    "en": (
        "bus-lieksa",
        "vero.expert",
        {
            "type": "call_request",
            "agency": "vero",
            "service": "tax-card",
            "language": "en",
            "interpreter": {"language": "ar", "modality": "spoken"},
        },
    ),
}
CITIZEN_LINE = {
    "fi": "Hei! Kuuletteko minut?",
    "sv": "Hej! Hör ni mig?",
    "en": "Hello! Can you hear me?",
}
EXPERT_LINE = {
    "fi": "Kuulen hyvin. Miten voin auttaa?",
    "sv": "Jag hör bra. Hur kan jag hjälpa?",
    "en": "I hear you well. How can I help?",
}
HOSTILE = '<img src=x onerror="window.__pwned=1">'
PWNED = "window.__pwned === undefined"
QUALITY = "document.querySelector('[data-testid=quality]')"
WAITING_FI = (
    "document.querySelector('[data-testid=\"queue-kela/general/fi\"] [data-testid=waiting]')"
)
FOCUSED = """() => {
  const el = document.activeElement;
  return [el?.dataset?.testid ?? '', el ? getComputedStyle(el).outlineStyle : ''];
}"""


def page_errors(errors: list[str]) -> list[str]:
    """The console's errors, without the browser's line for a refused /me (401)."""
    return [e for e in errors if "401" not in e]


async def call_screen_ready(page: Page) -> None:
    """Wait for the citizen's moving video and a first quality reading."""
    await on_screen(page, "call")
    await video_frames_advancing(page, "[data-testid=remote-video]", timeout=20)
    await until(page, "document.querySelector('[data-testid=quality]').dataset.level !== 'unknown'")


@pytest.mark.timeout(150)
@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_every_screen_in_each_language(
    browser: Browser, node: ServeProcess, lang: str
) -> None:
    site, username, request = CALLS[lang]
    async with console_tab(browser, node, lang=lang) as tab, citizen_at(node, site) as citizen:
        page = tab.page
        # The browser's language is the default; the page speaks it from the start.
        await on_screen(page, "login")
        assert await page.locator("html").get_attribute("lang") == lang
        assert await text_of(page, "login-submit") == t(lang, "login.submit")
        await check_screen(page, "login", lang)

        # Idle: paused until the expert says otherwise, the queues and skills listed.
        await log_in(page, username)
        assert await page.get_by_test_id("availability").get_attribute("data-status") == "paused"
        queue = f"{request['agency']}/{request['service']}/{request['language']}"
        await page.get_by_test_id(f"queue-{queue}").wait_for()
        await check_screen(page, "idle", lang)

        # Offer: where from, what about, the ring counting down.
        await go_available(page)
        session_id = await citizen.call(request)
        await wait_for_offer(page)
        state = await diagnostics(page)
        assert state["offer"] == session_id and state["ringing"], state
        offer = await text_of(page, "offer")
        site_line = await text_of(page, "offer-site")
        kind = "site.kind_XS" if site == "bus-lieksa" else "site.kind_S"
        assert t(lang, kind) in site_line, site_line
        assert ("Lieksa" if site == "bus-lieksa" else "Kitee") in site_line, site_line
        if "interpreter" in request:
            assert t(lang, "lang.ar") in await text_of(page, "offer-interpreter"), offer
        else:
            assert await text_of(page, "offer-interpreter") == t(lang, "offer.no_interpreter")
        await page.wait_for_timeout(1200)  # the waited time and the ring countdown tick
        await check_screen(page, "offer", lang)

        # In the call: the citizen's video, chat both ways, the quality in plain words.
        await accept(page)
        await call_screen_ready(page)
        assert (await diagnostics(page))["ringing"] is False
        await citizen.client.request(
            {"type": "chat", "session_id": session_id, "text": CITIZEN_LINE[lang]}
        )
        await page.get_by_test_id("chat-input").fill(EXPERT_LINE[lang])
        await page.get_by_test_id("chat-send").click()
        await until(page, "document.querySelectorAll('[data-testid=chat-line]').length === 2")
        quality = page.get_by_test_id("quality")
        assert (await quality.get_attribute("title") or "").count("·") == 3
        assert t(lang, "doccam.empty") in await text_of(page, "doccam-panel")
        await check_screen(page, "call", lang)
        assert page_errors(tab.console.errors) == [], tab.console.dump()


@pytest.mark.timeout(90)
async def test_login_errors_are_plain_and_hostile_input_stays_text(
    browser: Browser, node: ServeProcess
) -> None:
    async with console_tab(browser, node, lang="en") as tab:
        page = tab.page
        await on_screen(page, "login")
        # Nothing typed: the page says what is missing, without asking the server.
        await page.get_by_test_id("login-submit").click()
        assert await text_of(page, "login-error") == t("en", "login.need_username")

        # A wrong password: one plain sentence, the password field emptied and focused.
        await page.get_by_test_id("login-username").fill("kela.expert")
        await page.get_by_test_id("login-password").fill("wrong")
        await page.get_by_test_id("login-submit").click()
        await until(page, "document.querySelector('[data-testid=login-error]').textContent !== ''")
        assert await text_of(page, "login-error") == t("en", "login.wrong")
        assert await page.get_by_test_id("login-password").input_value() == ""
        assert await page.evaluate("document.activeElement.id") == "login-password"
        assert await page.get_by_test_id("login-password").get_attribute("aria-invalid") == "true"

        # A hostile username is only ever a value: nothing runs.
        await page.get_by_test_id("login-username").fill(HOSTILE)
        for attempt in range(6):
            await page.get_by_test_id("login-password").fill(f"guess-{attempt}")
            await page.get_by_test_id("login-submit").click()
            await page.wait_for_timeout(150)
            await until(page, "!document.querySelector('[data-testid=login-submit]').disabled")
        # After five failures the server throttles the username: the wait in minutes.
        assert await text_of(page, "login-error") == t("en", "login.rate_limited", n=15)
        assert await page.evaluate(PWNED)
        assert await page.locator("img").count() == 0
        violations = await run_axe(page)
        assert not violations, describe_violations(violations)

        # The right password still works for the account that was not throttled.
        await log_in(page, "kela.expert")
        assert await text_of(page, "who") == "Anna Virtanen"


@pytest.mark.timeout(120)
async def test_language_and_ring_choices_are_remembered(
    browser: Browser, node: ServeProcess
) -> None:
    async with console_tab(browser, node, lang="fi") as tab, citizen_at(node) as citizen:
        page = tab.page
        await log_in(page)
        await page.get_by_test_id("lang-sv").click()
        assert await page.locator("html").get_attribute("lang") == "sv"
        assert await text_of(page, "availability-available") == t("sv", "availability.available")
        assert await page.get_by_test_id("lang-sv").get_attribute("aria-pressed") == "true"
        await page.get_by_test_id("ring-mute").click()
        assert await page.get_by_test_id("ring-mute").get_attribute("aria-pressed") == "true"

        # A reload keeps the login (the cookie), the language and the muted ring.
        await page.reload()
        await on_screen(page, "home")
        assert await page.locator("html").get_attribute("lang") == "sv"
        assert await page.get_by_test_id("ring-mute").get_attribute("aria-pressed") == "true"

        # A muted ring still shows the offer, without a sound; unmuted it chimes.
        await until(page, "window.consoleDiagnostics().signaling === 'open'")
        await go_available(page)
        await citizen.call()
        await wait_for_offer(page)
        await page.wait_for_timeout(600)
        state = await diagnostics(page)
        assert state["ringing"] and state["ringMuted"] and state["chimes"] == 0, state
        await page.get_by_test_id("ring-mute").click()
        await until(page, "window.consoleDiagnostics().chimes >= 1", timeout=4000)
        # The citizen cancels: the offer goes away and the ring stops.
        await citizen.client.request({"type": "call_cancel", "session_id": state["offer"]})
        await on_screen(page, "home")
        state = await diagnostics(page)
        assert not state["ringing"] and state["offer"] is None, state
        assert await text_of(page, "home-notice") == t("sv", "offer.cancelled")


@pytest.mark.timeout(150)
async def test_keyboard_alone_answers_and_serves_a_call(
    browser: Browser, node: ServeProcess
) -> None:
    async with (
        console_tab(browser, node, lang="en") as tab,
        citizen_at(node, "lib-kitee") as first,
        citizen_at(node, "bus-lieksa") as second,
    ):
        page = tab.page
        await log_in(page)
        await go_available(page)
        # Alt+D declines the first call; the second one rings and Alt+A takes it.
        await first.call()
        await wait_for_offer(page)
        decline = page.get_by_test_id("offer-decline")
        assert await decline.get_attribute("title") == "Decline (Alt+D)"
        await page.keyboard.press("Alt+KeyD")
        await on_screen(page, "home")
        session_id = await second.call()
        await until(page, f"window.consoleDiagnostics().offer === '{session_id}'", timeout=20_000)
        await page.keyboard.press("Alt+KeyA")
        await call_screen_ready(page)

        # Every control of the call is reachable with Tab, in a sensible order.
        await page.evaluate("document.activeElement.blur()")
        seen: list[str] = []
        outlines: dict[str, str] = {}
        for _ in range(40):
            await page.keyboard.press("Tab")
            testid, outline = await page.evaluate(FOCUSED)
            if testid:
                seen.append(testid)
                outlines[testid] = outline
        for wanted in ("quality", "chat-input", "chat-send", "mute", "camera", "transfer"):
            assert wanted in seen, seen
        assert "invite-interpreter" in seen and "end-call" in seen, seen
        assert seen.index("mute") < seen.index("end-call")
        # The focus ring is visible on every control reached so.
        assert set(outlines.values()) == {"solid"}, outlines

        # Alt+M and Alt+V toggle the microphone and the camera.
        await page.keyboard.press("Alt+KeyM")
        assert await page.get_by_test_id("mute").get_attribute("aria-pressed") == "true"
        assert await page.evaluate(
            "document.querySelector('[data-testid=self-video]').srcObject"
            ".getAudioTracks().every((track) => !track.enabled)"
        )
        await page.keyboard.press("Alt+KeyV")
        assert await page.get_by_test_id("camera").get_attribute("aria-pressed") == "true"
        await page.keyboard.press("Alt+Shift+KeyM")  # where a browser keeps Alt+M
        await page.keyboard.press("Alt+KeyV")
        assert await page.get_by_test_id("mute").get_attribute("aria-pressed") == "false"

        # Alt+C writes in the chat; Enter sends.
        await page.keyboard.press("Alt+KeyC")
        assert await page.evaluate("document.activeElement.dataset.testid") == "chat-input"
        await page.keyboard.type("Typed with the keyboard")
        await page.keyboard.press("Enter")
        await until(page, "document.querySelectorAll('[data-testid=chat-line]').length === 1")

        # Alt+I: the interpreter dialog, the kind of interpreting first; Escape closes it.
        # (Asking for one is tested in tests/test_interpreter_console.py.)
        await page.keyboard.press("Alt+KeyI")
        dialog = page.get_by_test_id("interpreter-dialog")
        await dialog.wait_for()
        violations = await run_axe(page)
        assert not violations, describe_violations(violations)
        focused = await page.evaluate("document.activeElement.dataset.testid")
        assert focused == "interpreter-modality", focused
        await page.keyboard.press("Escape")
        await dialog.wait_for(state="hidden")
        assert await on_call_screen(page)

        # Alt+T: the transfer dialog, its choices from the configuration; Escape keeps the call.
        await page.keyboard.press("Alt+KeyT")
        await page.get_by_test_id("transfer-dialog").wait_for()
        await page.get_by_test_id("transfer-agency").select_option("vero")
        services = await page.get_by_test_id("transfer-service").locator("option").all_inner_texts()
        assert services == ["Tax card", "Tax return", "Inheritance and gift tax"]
        await page.get_by_test_id("transfer-service").select_option("inheritance")
        languages = (
            await page.get_by_test_id("transfer-language").locator("option").all_inner_texts()
        )
        assert languages == ["Finnish", "Swedish"]
        violations = await run_axe(page)
        assert not violations, describe_violations(violations)
        await screenshot(page, "console-transfer-en")
        await page.keyboard.press("Escape")
        await page.get_by_test_id("transfer-dialog").wait_for(state="hidden")

        # Alt+E: the outcomes; one of them ends the call and the desk says how.
        await page.keyboard.press("Alt+KeyE")
        await page.get_by_test_id("outcome-dialog").wait_for()
        assert await page.evaluate("document.activeElement.dataset.testid") == "outcome-resolved"
        violations = await run_axe(page)
        assert not violations, describe_violations(violations)
        await screenshot(page, "console-outcome-en")
        await page.keyboard.press("Enter")
        await on_screen(page, "home")
        assert await text_of(page, "home-notice") == t(
            "en", "ended.with_outcome", outcome="Resolved"
        )
        # Wrap-up: the pill counts down; Available now would end it at once.
        await until(page, f"{PILL}.dataset.status === 'wrap_up'")
        assert await text_of(page, "availability-available") == t(
            "en", "availability.available_now"
        )
        await check_screen(page, "wrapup", "en")
        await page.get_by_test_id("availability-available").click()
        await until(page, f"{PILL}.dataset.status === 'available'")
        assert await text_of(page, "availability") == t("en", "availability.is_available")
        assert page_errors(tab.console.errors) == [], tab.console.dump()


async def on_call_screen(page: Page) -> bool:
    return bool(await page.evaluate("window.consoleDiagnostics().screen === 'call'"))


@pytest.fixture
async def hostile_node(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    """A node whose directory names a site and its municipality with markup."""
    config = directory_toml(
        tmp_path,
        (
            r'^name = \{ fi = "Kiteen kaupunginkirjasto",',
            f"name = {{ fi = '{HOSTILE}Kitee<script>window.__pwned=2</script>',",
        ),
        (r'^municipality = "Kitee"', f"municipality = '<b onclick=\"x\">Kitee</b>{HOSTILE}'"),
    )
    async with serving("memory", "hostile-node", config=config) as server:
        yield server


@pytest.mark.timeout(120)
async def test_hostile_names_notes_and_chat_run_nothing(
    browser: Browser, hostile_node: ServeProcess
) -> None:
    node = hostile_node
    kela = await staff_client(node.base_url, "kela.expert")
    try:
        async with console_tab(browser, node, lang="fi") as tab, citizen_at(node) as citizen:
            page = tab.page
            await log_in(page, "vero.expert")
            await go_available(page)
            # A Kela expert (protocol client) takes the call and sends it to Vero with a
            # note full of markup; the Vero expert's console shows it as text.
            await kela.request({"type": "set_availability", "status": "available"})
            session_id = await citizen.call()
            await kela.request({"type": "offer_accept", "session_id": session_id})
            note = f"{HOSTILE} <script>window.__pwned=3</script> & verokortti"
            await kela.request(
                {
                    "type": "transfer",
                    "session_id": session_id,
                    "agency": "vero",
                    "service": "tax-card",
                    "language": "fi",
                    "note": note,
                }
            )
            await wait_for_offer(page)
            assert await text_of(page, "offer-note") == note
            site_line = await text_of(page, "offer-site")
            assert f"{HOSTILE}Kitee<script>window.__pwned=2</script>" in site_line, site_line
            assert f'<b onclick="x">Kitee</b>{HOSTILE}' in site_line, site_line

            # In the call, the citizen's hostile chat lines are text too.
            await accept(page)
            for line in (HOSTILE, "<script>window.__pwned=4</script>", "<b>bold</b>"):
                await citizen.client.request(
                    {"type": "chat", "session_id": session_id, "text": line}
                )
            await until(page, "document.querySelectorAll('[data-testid=chat-line]').length === 3")
            texts = await page.locator("#chat-log .chat-text").all_inner_texts()
            assert texts == [HOSTILE, "<script>window.__pwned=4</script>", "<b>bold</b>"]
            assert "Kitee" in await text_of(page, "call-title")
            await page.wait_for_timeout(500)  # an onerror would have fired by now
            assert await page.evaluate(PWNED)
            assert await page.locator("main img, main script, main b").count() == 0
            assert page_errors(tab.console.errors) == [], tab.console.dump()
    finally:
        await kela.close()


@pytest.mark.timeout(60)
async def test_the_page_is_served_with_a_strict_policy(
    browser: Browser, node: ServeProcess
) -> None:
    async with console_tab(browser, node) as tab:
        response = await tab.page.goto(tab.url)
        assert response is not None
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        # No inline script or style anywhere in the markup the console ships.
        html = await tab.page.content()
        assert "<script>" not in html and " style=" not in html
        assert await tab.page.evaluate(f"{PILL} !== null")


@pytest.mark.timeout(90)
async def test_queue_overview_is_live_and_skills_are_chosen_per_shift(
    browser: Browser, node: ServeProcess
) -> None:
    async with console_tab(browser, node, lang="fi") as tab, citizen_at(node) as citizen:
        page = tab.page
        await log_in(page)  # paused: the call waits in the queue
        row = page.get_by_test_id("queue-kela/general/fi")
        await row.wait_for()
        assert await row.get_by_test_id("waiting").inner_text() == "0"
        assert await row.get_by_test_id("oldest").inner_text() == "–"
        assert await text_of(page, "colleagues-kela") == t(
            "fi", "colleagues.line", agency="Kela", n=0
        )

        session_id = await citizen.call()
        await until(page, f"{WAITING_FI}.textContent === '1'")
        # The longest wait ticks on between the server's updates.
        first = await row.get_by_test_id("oldest").inner_text()
        await page.wait_for_timeout(2100)
        later = await row.get_by_test_id("oldest").inner_text()
        assert first.startswith("0:") and later.startswith("0:") and later > first, (first, later)

        # Kela's expert chooses skills for the shift: without Swedish, its queues go away.
        swedish = page.get_by_test_id("skill-languages-sv")
        assert await swedish.is_checked()
        await page.get_by_test_id("queue-kela/general/sv").wait_for()
        await swedish.uncheck()
        await page.get_by_test_id("queue-kela/general/sv").wait_for(state="detached")
        assert await page.get_by_test_id("queue-kela/general/fi").count() == 1
        # A service can be left out too; the others stay.
        await page.get_by_test_id("skill-services-pension").uncheck()
        await page.get_by_test_id("queue-kela/pension/fi").wait_for(state="detached")
        assert await page.get_by_test_id("queue-kela/housing/fi").count() == 1
        # Unticking the last language is refused on the page, with a reason.
        await page.get_by_test_id("skill-languages-fi").uncheck()
        assert await text_of(page, "skills-error") == t("fi", "skills.need_one")

        await citizen.client.request({"type": "call_cancel", "session_id": session_id})
        await until(page, f"{WAITING_FI}.textContent === '0'")

        # Pausing tells why; another reason is sent as soon as it is chosen.
        await go_available(page)
        await page.get_by_test_id("availability-paused").click()
        await until(page, f"{PILL}.dataset.status === 'paused'")
        assert await text_of(page, "availability") == t(
            "fi", "availability.is_paused_reason", reason=t("fi", "reason.break")
        )
        await page.get_by_test_id("pause-reason").select_option("training")
        await until(page, "window.consoleDiagnostics().reason === 'training'")
        assert await text_of(page, "availability") == t(
            "fi", "availability.is_paused_reason", reason=t("fi", "reason.training")
        )

        # Signing out forgets the login: a reload shows the sign-in.
        await page.get_by_test_id("logout").click()
        await on_screen(page, "login")
        assert await page.evaluate("fetch('/console/api/me').then((r) => r.status)") == 401


@pytest.mark.timeout(60)
async def test_a_console_opened_elsewhere_says_so(browser: Browser, node: ServeProcess) -> None:
    async with console_tab(browser, node, lang="en") as first:
        await log_in(first.page)
        # The same expert opens the console in another browser: that one takes over.
        async with console_tab(browser, node, lang="en") as second:
            await log_in(second.page)
            await first.page.get_by_test_id("message-dialog").wait_for()
            assert await first.page.locator("#message-title").inner_text() == t(
                "en", "replaced.title"
            )
            assert await first.page.locator("#message-text").inner_text() == t(
                "en", "replaced.text"
            )
            assert (await diagnostics(first.page))["signaling"] == "closed"
            assert (await diagnostics(second.page))["signaling"] == "open"


def test_the_catalogues_agree_and_cover_the_page() -> None:
    """Same keys and placeholders in fi, sv and en; every key the page names is there."""
    keys = {lang: set(catalog) for lang, catalog in CATALOGS.items()}
    assert keys["fi"] == keys["sv"] == keys["en"], {
        lang: sorted(keys[lang] ^ keys["en"]) for lang in LANGS
    }
    for key in keys["en"]:
        holes = {lang: set(re.findall(r"\{(\w+)\}", CATALOGS[lang][key])) for lang in LANGS}
        assert holes["fi"] == holes["sv"] == holes["en"], (key, holes)
    html = (STATIC / "index.html").read_text()
    named = set(re.findall(r'data-i18n(?:-aria-label|-placeholder)?="([^"]+)"', html))
    script = "\n".join(p.read_text() for p in STATIC.glob("*.js"))
    named |= set(re.findall(r"\bt\('([a-z_]+\.[a-z0-9_.-]+)'", script))
    assert len(named) > 120, len(named)  # the patterns still find the page's keys
    missing = sorted(k for k in named if k not in keys["en"])
    assert missing == [], missing
    # Keys built at run time: reasons, site kinds, modalities, quality words, media errors.
    for prefix, names in {
        "reason": ("break", "meeting", "training", "other", "missed_offers", "signed_out"),
        "site.kind": ("S", "XS"),
        "modality": ("spoken", "sign", "text"),
        "quality": ("good", "fair", "poor", "bad", "unknown"),
        "media": ("denied", "not-found", "in-use", "other"),
        "chat.from": ("booth", "interpreter", "expert", "guest", "doccam", "other"),
    }.items():
        sep = "_" if prefix in ("site.kind", "chat.from") else "."
        for name in names:
            assert f"{prefix}{sep}{name}" in keys["en"], f"{prefix}{sep}{name}"


@pytest.mark.timeout(90)
async def test_quality_says_when_nothing_arrives(browser: Browser, node: ServeProcess) -> None:
    async with console_tab(browser, node, lang="en") as tab, citizen_at(node) as citizen:
        page = tab.page
        await log_in(page)
        await go_available(page)
        await citizen.call()
        await wait_for_offer(page)
        await accept(page)
        await call_screen_ready(page)
        quality = page.get_by_test_id("quality")
        assert await quality.get_attribute("data-level") == "good"
        assert await page.locator("#quality-text").inner_text() == t("en", "quality.good")
        details = await quality.get_attribute("title") or ""
        assert details.startswith("round trip ") and "kbit/s" in details, details
        # The same details for screen readers, tied to the indicator.
        described = await page.evaluate(
            "document.getElementById("
            "document.querySelector('[data-testid=quality]').getAttribute('aria-describedby')"
            ").textContent"
        )
        assert described == details

        # The booth's camera and microphone stop sending: within a few seconds the
        # indicator says that nothing arrives.
        for pc in citizen.calls[0].peers.values():
            for sender in pc.getSenders():
                sender.replaceTrack(None)
        await until(page, f"{QUALITY}.dataset.level === 'bad'", timeout=15_000)
        assert await page.locator("#quality-text").inner_text() == t("en", "quality.bad")
        assert "0 kbit/s" in (await quality.get_attribute("title") or "")
