"""Experts' journeys through the console, end to end, in real Chromium.

A real `etapiste serve` (Redis store where the test reads the events log) serves the
console; the citizen is a real `etapiste booth --no-kiosk-browser --fake-devices` with its
kiosk page in Chromium (tests/kiosk.py), or a booth's protocol client with aiortc media
where the kiosk adds nothing (tests/console.py). Each expert has a browser context of
their own, so their login cookies are their own.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser

from signaling.store import open_store

from .browser import screenshot, video_frames_advancing
from .console import (
    PILL,
    accept,
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
from .kiosk import (
    SignalingCut,
    ask_for_kela,
    chat_lines,
    in_the_call,
    kiosk_tab,
    type_on_screen,
)
from .kiosk import on_screen as kiosk_screen
from .support import ServeProcess, eventually, serving

pytestmark = [pytest.mark.browser]

REMOTE = "[data-testid=remote-video]"


async def events_of(redis_url: str, session_id: str) -> list[dict[str, Any]]:
    """Return the events log's entries about one session (oldest first)."""
    store = open_store(redis_url)
    try:
        return [
            event for _, event in await store.read_events() if event["session_id"] == session_id
        ]
    finally:
        await store.close()


@pytest.mark.redis
@pytest.mark.timeout(240)
async def test_answer_chat_transfer_and_end_with_an_outcome(
    browser: Browser, redis_node: ServeProcess, redis_url: str
) -> None:
    node = redis_node
    async with (
        console_tab(browser, node, lang="fi") as kela,
        console_tab(browser, node, lang="fi") as vero,
        kiosk_tab(browser, node) as kiosk,
    ):
        # Two experts at their desks, in browser contexts of their own.
        await log_in(kela.page, "kela.expert")
        await log_in(vero.page, "vero.expert")
        await go_available(kela.page)
        await go_available(vero.page)

        # A citizen at the Kitee library asks Kela; the Kela expert's console rings.
        await ask_for_kela(kiosk.page)
        await wait_for_offer(kela.page)
        assert "Kitee" in await text_of(kela.page, "offer-site")
        assert await text_of(kela.page, "offer-agency") == "Kela"
        session_id = (await diagnostics(kela.page))["offer"]
        await accept(kela.page)

        # Both see each other move.
        await video_frames_advancing(kela.page, REMOTE, timeout=20)
        await in_the_call(kiosk.page, timeout=20)

        # Chat both ways: the expert's lines appear in the kiosk's conversation, as text…
        line = "Hei! Kirjoitan myös tänne, jos ääni ei kuulu."
        await kela.page.get_by_test_id("chat-input").fill(line)
        await kela.page.get_by_test_id("chat-send").click()
        await until(
            kiosk.page, "document.querySelectorAll('[data-testid=kiosk-chat-line]').length === 1"
        )
        assert await chat_lines(kiosk.page) == [("Anna, Kela", line)]
        await until(kela.page, "document.querySelectorAll('[data-testid=chat-line]').length === 1")
        # …and the citizen taps an answer on the kiosk's own keyboard; the console shows it.
        reply = "Kuuluu hyvin, kiitos! Kysyn verokortista."
        await kiosk.page.get_by_test_id("kiosk-chat-open").click()
        await type_on_screen(kiosk.page, reply)
        await kiosk.page.get_by_test_id("kiosk-chat-send").click()
        await until(kela.page, "document.querySelectorAll('[data-testid=chat-line]').length === 2")
        said = await kela.page.get_by_test_id("chat-line").last.inner_text()
        assert reply in said and t("fi", "chat.from_booth") in said, said
        assert await chat_lines(kiosk.page) == [("Anna, Kela", line), ("Sinä", reply)]
        await kiosk.page.get_by_test_id("kiosk-chat-close").click()

        # The question is Vero's: transfer with a note; Kela's desk goes to wrap-up.
        note = "Kysyy verokortista Kela-etuuden muutoksen jälkeen."
        await kela.page.get_by_test_id("transfer").click()
        await kela.page.get_by_test_id("transfer-agency").select_option("vero")
        await kela.page.get_by_test_id("transfer-service").select_option("tax-card")
        await kela.page.get_by_test_id("transfer-language").select_option("fi")
        await kela.page.get_by_test_id("transfer-note").fill(note)
        await kela.page.get_by_test_id("transfer-submit").click()
        await on_screen(kela.page, "home")
        assert await text_of(kela.page, "home-notice") == t(
            "fi", "ended.transferred", agency="Verohallinto", service="Verokortti"
        )
        await until(kela.page, f"{PILL}.dataset.status === 'wrap_up'")
        assert (await diagnostics(kela.page))["call"] is None

        # The Vero expert is rung with the note, answers, and both sides see moving video.
        await wait_for_offer(vero.page)
        assert await text_of(vero.page, "offer-note") == note
        assert (await diagnostics(vero.page))["offer"] == session_id
        await accept(vero.page)
        assert await text_of(vero.page, "call-note") == note  # still there in the call
        await video_frames_advancing(vero.page, REMOTE, timeout=20)
        await video_frames_advancing(kiosk.page, REMOTE, timeout=20)

        # The Vero expert ends the call with an outcome; the kiosk asks for feedback.
        await vero.page.get_by_test_id("end-call").click()
        await vero.page.get_by_test_id("outcome-dialog").wait_for()
        await vero.page.get_by_test_id("outcome-resolved").click()
        await on_screen(vero.page, "home")
        assert await text_of(vero.page, "home-notice") == t(
            "fi", "ended.with_outcome", outcome="Asia hoidettu"
        )
        await kiosk_screen(kiosk.page, "feedback")
        # Nothing of the call stays on the expert's page.
        assert await vero.page.evaluate(
            "document.querySelector('[data-testid=chat-log]').children.length === 0"
            " && [...document.querySelectorAll('video')].every((v) => v.srcObject === null)"
        )

        # The events log tells the story, without names.
        async def told() -> bool:
            kinds = [e["kind"] for e in await events_of(redis_url, session_id)]
            return "session_ended" in kinds

        await eventually(told, timeout=10, message="session_ended in the events log")
        events = await events_of(redis_url, session_id)
        kinds = [e["kind"] for e in events]
        assert kinds.count("participant_joined") == 2, kinds
        assert kinds.count("session_transferred") == 1, kinds
        assert kinds.index("session_transferred") < len(kinds) - 1 - kinds[::-1].index(
            "participant_joined"
        )
        transferred = next(e for e in events if e["kind"] == "session_transferred")
        assert (transferred["agency"], transferred["service"]) == ("vero", "tax-card")
        ended = next(e for e in events if e["kind"] == "session_ended")
        assert (ended["state"], ended["outcome"], ended["reason"]) == (
            "ended",
            "resolved",
            "expert_ended",
        )
        assert ended["transfers"] == 1
        # The browsers measured the call (getStats) and said so: the statistics' quality.
        quality = ended["quality"]
        assert quality is not None and quality["samples"] >= 1, quality
        assert 0 <= quality["rtt_ms"] < 1000 and quality["fps"] > 0, quality
        assert 0 <= quality["loss_pct"] <= 100, quality
        assert note not in str(events) and line not in str(events) and reply not in str(events)
        for tab in (kela, vero):
            errors = [e for e in tab.console.errors if "401" not in e]
            assert errors == [], tab.console.dump()


@pytest.mark.timeout(180)
async def test_a_reloaded_console_rejoins_its_call(browser: Browser, node: ServeProcess) -> None:
    async with console_tab(browser, node, lang="en") as tab, kiosk_tab(browser, node) as kiosk:
        page = tab.page
        await log_in(page)
        await go_available(page)
        await ask_for_kela(kiosk.page)
        await wait_for_offer(page)
        session_id = (await diagnostics(page))["offer"]
        await accept(page)
        await video_frames_advancing(page, REMOTE, timeout=20)
        await in_the_call(kiosk.page, timeout=20)
        await page.get_by_test_id("chat-input").fill("Before the reload")
        await page.get_by_test_id("chat-send").click()

        # The expert's browser reloads mid-call: the console goes straight back to it.
        await page.reload()
        await on_screen(page, "call", timeout=20_000)
        state = await diagnostics(page)
        assert state["call"]["session"] == session_id, state
        await video_frames_advancing(page, REMOTE, timeout=30)
        # The kiosk sees the expert again on a new peer connection.
        progress = await video_frames_advancing(kiosk.page, REMOTE, min_frames=25, timeout=30)
        assert progress.advanced >= 25
        # The chat is not kept anywhere, not even across a reload.
        assert await page.evaluate(
            "document.querySelector('[data-testid=chat-log]').children.length === 0"
        )
        # The call still ends normally.
        await page.get_by_test_id("end-call").click()
        await page.get_by_test_id("outcome-follow_up").click()
        await on_screen(page, "home")
        await kiosk_screen(kiosk.page, "feedback")


@pytest.fixture
async def quick_ring_node(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    """A node whose calls ring 3 s and may ring at the same expert again after 0.5 s."""
    config = directory_toml(
        tmp_path,
        (r"^ring_timeout_s = 20\b", "ring_timeout_s = 3"),
        (r"^reoffer_cooldown_s = 30\b", "reoffer_cooldown_s = 0.5"),
    )
    async with serving("memory", "quick-ring-node", config=config) as server:
        yield server


@pytest.mark.timeout(120)
async def test_two_missed_offers_pause_the_expert(
    browser: Browser, quick_ring_node: ServeProcess
) -> None:
    node = quick_ring_node
    async with console_tab(browser, node, lang="fi") as tab, citizen_at(node) as citizen:
        page = tab.page
        await log_in(page)
        await go_available(page)
        session_id = await citizen.call()
        # The expert is away from the desk: the call rings out twice.
        await wait_for_offer(page)
        await until(page, "window.consoleDiagnostics().screen === 'home'", timeout=10_000)
        await wait_for_offer(page, timeout=10_000)
        await until(page, f"{PILL}.dataset.status === 'paused'", timeout=10_000)

        # The console says so: paused, why, and what to do.
        state = await diagnostics(page)
        assert (state["availability"], state["reason"]) == ("paused", "missed_offers"), state
        assert state["screen"] == "home" and not state["ringing"], state
        assert await text_of(page, "availability") == t(
            "fi", "availability.is_paused_reason", reason=t("fi", "reason.missed_offers")
        )
        assert await text_of(page, "home-notice") == t("fi", "availability.missed_notice")
        assert await page.get_by_test_id("availability-paused").get_attribute("aria-pressed") == (
            "true"
        )

        # Back at the desk: Available, and the call that waited rings again.
        await page.get_by_test_id("availability-available").click()
        await wait_for_offer(page, timeout=10_000)
        assert (await diagnostics(page))["offer"] == session_id
        await accept(page)
        await video_frames_advancing(page, REMOTE, timeout=20)


@pytest.fixture
async def short_login_node(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    """A node whose console cookies live 6 s and whose login sessions last 12 s."""
    config = directory_toml(
        tmp_path,
        (r"^token_ttl_s = 900\b", "token_ttl_s = 6\nstaff_session_max_s = 12"),
    )
    async with serving("memory", "short-login-node", config=config) as server:
        yield server


@pytest.mark.timeout(120)
async def test_an_expired_login_asks_for_the_password_and_keeps_the_call(
    browser: Browser, short_login_node: ServeProcess
) -> None:
    node = short_login_node
    async with console_tab(browser, node, lang="sv") as tab, citizen_at(node) as citizen:
        page = tab.page
        await log_in(page)
        await go_available(page)
        await citizen.call()
        await wait_for_offer(page)
        await accept(page)
        await video_frames_advancing(page, REMOTE, timeout=20)

        # The cookie is refreshed twice a lifetime until the login session is over; then
        # the console asks for the password, over the call, which goes on.
        dialog = page.get_by_test_id("relogin-dialog")
        await dialog.wait_for(timeout=20_000)
        assert await page.get_by_test_id("relogin-username").input_value() == "kela.expert"
        assert await text_of(page, "relogin-dialog") != ""
        await video_frames_advancing(page, REMOTE, timeout=10)
        assert (await diagnostics(page))["screen"] == "call"
        await screenshot(page, "console-relogin-sv")

        # A wrong password is refused in the dialog; the right one closes it.
        await page.get_by_test_id("relogin-password").fill("wrong")
        await page.get_by_test_id("relogin-submit").click()
        await until(
            page, "document.querySelector('[data-testid=relogin-error]').textContent !== ''"
        )
        assert await text_of(page, "relogin-error") == t("sv", "login.wrong")
        await page.get_by_test_id("relogin-password").fill("demo")
        await page.get_by_test_id("relogin-submit").click()
        await dialog.wait_for(state="hidden")
        state = await diagnostics(page)
        assert state["screen"] == "call" and state["signaling"] == "open", state
        await video_frames_advancing(page, REMOTE, timeout=10)

        # The renewed login serves the console's REST calls; the call ends normally.
        assert await page.evaluate("fetch('/console/api/me').then((r) => r.status)") == 200
        await page.get_by_test_id("end-call").click()
        await page.get_by_test_id("outcome-resolved").click()
        await on_screen(page, "home")


@pytest.mark.timeout(120)
async def test_a_signaling_outage_keeps_the_call(browser: Browser, node: ServeProcess) -> None:
    async with (
        console_tab(browser, node, lang="fi", load=False) as tab,
        citizen_at(node) as citizen,
    ):
        page = tab.page
        link = SignalingCut()
        await page.route_web_socket(re.compile(r"/ws$"), link.route)
        await page.goto(tab.url)
        await log_in(page)
        await go_available(page)
        session_id = await citizen.call()
        await wait_for_offer(page)
        await accept(page)
        await video_frames_advancing(page, REMOTE, timeout=20)

        # The expert's connection to the server drops for a few seconds: the console says
        # so, the video goes on (it never went through the server), nothing is lost.
        await link.start()
        await page.get_by_test_id("connection").wait_for()
        assert await text_of(page, "connection") == t("fi", "connection.reconnecting")
        await screenshot(page, "console-reconnecting-fi")
        await video_frames_advancing(page, REMOTE, timeout=10)
        await page.wait_for_timeout(3000)
        assert link.refused >= 1
        link.stop()
        await page.get_by_test_id("connection").wait_for(state="hidden", timeout=15_000)
        state = await diagnostics(page)
        assert state["screen"] == "call" and state["call"]["session"] == session_id, state
        await video_frames_advancing(page, REMOTE, timeout=10)
        # The chat works again at once.
        await citizen.client.request(
            {"type": "chat", "session_id": session_id, "text": "Kuuluuko?"}
        )
        await until(page, "document.querySelectorAll('[data-testid=chat-line]').length === 1")
