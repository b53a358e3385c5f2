"""The node's outbox for events: appended in order, held while the store is away."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from .store import Store

log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.2
RETRY_MAX_S = 5.0


class EventOutbox:
    """Append events to the store's log; keep the ones it refused and retry them in order.

    A session change is saved before its event is appended, so a store that fails between
    the two (Redis restarting) must not lose the event: it waits here, and the events after
    it wait behind it, until the store takes them again (docs/adr/0008).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()

    @property
    def pending(self) -> int:
        """How many events wait for the store."""
        return len(self._pending)

    async def append(self, event: dict[str, Any]) -> None:
        """Append ``event`` now, or keep it for the retry loop if the store refuses it."""
        if not self._pending:
            try:
                await self.store.append_event(event)
                return
            except Exception as exc:  # the store's own errors differ by backend
                log.warning("event %s kept for a retry: %s", event.get("kind"), exc)
        self._pending.append(event)
        self._wake.set()

    async def run(self) -> None:
        """Retry the kept events, oldest first, until cancelled."""
        delay = RETRY_FIRST_S
        while True:
            await self._wake.wait()
            while self._pending:
                try:
                    await self.store.append_event(self._pending[0])
                except Exception as exc:
                    log.warning("%d events wait for the store: %s", len(self._pending), exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_S)
                    continue
                self._pending.popleft()
                delay = RETRY_FIRST_S
            self._wake.clear()
