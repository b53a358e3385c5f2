"""The expert console's document camera panel and stills gallery, in real Chromium.

A real `etapiste serve` serves the console and a booth's protocol client makes the call
(tests/console.py). The document camera's end of the `doccam` data channel (docs/
protocol.md §4.5) is played in the page: a loopback pair of RTCPeerConnections, the
camera's end opening the channel and sending a canvas as the live video, the other end's
channel and stream handed to the console through the Call's `datachannel` and
`remote-stream` events, the way browser_client/call.js hands over a real document
camera's. The stills are real JPEGs made here with the document camera's own pipeline
(a generated A4 page on a desk, detected and straightened), sent in 64 KiB chunks with
right and wrong bytes; downloads are checked byte by byte here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from playwright.async_api import Browser, Page, ViewportSize

from document_camera.pipeline import process
from document_camera.synth import Background, render_background, sample_frame

from .browser import SCREENS, describe_violations, run_axe, screenshot
from .console import (
    CATALOGS,
    LANGS,
    accept,
    citizen_at,
    console_tab,
    go_available,
    log_in,
    on_screen,
    t,
    text_of,
    until,
    wait_for_offer,
)
from .support import ServeProcess

pytestmark = [pytest.mark.browser]

CHUNK = 64 * 1024
FRAME = (1920, 1080)


# --- stills made with the document camera's pipeline ------------------------------------


@dataclass(frozen=True)
class Part:
    name: str
    mime: str
    data: bytes
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def header(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mime": self.mime,
            "bytes": len(self.data),
            "sha256": self.sha256,
            "width": self.width,
            "height": self.height,
        }


@dataclass(frozen=True)
class StillBytes:
    parts: tuple[Part, ...]
    corners: list[list[float]] | None  # pixels of the frame

    def part(self, name: str) -> Part | None:
        return next((p for p in self.parts if p.name == name), None)

    def message(
        self, still_id: str, trigger: str = "auto", request_id: str | None = None
    ) -> dict[str, Any]:
        return {
            "type": "still",
            "still_id": still_id,
            "trigger": trigger,
            "request_id": request_id,
            "captured_at": 1795458350.5,
            "width": FRAME[0],
            "height": FRAME[1],
            "corners": self.corners,
            "quality": {"failed": [] if self.corners else ["no_document"]},
            "parts": [p.header() for p in self.parts],
        }


def jpeg(image: np.ndarray, quality: int = 90) -> Part:
    image = np.clip(image, 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    height, width = image.shape[:2]
    return Part("", "image/jpeg", data.tobytes(), width, height)


def named(part: Part, name: str) -> Part:
    return Part(name, part.mime, part.data, part.width, part.height)


@cache
def page_still(seed: int = 7) -> StillBytes:
    """A4 sample page on a dark desk: the straightened page and the whole frame."""
    scene = sample_frame(FRAME, seed=seed)
    still = process(scene.image)
    assert still.page is not None and still.corners is not None
    return StillBytes(
        (named(jpeg(still.page), "page"), named(jpeg(scene.image), "original")),
        [[round(float(x), 1), round(float(y), 1)] for x, y in still.corners],
    )


@cache
def bw_png_still(seed: int = 11) -> StillBytes:
    """A black-and-white page as PNG (one channel), as the booth sends with `bw`."""
    colour = page_still(seed)
    original = colour.part("original")
    scene = sample_frame(FRAME, seed=seed)
    still = process(scene.image, black_and_white=True)
    assert still.page is not None and original is not None
    page = np.clip(still.page, 0, 255).astype(np.uint8)
    if page.ndim == 3:
        page = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    ok, data = cv2.imencode(".png", page)
    assert ok
    height, width = page.shape[:2]
    return StillBytes(
        (Part("page", "image/png", data.tobytes(), width, height), original), colour.corners
    )


@cache
def empty_desk_still() -> StillBytes:
    """A frame with no paper in it: the original only."""
    desk = render_background(Background.DARK_DESK, np.random.default_rng(3), FRAME[1], FRAME[0])
    return StillBytes((named(jpeg(desk), "original"),), None)


def png_size(data: bytes) -> tuple[int, int]:
    """Return (width, height) of a PNG, checking its signature and IHDR."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def pdf_pages(data: bytes) -> list[dict[str, int]]:
    """Check a PDF's structure minimally; return each image XObject's width and height.

    The header, the trailer, every cross-reference offset pointing at its object, one
    /Type /Page per page (/Pages is the tree's root and is not counted), and each image's
    stream a JPEG that decodes to the size and colours its dictionary says.
    """
    assert data.startswith(b"%PDF-1."), data[:16]
    assert data.rstrip().endswith(b"%%EOF")
    start = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    assert data[start : start + 4] == b"xref"
    count = int(re.match(rb"xref\s+0\s+(\d+)\s", data[start:]).group(1))  # type: ignore[union-attr]
    entries = re.findall(rb"(\d{10}) (\d{5}) ([nf]) ?\r?\n", data[start:])[:count]
    assert len(entries) == count
    for number, (offset, _, kind) in enumerate(entries):
        if kind == b"n":
            at = int(offset)
            assert data[at:].startswith(f"{number} 0 obj".encode()), (number, data[at : at + 20])
    pages = re.findall(rb"/Type\s*/Page\b(?!s)", data)
    images = []
    pattern = rb"/Subtype /Image /Width (\d+) /Height (\d+) /ColorSpace /Device(RGB|Gray) "
    pattern += rb"/BitsPerComponent 8 /Filter /DCTDecode /Length (\d+) >>\s*stream\n"
    for found in re.finditer(pattern, data):
        width, height, space, length = found.groups()
        stream = data[found.end() : found.end() + int(length)]
        assert data[found.end() + int(length) :].startswith(b"\nendstream")
        # The stream is a JPEG of the size and colours the dictionary says.
        decoded = cv2.imdecode(np.frombuffer(stream, np.uint8), cv2.IMREAD_UNCHANGED)
        assert decoded is not None
        assert decoded.shape[:2] == (int(height), int(width))
        assert (decoded.ndim == 2) == (space == b"Gray")
        images.append({"width": int(width), "height": int(height)})
    assert len(pages) == len(images), (len(pages), images)
    return images


# --- the document camera played in the page ---------------------------------------------

# Makes the loopback pair, draws the live picture and hands the console's end to the
# current Call as the real client does. Everything the console sends is kept in `sent`.
CAMERA = """
async (frameB64) => {
  const { currentCall } = await import('/console/call-view.js');
  const call = currentCall();
  const participant = { id: 'p-zz-doccam-test', kind: 'doccam', connected: true };
  const camera = new RTCPeerConnection();
  const expert = new RTCPeerConnection();
  for (const [from, to] of [[camera, expert], [expert, camera]]) {
    from.addEventListener('icecandidate', ({ candidate }) => {
      if (candidate) to.addIceCandidate(candidate);
    });
  }
  expert.addEventListener('datachannel', ({ channel }) => {
    call.dispatchEvent(new CustomEvent('datachannel', { detail: { participant, channel } }));
  });
  expert.addEventListener('track', ({ streams }) => {
    const detail = { participant, stream: streams[0] };
    call.dispatchEvent(new CustomEvent('remote-stream', { detail }));
  });
  // The live picture: the frame, redrawn so that the canvas keeps sending.
  const frameBytes = Uint8Array.from(atob(frameB64), (c) => c.charCodeAt(0));
  const frame = await createImageBitmap(new Blob([frameBytes]));
  const canvas = document.createElement('canvas');
  canvas.width = 1280; canvas.height = 720;
  const context = canvas.getContext('2d');
  const draw = () => context.drawImage(frame, 0, 0, canvas.width, canvas.height);
  draw();
  const timer = setInterval(draw, 100);
  const stream = canvas.captureStream(10);
  camera.addTrack(stream.getVideoTracks()[0], stream);
  const channel = camera.createDataChannel('doccam', { ordered: true });
  const sent = [];
  channel.addEventListener('message', ({ data }) => sent.push(JSON.parse(data)));
  const opened = new Promise((resolve) => channel.addEventListener('open', resolve));
  await camera.setLocalDescription(await camera.createOffer());
  await expert.setRemoteDescription(camera.localDescription);
  await expert.setLocalDescription(await expert.createAnswer());
  await camera.setRemoteDescription(expert.localDescription);
  await opened;
  channel.bufferedAmountLowThreshold = 256 * 1024;
  // The progress bar's values as the console shows them.
  const progressSeen = [];
  const bar = document.getElementById('doccam-progress');
  new MutationObserver(() => progressSeen.push(Number(bar.value)))
    .observe(bar, { attributes: true, attributeFilter: ['value'] });
  window.__doccam = { camera, expert, channel, sent, progressSeen, timer };
}
"""

# Sends a still: its header, then each part in chunks of at most 64 KiB, with a status
# message between two chunks; `corrupt` flips one byte of the last part on the way, and
# `limit` stops after that many chunks.
SEND_STILL = """
async ({ header, parts, corrupt, chunk, limit }) => {
  const { channel } = window.__doccam;
  channel.send(JSON.stringify(header));
  let sentChunks = 0;
  for (const [index, b64] of parts.entries()) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    if (corrupt && index === parts.length - 1) bytes[bytes.length >> 1] ^= 0xff;
    for (let at = 0; at < bytes.length; at += chunk) {
      if (channel.bufferedAmount > 1024 * 1024) {
        await new Promise((resolve) => { channel.onbufferedamountlow = resolve; });
      }
      if (sentChunks === limit) return sentChunks;
      channel.send(bytes.slice(at, at + chunk));
      sentChunks += 1;
      if (sentChunks === 2) {
        const status = { type: 'status', feedback: 'ok', steady: 0.5, corners: null };
        channel.send(JSON.stringify(status));
      }
    }
  }
  return sentChunks;
}
"""


# Whether an image URL still loads (img-src allows blob:, connect-src does not).
LOADS = """
(url) => new Promise((resolve) => {
  const image = new Image();
  image.onload = () => resolve(true);
  image.onerror = () => resolve(false);
  image.src = url;
})
"""


def page_errors(errors: list[str]) -> list[str]:
    """The page's errors, without the browser's line for the refused /me before sign-in."""
    return [e for e in errors if "401" not in e]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def start_camera(page: Page, frame: bytes) -> None:
    await page.evaluate(CAMERA, b64(frame))
    await until(page, "!document.getElementById('doccam-controls').hidden")


async def camera_says(page: Page, message: dict[str, Any]) -> None:
    await page.evaluate(
        "(text) => window.__doccam.channel.send(text)",
        json.dumps(message),
    )


async def send_still(
    page: Page,
    still: StillBytes,
    still_id: str,
    *,
    trigger: str = "auto",
    request_id: str | None = None,
    corrupt: bool = False,
    limit: int | None = None,
) -> int:
    chunks: int = await page.evaluate(
        SEND_STILL,
        {
            "header": still.message(still_id, trigger, request_id),
            "parts": [b64(p.data) for p in still.parts],
            "corrupt": corrupt,
            "chunk": CHUNK,
            "limit": limit,
        },
    )
    return chunks


async def sent_by_console(page: Page) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = await page.evaluate("window.__doccam.sent")
    return sent


async def still_count(page: Page) -> int:
    return int(await page.get_by_test_id("doccam-count").get_attribute("data-count") or "0")


async def in_call(page: Page, citizen: Any) -> None:
    await log_in(page)
    await go_available(page)
    await citizen.call()
    await wait_for_offer(page)
    await accept(page)
    await on_screen(page, "call")


async def viewer_image(page: Page, testid: str) -> dict[str, str]:
    found: dict[str, str] = await page.evaluate(
        """(testid) => {
          const img = document.querySelector(`[data-testid=${testid}]`);
          return { transform: img.style.transform, zoom: img.dataset.zoom ?? '',
                   rotation: img.dataset.rotation ?? '', x: img.dataset.panX ?? '',
                   y: img.dataset.panY ?? '' };
        }""",
        testid,
    )
    return found


async def check_axe(page: Page, where: str) -> None:
    await page.evaluate("document.fonts.ready.then(() => new Promise(requestAnimationFrame))")
    violations = await run_axe(page)
    assert not violations, f"{where}:\n{describe_violations(violations)}"


# --- tests ------------------------------------------------------------------------------


def test_the_runtime_doccam_keys_are_in_every_catalogue() -> None:
    """Keys the panel builds at run time (feedback, failures, errors, triggers)."""
    names = {
        "doccam.feedback": (
            "waiting",
            "no_document",
            "blur",
            "glare",
            "not_in_view",
            "too_small",
            "ok",
        ),
        "doccam.failed": (
            "doccam_missing",
            "doccam_busy",
            "doccam_stalled",
            "doccam_denied",
            "no_frame",
            "other",
        ),
        "doccam.error": ("checksum", "interrupted", "malformed", "timeout", "pdf", "png"),
        "doccam.trigger": ("auto", "expert"),
    }
    for lang in LANGS:
        for prefix, keys in names.items():
            for key in keys:
                assert f"{prefix}.{key}" in CATALOGS[lang], (lang, f"{prefix}.{key}")
    assert t("fi", "doccam.feedback.blur") == "Paperi liikkuu – kuva on epätarkka"
    assert t("fi", "doccam.feedback.ok") == "Paperi on hyvin kuvassa"


@pytest.mark.timeout(240)
async def test_stills_arrive_verified_and_open_zoom_turn_and_download(
    browser: Browser, node: ServeProcess
) -> None:
    first, empty = page_still(7), empty_desk_still()
    page_part, original_part = first.part("page"), first.part("original")
    assert page_part is not None and original_part is not None
    async with console_tab(browser, node, lang="en") as tab, citizen_at(node) as citizen:
        page = tab.page
        await in_call(page, citizen)
        assert await page.get_by_test_id("doccam-gallery").is_hidden()
        await start_camera(page, original_part.data)
        assert await page.get_by_test_id("doccam-empty").is_hidden()
        await until(page, "document.querySelector('[data-testid=doccam-video]').videoWidth > 0")

        # hello: the booth's settings show on the toggles.
        await camera_says(
            page,
            {"type": "hello", "width": 1920, "height": 1080, "auto_capture": True, "bw": False},
        )
        await until(page, "document.getElementById('doccam-auto').ariaPressed === 'true'")
        assert await page.get_by_test_id("doccam-bw").get_attribute("aria-pressed") == "false"

        # status: the citizen's feedback in the expert's language, and the page's outline.
        corners = [[0.2, 0.1], [0.8, 0.12], [0.78, 0.9], [0.22, 0.88]]
        await camera_says(
            page, {"type": "status", "feedback": "blur", "steady": 0.2, "corners": corners}
        )
        await until(page, "document.getElementById('doccam-feedback').dataset.feedback === 'blur'")
        assert await text_of(page, "doccam-feedback") == t("en", "doccam.feedback.blur")
        assert await page.get_by_test_id("doccam-outline").is_visible()
        points = await page.locator("#doccam-outline-shape").get_attribute("points")
        assert points == "0.2,0.1 0.8,0.12 0.78,0.9 0.22,0.88"
        await page.get_by_test_id("lang-fi").click()
        assert await text_of(page, "doccam-feedback") == "Paperi liikkuu – kuva on epätarkka"
        await page.get_by_test_id("lang-en").click()

        # The toggles send options; Take picture sends capture with the black-and-white choice.
        await page.get_by_test_id("doccam-bw").click()
        await page.get_by_test_id("doccam-auto").click()
        await until(page, "window.__doccam.sent.length === 2")
        assert await sent_by_console(page) == [
            {"type": "options", "auto_capture": True, "bw": True},
            {"type": "options", "auto_capture": False, "bw": True},
        ]
        assert await page.get_by_test_id("doccam-auto").get_attribute("aria-pressed") == "false"
        await page.get_by_test_id("doccam-capture").click()
        await until(page, "window.__doccam.sent.length === 3")
        capture = (await sent_by_console(page))[2]
        assert capture["type"] == "capture" and capture["bw"] is True, capture
        assert 1 <= len(capture["request_id"]) <= 64
        assert await page.get_by_test_id("doccam-capture").is_disabled()

        # The still arrives in chunks, a status between them; progress runs to 100 %.
        chunks = await send_still(
            page, first, "still-1", trigger="expert", request_id=capture["request_id"]
        )
        assert chunks >= 4
        await until(
            page,
            "document.querySelectorAll('[data-testid=doccam-still][data-complete=true]')"
            ".length === 1",
        )
        seen = await page.evaluate("window.__doccam.progressSeen")
        assert seen[-1] == 100 and any(0 < v < 100 for v in seen), seen
        assert seen == sorted(seen), seen
        assert await still_count(page) == 1
        assert t("en", "doccam.count", n=1) == await text_of(page, "doccam-count")
        item = page.locator("[data-testid=doccam-still][data-still-id='still-1']")
        assert await item.get_attribute("data-sha256-page") == page_part.sha256
        assert await item.get_attribute("data-sha256-original") == original_part.sha256
        assert await item.get_attribute("data-trigger") == "expert"
        assert t("en", "doccam.trigger.expert") in await item.inner_text()
        assert await page.get_by_test_id("doccam-capture").is_enabled()
        assert await page.get_by_test_id("doccam-feedback").get_attribute("data-feedback") == "ok"

        # A still whose bytes changed on the way is dropped with a plain sentence.
        await send_still(page, page_still(11), "still-bad", corrupt=True)
        await page.get_by_test_id("doccam-error").wait_for()
        assert await text_of(page, "doccam-error") == t("en", "doccam.error.checksum")
        assert await page.locator("[data-still-id='still-bad']").count() == 0
        assert await still_count(page) == 1

        # An auto-captured still without a page: newest first in the gallery.
        await send_still(page, empty, "still-2", trigger="auto")
        await until(page, "document.querySelectorAll('[data-testid=doccam-still]').length === 2")
        assert await page.get_by_test_id("doccam-error").is_hidden()
        order = await page.locator("[data-testid=doccam-still]").evaluate_all(
            "(items) => items.map((i) => i.dataset.stillId)"
        )
        assert order == ["still-2", "still-1"]
        second = page.locator("[data-testid=doccam-still][data-still-id='still-2']")
        assert await second.get_attribute("data-sha256-page") is None
        assert await second.get_attribute("data-sha256-original") == empty.parts[0].sha256

        # A black-and-white page comes as PNG.
        bw = bw_png_still()
        await send_still(page, bw, "still-3", trigger="auto")
        await until(page, "document.querySelectorAll('[data-testid=doccam-still]').length === 3")
        bw_page = bw.part("page")
        assert bw_page is not None
        third = page.locator("[data-testid=doccam-still][data-still-id='still-3']")
        assert await third.get_attribute("data-sha256-page") == bw_page.sha256

        # A capture the camera cannot take: the booth's code in plain words.
        await page.get_by_test_id("doccam-capture").click()
        await until(page, "window.__doccam.sent.length === 4")
        request_id = (await sent_by_console(page))[3]["request_id"]
        await camera_says(
            page,
            {
                "type": "still_failed",
                "request_id": request_id,
                "code": "doccam_busy",
                "message": "x",
            },
        )
        await until(page, "!document.querySelector('[data-testid=doccam-capture]').disabled")
        assert await text_of(page, "doccam-error") == t("en", "doccam.failed.doccam_busy")
        await check_axe(page, "call with stills")

        # The viewer: the page beside the whole frame; buttons, keys, wheel and dragging.
        open_first = item.locator("button.still-open")
        await open_first.click()
        viewer = page.get_by_test_id("doccam-viewer")
        await viewer.wait_for()
        await until(page, "document.getElementById('doccam-viewer-page').complete")
        assert await page.get_by_test_id("doccam-viewer-page").is_visible()
        assert await page.get_by_test_id("doccam-viewer-original").is_visible()
        assert await page.get_by_test_id("doccam-viewer-note").is_hidden()
        start = await viewer_image(page, "doccam-viewer-page")
        assert start["zoom"] == "1" and start["rotation"] == "0"
        await check_axe(page, "viewer")
        await page.get_by_test_id("doccam-zoom-in").click()
        zoomed = await viewer_image(page, "doccam-viewer-page")
        assert zoomed["zoom"] == "1.25" and zoomed["transform"] != start["transform"]
        await page.get_by_test_id("doccam-rotate").click()
        turned = await viewer_image(page, "doccam-viewer-page")
        assert turned["rotation"] == "90" and "rotate(90deg)" in turned["transform"]
        await page.keyboard.press("+")
        assert (await viewer_image(page, "doccam-viewer-page"))["zoom"] == "1.5625"
        await page.keyboard.press("-")
        assert (await viewer_image(page, "doccam-viewer-page"))["zoom"] == "1.25"
        await page.keyboard.press("ArrowLeft")
        await page.keyboard.press("ArrowUp")
        moved = await viewer_image(page, "doccam-viewer-page")
        assert (moved["x"], moved["y"]) == ("48", "48"), moved
        await page.keyboard.press("r")
        assert (await viewer_image(page, "doccam-viewer-page"))["rotation"] == "180"
        box = await page.locator("#doccam-viewer-page-pane .viewport").bounding_box()
        assert box is not None
        await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        await page.mouse.wheel(0, -200)
        await until(page, "document.getElementById('doccam-viewer-page').dataset.zoom === '1.5625'")
        await page.mouse.down()
        await page.mouse.move(box["x"] + box["width"] / 2 + 30, box["y"] + box["height"] / 2 + 10)
        await page.mouse.up()
        dragged = await viewer_image(page, "doccam-viewer-page")
        assert dragged["x"] != moved["x"] and dragged["y"] != moved["y"], dragged
        await page.keyboard.press("0")
        reset = await viewer_image(page, "doccam-viewer-page")
        assert (reset["zoom"], reset["rotation"], reset["x"], reset["y"]) == ("1", "0", "0", "0")
        await page.keyboard.press("R")
        assert (await viewer_image(page, "doccam-viewer-page"))["rotation"] == "90"
        # The thumbnail turns with it.
        assert await item.locator("img").get_attribute("data-rotation") == "90"

        # The page as PNG, turned: its width is the page's height.
        async with page.expect_download() as download_info:
            await page.get_by_test_id("doccam-download-png").click()
        download = await download_info.value
        assert re.fullmatch(r"etapiste-\d{4}-\d{2}-\d{2}-page-1\.png", download.suggested_filename)
        png = Path(await download.path()).read_bytes()
        assert png_size(png) == (page_part.height, page_part.width)

        # Escape closes; the focus is back on the still it was opened from.
        await page.keyboard.press("Escape")
        await viewer.wait_for(state="hidden")
        assert (
            await page.evaluate(
                "document.activeElement.closest('[data-testid=doccam-still]')?.dataset.stillId"
            )
            == "still-1"
        )

        # No page found: the whole frame only, with a plain note; opened by keyboard.
        await second.locator("button.still-open").focus()
        await page.keyboard.press("Enter")
        await viewer.wait_for()
        assert await page.get_by_test_id("doccam-viewer-note").is_visible()
        assert await text_of(page, "doccam-viewer-note") == t("en", "doccam.viewer.no_page")
        assert await page.get_by_test_id("doccam-viewer-page").is_hidden()
        assert await page.get_by_test_id("doccam-viewer-original").is_visible()
        await page.keyboard.press("+")
        assert (await viewer_image(page, "doccam-viewer-original"))["zoom"] == "1.25"
        await check_axe(page, "viewer without a page")
        await page.get_by_test_id("doccam-viewer-close").click()
        await viewer.wait_for(state="hidden")

        # All chosen: one PDF, oldest first; the turned page and the PNG page re-encoded to
        # JPEG, the frame as it came.
        assert await page.get_by_test_id("doccam-download-pdf").is_disabled()
        for still_id in ("still-1", "still-2", "still-3"):
            await page.locator(f"[data-testid=doccam-select][data-still-id='{still_id}']").check()
        assert await text_of(page, "doccam-download-pdf") == t("en", "doccam.download_pdf_n", n=3)
        async with page.expect_download() as download_info:
            await page.get_by_test_id("doccam-download-pdf").click()
        download = await download_info.value
        assert re.fullmatch(
            r"etapiste-\d{4}-\d{2}-\d{2}-page-1-2-3\.pdf", download.suggested_filename
        )
        pdf = Path(await download.path()).read_bytes()
        images = pdf_pages(pdf)
        assert images == [
            {"width": page_part.height, "height": page_part.width},
            {"width": empty.parts[0].width, "height": empty.parts[0].height},
            {"width": bw_page.width, "height": bw_page.height},  # the PNG, as JPEG
        ]
        assert empty.parts[0].data in pdf  # embedded as it came, not re-compressed

        # The page of a still is shown as soon as it is in, before the whole frame.
        cut = page_still(11)
        page_chunks = -(-len(cut.parts[0].data) // CHUNK)
        await send_still(page, cut, "still-cut", limit=page_chunks)
        early = page.locator("[data-testid=doccam-still][data-still-id='still-cut']")
        await early.wait_for()
        assert await early.get_attribute("data-complete") == "false"
        assert await early.get_attribute("data-sha256-page") == cut.parts[0].sha256
        assert await early.get_attribute("data-sha256-original") is None
        assert t("en", "doccam.arriving") in await early.inner_text()
        assert await early.get_attribute("data-number") == "4"
        # The camera goes away before the rest: the still is lost, and the panel says so.
        await page.evaluate("window.__doccam.channel.close()")
        await page.get_by_test_id("doccam-error").wait_for()
        assert await text_of(page, "doccam-error") == t("en", "doccam.error.interrupted")
        assert await page.get_by_test_id("doccam-progress").is_hidden()
        await until(page, "document.getElementById('doccam-controls').hidden")
        assert await still_count(page) == 3

        # The call ends: the gallery empties and the pictures' memory is freed.
        assert page_errors(tab.console.errors) == [], tab.console.dump()
        thumb = await item.locator("img").get_attribute("src")
        assert thumb and thumb.startswith("blob:")
        assert await page.evaluate(LOADS, thumb) is True
        await page.get_by_test_id("end-call").click()
        await page.get_by_test_id("outcome-resolved").click()
        await on_screen(page, "home")
        assert await page.locator("[data-testid=doccam-still]").count() == 0
        assert await page.get_by_test_id("doccam-count").get_attribute("data-count") == "0"
        gone = await page.evaluate(LOADS, thumb) is False
        assert gone, "the still's Blob URL was not revoked"
        # (The browser logs the refused probe of the revoked URL; nothing else.)
        assert [e for e in page_errors(tab.console.errors) if "ERR_FILE_NOT_FOUND" not in e] == []


@pytest.mark.timeout(240)
async def test_doccam_screens_in_each_language(browser: Browser, node: ServeProcess) -> None:
    first, second = page_still(7), page_still(11)
    original = first.part("original")
    assert original is not None and first.corners is not None
    async with console_tab(browser, node, lang="fi") as tab, citizen_at(node) as citizen:
        page = tab.page
        await in_call(page, citizen)
        await start_camera(page, original.data)
        await until(page, "document.querySelector('[data-testid=doccam-video]').videoWidth > 0")
        await camera_says(
            page,
            {"type": "hello", "width": 1920, "height": 1080, "auto_capture": True, "bw": False},
        )
        await send_still(page, second, "still-a", trigger="auto")
        await send_still(page, empty_desk_still(), "still-b", trigger="auto")
        await send_still(page, first, "still-c", trigger="expert")
        await until(page, "document.querySelectorAll('[data-testid=doccam-still]').length === 3")
        frame_corners = [[x / FRAME[0], y / FRAME[1]] for x, y in first.corners]
        await camera_says(
            page, {"type": "status", "feedback": "ok", "steady": 0.6, "corners": frame_corners}
        )
        await page.locator("[data-testid=doccam-select][data-still-id='still-c']").check()
        for lang in LANGS:
            await page.get_by_test_id(f"lang-{lang}").click()
            assert await text_of(page, "doccam-feedback") == t(lang, "doccam.feedback.ok")
            assert await text_of(page, "doccam-capture") == t(lang, "doccam.capture")
            await check_axe(page, f"call/{lang}")
            await screenshot(page, f"console-doccam-call-{lang}")
            # The panel whole: a window tall enough that the side column does not scroll.
            await page.set_viewport_size({"width": 1280, "height": 1100})
            await page.get_by_test_id("doccam-panel").screenshot(
                path=str(SCREENS / f"console-doccam-panel-{lang}.png")
            )
            await page.set_viewport_size(ViewportSize(width=1280, height=800))
            await page.locator("[data-still-id='still-c'] button.still-open").click()
            await page.get_by_test_id("doccam-viewer").wait_for()
            await until(page, "document.getElementById('doccam-viewer-page').complete")
            await page.get_by_test_id("doccam-zoom-in").click()
            await check_axe(page, f"viewer/{lang}")
            await screenshot(page, f"console-doccam-viewer-{lang}")
            await page.keyboard.press("Escape")
            await page.get_by_test_id("doccam-viewer").wait_for(state="hidden")
        assert page_errors(tab.console.errors) == [], tab.console.dump()
