"""What the store keeps: sessions, experts and their versions for atomic updates."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .protocol import (
    ExpertStatus,
    InterpreterNeed,
    InterpreterRequestInfo,
    Modality,
    Participant,
    ParticipantKind,
    SessionInfo,
    SessionState,
    SiteKind,
)

ExpertState = Literal["available", "paused", "offered", "busy"]


class Record(BaseModel):
    """A stored record; ``version`` guards compare-and-set updates."""

    model_config = ConfigDict(extra="forbid")

    version: int = 0


class Member(BaseModel):
    """One participant of a session, as the server keeps it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: ParticipantKind
    subject: str
    connected: bool = True
    display_name: str | None = None
    interpreting: InterpreterNeed | None = None  # an interpreter's language and modality

    def public(self) -> Participant:
        """Return the member as other members see it."""
        return Participant(
            id=self.id,
            kind=self.kind,
            connected=self.connected,
            display_name=self.display_name,
            interpreting=self.interpreting,
        )


class OpenInterpreterRequest(BaseModel):
    """The session's open interpreter request, as members are shown it."""

    model_config = ConfigDict(extra="forbid")

    request_id: str
    language: str
    modality: Modality
    by: Literal["expert", "booth", "booking"]
    started_at: float  # the request, or its last "try again"
    limit_s: float
    # "unavailable": nobody under the agency's contracts serves the booth's need at all.
    state: Literal["ringing", "unanswered", "unavailable"] = "ringing"
    widened: bool = False
    rung: int = 0

    def info(self, now: float) -> InterpreterRequestInfo:
        """Return the request as members see it, with the time waited until ``now``."""
        return InterpreterRequestInfo(
            request_id=self.request_id,
            language=self.language,
            modality=self.modality,
            state=self.state,
            by=self.by,
            waited_s=round(max(0.0, now - self.started_at), 1),
            limit_s=self.limit_s,
            widened=self.widened,
            rung=self.rung,
        )


class SessionRecord(Record):
    """A remote-service session from request to end."""

    session_id: str
    state: SessionState
    site: str
    site_kind: SiteKind
    municipality: str
    region: str
    agency: str
    service: str
    language: str
    interpreter: InterpreterNeed | None = None
    queue: str
    # Lower priority goes first: 0 is the front (transfers, re-queues), 1 is normal.
    priority: int = 1
    requested_at: float
    queued_at: float
    offered_to: str | None = None
    offered_at: float | None = None
    offer_deadline: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    passed: dict[str, float] = {}
    members: list[Member] = []
    outcome: str | None = None
    end_reason: str | None = None
    transfer_note: str | None = None
    transfers: int = 0
    feedback: int | None = None  # the citizen's anonymous 1-5 answer
    doccam_shared: bool = False
    interpreter_request: OpenInterpreterRequest | None = None
    # A booked appointment's call: the booked expert answers first (until booked_until),
    # and the booked interpreter is rung first.
    appointment_id: str | None = None
    booked_expert: str | None = None
    booked_interpreter: str | None = None
    booked_until: float | None = None

    @property
    def finished(self) -> bool:
        """Tell whether the session reached a final state."""
        return self.state in ("ended", "abandoned", "failed")

    def member(self, subject: str) -> Member | None:
        """Return the member for a subject, if it is one."""
        return next((m for m in self.members if m.subject == subject), None)

    def member_by_id(self, participant_id: str) -> Member | None:
        """Return the member with a participant id, if there is one."""
        return next((m for m in self.members if m.id == participant_id), None)

    def may_connect(self, a: Member, b: Member) -> bool:
        """Tell whether two members may have media between them (the doccam's are limited)."""
        if "doccam" not in (a.kind, b.kind):
            return True
        other = b if a.kind == "doccam" else a
        return other.kind == "expert" or (other.kind == "interpreter" and self.doccam_shared)

    def is_citizen(self, member: Member) -> bool:
        """Tell whether a member is the citizen: the booth, or a guest calling from home."""
        return member.kind == "booth" or (member.kind == "guest" and self.site_kind == "home")

    def interpreters(self) -> list[Member]:
        """Return the interpreters in the session."""
        return [m for m in self.members if m.kind == "interpreter"]

    def info(self, subject: str | None = None, now: float | None = None) -> SessionInfo:
        """Return the session as members see it; ``subject`` is told its own id."""
        own = self.member(subject) if subject else None
        request = self.interpreter_request
        return SessionInfo(
            session_id=self.session_id,
            state=self.state,
            site=self.site,
            agency=self.agency,
            service=self.service,
            language=self.language,
            interpreter=self.interpreter,
            participants=[m.public() for m in self.members],
            self_id=own.id if own else None,
            doccam_shared=self.doccam_shared,
            interpreter_request=(
                request.info(time.time() if now is None else now) if request else None
            ),
        )


class ExpertRecord(Record):
    """An expert's routing state: skills, availability and idle time."""

    subject: str
    state: ExpertState
    agencies: list[str]
    services: list[str] | None = None
    languages: list[str]
    idle_since: float
    session_id: str | None = None
    pause_reason: str | None = None
    # What the expert asked to be once the current offer or call is over.
    after_call: ExpertStatus | None = None
    missed_offers: int = 0  # offers in a row that rang out unanswered
    # Until then the expert finishes the last call's notes: indexed as available (from
    # that time on), but not offered calls.
    wrap_up_until: float | None = None

    def in_wrap_up(self, now: float) -> bool:
        """Tell whether the expert is still finishing the last call."""
        return self.wrap_up_until is not None and now < self.wrap_up_until

    def serves(self, agency: str, service: str, language: str) -> bool:
        """Tell whether the expert's skills match a queue."""
        return (
            agency in self.agencies
            and (self.services is None or service in self.services)
            and language in self.languages
        )


def queue_key(agency: str, service: str, language: str) -> str:
    """Return the id of the queue for an (agency, service, language)."""
    return f"{agency}/{service}/{language}"
