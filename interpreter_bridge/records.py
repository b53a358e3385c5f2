"""What the store keeps for interpreting: interpreters' states and open requests."""

from __future__ import annotations

from typing import Literal

from signaling.protocol import Modality, SiteKind
from signaling.records import Record

InterpreterState = Literal["available", "paused", "busy"]
RequestState = Literal["open", "taken", "cancelled"]

# Store namespaces and indexes (signaling.store.Store.load_record / index_*).
INTERPRETER = "iv"
REQUEST = "ir"
AVAILABLE_INDEX = "iv-available"  # available interpreters, by idle time
OPEN_INDEX = "ir-open"  # open requests, by the time they (re)started
FINISHED_REQUEST_TTL_S = 3600  # a taken or cancelled request answers late accepts this long


class InterpreterRecord(Record):
    """An interpreter's availability as dispatch sees it."""

    subject: str
    state: InterpreterState = "paused"
    pause_reason: str | None = None
    # What the interpreter asked to be once the current call is over.
    after_call: Literal["available", "paused"] | None = None
    session_id: str | None = None
    idle_since: float = 0.0
    missed_rings: int = 0  # rings in a row that rang out unanswered


class InterpreterRequestRecord(Record):
    """One request for an interpreter in a session, from asking to a join or a cancel."""

    request_id: str
    session_id: str
    language: str
    modality: Modality
    by: Literal["expert", "booth", "booking"]
    urgency: Literal["on_demand", "booked"] = "on_demand"
    agency: str
    service: str
    session_language: str
    site: str
    site_kind: SiteKind
    municipality: str
    region: str
    requested_at: float  # first asked, for the time to join
    started_at: float  # asked, or its last "try again"
    state: RequestState = "open"
    widened: bool = False
    unanswered: bool = False
    preferred: list[str] = []  # subjects rung first
    rings: dict[str, float] = {}  # subject -> when that ring runs out
    skipped: list[str] = []  # declined or let it ring out: not rung again
    taken_by: str | None = None

    @property
    def is_open(self) -> bool:
        """Tell whether the request still looks for an interpreter."""
        return self.state == "open"
