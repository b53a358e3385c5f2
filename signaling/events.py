"""Structured events: one per session state change, with no personal data."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .protocol import InterpreterNeed, QualityFigures, SessionState, SiteKind
from .records import SessionRecord

EventKind = Literal[
    "session_requested",
    "session_queued",
    "session_offered",
    "offer_declined",
    "offer_timed_out",
    "session_connecting",
    "session_active",
    "session_transferred",
    "session_requeued",
    "participant_joined",
    "participant_left",
    "participant_disconnected",
    "participant_reconnected",
    "session_ended",
    "feedback_given",
    "interpreter_requested",
    "interpreter_unanswered",
    "interpreter_unavailable",
    "interpreter_cancelled",
]


class Event(BaseModel):
    """One thing that happened to a session; what statistics are built from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The event's own id, made where it happens: a consumer that sees it twice (a node
    # that re-sent it after a store failure, a log read again) counts it once.
    event_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    kind: EventKind
    at: float
    node: str
    session_id: str
    state: SessionState
    site: str
    site_kind: SiteKind
    municipality: str
    region: str
    agency: str
    service: str
    language: str
    interpreter: InterpreterNeed | None
    requested_at: float
    queued_at: float
    answered_at: float | None
    ended_at: float | None
    participant_kind: str | None = None
    outcome: str | None = None
    reason: str | None = None
    transfers: int = 0
    feedback: int | None = None
    # Interpreter events and an interpreter's participant_joined: the need asked for, and
    # (joined) seconds from the request to the join.
    interpreting: InterpreterNeed | None = None
    interpreter_wait_s: float | None = None
    # session_ended: the media quality the participants measured, over the whole call.
    quality: QualityFigures | None = None


def session_event(
    kind: EventKind,
    session: SessionRecord,
    *,
    at: float,
    node: str,
    participant_kind: str | None = None,
    reason: str | None = None,
    interpreting: InterpreterNeed | None = None,
    interpreter_wait_s: float | None = None,
    quality: QualityFigures | None = None,
) -> Event:
    """Build the event for a session change (subjects and names are left out on purpose)."""
    return Event(
        kind=kind,
        at=at,
        node=node,
        session_id=session.session_id,
        state=session.state,
        site=session.site,
        site_kind=session.site_kind,
        municipality=session.municipality,
        region=session.region,
        agency=session.agency,
        service=session.service,
        language=session.language,
        interpreter=session.interpreter,
        requested_at=session.requested_at,
        queued_at=session.queued_at,
        answered_at=session.answered_at,
        ended_at=session.ended_at,
        participant_kind=participant_kind,
        outcome=session.outcome,
        reason=reason if reason is not None else session.end_reason,
        transfers=session.transfers,
        feedback=session.feedback,
        interpreting=interpreting,
        interpreter_wait_s=interpreter_wait_s,
        quality=quality,
    )
