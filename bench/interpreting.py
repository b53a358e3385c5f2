"""``etapiste bench interpreting``: how fast an interpreter request rings, and how fast an
accepting interpreter's video reaches the booth.

1. **Ring**: an in-process node (memory store) with 100 interpreters registered and on
   duty (60 Arabic, 20 Finnish Sign Language, 20 speech-to-text) and 20 Kela calls in
   progress; the 20 experts ask for an Arabic interpreter at the same moment. Timed: from
   each ``interpreter_request`` sent to each ``interpreter_offer`` received (every one of
   the 60 interpreters is rung for every request), and to the first ring of each request.
2. **Media**: three pages in the system Chromium (booth, expert, interpreter; fake camera
   and microphone) on loopback; the expert asks, the interpreter accepts. Timed: from the
   accept sent to the first frame of the interpreter's video shown on the booth's page.
3. **Baseline**, in the same run: a bare signaling round trip (``ping`` → ``pong``) on
   the same node and connections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

import browser_client
from signaling.client import SignalingClient
from signaling.directory import DEMO_CONFIG, Directory, load_directory
from signaling.http import NODE
from signaling.identity import Principal
from signaling.protocol import Ack, CallQueued, InterpreterOffer, Offer, Pong
from signaling.server import create_app
from signaling.store import MemoryStore

from .doccam_console import ARGS, CHROMIUM, until
from .doccam_still import serve
from .signaling import ratio, summary_ms

Json = dict[str, Any]
PAGES = Path(__file__).parent / "pages"
KELA = {"type": "call_request", "agency": "kela", "service": "general", "language": "fi"}
ARABIC = {"language": "ar", "modality": "spoken"}
# The demo password hash ("demo"); the bench mints tokens and never logs in.
HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$W4D+/6MZYkh8ftmzTxtx1w"
    "$rfmaf9/uSNCdGaemkmY1+X7xSk3tTgXFWx0b/uGdAo0"
)
RING_AIM_MS = 100.0
MEDIA_AIM_MS = 2000.0


def bench_directory(folder: Path, calls: int, interpreters: int) -> Directory:
    """The demo directory with ``calls`` sites and experts and ``interpreters`` more
    interpreters (60 % Arabic, 20 % sign, 20 % text), and no preferred list."""
    text = DEMO_CONFIG.read_text().replace('preferred_interpreters = ["tulkki.ar"]', "")
    extra = []
    for n in range(calls):
        extra.append(
            f'[[sites]]\nid = "bench-{n}"\nkind = "S"\n'
            f'name = {{ fi = "Bench {n}", sv = "Bench {n}", en = "Bench {n}" }}\n'
            f'municipality = "Kitee"\nregion = "Pohjois-Karjala"\n'
            f'device_secret = "bench-secret-{n}"\n'
        )
        extra.append(
            f'[[staff]]\nusername = "bench.expert.{n}"\ndisplay_name = "Expert {n}"\n'
            f"password_hash = '{HASH}'\n[staff.expert]\nagencies = [\"kela\"]\n"
            'languages = ["fi"]\n'
        )
    for n in range(interpreters):
        share = n / interpreters
        languages, modality = (
            ('["ar", "fi"]', "spoken")
            if share < 0.6
            else ('["fse", "fi"]', "sign")
            if share < 0.8
            else ('["fi"]', "text")
        )
        extra.append(
            f'[[staff]]\nusername = "bench.tulkki.{n}"\ndisplay_name = "Tulkki {n}"\n'
            f"password_hash = '{HASH}'\n[staff.interpreter]\nlanguages = {languages}\n"
            f'modalities = ["{modality}"]\nprovider = "demo-tulkkaus"\n'
        )
    path = folder / "bench-directory.toml"
    path.write_text(text + "\n" + "\n".join(extra))
    return load_directory(path)


class Bench:
    """The node under test and the clients the bench made."""

    def __init__(self, app: web.Application, base_url: str) -> None:
        self.node = app[NODE]
        self.ws_url = base_url.replace("http", "ws", 1) + "/ws"
        self.clients: list[SignalingClient] = []

    def token(self, principal: Principal) -> str:
        return self.node.authority.issue(principal)[0]

    def staff_token(self, username: str) -> str:
        account = self.node.directory.account(username)
        assert account is not None
        principal = Principal(
            kind="staff",
            subject=f"staff:{username}",
            roles=tuple(account.roles()),
            username=username,
        )
        return self.token(principal)

    def booth_token(self, site: str) -> str:
        return self.token(
            Principal(kind="booth", subject=f"site:{site}", roles=("booth",), site=site)
        )

    async def connect(self, token: str) -> SignalingClient:
        client = SignalingClient(self.ws_url, token)
        await client.connect()
        self.clients.append(client)
        return client

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.clients), return_exceptions=True)


async def measure_rings(
    bench: Bench, calls: int, interpreters: int
) -> tuple[list[float], list[float], list[float], int]:
    """Return ring latencies (every ring, first ring per request), ping round trips, and
    how many interpreters each request rang."""
    arrivals: dict[str, list[float]] = {}
    session_of_request: dict[str, str] = {}

    def listener(message: Any) -> None:
        if isinstance(message, InterpreterOffer):
            arrivals.setdefault(message.session_id, []).append(time.perf_counter())
            session_of_request[message.request_id] = message.session_id

    interps = []
    for n in range(interpreters):
        client = await bench.connect(bench.staff_token(f"bench.tulkki.{n}"))
        client.add_listener(listener)
        await client.request({"type": "set_availability", "status": "available"}, expect=Ack)
        interps.append(client)
    experts, sessions = [], []
    for n in range(calls):
        expert = await bench.connect(bench.staff_token(f"bench.expert.{n}"))
        await expert.request({"type": "set_availability", "status": "available"}, expect=Ack)
        booth = await bench.connect(bench.booth_token(f"bench-{n}"))
        queued = await booth.request(KELA, expect=CallQueued)
        sid = queued.session.session_id
        # The other experts are in their calls: this one is rung.
        await expert.wait_for(Offer, _for_session(sid))
        await expert.request({"type": "offer_accept", "session_id": sid}, expect=Ack)
        experts.append(expert)
        sessions.append(sid)
    await asyncio.sleep(0.5)  # let the joins' updates settle

    sent: dict[str, float] = {}

    async def ask(expert: SignalingClient, sid: str) -> None:
        sent[sid] = time.perf_counter()
        await expert.request({"type": "interpreter_request", "session_id": sid, **ARABIC})

    await asyncio.gather(*(ask(e, s) for e, s in zip(experts, sessions, strict=True)))
    expected = calls * round(interpreters * 0.6)
    deadline = time.monotonic() + 30
    while sum(len(v) for v in arrivals.values()) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    every = [t - sent[sid] for sid, times in arrivals.items() for t in times]
    first = [min(times) - sent[sid] for sid, times in arrivals.items()]
    rung = max((len(v) for v in arrivals.values()), default=0)
    for expert, sid in zip(experts, sessions, strict=True):
        await expert.request({"type": "interpreter_cancel", "session_id": sid}, expect=Ack)
        await expert.request(
            {"type": "session_end", "session_id": sid, "outcome": "resolved"}, expect=Ack
        )
    # Spread over every connection: each may send 20 messages a second (bursts of 60).
    pings = []
    for n in range(min(200, 10 * len(bench.clients))):
        client = bench.clients[n % len(bench.clients)]
        started = time.perf_counter()
        await client.request({"type": "ping"}, expect=Pong)
        pings.append(time.perf_counter() - started)
    return every, first, pings, rung


def _for_session(session_id: str) -> Any:
    """Return a predicate for an offer of one session."""
    return lambda offer: offer.session_id == session_id


async def measure_media(bench: Bench, base_url: str, rounds: int) -> list[float]:
    """Milliseconds from an interpreter's accept to its first frame on the booth's page."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        try:
            pages = {}
            for role in ("booth", "expert", "interpreter"):
                page = await browser.new_page()
                await page.goto(base_url + "/bench/interpreting.html")
                await until(page, "window.benchReady === true")
                pages[role] = page
            tokens = {
                "booth": bench.booth_token("lib-kitee"),
                "expert": bench.staff_token("kela.expert"),
                "interpreter": bench.staff_token("tulkki.ar"),
            }
            for role, page in pages.items():
                await page.evaluate(
                    "([url, token]) => bench.connect(url, token)", [bench.ws_url, tokens[role]]
                )
            await pages["expert"].evaluate("bench.takesCalls = true")
            for role in ("expert", "interpreter"):
                await pages[role].evaluate(
                    "bench.request({type: 'set_availability', status: 'available'})"
                )
            reply = await pages["booth"].evaluate("(m) => bench.request(m)", KELA)
            sid = reply["session"]["session_id"]
            await until(pages["booth"], "Object.keys(bench.firstFrames).length >= 1")
            times = []
            for n in range(rounds):
                await pages["expert"].evaluate(
                    "(m) => bench.request(m)",
                    {"type": "interpreter_request", "session_id": sid, **ARABIC},
                )
                await until(pages["interpreter"], f"bench.offers.length >= {n + 1}")
                accepted = await pages["interpreter"].evaluate("bench.acceptNewest()")
                shown = "Object.values(bench.firstFrames).filter((f) => f.kind === 'interpreter')"
                await until(pages["booth"], f"{shown}.length >= {n + 1}", 30)
                frames = await pages["booth"].evaluate(shown)
                latest = max(frame["at"] for frame in frames)
                times.append(latest - accepted)
                await pages["interpreter"].evaluate("(sid) => bench.leave(sid)", sid)
                await asyncio.sleep(1.0)  # the others close that pair before the next join
            return times
        finally:
            await browser.close()


async def run(args: argparse.Namespace) -> Json:
    """Run every part on one node and return the JSON object."""
    with tempfile.TemporaryDirectory() as folder:
        directory = bench_directory(Path(folder), args.calls, args.interpreters)
    app = create_app(directory, MemoryStore(), "bench-node", client_dir=browser_client.DIRECTORY)
    app.router.add_static("/bench/", PAGES)
    runner, base_url = await serve(app)
    bench = Bench(app, base_url)
    errors: list[str] = []
    try:
        every, first, pings, rung = await measure_rings(bench, args.calls, args.interpreters)
        media: list[float] = []
        if args.media_rounds:
            try:
                media = await measure_media(bench, base_url, args.media_rounds)
            except Exception as exc:  # a missing Chromium must show, not stop the ring figures
                errors.append(f"media: {type(exc).__name__}: {exc}")
    finally:
        await bench.close()
        await runner.cleanup()
    ring = summary_ms(every)
    first_ring = summary_ms(first)
    baseline = summary_ms(pings)
    accept_to_media = summary_ms([ms / 1000 for ms in media])
    return {
        "bench": "interpreting",
        "results": {
            "request_to_ring_ms": ring,
            "request_to_first_ring_ms": first_ring,
            "rings_per_request": rung,
            "accept_to_media_ms": accept_to_media,
        },
        "baseline": {"signaling_round_trip_ms": baseline},
        "ratios": {
            "ring_p50_over_round_trip_p50": ratio(ring.get("p50"), baseline.get("p50")),
            "ring_p99_over_round_trip_p99": ratio(ring.get("p99"), baseline.get("p99")),
        },
        "aims": {
            "ring_p50_under_100_ms": ring.get("p50", float("inf")) < RING_AIM_MS,
            "media_within_2_s_of_accept": bool(media)
            and accept_to_media.get("max", float("inf")) <= MEDIA_AIM_MS,
        },
        "params": {
            "interpreters": args.interpreters,
            "concurrent_requests": args.calls,
            "media_rounds": args.media_rounds,
        },
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "errors": errors,
    }


def main(argv: Sequence[str]) -> int:
    """Parse the options, run, print one JSON object."""
    parser = argparse.ArgumentParser(prog="etapiste bench interpreting")
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    parser.add_argument("--interpreters", type=int, default=100)
    parser.add_argument("--calls", type=int, default=20, help="concurrent requests")
    parser.add_argument("--media-rounds", type=int, default=5, help="0: skip Chromium")
    parser.add_argument("--quick", action="store_true", help="10 interpreters, 2 requests, 1 round")
    args = parser.parse_args(argv)
    if args.quick:
        args.interpreters, args.calls, args.media_rounds = 10, 2, 1
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=None if args.json else 2))
    return 0 if not result["errors"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
