"""The browser test tools catch what they are there to catch (a checker that finds nothing
proves nothing)."""

from __future__ import annotations

import pytest
from playwright.async_api import Route

from .browser import launch_chromium, open_page, run_axe

STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'"


@pytest.mark.browser
async def test_axe_finds_serious_violations_even_under_a_strict_csp() -> None:
    async def serve(route: Route) -> None:
        # A nameless button and an image without text: both serious or critical for axe.
        await route.fulfill(
            status=200,
            content_type="text/html",
            headers={"Content-Security-Policy": STRICT_CSP},
            body='<!doctype html><html lang="fi"><head><title>t</title></head><body><main>'
            '<button></button><img src="data:,x"></main></body></html>',
        )

    async with launch_chromium() as browser, open_page(browser) as opened:
        await opened.page.route("http://kiosk.test/", serve)
        await opened.page.goto("http://kiosk.test/")
        found = {v["id"] for v in await run_axe(opened.page)}
        assert {"button-name", "image-alt"} <= found
        blocked = await opened.page.evaluate(
            "() => { const s = document.createElement('script'); s.textContent = 'window.x=1';"
            " document.body.append(s); return window.x === undefined; }"
        )
        assert blocked, "the page's CSP is in force while axe runs"
