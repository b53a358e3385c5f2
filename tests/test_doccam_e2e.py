"""The document camera end to end: a real booth agent, a real node, the console in Chromium.

The agent (``etapiste booth --doccam-fake FOLDER``) plays a document camera from a folder
of generated frames: the sample page slides across the desk for a few seconds, then lies
still, and the folder loops. The expert's console, in real Chromium, shows the live
preview, receives auto-captured stills only from the still stretch, and a still it asks
for; each arrives intact (the SHA-256 the agent computed from the bytes it sent equals
the one Chromium computed from the bytes it received) and its corrected page matches the
generated ground truth.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest
from playwright.async_api import Browser, Page

from document_camera.geometry import corner_error
from document_camera.synth import Scene, sample_frame

from .browser import video_frames_advancing
from .console import accept, citizen_at, console_tab, go_available, log_in, until, wait_for_offer
from .support import BoothProcess, ServeProcess, eventually

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

SIZE = (1920, 1080)
FPS = 4
MOVING = 12  # frames (3 s) of the page sliding across, 60 px a frame
STILL = 12  # frames (3 s) of the page lying still
STEP_PX = 60
STILLS = "document.querySelectorAll('[data-testid=doccam-still]')"
STILL_LINE = re.compile(
    r"still (st-[0-9a-f]+) \((auto|expert)\) sent .*: corners (.*), sha256 (.*)$"
)


def shifted(scene: Scene, dx: int, dy: int) -> np.ndarray:
    """The frame with the page (and the desk) moved by (dx, dy) pixels."""
    move = np.float32([[1, 0, dx], [0, 1, dy]])
    desk = [int(v) for v in np.median(scene.image[:40, :40].reshape(-1, 3), axis=0)]
    return cv2.warpAffine(scene.image, move, SIZE, borderValue=desk)


@pytest.fixture
def sliding_page(tmp_path: Path) -> tuple[Path, Scene, list[tuple[int, int]]]:
    """A folder of frames: the page slides for 3 s, then lies still for 3 s (looping)."""
    scene = sample_frame(SIZE)
    folder = tmp_path / "doccam"
    folder.mkdir()
    # Within ±360 px the page stays wholly in view, so a still taken at any moment
    # shows the whole page.
    # None of them is where the page comes to rest (the nearest are 30 px off).
    moves = [(round(STEP_PX * (n - (MOVING - 1) / 2)), 0) for n in range(MOVING)]
    for n, (dx, dy) in enumerate(moves):
        cv2.imwrite(str(folder / f"a-{n:02d}.png"), shifted(scene, dx, dy))
    for n in range(STILL):
        cv2.imwrite(str(folder / f"b-{n:02d}.png"), scene.image)
    return folder, scene, moves


@pytest.fixture
async def doccam_booth(
    node: ServeProcess, sliding_page: tuple[Path, Scene, list[tuple[int, int]]]
) -> AsyncIterator[BoothProcess]:
    """The real booth agent with the sliding page as its document camera."""
    folder = sliding_page[0]
    # The folder's frames are read at [doccam] fps; the command line has no fps, so a
    # booth.toml gives it.
    config = folder.parent / "booth.toml"
    config.write_text(f'[doccam]\nfake = "{folder}"\nfps = {FPS}\n')
    booth = BoothProcess(node.base_url, "lib-kitee", "--config", str(config))
    await booth.start()
    try:
        yield booth
    finally:
        await booth.stop()


def agent_stills(booth: BoothProcess) -> dict[str, dict[str, Any]]:
    """The stills the agent says it sent: trigger, corners and each part's SHA-256."""
    stills = {}
    for line in booth.log_path.read_text().splitlines():
        found = STILL_LINE.search(line)
        if found:
            still_id, trigger, corners, hashes = found.groups()
            stills[still_id] = {
                "trigger": trigger,
                "corners": json.loads(corners),
                "sha256": dict(pair.split("=") for pair in hashes.split()),
            }
    return stills


async def console_stills(page: Page) -> list[dict[str, Any]]:
    """The stills in the console's gallery, with the hashes Chromium verified."""
    stills: list[dict[str, Any]] = await page.evaluate(
        """() => [...document.querySelectorAll('[data-testid=doccam-still]')].map((li) => ({
          id: li.dataset.stillId, trigger: li.dataset.trigger,
          page: li.dataset.sha256Page ?? null, original: li.dataset.sha256Original }))"""
    )
    return stills


async def page_pixels(page: Page, still_id: str, width: int = 600) -> np.ndarray:
    """The corrected page the console shows for a still, drawn at ``width`` px."""
    data_url: str = await page.evaluate(
        """async ([id, width]) => {
          const li = document.querySelector(`[data-testid=doccam-still][data-still-id="${id}"]`);
          const img = li.querySelector('img');
          await img.decode();
          const scale = width / img.naturalWidth;
          const canvas = document.createElement('canvas');
          canvas.width = width;
          canvas.height = Math.round(img.naturalHeight * scale);
          canvas.getContext('2d').drawImage(img, 0, 0, canvas.width, canvas.height);
          return canvas.toDataURL('image/png');
        }""",
        [still_id, width],
    )
    png = base64.b64decode(data_url.split(",", 1)[1])
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def matches_ground_truth(page: np.ndarray, truth: np.ndarray) -> float:
    """Normalised correlation of a page with the true page (lighting aside)."""
    truth = cv2.resize(truth, (page.shape[1], page.shape[0]), interpolation=cv2.INTER_AREA)
    a = cv2.GaussianBlur(cv2.cvtColor(page, cv2.COLOR_BGR2GRAY), (0, 0), 2).astype(float)
    b = cv2.GaussianBlur(cv2.cvtColor(truth, cv2.COLOR_BGR2GRAY), (0, 0), 2).astype(float)
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


async def test_stills_from_a_booth_arrive_intact_in_the_console_and_auto_capture_waits(
    node: ServeProcess,
    browser: Browser,
    doccam_booth: BoothProcess,
    sliding_page: tuple[Path, Scene, list[tuple[int, int]]],
) -> None:
    _, scene, moves = sliding_page
    assert scene.corners is not None and scene.page is not None
    async with console_tab(browser, node) as tab, citizen_at(node) as citizen:
        page = tab.page
        await log_in(page)
        await go_available(page)
        session_id = await citizen.call()
        await wait_for_offer(page)
        await accept(page)
        # The kiosk page tells its agent that it is in a call, as it does on its call screen.
        async with (
            aiohttp.ClientSession() as http,
            http.put(doccam_booth.url + "api/call", json={"session_id": session_id}) as reply,
        ):
            assert reply.status == 204

        # The live preview plays in the console's document camera panel, at 1280x720.
        progress = await video_frames_advancing(page, "[data-testid=doccam-video]", timeout=30)
        assert progress.advanced >= 10
        size = await page.evaluate(
            "(() => { const v = document.querySelector('[data-testid=doccam-video]');"
            " return [v.videoWidth, v.videoHeight]; })()"
        )
        assert size == [1280, 720]

        # Auto-capture: stills come only from the stretch where the page lies still.
        await until(
            page, "document.querySelectorAll('[data-testid=doccam-still]').length >= 1", 30_000
        )
        await eventually(lambda: bool(agent_stills(doccam_booth)), timeout=10)
        for still_id, sent in agent_stills(doccam_booth).items():
            assert sent["trigger"] == "auto", still_id
            corners = np.asarray(sent["corners"], np.float32)
            assert corner_error(corners, scene.corners) < 1.0, "captured while it lay still"
            for dx, dy in moves:
                moved = scene.corners + np.float32([dx, dy])
                assert corner_error(corners, moved) > 1.0, "never while it moved"

        # The expert asks for a still: it arrives, intact, and its page is the true page.
        before = len(await console_stills(page))
        started = time.perf_counter()
        await page.keyboard.press("Alt+KeyP")  # as the "Take picture" button does
        # Its page is shown first, then the whole frame completes the still.
        await until(page, f"{STILLS}.length > {before}", 30_000)
        print(f"requested still's page in the gallery after {time.perf_counter() - started:.2f} s")
        await until(page, f"[...{STILLS}].every((li) => li.dataset.complete === 'true')", 30_000)
        await eventually(
            lambda: any(s["trigger"] == "expert" for s in agent_stills(doccam_booth).values()),
            timeout=10,
        )
        sent_stills = agent_stills(doccam_booth)
        shown = await console_stills(page)
        requested = [s for s in shown if s["trigger"] == "expert"]
        assert len(requested) == 1
        for still in shown:
            sent = sent_stills[still["id"]]
            assert still["trigger"] == sent["trigger"]
            assert still["page"] == sent["sha256"]["page"]
            assert still["original"] == sent["sha256"]["original"]
        correlation = matches_ground_truth(await page_pixels(page, requested[0]["id"]), scene.page)
        assert correlation > 0.85, correlation
