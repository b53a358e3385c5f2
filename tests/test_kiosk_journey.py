"""The citizen's journeys through the kiosk, end to end, in real Chromium.

A real `etapiste serve` (Redis store where the test reads the events log) and a real
`etapiste booth --no-kiosk-browser --fake-devices` serve the page; aiortc experts and
other booths are `signaling.client` clients. The screens themselves (axe, sizes,
screenshots) are tests/test_kiosk_screens.py's business; these tests follow the visit, and
check (with its `check`) only the screens a journey alone reaches: the reconnecting banner
and the requeued notice, in every language.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser

from signaling.client import Call, SignalingClient
from signaling.directory import DEMO_CONFIG
from signaling.protocol import CallQueued, QueueStatus, SessionEnded
from signaling.store import open_store

from .kiosk import (
    FIRST_IN_LINE,
    Expert,
    KioskTab,
    SignalingCut,
    ask_for,
    ask_for_kela,
    call_about,
    check,
    expert_at,
    in_the_call,
    kiosk_tab,
    on_screen,
    t,
    text_of,
    until,
)
from .support import ServeProcess, booth_client, eventually, frames, serving

pytestmark = [pytest.mark.browser]


async def events_of(redis_url: str, kind: str) -> list[dict[str, Any]]:
    """Return the events log's entries of one kind (oldest first)."""
    store = open_store(redis_url)
    try:
        return [event for _, event in await store.read_events() if event["kind"] == kind]
    finally:
        await store.close()


@asynccontextmanager
async def kela_visit(
    browser: Browser, node: ServeProcess
) -> AsyncIterator[tuple[KioskTab, Expert]]:
    """A lib-kitee kiosk on `node` (its page loaded), and Kela's expert signed in."""
    async with kiosk_tab(browser, node) as kiosk, expert_at(node, "kela.expert") as expert:
        yield kiosk, expert


@pytest.mark.redis
@pytest.mark.timeout(150)
async def test_cancel_while_waiting_then_call_again(
    browser: Browser, redis_node: ServeProcess, redis_url: str
) -> None:
    async with kela_visit(browser, redis_node) as (kiosk, expert):
        page = kiosk.page
        # No expert is available: the call waits until the citizen cancels it.
        await ask_for_kela(page)
        await until(page, FIRST_IN_LINE)
        await page.get_by_test_id("call-cancel").click()
        await on_screen(page, "agencies")
        # The camera went off with the call.
        assert await page.evaluate(
            "[...document.querySelectorAll('video')].every((v) => v.srcObject === null)"
        )

        async def abandoned() -> bool:
            ended = await events_of(redis_url, "session_ended")
            return any(
                e["site"] == "lib-kitee" and (e["state"], e["reason"]) == ("abandoned", "cancelled")
                for e in ended
            )

        await eventually(abandoned, timeout=5, message="session_ended abandoned/cancelled")

        # The next call from the same visit works: an expert answers, media flows.
        await call_about(page, "kela", "general")
        _, expert_call = await expert.answer()
        await in_the_call(page)
        await eventually(lambda: frames(expert_call) >= 10, timeout=20, message="expert sees booth")
        assert len(await events_of(redis_url, "session_requested")) == 2
        assert kiosk.console.errors == [], kiosk.console.dump()


@pytest.mark.redis
@pytest.mark.timeout(150)
async def test_expert_ends_feedback_is_recorded_and_nothing_of_the_visit_stays(
    browser: Browser, redis_node: ServeProcess, redis_url: str
) -> None:
    async with kela_visit(browser, redis_node) as (kiosk, expert):
        page = kiosk.page
        await ask_for_kela(page)
        offer, _ = await expert.answer()
        await in_the_call(page)
        # While the call is live, the agent holds its resume token for a reload.
        async with aiohttp.ClientSession() as http:
            async with http.get(kiosk.booth.url + "api/kiosk") as response:
                assert (await response.json())["resume_token"] is not None

        # The expert ends the call: the citizen is asked how it went.
        await expert.client.request(
            {"type": "session_end", "session_id": offer.session_id, "outcome": "resolved"}
        )
        await on_screen(page, "feedback")
        assert await page.evaluate(
            "[...document.querySelectorAll('video')].every((v) => v.srcObject === null)"
        )
        await page.get_by_test_id("feedback-4").click()
        await page.get_by_test_id("feedback-thanks").wait_for()

        async def recorded() -> bool:
            given = await events_of(redis_url, "feedback_given")
            return [(e["session_id"], e["feedback"]) for e in given] == [(offer.session_id, 4)]

        await eventually(recorded, timeout=5, message="feedback_given 4 in the events log")

        # The privacy reset brings a fresh greeting with nothing of the visit.
        await page.evaluate("window.visitMarker = 'citizen'")
        started = time.monotonic()
        await on_screen(page, "welcome", timeout=20_000)
        reset_s = time.monotonic() - started
        await until(page, "window.kioskDiagnostics().signaling === 'open'")
        await page.wait_for_timeout(1000)  # time for any (wrong) resume token to be stored
        left = await page.evaluate(
            """() => ({
              marker: window.visitMarker ?? null,
              html: document.documentElement.outerHTML,
              videos: [...document.querySelectorAll('video')].filter((v) => v.srcObject).length,
              storage: sessionStorage.length + localStorage.length,
              diagnostics: window.kioskDiagnostics(),
            })"""
        )
        assert left["marker"] is None, "the page was not loaded afresh"
        for trace in ("Kela", "Yleiset etuusasiat", "Anna", offer.session_id):
            assert trace not in left["html"], f"{trace!r} is still in the page"
        assert left["videos"] == 0 and left["storage"] == 0
        assert left["diagnostics"]["session"] is None
        async with aiohttp.ClientSession() as http:
            async with http.get(kiosk.booth.url + "api/kiosk") as response:
                assert (await response.json())["resume_token"] is None
        print(f"privacy reset: welcome {reset_s:.1f} s after the thanks")
        assert kiosk.console.errors == [], kiosk.console.dump()


GRACE_S = 3.0


@pytest.fixture
async def short_grace_node(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    """A node on the demo directory with a grace period of GRACE_S seconds."""
    text = DEMO_CONFIG.read_text()
    changed = re.sub(r"(?m)^grace_period_s = 30\b", f"grace_period_s = {GRACE_S:g}", text)
    assert changed != text, "the demo directory's grace_period_s line moved"
    config = tmp_path / "directory.toml"
    config.write_text(changed)
    async with serving("memory", "short-grace-node", config=config) as server:
        yield server


def stop_sending(call: Call) -> None:
    """Stop the RTP that a call sends, as a dead link would; the connections stay up."""
    for pc in call.peers.values():
        for sender in pc.getSenders():
            sender.replaceTrack(None)


# Each language asks a queue whose expert serves it: lang -> (agency, service, expert).
OUTAGE_QUEUES = {
    "fi": ("kela", "general", "kela.expert"),
    "sv": ("kela", "general", "kela.expert"),
    "en": ("vero", "tax-card", "vero.expert"),
}


@pytest.mark.timeout(150)
@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_back_after_an_outage_longer_than_the_grace_period_at_the_front(
    browser: Browser, short_grace_node: ServeProcess, lang: str
) -> None:
    node = short_grace_node
    agency, service, username = OUTAGE_QUEUES[lang]
    bus: SignalingClient | None = None
    try:
        async with (
            kiosk_tab(browser, node, load=False) as kiosk,
            expert_at(node, username) as expert,
        ):
            page = kiosk.page
            link = SignalingCut()
            await page.route_web_socket(re.compile(r"/ws$"), link.route)
            await page.goto(kiosk.booth.url)
            await ask_for(page, lang, agency, service)
            offer, expert_call = await expert.answer()
            await in_the_call(page)
            # The expert takes no new call after this one, so that calls wait meanwhile.
            await expert.client.request({"type": "set_availability", "status": "paused"})

            # The booth's link goes down for longer than the grace period: its signaling,
            # and the expert's media to it (the page's own cut only reaches its sockets).
            started = time.monotonic()
            await link.start()
            stop_sending(expert_call)
            ended = await expert.client.wait_for(
                SessionEnded, lambda e: e.session_id == offer.session_id, timeout=GRACE_S + 10
            )
            lost_after_s = time.monotonic() - started
            assert (ended.state, ended.reason) == ("failed", "booth_lost")
            # The page does not know yet: still the call, with the calm banner.
            assert await page.evaluate("window.kioskDiagnostics().signaling") == "reconnecting"
            await on_screen(page, "call")
            await page.get_by_test_id("reconnecting").wait_for()
            await until(
                page, "document.querySelector('[data-testid=quality]').dataset.level === 'bad'"
            )
            assert await text_of(page, "reconnecting") == t(lang, "call.reconnecting")
            await check(page, "reconnecting", lang)
            # Meanwhile another booth's citizen asks for the same queue.
            bus = await booth_client(node.base_url, "bus-lieksa")
            same_queue = {"agency": agency, "service": service, "language": lang}
            queued = await bus.request({"type": "call_request", **same_queue}, expect=CallQueued)
            bus_session = queued.session.session_id
            await bus.wait_for(
                QueueStatus, lambda s: s.session_id == bus_session and s.position == 1
            )
            await asyncio.sleep(max(0.0, GRACE_S + 3 - (time.monotonic() - started)))
            outage_s = time.monotonic() - started
            assert link.refused >= 1, "the page did not try to reconnect during the outage"

            # The link comes back: without a touch the citizen is told, and is first again.
            link.stop()
            restored = time.monotonic()
            await on_screen(page, "waiting", timeout=15_000)
            notice = page.get_by_test_id("waiting-notice")
            await notice.wait_for()
            assert await notice.inner_text() == t(lang, "waiting.requeued")
            await until(page, FIRST_IN_LINE, timeout=15_000)
            back_s = time.monotonic() - restored
            await check(page, "requeued", lang)
            await bus.wait_for(
                QueueStatus, lambda s: s.session_id == bus_session and s.position == 2, timeout=15
            )
            assert await page.evaluate(
                "document.getElementById('waiting-video').srcObject !== null"
            ), "the self-view is back while waiting"

            # The next expert gets the booth that was lost first, not the bus.
            expert.client.drain_buffer()
            offer2, _ = await expert.answer()
            assert offer2.site.id == "lib-kitee" and offer2.session_id != offer.session_id
            await in_the_call(page)
            print(
                f"outage ({lang}): lost after {lost_after_s:.1f} s, link down {outage_s:.1f} s,"
                f" requeued and shown {back_s:.1f} s after the link came back"
            )
            errors = [e for e in kiosk.console.errors if "WebSocket" not in e]
            assert errors == [], kiosk.console.dump()
    finally:
        if bus is not None:
            await bus.close()


@pytest.fixture
async def two_kela_experts_node(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    """A node on the demo directory with a second Kela expert (same password)."""
    text = DEMO_CONFIG.read_text()
    first = re.search(
        r'(?ms)^\[\[staff\]\]\nusername = "kela\.expert"\n.*?(?=^\[\[staff\]\])', text
    )
    assert first is not None, "the demo directory's kela.expert entry moved"
    second = first.group(0).replace('"kela.expert"', '"kela.expert2"').replace('"Anna"', '"Pekka"')
    config = tmp_path / "directory.toml"
    config.write_text(text + "\n" + second)
    async with serving("memory", "two-experts-node", config=config) as server:
        yield server


@pytest.mark.timeout(150)
async def test_expert_drops_out_the_booth_waits_first_and_the_next_expert_is_seen(
    browser: Browser, two_kela_experts_node: ServeProcess
) -> None:
    node = two_kela_experts_node
    async with (
        kiosk_tab(browser, node) as kiosk,
        expert_at(node, "kela.expert") as first,
        expert_at(node, "kela.expert2") as second,
    ):
        page = kiosk.page
        await ask_for_kela(page)
        offer, first_call = await first.answer()
        await in_the_call(page)
        assert "Anna" in await page.locator("section[data-screen=call]").inner_text()

        # The first expert's browser goes away for good: the call returns to the queue.
        await first_call.close()
        await first.client.request({"type": "session_leave", "session_id": offer.session_id})
        await on_screen(page, "waiting")
        await until(page, FIRST_IN_LINE)

        # The next expert takes it: a new peer connection, media both ways again.
        offer_again, second_call = await second.answer()
        assert offer_again.session_id == offer.session_id, "the same call, not a new one"
        await in_the_call(page)
        await eventually(
            lambda: frames(second_call) >= 10, timeout=20, message="second expert sees booth"
        )
        assert "Pekka" in await page.locator("section[data-screen=call]").inner_text()
        assert "Anna" not in await page.locator("section[data-screen=call]").inner_text()
        peers = await page.evaluate("window.kioskDiagnostics().peers")
        assert len(peers) == 1, f"the first expert's peer connection stayed: {peers}"
        assert kiosk.console.errors == [], kiosk.console.dump()
