"""The browser call client in real Chromium against a real node and an aiortc expert.

The page (tests/pages/) is the booth: it imports browser_client/ as ES modules, gets a
device token from the test, asks for a Kela call and talks to a Python expert whose
media is aiortc (signaling.client.Call). Nothing is mocked.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from signaling.client import Call, SignalingClient, device_token
from signaling.protocol import Offer, ParticipantEvent

from .browser import (
    describe_violations,
    launch_chromium,
    open_page,
    run_axe,
    screenshot,
    static_site,
    video_frames_advancing,
)
from .support import (
    DEMO_SECRETS,
    ServeProcess,
    SyntheticCamera,
    SyntheticMicrophone,
    eventually,
    frames,
    staff_client,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

KELA = {"agency": "kela", "service": "general", "language": "fi"}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
async def site() -> AsyncIterator[str]:
    async with static_site() as url:
        yield url


@pytest.fixture
async def node() -> AsyncIterator[ServeProcess]:
    server = ServeProcess("memory", "browser-node")
    await server.start()
    try:
        yield server
    finally:
        server.kill()


async def open_booth(
    page: Page, site: str, server: ServeProcess, site_id: str = "lib-kitee"
) -> None:
    """Load the test page and connect it as the booth of a demo site."""
    await page.goto(f"{site}/client.html")
    await page.wait_for_function("window.harnessReady === true")
    token = await device_token(server.base_url, site_id, DEMO_SECRETS[site_id])
    connected = await page.evaluate(
        "([url, token]) => harness.connect({url, token})", [server.ws_url, token]
    )
    assert connected["identity"]["roles"] == ["booth"]


async def expert_answers(
    expert: SignalingClient, page: Page, site_kind: str = "S"
) -> tuple[str, Call, float]:
    """Let the page request a Kela call and the aiortc expert take it; return when accepted."""
    await expert.request({"type": "set_availability", "status": "available"})
    session: dict[str, Any] = await page.evaluate(
        "([request, kind]) => harness.callRequest(request, kind)", [KELA, site_kind]
    )
    session_id = session["session_id"]
    await expert.wait_for(Offer, lambda o: o.session_id == session_id)
    expert_call = Call(expert, session_id, [SyntheticCamera(), SyntheticMicrophone()])
    expert_call.start()
    accepted = time.monotonic()
    await expert.request({"type": "offer_accept", "session_id": session_id})
    return session_id, expert_call, accepted


def expert_hears_and_sees(call: Call, video: int = 10, audio: int = 25) -> bool:
    """Return whether the expert decoded enough video and audio frames from the booth."""
    return any(r.video_frames >= video and r.audio_frames >= audio for r in call.received.values())


async def page_peers(page: Page) -> dict[str, dict[str, str]]:
    peers: dict[str, dict[str, str]] = await page.evaluate("harness.peers()")
    return peers


async def test_booth_page_calls_an_aiortc_expert_and_survives_a_signaling_drop(
    browser: Browser, site: str, node: ServeProcess
) -> None:
    async with open_page(browser) as tab:
        page = tab.page
        await open_booth(page, site, node)
        media = await page.evaluate("harness.openMedia('S')")
        assert media["contentHint"] == "motion"
        assert media["width"] >= 640 and media["height"] >= 480, media
        audio = media["audio"]
        assert audio["echoCancellation"] and audio["noiseSuppression"] and audio["autoGainControl"]

        expert = await staff_client(node.base_url, "kela.expert")
        session_id, expert_call, accepted = await expert_answers(expert, page)
        try:
            progress = await video_frames_advancing(page, "#remote", timeout=30)
            page_media_s = time.monotonic() - accepted
            assert (progress.width, progress.height) == (320, 240)  # the SyntheticCamera
            await eventually(
                lambda: expert_hears_and_sees(expert_call),
                timeout=30,
                message="the expert decodes the page's video and audio",
            )
            expert_media_s = time.monotonic() - accepted
            (received,) = expert_call.received.values()
            assert received.video_size[0] >= 640, received.video_size
            assert received.ice_candidates > 0  # the page trickled its candidates
            print(f"media: page sees video {page_media_s:.2f} s, expert {expert_media_s:.2f} s")

            (peer_id,) = (await page_peers(page)).keys()
            tags_before = await page.evaluate("harness.peerIdentity()")

            # Media priorities on the senders.
            senders = {s["kind"]: s for s in await page.evaluate("harness.senderParameters()")}
            assert senders["video"]["degradationPreference"] == "maintain-framerate"
            assert senders["audio"]["encodings"][0]["priority"] == "high"
            assert senders["audio"]["encodings"][0]["networkPriority"] == "high"
            assert "maxBitrate" not in senders["video"]["encodings"][0]  # an S site: no cap

            # The quality event arrives every 2 s while connected.
            await page.wait_for_function("harness.quality.length >= 2", timeout=10_000)
            quality = await page.evaluate("harness.quality.at(-1)")
            assert quality["participantId"] == peer_id
            assert quality["level"] in ("good", "weak"), quality
            assert quality["kbps"] > 0 and quality["rttMs"] is not None

            path = await screenshot(page, "browser-client-call")
            assert path.stat().st_size > 0
            violations = await run_axe(page)
            assert not violations, describe_violations(violations)

            # The signaling socket drops mid-call: the page reconnects and resumes.
            dropped = time.monotonic()
            before = frames(expert_call)
            await page.evaluate("harness.signaling.reconnect()")
            await expert.wait_for(ParticipantEvent, lambda e: e.event == "reconnected", timeout=10)
            await page.wait_for_function(
                "harness.welcomes.length === 2 && harness.signaling.state === 'open'",
                timeout=10_000,
            )
            resumed_s = time.monotonic() - dropped
            print(f"signaling resumed {resumed_s:.2f} s after the drop")
            events = await page.evaluate("harness.eventsOf('welcome')")
            assert events[-1] == {**events[-1], "resumed": True, "reconnected": True}
            welcome = await page.evaluate("harness.welcomes.at(-1)")
            assert [s["session_id"] for s in welcome["sessions"]] == [session_id]
            tokens = await page.evaluate("harness.resumeTokens")
            assert len(tokens) == 2 and tokens[0] != tokens[1]

            # Media kept flowing on the same peer connection: nothing was renegotiated.
            await video_frames_advancing(page, "#remote", min_frames=25)
            await eventually(
                lambda: frames(expert_call) > before + 25, message="the expert still sees video"
            )
            assert await page.evaluate("harness.peerIdentity()") == tags_before
            assert (await page_peers(page))[peer_id]["connectionState"] == "connected"

            # The call goes on: the expert ends it and the page hears of it.
            await expert.request(
                {"type": "session_end", "session_id": session_id, "outcome": "resolved"}
            )
            await page.wait_for_function("harness.eventsOf('ended').length === 1")
            ended = await page.evaluate("harness.eventsOf('ended')[0]")
            assert (ended["state"], ended["reason"], ended["outcome"]) == (
                "ended",
                "expert_ended",
                "resolved",
            )
            assert await page_peers(page) == {}
            assert not tab.console.errors, tab.console.dump()
        finally:
            await expert_call.close()
            await expert.close()
