"""Made-up sessions as the events a node would log: for tests, the demo's history and the
benchmark. Seeded, so the same arguments give the same events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

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
