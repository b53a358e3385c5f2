"""The queue overview an expert's console shows: their queues and colleagues available."""

from __future__ import annotations

from .directory import Directory
from .identity import Principal
from .protocol import OverviewColleagues, OverviewQueue, QueueOverview, Skills
from .records import ExpertRecord, queue_key
from .store import Store

OLDEST_SCAN = 20  # the oldest caller is among the first few (front entries come first)


class QueueCounts:
    """Queue lengths, oldest waits and available experts, each read once per push."""

    def __init__(self, store: Store, now: float, lengths: dict[str, int]) -> None:
        self.store = store
        self.now = now
        self.lengths = lengths
        self._oldest: dict[str, float | None] = {}
        self._available: dict[str, int] = {}

    async def oldest_wait(self, queue: str) -> float | None:
        """Return how long the longest-waiting call of a queue has waited, or None."""
        if queue not in self._oldest:
            oldest: float | None = None
            if self.lengths.get(queue, 0) > 0:
                for session_id in await self.store.queue_members(queue, OLDEST_SCAN):
                    record = await self.store.peek_session(session_id)
                    if record is not None and record.state == "queued":
                        waited = max(0.0, self.now - record.requested_at)
                        oldest = waited if oldest is None else max(oldest, waited)
            self._oldest[queue] = None if oldest is None else round(oldest, 1)
        return self._oldest[queue]

    async def available(self, agency: str) -> int:
        """Return how many of an agency's experts are available now (not in wrap-up)."""
        if agency not in self._available:
            self._available[agency] = await self.store.count_available(agency, self.now)
        return self._available[agency]


def skills_of(directory: Directory, expert: Principal, record: ExpertRecord | None) -> Skills:
    """Return the skills an expert serves: this shift's choice, else their account's."""
    if record is not None:
        return Skills(
            agencies=record.agencies, services=record.services, languages=record.languages
        )
    account = directory.account(expert.username or "")
    role = account.expert if account else None
    if role is None:
        return Skills.model_construct(agencies=[], services=None, languages=[])
    return Skills(agencies=role.agencies, services=role.services, languages=role.languages)


def served_queues(directory: Directory, skills: Skills) -> list[tuple[str, str, str]]:
    """Return the (agency, service, language) of every queue the skills serve."""
    queues = []
    for agency_id in skills.agencies:
        agency = directory.agency(agency_id)
        if agency is None:
            continue
        for service in agency.services:
            if skills.services is not None and service.id not in skills.services:
                continue
            for language in agency.service_languages(service.id):
                if language in skills.languages:
                    queues.append((agency.id, service.id, language))
    return queues


async def build_overview(
    directory: Directory, counts: QueueCounts, expert: Principal, record: ExpertRecord | None
) -> QueueOverview:
    """Return the overview of one expert's queues and their colleagues available."""
    skills = skills_of(directory, expert, record)
    queues = []
    for agency, service, language in served_queues(directory, skills):
        queue = queue_key(agency, service, language)
        queues.append(
            OverviewQueue(
                queue=queue,
                agency=agency,
                service=service,
                language=language,
                waiting=counts.lengths.get(queue, 0),
                oldest_wait_s=await counts.oldest_wait(queue),
            )
        )
    counted_self = (
        record is not None and record.state == "available" and not record.in_wrap_up(counts.now)
    )
    colleagues = [
        OverviewColleagues(
            agency=agency,
            available=max(0, await counts.available(agency) - (1 if counted_self else 0)),
        )
        for agency in skills.agencies
    ]
    return QueueOverview(queues=queues, colleagues=colleagues)
