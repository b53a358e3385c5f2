"""One client's WebSocket: a bounded send queue, a writer task and a rate limit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time

from aiohttp import WSCloseCode, web

from .directory import LimitSettings
from .identity import Principal
from .logs import public_name
from .metrics import Metrics
from .protocol import Message, encode

log = logging.getLogger(__name__)

CLOSE_REPLACED = 4000
CLOSE_SLOW_CONSUMER = 4001
CLOSE_TIMEOUT_S = 2.0


class TokenBucket:
    """Allow ``rate`` events a second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at = time.monotonic()

    def take(self) -> bool:
        """Spend one token if there is one."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def retry_after(self) -> float:
        """Return how long until the next token, rounded up to whole milliseconds."""
        # Rounding down could tell a client to retry after 0 s while it is still refused.
        return max(1, math.ceil((1.0 - self._tokens) / self.rate * 1000)) / 1000


class Connection:
    """A signaling client connected to this node."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        limits: LimitSettings,
        metrics: Metrics,
        transport: asyncio.BaseTransport | None = None,
    ) -> None:
        self.ws = ws
        self.transport = transport
        self.metrics = metrics
        self.principal: Principal | None = None
        # A console's login cookie from the upgrade request: its hello may omit the token.
        self.cookie_token: str | None = None
        self.bucket = TokenBucket(limits.rate_per_s, limits.rate_burst)
        # Sessions of this booth that wait in a queue, and the last status sent.
        self.waiting: dict[str, str] = {}
        self.last_status: dict[str, tuple[int, int, float]] = {}
        self.last_rate_error = 0.0
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=limits.send_queue_max)
        self._writer: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self.closed = False

    @property
    def subject(self) -> str | None:
        """Return the authenticated subject, if any."""
        return self.principal.subject if self.principal else None

    @property
    def closing(self) -> bool:
        """Tell whether the connection is closed or being closed."""
        return self.closed or self._closing is not None

    @property
    def pending(self) -> int:
        """Return how many messages wait to be written."""
        return self._queue.qsize()

    def start(self) -> None:
        """Start the writer task."""
        self._writer = asyncio.create_task(self._write_loop(), name="ws-writer")

    def send(self, message: Message) -> bool:
        """Queue a message without waiting; a full queue closes the connection."""
        kind = getattr(message, "type", "unknown")
        return self.send_raw(encode(message), str(kind))

    def send_raw(self, data: str, kind: str) -> bool:
        """Queue an encoded message without waiting."""
        if self.closing:
            return False
        try:
            self._queue.put_nowait(data)
        except asyncio.QueueFull:
            # A client that cannot keep up must not make the server grow: drop it, it
            # can resume within the grace period.
            self.metrics.slow_consumers.inc()
            log.warning("closing a slow consumer: %s", public_name(self.subject or "?"))
            self.close_soon(CLOSE_SLOW_CONSUMER, "send queue full")
            return False
        self.metrics.count_out(kind)
        return True

    async def _write_loop(self) -> None:
        while True:
            data = await self._queue.get()
            try:
                await self.ws.send_str(data)
            except (ConnectionError, RuntimeError):
                return

    async def drain(self, timeout: float) -> None:
        """Wait until queued messages are written, at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self._queue.qsize() and time.monotonic() < deadline and not self.ws.closed:
            await asyncio.sleep(0.01)

    def close_soon(self, code: int, reason: str) -> None:
        """Close from a context that cannot wait (e.g. a full queue)."""
        if self._closing is None:
            self._closing = asyncio.create_task(self.close(code, reason))

    async def close(self, code: int = WSCloseCode.OK, reason: str = "") -> None:
        """Stop the writer and close the socket; idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        if code == CLOSE_SLOW_CONSUMER:
            # Its socket buffer is full, so no close frame could reach it: cut it off.
            self._abort()
            return
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self.ws.close(code=code, message=reason.encode())
        except (ConnectionError, RuntimeError, TimeoutError):
            self._abort()
        except asyncio.CancelledError:
            self._abort()
            raise

    def _abort(self) -> None:
        """Drop the TCP connection so that the task reading it ends too."""
        if self.transport is not None:
            self.transport.abort()  # type: ignore[attr-defined]
