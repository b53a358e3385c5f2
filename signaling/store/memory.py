"""In-process store: the embedded default for the demo and a single small node."""

from __future__ import annotations

import bisect
import json
import logging
import time
import uuid
from collections import Counter, defaultdict, deque
from typing import Any, TypeVar

from ..records import ExpertRecord, Record, SessionRecord
from .base import EventLog, Handler, Store

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Record)

FINISHED_SESSION_TTL_S = 24 * 3600.0  # as the Redis store keeps them


class _SortedSet:
    """A tiny sorted set: members ordered by (score, member)."""

    def __init__(self) -> None:
        self._scores: dict[str, float] = {}
        self._order: list[tuple[float, str]] = []

    def add(self, member: str, score: float) -> None:
        self.remove(member)
        self._scores[member] = score
        bisect.insort(self._order, (score, member))

    def remove(self, member: str) -> None:
        score = self._scores.pop(member, None)
        if score is not None:
            self._order.remove((score, member))

    def members(self, limit: int | None = None) -> list[str]:
        items = self._order if limit is None else self._order[:limit]
        return [member for _, member in items]

    def count_below(self, score: float) -> int:
        return bisect.bisect_right(self._order, (score, "\U0010ffff"))

    def rank(self, member: str) -> int | None:
        score = self._scores.get(member)
        if score is None:
            return None
        return bisect.bisect_left(self._order, (score, member))

    def up_to(self, limit: float) -> list[str]:
        end = bisect.bisect_right(self._order, (limit, "\U0010ffff"))
        return [member for _, member in self._order[:end]]

    def __len__(self) -> int:
        return len(self._order)


class MemoryStore(Store):
    """All state in this process; single-threaded asyncio makes each call atomic."""

    kind = "memory"

    def __init__(self) -> None:
        self._epoch = uuid.uuid4().hex
        self._sessions: dict[str, str] = {}
        self._states: Counter[str] = Counter()
        self._finished: deque[tuple[float, str]] = deque()
        self._peeked: dict[str, tuple[str, SessionRecord]] = {}
        self._experts: dict[str, str] = {}
        self._available: defaultdict[str, _SortedSet] = defaultdict(_SortedSet)
        self._queues: defaultdict[str, _SortedSet] = defaultdict(_SortedSet)
        self._handling: defaultdict[str, list[float]] = defaultdict(list)
        self._offers = _SortedSet()
        self._seen = _SortedSet()
        self._nodes: dict[str, str] = {}
        self._members: defaultdict[str, set[str]] = defaultdict(set)
        self._logs: dict[str, list[tuple[str, dict[str, Any]]]] = {"events": [], "audit": []}
        self._trimmed: dict[str, int] = {"events": 0, "audit": 0}  # entries forgotten
        self._health: dict[str, str] = {}
        self._login_failures: dict[str, list[float]] = {}
        self._records: dict[str, str] = {}
        self._record_expiry = _SortedSet()
        self._indexes: defaultdict[str, _SortedSet] = defaultdict(_SortedSet)
        self._subscribers: list[tuple[frozenset[str], Handler]] = []
        self._closed = False

    @staticmethod
    def _cas(table: dict[str, str], key: str, record: R) -> bool:
        # Stored as JSON, as Redis does, so that callers cannot share mutable state.
        stored = table.get(key)
        current = 0 if stored is None else type(record).model_validate_json(stored).version
        if current != record.version:
            return False
        record.version += 1
        table[key] = record.model_dump_json()
        return True

    async def load_session(self, session_id: str) -> SessionRecord | None:
        stored = self._sessions.get(session_id)
        return None if stored is None else SessionRecord.model_validate_json(stored)

    async def peek_session(self, session_id: str) -> SessionRecord | None:
        # Parsed once per stored version: relaying signals reads sessions very often.
        stored = self._sessions.get(session_id)
        if stored is None:
            return None
        cached = self._peeked.get(session_id)
        if cached is not None and cached[0] is stored:
            return cached[1]
        record = SessionRecord.model_validate_json(stored)
        self._peeked[session_id] = (stored, record)
        return record

    async def save_session(self, record: SessionRecord) -> bool:
        stored = self._sessions.get(record.session_id)
        previous = None if stored is None else SessionRecord.model_validate_json(stored).state
        if not self._cas(self._sessions, record.session_id, record):
            return False
        if previous != record.state:
            if previous is not None:
                self._states[previous] -= 1
            self._states[record.state] += 1
            if record.finished:
                self._finished.append((time.monotonic(), record.session_id))
        self._expire_finished()
        return True

    def _expire_finished(self) -> None:
        """Forget finished sessions after a while, as Redis does with a TTL."""
        horizon = time.monotonic() - FINISHED_SESSION_TTL_S
        while self._finished and self._finished[0][0] < horizon:
            session_id = self._finished.popleft()[1]
            self._sessions.pop(session_id, None)
            self._peeked.pop(session_id, None)

    async def count_sessions_by_state(self) -> dict[str, int]:
        return {state: n for state, n in self._states.items() if n > 0}

    async def load_record(self, kind: str, key: str, model: type[R]) -> R | None:
        self._expire_records()
        stored = self._records.get(f"{kind}:{key}")
        return None if stored is None else model.model_validate_json(stored)

    async def save_record(self, kind: str, key: str, record: Record, ttl_s: int = 0) -> bool:
        name = f"{kind}:{key}"
        if not self._cas(self._records, name, record):
            return False
        if ttl_s > 0:
            self._record_expiry.add(name, time.monotonic() + ttl_s)
        else:
            self._record_expiry.remove(name)
        return True

    def _expire_records(self) -> None:
        for name in self._record_expiry.up_to(time.monotonic()):
            self._record_expiry.remove(name)
            self._records.pop(name, None)

    async def index_add(self, index: str, member: str, score: float) -> None:
        self._indexes[index].add(member, score)

    async def index_remove(self, index: str, member: str) -> None:
        self._indexes[index].remove(member)

    async def index_members(self, index: str) -> list[str]:
        return self._indexes[index].members()

    async def load_expert(self, subject: str) -> ExpertRecord | None:
        stored = self._experts.get(subject)
        return None if stored is None else ExpertRecord.model_validate_json(stored)

    async def save_expert(self, record: ExpertRecord) -> bool:
        return self._cas(self._experts, record.subject, record)

    async def set_available(self, agency: str, subject: str, idle_since: float) -> None:
        self._available[agency].add(subject, idle_since)

    async def clear_available(self, agency: str, subject: str) -> None:
        self._available[agency].remove(subject)

    async def available_experts(self, agency: str) -> list[str]:
        return self._available[agency].members()

    async def count_available(self, agency: str, idle_before: float) -> int:
        return self._available[agency].count_below(idle_before)

    async def enqueue(self, queue: str, session_id: str, score: float) -> None:
        self._queues[queue].add(session_id, score)

    async def dequeue(self, queue: str, session_id: str) -> None:
        self._queues[queue].remove(session_id)

    async def queue_members(self, queue: str, limit: int = 100) -> list[str]:
        return self._queues[queue].members(limit)

    async def queue_rank(self, queue: str, session_id: str) -> int | None:
        return self._queues[queue].rank(session_id)

    async def queue_lengths(self) -> dict[str, int]:
        return {queue: len(order) for queue, order in self._queues.items() if len(order)}

    async def add_handling_time(self, queue: str, seconds: float, keep: int = 20) -> None:
        times = self._handling[queue]
        times.insert(0, seconds)
        del times[keep:]

    async def handling_times(self, queue: str) -> list[float]:
        return list(self._handling[queue])

    async def set_offer_deadline(self, session_id: str, deadline: float) -> None:
        self._offers.add(session_id, deadline)

    async def clear_offer_deadline(self, session_id: str) -> None:
        self._offers.remove(session_id)

    async def expired_offers(self, now: float) -> list[str]:
        return self._offers.up_to(now)

    async def touch_presence(self, subjects: list[str], node_id: str, now: float) -> None:
        for subject in subjects:
            self._seen.add(subject, now)
            self._nodes[subject] = node_id

    async def mark_disconnected(self, subject: str, node_id: str, now: float) -> None:
        if self._nodes.get(subject) == node_id:
            del self._nodes[subject]
            self._seen.add(subject, now)

    async def presence_node(self, subject: str) -> str | None:
        return self._nodes.get(subject)

    async def present_subjects(self) -> dict[str, str]:
        return dict(self._nodes)

    async def stale_subjects(self, before: float) -> list[str]:
        return self._seen.up_to(before)

    async def forget_presence(self, subject: str) -> None:
        self._seen.remove(subject)
        self._nodes.pop(subject, None)

    async def add_membership(self, subject: str, session_id: str) -> None:
        self._members[subject].add(session_id)

    async def remove_membership(self, subject: str, session_id: str) -> None:
        self._members[subject].discard(session_id)
        if not self._members[subject]:
            del self._members[subject]

    async def memberships(self, subject: str) -> list[str]:
        return sorted(self._members.get(subject, ()))

    async def add_login_failure(self, key: str, now: float, window_s: float) -> None:
        kept = [t for t in self._login_failures.get(key, []) if t > now - window_s]
        self._login_failures[key] = [*kept, now]

    async def login_failures(self, key: str, now: float, window_s: float) -> list[float]:
        return [t for t in self._login_failures.get(key, []) if t > now - window_s]

    async def clear_login_failures(self, key: str) -> None:
        self._login_failures.pop(key, None)

    async def save_booth_health(self, site: str, report: dict[str, Any]) -> None:
        self._health[site] = json.dumps(report)

    async def booth_health(self) -> dict[str, dict[str, Any]]:
        return {site: json.loads(report) for site, report in self._health.items()}

    async def append_event(self, event: dict[str, Any], log: EventLog = "events") -> str:
        entries = self._logs[log]
        event_id = f"{self._trimmed[log] + len(entries) + 1}-0"
        entries.append((event_id, dict(event)))
        return event_id

    async def log_epoch(self, log: EventLog = "events") -> str:
        return self._epoch  # the logs live and die with this object

    async def read_events(
        self, after: str = "0", count: int = 1000, log: EventLog = "events"
    ) -> list[tuple[str, dict[str, Any]]]:
        start = max(0, int(after.split("-")[0]) - self._trimmed[log])
        return [(i, dict(e)) for i, e in self._logs[log][start : start + count]]

    async def trim_events(self, through: str, log: EventLog = "events") -> int:
        gone = min(int(through.split("-")[0]) - self._trimmed[log], len(self._logs[log]))
        if gone <= 0:
            return 0
        del self._logs[log][:gone]
        self._trimmed[log] += gone
        return gone

    async def publish(self, channel: str, payload: str) -> None:
        for channels, handler in list(self._subscribers):
            if channel in channels:
                try:
                    await handler(payload)
                except Exception:  # as with Redis: never the publisher's problem
                    log.exception("handler failed for a published message")

    async def subscribe(self, channels: list[str], handler: Handler) -> None:
        self._subscribers.append((frozenset(channels), handler))

    async def ping(self) -> bool:
        return not self._closed

    async def close(self) -> None:
        self._closed = True
        self._subscribers.clear()
