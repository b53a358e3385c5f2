"""A booked sign-language appointment at the booth, in real Chromium: the citizen types
the code on the kiosk's keypad, the booked expert answers, the booked Finnish Sign
Language interpreter is rung and joins, pinned beside the expert at the same size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page

from signaling.client import login

from .browser import screenshot
from .kiosk import (
    expert_at,
    in_the_call,
    interpreter_at,
    kiosk_tab,
    on_screen,
    tap,
    until,
)
from .support import ServeProcess

EXPERT = "[data-testid=remote-video]"
INTERPRETER = "[data-testid=remote-video-interpreter]"


async def book(node: ServeProcess, **changes: Any) -> dict[str, Any]:
    """Book a Kela appointment at lib-kitee as kela.expert; return it (with its code)."""
    token = await login(node.base_url, "kela.expert", "demo")
    body = {
        "site": "lib-kitee",
        "start": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
        "agency": "kela",
        "service": "general",
        "language": "fi",
        **changes,
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{node.base_url}/console/api/appointments",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        answer = await response.json()
        assert response.status == 201, answer
        return answer["appointment"]  # type: ignore[no-any-return]


async def type_code(page: Page, code: str) -> None:
    """Open the appointment screen and type the code on the kiosk's own keypad."""
    await tap(page, "appointment-code", then="appointment")
    for digit in code:
        await page.locator(f'.keypad [data-key="{digit}"]').click()
    await page.get_by_test_id("keypad-ok").click()


async def box(page: Page, selector: str) -> dict[str, float]:
    found = await page.locator(selector).bounding_box()
    assert found is not None, selector
    return found


@pytest.mark.timeout(180)
async def test_a_booked_sign_language_appointment_from_the_code_to_the_pinned_interpreter(
    browser: Browser, node: ServeProcess
) -> None:
    appointment = await book(
        node, interpreter={"language": "fse", "modality": "sign", "username": "tulkki.fse"}
    )
    async with (
        kiosk_tab(browser, node) as kiosk,
        expert_at(node, "kela.expert") as expert,
        interpreter_at(node, "tulkki.fse") as fse,
    ):
        page = kiosk.page
        await on_screen(page, "welcome")
        await fse.available()
        await page.get_by_test_id("lang-fi").click()
        await on_screen(page, "agencies")
        await type_code(page, appointment["code"])

        # The booked expert is rung for the booked call, and answers.
        offer, _ = await expert.answer()
        assert (offer.agency, offer.service, offer.language) == ("kela", "general", "fi")
        assert offer.interpreter is not None and offer.interpreter.language == "fse"
        await in_the_call(page, timeout=30)

        # The booked interpreter is rung at once, as booked, and joins.
        ring, _ = await fse.join()
        assert (ring.urgency, ring.language, ring.modality) == ("booked", "fse", "sign")
        assert ring.session_id == offer.session_id
        await page.locator(INTERPRETER).wait_for(timeout=30_000)
        await until(
            page,
            "document.querySelector('[data-testid=remote-video-interpreter]').videoWidth > 0",
            timeout=30_000,
        )
        expert_box, interpreter_box = await box(page, EXPERT), await box(page, INTERPRETER)
        assert abs(expert_box["width"] - interpreter_box["width"]) <= 2, (
            expert_box,
            interpreter_box,
        )
        assert abs(expert_box["y"] - interpreter_box["y"]) <= 2
        await screenshot(page, "kiosk-booked-sign-fi")
        assert kiosk.console.errors == [], kiosk.console.errors
