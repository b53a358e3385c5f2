"""Made-up sessions as the events a node would log: for tests, the demo's history and the
benchmark. Seeded, so the same arguments give the same events."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from time import perf_counter
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from .db import Database

Event = dict[str, Any]


@dataclass(frozen=True)
class Place:
    """Where a call comes from."""

    site: str
    site_kind: str
    municipality: str
    region: str


@dataclass(frozen=True)
class Call:
    """One made-up session: its queue, times and how it went."""

    session_id: str
    place: Place
    agency: str
    service: str
    language: str
    requested_at: float
    wait_s: float  # until answered, or until the citizen gave up (abandoned)
    handling_s: float | None = None  # None: never answered (abandoned)
    outcome: str | None = "resolved"
    feedback: int | None = None
    interpreting: dict[str, str] | None = None  # {"language", "modality"}
    interp_wait_s: float | None = None  # None with interpreting: nobody came
    transfers: int = 0
    quality: dict[str, float] | None = None  # {"rtt_ms", "loss_pct", "fps"}
    end_reason: str | None = None
    node: str = "synth"


def events_of(call: Call) -> list[Event]:
    """The events a node logs for the call, in order (docs/protocol.md §7)."""
    snapshot: dict[str, Any] = {
        "node": call.node,
        "session_id": call.session_id,
        "site": call.place.site,
        "site_kind": call.place.site_kind,
        "municipality": call.place.municipality,
        "region": call.place.region,
        "agency": call.agency,
        "service": call.service,
        "language": call.language,
        "interpreter": call.interpreting,
        "requested_at": call.requested_at,
        "queued_at": call.requested_at,
        "answered_at": None,
        "ended_at": None,
        "participant_kind": None,
        "outcome": None,
        "reason": None,
        "transfers": 0,
        "feedback": None,
        "interpreting": None,
        "interpreter_wait_s": None,
    }
    events: list[Event] = []

    def log(kind: str, at: float, state: str, **changes: Any) -> None:
        snapshot.update(changes)
        event = {**snapshot, "event_id": uuid.UUID(int=_id(call, len(events))).hex}
        event.update(kind=kind, at=at, state=state)
        event.setdefault("participant_kind", None)
        events.append(event)
        snapshot.update(participant_kind=None, reason=None, interpreting=None)
        snapshot["interpreter_wait_s"] = None

    start = call.requested_at
    log("session_requested", start, "requested")
    log("session_queued", start, "queued")
    answered = start + call.wait_s
    if call.handling_s is None:
        reason = call.end_reason or "cancelled"
        log("session_ended", answered, "abandoned", ended_at=answered, reason=reason)
        return events
    log("session_offered", answered - 0.5, "offered")
    log("session_connecting", answered, "connecting", answered_at=answered)
    log("participant_joined", answered, "connecting", participant_kind="expert")
    log("session_active", answered + 1.0, "active")
    if call.interpreting is not None:
        asked = answered + 2.0
        log("interpreter_requested", asked, "active", interpreting=call.interpreting)
        if call.interp_wait_s is not None:
            log(
                "participant_joined",
                asked + call.interp_wait_s,
                "active",
                participant_kind="interpreter",
                interpreting=call.interpreting,
                interpreter_wait_s=call.interp_wait_s,
            )
        else:
            log("interpreter_unanswered", asked + 90.0, "active", interpreting=call.interpreting)
    for _ in range(call.transfers):
        snapshot["transfers"] += 1
    end = answered + call.handling_s
    if call.transfers:
        log("session_transferred", answered + call.handling_s / 2, "queued", reason="transfer")
    reason = call.end_reason or "expert_ended"
    state = "failed" if reason == "failed" else "ended"
    ended: dict[str, Any] = {"ended_at": end, "outcome": call.outcome, "reason": reason}
    if call.quality is not None:
        ended["quality"] = call.quality
    log("session_ended", end, state, **ended)
    snapshot.pop("quality", None)
    if call.feedback is not None:
        log("feedback_given", end + 5.0, state, feedback=call.feedback)
    return events


def _id(call: Call, index: int) -> int:
    """A stable event id: the session's own number and the event's place in it."""
    return (uuid.uuid5(uuid.NAMESPACE_URL, call.session_id).int + index) % (1 << 128)


# --- a history with the real skew ------------------------------------------------------

# How often each agency is called, relative to the others (Kela and Vero take most of
# the calls at service points; the rest are rare). Agencies not named here: RARE.
AGENCY_WEIGHTS = {
    "kela": 34.0,
    "vero": 24.0,
    "migri": 8.0,
    "te": 8.0,
    "dvv": 5.0,
    "poliisi": 5.0,
    "kitee": 3.0,
    "siunsote": 3.0,
    "mml": 1.5,
    "oikeusapu": 1.5,
    "avi": 0.6,
    "ely": 0.5,
}
RARE = 0.2
# Service points are staffed in office hours: calls by local hour, and by weekday
# (Monday busiest; Saturday and Sunday only where the agency is open then).
HOUR_WEIGHTS = {8: 0.5, 9: 1.0, 10: 1.4, 11: 1.3, 12: 1.0, 13: 1.2, 14: 1.1, 15: 0.8, 16: 0.4}
HOUR_WEIGHTS |= {17: 0.2}
WEEKDAY_WEIGHTS = (1.3, 1.1, 1.0, 1.0, 0.8, 0.12, 0.03)
# July is the holiday month; Vero's spring is the tax return season.
MONTH_WEIGHTS = (1.1, 1.05, 1.0, 1.0, 1.0, 0.95, 0.55, 0.85, 1.05, 1.05, 1.0, 0.85)
SEASONS = {"vero": {4: 1.8, 5: 1.6}}
SITE_KIND_WEIGHTS = {"S": 1.0, "XS": 0.35}  # a bus stops at a place a few days a week
ABANDON = 0.035
FAILED = 0.004
TRANSFERRED = 0.02
FEEDBACK = 0.3
FEEDBACK_SCORES = ((5, 45), (4, 33), (3, 12), (2, 5), (1, 5))
INTERPRETING = 0.04
# (modality, language, weight, fill rate)
INTERPRETERS = (
    ("spoken", "ar", 30, 0.9),
    ("spoken", "so", 22, 0.8),
    ("spoken", "ru", 20, 0.92),
    ("spoken", "uk", 16, 0.9),
    ("sign", "fse", 7, 0.7),
    ("text", "fi", 5, 0.95),
)


@dataclass
class _Plan:
    """One agency's services, languages and open hours, ready for drawing."""

    agency: str
    weight: float
    services: list[tuple[str, tuple[str, ...]]]
    service_weights: list[float]
    hours: Any  # signaling.directory.OpeningHours
    hour_cache: dict[tuple[tuple[int, int], ...], tuple[list[int], list[float]]]

    def hours_on(self, day: date) -> tuple[list[int], list[float]]:
        """The local hours (as minutes from midnight) a call may start on ``day``, weighted
        by office hours and the minutes the agency is open within each."""
        spans = tuple(self.hours.spans(day))
        found = self.hour_cache.get(spans)
        if found is None:
            starts: list[int] = []
            weights: list[float] = []
            for hour, weight in HOUR_WEIGHTS.items():
                lo, hi = hour * 60, hour * 60 + 60
                open_minutes = sum(max(0, min(hi, b) - max(lo, a)) for a, b in spans)
                if open_minutes:
                    starts.append(lo)
                    weights.append(weight * open_minutes / 60)
            found = self.hour_cache[spans] = (starts, weights)
        return found


def _plans(directory: Any) -> list[_Plan]:
    plans = []
    for agency in directory.agencies:
        services = [
            (service.id, tuple(service.languages or agency.languages))
            for service in agency.services
        ]
        plans.append(
            _Plan(
                agency=agency.id,
                weight=AGENCY_WEIGHTS.get(agency.id, RARE),
                services=services,
                # The first service listed is the agency's main one.
                service_weights=[1.0 / (i + 1) for i in range(len(services))],
                hours=agency.hours,
                hour_cache={},
            )
        )
    return plans


def generate(
    count: int, seed: int, start: date, days: int, directory: Any = None
) -> Iterator[Call]:
    """Yield ``count`` made-up calls over ``days`` days from ``start``, day by day in time
    order, with the skew of real service points: Kela and Vero most, rare agencies few,
    Monday mornings busiest, nothing when an agency is closed (its directory hours); the
    same arguments give the same calls, and session ids differ between seeds."""
    if directory is None:
        from signaling.directory import load_directory

        directory = load_directory()
    rng = random.Random(seed)
    zone = ZoneInfo("Europe/Helsinki")
    plans = [plan for plan in _plans(directory) if plan.weight > 0]
    places = [Place(s.id, s.kind, s.municipality, s.region) for s in directory.sites]
    # Each site its own size (a busy library, a quiet town hall), fixed by the seed.
    place_weights = [
        SITE_KIND_WEIGHTS.get(p.site_kind, 1.0) * rng.uniform(0.5, 1.5) for p in places
    ]
    outcomes = [o.id for o in directory.outcomes] or ["resolved"]
    calendar = [start + timedelta(days=i) for i in range(days)]
    # The weight of each (day, agency): how many of the calls fall there.
    day_plans: list[tuple[list[_Plan], list[float]]] = []
    day_weights: list[float] = []
    for day in calendar:
        open_plans: list[_Plan] = []
        weights: list[float] = []
        for plan in plans:
            hour_weight = sum(plan.hours_on(day)[1])
            if hour_weight <= 0:
                continue
            season = SEASONS.get(plan.agency, {}).get(day.month, 1.0)
            open_plans.append(plan)
            weights.append(plan.weight * season * hour_weight)
        scale = WEEKDAY_WEIGHTS[day.weekday()] * MONTH_WEIGHTS[day.month - 1]
        day_plans.append((open_plans, weights))
        day_weights.append(scale * sum(weights))
    total = sum(day_weights)
    if total <= 0 or count <= 0:
        return
    # Whole calls per day, the remainders given to the days with the largest fractions.
    shares = [count * w / total for w in day_weights]
    per_day = [int(s) for s in shares]
    rest = sorted(range(days), key=lambda i: (shares[i] - per_day[i], -i), reverse=True)
    for i in rest[: count - sum(per_day)]:
        per_day[i] += 1
    number = 0
    for day, n, (open_plans, weights) in zip(calendar, per_day, day_plans, strict=True):
        if not n:
            continue
        midnight = datetime.combine(day, time(0), tzinfo=zone).timestamp()
        monday_rush = 1.3 if day.weekday() == 0 else 1.0
        drawn: list[tuple[float, _Plan]] = []
        for plan in rng.choices(open_plans, weights, k=n):
            starts, hour_weights = plan.hours_on(day)
            minute = rng.choices(starts, hour_weights)[0] + rng.random() * 60
            # Local wall time to Unix time; the DST days are off by an hour at most.
            drawn.append((midnight + minute * 60, plan))
        drawn.sort(key=lambda item: item[0])
        for requested_at, plan in drawn:
            place = rng.choices(places, place_weights)[0]
            yield _call(
                rng, f"synth-{seed}-{number:08d}", place, plan, requested_at, monday_rush, outcomes
            )
            number += 1


def _call(
    rng: random.Random,
    session_id: str,
    place: Place,
    plan: _Plan,
    requested_at: float,
    rush: float,
    outcomes: list[str],
) -> Call:
    service, languages = rng.choices(plan.services, plan.service_weights)[0]
    language = _language(rng, place, languages)
    bus = place.site_kind == "XS"
    if rng.random() < ABANDON:
        # Those who give up have waited longer than most (a median of about 2.5 min).
        return Call(
            session_id,
            place,
            plan.agency,
            service,
            language,
            requested_at,
            wait_s=round(min(3600.0, rng.lognormvariate(math.log(150), 0.7)), 1),
            handling_s=None,
            outcome=None,
            end_reason="cancelled",
        )
    # Most waits are under two minutes (median about 35 s), with a long tail.
    wait = min(3600.0, rush * rng.lognormvariate(math.log(35), 0.9))
    handling = min(7200.0, max(60.0, rng.lognormvariate(math.log(600), 0.35)))
    interpreting = None
    interp_wait = None
    if rng.random() < INTERPRETING:
        modality, interp_language, _, fill = rng.choices(
            INTERPRETERS, [i[2] for i in INTERPRETERS]
        )[0]
        interpreting = {"language": interp_language, "modality": modality}
        if rng.random() < fill:
            interp_wait = round(min(900.0, rng.lognormvariate(math.log(45), 0.6)), 1)
        handling *= 1.6  # everything is said twice
    end_reason = None
    if rng.random() < FAILED * (3 if bus else 1):
        end_reason = rng.choice(("failed", "booth_lost"))
    quality = _quality(rng, bus)
    feedback = None
    if end_reason is None and rng.random() < FEEDBACK:
        feedback = rng.choices(*zip(*FEEDBACK_SCORES, strict=True))[0]
    outcome = "resolved" if rng.random() < 0.75 else rng.choice(outcomes)
    return Call(
        session_id,
        place,
        plan.agency,
        service,
        language,
        requested_at,
        wait_s=round(wait, 1),
        handling_s=round(handling, 1),
        outcome=outcome,
        feedback=feedback,
        interpreting=interpreting,
        interp_wait_s=interp_wait,
        transfers=1 if rng.random() < TRANSFERRED else 0,
        quality=quality,
        end_reason=end_reason,
    )


def _language(rng: random.Random, place: Place, languages: tuple[str, ...]) -> str:
    """Mostly Finnish; Swedish on the bilingual coast; some English."""
    swedish = 0.3 if place.region == "Pohjanmaa" else 0.04
    draw = rng.random()
    if draw < swedish and "sv" in languages:
        return "sv"
    if draw > 0.96 and "en" in languages:
        return "en"
    return languages[0] if "fi" not in languages else "fi"


def _quality(rng: random.Random, bus: bool) -> dict[str, float]:
    """A call's getStats summary: a bus on a mobile link has worse figures."""
    if bus:
        rtt, loss, fps = rng.gauss(130, 45), rng.expovariate(1 / 2.0), rng.gauss(20, 6)
    else:
        rtt, loss, fps = rng.gauss(45, 12), rng.expovariate(1 / 0.3), rng.gauss(27, 2.5)
    return {
        "rtt_ms": round(max(5.0, rtt), 1),
        "loss_pct": round(min(50.0, loss), 2),
        "fps": round(min(30.0, max(2.0, fps)), 1),
    }


def history(
    count: int, seed: int, start: date, days: int, directory: Any = None
) -> Iterator[Event]:
    """The events of generate()'s calls, in the order a node would log them (per day)."""
    for call in generate(count, seed, start, days, directory):
        yield from events_of(call)


async def ingest(
    database: Database, events: Iterable[Event], batch: int = 2000, clock: list[float] | None = None
) -> int:
    """Write ``events`` through the consumer's own code path (Consumer.apply, a batch per
    transaction), without moving its checkpoint on the real log; return how many were new.
    Events already in the database are skipped, so seeding twice counts once. When
    ``clock`` is given, the seconds spent writing (not generating) are added to clock[0]."""
    from signaling.store import MemoryStore

    from .consumer import Consumer

    consumer = Consumer(MemoryStore(), database, batch=batch)
    applied = 0
    entries: list[tuple[str, Event]] = []

    async def flush() -> None:
        nonlocal applied
        began = perf_counter()
        async with database.transaction() as conn:
            applied += await consumer.apply(conn, entries)
        if clock is not None:
            clock[0] += perf_counter() - began
        entries.clear()

    for event in events:
        entries.append(("synth", event))
        if len(entries) >= batch:
            await flush()
    if entries:
        await flush()
    return applied
