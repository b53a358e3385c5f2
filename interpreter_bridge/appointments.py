"""Booked remote appointments: book, list, confirm the interpreter, cancel, check in.

An appointment is a record in the shared store; its numeric code is a second record
keyed by the code, created with compare-and-set so that two appointments can never
share a code. The code is what the citizen types at the booth: it is shown to the expert
who booked (to pass on by the agency's own letter or SMS), never to the interpreter.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from signaling.directory import Directory
from signaling.identity import Principal
from signaling.protocol import ErrorCode, InterpreterNeed, Modality
from signaling.records import Record
from signaling.routing import RoutingError
from signaling.store import Store

from .registry import missing_field, qualifies, subject_of

APPOINTMENT = "ap"
CODE = "apc"
GUEST_LINK = "apg"
ALL_INDEX = "ap-all"
MAX_CAS_RETRIES = 20
MAX_AHEAD = timedelta(days=365)
KEEP_AFTER_END_S = 7 * 24 * 3600  # then the record (and its code) expire from the store
CODE_ATTEMPTS = 20

AppointmentState = Literal["booked", "checked_in", "cancelled"]
BookingStatus = Literal["pending", "confirmed", "declined"]


class InterpreterBooking(BaseModel):
    """The interpreting booked with an appointment, and the interpreter's answer."""

    model_config = ConfigDict(extra="forbid")

    language: str
    modality: Modality
    username: str | None = None  # None: whoever is free joins on demand
    status: BookingStatus = "pending"

    @property
    def need(self) -> InterpreterNeed:
        """The language and modality as a session carries them."""
        return InterpreterNeed(language=self.language, modality=self.modality)


class AppointmentRecord(Record):
    """One booked remote appointment at a site."""

    appointment_id: str
    code: str
    site: str
    start: float
    end: float
    agency: str
    service: str
    language: str
    expert: str  # username
    booked_by: str  # username
    interpreter: InterpreterBooking | None = None
    state: AppointmentState = "booked"
    session_id: str | None = None
    created_at: float
    guest_link: str | None = None  # SHA-256 of the current one-time link's secret

    def public(self, *, with_code: bool) -> dict[str, Any]:
        """Return the appointment as the REST API shows it."""
        data = self.model_dump(
            mode="json", exclude={"version", "code", "appointment_id", "guest_link"}
        )
        data["id"] = self.appointment_id
        if with_code:
            data["code"] = self.code
        return data


class AppointmentCode(Record):
    """The key from a citizen's code to its appointment."""

    appointment_id: str


class GuestLink(Record):
    """A one-time link's key (its secret's digest) to its appointment."""

    appointment_id: str
    used: bool = False


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Booking(BaseModel):
    """What an expert (or an admin for them) asks to book."""

    model_config = ConfigDict(extra="forbid")

    site: str
    start: datetime
    duration_min: int = 30
    agency: str
    service: str
    language: str
    expert: str | None = None  # username; default: the expert booking
    interpreter: InterpreterBooking | None = None


def _index(role: str, username: str) -> str:
    return f"ap-{role}:{username}"


class Appointments:
    """Booked appointments in the shared store."""

    def __init__(
        self, store: Store, directory: Directory, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock
        self.settings = directory.appointments

    # --- records ----------------------------------------------------------------------

    async def load(self, appointment_id: str) -> AppointmentRecord | None:
        """Return an appointment by id, or None."""
        return await self.store.load_record(APPOINTMENT, appointment_id, AppointmentRecord)

    async def _save(self, record: AppointmentRecord) -> bool:
        ttl = max(1, int(record.end + KEEP_AFTER_END_S - self.clock()))
        return await self.store.save_record(APPOINTMENT, record.appointment_id, record, ttl)

    async def update(
        self, appointment_id: str, change: Callable[[AppointmentRecord], bool]
    ) -> AppointmentRecord:
        """Apply ``change`` with compare-and-set; not_found when there is no such record."""
        for _ in range(MAX_CAS_RETRIES):
            record = await self.load(appointment_id)
            if record is None:
                raise RoutingError(ErrorCode.NOT_FOUND, "no such appointment", "id")
            if not change(record):
                return record
            if await self._save(record):
                return record
        raise RoutingError(ErrorCode.CONFLICT, "the appointment is changing too fast")

    # --- booking ----------------------------------------------------------------------

    async def book(self, booker: Principal, booking: Booking) -> AppointmentRecord:
        """Check a booking completely, then store it with a fresh unique code."""
        expert = self._check_booking(booker, booking)
        start = booking.start.timestamp()
        end = start + booking.duration_min * 60
        await self._check_free(expert, start, end)
        now = self.clock()
        record = AppointmentRecord(
            appointment_id=f"ap-{secrets.token_hex(8)}",
            code="",
            site=booking.site,
            start=start,
            end=end,
            agency=booking.agency,
            service=booking.service,
            language=booking.language,
            expert=expert,
            booked_by=booker.username or "",
            interpreter=booking.interpreter,
            created_at=now,
        )
        record.code = await self._claim_code(record.appointment_id, end)
        await self._save(record)
        for index in self._indexes(record):
            await self.store.index_add(index, record.appointment_id, start)
        return record

    def _check_booking(self, booker: Principal, booking: Booking) -> str:
        """Refuse a booking that names anything unknown or unfit; return the expert."""
        if not (booker.has_role("expert") or booker.has_role("admin")):
            raise RoutingError(ErrorCode.FORBIDDEN, "only experts and admins book", "type")
        if self.directory.site(booking.site) is None:
            raise RoutingError(ErrorCode.NOT_FOUND, "no such site", "site")
        agency = self.directory.agency(booking.agency)
        if agency is None:
            raise RoutingError(ErrorCode.NOT_FOUND, "no such agency", "agency")
        if agency.service(booking.service) is None:
            raise RoutingError(ErrorCode.NOT_FOUND, "no such service", "service")
        if booking.language not in agency.service_languages(booking.service):
            raise RoutingError(
                ErrorCode.NOT_FOUND, "the service is not in this language", "language"
            )
        expert = booking.expert or booker.username or ""
        if not booker.has_role("admin") and expert != booker.username:
            raise RoutingError(ErrorCode.FORBIDDEN, "experts book for themselves", "expert")
        account = self.directory.account(expert)
        role = account.expert if account else None
        if role is None or booking.agency not in role.agencies:
            raise RoutingError(ErrorCode.INVALID_FIELD, "not an expert of this agency", "expert")
        if booking.language not in role.languages or (
            role.services is not None and booking.service not in role.services
        ):
            raise RoutingError(
                ErrorCode.INVALID_FIELD, "the expert does not serve this service", "expert"
            )
        self._check_time(booking)
        if booking.interpreter is not None:
            self._check_interpreter(booking)
        return expert

    def _check_time(self, booking: Booking) -> None:
        """Refuse a time without an offset, in the past, too far ahead or when closed."""
        if booking.start.tzinfo is None:
            raise RoutingError(
                ErrorCode.INVALID_FIELD, "the start needs a time zone offset", "start"
            )
        if not 5 <= booking.duration_min <= 240:
            raise RoutingError(
                ErrorCode.INVALID_FIELD, "the duration is 5 to 240 minutes", "duration_min"
            )
        now = datetime.fromtimestamp(self.clock(), booking.start.tzinfo)
        if booking.start < now or booking.start > now + MAX_AHEAD:
            raise RoutingError(
                ErrorCode.INVALID_FIELD, "the start must be within the coming year", "start"
            )
        agency = self.directory.agency(booking.agency)
        assert agency is not None
        if not agency.hours.is_open(booking.start):
            raise RoutingError(ErrorCode.CLOSED, "the agency is closed at that time", "start")

    def _check_interpreter(self, booking: Booking) -> None:
        """Refuse interpreting that nobody serves, or a named interpreter who does not."""
        need = booking.interpreter
        assert need is not None
        field = missing_field(
            self.directory, booking.agency, booking.language, need.language, need.modality
        )
        if field is not None:
            raise RoutingError(
                ErrorCode.NOT_FOUND, "no interpreter serves this need", f"interpreter.{field}"
            )
        if need.username is not None:
            account = self.directory.account(need.username)
            if account is None or not qualifies(
                self.directory,
                account,
                booking.agency,
                booking.language,
                need.language,
                need.modality,
            ):
                raise RoutingError(
                    ErrorCode.INVALID_FIELD,
                    "this interpreter does not serve this need",
                    "interpreter.username",
                )
        need.status = "pending"

    async def _check_free(self, expert: str, start: float, end: float) -> None:
        """Refuse a booking that overlaps another of the same expert."""
        for other in await self._listed(_index("expert", expert)):
            if other.state != "cancelled" and other.start < end and start < other.end:
                raise RoutingError(
                    ErrorCode.CONFLICT, "the expert has another appointment then", "start"
                )

    async def _claim_code(self, appointment_id: str, end: float) -> str:
        """Create a unique numeric code (compare-and-set on the code's own record)."""
        digits = self.settings.code_digits
        ttl = max(1, int(end + KEEP_AFTER_END_S - self.clock()))
        for _ in range(CODE_ATTEMPTS):
            code = "".join(secrets.choice("0123456789") for _ in range(digits))
            claim = AppointmentCode(appointment_id=appointment_id)
            if await self.store.save_record(CODE, code, claim, ttl):
                return code
        raise RoutingError(ErrorCode.CONFLICT, "no free code; try again")

    def _indexes(self, record: AppointmentRecord) -> list[str]:
        indexes = [ALL_INDEX, _index("expert", record.expert)]
        if record.interpreter is not None and record.interpreter.username:
            indexes.append(_index("interpreter", record.interpreter.username))
        return indexes

    # --- reading ----------------------------------------------------------------------

    async def _listed(self, index: str) -> list[AppointmentRecord]:
        """Return an index's appointments that still exist, by start time."""
        records = []
        for appointment_id in await self.store.index_members(index):
            record = await self.load(appointment_id)
            if record is None:
                await self.store.index_remove(index, appointment_id)  # expired
            else:
                records.append(record)
        return records

    async def visible_to(self, principal: Principal) -> list[dict[str, Any]]:
        """Return the appointments a staff member sees, from an hour ago on, with codes
        only for those who pass them on (the booked expert, the booker, an admin)."""
        username = principal.username or ""
        since = self.clock() - 3600
        if principal.has_role("admin"):
            records = await self._listed(ALL_INDEX)
        else:
            seen: dict[str, AppointmentRecord] = {}
            for role in ("expert", "interpreter"):
                if principal.has_role(role):
                    for record in await self._listed(_index(role, username)):
                        seen[record.appointment_id] = record
            records = sorted(seen.values(), key=lambda r: r.start)
        return [
            record.public(with_code=self._may_see_code(principal, record))
            for record in records
            if record.end >= since
        ]

    def _may_see_code(self, principal: Principal, record: AppointmentRecord) -> bool:
        username = principal.username
        return principal.has_role("admin") or username in (record.expert, record.booked_by)

    # --- answers and cancelling -------------------------------------------------------

    async def answer(
        self, interpreter: Principal, appointment_id: str, status: BookingStatus
    ) -> AppointmentRecord:
        """The booked interpreter confirms or declines."""

        def change(record: AppointmentRecord) -> bool:
            booked = record.interpreter
            if booked is None or booked.username != interpreter.username:
                raise RoutingError(ErrorCode.FORBIDDEN, "not booked for you", "id")
            if record.state != "booked":
                raise RoutingError(ErrorCode.CONFLICT, f'the appointment is "{record.state}"', "id")
            booked.status = status
            return True

        return await self.update(appointment_id, change)

    async def cancel(self, principal: Principal, appointment_id: str) -> AppointmentRecord:
        """Cancel an appointment (its expert, who booked it, or an admin)."""

        def change(record: AppointmentRecord) -> bool:
            if not (
                principal.has_role("admin")
                or principal.username in (record.expert, record.booked_by)
            ):
                raise RoutingError(ErrorCode.FORBIDDEN, "not your appointment", "id")
            if record.state == "cancelled":
                return False
            if record.state != "booked":
                raise RoutingError(ErrorCode.CONFLICT, f'the appointment is "{record.state}"', "id")
            record.state = "cancelled"
            return True

        return await self.update(appointment_id, change)

    # --- at the booth -----------------------------------------------------------------

    async def find_for_checkin(self, code: str, site: str) -> AppointmentRecord | None:
        """Return the appointment a code opens at a site now, or None (whatever the
        reason: unknown, another site, too early, too late, cancelled)."""
        key = await self.store.load_record(CODE, code, AppointmentCode)
        if key is None:
            return None
        record = await self.load(key.appointment_id)
        if record is None or record.site != site or not self.in_window(record):
            return None
        return record

    def in_window(self, record: AppointmentRecord) -> bool:
        """Tell whether an appointment that is not cancelled may start its call now."""
        now = self.clock()
        early = record.start - self.settings.checkin_early_s
        return record.state != "cancelled" and early <= now <= record.end

    # --- the guest link ---------------------------------------------------------------

    async def issue_guest_link(self, principal: Principal, appointment_id: str) -> str:
        """Return a new one-time secret for joining from home; earlier ones stop working."""
        secret = secrets.token_urlsafe(32)
        digest = _digest(secret)

        def change(record: AppointmentRecord) -> bool:
            if not self._may_see_code(principal, record):
                raise RoutingError(ErrorCode.FORBIDDEN, "not your appointment", "id")
            if record.state == "cancelled" or record.end < self.clock():
                raise RoutingError(ErrorCode.CONFLICT, "the appointment is over", "id")
            record.guest_link = digest
            return True

        record = await self.update(appointment_id, change)
        ttl = max(1, int(record.end - self.clock()))
        await self.store.save_record(
            GUEST_LINK, digest, GuestLink(appointment_id=appointment_id), ttl
        )
        return secret

    async def redeem_guest_link(self, secret: str) -> AppointmentRecord | None:
        """Use up a guest link and return its appointment; None if it is unknown, used,
        replaced by a newer link, cancelled or over."""
        digest = _digest(secret)
        link = await self.store.load_record(GUEST_LINK, digest, GuestLink)
        if link is None or link.used:
            return None
        link.used = True
        # Compare-and-set: of two tabs opening the same link, one wins.
        if not await self.store.save_record(GUEST_LINK, digest, link, 3600):
            return None
        record = await self.load(link.appointment_id)
        if (
            record is None
            or record.guest_link != digest
            or record.state == "cancelled"
            or record.end < self.clock()
        ):
            return None
        return record

    def booked_subjects(self, record: AppointmentRecord) -> tuple[str, str | None]:
        """Return the subjects of the booked expert and interpreter."""
        interpreter = record.interpreter.username if record.interpreter else None
        return subject_of(record.expert), subject_of(interpreter) if interpreter else None


__all__ = ["AppointmentRecord", "Appointments", "Booking", "InterpreterBooking"]
