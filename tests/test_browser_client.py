"""The browser call client in real Chromium against a real node and an aiortc expert.

The page (tests/pages/) is the booth: it imports browser_client/ as ES modules, gets a
device token from the test, asks for a Kela call and talks to a Python expert whose
media is aiortc (signaling.client.Call). Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from signaling.client import (
    Call,
    SignalingClient,
    SyntheticCamera,
    SyntheticMicrophone,
    device_token,
    login,
)
from signaling.protocol import Offer, ParticipantEvent

from .browser import (
    describe_violations,
    open_page,
    run_axe,
    screenshot,
    static_site,
    video_frames_advancing,
)
from .support import (
    DEMO_SECRETS,
    ServeProcess,
    eventually,
    frames,
    staff_client,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

KELA = {"agency": "kela", "service": "general", "language": "fi"}


@pytest.fixture
async def site() -> AsyncIterator[str]:
    async with static_site() as url:
        yield url


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


async def test_signaling_errors_carry_code_and_field_and_a_replaced_page_stays_closed(
    browser: Browser, site: str, node: ServeProcess
) -> None:
    async with open_page(browser) as tab:
        page = tab.page
        await page.goto(f"{site}/client.html")
        await page.wait_for_function("window.harnessReady === true")

        # A bad token: connect() rejects with the server's code and field, no retrying.
        refused = await page.evaluate(
            """async (url) => {
                const s = new etp.Signaling({url, getToken: async () => 'not-a-token'});
                try { await s.connect(); return null; }
                catch (e) { return {name: e.name, code: e.code, field: e.field, state: s.state}; }
            }""",
            node.ws_url,
        )
        assert refused == {
            "name": "SignalingError",
            "code": "unauthenticated",
            "field": "token",
            "state": "closed",
        }

        token = await device_token(node.base_url, "lib-kitee", DEMO_SECRETS["lib-kitee"])
        await page.evaluate("([url, token]) => harness.connect({url, token})", [node.ws_url, token])
        bad_language = await page.evaluate(
            "harness.tryRequest({type: 'call_request', agency: 'kela', service: 'general',"
            " language: 'FI'})"
        )
        assert bad_language["error"] == {
            **bad_language["error"],
            "isSignalingError": True,
            "code": "invalid_field",
            "field": "language",
        }
        unknown = await page.evaluate(
            "harness.tryRequest({type: 'call_request', agency: 'kela', service: 'general',"
            " language: 'de'})"
        )
        assert (unknown["error"]["code"], unknown["error"]["field"]) == ("not_found", "language")
        pong = await page.evaluate("harness.tryRequest({type: 'ping'})")
        assert pong["reply"]["type"] == "pong"
        assert pong["reply"]["id"]  # the client added a unique id

        # token_refresh: the client keeps the fresh token for its next reconnect.
        first = await page.evaluate("harness.signaling.token")
        await page.evaluate("harness.signaling._refresh()")
        refreshed = await page.evaluate("harness.signaling.token")
        assert refreshed and refreshed != first

        # Another connection of the same site replaces the page: 4000, and no reconnect.
        other = await device_token(node.base_url, "lib-kitee", DEMO_SECRETS["lib-kitee"])
        replacing = SignalingClient(node.ws_url, other)
        try:
            await replacing.connect()
            await page.wait_for_function("harness.signaling.state === 'closed'")
            await page.wait_for_timeout(1500)  # longer than the first back-off step
            assert await page.evaluate("harness.signaling.state") == "closed"
            assert await page.evaluate("harness.welcomes.length") == 1
            messages = [
                e.get("message") for e in await page.evaluate("harness.eventsOf('message')")
            ]
            assert messages == ["error"]  # the server's conflict, as a push
            after = await page.evaluate("harness.tryRequest({type: 'ping'})")
            assert after["error"]["code"] == "closed"
        finally:
            await replacing.close()
        # close() is idempotent.
        await page.evaluate("harness.signaling.close(); harness.signaling.close()")
        assert not tab.console.errors, tab.console.dump()


async def test_local_media_level_meter_and_media_errors(browser: Browser, site: str) -> None:
    async with open_page(browser) as tab:
        page = tab.page
        await page.goto(f"{site}/client.html")
        await page.wait_for_function("window.harnessReady === true")
        media = await page.evaluate("harness.openMedia('XS')")
        assert media["contentHint"] == "motion"
        assert media["frameRate"] >= 25, media
        await page.evaluate("harness.startMeter()")
        # The fake microphone beeps once a second: the meter must see it.
        await page.wait_for_function("harness.meter.level > 0.2", timeout=5000, polling=20)
        await page.evaluate("harness.meter.close(); harness.meter.close()")
        assert await page.evaluate("harness.meter.level") == 0
        kinds = {
            name: await page.evaluate("(n) => harness.describe(n)", name)
            for name in ("NotAllowedError", "NotFoundError", "NotReadableError", "TypeError")
        }
        assert kinds == {
            "NotAllowedError": "denied",
            "NotFoundError": "not-found",
            "NotReadableError": "in-use",
            "TypeError": "other",
        }
        assert not tab.console.errors, tab.console.dump()


@pytest.mark.redis
@pytest.mark.parametrize("stop", ["kill", "terminate"])
async def test_page_resumes_its_call_on_a_restarted_node_and_media_never_stops(
    browser: Browser, site: str, redis_url: str, stop: str
) -> None:
    first = ServeProcess(redis_url, "node-a")
    await first.start()
    second = ServeProcess(redis_url, "node-b", port=first.port)
    expert: SignalingClient | None = None
    expert_call: Call | None = None
    try:
        async with open_page(browser) as tab:
            page = tab.page
            await open_booth(page, site, first)
            await page.evaluate("harness.openMedia('S')")
            expert = await staff_client(first.base_url, "kela.expert")
            session_id, expert_call, _ = await expert_answers(expert, page)
            await video_frames_advancing(page, "#remote", timeout=30)
            await eventually(lambda: expert_hears_and_sees(expert_call), timeout=30)
            tags = await page.evaluate("harness.peerIdentity()")

            # The node dies (kill: without a goodbye; terminate: going_away, close 1001);
            # a new one comes up on the same address.
            killed = time.monotonic()
            if stop == "kill":
                first.kill()
            else:
                await first.terminate()
            await page.wait_for_function("harness.signaling.state === 'reconnecting'")
            pushed = [e.get("message") for e in await page.evaluate("harness.eventsOf('message')")]
            assert ("going_away" in pushed) == (stop == "terminate"), pushed
            before = frames(expert_call)
            await video_frames_advancing(page, "#remote", min_frames=25)  # media is p2p
            await second.start()
            await page.wait_for_function(
                "harness.signaling.state === 'open' && harness.welcomes.length === 2",
                timeout=15_000,
            )
            print(f"page back on the new node {time.monotonic() - killed:.2f} s after {stop}")
            welcome = await page.evaluate("harness.welcomes.at(-1)")
            assert welcome["node_id"] == "node-b" and welcome["resumed"] is True
            assert [s["session_id"] for s in welcome["sessions"]] == [session_id]

            expert_welcome = await expert.connect()
            (session,) = expert_welcome.sessions
            await expert_call.resumed(session)
            await eventually(lambda: frames(expert_call) > before + 50, timeout=15)
            await video_frames_advancing(page, "#remote", min_frames=25)
            assert await page.evaluate("harness.peerIdentity()") == tags

            # Signaling works again end to end: the expert ends the call through node-b.
            await expert.request(
                {"type": "session_end", "session_id": session_id, "outcome": "resolved"}
            )
            await page.wait_for_function("harness.eventsOf('ended').length === 1")
            # Chromium logs each refused reconnect attempt itself; nothing else may fail.
            unexpected = [e for e in tab.console.errors if "ERR_CONNECTION_REFUSED" not in e]
            assert not unexpected, tab.console.dump()
    finally:
        if expert_call is not None:
            await expert_call.close()
        if expert is not None:
            await expert.close()
        first.kill()
        second.kill()


async def test_bus_page_caps_video_and_repairs_a_broken_peer_connection_by_itself(
    browser: Browser, site: str, node: ServeProcess
) -> None:
    async with open_page(browser) as tab:
        page = tab.page
        await open_booth(page, site, node, "bus-lieksa")
        await page.evaluate("harness.openMedia('XS')")
        expert = await staff_client(node.base_url, "kela.expert")
        session_id, expert_call, _ = await expert_answers(expert, page, site_kind="XS")
        try:
            await video_frames_advancing(page, "#remote", timeout=30)
            await eventually(lambda: expert_hears_and_sees(expert_call), timeout=30)
            senders = {s["kind"]: s for s in await page.evaluate("harness.senderParameters()")}
            assert senders["video"]["encodings"][0]["maxBitrate"] == 600_000
            assert senders["video"]["degradationPreference"] == "maintain-framerate"
            tags = await page.evaluate("harness.peerIdentity()")
            (peer_id,) = tags

            # The expert's side of the media path vanishes without a word (aiortc never
            # restarts ICE): the page must notice and renegotiate on its own.
            broken = time.monotonic()
            (booth_id,) = expert_call.peers
            await expert_call.peers[booth_id].close()
            await page.wait_for_function(
                f"harness.peerIdentity()['{peer_id}'] !== '{tags[peer_id]}'"
                f" && harness.peers()['{peer_id}'].connectionState === 'connected'",
                timeout=30_000,
            )
            print(f"page repaired the peer connection in {time.monotonic() - broken:.2f} s")
            await video_frames_advancing(page, "#remote", min_frames=25)
            before = frames(expert_call)
            await eventually(lambda: frames(expert_call) > before + 25, timeout=15)

            # An explicit ICE restart (after a network change on the bus) keeps media going.
            tags = await page.evaluate("harness.peerIdentity()")
            restarted = time.monotonic()
            await page.evaluate("harness.call.restartIce()")
            await page.wait_for_function(
                f"harness.peerIdentity()['{peer_id}'] !== '{tags[peer_id]}'"
                f" && harness.peers()['{peer_id}'].connectionState === 'connected'",
                timeout=30_000,
            )
            print(f"restartIce reconnected in {time.monotonic() - restarted:.2f} s")
            await video_frames_advancing(page, "#remote", min_frames=25)
            before = frames(expert_call)
            await eventually(lambda: frames(expert_call) > before + 25, timeout=15)
            assert (await page.evaluate("harness.eventsOf('participant-left')")) == []
            assert not tab.console.errors, tab.console.dump()
        finally:
            await expert_call.close()
            await expert.close()


async def test_page_interoperates_with_aiortc_whichever_side_offers(
    browser: Browser, site: str, node: ServeProcess
) -> None:
    """Participant ids are random: call until the page has both offered and answered."""
    roles: dict[str, float] = {}
    async with open_page(browser) as tab:
        page = tab.page
        await open_booth(page, site, node)
        await page.evaluate("harness.openMedia('S')")
        expert = await staff_client(node.base_url, "kela.expert")
        try:
            # Each role has even odds per call; 12 calls miss one with p = 2 * 2**-12.
            for calls in range(1, 13):
                session_id, expert_call, accepted = await expert_answers(expert, page)
                try:
                    await video_frames_advancing(page, "#remote", timeout=20)
                    await eventually(lambda c=expert_call: expert_hears_and_sees(c), timeout=20)
                    page_id = await page.evaluate("harness.call.selfId")
                    assert expert_call.self_id is not None
                    role = "page offers" if page_id < expert_call.self_id else "page answers"
                    roles.setdefault(role, time.monotonic() - accepted)
                    await expert.request(
                        {"type": "session_end", "session_id": session_id, "outcome": "resolved"}
                    )
                    await page.wait_for_function(
                        f"harness.eventsOf('ended').length === {calls}", timeout=10_000
                    )
                finally:
                    await expert_call.close()
                if len(roles) == 2:
                    break
            print(f"calls: {calls}; media both ways after accept: {roles}")
            assert set(roles) == {"page offers", "page answers"}
            assert not tab.console.errors, tab.console.dump()
        finally:
            await expert.close()


async def test_two_browsers_call_and_restart_ice_on_the_same_peer_connection(
    browser: Browser, site: str, node: ServeProcess
) -> None:
    """The kiosk and a (future) staff console: Chromium on both ends of one call."""
    async with open_page(browser) as booth_tab, open_page(browser) as expert_tab:
        booth, expert = booth_tab.page, expert_tab.page
        await open_booth(booth, site, node)
        await booth.evaluate("harness.openMedia('S')")
        await expert.goto(f"{site}/client.html")
        await expert.wait_for_function("window.harnessReady === true")
        token = await login(node.base_url, "kela.expert", "demo")
        await expert.evaluate(
            "([url, token]) => harness.connect({url, token})", [node.ws_url, token]
        )
        await expert.evaluate("harness.openMedia('S')")
        taking = asyncio.ensure_future(expert.evaluate("harness.takeNextCall()"))
        await booth.evaluate("([request]) => harness.callRequest(request)", [KELA])
        session = await taking
        started = time.monotonic()
        for page in (booth, expert):
            await video_frames_advancing(page, "#remote", timeout=20)
        print(f"browser to browser: video both ways {time.monotonic() - started:.2f} s")

        tags = {p: await p.evaluate("harness.peerIdentity()") for p in (booth, expert)}
        # Whichever side restarts ICE, both keep their peer connection and its DTLS.
        for page in (booth, expert):
            ufrags = {side: await side.evaluate("harness.iceUfrags()") for side in (booth, expert)}
            await page.evaluate("harness.call.restartIce()")
            await booth.wait_for_timeout(300)
            for side in (booth, expert):
                await side.wait_for_function(
                    "Object.values(harness.peers()).every(p => p.connectionState === 'connected'"
                    " && p.signalingState === 'stable')"
                )
                await video_frames_advancing(side, "#remote", min_frames=10)
                assert await side.evaluate("harness.peerIdentity()") == tags[side]
                now = await side.evaluate("harness.iceUfrags()")
                assert now.keys() == ufrags[side].keys() and now != ufrags[side]  # restarted

        # The console's signaling drops: both pages keep their media; the call resumes.
        await expert.evaluate("harness.signaling.reconnect()")
        await expert.wait_for_function(
            "harness.welcomes.length === 2 && harness.signaling.state === 'open'"
        )
        await booth.wait_for_function("harness.eventsOf('participant').length >= 2")
        for side in (booth, expert):
            await video_frames_advancing(side, "#remote", min_frames=10)
            assert await side.evaluate("harness.peerIdentity()") == tags[side]
        ended = await expert.evaluate(
            "(id) => harness.tryRequest({type: 'session_end', session_id: id,"
            " outcome: 'resolved'})",
            session["session_id"],
        )
        assert ended["reply"]["type"] == "ack"
        await booth.wait_for_function("harness.eventsOf('ended').length === 1")
        for tab in (booth_tab, expert_tab):
            assert not tab.console.errors, tab.console.dump()
