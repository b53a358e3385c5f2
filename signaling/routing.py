"""Routing: queues per (agency, service, language), offers to the longest-idle expert.

Every change is a compare-and-set on a stored record, so any number of nodes may route
the same queue: exactly one wins each transition and the losers see ``conflict``.
"""

from __future__ import annotations

import logging
import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from .audit import AuditAction, audit
from .directory import Directory, ExpertRole
from .events import EventKind, session_event
from .identity import Principal
from .outbox import EventOutbox
from .protocol import (
    Availability,
    CallRequest,
    ErrorCode,
    ExpertStatus,
    InterpreterNeed,
    Message,
    Offer,
    OfferSite,
    OfferWithdrawn,
    ParticipantEvent,
    QualityFigures,
    QueueStatus,
    SessionEnded,
    SessionState,
    SessionUpdate,
    SiteKind,
    Skills,
    Transfer,
)
from .quality import call_quality
from .records import ExpertRecord, Member, SessionRecord, queue_key
from .sessions import check_transition
from .store import Store

log = logging.getLogger(__name__)

FRONT_OFFSET_S = 1e10  # front-of-queue scores sort before every normal arrival
MAX_CAS_RETRIES = 20
FEEDBACK_WINDOW_S = 15 * 60.0  # a citizen answers right after the call, or not at all
REQUEUE_WINDOW_S = 10 * 60.0  # a booth back from an outage gets the front this long after
DISPATCH_SCAN = 20


class RoutingError(Exception):
    """A routing request was refused; carries the wire error fields."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        field: str | None = None,
        next_opening: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.next_opening = next_opening
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class BookedCall:
    """A call that comes from a booked appointment: who is booked, and how long the
    booked expert is waited for before anyone of the queue may answer."""

    appointment_id: str
    expert: str  # subject
    interpreter: str | None  # subject
    expert_wait_until: float


class Courier(Protocol):
    """Delivers server messages to subjects wherever they are connected."""

    async def send(self, subject: str, message: Message) -> None:
        """Deliver a message to a subject (dropped if it is not connected)."""

    async def queue_changed(self, queue: str) -> None:
        """Tell every node that a queue's order changed."""

    def observe_routing(self, seconds: float) -> None:
        """Record the time from a routing trigger to the offer being sent."""


def queue_score(record: SessionRecord) -> float:
    """Return the queue order score: front entries first, then by time queued."""
    return record.queued_at - (FRONT_OFFSET_S if record.priority == 0 else 0.0)


def new_session_id() -> str:
    """Return a fresh random session id."""
    return "s-" + secrets.token_hex(16)


def _username(subject: str) -> str | None:
    """Return the username of a staff subject ("staff:<username>")."""
    kind, _, name = subject.partition(":")
    return name if kind == "staff" else None


def _apply_skills(record: ExpertRecord, role: ExpertRole, chosen: Skills | None) -> None:
    """Set the skills served this shift: the chosen ones, else the earlier choice while
    the account still has it, else everything the account has."""
    if chosen is None:
        agencies = [a for a in record.agencies if a in role.agencies]
        languages = [lang for lang in record.languages if lang in role.languages]
        services = record.services
        if role.services is not None and services is not None:
            services = [s for s in services if s in role.services]
        if agencies and languages and (services is None or services):
            chosen = Skills(agencies=agencies, services=services, languages=languages)
        else:
            chosen = Skills(
                agencies=role.agencies, services=role.services, languages=role.languages
            )
    record.agencies = list(chosen.agencies)
    record.services = list(chosen.services) if chosen.services is not None else None
    record.languages = list(chosen.languages)


def new_participant_id() -> str:
    """Return a fresh opaque participant id (no names on the wire)."""
    return "p-" + secrets.token_hex(6)


class InterpretingHooks(Protocol):
    """What routing tells the interpreter side when a call changes under it."""

    async def withdraw(self, request_id: str) -> None:
        """The call's open interpreter request is void (the call ended or was requeued)."""

    async def release(self, subject: str, session_id: str) -> None:
        """An interpreter is no longer in the call (left, lost, or the call ended)."""


class Router:
    """Places calls in queues and offers them to experts."""

    def __init__(
        self,
        store: Store,
        directory: Directory,
        courier: Courier,
        node_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.directory = directory
        self.courier = courier
        self.node_id = node_id
        self.clock = clock
        self.settings = directory.routing
        self.interpreting: InterpretingHooks | None = None
        self.outbox = EventOutbox(store)

    # --- helpers ----------------------------------------------------------------------

    async def emit(
        self,
        kind: EventKind,
        record: SessionRecord,
        *,
        participant_kind: str | None = None,
        reason: str | None = None,
        interpreting: InterpreterNeed | None = None,
        interpreter_wait_s: float | None = None,
        quality: QualityFigures | None = None,
    ) -> None:
        """Append a session event to the durable log."""
        event = session_event(
            kind,
            record,
            at=self.clock(),
            node=self.node_id,
            participant_kind=participant_kind,
            reason=reason,
            interpreting=interpreting,
            interpreter_wait_s=interpreter_wait_s,
            quality=quality,
        )
        # The operator's trace of the session, as fields a log search can follow.
        log.info(
            "%s %s",
            kind,
            record.session_id,
            extra={
                "session_id": record.session_id,
                "event": kind,
                "site": record.site,
                "state": record.state,
                "reason": event.reason,
            },
        )
        await self.outbox.append(event.model_dump(mode="json"))

    async def audit_member(
        self,
        action: AuditAction,
        subject: str,
        record: SessionRecord,
        kind: str,
        reason: str | None = None,
    ) -> None:
        """Write who (a staff member) joined or left which session to the audit log."""
        if subject.startswith("staff:"):
            await audit(
                self.store,
                action,
                at=self.clock(),
                node=self.node_id,
                username=_username(subject),
                session_id=record.session_id,
                site=record.site,
                participant_kind=kind,
                reason=reason,
            )

    async def update_session(
        self, session_id: str, change: Callable[[SessionRecord], bool]
    ) -> SessionRecord | None:
        """Apply ``change`` with compare-and-set, retrying on races; None if it declined."""
        for _ in range(MAX_CAS_RETRIES):
            record = await self.store.load_session(session_id)
            if record is None or not change(record):
                return None
            if await self.store.save_session(record):
                return record
        raise RoutingError(ErrorCode.CONFLICT, "the session is changing too fast; try again")

    async def update_expert(
        self, subject: str, change: Callable[[ExpertRecord], bool]
    ) -> ExpertRecord | None:
        """Apply ``change`` to an expert record with compare-and-set, retrying on races."""
        for _ in range(MAX_CAS_RETRIES):
            record = await self.store.load_expert(subject)
            if record is None or not change(record):
                return None
            if await self.store.save_expert(record):
                return record
        raise RoutingError(ErrorCode.CONFLICT, "the expert record is changing too fast")

    async def broadcast(self, record: SessionRecord, *, skip: str | None = None) -> None:
        """Send the session's new state to each member, telling each its own id."""
        for member in record.members:
            if member.subject != skip:
                await self.courier.send(
                    member.subject,
                    SessionUpdate(session=record.info(member.subject, self.clock())),
                )

    async def announce(
        self, record: SessionRecord, member: Member, event: str, *, skip: str | None = None
    ) -> None:
        """Tell the other members that a participant joined, left or reconnected."""
        message = ParticipantEvent(
            session_id=record.session_id,
            participant=member.public(),
            event=event,  # type: ignore[arg-type]
        )
        for other in record.members:
            if other.subject not in (member.subject, skip):
                await self.courier.send(other.subject, message)

    def _check_queue_target(self, agency_id: str, service_id: str, language: str) -> None:
        """Refuse a queue that does not exist, is closed, or lacks the language."""
        agency = self.directory.agency(agency_id)
        if agency is None:
            raise RoutingError(ErrorCode.NOT_FOUND, f"no agency {agency_id!r}", "agency")
        if agency.service(service_id) is None:
            raise RoutingError(
                ErrorCode.NOT_FOUND, f"{agency_id} has no service {service_id!r}", "service"
            )
        if language not in agency.service_languages(service_id):
            raise RoutingError(
                ErrorCode.NOT_FOUND,
                f"{agency_id}/{service_id} is not served in language {language!r}",
                "language",
            )
        now = datetime.fromtimestamp(self.clock(), UTC)
        if not agency.hours.is_open(now):
            opening = agency.hours.next_opening(now)
            raise RoutingError(
                ErrorCode.CLOSED,
                f"{agency_id} is closed now"
                + (f"; it opens {opening.isoformat()}" if opening else "; no opening hours set"),
                "agency",
                next_opening=opening.isoformat() if opening else None,
            )

    # --- booth side -------------------------------------------------------------------

    async def request_call(
        self, booth: Principal, request: CallRequest, booked: BookedCall | None = None
    ) -> SessionRecord:
        """Create a session for a booth's call request and put it in its queue; a booked
        call goes to the front, for its booked expert first. A guest (a booked citizen at
        home) calls from the place "home"."""
        place = self._place_of(booth)
        if booked is None:
            self._check_queue_target(request.agency, request.service, request.language)
        for session_id in await self.store.memberships(booth.subject):
            existing = await self.store.load_session(session_id)
            if existing is not None and not existing.finished:
                raise RoutingError(
                    ErrorCode.CONFLICT,
                    f"this booth already has a call in progress ({session_id})",
                )
        now = self.clock()
        front = request.previous_session is not None and await self._lost_by(
            booth.subject, request.previous_session
        )
        record = SessionRecord(
            session_id=new_session_id(),
            state="requested",
            site=place[0],
            site_kind=place[1],
            municipality=place[2],
            region=place[3],
            agency=request.agency,
            service=request.service,
            language=request.language,
            interpreter=request.interpreter,
            queue=queue_key(request.agency, request.service, request.language),
            requested_at=now,
            queued_at=now,
            members=[
                Member(
                    id=new_participant_id(),
                    kind="guest" if booth.kind == "guest" else "booth",
                    subject=booth.subject,
                )
            ],
            priority=0 if front or booked else 1,
            appointment_id=booked.appointment_id if booked else None,
            booked_expert=booked.expert if booked else None,
            booked_interpreter=booked.interpreter if booked else None,
            booked_until=booked.expert_wait_until if booked else None,
        )
        await self.store.save_session(record)
        await self.store.add_membership(booth.subject, record.session_id)
        await self.emit("session_requested", record)
        check_transition(record.session_id, record.state, "queued")
        record.state = "queued"
        await self.store.save_session(record)
        # Logged before it is in the queue, where another node may offer it at once.
        await self.emit("session_queued", record)
        await self.store.enqueue(record.queue, record.session_id, queue_score(record))
        await self.courier.queue_changed(record.queue)
        return record

    def _place_of(self, caller: Principal) -> tuple[str, SiteKind, str, str]:
        """Return where a call comes from: the booth's site, or home for a guest."""
        if caller.kind == "guest":
            return ("home", "home", "", "")
        site = self.directory.site(caller.site or "")
        if site is None:
            raise RoutingError(ErrorCode.UNAUTHENTICATED, "this site is not configured")
        return (site.id, site.kind, site.municipality, site.region)

    async def _lost_by(self, subject: str, session_id: str) -> bool:
        """Tell whether a booth's call ended recently because the booth's link was lost."""
        previous = await self.store.load_session(session_id)
        if previous is None or previous.member(subject) is None:
            raise RoutingError(
                ErrorCode.NOT_FOUND, "no such call at this booth", "previous_session"
            )
        recent = self.clock() - (previous.ended_at or 0.0) <= REQUEUE_WINDOW_S
        return previous.end_reason == "booth_lost" and recent

    async def cancel(self, booth: Principal, session_id: str) -> SessionRecord:
        """Withdraw a booth's waiting call."""
        offered_to: list[str | None] = [None]

        def change(record: SessionRecord) -> bool:
            if record.member(booth.subject) is None:
                raise RoutingError(ErrorCode.FORBIDDEN, "not your session", "session_id")
            if record.state not in ("requested", "queued", "offered"):
                raise RoutingError(
                    ErrorCode.CONFLICT,
                    f'the call is "{record.state}"; leave or end it instead',
                    "session_id",
                )
            offered_to[0] = record.offered_to
            self._finish(record, "abandoned", reason="cancelled")
            return True

        record = await self.update_session(session_id, change)
        if record is None:
            raise RoutingError(ErrorCode.FORBIDDEN, "not your session", "session_id")
        await self._after_finish(record)
        if offered_to[0] is not None:
            # Withdraw first: the released expert may be offered the next call at once.
            await self.courier.send(
                offered_to[0], OfferWithdrawn(session_id=session_id, reason="cancelled")
            )
            await self._release_expert(offered_to[0], session_id, "available")
        await self.courier.queue_changed(record.queue)
        return record

    async def queue_status(self, record: SessionRecord) -> QueueStatus | None:
        """Return a waiting session's place and estimated wait, or None if not waiting."""
        if record.state != "queued":
            return None
        rank = await self.store.queue_rank(record.queue, record.session_id)
        if rank is None:
            return None
        return QueueStatus(
            session_id=record.session_id,
            position=rank + 1,
            estimated_wait_s=round(await self.estimated_wait(record, rank)),
        )

    async def estimated_wait(self, record: SessionRecord, rank: int) -> float:
        """Estimate the wait of the call at ``rank`` (0 = front) in its queue."""
        return await self.estimate_wait(record.queue, record.agency, rank)

    async def estimate_wait(
        self, queue: str, agency: str, rank: int, available: int | None = None
    ) -> float:
        """Estimate the wait from recent handling times and the experts available (counted
        here unless the caller already knows)."""
        times = await self.store.handling_times(queue)
        handling = statistics.median(times) if times else self.settings.default_handling_time_s
        if available is None:
            available = len(await self.store.available_experts(agency))
        # Everyone ahead must be answered first; experts work in parallel.
        return (rank + 1) * handling / max(1, available)

    # --- expert side ------------------------------------------------------------------

    async def set_availability(
        self,
        expert: Principal,
        status: ExpertStatus,
        reason: str | None,
        skills: Skills | None = None,
    ) -> ExpertRecord:
        """Put an expert on or off the routing, creating their record on first use."""
        account = self.directory.account(expert.username or "")
        if account is None or account.expert is None:
            raise RoutingError(ErrorCode.FORBIDDEN, "only experts take calls")
        role = account.expert
        if skills is not None:
            if not role.choose_skills:
                raise RoutingError(
                    ErrorCode.FORBIDDEN, "your role does not let you choose skills", "skills"
                )
            self._check_skills(role, skills)
        now = self.clock()
        existing = await self.store.load_expert(expert.subject)
        if existing is None:
            existing = ExpertRecord(
                subject=expert.subject,
                state="paused",
                agencies=list(role.agencies),
                services=list(role.services) if role.services else None,
                languages=list(role.languages),
                idle_since=now,
            )
            await self.store.save_expert(existing)
        before = set(existing.agencies)

        def change(record: ExpertRecord) -> bool:
            _apply_skills(record, role, skills)
            if record.state in ("offered", "busy"):
                record.after_call = status
            elif status == "available":
                if record.state != "available" or record.in_wrap_up(now):
                    record.idle_since = now  # "ready now" also ends a wrap-up early
                record.state = "available"
                record.wrap_up_until = None
            else:
                record.state = "paused"
                record.wrap_up_until = None
            record.pause_reason = reason if status == "paused" else None
            return True

        record = await self.update_expert(expert.subject, change)
        assert record is not None
        for agency in before - set(record.agencies):
            await self._unindex(agency, record.subject)
        await self._index_expert(record)
        if record.state == "available":
            await self.dispatch_agencies(record.agencies)
        return record

    def _check_skills(self, role: ExpertRole, skills: Skills) -> None:
        """Refuse chosen skills that the expert's account does not have."""
        for name, chosen, allowed in (
            ("agencies", skills.agencies, role.agencies),
            ("languages", skills.languages, role.languages),
        ):
            extra = sorted(set(chosen) - set(allowed))
            if extra:
                raise RoutingError(
                    ErrorCode.INVALID_FIELD,
                    f"not among your {name}: {', '.join(extra)}",
                    f"skills.{name}",
                )
        if skills.services is not None:
            agencies = [self.directory.agency(agency_id) for agency_id in skills.agencies]
            offered = {s.id for agency in agencies if agency for s in agency.services}
            allowed_services = offered & set(role.services) if role.services else offered
            extra = sorted(set(skills.services) - allowed_services)
            if extra or not skills.services:
                raise RoutingError(
                    ErrorCode.INVALID_FIELD,
                    f"not among your services: {', '.join(extra)}" if extra else "no services",
                    "skills.services",
                )

    def availability_of(self, record: ExpertRecord | None, subject: str) -> Availability:
        """Return the expert's availability as their console shows it."""
        account = self.directory.account(_username(subject) or "")
        role = account.expert if account else None
        can_choose = role is not None and role.choose_skills
        if record is None:
            skills = (
                Skills(agencies=role.agencies, services=role.services, languages=role.languages)
                if role
                else None
            )
            return Availability(status="paused", skills=skills, can_choose_skills=can_choose)
        skills = Skills(
            agencies=record.agencies, services=record.services, languages=record.languages
        )
        now = self.clock()
        if record.state == "paused":
            return Availability(
                status="paused",
                reason=record.pause_reason,
                skills=skills,
                can_choose_skills=can_choose,
            )
        if record.state == "available" and record.in_wrap_up(now):
            assert record.wrap_up_until is not None
            return Availability(
                status="wrap_up",
                wrap_up_s=round(record.wrap_up_until - now, 1),
                skills=skills,
                can_choose_skills=can_choose,
            )
        # In a call (or ringing): what they asked to be afterwards.
        status: ExpertStatus = record.after_call or "available"
        if record.state == "available":
            status = "available"
        return Availability(status=status, skills=skills, can_choose_skills=can_choose)

    async def _index_expert(self, record: ExpertRecord) -> None:
        """Keep the available index in step with the expert record."""
        for agency in record.agencies:
            if record.state == "available":
                await self.store.set_available(agency, record.subject, record.idle_since)
            else:
                await self._unindex(agency, record.subject)

    async def _unindex(self, agency: str, subject: str) -> None:
        """Take an expert out of an agency's index, then put them back if the record says
        they are available: a clear that arrives after another node's re-index must not
        hide an available expert for good (record and index are two keys, no transaction)."""
        await self.store.clear_available(agency, subject)
        current = await self.store.load_expert(subject)
        if current is not None and current.state == "available" and agency in current.agencies:
            await self.store.set_available(agency, subject, current.idle_since)

    async def accept(self, expert: Principal, session_id: str) -> SessionRecord:
        """Let an expert take the call offered to them; exactly one accept wins."""
        account = self.directory.account(expert.username or "")
        member = Member(
            id=new_participant_id(),
            kind="expert",
            subject=expert.subject,
            display_name=account.public_name if account else None,
        )

        def change(record: SessionRecord) -> bool:
            if record.state != "offered" or record.offered_to != expert.subject:
                raise RoutingError(
                    ErrorCode.CONFLICT, "this call is no longer offered to you", "session_id"
                )
            check_transition(record.session_id, record.state, "connecting")
            record.state = "connecting"
            record.answered_at = self.clock()
            record.offer_deadline = None
            record.members.append(member)
            return True

        record = await self.update_session(session_id, change)
        if record is None:
            raise RoutingError(ErrorCode.NOT_FOUND, "no such call", "session_id")
        await self.store.clear_offer_deadline(session_id)
        await self.store.add_membership(expert.subject, session_id)

        def busy(expert_record: ExpertRecord) -> bool:
            expert_record.state = "busy"
            expert_record.session_id = session_id
            expert_record.missed_offers = 0
            return True

        await self.update_expert(expert.subject, busy)
        await self.emit("session_connecting", record)
        await self.emit("participant_joined", record, participant_kind="expert")
        await self.audit_member("session_joined", expert.subject, record, "expert")
        await self.broadcast(record)
        await self.announce(record, member, "joined")
        return record

    async def decline(self, expert: Principal, session_id: str) -> SessionRecord:
        """Pass an offered call on to the next expert."""
        return await self._return_offer(session_id, expert.subject, "declined")

    async def _return_offer(self, session_id: str, subject: str, reason: str) -> SessionRecord:
        """Put an offered call back in its queue, keeping its place."""
        now = self.clock()

        def change(record: SessionRecord) -> bool:
            if record.state != "offered" or record.offered_to != subject:
                if reason == "declined":
                    raise RoutingError(
                        ErrorCode.CONFLICT, "this call is no longer offered to you", "session_id"
                    )
                return False
            check_transition(record.session_id, record.state, "queued")
            record.state = "queued"
            record.offered_to = None
            record.offer_deadline = None
            record.passed[subject] = now + self.settings.reoffer_cooldown_s
            return True

        record = await self.update_session(session_id, change)
        await self.store.clear_offer_deadline(session_id)
        if record is None:
            raise RoutingError(ErrorCode.NOT_FOUND, "no such call", "session_id")
        # Tell everyone about this return before the call is back in its queue, where any
        # node may route it again, so that updates and events keep the order of things.
        await self.emit("offer_declined" if reason == "declined" else "offer_timed_out", record)
        await self.courier.send(
            subject,
            OfferWithdrawn(
                session_id=session_id, reason="declined" if reason == "declined" else "timeout"
            ),
        )
        await self.broadcast(record)
        await self.store.enqueue(record.queue, session_id, queue_score(record))
        await self.courier.queue_changed(record.queue)
        await self._release_expert(subject, session_id, "available", missed=reason != "declined")
        await self.dispatch(record.queue)
        return record

    async def _release_expert(
        self, subject: str, session_id: str, fallback: ExpertStatus, *, missed: bool = False
    ) -> None:
        """Return an expert tied to a session to what they asked to be next; an offer that
        rang out (``missed``) counts towards pausing them."""
        limit = self.settings.pause_after_missed_offers
        paused_now: list[bool] = []

        def change(record: ExpertRecord) -> bool:
            if record.session_id != session_id or record.state not in ("offered", "busy"):
                return False
            after_call = record.state == "busy"
            record.state = record.after_call or fallback
            record.after_call = None
            record.session_id = None
            # Any answer (accept, decline) or a call ends the run of missed offers.
            record.missed_offers = record.missed_offers + 1 if missed else 0
            paused_now[:] = [record.missed_offers >= limit and record.state != "paused"]
            if paused_now[0]:
                record.state = "paused"
                record.pause_reason = "missed_offers"
                record.missed_offers = 0
            record.wrap_up_until = None
            if record.state == "available":
                record.idle_since = self.clock()
                if after_call and self.settings.wrap_up_s > 0:
                    record.wrap_up_until = record.idle_since + self.settings.wrap_up_s
                    record.idle_since = record.wrap_up_until  # longest idle counts from then
            notify[:] = [after_call or paused_now[0]]
            return True

        notify: list[bool] = []
        released = await self.update_expert(subject, change)
        if released is not None:
            if notify[0]:
                await self.courier.send(subject, self.availability_of(released, subject))
            await self._index_expert(released)
            if released.state == "available":
                await self.dispatch_agencies(released.agencies)

    async def expire_offers(self) -> int:
        """Return unanswered offers whose ring time ran out to their queue."""
        now = self.clock()
        expired = 0
        for session_id in await self.store.expired_offers(now):
            record = await self.store.load_session(session_id)
            if record is None or record.state != "offered" or record.offered_to is None:
                await self.store.clear_offer_deadline(session_id)
                continue
            if record.offer_deadline is not None and record.offer_deadline > now:
                continue
            try:
                await self._return_offer(session_id, record.offered_to, "timeout")
                expired += 1
            except RoutingError:
                continue  # another node got there first
        return expired

    # --- dispatch ---------------------------------------------------------------------

    async def dispatch_all(self) -> int:
        """Try to route every waiting queue (after cooldowns end, or a node died)."""
        offers = 0
        for queue in sorted(await self.store.queue_lengths()):
            offers += await self.dispatch(queue)
        return offers

    async def dispatch_agencies(self, agencies: list[str]) -> None:
        """Try to route every waiting queue of the given agencies."""
        for queue in sorted(await self.store.queue_lengths()):
            if queue.split("/", 1)[0] in agencies:
                await self.dispatch(queue)

    async def dispatch(self, queue: str, started: float | None = None) -> int:
        """Offer waiting calls of a queue to matching available experts; return offers made."""
        started = time.perf_counter() if started is None else started
        offers = 0
        for session_id in await self.store.queue_members(queue, DISPATCH_SCAN):
            record = await self.store.load_session(session_id)
            if record is None or record.state != "queued":
                await self.store.dequeue(queue, session_id)  # a stale index entry
                continue
            candidates = await self.store.available_experts(record.agency)
            if not candidates:
                break  # nobody free for this agency: the rest of the queue waits too
            if await self._offer_to_first(record, candidates, started):
                offers += 1
        return offers

    async def _offer_to_first(
        self, record: SessionRecord, candidates: list[str], started: float
    ) -> bool:
        """Offer a call to the longest-idle matching expert who can be claimed."""
        now = self.clock()
        if record.booked_expert and now < (record.booked_until or 0.0):
            # The booked expert answers, if they are here; else anyone may, at once.
            if await self.store.presence_node(record.booked_expert) is not None:
                candidates = [s for s in candidates if s == record.booked_expert]
        for subject in candidates:
            if record.passed.get(subject, 0.0) > now:
                continue
            claimed = await self._claim_expert(subject, record)
            if claimed is None:
                continue
            offered = await self._mark_offered(record.session_id, subject)
            if offered is None:
                # The call was taken or cancelled meanwhile: free the expert again.
                await self._release_expert(subject, record.session_id, "available")
                return False
            await self.store.dequeue(offered.queue, offered.session_id)
            assert offered.offer_deadline is not None
            await self.store.set_offer_deadline(offered.session_id, offered.offer_deadline)
            await self.courier.send(subject, self._offer_message(offered))
            self.courier.observe_routing(time.perf_counter() - started)
            await self.emit("session_offered", offered)
            await self.broadcast(offered)
            await self.courier.queue_changed(offered.queue)
            return True
        return False

    async def _claim_expert(self, subject: str, record: SessionRecord) -> ExpertRecord | None:
        """Move an available, matching expert to "offered"; None if someone else won."""

        now = self.clock()

        def change(expert: ExpertRecord) -> bool:
            if expert.state != "available" or expert.in_wrap_up(now):
                return False
            booked = expert.subject == record.booked_expert
            if not booked and not expert.serves(record.agency, record.service, record.language):
                return False
            expert.state = "offered"
            expert.session_id = record.session_id
            return True

        claimed = await self.update_expert(subject, change)
        if claimed is None:
            stale = await self.store.load_expert(subject)
            if stale is None or stale.state != "available":
                await self._unindex(record.agency, subject)
            return None
        await self._index_expert(claimed)
        return claimed

    async def _mark_offered(self, session_id: str, subject: str) -> SessionRecord | None:
        """Move a queued call to "offered" for an expert; None if it is not queued now."""
        now = self.clock()

        def change(record: SessionRecord) -> bool:
            if record.state != "queued":
                return False
            check_transition(record.session_id, record.state, "offered")
            record.state = "offered"
            record.offered_to = subject
            record.offered_at = now
            record.offer_deadline = now + self.settings.ring_timeout_s
            return True

        return await self.update_session(session_id, change)

    def _offer_message(self, record: SessionRecord) -> Offer:
        """Build the offer an expert sees."""
        return Offer(
            session_id=record.session_id,
            site=OfferSite(
                id=record.site,
                kind=record.site_kind,
                municipality=record.municipality,
                region=record.region,
            ),
            agency=record.agency,
            service=record.service,
            language=record.language,
            interpreter=record.interpreter,
            waited_s=round(self.clock() - record.requested_at, 1),
            # A re-sent offer (after a reconnect) rings only for the time that is left.
            ring_timeout_s=round(
                max(0.0, (record.offer_deadline or 0.0) - self.clock())
                if record.offer_deadline
                else self.settings.ring_timeout_s,
                1,
            ),
            transfer_note=record.transfer_note,
        )

    # --- in the call ------------------------------------------------------------------

    def member_of(self, record: SessionRecord | None, principal: Principal) -> Member:
        """Return the principal's membership, refusing non-members without telling more."""
        member = record.member(principal.subject) if record else None
        if record is None or member is None:
            raise RoutingError(ErrorCode.FORBIDDEN, "you are not in this session", "session_id")
        return member

    async def join_doccam(self, doccam: Principal, session_id: str) -> SessionRecord:
        """Add the site's document camera to a call of its own booth (joining twice is a no-op)."""
        joined: list[Member] = []

        def change(record: SessionRecord) -> bool:
            if record.site != doccam.site:
                raise RoutingError(ErrorCode.FORBIDDEN, "you are not in this session", "session_id")
            if record.finished:
                raise RoutingError(ErrorCode.CONFLICT, "the session is over", "session_id")
            if record.member(doccam.subject) is not None:
                return False
            member = Member(id=new_participant_id(), kind="doccam", subject=doccam.subject)
            record.members.append(member)
            joined[:] = [member]
            return True

        if await self.store.peek_session(session_id) is None:
            raise RoutingError(ErrorCode.FORBIDDEN, "you are not in this session", "session_id")
        record = await self.update_session(session_id, change)
        if record is None:
            found = await self.store.load_session(session_id)
            assert found is not None
            return found
        await self.store.add_membership(doccam.subject, session_id)
        await self.emit("participant_joined", record, participant_kind="doccam")
        await self.broadcast(record)
        await self.announce(record, joined[0], "joined")
        return record

    async def share_doccam(self, expert: Principal, session_id: str, shared: bool) -> None:
        """Show the document camera to the session's interpreters, or stop showing it."""

        def change(record: SessionRecord) -> bool:
            member = record.member(expert.subject)
            if member is None or member.kind != "expert":
                raise RoutingError(ErrorCode.FORBIDDEN, "you are not in this session", "session_id")
            if record.finished:
                raise RoutingError(ErrorCode.CONFLICT, "the session is over", "session_id")
            if record.doccam_shared == shared:
                return False
            record.doccam_shared = shared
            return True

        if await self.store.peek_session(session_id) is None:
            raise RoutingError(ErrorCode.FORBIDDEN, "you are not in this session", "session_id")
        record = await self.update_session(session_id, change)
        if record is not None:
            await self.broadcast(record)

    async def mark_active(self, session_id: str) -> None:
        """Record that media negotiation completed (the first SDP answer was relayed)."""

        def change(record: SessionRecord) -> bool:
            if record.state != "connecting":
                return False
            check_transition(record.session_id, record.state, "active")
            record.state = "active"
            return True

        record = await self.update_session(session_id, change)
        if record is not None:
            await self.emit("session_active", record)
            await self.broadcast(record)

    async def end(self, expert: Principal, session_id: str, outcome: str) -> SessionRecord:
        """End a call for everyone with an outcome from the configured list."""
        if self.directory.outcome(outcome) is None:
            raise RoutingError(ErrorCode.INVALID_FIELD, f"unknown outcome {outcome!r}", "outcome")

        def change(record: SessionRecord) -> bool:
            member = self.member_of(record, expert)
            if member.kind != "expert":
                raise RoutingError(ErrorCode.FORBIDDEN, "only the expert ends the call")
            if record.state not in ("connecting", "active"):
                raise RoutingError(
                    ErrorCode.CONFLICT, f'the call is "{record.state}"', "session_id"
                )
            record.outcome = outcome
            self._finish(record, "ended", reason="expert_ended")
            return True

        record = await self.update_session(session_id, change)
        if record is None:
            raise RoutingError(ErrorCode.FORBIDDEN, "you are not in this session", "session_id")
        if record.answered_at is not None and record.ended_at is not None:
            await self.store.add_handling_time(record.queue, record.ended_at - record.answered_at)
        await self._after_finish(record)
        return record

    async def feedback(self, booth: Principal, session_id: str, score: int) -> SessionRecord:
        """Record a citizen's 1-5 answer once, shortly after their call ended."""

        def change(record: SessionRecord) -> bool:
            member = record.member(booth.subject)
            if member is None or not record.is_citizen(member):
                raise RoutingError(ErrorCode.NOT_FOUND, "no such call at this booth", "session_id")
            if not record.finished or record.answered_at is None:
                raise RoutingError(
                    ErrorCode.CONFLICT, "feedback is for calls that took place", "session_id"
                )
            if record.feedback is not None:
                raise RoutingError(ErrorCode.CONFLICT, "feedback was already given", "session_id")
            if self.clock() - (record.ended_at or 0.0) > FEEDBACK_WINDOW_S:
                raise RoutingError(ErrorCode.CONFLICT, "the call ended too long ago", "session_id")
            record.feedback = score
            return True

        record = await self.update_session(session_id, change)
        if record is None:
            raise RoutingError(ErrorCode.NOT_FOUND, "no such call at this booth", "session_id")
        await self.emit("feedback_given", record)
        return record

    async def leave(self, principal: Principal, session_id: str, reason: str = "left") -> None:
        """Take a participant out of a session; a booth leaving ends it."""
        record = await self.store.load_session(session_id)
        member = self.member_of(record, principal)
        assert record is not None
        if record.is_citizen(member):
            await self._fail_or_end(session_id, principal.subject, "ended", f"booth_{reason}")
        elif member.kind == "expert":
            await self.requeue_front(session_id, principal.subject, f"expert_{reason}")
        else:
            await self._remove_member(session_id, principal.subject, reason)

    async def _fail_or_end(
        self, session_id: str, subject: str, state: SessionState, reason: str
    ) -> None:
        """Close a session because its booth went away."""
        ringing: list[str] = []

        def change(record: SessionRecord) -> bool:
            if record.finished or record.member(subject) is None:
                return False
            ringing[:] = (
                [record.offered_to] if record.state == "offered" and record.offered_to else []
            )
            waiting = record.state in ("requested", "queued", "offered")
            self._finish(record, "abandoned" if waiting else state, reason=reason)
            return True

        record = await self.update_session(session_id, change)
        if record is None:
            return
        if record.answered_at is not None and record.ended_at is not None:
            await self.store.add_handling_time(record.queue, record.ended_at - record.answered_at)
        await self._after_finish(record)
        for expert in ringing:
            await self.courier.send(
                expert, OfferWithdrawn(session_id=session_id, reason="cancelled")
            )
            await self._release_expert(expert, session_id, "available")
        await self.courier.queue_changed(record.queue)

    async def requeue_front(self, session_id: str, expert_subject: str, reason: str) -> None:
        """Put a call whose expert left back at the front of its queue."""
        removed: list[Member] = []

        def change(record: SessionRecord) -> bool:
            member = record.member(expert_subject)
            if record.state not in ("connecting", "active") or member is None:
                return False
            check_transition(record.session_id, record.state, "queued")
            removed[:] = [member]
            withdrawn[:] = _take_interpreter_request(record)
            record.members.remove(member)
            record.state = "queued"
            record.priority = 0
            record.answered_at = None
            record.offered_to = None
            record.passed[expert_subject] = self.clock() + self.settings.reoffer_cooldown_s
            return True

        withdrawn: list[str] = []
        record = await self.update_session(session_id, change)
        if record is None:
            return
        await self._withdraw_interpreter_requests(withdrawn)
        await self.store.remove_membership(expert_subject, session_id)
        await self.emit("participant_left", record, participant_kind="expert", reason=reason)
        await self.audit_member("session_left", expert_subject, record, "expert", reason)
        await self.emit("session_requeued", record, reason=reason)
        await self.announce(record, removed[0], "left")
        await self.broadcast(record)
        await self.store.enqueue(record.queue, session_id, queue_score(record))
        await self._release_expert(expert_subject, session_id, "available")
        await self.courier.queue_changed(record.queue)
        await self.dispatch(record.queue)

    async def _remove_member(self, session_id: str, subject: str, reason: str) -> None:
        """Take a non-essential participant (interpreter, guest) out of a session."""
        removed: list[Member] = []

        def change(record: SessionRecord) -> bool:
            member = record.member(subject)
            if member is None or record.finished:
                return False
            removed[:] = [member]
            record.members.remove(member)
            return True

        record = await self.update_session(session_id, change)
        if record is None:
            return
        await self.store.remove_membership(subject, session_id)
        await self.emit("participant_left", record, participant_kind=removed[0].kind, reason=reason)
        await self.audit_member("session_left", subject, record, removed[0].kind, reason)
        await self.announce(record, removed[0], "left")
        await self.broadcast(record)
        if removed[0].kind == "interpreter" and self.interpreting is not None:
            await self.interpreting.release(subject, session_id)

    async def transfer(self, expert: Principal, request: Transfer) -> SessionRecord:
        """Send a call to another queue; the booth goes to its front."""
        self._check_queue_target(request.agency, request.service, request.language)
        removed: list[Member] = []

        def change(record: SessionRecord) -> bool:
            member = self.member_of(record, expert)
            if member.kind != "expert":
                raise RoutingError(ErrorCode.FORBIDDEN, "only the expert transfers the call")
            if record.state not in ("connecting", "active"):
                raise RoutingError(
                    ErrorCode.CONFLICT, f'the call is "{record.state}"', "session_id"
                )
            check_transition(record.session_id, record.state, "queued")
            removed[:] = [member]
            withdrawn[:] = _take_interpreter_request(record)
            record.members.remove(member)
            record.state = "queued"
            record.priority = 0
            record.agency = request.agency
            record.service = request.service
            record.language = request.language
            record.queue = queue_key(request.agency, request.service, request.language)
            record.answered_at = None
            record.offered_to = None
            record.transfer_note = request.note
            record.transfers += 1
            record.passed = {}
            return True

        withdrawn: list[str] = []
        record = await self.update_session(request.session_id, change)
        if record is None:
            raise RoutingError(ErrorCode.FORBIDDEN, "you are not in this session", "session_id")
        await self._withdraw_interpreter_requests(withdrawn)
        await self.store.remove_membership(expert.subject, record.session_id)
        await self.emit("participant_left", record, participant_kind="expert", reason="transfer")
        await self.audit_member("session_left", expert.subject, record, "expert", "transfer")
        await self.emit("session_transferred", record, reason="transfer")
        await self.announce(record, removed[0], "left")
        await self.broadcast(record)
        await self.store.enqueue(record.queue, record.session_id, queue_score(record))
        await self._release_expert(expert.subject, record.session_id, "available")
        await self.courier.queue_changed(record.queue)
        await self.dispatch(record.queue)
        return record

    # --- connections come and go -----------------------------------------------------

    async def set_connected(self, subject: str, connected: bool) -> None:
        """Mark a subject's memberships (dis)connected and tell the other members.

        A new connection is always announced, even when the member was never marked
        disconnected (its node was killed): the client lost its peer state either way.
        """

        def change(record: SessionRecord) -> bool:
            member = record.member(subject)
            if member is None or record.finished:
                return False
            if not connected and not member.connected:
                return False
            member.connected = connected
            return True

        for session_id in await self.store.memberships(subject):
            record = await self.update_session(session_id, change)
            member = record.member(subject) if record else None
            if record is None or member is None:
                continue
            kind: EventKind = "participant_reconnected" if connected else "participant_disconnected"
            await self.emit(kind, record, participant_kind=member.kind)
            await self.announce(record, member, "reconnected" if connected else "disconnected")

    async def subject_lost(self, subject: str) -> None:
        """Handle a subject whose grace period ran out without a reconnect."""
        if subject.startswith("staff:"):
            # First, so that releasing the expert from a call cannot offer them another.
            await self._pause_lost_expert(subject)
        for session_id in await self.store.memberships(subject):
            record = await self.store.load_session(session_id)
            member = record.member(subject) if record else None
            if record is None or member is None or record.finished:
                await self.store.remove_membership(subject, session_id)
                continue
            if record.is_citizen(member):
                await self._fail_or_end(session_id, subject, "failed", "booth_lost")
            elif member.kind == "expert":
                await self.requeue_front(session_id, subject, "expert_lost")
            else:
                await self._remove_member(session_id, subject, "lost")
        await self.store.forget_presence(subject)

    async def _pause_lost_expert(self, subject: str) -> None:
        """Take an expert who vanished off the routing so calls do not ring an empty desk."""

        def change(record: ExpertRecord) -> bool:
            if record.state == "paused":
                return False
            if record.state == "available":
                record.state = "paused"
            else:
                record.after_call = "paused"  # the offer or call releases them paused
            record.pause_reason = "disconnected"
            return True

        record = await self.update_expert(subject, change)
        if record is not None:
            await self._index_expert(record)

    # --- finishing --------------------------------------------------------------------

    def _finish(self, record: SessionRecord, state: SessionState, *, reason: str) -> None:
        """Move a record to a final state (in memory; the caller saves it)."""
        check_transition(record.session_id, record.state, state)
        record.state = state
        record.ended_at = self.clock()
        record.end_reason = reason
        record.offer_deadline = None

    async def _after_finish(self, record: SessionRecord) -> None:
        """Clean indexes, log the end and tell every member."""
        await self.store.dequeue(record.queue, record.session_id)
        await self.store.clear_offer_deadline(record.session_id)
        quality = await call_quality(self.store, record.session_id)
        await self.emit("session_ended", record, quality=quality)
        ended = SessionEnded(
            session_id=record.session_id,
            state=record.state,  # type: ignore[arg-type]
            outcome=record.outcome,
            reason=record.end_reason or "",
        )
        for member in record.members:
            await self.store.remove_membership(member.subject, record.session_id)
            await self.courier.send(member.subject, ended)
            await self.audit_member(
                "session_left", member.subject, record, member.kind, record.end_reason
            )
        for member in record.members:
            if member.kind == "expert":
                await self._release_expert(member.subject, record.session_id, "available")
        if self.interpreting is not None:
            if record.interpreter_request is not None:
                await self.interpreting.withdraw(record.interpreter_request.request_id)
            for member in record.interpreters():
                await self.interpreting.release(member.subject, record.session_id)

    async def _withdraw_interpreter_requests(self, request_ids: list[str]) -> None:
        """Tell the interpreter side that these requests went with the expert."""
        if self.interpreting is not None:
            for request_id in request_ids:
                await self.interpreting.withdraw(request_id)


def _take_interpreter_request(record: SessionRecord) -> list[str]:
    """Clear a session's open interpreter request (in memory) and return its id, if any."""
    request = record.interpreter_request
    record.interpreter_request = None
    return [request.request_id] if request else []


__all__ = ["BookedCall", "Courier", "InterpretingHooks", "Router", "RoutingError", "queue_score"]
