"""The Store interface: all shared state of the signaling nodes.

Every operation touches one key, so that Redis Cluster can hold the data; atomicity
comes from compare-and-set on versioned records (sessions, experts), never from
multi-key transactions. Indexes (queues, available experts, offer deadlines) are
hints kept beside the records: a reader always re-checks the record.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from ..records import ExpertRecord, Record, SessionRecord

R = TypeVar("R", bound=Record)
Handler = Callable[[str], Awaitable[None]]
EventLog = Literal["events", "audit"]


class Store(abc.ABC):
    """Shared state of the signaling nodes."""

    kind: str

    # --- sessions -------------------------------------------------------------------

    @abc.abstractmethod
    async def load_session(self, session_id: str) -> SessionRecord | None:
        """Return a session record, or None if it does not exist."""

    async def peek_session(self, session_id: str) -> SessionRecord | None:
        """Return a session record for reading only (it may be shared: never change it)."""
        return await self.load_session(session_id)

    @abc.abstractmethod
    async def save_session(self, record: SessionRecord) -> bool:
        """Store ``record`` if the stored version is still ``record.version``; bump it."""

    @abc.abstractmethod
    async def count_sessions_by_state(self) -> dict[str, int]:
        """Return how many sessions are in each state."""

    # --- experts --------------------------------------------------------------------

    @abc.abstractmethod
    async def load_expert(self, subject: str) -> ExpertRecord | None:
        """Return an expert's routing record, or None."""

    @abc.abstractmethod
    async def save_expert(self, record: ExpertRecord) -> bool:
        """Store ``record`` if the stored version is still ``record.version``; bump it."""

    @abc.abstractmethod
    async def set_available(self, agency: str, subject: str, idle_since: float) -> None:
        """Index an expert as available for an agency, ordered by idle time."""

    @abc.abstractmethod
    async def clear_available(self, agency: str, subject: str) -> None:
        """Remove an expert from an agency's available index."""

    @abc.abstractmethod
    async def available_experts(self, agency: str) -> list[str]:
        """Return the experts indexed as available for an agency, longest idle first."""

    @abc.abstractmethod
    async def count_available(self, agency: str, idle_before: float) -> int:
        """Count an agency's available experts idle since before a time (so not those
        still in wrap-up, whose idle time starts when it ends)."""

    # --- queues ---------------------------------------------------------------------

    @abc.abstractmethod
    async def enqueue(self, queue: str, session_id: str, score: float) -> None:
        """Put a session in a queue's order (lower score first)."""

    @abc.abstractmethod
    async def dequeue(self, queue: str, session_id: str) -> None:
        """Remove a session from a queue's order."""

    @abc.abstractmethod
    async def queue_members(self, queue: str, limit: int = 100) -> list[str]:
        """Return up to ``limit`` session ids of a queue, front first."""

    @abc.abstractmethod
    async def queue_rank(self, queue: str, session_id: str) -> int | None:
        """Return a session's 0-based place in its queue, or None."""

    @abc.abstractmethod
    async def queue_lengths(self) -> dict[str, int]:
        """Return the length of every non-empty queue."""

    @abc.abstractmethod
    async def add_handling_time(self, queue: str, seconds: float, keep: int = 20) -> None:
        """Remember how long a call of a queue took; keep the most recent ones."""

    @abc.abstractmethod
    async def handling_times(self, queue: str) -> list[float]:
        """Return recent handling times of a queue, newest first."""

    # --- offers ---------------------------------------------------------------------

    @abc.abstractmethod
    async def set_offer_deadline(self, session_id: str, deadline: float) -> None:
        """Index an open offer by the time it runs out."""

    @abc.abstractmethod
    async def clear_offer_deadline(self, session_id: str) -> None:
        """Remove an offer from the deadline index."""

    @abc.abstractmethod
    async def expired_offers(self, now: float) -> list[str]:
        """Return sessions whose offer deadline has passed."""

    # --- presence and membership ----------------------------------------------------

    @abc.abstractmethod
    async def touch_presence(self, subjects: list[str], node_id: str, now: float) -> None:
        """Record that subjects are connected to a node, as of ``now``."""

    @abc.abstractmethod
    async def mark_disconnected(self, subject: str, node_id: str, now: float) -> None:
        """Record that a subject lost its connection to ``node_id`` at ``now``."""

    @abc.abstractmethod
    async def presence_node(self, subject: str) -> str | None:
        """Return the node a subject is connected to, if any."""

    @abc.abstractmethod
    async def present_subjects(self) -> dict[str, str]:
        """Return every connected subject with its node (one read, for overviews)."""

    @abc.abstractmethod
    async def stale_subjects(self, before: float) -> list[str]:
        """Return subjects last seen before ``before``."""

    @abc.abstractmethod
    async def forget_presence(self, subject: str) -> None:
        """Drop a subject's presence entirely."""

    @abc.abstractmethod
    async def add_membership(self, subject: str, session_id: str) -> None:
        """Record that a subject belongs to a session."""

    @abc.abstractmethod
    async def remove_membership(self, subject: str, session_id: str) -> None:
        """Record that a subject no longer belongs to a session."""

    @abc.abstractmethod
    async def memberships(self, subject: str) -> list[str]:
        """Return the sessions a subject belongs to."""

    # --- other records and their indexes ---------------------------------------------
    # Domains beside routing (interpreters, interpreter requests) keep versioned records
    # and sorted indexes here, under a namespace ``kind``, with the same compare-and-set.

    @abc.abstractmethod
    async def load_record(self, kind: str, key: str, model: type[R]) -> R | None:
        """Return the record stored under (kind, key), or None."""

    @abc.abstractmethod
    async def save_record(self, kind: str, key: str, record: Record, ttl_s: int = 0) -> bool:
        """Compare-and-set a record; ``ttl_s`` > 0 lets it expire (a finished record)."""

    @abc.abstractmethod
    async def index_add(self, index: str, member: str, score: float) -> None:
        """Add a member to a sorted index, or move it to a new score."""

    @abc.abstractmethod
    async def index_remove(self, index: str, member: str) -> None:
        """Remove a member from a sorted index (nothing if absent)."""

    @abc.abstractmethod
    async def index_members(self, index: str) -> list[str]:
        """Return an index's members by ascending score."""

    # --- booth fleet ----------------------------------------------------------------

    @abc.abstractmethod
    async def save_booth_health(self, site: str, report: dict[str, Any]) -> None:
        """Keep a site's latest health report (with its ``received_at``)."""

    @abc.abstractmethod
    async def booth_health(self) -> dict[str, dict[str, Any]]:
        """Return the latest health report of every site that ever reported."""

    # --- login throttling -----------------------------------------------------------

    @abc.abstractmethod
    async def add_login_failure(self, key: str, now: float, window_s: float) -> None:
        """Record a failed login for a key (a username or an address)."""

    @abc.abstractmethod
    async def login_failures(self, key: str, now: float, window_s: float) -> list[float]:
        """Return the times of a key's failed logins within the window, oldest first."""

    @abc.abstractmethod
    async def clear_login_failures(self, key: str) -> None:
        """Forget a key's failed logins (after a successful login)."""

    # --- events ---------------------------------------------------------------------

    @abc.abstractmethod
    async def append_event(self, event: dict[str, Any], log: EventLog = "events") -> str:
        """Append an entry to a durable log (statistics events, or the audit log of who
        signed in and who joined which session) and return its id."""

    @abc.abstractmethod
    async def log_epoch(self, log: EventLog = "events") -> str:
        """Return the id of this life of a log: it changes when the log starts over (a new
        memory store, a Redis that lost its data), so a reader's position in an earlier
        life is known to mean nothing here."""

    @abc.abstractmethod
    async def read_events(
        self, after: str = "0", count: int = 1000, log: EventLog = "events"
    ) -> list[tuple[str, dict[str, Any]]]:
        """Return up to ``count`` events logged after id ``after``, oldest first."""

    @abc.abstractmethod
    async def trim_events(self, through: str, log: EventLog = "events") -> int:
        """Forget the entries up to and including id ``through`` (a reader has them
        durably); return how many went. Reading after a forgotten id still works."""

    # --- delivery between nodes ----------------------------------------------------

    @abc.abstractmethod
    async def publish(self, channel: str, payload: str) -> None:
        """Send a payload to every subscriber of a channel (a node id or "all")."""

    @abc.abstractmethod
    async def subscribe(self, channels: list[str], handler: Handler) -> None:
        """Call ``handler`` for every payload published to the channels until closed."""

    # --- lifecycle ------------------------------------------------------------------

    @abc.abstractmethod
    async def ping(self) -> bool:
        """Tell whether the store answers."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and stop subscriptions; idempotent."""
