"""TURN: a real coturn (infra/coturn/turnserver.conf), real Chromium and aiortc through it.

tests/coturn_server.py runs the production configuration on loopback. The fast tests
speak TURN with aioice (the TURN client inside aiortc) using the credentials a node
mints; the call tests run a booth and an expert in Chromium, and the aiortc
participants, with ``[ice] relay_only`` and one TURN URL per run, and read from
getStats (or aiortc's ICE state) that media took the relay over UDP, TCP or TLS.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import cv2
import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint
from aiortc import RTCPeerConnection
from playwright.async_api import Page
from pydantic import SecretStr, ValidationError

import signaling.client.doccam as doccam_viewer
from document_camera.sources import CaptureSettings
from document_camera.synth.scene import sample_frame
from endpoint_agent.doccam import DoccamService
from signaling.client import device_token, login
from signaling.client.doccam import DoccamViewer
from signaling.client.ice import order_turn_urls, rtc_configuration, turn_transport
from signaling.directory import Directory, IceSettings
from signaling.ice import turn_credentials
from signaling.protocol import CallQueued, Offer, SessionUpdate, Welcome
from signaling.store import MemoryStore

from .browser import launch_chromium, open_page, static_site, video_frames_advancing
from .coturn_server import HOST, CoturnServer, production_options
from .support import (
    DEMO_SECRETS,
    RunningNode,
    booth_client,
    demo_data,
    directory_with,
    eventually,
    frames,
    free_port,
    running_node,
    staff_client,
    start_call,
)

pytestmark = pytest.mark.timeout(90)

TRANSPORTS = ["udp", "tcp", "tls"]
KELA = {"agency": "kela", "service": "general", "language": "fi"}
DENIED_PEERS = ["10.77.0.1", "192.168.1.1", "172.16.5.5", "169.254.1.1", "127.0.0.2", "100.64.0.1"]


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoturnServer]:
    """Run one coturn with the production configuration for this module."""
    with CoturnServer(tmp_path_factory.mktemp("coturn")) as server:
        yield server


def ca_context(coturn: CoturnServer) -> ssl.SSLContext:
    """Return a client TLS context that trusts the test CA (and checks the IP SAN)."""
    return ssl.create_default_context(cafile=str(coturn.pki.ca_cert))


# --- the wire: aioice allocations against the production configuration --------------------


class Peer(asyncio.DatagramProtocol):
    """A UDP endpoint that keeps what it receives and the errors it is told of."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.errors: list[Exception] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.closed = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait((data, addr))

    def error_received(self, exc: Exception) -> None:
        self.errors.append(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


async def release(relay: Any, client: Peer) -> None:
    """Delete the allocation and wait until its socket is closed."""
    relay.close()
    await asyncio.wait_for(client.closed.wait(), 5)


async def allocate(
    coturn: CoturnServer,
    transport: str,
    credentials: tuple[str, str],
    ssl_context: ssl.SSLContext | bool | None = None,
) -> tuple[Any, Peer]:
    """Allocate a relay over udp, tcp or tls; return aioice's TurnTransport and its protocol."""
    username, password = credentials
    port = coturn.tls_port if transport == "tls" else coturn.port
    if transport == "tls" and ssl_context is None:
        ssl_context = ca_context(coturn)
    return await create_turn_endpoint(
        Peer,
        server_addr=(HOST, port),
        username=username,
        password=password,
        transport="udp" if transport == "udp" else "tcp",
        ssl=ssl_context if transport == "tls" else None,
    )


def fresh(coturn: CoturnServer, user: str = "site", ttl_s: int = 3600) -> tuple[str, str]:
    return turn_credentials(coturn.secret, user, time.time(), ttl_s)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_allocation_relays_both_ways_with_minted_credentials(
    coturn: CoturnServer, transport: str
) -> None:
    loop = asyncio.get_running_loop()
    peer_transport, peer = await loop.create_datagram_endpoint(Peer, local_addr=(HOST, 0))
    started = time.monotonic()
    relay, client = await allocate(coturn, transport, fresh(coturn))
    allocated_ms = (time.monotonic() - started) * 1000
    try:
        relayed = relay.get_extra_info("sockname")
        assert relayed[0] == HOST and relayed[1] > 0
        peer_addr = peer_transport.get_extra_info("sockname")
        relay.sendto(b"from the booth", peer_addr)
        data, source = await asyncio.wait_for(peer.received.get(), 5)
        assert (data, source) == (b"from the booth", tuple(relayed))
        peer_transport.sendto(b"from the expert", tuple(relayed))
        data, source = await asyncio.wait_for(client.received.get(), 5)
        assert (data, source) == (b"from the expert", peer_addr)
        assert client.errors == []
        print(f"TURN {transport}: allocation {allocated_ms:.1f} ms")
    finally:
        await release(relay, client)
        peer_transport.close()


def expired(c: CoturnServer) -> tuple[str, str]:
    return turn_credentials(c.secret, "site", time.time() - 7200, 3600)


def wrongly_signed(c: CoturnServer) -> tuple[str, str]:
    return turn_credentials("not-the-secret", "site", time.time(), 3600)


def made_up(c: CoturnServer) -> tuple[str, str]:
    return ("9999999999:site", "made-up")


@pytest.mark.parametrize("credentials", [expired, wrongly_signed, made_up])
async def test_credentials_that_are_expired_or_not_signed_with_the_secret_get_401(
    coturn: CoturnServer, credentials: Any
) -> None:
    with pytest.raises(stun.TransactionFailed) as refused:
        await allocate(coturn, "udp", credentials(coturn))
    assert refused.value.response.error_code == 401


async def test_while_rotating_coturn_accepts_the_old_and_the_new_secret(
    tmp_path: Path,
) -> None:
    # infra/coturn/README.md: rotate by listing both secrets, then dropping the old one.
    with CoturnServer(tmp_path, extra_options=("static-auth-secret=the-new-secret",)) as server:
        old = turn_credentials(server.secret, "site", time.time(), 600)
        new = turn_credentials("the-new-secret", "site", time.time(), 600)
        for credentials in (old, new):
            relay, client = await allocate(server, "udp", credentials)
            await release(relay, client)
        with pytest.raises(stun.TransactionFailed):
            await allocate(server, "udp", turn_credentials("neither", "site", time.time(), 600))


async def test_coturn_counts_user_quota_per_kind_so_production_sets_none(
    tmp_path: Path,
) -> None:
    # With use-auth-secret coturn counts user-quota per name after the colon: two
    # booths' credentials (different expiries) share it. infra/coturn sets no user-quota.
    assert not [o for o in production_options() if o.startswith("user-quota")]
    with CoturnServer(tmp_path, extra_options=("user-quota=1",)) as server:
        now = time.time()
        booth = turn_credentials(server.secret, "site", now, 600)
        other_booth = turn_credentials(server.secret, "site", now + 7, 600)
        expert = turn_credentials(server.secret, "staff", now, 600)
        relay, client = await allocate(server, "udp", booth)
        try:
            with pytest.raises(stun.TransactionFailed) as refused:
                await allocate(server, "udp", other_booth)
            assert refused.value.response.error_code == 486  # Allocation Quota Reached
            await release(*await allocate(server, "udp", expert))
        finally:
            await release(relay, client)


async def test_turns_needs_a_certificate_the_client_trusts(coturn: CoturnServer) -> None:
    # The system's CAs do not know the test CA: aioice's default (ssl=True) refuses.
    with pytest.raises(ssl.SSLCertVerificationError):
        await allocate(coturn, "tls", fresh(coturn), ssl_context=True)


@pytest.mark.parametrize("peer_ip", DENIED_PEERS)
async def test_relaying_into_private_loopback_and_link_local_ranges_is_refused(
    coturn: CoturnServer, peer_ip: str
) -> None:
    relay, client = await allocate(coturn, "udp", fresh(coturn))
    try:
        relay.sendto(b"knock knock", (peer_ip, 9))
        await eventually(lambda: client.errors, timeout=5, message="the channel bind refused")
        (error,) = client.errors
        assert isinstance(error, stun.TransactionFailed), error
        assert error.response.error_code == 403, error.response
    finally:
        await release(relay, client)
    assert f"A peer IP {peer_ip} denied in the range" in coturn.log_text()


# --- the directory and aiortc: which TURN URLs, which one aiortc uses -----------------------


@pytest.mark.parametrize(
    "url",
    [
        "turns:turn.example.fi",
        "turns:turn.example.fi?transport=tcp",
        "turns:turn.example.fi:443?transport=udp",
    ],
)
def test_a_turns_url_must_name_its_port_and_tcp(url: str) -> None:
    with pytest.raises(ValidationError, match="explicit port"):
        IceSettings(turn_urls=[url], turn_secret=SecretStr("s3cret"))


def test_relay_only_needs_a_turn_server() -> None:
    with pytest.raises(ValidationError, match="relay_only"):
        IceSettings(relay_only=True)
    ice = IceSettings.model_validate(
        {
            "turn_urls": ["turns:turn.example.fi:443", "turns:[2001:db8::1]:443?transport=tcp"],
            "turn_secret": "s3cret",
            "relay_only": True,
        }
    )
    assert ice.relay_only and not IceSettings().relay_only


def site_relay_only_directory(ice: dict[str, Any], site: str = "lib-kitee") -> Directory:
    """The demo directory with these ICE settings and ``site`` relay only."""
    data = demo_data()
    data["ice"] = ice
    next(s for s in data["sites"] if s["id"] == site)["relay_only"] = True
    return Directory.model_validate(data)


def test_aiortc_gets_the_turn_url_of_the_preferred_transport_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    urls = [
        "stun:turn.example.fi:3478",
        "turns:turn.example.fi:443?transport=tcp",
        "turn:turn.example.fi:3478?transport=tcp",
        "turn:turn.example.fi:3478?transport=udp",
    ]
    assert [turn_transport(u) for u in urls] == [None, "tls", "tcp", "udp"]
    monkeypatch.delenv("ETAPISTE_TURN_TRANSPORT", raising=False)
    assert order_turn_urls(urls)[:2] == [urls[0], urls[3]]
    assert order_turn_urls(urls, ["tls"])[1] == urls[1]
    monkeypatch.setenv("ETAPISTE_TURN_TRANSPORT", "tcp,tls")
    assert order_turn_urls(urls)[1:] == [urls[2], urls[1], urls[3]]
    with pytest.raises(ValueError, match="dtls"):
        order_turn_urls(urls, ["dtls"])


# --- nodes whose clients must relay -----------------------------------------------------------


@asynccontextmanager
async def relay_node(coturn: CoturnServer, *urls: str) -> AsyncIterator[RunningNode]:
    """Serve a node whose directory hands out these TURN URLs, relay only."""
    directory = directory_with(
        ice={"turn_urls": list(urls), "turn_secret": coturn.secret, "relay_only": True}
    )
    async with running_node(MemoryStore(), directory, node_id="turn-node") as node:
        yield node


async def test_the_welcome_says_relay_and_aiortc_configures_it(coturn: CoturnServer) -> None:
    async with relay_node(coturn, coturn.turns, coturn.turn_tcp, coturn.turn_udp) as node:
        booth = await booth_client(node.base_url)
        try:
            welcome = booth.welcome
            assert isinstance(welcome, Welcome)
            assert welcome.ice_transport_policy == "relay"
            (turn,) = welcome.ice_servers
            assert turn.urls == [coturn.turns, coturn.turn_tcp, coturn.turn_udp]
            configuration = rtc_configuration(welcome, ["udp"])
            assert configuration.iceTransportPolicy.value == "relay"
            (server,) = configuration.iceServers or []
            assert server.urls[0] == coturn.turn_udp
        finally:
            await booth.close()


# --- Chromium: a booth and an expert through the relay ---------------------------------------

SELECTED_PAIRS = """async () => {
  const describe = (c) => c && {
    type: c.candidateType, relayProtocol: c.relayProtocol ?? null, url: c.url ?? null,
  };
  const result = [];
  for (const [id, pc] of harness.call?.peerConnections ?? []) {
    const stats = await pc.getStats();
    let pair = null;
    const locals = [];
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) {
        pair = stats.get(s.selectedCandidatePairId);
      }
      if (s.type === 'local-candidate') locals.push(describe(s));
    });
    result.push({
      id,
      state: pair?.state ?? null,
      local: describe(pair ? stats.get(pair.localCandidateId) : null),
      remote: describe(pair ? stats.get(pair.remoteCandidateId) : null),
      locals,
      bytesReceived: pair?.bytesReceived ?? 0,
      bytesSent: pair?.bytesSent ?? 0,
    });
  }
  return result;
}"""

GATHER = """async ([server, policy]) => {
  const pc = new RTCPeerConnection({iceServers: [server], iceTransportPolicy: policy});
  const errors = [];
  pc.addEventListener('icecandidateerror', (e) => {
    errors.push({code: e.errorCode, text: e.errorText, url: e.url});
  });
  pc.createDataChannel('probe');
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === 'complete') resolve(); };
    pc.addEventListener('icegatheringstatechange', done);
    done();
  });
  const candidates = [];
  (await pc.getStats()).forEach((s) => {
    if (s.type !== 'local-candidate') return;
    candidates.push({type: s.candidateType, relayProtocol: s.relayProtocol ?? null});
  });
  pc.close();
  return {candidates, errors};
}"""


def trust_args(coturn: CoturnServer) -> list[str]:
    """Chromium flags that make it accept the test server's certificate for TURNS."""
    return [f"--ignore-certificate-errors-spki-list={coturn.pki.server_spki_sha256}"]


async def gather(page: Page, coturn: CoturnServer, url: str) -> dict[str, Any]:
    username, credential = fresh(coturn)
    server = {"urls": [url], "username": username, "credential": credential}
    result: dict[str, Any] = await page.evaluate(GATHER, [server, "relay"])
    return result


@pytest.mark.browser
@pytest.mark.timeout(120)
async def test_a_relay_only_site_relays_while_its_expert_may_use_any_path(
    coturn: CoturnServer,
) -> None:
    ice = {"turn_urls": [coturn.turn_udp], "turn_secret": coturn.secret}
    async with (
        running_node(MemoryStore(), site_relay_only_directory(ice), node_id="site-relay") as node,
        static_site() as site,
        launch_chromium() as browser,
        open_page(browser) as booth_tab,
        open_page(browser) as expert_tab,
    ):
        booth, expert = booth_tab.page, expert_tab.page
        await connect_booth_and_expert(booth, expert, site, node)
        policy = "harness.welcomes.at(-1).ice_transport_policy"
        assert (await booth.evaluate(policy), await expert.evaluate(policy)) == ("relay", "all")
        other = await booth_client(node.base_url, "bus-lieksa")
        try:
            assert other.welcome is not None and other.welcome.ice_transport_policy == "all"
        finally:
            await other.close()
        await booth_calls_expert(booth, expert)
        for page in (booth, expert):
            await video_frames_advancing(page, "#remote", timeout=30)
        (booth_pair,) = await booth.evaluate(SELECTED_PAIRS)
        (expert_pair,) = await expert.evaluate(SELECTED_PAIRS)
        print(f"booth: {booth_pair}\nexpert: {expert_pair}")
        # The booth's own address never reaches the other side: it offers only relays.
        assert {c["type"] for c in booth_pair["locals"]} == {"relay"}, booth_pair
        assert booth_pair["local"]["type"] == "relay", booth_pair
        assert expert_pair["remote"]["type"] == "relay", expert_pair
        # The expert gathered every kind it could (its own address too).
        assert {"host", "relay"} <= {c["type"] for c in expert_pair["locals"]}, expert_pair
        for tab in (booth_tab, expert_tab):
            assert not tab.console.errors, tab.console.dump()


@pytest.mark.browser
async def test_chromium_uses_turns_only_with_a_trusted_certificate(coturn: CoturnServer) -> None:
    async with static_site() as site:
        async with launch_chromium() as browser, open_page(browser) as tab:
            await tab.page.goto(f"{site}/client.html")
            untrusted = await gather(tab.page, coturn, coturn.turns)
        async with launch_chromium(*trust_args(coturn)) as browser, open_page(browser) as tab:
            await tab.page.goto(f"{site}/client.html")
            trusted = await gather(tab.page, coturn, coturn.turns)
    print(f"untrusted: {untrusted}\ntrusted: {trusted}")
    assert untrusted["candidates"] == [], untrusted
    assert untrusted["errors"], untrusted
    assert trusted["candidates"] and not trusted["errors"], trusted
    assert {(c["type"], c["relayProtocol"]) for c in trusted["candidates"]} == {("relay", "tls")}


async def connect_page(page: Page, site: str, node: RunningNode, token: str) -> None:
    await page.goto(f"{site}/client.html")
    await page.wait_for_function("window.harnessReady === true")
    await page.evaluate("([url, token]) => harness.connect({url, token})", [node.ws_url, token])
    await page.evaluate("harness.openMedia('S')")


async def connect_booth_and_expert(booth: Page, expert: Page, site: str, node: RunningNode) -> None:
    """Connect the Kitee library's booth and Kela's expert, cameras open."""
    token = await device_token(node.base_url, "lib-kitee", DEMO_SECRETS["lib-kitee"])
    await connect_page(booth, site, node, token)
    await connect_page(expert, site, node, await login(node.base_url, "kela.expert", "demo"))


async def booth_calls_expert(booth: Page, expert: Page) -> None:
    """The booth asks for Kela; the expert takes the call."""
    taking = asyncio.ensure_future(expert.evaluate("harness.takeNextCall()"))
    await booth.evaluate("([request]) => harness.callRequest(request)", [KELA])
    await taking


@pytest.mark.browser
@pytest.mark.timeout(120)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_booth_and_an_expert_in_chromium_call_through_the_relay(
    coturn: CoturnServer, transport: str
) -> None:
    url = coturn.url(transport)
    async with (
        relay_node(coturn, url) as node,
        static_site() as site,
        launch_chromium(*trust_args(coturn)) as browser,
        open_page(browser) as booth_tab,
        open_page(browser) as expert_tab,
    ):
        booth, expert = booth_tab.page, expert_tab.page
        await connect_booth_and_expert(booth, expert, site, node)
        assert await booth.evaluate("harness.welcomes.at(-1).ice_transport_policy") == "relay"
        await booth_calls_expert(booth, expert)
        started = time.monotonic()
        for page in (booth, expert):
            await video_frames_advancing(page, "#remote", timeout=30)
        media_s = time.monotonic() - started
        for page in (booth, expert):
            assert await page.evaluate("harness.call.iceTransportPolicy") == "relay"
            (pair,) = await page.evaluate(SELECTED_PAIRS)
            assert pair["state"] == "succeeded", pair
            assert pair["local"]["type"] == "relay", pair
            assert pair["local"]["relayProtocol"] == transport, pair
            assert pair["remote"]["type"] == "relay", pair  # the other side relays too
            assert {c["type"] for c in pair["locals"]} == {"relay"}, pair
            assert pair["bytesReceived"] > 10_000, pair
            await video_frames_advancing(page, "#remote", min_frames=25)
        # What one relayed call costs the TURN server (booth side: in + out of coturn).
        (before,) = await booth.evaluate(SELECTED_PAIRS)
        await booth.wait_for_timeout(5000)
        (after,) = await booth.evaluate(SELECTED_PAIRS)
        sent_kbps = (after["bytesSent"] - before["bytesSent"]) * 8 / 5000
        received_kbps = (after["bytesReceived"] - before["bytesReceived"]) * 8 / 5000
        print(
            f"Chromium relay over {transport}: video both ways {media_s:.2f} s after accept;"
            f" booth sends {sent_kbps:.0f} kbit/s, receives {received_kbps:.0f} kbit/s"
        )
        for tab in (booth_tab, expert_tab):
            assert not tab.console.errors, tab.console.dump()
    log = coturn.log_text()
    # coturn saw both sides, by kind only (no names), and the TLS runs were TLS.
    assert ":site>" in log and ":staff>" in log
    if transport == "tls":
        assert "cipher=" in log


@pytest.mark.browser
@pytest.mark.timeout(150)
async def test_a_chromium_call_recovers_when_coturn_restarts(tmp_path: Path) -> None:
    # Every allocation is lost; the browser client sees the connection go down and
    # restarts ICE, which allocates afresh with the credentials of its welcome.
    with CoturnServer(tmp_path) as server:
        async with (
            relay_node(server, server.turn_udp) as node,
            static_site() as site,
            launch_chromium() as browser,
            open_page(browser) as booth_tab,
            open_page(browser) as expert_tab,
        ):
            booth, expert = booth_tab.page, expert_tab.page
            await connect_booth_and_expert(booth, expert, site, node)
            await booth_calls_expert(booth, expert)
            for page in (booth, expert):
                await video_frames_advancing(page, "#remote", timeout=30)
            ufrags = await booth.evaluate("harness.iceUfrags()")
            await asyncio.to_thread(server.restart)
            restarted = time.monotonic()
            for page in (booth, expert):
                await page.wait_for_function(
                    "(before) => JSON.stringify(harness.iceUfrags()) !== before"
                    " && Object.values(harness.peers()).every("
                    "p => p.connectionState === 'connected')",
                    arg=json.dumps(ufrags) if page is booth else "{}",
                    timeout=60_000,
                    polling=200,
                )
                await video_frames_advancing(page, "#remote", min_frames=25, timeout=30)
            recovered_s = time.monotonic() - restarted
            (pair,) = await booth.evaluate(SELECTED_PAIRS)
            assert pair["local"]["type"] == "relay", pair
            print(f"Chromium relay: video again {recovered_s:.1f} s after coturn restarted")


# --- aiortc: the Python call client and the document camera through the relay -------------


def ice_of(pc: Any) -> Any:
    """Return the aioice Connection behind an aiortc peer connection (bundled: one)."""
    (transceiver, *_) = pc.getTransceivers()
    return transceiver.sender.transport.transport


def relay_facts(pc: Any) -> tuple[set[str], str | None]:
    """Return the types of a peer connection's local candidates and its selected local one."""
    ice = ice_of(pc)
    types = {c.type for c in ice.iceGatherer.getLocalCandidates()}
    nominated = ice._connection._nominated.get(1)  # aioice: the selected pair of component 1
    return types, nominated.local_candidate.type if nominated else None


@pytest.fixture
def trust_test_ca(coturn: CoturnServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this process's default TLS contexts trust the test CA (aiortc offers no other way)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(coturn.pki.ca_cert))


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_aiortc_calls_through_the_relay(
    coturn: CoturnServer, transport: str, trust_test_ca: None
) -> None:
    async with relay_node(coturn, coturn.url(transport)) as node:
        booth = await booth_client(node.base_url)
        expert = await staff_client(node.base_url, "kela.expert")
        try:
            started = time.monotonic()
            _, booth_call, expert_call = await start_call(booth, expert)
            media_s = time.monotonic() - started
            try:
                for call in (booth_call, expert_call):
                    (pc,) = call.peers.values()
                    types, selected = relay_facts(pc)
                    assert (types, selected) == ({"relay"}, "relay")
                print(f"aiortc relay over {transport}: media both ways {media_s:.2f} s")
            finally:
                await booth_call.close()
                await expert_call.close()
        finally:
            await booth.close()
            await expert.close()
    if transport == "tls":
        assert "cipher=" in coturn.log_text()


@pytest.mark.timeout(150)
async def test_aiortc_calls_recover_when_coturn_restarts(tmp_path: Path) -> None:
    # A restart loses every allocation (and the TCP connections to coturn); aioice never
    # re-allocates. ~30-35 s later the relayed pair fails its consent checks, aiortc
    # closes the connection itself, and Call repairs it with a new offer, which
    # allocates afresh.
    transport = "udp"
    with CoturnServer(tmp_path) as server:
        async with relay_node(server, server.url(transport)) as node:
            booth = await booth_client(node.base_url)
            expert = await staff_client(node.base_url, "kela.expert")
            try:
                _, booth_call, expert_call = await start_call(booth, expert)
                try:
                    before = frames(expert_call)
                    await asyncio.to_thread(server.restart)
                    restarted = time.monotonic()
                    await eventually(
                        lambda: (
                            frames(expert_call) > before + 50
                            and all(
                                pc.connectionState == "connected"
                                for call in (booth_call, expert_call)
                                for pc in call.peers.values()
                            )
                        ),
                        timeout=75,
                        interval=0.2,
                        message="video again after coturn restarted",
                    )
                    recovered_s = time.monotonic() - restarted
                    for call in (booth_call, expert_call):
                        (pc,) = call.peers.values()
                        assert relay_facts(pc) == ({"relay"}, "relay")
                    print(f"aiortc over {transport}: media again {recovered_s:.1f} s after restart")
                finally:
                    await booth_call.close()
                    await expert_call.close()
            finally:
                await booth.close()
                await expert.close()


async def relay_candidates(configuration: Any) -> list[str]:
    """Gather with aiortc and return the types of the local candidates."""
    pc = RTCPeerConnection(configuration)
    try:
        pc.createDataChannel("probe")
        await pc.setLocalDescription(await pc.createOffer())
        gatherer = pc.sctp.transport.transport.iceGatherer
        return [c.type for c in gatherer.getLocalCandidates()]
    finally:
        await pc.close()


async def test_aiortc_behind_a_web_only_firewall_must_be_told_to_use_turns(
    coturn: CoturnServer, trust_test_ca: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # UDP 3478 blocked: nothing answers the turn:…udp URL. aiortc takes one TURN URL and
    # never falls back, so by default (UDP first) it has no candidate at all; told
    # ETAPISTE_TURN_TRANSPORT=tls it relays through TURNS.
    blocked = f"turn:{HOST}:{free_port()}?transport=udp"
    async with relay_node(coturn, blocked, coturn.turns) as node:
        booth = await booth_client(node.base_url)
        try:
            monkeypatch.delenv("ETAPISTE_TURN_TRANSPORT", raising=False)
            started = time.monotonic()
            assert await relay_candidates(rtc_configuration(booth.welcome)) == []
            print(f"aiortc gave up on the blocked UDP URL after {time.monotonic() - started:.1f} s")
            monkeypatch.setenv("ETAPISTE_TURN_TRANSPORT", "tls")
            assert await relay_candidates(rtc_configuration(booth.welcome)) == ["relay"]
        finally:
            await booth.close()


@pytest.fixture(scope="module")
def small_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated 1280x960 picture of a page on a desk, the fake document camera."""
    path = tmp_path_factory.mktemp("doccam-turn") / "page.png"
    cv2.imwrite(str(path), sample_frame((1280, 960)).image)
    return path


@asynccontextmanager
async def doccam_on_a_relay(
    server: CoturnServer, url: str, page: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[DoccamService, DoccamViewer, float]]:
    """A call whose booth's document camera publishes through ``url`` to the expert.

    Yields the camera, the expert's viewer (with preview frames coming) and how long the
    first ten frames took.
    """
    async with relay_node(server, url) as node:
        booth = await booth_client(node.base_url)
        expert = await staff_client(node.base_url, "kela.expert")
        await expert.request({"type": "set_availability", "status": "available"})
        queued = await booth.request({"type": "call_request", **KELA}, expect=CallQueued)
        session_id = queued.session.session_id
        await expert.wait_for(Offer)
        await expert.request({"type": "offer_accept", "session_id": session_id})

        async def token() -> str:
            return await device_token(
                node.base_url, "lib-kitee", DEMO_SECRETS["lib-kitee"], "doccam"
            )

        service = DoccamService(CaptureSettings(fake=page, fps=10), node.ws_url, token)
        # The expert's side relays too, as the console's browser does under relay_only:
        # this machine's own addresses are private, and coturn rightly refuses them as
        # peers (only 127.0.0.1, the relay addresses, is allowed here).
        monkeypatch.setattr(
            doccam_viewer,
            "RTCPeerConnection",
            lambda: RTCPeerConnection(rtc_configuration(expert.welcome)),
        )
        viewer = DoccamViewer(expert, session_id)
        viewer.start()
        try:
            started = time.monotonic()
            await service.set_call(session_id)
            await booth.wait_for(
                SessionUpdate, lambda u: any(p.kind == "doccam" for p in u.session.participants)
            )
            await viewer.wait(lambda: viewer.preview_frames >= 10, timeout=30)
            yield service, viewer, time.monotonic() - started
        finally:
            await viewer.close()
            await service.close()
            await booth.close()
            await expert.close()


def published_pc(service: DoccamService) -> RTCPeerConnection | None:
    """The camera's one peer connection (to the expert), if it has one now."""
    viewers = list(service.link._viewers.values()) if service.link is not None else []
    return viewers[0].pc if len(viewers) == 1 else None


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_document_camera_publishes_through_the_relay(
    coturn: CoturnServer,
    transport: str,
    small_page: Path,
    trust_test_ca: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = coturn.url(transport)
    async with doccam_on_a_relay(coturn, url, small_page, monkeypatch) as (service, viewer, s):
        await viewer.wait(lambda: viewer.of_type("hello"))
        assert relay_facts(published_pc(service)) == ({"relay"}, "relay")
        print(f"document camera relay over {transport}: preview {s:.2f} s")


@pytest.mark.timeout(150)
async def test_the_document_camera_repairs_its_relay_when_coturn_restarts(
    tmp_path: Path, small_page: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As for the aiortc call: consent gives up ~30 s after the allocation is lost, aiortc
    # closes the connection, and the camera (the side that offers) offers afresh.
    with CoturnServer(tmp_path) as server:
        async with doccam_on_a_relay(server, server.turn_udp, small_page, monkeypatch) as (
            service,
            viewer,
            _,
        ):
            cut = published_pc(service)
            await asyncio.to_thread(server.restart)
            restarted = time.monotonic()
            before = viewer.preview_frames

            def repaired() -> bool:
                pc = published_pc(service)
                return (
                    pc is not None
                    and pc is not cut
                    and pc.connectionState == "connected"
                    and viewer.preview_frames >= before + 50
                )

            await eventually(
                repaired, timeout=75, interval=0.2, message="preview again after coturn restarted"
            )
            recovered_s = time.monotonic() - restarted
            assert relay_facts(published_pc(service)) == ({"relay"}, "relay")
            print(f"document camera: preview again {recovered_s:.1f} s after coturn restarted")
