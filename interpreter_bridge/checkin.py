"""A citizen's check-in at the booth with an appointment's code, throttled per site."""

from __future__ import annotations

import time
from collections.abc import Callable

from signaling.directory import Directory
from signaling.identity import Principal
from signaling.protocol import AppointmentCheckin, CallRequest, ErrorCode
from signaling.records import SessionRecord
from signaling.routing import BookedCall, Router, RoutingError
from signaling.store import Store

from .appointments import AppointmentRecord, Appointments


class CheckIn:
    """Turns a right code into a booked call; refuses every wrong one alike."""

    def __init__(
        self,
        store: Store,
        directory: Directory,
        router: Router,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.router = router
        self.clock = clock
        self.book = Appointments(store, directory, clock)
        self.settings = directory.appointments

    async def check_in(self, booth: Principal, message: AppointmentCheckin) -> SessionRecord:
        """Start the booked call of a code at this booth's site, within its window."""
        assert booth.site is not None
        key = f"checkin:{booth.site}"
        now = self.clock()
        window = self.settings.wrong_code_window_s
        failures = await self.store.login_failures(key, now, window)
        if len(failures) >= self.settings.wrong_code_limit:
            raise RoutingError(
                ErrorCode.RATE_LIMITED,
                "too many wrong codes; wait a moment",
                "code",
                retry_after_s=round(max(0.1, failures[0] + window - now), 1),
            )
        record = await self.book.find_for_checkin(message.code, booth.site)
        if record is None:
            await self.store.add_login_failure(key, now, window)
            # The same answer for unknown, other-site, early, late or cancelled codes.
            raise RoutingError(
                ErrorCode.NOT_FOUND, "no appointment with this code here now", "code"
            )
        await self.store.clear_login_failures(key)
        return await self._start(booth, message.id, record)

    async def guest_check_in(self, guest: Principal, request_id: str) -> SessionRecord:
        """Start the booked call of a citizen at home (a guest link's appointment)."""
        appointment_id = guest.subject.removeprefix("guest:")
        record = await self.book.load(appointment_id)
        if record is None or not self.book.in_window(record):
            raise RoutingError(ErrorCode.CONFLICT, "the appointment is not open now", "appointment")
        return await self._start(guest, request_id, record)

    async def _start(
        self, caller: Principal, request_id: str, record: AppointmentRecord
    ) -> SessionRecord:
        session = await self.router.request_call(
            caller, self._call_request(request_id, record), self._booked(record)
        )
        await self.book.update(record.appointment_id, _checked_in(session.session_id))
        return session

    @staticmethod
    def _call_request(request_id: str, record: AppointmentRecord) -> CallRequest:
        return CallRequest(
            type="call_request",
            id=request_id,
            agency=record.agency,
            service=record.service,
            language=record.language,
            interpreter=record.interpreter.need if record.interpreter else None,
        )

    def _booked(self, record: AppointmentRecord) -> BookedCall:
        expert, interpreter = self.book.booked_subjects(record)
        wait_from = max(self.clock(), record.start)
        return BookedCall(
            appointment_id=record.appointment_id,
            expert=expert,
            interpreter=interpreter,
            expert_wait_until=wait_from + self.settings.booked_expert_wait_s,
        )


def _checked_in(session_id: str) -> Callable[[AppointmentRecord], bool]:
    def change(record: AppointmentRecord) -> bool:
        record.state = "checked_in"
        record.session_id = session_id
        return True

    return change
