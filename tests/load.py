"""Protocol-only booths and experts for load tests, and a ledger of what each one saw.

Booths request calls in a loop; experts accept most offers, decline some and let a few
ring out, and end accepted calls after a short hold. Every push is recorded by a
listener in the order it arrived on its socket, so the ledger can tell afterwards
whether an offer was lost, duplicated or left open, and a watchdog notices a call that
waits while an expert who could take it sits idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import tomllib
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.signaling import dump_toml, percentile
from signaling.client import SignalingClient, SignalingError, device_token, login
from signaling.directory import RoutingSettings, load_directory
from signaling.protocol import (
    Availability,
    CallQueued,
    Offer,
    OfferWithdrawn,
    ServerMessage,
    SessionEnded,
    SessionUpdate,
)
from tests.support import demo_data

REQUEST_TIMEOUT_S = 20.0

# (agency, service, language, share of the calls); the shares follow the experts' numbers.
QUEUES: list[tuple[str, str, str, float]] = [
    ("kela", "general", "fi", 0.25),
    ("kela", "housing", "sv", 0.15),
    ("kela", "family", "en", 0.10),
    ("vero", "tax-card", "fi", 0.20),
    ("vero", "tax-return", "sv", 0.12),
    ("migri", "residence-permit", "en", 0.10),
    ("migri", "citizenship", "fi", 0.08),
]

# How many experts serve which agencies (the multi-agency ones make queues compete).
EXPERT_MIX: list[tuple[list[str], int]] = [
    (["kela"], 22),
    (["vero"], 12),
    (["migri"], 8),
    (["kela", "vero"], 5),
    (["vero", "migri"], 3),
]

MUNICIPALITIES = [
    ("Kitee", "Pohjois-Karjala"),
    ("Lieksa", "Pohjois-Karjala"),
    ("Kemijärvi", "Lappi"),
    ("Kaskinen", "Pohjanmaa"),
    ("Utsjoki", "Lappi"),
    ("Kuhmo", "Kainuu"),
]


# --- the directory ------------------------------------------------------------------------


def site_id(i: int) -> str:
    return f"load-{i:03d}"


def site_secret(i: int) -> str:
    return f"load-secret-{i:03d}"


def expert_plan(count: int) -> dict[str, list[str]]:
    """Return ``count`` expert usernames and their agencies, spread as EXPERT_MIX."""
    agencies = [group for group, n in EXPERT_MIX for _ in range(n)]
    return {f"load.expert.{i:02d}": agencies[i % len(agencies)] for i in range(count)}


def write_directory(
    path: Path, booths: int, experts: dict[str, list[str]], **sections: dict[str, Any]
) -> Path:
    """Write the demo directory with ``booths`` sites, the experts and changed settings
    (``routing={...}``, ``limits={...}``)."""
    data = demo_data()
    for i in range(booths):
        municipality, region = MUNICIPALITIES[i % len(MUNICIPALITIES)]
        data["sites"].append(
            {
                "id": site_id(i),
                "kind": "XS" if i % 5 == 4 else "S",
                "name": {"fi": f"Kuormapiste {i}", "sv": f"Lastpunkt {i}", "en": f"Load {i}"},
                "municipality": municipality,
                "region": region,
                "device_secret": site_secret(i),
            }
        )
    template = next(a for a in data["staff"] if a["username"] == "kela.expert")
    for username, agencies in experts.items():
        data["staff"].append(
            {
                "username": username,
                "display_name": username,
                "password_hash": template["password_hash"],
                "expert": {"agencies": agencies, "languages": ["fi", "sv", "en"]},
            }
        )
    routing = sections.setdefault("routing", {})
    # Experts get a wrap-up pause after each call where the server has one; with 0 they
    # are available at once, so idle experts and waiting calls can be compared directly.
    if "wrap_up_s" in RoutingSettings.model_fields:
        routing.setdefault("wrap_up_s", 0)
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    text = dump_toml(data)
    assert tomllib.loads(text) == data, "the TOML writer did not round-trip the directory"
    path.write_text(text, encoding="utf-8")
    load_directory(path)  # the server must accept it: fail here with the reason if not
    return path


# --- what was seen ------------------------------------------------------------------------


@dataclass
class OfferSeen:
    """One offer as its expert saw it, from arrival to whatever closed it."""

    session_id: str
    expert: str
    received: float
    action: str = ""  # accept, decline, ignore
    closed: float | None = None
    how: str | None = None  # accepted, declined, timeout, cancelled
    accept_refused: bool = False  # the accept lost to a ring-out or a cancel


@dataclass
class CallSeen:
    """One call as its booth (and the experts) saw it."""

    session_id: str
    booth: str
    queue: str
    requested: float
    state: str = "queued"
    waiting_since: float | None = None  # while the booth sees it queued
    offered_updates: int = 0  # session_update "offered" pushes to the booth
    cancel_sent: bool = False
    cancelled: bool = False  # the cancel was acknowledged
    ended: SessionEnded | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Ledger:
    """Everything the load's clients saw, and the problems noticed on the way."""

    def __init__(self) -> None:
        self.calls: dict[str, CallSeen] = {}
        self.offers: list[OfferSeen] = []
        # By session: an expert may see an offer before the booth has read its call_queued.
        self.offers_of: dict[str, list[OfferSeen]] = {}
        self.accepted_by: dict[str, list[str]] = {}
        # (new session, the offer still ringing at the same expert, when): see check_ledger.
        self.overlaps: list[tuple[str, OfferSeen, float]] = []
        self.problems: list[str] = []
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()

    def problem(self, text: str) -> None:
        self.problems.append(f"{time.monotonic() - self.started:7.2f}s {text}")

    def add_offer(self, seen: OfferSeen) -> None:
        self.offers.append(seen)
        self.offers_of.setdefault(seen.session_id, []).append(seen)

    def summary(self) -> dict[str, Any]:
        """The measured numbers (for the report, not for pass/fail)."""
        first_offer, answered = [], []
        for call in self.calls.values():
            offers = self.offers_of.get(call.session_id, [])
            if offers:
                first_offer.append(min(o.received for o in offers) - call.requested)
            answered += [o.received - call.requested for o in offers if o.how == "accepted"]
        hows = Counter(o.how for o in self.offers)
        actions = Counter(o.action for o in self.offers)
        return {
            "calls": len(self.calls),
            "ended": sum(1 for c in self.calls.values() if c.ended and c.ended.state == "ended"),
            "cancelled": sum(1 for c in self.calls.values() if c.cancelled),
            "offers": len(self.offers),
            "accepted": hows["accepted"],
            "declined": hows["declined"],
            "timed_out": hows["timeout"],
            "withdrawn_cancelled": hows["cancelled"],
            "ignored": actions["ignore"],
            **dict(self.counts),
            "request_to_offer_ms": ms_summary(first_offer),
            "request_to_answered_offer_ms": ms_summary(answered),
        }


def ms_summary(seconds: Sequence[float]) -> dict[str, float | int]:
    values = sorted(s * 1000 for s in seconds)
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "max": round(values[-1], 1),
    }


async def request(
    client: SignalingClient, message: dict[str, Any], ledger: Ledger, who: str
) -> ServerMessage:
    """Send a request and return its reply; an ``internal`` error is noted as a problem
    (and raised: it may have changed state part-way, so it is not simply retried)."""
    try:
        reply: ServerMessage = await client.request(message, timeout=REQUEST_TIMEOUT_S)
    except SignalingError as exc:
        if exc.code == "internal":
            ledger.problem(f"{who} {message['type']}: {exc}")
        raise
    return reply


# --- experts --------------------------------------------------------------------------------


class LoadExpert:
    """An expert who accepts most offers, declines some and lets a few ring out."""

    def __init__(
        self,
        username: str,
        agencies: list[str],
        client: SignalingClient,
        ledger: Ledger,
        rng: random.Random,
        *,
        decline_share: float,
        ignore_share: float,
        hold_s: tuple[float, float],
    ) -> None:
        self.username = username
        self.agencies = agencies
        self.client = client
        self.ledger = ledger
        self.rng = rng
        self.decline_share = decline_share
        self.ignore_share = ignore_share
        self.hold_s = hold_s
        self.open: dict[str, OfferSeen] = {}  # offers ringing now (one at most)
        self.in_call: str | None = None
        self.available = False
        self.idle_since = time.monotonic()
        self.closed_hows: list[str] = []  # how each of this expert's offers closed
        self.in_flight = 0  # requests sent and not yet answered
        self.ignored_last = False
        self.inbox: asyncio.Queue[ServerMessage] = asyncio.Queue()
        client.add_listener(self.on_push)

    @property
    def idle(self) -> bool:
        """Free for an offer, with nothing of ours still being handled by the server."""
        return self.available and not self.open and self.in_call is None and not self.in_flight

    async def request(self, message: dict[str, Any]) -> None:
        """Send a request and wait for its ``ack``.

        The server routes the next call to a freed expert before it acknowledges the
        request that freed them (decline, session_end), so idle time counts from the ack.
        """
        self.in_flight += 1
        try:
            await request(self.client, message, self.ledger, self.username)
        finally:
            self.in_flight -= 1
            self.idle_since = max(self.idle_since, time.monotonic())

    def on_push(self, message: ServerMessage) -> None:
        """Follow this expert's offers and calls in the order the socket delivered them."""
        now = time.monotonic()
        name = self.username
        if isinstance(message, Offer):
            sid = message.session_id
            for ringing in self.open.values():
                # Judged at the end, when it is known how the ringing offer closed.
                self.ledger.overlaps.append((sid, ringing, now - self.ledger.started))
            if self.in_call is not None:
                self.ledger.problem(f"{name} got offer {sid} while in call {self.in_call}")
            if not self.available:
                self.ledger.problem(f"{name} got offer {sid} while not available")
            seen = OfferSeen(sid, name, now)
            self.open[sid] = seen
            self.ledger.add_offer(seen)
            self.inbox.put_nowait(message)
        elif isinstance(message, OfferWithdrawn):
            self._close(message.session_id, message.reason, now)
        elif isinstance(message, SessionUpdate):
            info = message.session
            if info.state in ("connecting", "active") and info.session_id in self.open:
                self._close(info.session_id, "accepted", now)
                self.in_call = info.session_id
            elif info.session_id != self.in_call:
                self.ledger.problem(f"{name} got {info.state} of {info.session_id}, not its call")
        elif isinstance(message, SessionEnded):
            if message.session_id != self.in_call:
                self.ledger.problem(f"{name} got the end of {message.session_id}, not its call")
            else:
                self.in_call = None
                self.idle_since = now
        elif isinstance(message, Availability):
            if message.status == "paused":
                if message.reason == "missed_offers":
                    # The server pauses after two ring-outs in a row: check it counted right.
                    if self.closed_hows[-2:] != ["timeout", "timeout"]:
                        self.ledger.problem(
                            f"{name} paused for missed offers after {self.closed_hows[-3:]}"
                        )
                    self.ledger.counts["paused_for_missed_offers"] += 1
                    self.inbox.put_nowait(message)
                self.available = False
            elif message.status == "available":
                if not self.available:
                    self.idle_since = now
                self.available = True
            else:  # wrap_up: the server makes the expert available again by itself
                self.available = False
        # Anything else (queue_overview, participant, errors without id…) is not ours.

    def _close(self, session_id: str, how: str, now: float) -> None:
        seen = self.open.pop(session_id, None)
        if seen is None:
            self.ledger.problem(f"{self.username}: {how} for {session_id}, which did not ring")
            return
        seen.closed, seen.how = now, how
        self.closed_hows.append(how)
        if how != "accepted":
            self.idle_since = now

    async def go_available(self) -> None:
        await self.request({"type": "set_availability", "status": "available"})
        self.available = True

    async def run(self) -> None:
        """Answer offers until cancelled."""
        await self.go_available()
        while True:
            message = await self.inbox.get()
            if isinstance(message, Availability) and message.reason == "missed_offers":
                await self.go_available()
            elif isinstance(message, Offer):
                await self._answer(message)

    def _choose(self) -> str:
        roll = self.rng.random()
        if roll < self.ignore_share and not self.ignored_last:
            return "ignore"  # never two in a row: that would pause the expert
        if roll < self.ignore_share + self.decline_share:
            return "decline"
        return "accept"

    async def _answer(self, offer: Offer) -> None:
        sid = offer.session_id
        seen = self.open.get(sid)
        if seen is None:
            return  # withdrawn before we got to it (the booth cancelled)
        seen.action = action = self._choose()
        self.ignored_last = action == "ignore"
        if action == "ignore":
            return
        await asyncio.sleep(self.rng.uniform(0.02, 0.25))  # a person reaching for the button
        kind = "offer_accept" if action == "accept" else "offer_decline"
        try:
            await self.request({"type": kind, "session_id": sid})
        except SignalingError as exc:
            # Legitimate only when the offer closed meanwhile (ring-out or cancel); the
            # ledger checks later that a withdrawal for it did arrive.
            if exc.code not in ("conflict", "internal"):  # internal: noted already
                self.ledger.problem(f"{self.username} {kind} {sid}: {exc}")
            seen.accept_refused = action == "accept"
            self.ledger.counts[f"{kind}_refused"] += 1
            return
        if action == "decline":
            return
        self.ledger.accepted_by.setdefault(sid, []).append(self.username)
        await asyncio.sleep(self.rng.uniform(*self.hold_s))
        try:
            await self.request({"type": "session_end", "session_id": sid, "outcome": "resolved"})
        except SignalingError as exc:
            self.ledger.problem(f"{self.username} session_end {sid}: {exc}")


# --- booths ---------------------------------------------------------------------------------


class LoadBooth:
    """A booth that requests calls one after another, cancelling a few while they wait."""

    def __init__(
        self, site: str, client: SignalingClient, ledger: Ledger, rng: random.Random
    ) -> None:
        self.site = site
        self.client = client
        self.ledger = ledger
        self.rng = rng
        self.asking: tuple[str, float] | None = None  # (queue, when) of the request in flight
        client.add_listener(self.on_push)

    def on_push(self, message: ServerMessage) -> None:
        now = time.monotonic()
        if isinstance(message, SessionUpdate):
            call = self._mine(message.session.session_id)
            if call is None:
                return
            call.state = message.session.state
            call.waiting_since = now if call.state == "queued" else None
            if call.state == "offered":
                call.offered_updates += 1
        elif isinstance(message, SessionEnded):
            call = self._mine(message.session_id)
            if call is None:
                return
            if call.ended is not None:
                self.ledger.problem(f"{self.site}: {message.session_id} ended twice")
            call.state, call.ended, call.waiting_since = message.state, message, None
            call.done.set()

    def _mine(self, session_id: str) -> CallSeen | None:
        """Return this booth's call; the first push may come before call_queued is read."""
        call = self.ledger.calls.get(session_id)
        if call is None and self.asking is not None:
            call = self._register(session_id)
        if call is None or call.booth != self.site:
            self.ledger.problem(f"{self.site} got news of {session_id}, not its call")
            return None
        return call

    def _register(self, session_id: str) -> CallSeen:
        assert self.asking is not None
        queue, requested = self.asking
        self.asking = None
        call = CallSeen(session_id, self.site, queue, requested, waiting_since=time.monotonic())
        self.ledger.calls[session_id] = call
        return call

    async def run(
        self, calls: int, think_s: tuple[float, float], cancel_share: float, end_timeout: float
    ) -> None:
        """Request ``calls`` calls one at a time; each must end within ``end_timeout``."""
        queues = [q[:3] for q in QUEUES]
        weights = [q[3] for q in QUEUES]
        for _ in range(calls):
            await asyncio.sleep(self.rng.uniform(*think_s))
            agency, service, language = self.rng.choices(queues, weights)[0]
            self.asking = (f"{agency}/{service}/{language}", time.monotonic())
            call_request = {
                "type": "call_request",
                "agency": agency,
                "service": service,
                "language": language,
            }
            try:
                queued = await request(self.client, call_request, self.ledger, self.site)
            except SignalingError as exc:
                self.ledger.problem(f"{self.site} call_request refused: {exc}")
                return
            assert isinstance(queued, CallQueued), queued
            sid = queued.session.session_id
            call = self.ledger.calls.get(sid) or self._register(sid)
            if self.rng.random() < cancel_share:
                await self._cancel_later(call)
            try:
                await asyncio.wait_for(call.done.wait(), end_timeout)
            except TimeoutError:
                offers = [(o.expert, o.how) for o in self.ledger.offers_of.get(sid, [])]
                self.ledger.problem(
                    f"{self.site}: {sid} ({call.queue}) not over after {end_timeout:g} s, "
                    f'"{call.state}", offers {offers}'
                )
                return

    async def _cancel_later(self, call: CallSeen) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(call.done.wait(), self.rng.uniform(0.0, 2.0))
            return  # over before we cancelled
        if call.state not in ("queued", "offered"):
            return
        call.cancel_sent = True
        try:
            cancel = {"type": "call_cancel", "session_id": call.session_id}
            await request(self.client, cancel, self.ledger, self.site)
            call.cancelled = True
        except SignalingError as exc:
            if exc.code not in ("conflict", "internal"):  # conflict: answered meanwhile
                self.ledger.problem(f"{self.site} cancel {call.session_id}: {exc}")
            self.ledger.counts["cancel_too_late"] += 1


# --- connecting -----------------------------------------------------------------------------


async def connect_booths(
    base_urls: Sequence[str], count: int, ledger: Ledger, seed: int
) -> list[LoadBooth]:
    """Connect ``count`` booths, spread round-robin over the nodes."""
    gate = asyncio.Semaphore(20)

    async def one(i: int) -> LoadBooth:
        base = base_urls[i % len(base_urls)]
        async with gate:
            token = await device_token(base, site_id(i), site_secret(i))
            client = SignalingClient(base.replace("http", "ws", 1) + "/ws", token)
            await client.connect()
        return LoadBooth(site_id(i), client, ledger, random.Random(seed * 1000 + i))

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def connect_experts(
    base_urls: Sequence[str],
    experts: dict[str, list[str]],
    ledger: Ledger,
    seed: int,
    **behaviour: Any,
) -> list[LoadExpert]:
    """Log the experts in (password "demo") and connect them round-robin over the nodes."""
    gate = asyncio.Semaphore(4)  # argon2 on the server: a few at a time

    async def one(i: int, username: str, agencies: list[str]) -> LoadExpert:
        base = base_urls[i % len(base_urls)]
        async with gate:
            token = await login(base, username, "demo")
        client = SignalingClient(base.replace("http", "ws", 1) + "/ws", token)
        await client.connect()
        rng = random.Random(seed * 1000 + 500 + i)
        return LoadExpert(username, agencies, client, ledger, rng, **behaviour)

    return list(await asyncio.gather(*(one(i, u, a) for i, (u, a) in enumerate(experts.items()))))


# --- watching -------------------------------------------------------------------------------


async def watch_for_stalls(
    ledger: Ledger,
    booths: list[LoadBooth],
    experts: list[LoadExpert],
    stall_s: float,
    explain: Callable[[CallSeen, list[LoadExpert]], Awaitable[str]] | None = None,
    interval: float = 0.5,
) -> None:
    """Note every call that has waited ``stall_s`` while a fitting expert sat idle as long;
    ``explain`` may add the server's view of them (read from the store).

    Runs until cancelled; also empties the clients' push buffers, which nobody reads.
    """
    reported: set[str] = set()
    while True:
        await asyncio.sleep(interval)
        now = time.monotonic()
        for client in [b.client for b in booths] + [e.client for e in experts]:
            client.drain_buffer()
        idle_by_agency: dict[str, list[LoadExpert]] = {}
        for expert in experts:
            if expert.idle and now - expert.idle_since >= stall_s:
                for agency in expert.agencies:
                    idle_by_agency.setdefault(agency, []).append(expert)
        for call in list(ledger.calls.values()):
            if call.waiting_since is None or now - call.waiting_since < stall_s:
                continue
            idle = idle_by_agency.get(call.queue.split("/", 1)[0], [])
            if idle and call.session_id not in reported:
                reported.add(call.session_id)
                text = (
                    f"{call.session_id} ({call.queue}) waited {now - call.waiting_since:.1f} s "
                    f"unoffered while {[e.username for e in idle][:5]} sat idle "
                    f"{max(now - e.idle_since for e in idle):.1f} s"
                )
                if explain is not None:
                    text += "; server: " + await explain(call, idle)
                ledger.problem(text)


# --- checking -------------------------------------------------------------------------------


def check_ledger(ledger: Ledger, experts: list[LoadExpert], ring_timeout_s: float) -> list[str]:
    """Return every way in which the calls and offers seen differ from a correct server."""
    problems = list(ledger.problems)
    for sid, ringing, at in ledger.overlaps:
        problems.append(
            f"{at:7.2f}s {ringing.expert} got offer {sid} while {ringing.session_id} rang "
            f"(answer {ringing.action or '-'}, it closed {ringing.how}"
            + (
                f" {ringing.closed - ringing.received:.2f} s after it rang)"
                if ringing.closed
                else ")"
            )
        )
    for sid in ledger.offers_of.keys() - ledger.calls.keys():
        problems.append(f"offers of {sid}, which no booth requested")
    for call in ledger.calls.values():
        sid, ended = call.session_id, call.ended
        offers = ledger.offers_of.get(sid, [])
        accepted = ledger.accepted_by.get(sid, [])
        where = f"{sid} ({call.booth}, {call.queue})"
        if ended is None:
            problems.append(f"{where} never ended; it is {call.state!r}")
        elif call.cancelled:
            if (ended.state, ended.reason) != ("abandoned", "cancelled") or accepted:
                problems.append(f"{where} cancelled but {ended} accepted by {accepted}")
        elif (ended.state, ended.reason, ended.outcome) != ("ended", "expert_ended", "resolved"):
            problems.append(f"{where} ended wrongly: {ended}")
        elif not offers:
            problems.append(f"{where} was answered without an offer")
        if not call.cancelled and len(accepted) != 1:
            problems.append(f"{where} accepted by {accepted}, not by exactly one expert")
        winners = [o.expert for o in offers if o.how == "accepted"]
        if winners != accepted:
            problems.append(f"{where}: offers closed by accepting {winners}, acks {accepted}")
        if call.offered_updates != len(offers):
            problems.append(
                f"{where}: the booth saw {call.offered_updates} offers, experts {len(offers)}"
            )
        for offer in offers:
            expected = {
                "accept": {"accepted", "timeout", "cancelled"},
                "decline": {"declined", "timeout", "cancelled"},
                "ignore": {"timeout", "cancelled"},
                # Closed before the expert's task looked at it: a cancel, or (on a machine
                # starved of CPU) a ring-out — which must still not come early.
                "": {"cancelled", "timeout"},
            }[offer.action]
            if offer.how is None:
                problems.append(f"{where}: the offer to {offer.expert} never closed")
            elif offer.how not in expected:
                problems.append(f"{where}: {offer.expert} chose {offer.action}, got {offer.how}")
            elif offer.how == "timeout" and offer.closed is not None:
                # Both times are when this client read the messages; a late read of the
                # offer can only shorten the span, so allow half of the ring time.
                rang = offer.closed - offer.received
                if rang < 0.5 * ring_timeout_s:
                    problems.append(f"{where}: {offer.expert}'s offer rang out after {rang:.2f} s")
            if offer.accept_refused and offer.how == "accepted":
                problems.append(f"{where}: {offer.expert}'s accept was refused yet it joined")
    for expert in experts:
        if expert.open or expert.in_call:
            problems.append(f"{expert.username} still has {list(expert.open)} / {expert.in_call}")
    return problems


def offer_overlaps(ledger: Ledger) -> list[float]:
    """Seconds by which, as the clients read their sockets, a session's next offer arrived
    before its previous one closed (socket reading order only: for the report)."""
    overlaps = []
    for offers in ledger.offers_of.values():
        ordered = sorted(offers, key=lambda o: o.received)
        for before, after in zip(ordered, ordered[1:], strict=False):
            if before.closed is None or before.closed > after.received:
                overlaps.append((before.closed or float("inf")) - after.received)
    return overlaps


def check_events(events: list[dict[str, Any]], ledger: Ledger) -> tuple[list[str], Counter[str]]:
    """Check the server's event log, session by session, against the calls seen."""
    problems: list[str] = []
    kinds: Counter[str] = Counter(e["kind"] for e in events)
    by_session: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_session.setdefault(event["session_id"], []).append(event)
    for sid, story in by_session.items():
        names = [e["kind"] for e in story]
        if names[:2] != ["session_requested", "session_queued"]:
            problems.append(f"{sid}: events begin {names[:3]}")
        ringing, answered, ends = False, 0, 0
        for event in story:
            kind = event["kind"]
            if kind == "session_offered":
                if ringing:
                    problems.append(f"{sid} offered again while it rang: {names}")
                ringing = True
            elif kind in ("offer_declined", "offer_timed_out", "session_connecting"):
                if not ringing:
                    problems.append(f"{sid}: {kind} without an offer ringing: {names}")
                ringing = False
                answered += kind == "session_connecting"
            elif kind == "session_ended":
                if ringing and event["reason"] != "cancelled":
                    problems.append(f"{sid} ended while ringing: {names}")
                ringing = False
                ends += 1
        if ends != 1 or answered > 1:
            problems.append(f"{sid}: {ends} ends and {answered} answers: {names}")
    hows = Counter(o.how for o in ledger.offers)
    expected = {
        "session_requested": len(ledger.calls),
        "session_ended": len(ledger.calls),
        "session_offered": len(ledger.offers),
        "offer_declined": hows["declined"],
        "offer_timed_out": hows["timeout"],
        "session_connecting": hows["accepted"],
        "participant_joined": hows["accepted"],
    }
    for kind, count in expected.items():
        if kinds[kind] != count:
            problems.append(f"{kinds[kind]} {kind} events, but the clients saw {count}")
    return problems, kinds


async def scrape_metrics(base_url: str) -> dict[str, float]:
    """Return a node's /metrics samples as {'name{labels}': value}."""
    async with aiohttp.ClientSession() as http, http.get(base_url + "/metrics") as response:
        text = await response.text()
        if response.status != 200:
            raise AssertionError(f"{base_url}/metrics: {response.status} {text[:200]}")
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def check_metrics(nodes: list[dict[str, float]], ledger: Ledger) -> list[str]:
    """Check the nodes' counters and gauges against what the clients saw."""
    problems = []

    def total(key: str) -> float:
        return sum(samples.get(key, 0.0) for samples in nodes)

    hows = Counter(o.how for o in ledger.offers)
    sent = total('etapiste_messages_out_total{type="offer"}')
    if sent != len(ledger.offers):
        problems.append(f"the nodes sent {sent:g} offers, the experts got {len(ledger.offers)}")
    withdrawn = total('etapiste_messages_out_total{type="offer_withdrawn"}')
    if withdrawn != hows["declined"] + hows["timeout"] + hows["cancelled"]:
        problems.append(f"the nodes sent {withdrawn:g} offer_withdrawn, experts saw {hows}")
    if total("etapiste_slow_consumers_total"):
        problems.append("a client was closed as a slow consumer")
    for key, value in nodes[0].items():  # the store's gauges: the same on every node
        if key.startswith("etapiste_queue_length{") and value:
            problems.append(f"still waiting at the end: {key} {value:g}")
        if key.startswith("etapiste_sessions{") and value:
            if not any(f'state="{s}"' in key for s in ("ended", "abandoned")):
                problems.append(f"sessions not over at the end: {key} {value:g}")
    return problems
