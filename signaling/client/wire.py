"""An asyncio client of the signaling protocol (booth agent, tests, benchmarks)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import aiohttp

from ..protocol import (
    CLIENT_ADAPTER,
    PROTOCOL_VERSION,
    Error,
    GoingAway,
    ServerMessage,
    Token,
    Welcome,
    parse_server_message,
)

M = TypeVar("M")
BUFFER_LIMIT = 10_000


class SignalingError(Exception):
    """The server answered a request with an error."""

    def __init__(self, error: Error) -> None:
        super().__init__(
            f"{error.code}: {error.message}" + (f" ({error.field})" if error.field else "")
        )
        self.error = error
        self.code = error.code
        self.field = error.field


async def fetch_token(base_url: str, path: str, body: dict[str, str]) -> str:
    """POST credentials to a token endpoint and return the token."""
    async with aiohttp.ClientSession() as http, http.post(base_url + path, json=body) as resp:
        data = await resp.json()
        if resp.status != 200:
            raise PermissionError(f"{path}: {resp.status} {data}")
        return str(data["token"])


async def login(base_url: str, username: str, password: str) -> str:
    """Return a staff token."""
    return await fetch_token(base_url, "/auth/login", {"username": username, "password": password})


async def device_token(base_url: str, site: str, secret: str, role: str = "kiosk") -> str:
    """Return a booth device token for the kiosk page or the endpoint agent."""
    return await fetch_token(
        base_url, "/auth/device", {"site": site, "secret": secret, "role": role}
    )


class SignalingClient:
    """One WebSocket to a node: requests with replies, and a buffer of pushed messages."""

    def __init__(self, url: str, token: str, *, resume_token: str | None = None) -> None:
        self.url = url
        self.token = token
        self.resume_token = resume_token
        self.welcome: Welcome | None = None
        self.going_away = asyncio.Event()
        self.disconnected = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[ServerMessage]] = {}
        self._buffer: deque[ServerMessage] = deque(maxlen=BUFFER_LIMIT)
        self._arrived = asyncio.Condition()
        self._listeners: list[Callable[[ServerMessage], None]] = []

    async def connect(self, url: str | None = None) -> Welcome:
        """Open the socket and say hello (resuming if a resume token is known)."""
        if url is not None:
            self.url = url
        await self._drop_socket()
        try:
            welcome = await self._say_hello()
        except BaseException:
            # A node that is down or refuses us: leave nothing open for a caller that
            # gives up on this client (a later connect opens a new session).
            await self.close()
            raise
        self.welcome = welcome
        self.resume_token = welcome.resume_token
        return welcome

    async def _say_hello(self) -> Welcome:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(self.url, heartbeat=None, max_msg_size=0)
        self.disconnected.clear()
        self.going_away.clear()
        self._reader = asyncio.create_task(self._read_loop(self._ws), name="signaling-reader")
        hello: dict[str, Any] = {
            "type": "hello",
            "versions": [PROTOCOL_VERSION],
            "token": self.token,
        }
        if self.resume_token:
            hello["resume_token"] = self.resume_token
        return await self.request(hello, expect=Welcome)

    async def refresh_token(self) -> float:
        """Replace the access token with a fresh one; return when it expires."""
        reply = await self.request({"type": "token_refresh"}, expect=Token)
        self.token = reply.token
        return reply.expires_at

    def add_listener(self, listener: Callable[[ServerMessage], None]) -> None:
        """Call ``listener`` for every pushed (not request-reply) message."""
        self._listeners.append(listener)

    async def send(self, message: dict[str, Any]) -> None:
        """Validate and send a message that expects no reply."""
        CLIENT_ADAPTER.validate_python(message)
        await self.send_raw(json.dumps(message))

    async def send_raw(self, data: str) -> None:
        """Send a frame as it is (tests use this for bad input)."""
        if self._ws is None or self._ws.closed:
            raise ConnectionError("not connected")
        await self._ws.send_str(data)

    async def request(
        self, message: dict[str, Any], *, expect: type[M] | None = None, timeout: float = 10.0
    ) -> M:
        """Send a request and return its reply; raise SignalingError on an error reply."""
        request_id = message.get("id") or f"r{next(self._ids)}"
        message = {**message, "id": request_id}
        CLIENT_ADAPTER.validate_python(message)
        future: asyncio.Future[ServerMessage] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self.send_raw(json.dumps(message))
            reply = await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(request_id, None)
        if isinstance(reply, Error):
            raise SignalingError(reply)
        if expect is not None and not isinstance(reply, expect):
            raise TypeError(f"expected {expect.__name__}, got {reply.type}")
        return reply  # type: ignore[return-value]

    async def wait_for(
        self,
        kind: type[M],
        predicate: Callable[[M], bool] = lambda _: True,
        timeout: float = 10.0,
    ) -> M:
        """Take the first buffered or arriving pushed message of a kind that matches."""
        async with asyncio.timeout(timeout), self._arrived:
            while True:
                for message in self._buffer:
                    if isinstance(message, kind) and predicate(message):
                        self._buffer.remove(message)
                        return message
                await self._arrived.wait()

    def drain_buffer(self) -> list[ServerMessage]:
        """Return and forget every buffered pushed message."""
        items = list(self._buffer)
        self._buffer.clear()
        return items

    async def _read_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for frame in ws:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    continue
                message = parse_server_message(frame.data)
                request_id = getattr(message, "id", None)
                future = self._pending.get(request_id) if request_id else None
                if future is not None and not future.done():
                    future.set_result(message)
                    continue
                if isinstance(message, GoingAway):
                    self.going_away.set()
                for listener in self._listeners:
                    listener(message)
                async with self._arrived:
                    self._buffer.append(message)
                    self._arrived.notify_all()
        finally:
            self.disconnected.set()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection closed"))

    async def _drop_socket(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    async def close(self) -> None:
        """Close the socket and the HTTP session; idempotent."""
        await self._drop_socket()
        if self._http is not None:
            await self._http.close()
            self._http = None
