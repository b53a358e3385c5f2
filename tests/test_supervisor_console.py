"""The supervisor's and admin's console in real Chromium: wallboard, history and fleet.

A real node with statistics (serve --stats-db on SQLite) holds a history written by the
real consumer from made-up calls; a protocol booth makes a live call; a real booth agent
process reports its health and answers a device test (docs/console.md, Supervisor and
admin).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page

from signaling.protocol import CallQueued
from signaling.store import MemoryStore
from stats.consumer import CHECKPOINT_KEY, Consumer
from stats.db import open_database
from stats.schema import migrate
from stats.synth import Call, Place, events_of

from .console import (
    KELA_CALL,
    check_screen,
    console_tab,
    diagnostics,
    on_screen,
    t,
    text_of,
    until,
)
from .support import BoothProcess, ServeProcess, booth_client, serving

pytestmark = [pytest.mark.browser]

HELSINKI = ZoneInfo("Europe/Helsinki")
KITEE = Place("lib-kitee", "S", "Kitee", "Pohjois-Karjala")
LIEKSA = Place("bus-lieksa", "XS", "Lieksa", "Pohjois-Karjala")
KEMIJARVI = Place("lib-kemijarvi", "S", "Kemijärvi", "Lappi")
WEEK = ("2026-11-16", "2026-11-22")  # ISO week 2026-W47


def at(day: str, clock: str) -> float:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=HELSINKI).timestamp()


def call(n: int, agency: str, service: str, place: Place, day: str, **fields: Any) -> Call:
    base: dict[str, Any] = {
        "session_id": f"s-{agency}-{day}-{n}",
        "place": place,
        "agency": agency,
        "service": service,
        "language": "fi",
        "requested_at": at(day, f"10:{n:02d}"),
        "wait_s": 30.0,
        "handling_s": 300.0,
    }
    base.update(fields)
    return Call(**base)


# Week 47 of 2026, worked out by hand:
#   Kela at Kitee: 11 sessions, 10 served, 1 abandoned (1 < 5: withheld);
#     4 asked for an Arabic interpreter, 3 came (both < 5: withheld).
#   Vero on the Lieksa bus: 5 sessions, 5 served, none abandoned.
#   Migri at Kemijärvi: 2 sessions, a group too small to show anything but that it exists.
HISTORY = (
    [call(n, "kela", "general", KITEE, "2026-11-16", wait_s=10.0 * n) for n in range(1, 6)]
    + [call(6, "kela", "general", KITEE, "2026-11-16", wait_s=200.0, handling_s=None, outcome=None)]
    + [
        call(
            n,
            "kela",
            "housing",
            KITEE,
            "2026-11-17",
            interpreting={"language": "ar", "modality": "spoken"} if n < 5 else None,
            interp_wait_s=40.0 if n < 4 else None,
        )
        for n in range(1, 6)
    ]
    + [call(n, "vero", "tax-card", LIEKSA, "2026-11-18", wait_s=20.0) for n in range(1, 6)]
    + [call(n, "migri", "residence-permit", KEMIJARVI, "2026-11-19") for n in range(1, 3)]
)


async def seed(url: str) -> None:
    """Write the history into the statistics database with the real consumer."""
    database = await open_database(url)
    try:
        await migrate(database)
        store = MemoryStore()
        for made_up in HISTORY:
            for event in events_of(made_up):
                await store.append_event(event)
        consumer = Consumer(store, database)
        while await consumer.consume_once():
            pass
        # The node's consumer reads its own (new) event log from the start.
        async with database.transaction() as connection:
            await connection.execute("DELETE FROM stats_meta WHERE key = ?", (CHECKPOINT_KEY,))
    finally:
        await database.close()


@pytest.fixture
async def stats_node(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    """A real node with statistics on SQLite, holding HISTORY."""
    url = f"sqlite:///{tmp_path}/stats.db"
    await seed(url)
    async with serving("memory", "stats-node", extra=["--stats-db", url]) as server:
        yield server


def script_errors(errors: list[str]) -> list[str]:
    """The page's own errors, without the browser's lines for answers such as 401 or 409."""
    return [e for e in errors if not e.startswith("Failed to load resource")]


async def sign_in(page: Page, username: str) -> None:
    """Sign in and wait for the supervisor's desk with a live connection and a wallboard."""
    await on_screen(page, "login")
    await page.get_by_test_id("login-username").fill(username)
    await page.get_by_test_id("login-password").fill("demo")
    await page.get_by_test_id("login-submit").click()
    await on_screen(page, "supervisor")
    await until(page, "window.consoleDiagnostics().signaling === 'open'")
    await page.get_by_test_id("wb-status").wait_for()


async def agencies_shown(page: Page) -> list[str]:
    rows = page.locator("[data-testid=wb-agency-table] tbody tr")
    return [
        (await rows.nth(i).get_attribute("data-testid")) or "" for i in range(await rows.count())
    ]


async def show_week(page: Page, by: str = "agency") -> None:
    """Ask the history for week 47 grouped by `by`, and wait for it."""
    await page.get_by_test_id("tab-history").click()
    await page.get_by_test_id("hist-from").fill(WEEK[0])
    await page.get_by_test_id("hist-to").fill(WEEK[1])
    await page.get_by_test_id("hist-period").select_option("week")
    await page.get_by_test_id("hist-by").select_option(by)
    await page.get_by_test_id("hist-show").click()
    await until(page, "document.querySelector('[data-testid=hist-row-0]') !== null")
    await until(page, "!document.getElementById('hist-results').hidden")


async def table(page: Page) -> list[dict[str, str]]:
    """The history table as {column: text} per row."""
    rows: list[dict[str, str]] = await page.evaluate(
        """() => [...document.querySelectorAll('#hist-table-rows tr')].map((tr) =>
             Object.fromEntries([...tr.children].map((c) => [c.dataset.col, c.textContent])))"""
    )
    return rows


@pytest.mark.timeout(120)
async def test_the_wallboard_is_scoped_and_live(browser: Browser, node: ServeProcess) -> None:
    async with console_tab(browser, node, lang="en") as tab:
        page = tab.page
        await sign_in(page, "kela.supervisor")
        assert (await diagnostics(page))["desk"] == "supervisor"
        # A supervisor takes no calls: no availability, no bell.
        assert await page.get_by_test_id("availability").is_hidden()
        assert await agencies_shown(page) == ["wb-agency-kela"]
        assert await page.get_by_test_id("wb-queues-none").is_visible()

        booth = await booth_client(node.base_url, "lib-kitee")
        try:
            await booth.request(KELA_CALL, expect=CallQueued)
            row = "document.querySelector('[data-testid=\"wb-queue-kela/general/fi\"]')"
            await until(page, f"{row} !== null", timeout=6_000)
            assert await text_of(page, "wb-total-waiting") == "1"
            waiting = page.get_by_test_id("wb-queue-kela/general/fi")
            assert (await waiting.get_by_test_id("waiting").inner_text()) == "1"
            first = await waiting.get_by_test_id("oldest").inner_text()
            await until(
                page,
                f"{row}.querySelector('[data-testid=oldest]').textContent !== {first!r}",
                timeout=4_000,
            )
            assert await agencies_shown(page) == ["wb-agency-kela"]
            # Fresh pushes every 2 s: never stale while the node runs.
            assert await page.get_by_test_id("wb-status").get_attribute("data-stale") == "false"
        finally:
            await booth.close()
        # Signing out goes back to the sign-in screen.
        await page.get_by_test_id("logout").click()
        await on_screen(page, "login")
        assert script_errors(tab.console.errors) == [], tab.console.dump()

    async with console_tab(browser, node, lang="en") as tab:
        await sign_in(tab.page, "admin")
        shown = await agencies_shown(tab.page)
        assert {"wb-agency-kela", "wb-agency-vero", "wb-agency-migri"} <= set(shown), shown
        # The wallboard goes stale when the node stops pushing.
        node.kill()
        await until(
            tab.page,
            "document.querySelector('[data-testid=wb-status]').dataset.stale === 'true'",
            timeout=15_000,
        )
        # Said once to a screen reader too.
        await until(
            tab.page,
            "document.querySelector('[data-testid=announcer]').textContent"
            ".startsWith('No update for')",
        )


@pytest.mark.timeout(120)
async def test_history_charts_table_withheld_cells_and_csv(
    browser: Browser, stats_node: ServeProcess
) -> None:
    async with console_tab(browser, stats_node, lang="en") as tab:
        page = tab.page
        await sign_in(page, "admin")
        await show_week(page)
        state = await page.evaluate("window.supervisorDiagnostics().history")
        assert state["state"] == "shown" and len(state["charts"]) == 3, state
        # The canvas was drawn on (not blank).
        drawn = await page.evaluate(
            """() => { const c = document.querySelector('[data-testid=hist-volumes-chart]');
                 const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"""
        )
        assert drawn > 1000, drawn
        rows = await table(page)
        assert [row["agency"] for row in rows] == [
            "Kela – Social Insurance Institution of Finland",
            "Finnish Immigration Service",
            "Finnish Tax Administration",
        ], rows
        kela, migri, vero = rows
        assert kela["period"] == "2026-W47"
        assert (kela["sessions"], kela["served"], kela["abandoned"]) == ("11", "10", "fewer than 5")
        assert kela["interp_requested"] == "fewer than 5"
        assert (vero["sessions"], vero["served"], vero["abandoned"]) == ("5", "5", "0")
        assert vero["wait_p50_s"] == "0:25", vero  # five waits of 20 s: 20 + 2.5/5 * 10
        assert migri["sessions"] == "fewer than 5" and migri["served"] == "fewer than 5"
        caption = await text_of(page, "hist-volumes-caption")
        # Totals never count a withheld cell as 0: they say it.
        assert f"sessions {t('en', 'hist.sum.plus_withheld', n=16)}," in caption, caption
        assert f"queue {t('en', 'hist.sum.some_withheld')}." in caption, caption
        assert t("en", "hist.sum.withheld", n=1) in caption, caption

        async with page.expect_download() as info:
            await page.get_by_test_id("hist-csv").click()
        download = await info.value
        lines = Path(await download.path()).read_text().splitlines()
        assert lines[0].startswith("period,agency,sessions,served,abandoned"), lines[0]
        assert len(lines) == 4 and lines[1].startswith("2026-W47,kela,11,10,,"), lines

        # In Finnish the withheld cells say so in Finnish.
        await page.get_by_test_id("lang-fi").click()
        rows = await table(page)
        assert rows[1]["sessions"] == t("fi", "hist.withheld") == "alle 5"
        await page.get_by_test_id("lang-sv").click()
        assert (await table(page))[1]["sessions"] == "färre än 5"

    # A Kela supervisor: only Kela is offered and shown.
    async with console_tab(browser, stats_node, lang="en") as tab:
        page = tab.page
        await sign_in(page, "kela.supervisor")
        await show_week(page)
        options = await page.locator("[data-testid=hist-agency] option").all_inner_texts()
        assert options == [t("en", "hist.all"), "Kela – Social Insurance Institution of Finland"]
        rows = await table(page)
        assert len(rows) == 1 and rows[0]["agency"].startswith("Kela"), rows
        assert rows[0]["sessions"] == "11"


@pytest.mark.timeout(60)
async def test_history_without_statistics_says_so(browser: Browser, node: ServeProcess) -> None:
    async with console_tab(browser, node, lang="en") as tab:
        await sign_in(tab.page, "supervisor")
        await tab.page.get_by_test_id("tab-history").click()
        await tab.page.get_by_test_id("hist-off").wait_for()
        assert await text_of(tab.page, "hist-off") == t("en", "hist.off")
        assert await tab.page.get_by_test_id("hist-form").is_hidden()


FLEET_ROW = "document.querySelector('[data-testid=fleet-lib-kitee]')"


@pytest.mark.timeout(120)
async def test_fleet_shows_a_real_booth_and_runs_its_device_test(
    browser: Browser, node: ServeProcess
) -> None:
    agent = BoothProcess(node.base_url)
    await agent.start()
    try:
        async with console_tab(browser, node, lang="en") as tab:
            page = tab.page
            await sign_in(page, "supervisor")
            await page.get_by_test_id("tab-fleet").click()
            status = f"{FLEET_ROW}?.querySelector('[data-testid=fleet-status]').dataset.status"
            await until(page, f"['online', 'device_problem', 'in_call'].includes({status})")
            row = page.get_by_test_id("fleet-lib-kitee")
            assert await row.get_by_test_id("device-camera").inner_text() == "✓ camera"
            assert (await row.get_by_test_id("fleet-seen").inner_text()).endswith(
                ("just now", "s ago")
            )
            never = page.get_by_test_id("fleet-th-kaskinen").get_by_test_id("fleet-status")
            assert await never.inner_text() == t("en", "fleet.status.never_seen")

            # Every state the result line goes through, as the page shows them.
            await page.evaluate(
                """() => { window.__states = [];
                   new MutationObserver(() => {
                     const r = document.querySelector(
                       '[data-testid=fleet-lib-kitee] [data-testid=device-test-result]');
                     const s = r?.dataset.state;
                     if (s && window.__states.at(-1) !== s) window.__states.push(s);
                   }).observe(document.getElementById('fleet-rows'),
                              {childList: true, subtree: true, attributes: true}); }"""
            )
            await row.get_by_test_id("device-test").click()
            result = f"{FLEET_ROW}.querySelector('[data-testid=device-test-result]')"
            await until(page, f"{result}.dataset.state === 'done'", timeout=10_000)
            assert await page.evaluate("window.__states") == ["testing", "done"]
            text = (
                await page.get_by_test_id("fleet-lib-kitee")
                .get_by_test_id("device-test-result")
                .inner_text()
            )
            assert text.startswith("Tested:"), text

            # A booth whose agent is not connected: said plainly.
            other = page.get_by_test_id("fleet-lib-kemijarvi")
            await other.get_by_test_id("device-test").click()
            await until(
                page,
                "document.querySelector('[data-testid=fleet-lib-kemijarvi] "
                "[data-testid=device-test-result]').dataset.state === 'offline'",
            )
            assert await other.get_by_test_id("device-test-result").inner_text() == t(
                "en", "fleet.test_offline"
            )
            assert script_errors(tab.console.errors) == [], tab.console.dump()
    finally:
        await agent.stop()


@pytest.mark.timeout(240)
async def test_every_view_in_each_language(browser: Browser, stats_node: ServeProcess) -> None:
    """Axe on each view in fi, sv and en, and docs/screens/supervisor-*.png."""
    agent = BoothProcess(stats_node.base_url)
    await agent.start()
    booth = await booth_client(stats_node.base_url, "bus-lieksa")
    try:
        await booth.request(
            {"type": "call_request", "agency": "vero", "service": "tax-card", "language": "sv"},
            expect=CallQueued,
        )
        for lang in ("fi", "sv", "en"):
            async with console_tab(browser, stats_node, lang=lang) as tab:
                page = tab.page
                await sign_in(page, "supervisor")
                await until(
                    page,
                    "document.querySelector('[data-testid=wb-total-waiting]').textContent === '1'",
                )
                await check_screen(page, "wallboard", lang, prefix="supervisor")
                # The tabs by keyboard: arrow right moves to the history.
                await page.get_by_test_id("tab-wallboard").focus()
                await page.keyboard.press("ArrowRight")
                assert await page.evaluate("document.activeElement.id") == "tab-history"
                assert await page.get_by_test_id("panel-history").is_visible()
                await show_week(page, by="site")
                # Tall enough for the charts and the table in one picture.
                await page.set_viewport_size({"width": 1280, "height": 1500})
                await check_screen(page, "history", lang, prefix="supervisor")
                await page.set_viewport_size({"width": 1280, "height": 800})
                await page.get_by_test_id("tab-fleet").click()
                await until(
                    page,
                    f"{FLEET_ROW}?.querySelector('[data-testid=fleet-status]')"
                    ".dataset.status !== 'never_seen'",
                )
                await check_screen(page, "fleet", lang, prefix="supervisor")
                assert script_errors(tab.console.errors) == [], tab.console.dump()
    finally:
        await booth.close()
        await agent.stop()
