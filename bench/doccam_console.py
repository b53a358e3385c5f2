"""The expert's screen as the receiver of bench doccam-still: the console in Chromium.

Times a requested still from the key press in the console to the page drawn in its
gallery (received, SHA-256 checked, decoded), with the system Chromium driven by
Playwright (a test dependency: ``pip install -e .[test]``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-gpu",
    "--no-first-run",
]
# Resolves with the milliseconds from the request to the new still's image decoded.
TIME_ONE_STILL = """async () => {
  const gallery = () => document.querySelectorAll('[data-testid=doccam-still]');
  const before = gallery().length;
  const started = performance.now();
  document.querySelector('[data-testid=doccam-capture]').click();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (gallery().length > before) break;
    if (performance.now() - started > 60000) throw new Error('no still within 60 s');
  }
  const newest = [...gallery()].find((li) => li.dataset.trigger === 'expert'
    && !li.dataset.timed);
  newest.dataset.timed = 'yes';
  await newest.querySelector('img').decode();
  return performance.now() - started;
}"""


async def until(page: Any, expression: str, timeout_s: float = 30.0) -> None:
    """Wait until a JavaScript expression is true (evaluated through DevTools, CSP-proof)."""
    async with asyncio.timeout(timeout_s):
        while not await page.evaluate(expression):
            await asyncio.sleep(0.05)


async def console_times(
    base_url: str,
    stills: int,
    call: Callable[[], Awaitable[str]],
    start_doccam: Callable[[str], Awaitable[None]],
) -> list[float]:
    """Sign in as kela.expert, take the call ``call()`` makes, and time ``stills`` stills."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            await page.goto(base_url + "/console/")
            await page.get_by_test_id("login-username").fill("kela.expert")
            await page.get_by_test_id("login-password").fill("demo")
            await page.get_by_test_id("login-submit").click()
            await page.get_by_test_id("availability-available").click()
            await until(page, "window.consoleDiagnostics().signaling === 'open'")
            session_id = await call()
            await page.get_by_test_id("offer-accept").click()
            await start_doccam(session_id)
            await page.get_by_test_id("doccam-capture").wait_for(state="visible", timeout=60_000)
            # Only requested stills are timed; let an auto still already under way land.
            await page.get_by_test_id("doccam-auto").click()
            await asyncio.sleep(3)
            times = []
            for _ in range(stills):
                times.append(float(await page.evaluate(TIME_ONE_STILL)))
                await until(
                    page, "!document.querySelector('[data-testid=doccam-capture]').disabled"
                )
            return times
        finally:
            await browser.close()
