"""Booking appointments in the console, in real Chromium (docs/protocol.md §5.6).

A real `etapiste serve` (the demo directory, with Kela closed on Sundays so that a closed
time can be tried) serves the console. The expert books through the booking form with a
Finnish Sign Language interpreter, sees the citizen's code and a guest link, and the
server's record is checked over REST: the site, the start with Finland's offset (summer and
winter), the interpreter. A closed time, an overlapping time and interpreting nobody
serves are each refused next to their field, and nothing is booked. The interpreter
tulkki.fse sees the booking on the desk, confirms one and declines another; the expert
sees both answers and cancels. In a call whose interpreter request went unanswered, "Book
a later time" opens the form with the call's facts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Browser, Locator, Page, Request

from signaling.client import login

from .browser import describe_violations, run_axe
from .console import (
    accept,
    check_screen,
    citizen_at,
    console_tab,
    directory_toml,
    go_available,
    log_in,
    log_in_interpreter,
    on_screen,
    request_interpreter,
    t,
    text_of,
    until,
    wait_for_interpreter_state,
    wait_for_offer,
)
from .support import ServeProcess, serving

pytestmark = [pytest.mark.browser]

HELSINKI = ZoneInfo("Europe/Helsinki")
KITEE_IN = {
    "fi": "Kiteen kaupunginkirjasto",
    "sv": "Kides stadsbibliotek",
    "en": "Kitee City Library",
}
KELA_IN = {"fi": "Kela", "sv": "FPA", "en": "Kela – Social Insurance Institution of Finland"}
# A Monday in each language's run: summer time (+03:00) and winter time (+02:00).
MONDAYS = {"fi": date(2027, 6, 14), "sv": date(2026, 12, 7), "en": date(2027, 3, 29)}
OFFSETS = {"fi": "+03:00", "sv": "+02:00", "en": "+03:00"}
SUNDAY = date(2026, 12, 6)
FOCUSED = """() => {
  const el = document.activeElement;
  return [el?.dataset?.testid ?? '', el ? getComputedStyle(el).outlineStyle : ''];
}"""


@pytest.fixture
async def booking_node(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    """A node whose Kela is closed on Sundays and whose interpreter requests give up in 4 s."""
    config = directory_toml(
        tmp_path,
        (r'^sun = \["00:00-24:00"\]', "sun = []"),  # the first agency's: Kela's
        (r"^answer_limit_s = 90\b", "answer_limit_s = 4"),
    )
    async with serving("memory", "booking-node", config=config) as server:
        yield server


class Rest:
    """The console's REST API as a staff member (a bearer token from /auth/login)."""

    def __init__(self, node: ServeProcess, http: aiohttp.ClientSession) -> None:
        self.node = node
        self.http = http
        self.tokens: dict[str, str] = {}

    async def __call__(
        self, username: str, method: str, path: str, body: Any = None
    ) -> tuple[int, dict[str, Any]]:
        if username not in self.tokens:
            self.tokens[username] = await login(self.node.base_url, username, "demo")
        headers = {"Authorization": f"Bearer {self.tokens[username]}"}
        url = f"{self.node.base_url}/console/api{path}"
        async with self.http.request(method, url, json=body, headers=headers) as response:
            return response.status, await response.json()

    async def appointments(self, username: str = "kela.expert") -> list[dict[str, Any]]:
        status, answer = await self(username, "GET", "/appointments")
        assert status == 200, answer
        listed: list[dict[str, Any]] = answer["appointments"]
        return listed


@pytest.fixture
async def rest(booking_node: ServeProcess) -> AsyncIterator[Rest]:
    async with aiohttp.ClientSession() as http:
        yield Rest(booking_node, http)


def unix(day: date, hour: int, minute: int = 0) -> float:
    """The Unix time of a Finnish wall time."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=HELSINKI).timestamp()


async def no_axe_violations(page: Page, what: str) -> None:
    violations = await run_axe(page)
    assert not violations, f"{what}:\n{describe_violations(violations)}"


async def fill_booking(
    page: Page,
    day: date,
    time: str,
    *,
    site: str = "lib-kitee",
    service: str = "general",
    duration: str = "30",
    interpreter: tuple[str, str, str] | None = None,
) -> None:
    """Fill the open booking form; `interpreter` is (modality, language, username or '')."""
    await page.get_by_test_id("booking-site").select_option(site)
    await page.get_by_test_id("booking-date").fill(day.isoformat())
    await page.get_by_test_id("booking-time").fill(time)
    await page.get_by_test_id("booking-duration").select_option(duration)
    await page.get_by_test_id("booking-service").select_option(service)
    await page.get_by_test_id("booking-language").select_option("fi")
    checkbox = page.get_by_test_id("booking-interpreting")
    if interpreter is None:
        await checkbox.set_checked(False)
        return
    modality, language, username = interpreter
    await checkbox.set_checked(True)
    await page.get_by_test_id("booking-interp-modality").select_option(modality)
    await page.get_by_test_id("booking-interp-language").select_option(language)
    await page.get_by_test_id("booking-interpreter").select_option(username)


def script_errors(errors: list[str]) -> list[str]:
    """The page's errors, without the browser's lines for refused requests (401, 409…)."""
    return [e for e in errors if not e.startswith("Failed to load resource")]


async def status_of(item: Locator) -> str:
    """Return the data-status of an interpreter's booking item."""
    return await item.get_by_test_id("booking-status").get_attribute("data-status") or ""


async def refused_at(page: Page, field: str, text: str) -> None:
    """Wait until the form says `text` next to `field`, which is marked and focused."""
    error = page.get_by_test_id(f"{field}-error")
    await until(
        page,
        f"document.querySelector('[data-testid={field}-error]').textContent.length > 0",
    )
    assert (await error.inner_text()).strip() == text
    assert await page.get_by_test_id(field).get_attribute("aria-invalid") == "true"
    assert (await page.evaluate(FOCUSED))[0] == field


@pytest.mark.timeout(180)
@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_an_expert_books_and_the_interpreter_answers(
    browser: Browser, booking_node: ServeProcess, rest: Rest, lang: str
) -> None:
    node = booking_node
    monday = MONDAYS[lang]
    async with console_tab(browser, node, lang=lang) as expert:
        page = expert.page
        posted: list[dict[str, Any]] = []

        def record(request: Request) -> None:
            if request.method == "POST" and request.url.endswith("/console/api/appointments"):
                posted.append(request.post_data_json)

        page.on("request", record)
        await log_in(page, "kela.expert")
        await page.get_by_test_id("appointments-empty").wait_for()

        # Keyboard: Book opens the form with Enter, the focus in the first field, visible.
        await page.get_by_test_id("booking-new").focus()
        await page.keyboard.press("Enter")
        await page.get_by_test_id("booking-dialog").wait_for()
        await until(page, "document.activeElement.dataset.testid === 'booking-site'")
        await page.keyboard.press("Tab")
        testid, outline = await page.evaluate(FOCUSED)
        assert testid == "booking-date" and outline == "solid", (testid, outline)
        # Only what the expert serves: Kela, in Finnish and Swedish.
        agencies = await page.get_by_test_id("booking-agency").locator("option").all()
        assert [await o.get_attribute("value") for o in agencies] == ["kela"]
        languages = page.get_by_test_id("booking-language").locator("option")
        assert sorted([await o.get_attribute("value") or "" for o in await languages.all()]) == [
            "fi",
            "sv",
        ]
        await fill_booking(page, monday, "10:00", duration="45", interpreter=("sign", "fse", ""))
        # The named interpreters are those who serve Finnish Sign Language for Kela.
        options = page.get_by_test_id("booking-interpreter").locator("option")
        values = [await o.get_attribute("value") for o in await options.all()]
        assert values == ["", "tulkki.fse"], values
        await page.get_by_test_id("booking-interpreter").select_option("tulkki.fse")
        if lang == "en":
            await check_screen(page, "bookings-form", lang)  # axe too
        else:
            await no_axe_violations(page, f"booking form/{lang}")

        # Enter in the time field books.
        await page.get_by_test_id("booking-time").press("Enter")
        code_box = page.get_by_test_id("booking-code")
        await code_box.wait_for()
        code = await code_box.get_attribute("data-code") or ""
        assert code.isdigit() and len(code) == 8, code
        assert (await code_box.inner_text()).replace(" ", "") == code
        assert t(lang, "booking.code_help", agency=KELA_IN[lang]) == await text_of(
            page, "booking-code-help"
        )
        assert posted[-1]["start"] == f"{monday.isoformat()}T10:00:00{OFFSETS[lang]}", posted

        # The server has it as shown.
        [booked] = await rest.appointments()
        assert booked["code"] == code
        assert booked["site"] == "lib-kitee"
        assert booked["start"] == unix(monday, 10)
        assert booked["end"] - booked["start"] == 45 * 60
        assert (booked["agency"], booked["service"], booked["language"]) == (
            "kela",
            "general",
            "fi",
        )
        assert booked["interpreter"] == {
            "language": "fse",
            "modality": "sign",
            "username": "tulkki.fse",
            "status": "pending",
        }

        # A guest link, once asked for.
        await page.get_by_test_id("booking-guest-link").click()
        link = page.get_by_test_id("booking-dialog").get_by_test_id("guest-link")
        await link.wait_for()
        assert f"{node.base_url}/guest/#" in await link.inner_text()
        await no_axe_violations(page, f"booking done/{lang}")
        await check_screen(page, "bookings", lang)

        # Done: the list shows it, its code and that the interpreter has not answered yet.
        await page.get_by_test_id("booking-close").click()
        item = page.get_by_test_id(f"appointment-{booked['id']}")
        await item.wait_for()
        assert await item.get_by_test_id("appointment-code").get_attribute("data-code") == code
        status = item.get_by_test_id("appointment-interpreter-status")
        assert await status.get_attribute("data-status") == "pending"
        assert (await status.inner_text()).strip() == t(lang, "bookings.status_pending")
        assert (await item.get_by_test_id("appointment-site").inner_text()) == KITEE_IN[lang]
        assert await item.get_by_test_id("guest-link").is_visible()  # the link stays at hand

        # Refusals: said next to the field, and nothing is booked.
        await page.get_by_test_id("booking-new").click()
        await fill_booking(page, SUNDAY, "10:00")
        await page.get_by_test_id("booking-submit").click()
        await refused_at(page, "booking-time", t(lang, "booking.err_closed", agency=KELA_IN[lang]))
        await no_axe_violations(page, f"booking refused/{lang}")
        await fill_booking(page, monday, "10:30")  # within the first one's 45 minutes
        await page.get_by_test_id("booking-submit").click()
        await refused_at(page, "booking-time", t(lang, "booking.err_conflict"))
        await fill_booking(page, monday, "12:00", interpreter=("spoken", "so", ""))
        await page.get_by_test_id("booking-submit").click()
        await refused_at(page, "booking-interp-language", t(lang, "booking.err_interp_language"))
        assert [a["id"] for a in await rest.appointments()] == [booked["id"]]

        # A second one, for the decline and the cancel.
        await fill_booking(page, monday, "13:00", interpreter=("sign", "fse", "tulkki.fse"))
        await page.get_by_test_id("booking-submit").click()
        await page.get_by_test_id("booking-code").wait_for()
        await page.get_by_test_id("booking-close").click()
        second = next(a for a in await rest.appointments() if a["id"] != booked["id"])
        assert second["start"] == unix(monday, 13)

        # The interpreter's desk: both bookings, without codes; confirm one, decline one.
        async with console_tab(browser, node, lang=lang) as interp:
            ipage = interp.page
            await log_in_interpreter(ipage, "tulkki.fse")
            first_item = ipage.get_by_test_id(f"booking-{booked['id']}")
            await first_item.wait_for()
            second_item = ipage.get_by_test_id(f"booking-{second['id']}")
            await second_item.wait_for()
            assert code not in await first_item.inner_text()
            assert await status_of(first_item) == "pending"
            need = await first_item.get_by_test_id("booking-need").inner_text()
            assert t(lang, "lang.fse") in need
            assert await first_item.get_by_test_id("booking-site").inner_text() == KITEE_IN[lang]
            assert KELA_IN[lang] in await first_item.get_by_test_id("booking-service").inner_text()
            await no_axe_violations(ipage, f"interpreter bookings/{lang}")
            if lang == "fi":
                await check_screen(ipage, "bookings", lang, prefix="interpreter")

            # Confirm with the keyboard: Tab reaches the item's button, Enter presses it.
            await first_item.get_by_test_id("booking-decline").focus()
            await ipage.keyboard.press("Tab")
            assert (await ipage.evaluate(FOCUSED))[0] == "booking-confirm"
            await ipage.keyboard.press("Enter")
            await until(
                ipage,
                f'document.querySelector(\'[data-testid="booking-{booked["id"]}"] '
                "[data-testid=booking-status]')?.dataset.status === 'confirmed'",
            )
            assert await first_item.get_by_test_id("booking-confirm").count() == 0
            await second_item.get_by_test_id("booking-decline").click()
            await until(
                ipage,
                f'document.querySelector(\'[data-testid="booking-{second["id"]}"] '
                "[data-testid=booking-status]')?.dataset.status === 'declined'",
            )
            statuses = {a["id"]: a["interpreter"]["status"] for a in await rest.appointments()}
            assert statuses == {booked["id"]: "confirmed", second["id"]: "declined"}
            assert script_errors(interp.console.errors) == [], interp.console.dump()

            # The expert sees both answers (at the next refresh; a reload is one).
            await page.reload()
            await until(page, "document.body.dataset.ready === 'true'")
            await on_screen(page, "home")
            declined = page.get_by_test_id(f"appointment-{second['id']}")
            await declined.wait_for()
            assert await declined.get_attribute("data-interpreter") == "declined"
            assert await page.get_by_test_id("appointments-declined").is_visible()
            confirmed = page.get_by_test_id(f"appointment-{booked['id']}")
            assert await confirmed.get_attribute("data-interpreter") == "confirmed"
            await no_axe_violations(page, f"appointments/{lang}")
            if lang == "en":
                await declined.scroll_into_view_if_needed()
                await check_screen(page, "bookings-list", lang)

            # Cancel the declined one: asked first; "keep it" keeps it.
            await declined.get_by_test_id("appointment-cancel").click()
            dialog = page.get_by_test_id("cancel-booking-dialog")
            await dialog.wait_for()
            assert (await page.evaluate(FOCUSED))[0] == "cancel-booking-no"
            await no_axe_violations(page, f"cancel dialog/{lang}")
            await page.get_by_test_id("cancel-booking-no").click()
            await dialog.wait_for(state="hidden")
            assert await declined.is_visible()
            await declined.get_by_test_id("appointment-cancel").click()
            await page.get_by_test_id("cancel-booking-yes").click()
            await declined.wait_for(state="detached")
            states = {a["id"]: a["state"] for a in await rest.appointments()}
            assert states == {booked["id"]: "booked", second["id"]: "cancelled"}

            # The interpreter's list says it was cancelled (after a refresh).
            await ipage.reload()
            await until(ipage, "document.body.dataset.ready === 'true'")
            await second_item.wait_for()
            assert await status_of(second_item) == "cancelled"
            assert await second_item.get_by_test_id("booking-decline").count() == 0
        assert script_errors(expert.console.errors) == [], expert.console.dump()


@pytest.mark.timeout(120)
async def test_book_a_later_time_from_an_unanswered_interpreter_request(
    browser: Browser, booking_node: ServeProcess, rest: Rest
) -> None:
    node = booking_node
    async with console_tab(browser, node, lang="en") as expert, citizen_at(node) as citizen:
        page = expert.page
        await log_in(page, "kela.expert")
        await go_available(page)
        await citizen.call()
        await wait_for_offer(page)
        await accept(page)
        await request_interpreter(page, "fse", "sign")
        await wait_for_interpreter_state(page, "unanswered", timeout=20_000)
        hint = page.get_by_test_id("interpreter-box")
        assert t("en", "istatus.book_hint") in await hint.inner_text()
        await page.get_by_test_id("book-later").click()
        await page.get_by_test_id("booking-dialog").wait_for()
        # Prefilled with the call: its site, queue and the interpreting asked for.
        assert await page.get_by_test_id("booking-site").input_value() == "lib-kitee"
        assert await page.get_by_test_id("booking-agency").input_value() == "kela"
        assert await page.get_by_test_id("booking-service").input_value() == "general"
        assert await page.get_by_test_id("booking-language").input_value() == "fi"
        assert await page.get_by_test_id("booking-interpreting").is_checked()
        assert await page.get_by_test_id("booking-interp-modality").input_value() == "sign"
        assert await page.get_by_test_id("booking-interp-language").input_value() == "fse"
        assert await page.get_by_test_id("booking-interpreter").input_value() == ""
        assert (await page.evaluate(FOCUSED))[0] == "booking-date"
        assert (
            await page.get_by_test_id("booking-date").input_value()
            == (datetime.now(HELSINKI).date() + timedelta(days=1)).isoformat()
        )  # tomorrow by default
        day = datetime.now(HELSINKI).date() + timedelta(days=2)
        if day.weekday() == 6:  # Kela is closed on Sundays here
            day += timedelta(days=1)
        await page.get_by_test_id("booking-date").fill(day.isoformat())
        await page.get_by_test_id("booking-time").fill("09:30")
        await page.get_by_test_id("booking-time").press("Enter")
        await page.get_by_test_id("booking-code").wait_for()
        await no_axe_violations(page, "booked from a call")
        await page.get_by_test_id("booking-close").click()
        [booked] = await rest.appointments()
        assert booked["start"] == unix(day, 9, 30)
        assert booked["interpreter"] == {
            "language": "fse",
            "modality": "sign",
            "username": None,
            "status": "pending",
        }
        await on_screen(page, "call")  # the call went on underneath


@pytest.mark.timeout(120)
async def test_both_lists_refresh_every_minute_until_sign_out(
    browser: Browser, booking_node: ServeProcess, rest: Rest
) -> None:
    node = booking_node
    async with (
        console_tab(browser, node, lang="fi", load=False) as expert,
        console_tab(browser, node, lang="fi", load=False) as interp,
    ):
        fetched: list[str] = []

        def record(request: Request) -> None:
            if request.method == "GET" and request.url.endswith("/console/api/appointments"):
                fetched.append(request.url)

        for tab in (expert, interp):
            await tab.page.clock.install()
            await tab.page.goto(tab.url)
            await until(tab.page, "document.body.dataset.ready === 'true'")
        await log_in(expert.page, "kela.expert")
        await log_in_interpreter(interp.page, "tulkki.fse")
        await interp.page.get_by_test_id("ibookings-empty").wait_for()

        # Booked elsewhere (over REST): the interpreter's desk shows it within a minute.
        status, answer = await rest(
            "kela.expert",
            "POST",
            "/appointments",
            {
                "site": "bus-lieksa",
                "start": f"{MONDAYS['sv'].isoformat()}T14:00:00+02:00",
                "agency": "kela",
                "service": "housing",
                "language": "fi",
                "interpreter": {"language": "fse", "modality": "sign", "username": "tulkki.fse"},
            },
        )
        assert status == 201, answer
        booked = answer["appointment"]
        item = interp.page.get_by_test_id(f"booking-{booked['id']}")
        assert await item.count() == 0
        await interp.page.clock.run_for(61_000)
        await item.wait_for()
        assert await status_of(item) == "pending"

        # Confirmed elsewhere: the expert's list has it, confirmed, within a minute.
        status, answer = await rest("tulkki.fse", "POST", f"/appointments/{booked['id']}/confirm")
        assert status == 200, answer
        assert await expert.page.get_by_test_id(f"appointment-{booked['id']}").count() == 0
        await expert.page.clock.run_for(61_000)
        await until(
            expert.page,
            f"document.querySelector('[data-testid=\"appointment-{booked['id']}\"]')"
            "?.dataset.interpreter === 'confirmed'",
        )

        # Signed out, nothing is fetched any more.
        interp.page.on("request", record)
        await interp.page.get_by_test_id("logout").click()
        await on_screen(interp.page, "login")
        fetched.clear()
        await interp.page.clock.run_for(125_000)
        await interp.page.wait_for_timeout(300)
        assert fetched == []


async def log_in_admin(page: Page) -> None:
    """Sign in as the admin and wait for the supervision desk."""
    await on_screen(page, "login")
    await page.get_by_test_id("login-username").fill("admin")
    await page.get_by_test_id("login-password").fill("demo")
    await page.get_by_test_id("login-submit").click()
    await on_screen(page, "supervisor")


@pytest.mark.timeout(120)
async def test_an_admin_books_for_an_expert(
    browser: Browser, booking_node: ServeProcess, rest: Rest
) -> None:
    """The admin's desk has an Appointments tab: the same form, asking first for whom."""
    day = MONDAYS["en"]
    async with console_tab(browser, booking_node, lang="en") as tab:
        page = tab.page
        await log_in_admin(page)
        # The tabs by keyboard reach Appointments (an admin's fourth).
        await page.get_by_test_id("tab-wallboard").focus()
        await page.keyboard.press("End")
        assert await page.get_by_test_id("tab-bookings").get_attribute("aria-selected") == "true"
        panel = page.get_by_test_id("panel-bookings")
        await panel.get_by_test_id("booking-new").click()
        # Without an expert chosen first, the form says so at the expert field.
        await page.get_by_test_id("booking-expert").evaluate("(s) => { s.value = ''; }")
        await page.get_by_test_id("booking-submit").click()
        await refused_at(page, "booking-expert", t("en", "booking.err_expert"))
        assert await rest.appointments("admin") == []
        # For Vero's expert: the queue choices follow the chosen expert.
        await page.get_by_test_id("booking-expert").select_option("vero.expert")
        services = await page.get_by_test_id("booking-service").locator("option").all_inner_texts()
        assert services and all("Kela" not in s for s in services), services
        await page.get_by_test_id("booking-site").select_option("lib-kitee")
        await page.get_by_test_id("booking-date").fill(day.isoformat())
        await page.get_by_test_id("booking-time").fill("11:00")
        await page.get_by_test_id("booking-service").select_option("tax-card")
        await page.get_by_test_id("booking-language").select_option("fi")
        await page.get_by_test_id("booking-interpreting").set_checked(False)
        await page.get_by_test_id("booking-submit").click()
        await until(
            page, "Boolean(document.querySelector('[data-testid=booking-code]').dataset.code)"
        )
        code = await page.get_by_test_id("booking-code").get_attribute("data-code")
        assert code is not None and code.isdigit()
        await no_axe_violations(page, "admin booking done")
        await page.keyboard.press("Escape")
        # The booking is the expert's, booked by the admin; the list shows whose it is.
        (booked,) = await rest.appointments("vero.expert")
        assert (booked["expert"], booked["booked_by"], booked["agency"], booked["code"]) == (
            "vero.expert",
            "admin",
            "vero",
            code,
        )
        assert booked["start"] == unix(day, 11)
        item = panel.get_by_test_id(f"appointment-{booked['id']}")
        await item.wait_for()
        _, options = await rest("admin", "GET", "/booking-options")
        name = next(e["display_name"] for e in options["experts"] if e["username"] == "vero.expert")
        assert await item.get_by_test_id("appointment-expert").inner_text() == name
        await check_screen(page, "admin-bookings", "en")
        assert script_errors(tab.console.errors) == [], tab.console.dump()


@pytest.mark.parametrize("lang", ["fi", "sv"])
async def test_the_admins_appointments_tab_in_finnish_and_swedish(
    browser: Browser, booking_node: ServeProcess, rest: Rest, lang: str
) -> None:
    """The admin's Appointments tab and its form speak the desk's language."""
    status, answer = await rest(
        "admin",
        "POST",
        "/appointments",
        {
            "expert": "vero.expert",
            "site": "lib-kitee",
            "start": f"{MONDAYS['sv'].isoformat()}T10:00:00+02:00",  # a winter Monday
            "agency": "vero",
            "service": "tax-card",
            "language": "fi",
        },
    )
    assert status == 201, answer
    booked = answer["appointment"]
    async with console_tab(browser, booking_node, lang=lang) as tab:
        page = tab.page
        await log_in_admin(page)
        tab_button = page.get_by_test_id("tab-bookings")
        assert await tab_button.inner_text() == t(lang, "sup.tab.bookings")
        await tab_button.click()
        panel = page.get_by_test_id("panel-bookings")
        await panel.get_by_test_id(f"appointment-{booked['id']}").wait_for()
        await check_screen(page, "admin-bookings", lang)
        await panel.get_by_test_id("booking-new").click()
        expert_field = page.get_by_test_id("booking-expert")
        await expert_field.wait_for()
        label = await page.locator("label[for=booking-expert]").inner_text()
        assert label.strip() == t(lang, "booking.expert"), label
        await check_screen(page, "admin-bookings-form", lang)
        assert script_errors(tab.console.errors) == [], tab.console.dump()
