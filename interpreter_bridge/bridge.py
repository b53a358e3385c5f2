"""On-demand interpreters: ring the eligible, let exactly one join, tell the call plainly.

The bridge runs inside every signaling node beside the router (docs/adr/0007). Every
change is a compare-and-set on a stored record (the interpreter, the request, the
session), so two interpreters accepting at once, or two nodes ticking at once, leave
exactly one winner; messages go out only after the winning write.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

from signaling.directory import Directory
from signaling.identity import Principal
from signaling.protocol import (
    Availability,
    ErrorCode,
    ExpertStatus,
    InterpreterNeed,
    InterpreterOffer,
    InterpreterOfferWithdrawn,
    Modality,
    OfferSite,
)
from signaling.records import Member, OpenInterpreterRequest, SessionRecord
from signaling.routing import Courier, Router, RoutingError, new_participant_id
from signaling.store import Store

from .records import (
    AVAILABLE_INDEX,
    FINISHED_REQUEST_TTL_S,
    INTERPRETER,
    OPEN_INDEX,
    REQUEST,
    InterpreterRecord,
    InterpreterRequestRecord,
)
from .registry import at_work, missing_field, qualified, subject_of, username_of

log = logging.getLogger(__name__)

MAX_CAS_RETRIES = 20
WithdrawReason = str  # "taken", "cancelled", "timeout", "declined"


class InterpreterBridge:
    """Interpreters' availability and on-demand requests, for one node."""

    def __init__(
        self,
        store: Store,
        directory: Directory,
        router: Router,
        courier: Courier,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.directory = directory
        self.router = router
        self.courier = courier
        self.clock = clock
        self.settings = directory.interpreting
        router.interpreting = self

    # --- records ----------------------------------------------------------------------

    async def _update_interpreter(
        self, subject: str, change: Callable[[InterpreterRecord], bool]
    ) -> InterpreterRecord | None:
        """Apply ``change`` to an interpreter record with compare-and-set."""
        for _ in range(MAX_CAS_RETRIES):
            record = await self.store.load_record(INTERPRETER, subject, InterpreterRecord)
            if record is None:
                record = InterpreterRecord(subject=subject, idle_since=self.clock())
            if not change(record):
                return None
            if await self.store.save_record(INTERPRETER, subject, record):
                await self._index(record)
                return record
        raise RoutingError(ErrorCode.CONFLICT, "the interpreter record is changing too fast")

    async def _update_request(
        self, request_id: str, change: Callable[[InterpreterRequestRecord], bool]
    ) -> InterpreterRequestRecord | None:
        """Apply ``change`` to a request with compare-and-set; None if it declined."""
        for _ in range(MAX_CAS_RETRIES):
            record = await self.store.load_record(REQUEST, request_id, InterpreterRequestRecord)
            if record is None or not change(record):
                return None
            ttl = 0 if record.is_open else FINISHED_REQUEST_TTL_S
            if await self.store.save_record(REQUEST, request_id, record, ttl):
                if not record.is_open:
                    await self.store.index_remove(OPEN_INDEX, request_id)
                return record
        raise RoutingError(ErrorCode.CONFLICT, "the request is changing too fast; try again")

    async def _index(self, record: InterpreterRecord) -> None:
        """Keep the index of available interpreters in step with the record."""
        if record.state == "available":
            await self.store.index_add(AVAILABLE_INDEX, record.subject, record.idle_since)
        else:
            await self.store.index_remove(AVAILABLE_INDEX, record.subject)

    # --- availability -----------------------------------------------------------------

    async def set_availability(
        self, principal: Principal, status: ExpertStatus, reason: str | None
    ) -> Availability:
        """Put an interpreter on or off duty; in a call, the choice applies afterwards."""
        account = self.directory.account(principal.username or "")
        if account is None or account.interpreter is None:
            raise RoutingError(ErrorCode.FORBIDDEN, "only interpreters take requests", "type")
        now = self.clock()

        def change(record: InterpreterRecord) -> bool:
            if record.state == "busy":
                record.after_call = status
            elif status == "available":
                if record.state != "available":
                    record.idle_since = now
                record.state = "available"
                record.missed_rings = 0
            else:
                record.state = "paused"
            record.pause_reason = reason if status == "paused" else None
            return True

        record = await self._update_interpreter(principal.subject, change)
        assert record is not None
        if record.state == "available":
            await self.ring_open_requests()
        return self.availability_of(record)

    def availability_of(self, record: InterpreterRecord | None) -> Availability:
        """Return the interpreter's availability as their console shows it."""
        if record is None or record.state == "paused":
            return Availability(status="paused", reason=record.pause_reason if record else None)
        return Availability(status=record.state)

    async def availability(self, subject: str) -> Availability:
        """Return an interpreter's availability from the store."""
        return self.availability_of(
            await self.store.load_record(INTERPRETER, subject, InterpreterRecord)
        )

    async def subject_lost(self, subject: str) -> None:
        """Take an interpreter who vanished off duty, so requests do not ring an empty desk."""

        def change(record: InterpreterRecord) -> bool:
            if record.state == "paused":
                return False
            if record.state == "available":
                record.state = "paused"
            else:
                record.after_call = "paused"
            record.pause_reason = "disconnected"
            return True

        if await self.store.load_record(INTERPRETER, subject, InterpreterRecord) is not None:
            await self._update_interpreter(subject, change)

    async def release(self, subject: str, session_id: str) -> None:
        """Return an interpreter who is out of a call to what they asked to be next."""
        now = self.clock()

        def change(record: InterpreterRecord) -> bool:
            if record.state != "busy" or record.session_id != session_id:
                return False
            record.state = record.after_call or "available"
            record.after_call = None
            record.session_id = None
            record.idle_since = now
            return True

        released = await self._update_interpreter(subject, change)
        if released is None:
            return
        await self.courier.send(subject, self.availability_of(released))
        if released.state == "available":
            await self.ring_open_requests()

    # --- asking for an interpreter ----------------------------------------------------

    async def request(
        self, principal: Principal, session_id: str, language: str, modality: Modality
    ) -> None:
        """Open (or replace: "try again") the session's interpreter request."""
        session = await self.store.load_session(session_id)
        member = self.router.member_of(session, principal)
        assert session is not None
        if member.kind not in ("expert", "booth"):
            raise RoutingError(
                ErrorCode.FORBIDDEN, "only the expert or the booth asks for an interpreter"
            )
        await self._open(session, language, modality, member.kind)

    async def request_for_booth(self, session: SessionRecord) -> None:
        """Ask for the interpreter the citizen chose at the booth (or that was booked with
        the appointment: that interpreter is rung first), once an expert answered."""
        need = session.interpreter
        if need is None or session.interpreters() or session.interpreter_request is not None:
            return
        by = "booking" if session.appointment_id is not None else "booth"
        try:
            await self._open(
                session,
                need.language,
                need.modality,
                by,
                first=[session.booked_interpreter] if session.booked_interpreter else None,
            )
        except RoutingError as exc:
            if exc.code != ErrorCode.NOT_FOUND:
                log.info("no interpreter request for %s: %s", session.session_id, exc.message)
                return
            await self._show_unavailable(session, need, by)

    async def _show_unavailable(
        self, session: SessionRecord, need: InterpreterNeed, by: str
    ) -> None:
        """Tell the call plainly that nobody can ever be rung for the citizen's need.

        The booth offers every language it knows, but an agency's contracts may not cover
        one (Arabic in a Swedish-language call): the expert and the citizen must hear so
        at once rather than wait for a ring that cannot come. Nothing rings; the expert
        may ask for another need, which replaces this one, or book a later time.
        """
        now = self.clock()

        def point(record: SessionRecord) -> bool:
            if record.interpreter_request is not None or record.interpreters():
                return False
            record.interpreter_request = OpenInterpreterRequest(
                request_id=f"ir-{secrets.token_hex(12)}",
                language=need.language,
                modality=need.modality,
                by=by,  # type: ignore[arg-type]
                started_at=now,
                limit_s=self.settings.answer_limit_s,
                state="unavailable",
            )
            return True

        updated = await self.router.update_session(session.session_id, point)
        if updated is None:
            return
        await self.router.emit("interpreter_unavailable", updated, interpreting=need)
        await self.router.broadcast(updated)

    def _check_open(self, session: SessionRecord) -> None:
        """Refuse a request in a call that is not under way or already has its team."""
        if session.state not in ("connecting", "active"):
            raise RoutingError(ErrorCode.CONFLICT, f'the call is "{session.state}"', "session_id")
        if len(session.interpreters()) >= self.settings.max_per_session:
            raise RoutingError(
                ErrorCode.CONFLICT, "the call has all the interpreters it may have", "session_id"
            )

    async def _open(
        self,
        session: SessionRecord,
        language: str,
        modality: Modality,
        by: str,
        first: list[str] | None = None,
    ) -> None:
        """Create a request, point the session at it, and ring (``first`` instead of the
        agency's preferred list: a booked interpreter)."""
        self._check_open(session)
        field = missing_field(self.directory, session.agency, session.language, language, modality)
        if field is not None:
            raise RoutingError(
                ErrorCode.NOT_FOUND,
                f"no interpreter serves {language} ({modality}) for {session.agency}",
                field,
            )
        now = self.clock()
        agency = self.directory.agency(session.agency)
        request = InterpreterRequestRecord(
            request_id=f"ir-{secrets.token_hex(12)}",
            session_id=session.session_id,
            language=language,
            modality=modality,
            by=by,  # type: ignore[arg-type]
            agency=session.agency,
            service=session.service,
            session_language=session.language,
            site=session.site,
            site_kind=session.site_kind,
            municipality=session.municipality,
            region=session.region,
            requested_at=now,
            started_at=now,
            urgency="booked" if by == "booking" else "on_demand",
            preferred=first
            if first is not None
            else [subject_of(u) for u in agency.preferred_interpreters]
            if agency
            else [],
        )
        # The request exists before the session points at it.
        await self.store.save_record(REQUEST, request.request_id, request)
        await self.store.index_add(OPEN_INDEX, request.request_id, now)
        replaced: list[str] = []

        def point(record: SessionRecord) -> bool:
            self._check_open(record)
            previous = record.interpreter_request
            replaced[:] = [previous.request_id] if previous else []
            record.interpreter_request = OpenInterpreterRequest(
                request_id=request.request_id,
                language=language,
                modality=modality,
                by=by,  # type: ignore[arg-type]
                started_at=now,
                limit_s=self.settings.answer_limit_s,
            )
            return True

        try:
            updated = await self.router.update_session(session.session_id, point)
        except RoutingError:
            await self._close(request.request_id, "cancelled")
            raise
        assert updated is not None
        for request_id in replaced:
            await self._close(request_id, "cancelled")
        need = InterpreterNeed(language=language, modality=modality)
        await self.router.emit("interpreter_requested", updated, interpreting=need)
        await self._ring(request.request_id, announce=True)

    async def cancel(self, principal: Principal, session_id: str) -> None:
        """Withdraw the session's open request (the expert or the booth)."""
        session = await self.store.load_session(session_id)
        member = self.router.member_of(session, principal)
        assert session is not None
        if member.kind not in ("expert", "booth"):
            raise RoutingError(
                ErrorCode.FORBIDDEN, "only the expert or the booth cancels an interpreter request"
            )
        open_request = session.interpreter_request
        if open_request is None:
            raise RoutingError(ErrorCode.CONFLICT, "no interpreter request is open", "session_id")

        def clear(record: SessionRecord) -> bool:
            current = record.interpreter_request
            if current is None or current.request_id != open_request.request_id:
                return False
            record.interpreter_request = None
            return True

        updated = await self.router.update_session(session_id, clear)
        await self._close(open_request.request_id, "cancelled")
        if updated is not None:
            need = InterpreterNeed(language=open_request.language, modality=open_request.modality)
            await self.router.emit("interpreter_cancelled", updated, interpreting=need)
            await self.router.broadcast(updated)

    async def withdraw(self, request_id: str) -> None:
        """Close a request whose call ended or went back to a queue."""
        await self._close(request_id, "cancelled")

    async def _close(self, request_id: str, reason: WithdrawReason) -> None:
        """Cancel an open request and stop its rings."""
        rung: list[str] = []

        def change(record: InterpreterRequestRecord) -> bool:
            if not record.is_open:
                return False
            rung[:] = list(record.rings)
            record.state = "cancelled"
            record.rings = {}
            return True

        await self._update_request(request_id, change)
        await self.store.index_remove(OPEN_INDEX, request_id)
        for subject in rung:
            await self.courier.send(
                subject,
                InterpreterOfferWithdrawn(request_id=request_id, reason=reason),  # type: ignore[arg-type]
            )

    # --- ringing ----------------------------------------------------------------------

    async def _eligible(self, request: InterpreterRequestRecord, now: float) -> list[str]:
        """Return the subjects who could be rung for a request now."""
        available = set(await self.store.index_members(AVAILABLE_INDEX))
        session = await self.store.peek_session(request.session_id)
        members = {m.subject for m in session.members} if session else set()
        eligible = []
        for account in qualified(
            self.directory,
            request.agency,
            request.session_language,
            request.language,
            request.modality,
        ):
            subject = subject_of(account.username)
            if (
                subject in available
                and subject not in members
                and subject not in request.skipped
                and at_work(account, now)
            ):
                eligible.append(subject)
        return eligible

    async def _ring(self, request_id: str, *, announce: bool = False) -> None:
        """Ring whoever is eligible and not yet rung; widen past the preferred list in time."""
        now = self.clock()
        current = await self.store.load_record(REQUEST, request_id, InterpreterRequestRecord)
        if current is None or not current.is_open:
            return
        eligible = await self._eligible(current, now)
        new: list[str] = []
        widened: list[bool] = []

        def change(record: InterpreterRequestRecord) -> bool:
            if not record.is_open:
                return False
            targets = [s for s in eligible if s not in record.rings and s not in record.skipped]
            was_widened = record.widened
            if not record.widened:
                preferred = [s for s in targets if s in record.preferred]
                preferred_ringing = any(s in record.preferred for s in record.rings)
                due = now >= record.started_at + self.settings.widen_after_s
                if due or not (preferred or preferred_ringing):
                    record.widened = True
                else:
                    targets = preferred
            if not targets and record.widened == was_widened:
                return False
            for subject in targets:
                record.rings[subject] = now + self.settings.ring_timeout_s
            new[:] = targets
            widened[:] = [record.widened != was_widened]
            return True

        request = await self._update_request(request_id, change)
        if request is None:
            if announce:
                await self._show(current)
            return
        for subject in new:
            await self.courier.send(subject, self._offer_message(request, subject))
        if new or widened[0] or announce:
            await self._show(request)

    def _offer_message(self, request: InterpreterRequestRecord, subject: str) -> InterpreterOffer:
        """Build the ring an interpreter sees (the time left, after a reconnect)."""
        now = self.clock()
        return InterpreterOffer(
            request_id=request.request_id,
            session_id=request.session_id,
            language=request.language,
            modality=request.modality,
            session_language=request.session_language,
            agency=request.agency,
            service=request.service,
            site=OfferSite(
                id=request.site,
                kind=request.site_kind,
                municipality=request.municipality,
                region=request.region,
            ),
            urgency=request.urgency,
            waited_s=round(now - request.requested_at, 1),
            ring_timeout_s=round(max(0.0, request.rings.get(subject, now) - now), 1),
        )

    async def _show(self, request: InterpreterRequestRecord) -> None:
        """Show the members how the request stands (ringing, widened, unanswered)."""

        def change(record: SessionRecord) -> bool:
            shown = record.interpreter_request
            if shown is None or shown.request_id != request.request_id:
                return False
            shown.widened = request.widened
            shown.rung = len(request.rings)
            shown.state = "unanswered" if request.unanswered else "ringing"
            shown.started_at = request.started_at
            return True

        session = await self.router.update_session(request.session_id, change)
        if session is not None:
            await self.router.broadcast(session)

    async def ring_open_requests(self) -> None:
        """Ring for every open request (someone became available)."""
        for request_id in await self.store.index_members(OPEN_INDEX):
            await self._ring(request_id)

    async def resend_rings(self, subject: str) -> None:
        """Ring an interpreter again for requests still ringing at them (after a reconnect)."""
        for request_id in await self.store.index_members(OPEN_INDEX):
            request = await self.store.load_record(REQUEST, request_id, InterpreterRequestRecord)
            if request is not None and request.is_open and subject in request.rings:
                await self.courier.send(subject, self._offer_message(request, subject))

    async def tick(self) -> None:
        """Run out old rings, tell unanswered requests, widen and ring the newly eligible."""
        for request_id in await self.store.index_members(OPEN_INDEX):
            request = await self.store.load_record(REQUEST, request_id, InterpreterRequestRecord)
            if request is None or not request.is_open:
                await self.store.index_remove(OPEN_INDEX, request_id)
                continue
            await self._expire_rings(request_id)
            await self._mark_unanswered(request_id)
            await self._ring(request_id)

    async def _expire_rings(self, request_id: str) -> None:
        """Withdraw rings that ran out; their interpreters are not rung again for it."""
        now = self.clock()
        expired: list[str] = []

        def change(record: InterpreterRequestRecord) -> bool:
            if not record.is_open:
                return False
            expired[:] = [s for s, deadline in record.rings.items() if deadline <= now]
            for subject in expired:
                del record.rings[subject]
                record.skipped.append(subject)
            return bool(expired)

        request = await self._update_request(request_id, change)
        if request is None:
            return
        for subject in expired:
            await self.courier.send(
                subject, InterpreterOfferWithdrawn(request_id=request_id, reason="timeout")
            )
            await self._count_missed_ring(subject)
        await self._show(request)

    async def _count_missed_ring(self, subject: str) -> None:
        """Count a ring that rang out; pause an interpreter who misses too many in a row."""
        limit = self.settings.pause_after_missed_rings
        paused: list[bool] = []

        def change(record: InterpreterRecord) -> bool:
            record.missed_rings += 1
            paused[:] = [record.missed_rings >= limit and record.state == "available"]
            if paused[0]:
                record.state = "paused"
                record.pause_reason = "missed_offers"
                record.missed_rings = 0
            return True

        record = await self._update_interpreter(subject, change)
        if record is not None and paused[0]:
            await self.courier.send(subject, self.availability_of(record))

    async def _mark_unanswered(self, request_id: str) -> None:
        """Tell the call plainly once nobody has accepted within the limit."""
        now = self.clock()

        def change(record: InterpreterRequestRecord) -> bool:
            if not record.is_open or record.unanswered:
                return False
            if now < record.started_at + self.settings.answer_limit_s:
                return False
            record.unanswered = True
            return True

        request = await self._update_request(request_id, change)
        if request is None:
            return
        session = await self.store.load_session(request.session_id)
        if session is not None:
            need = InterpreterNeed(language=request.language, modality=request.modality)
            await self.router.emit("interpreter_unanswered", session, interpreting=need)
        await self._show(request)

    # --- the interpreter's answer -----------------------------------------------------

    async def _ringing(self, request_id: str, subject: str) -> InterpreterRequestRecord:
        """Return a request that rings at ``subject``, or refuse plainly."""
        request = await self.store.load_record(REQUEST, request_id, InterpreterRequestRecord)
        if request is None:
            raise RoutingError(ErrorCode.NOT_FOUND, "no such request", "request_id")
        if not request.is_open or subject not in request.rings:
            raise RoutingError(
                ErrorCode.CONFLICT, "this request no longer rings at you", "request_id"
            )
        return request

    async def accept(self, principal: Principal, request_id: str) -> SessionRecord:
        """Join the call of a request that rings at the interpreter; exactly one wins."""
        subject = principal.subject
        request = await self._ringing(request_id, subject)
        session_id = request.session_id

        def claim(record: InterpreterRecord) -> bool:
            if record.state != "available":
                return False
            record.state = "busy"
            record.session_id = session_id
            record.missed_rings = 0
            return True

        busy = await self._update_interpreter(subject, claim)
        if busy is None:
            raise RoutingError(ErrorCode.CONFLICT, "you are not available", "request_id")

        def take(record: InterpreterRequestRecord) -> bool:
            if not record.is_open or subject not in record.rings:
                raise RoutingError(
                    ErrorCode.CONFLICT, "another interpreter took this request", "request_id"
                )
            record.state = "taken"
            record.taken_by = subject
            return True

        try:
            taken = await self._update_request(request_id, take)
            assert taken is not None
            session = await self._join(taken, principal)
        except RoutingError:
            await self.release(subject, session_id)
            raise
        await self.courier.send(subject, self.availability_of(busy))
        for other in taken.rings:
            if other != subject:
                await self.courier.send(
                    other, InterpreterOfferWithdrawn(request_id=request_id, reason="taken")
                )
        return session

    async def _join(self, request: InterpreterRequestRecord, principal: Principal) -> SessionRecord:
        """Add the accepting interpreter to the call and tell everyone."""
        account = self.directory.account(username_of(principal.subject) or "")
        need = InterpreterNeed(language=request.language, modality=request.modality)
        member = Member(
            id=new_participant_id(),
            kind="interpreter",
            subject=principal.subject,
            display_name=account.public_name if account else None,
            interpreting=need,
        )

        def join(record: SessionRecord) -> bool:
            if record.finished:
                raise RoutingError(ErrorCode.CONFLICT, "the call is over", "request_id")
            if len(record.interpreters()) >= self.settings.max_per_session:
                raise RoutingError(
                    ErrorCode.CONFLICT, "the call has its interpreters", "request_id"
                )
            record.members.append(member)
            shown = record.interpreter_request
            if shown is not None and shown.request_id == request.request_id:
                record.interpreter_request = None
            return True

        session = await self.router.update_session(request.session_id, join)
        if session is None:
            raise RoutingError(ErrorCode.CONFLICT, "the call is over", "request_id")
        await self.store.add_membership(principal.subject, session.session_id)
        wait = round(self.clock() - request.requested_at, 1)
        await self.router.emit(
            "participant_joined",
            session,
            participant_kind="interpreter",
            interpreting=need,
            interpreter_wait_s=wait,
        )
        await self.router.audit_member("session_joined", principal.subject, session, "interpreter")
        await self.router.broadcast(session)
        await self.router.announce(session, member, "joined")
        return session

    async def decline(self, principal: Principal, request_id: str) -> None:
        """Pass on a request; it does not ring at this interpreter again."""
        subject = principal.subject
        await self._ringing(request_id, subject)

        def change(record: InterpreterRequestRecord) -> bool:
            if subject not in record.rings:
                raise RoutingError(
                    ErrorCode.CONFLICT, "this request no longer rings at you", "request_id"
                )
            del record.rings[subject]
            record.skipped.append(subject)
            return True

        request = await self._update_request(request_id, change)
        assert request is not None
        await self.courier.send(
            subject, InterpreterOfferWithdrawn(request_id=request_id, reason="declined")
        )

        def answered(record: InterpreterRecord) -> bool:
            record.missed_rings = 0  # a decline is an answer: someone is at the desk
            return True

        await self._update_interpreter(subject, answered)
        await self._show(request)


__all__ = ["InterpreterBridge"]
