"""Bad input against a real node over a real WebSocket: every bad frame gets one error.

Malformed JSON, unknown types, wrong field types, oversize frames, floods, messages for
sessions the sender is not in and expired or forged tokens each get exactly one ``error``
with its code, field and request id; the connection stays usable where that is safe, and
nothing changes in the store. A hypothesis property sends random and mutated frames.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import jwt
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from signaling.client import device_token
from signaling.directory import Directory, LimitSettings, load_directory
from signaling.identity import ALGORITHM, ISSUER, Authority, Principal
from signaling.protocol import (
    CLIENT_TYPES,
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    CallQueued,
    Error,
    ErrorCode,
    Pong,
    QueueStatus,
    ServerMessage,
    SessionEnded,
    SessionUpdate,
    Welcome,
    parse_server_message,
)
from signaling.server import HARD_FRAME_LIMIT
from signaling.store import MemoryStore, Store

from .support import DEMO_SECRETS, RunningNode, node_of, running_node

T = TypeVar("T")
SESSION = "s-" + "0123456789abcdef" * 2
BOOTH = Principal(kind="booth", subject="site:lib-kitee", roles=("booth",), site="lib-kitee")


# --- a raw WebSocket client -------------------------------------------------------------


class Raw:
    """A WebSocket that sends frames as they are and parses every frame it receives."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http = http
        self.ws = ws
        self.inbox: asyncio.Queue[ServerMessage | None] = asyncio.Queue()
        self.failure: BaseException | None = None
        self.closed = asyncio.Event()
        self._barriers = itertools.count(1)
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, base_url: str) -> Raw:
        http = aiohttp.ClientSession()
        ws = await http.ws_connect(base_url.replace("http", "ws", 1) + "/ws", max_msg_size=0)
        return cls(http, ws)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                # Every server frame must be a text frame holding a valid server message.
                assert frame.type == aiohttp.WSMsgType.TEXT, frame
                await self.inbox.put(parse_server_message(frame.data))
        except Exception as exc:  # reported by next()
            self.failure = exc
        finally:
            self.closed.set()
            await self.inbox.put(None)

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    async def send(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(data)

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.send(json.dumps(message))

    async def next(self, timeout: float = 5.0) -> ServerMessage:
        """Return the next message; raise ConnectionError when the socket closed."""
        item = await asyncio.wait_for(self.inbox.get(), timeout)
        if item is None:
            self.inbox.put_nowait(None)  # stay closed for later calls
            if self.failure is not None:
                raise ConnectionError(f"reader failed: {self.failure!r}") from self.failure
            raise ConnectionError(f"socket closed with code {self.close_code}")
        return item

    async def hello(self, token: str, **extra: Any) -> ServerMessage:
        await self.send_json(
            {"type": "hello", "id": "hello", "versions": [PROTOCOL_VERSION], "token": token} | extra
        )
        return await self.next()

    async def answers_to(self, data: str | bytes, timeout: float = 5.0) -> list[ServerMessage]:
        """Send a frame, then a ping; return everything that came before the pong."""
        barrier = f"barrier-{next(self._barriers)}"
        await self.send(data)
        await self.send_json({"type": "ping", "id": barrier})
        answers: list[ServerMessage] = []
        deadline = time.monotonic() + timeout
        while True:
            message = await self.next(max(0.01, deadline - time.monotonic()))
            if isinstance(message, Pong) and message.id == barrier:
                return answers
            answers.append(message)

    async def assert_usable(self) -> None:
        """Check that a ping gets its pong and nothing else."""
        request_id = f"usable-{next(self._barriers)}"
        answers = await self.answers_to(json.dumps({"type": "ping", "id": request_id}))
        assert len(answers) == 1, answers
        assert isinstance(answers[0], Pong) and answers[0].id == request_id, answers

    async def close(self) -> None:
        await self.ws.close()
        await self._reader
        await self.http.close()


async def booth_token(base_url: str, site: str = "lib-kitee") -> str:
    return await device_token(base_url, site, DEMO_SECRETS[site])


async def authenticated(base_url: str, site: str = "lib-kitee") -> Raw:
    raw = await Raw.open(base_url)
    welcome = await raw.hello(await booth_token(base_url, site))
    assert isinstance(welcome, Welcome), welcome
    return raw


async def assert_no_state(store: Store) -> None:
    assert await store.count_sessions_by_state() == {}
    assert await store.queue_lengths() == {}
    assert await store.read_events() == []
    assert await store.memberships(BOOTH.subject) == []


def with_limits(**changes: Any) -> Directory:
    """Return the demo directory with some limits changed (the models are frozen)."""
    directory = load_directory()
    limits = LimitSettings(**{**directory.limits.model_dump(), **changes})
    copy = directory.model_copy(update={"limits": limits})
    assert copy.limits == limits and copy.agency("kela") is not None
    return copy


@asynccontextmanager
async def node_and_booth(
    directory: Directory | None = None,
) -> AsyncIterator[tuple[RunningNode, MemoryStore, Raw]]:
    store = MemoryStore()
    async with running_node(store, directory) as node:
        raw = await authenticated(node.base_url)
        try:
            yield node, store, raw
        finally:
            await raw.close()


def check_error(
    answers: list[ServerMessage],
    code: ErrorCode,
    field: str | None = None,
    request_id: str | None = None,
) -> Error:
    """Check that the answers are exactly one error with this code, field and id."""
    assert len(answers) == 1, answers
    (error,) = answers
    assert isinstance(error, Error), error
    assert (error.code, error.field, error.id) == (code, field, request_id), error
    assert error.message
    return error


# --- frames that are not messages -------------------------------------------------------

CALL = {
    "type": "call_request",
    "id": "c1",
    "agency": "kela",
    "service": "general",
    "language": "fi",
}
ICE = {
    "type": "signal",
    "session_id": SESSION,
    "to": "p-0123456789ab",
    "payload": {"kind": "ice", "candidate": "candidate:1 1 udp 1 192.0.2.1 9 typ host"},
}

BAD_FRAMES: list[tuple[str, str | bytes, ErrorCode, str | None, str | None]] = [
    ("truncated-json", '{"type": "ping", "id": "x"', ErrorCode.BAD_JSON, None, None),
    ("not-json", "hello there", ErrorCode.BAD_JSON, None, None),
    ("empty-frame", "", ErrorCode.BAD_JSON, None, None),
    ("json-array", '[{"type": "ping", "id": "x"}]', ErrorCode.BAD_JSON, None, None),
    ("json-string", '"ping"', ErrorCode.BAD_JSON, None, None),
    ("json-null", "null", ErrorCode.BAD_JSON, None, None),
    ("invalid-utf8-binary", b'{"type": "ping", "id": "\xff\xfe"}', ErrorCode.BAD_JSON, None, None),
    ("deeply-nested", "[" * 5_000 + "]" * 5_000, ErrorCode.BAD_JSON, None, None),
    ("unknown-type", '{"type": "shutdown", "id": "u1"}', ErrorCode.UNKNOWN_TYPE, "type", "u1"),
    ("server-type", '{"type": "welcome", "id": "u2"}', ErrorCode.UNKNOWN_TYPE, "type", "u2"),
    ("missing-type", '{"id": "u3"}', ErrorCode.UNKNOWN_TYPE, "type", "u3"),
    ("type-not-string", '{"type": 1, "id": "u4"}', ErrorCode.UNKNOWN_TYPE, "type", "u4"),
    (
        "wrong-field-type",
        json.dumps({**CALL, "agency": 5}),
        ErrorCode.INVALID_FIELD,
        "agency",
        "c1",
    ),
    (
        "missing-field",
        json.dumps({k: v for k, v in CALL.items() if k != "language"}),
        ErrorCode.INVALID_FIELD,
        "language",
        "c1",
    ),
    ("extra-field", json.dumps({**CALL, "admin": True}), ErrorCode.INVALID_FIELD, "admin", "c1"),
    (
        "nested-field",
        json.dumps({**CALL, "interpreter": {"language": "ar", "modality": "carrier-pigeon"}}),
        ErrorCode.INVALID_FIELD,
        "interpreter.modality",
        "c1",
    ),
    (
        "nested-payload-field",
        json.dumps({**ICE, "payload": {**ICE["payload"], "sdp_mline_index": -1}}),
        ErrorCode.INVALID_FIELD,
        "payload.sdp_mline_index",
        None,
    ),
    (
        "sdp-too-long",
        json.dumps({**ICE, "payload": {"kind": "sdp", "sdp_type": "offer", "sdp": "v" * 60_001}}),
        ErrorCode.INVALID_FIELD,
        "payload.sdp",
        None,
    ),
    (
        "id-too-long",
        json.dumps({"type": "ping", "id": "i" * 65}),
        ErrorCode.INVALID_FIELD,
        "id",
        None,
    ),
    ("id-not-string", '{"type": "ping", "id": 3}', ErrorCode.INVALID_FIELD, "id", None),
    ("id-lone-surrogate", '{"type": "ping", "id": "\\ud800"}', ErrorCode.INVALID_FIELD, "id", None),
    (
        "too-large",
        '{"type": "ping", "id": "big", "pad": "' + "x" * MAX_MESSAGE_BYTES + '"}',
        ErrorCode.TOO_LARGE,
        None,
        None,
    ),
    (
        "too-large-multibyte",
        '{"type": "ping", "id": "big", "pad": "' + "ä" * (MAX_MESSAGE_BYTES // 2) + '"}',
        ErrorCode.TOO_LARGE,
        None,
        None,
    ),
    (
        "second-hello",
        json.dumps({"type": "hello", "id": "h2", "versions": [1], "token": "whatever"}),
        ErrorCode.CONFLICT,
        None,
        "h2",
    ),
]


@pytest.mark.parametrize(
    ("frame", "code", "field", "request_id"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_FRAMES],
)
async def test_bad_frame_gets_one_error_and_the_connection_stays_usable(
    frame: str | bytes, code: ErrorCode, field: str | None, request_id: str | None
) -> None:
    async with node_and_booth() as (node, store, raw):
        check_error(await raw.answers_to(frame), code, field, request_id)
        await raw.assert_usable()
        assert not raw.closed.is_set()
        await assert_no_state(store)


async def test_all_bad_frames_on_one_connection_change_nothing() -> None:
    async with node_and_booth() as (node, store, raw):
        for _, frame, code, field, request_id in BAD_FRAMES:
            check_error(await raw.answers_to(frame), code, field, request_id)
        assert not raw.closed.is_set()
        await assert_no_state(store)
        assert list(node_of(node).connections) == [BOOTH.subject]


async def test_frame_between_64_and_256_kib_is_too_large_and_connection_stays() -> None:
    async with node_and_booth() as (_, store, raw):
        frame = '{"type": "ping", "id": "big", "pad": "' + "x" * (HARD_FRAME_LIMIT - 1000) + '"}'
        assert MAX_MESSAGE_BYTES < len(frame.encode()) < HARD_FRAME_LIMIT
        check_error(await raw.answers_to(frame), ErrorCode.TOO_LARGE)
        check_error(await raw.answers_to(frame.encode()), ErrorCode.TOO_LARGE)
        await raw.assert_usable()
        await assert_no_state(store)


async def test_configured_max_message_bytes_is_the_limit() -> None:
    # limits.max_message_bytes is documented as "largest accepted signalling message":
    # a node configured with a smaller limit must refuse larger frames with too_large.
    directory = with_limits(max_message_bytes=4096)
    async with node_and_booth(directory) as (_, store, raw):
        frame = '{"type": "ping", "id": "mid", "pad": "' + "x" * 8_000 + '"}'
        check_error(await raw.answers_to(frame), ErrorCode.TOO_LARGE)
        await raw.assert_usable()
        await assert_no_state(store)


async def test_frame_over_256_kib_closes_the_socket() -> None:
    # The "not safe" case: a client sending frames this large is not one to keep reading,
    # so the server closes the socket (1009 message too big) instead of answering.
    async with node_and_booth() as (node, store, raw):
        await raw.send("x" * (HARD_FRAME_LIMIT + 1))
        await asyncio.wait_for(raw.closed.wait(), 5)
        assert raw.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        assert raw.failure is None
        # The node is still up and serves a new connection.
        again = await authenticated(node.base_url)
        try:
            await again.assert_usable()
        finally:
            await again.close()
        await assert_no_state(store)


async def test_frame_over_256_kib_before_hello_closes_the_socket() -> None:
    store = MemoryStore()
    async with running_node(store) as node:
        raw = await Raw.open(node.base_url)
        try:
            await raw.send(b"{" * (HARD_FRAME_LIMIT + 1))
            await asyncio.wait_for(raw.closed.wait(), 5)
            assert raw.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        finally:
            await raw.close()
        await assert_no_state(store)


# --- sessions the sender is not in ------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "request_id"),
    [
        ({"type": "call_cancel", "id": "x1", "session_id": SESSION}, "x1"),
        ({"type": "session_leave", "id": "x2", "session_id": SESSION}, "x2"),
        (ICE, None),
    ],
    ids=["call_cancel", "session_leave", "signal"],
)
async def test_message_for_a_session_the_booth_is_not_in_is_forbidden(
    message: dict[str, Any], request_id: str | None
) -> None:
    async with node_and_booth() as (_, store, raw):
        answers = await raw.answers_to(json.dumps(message))
        check_error(answers, ErrorCode.FORBIDDEN, "session_id", request_id)
        await assert_no_state(store)


# --- floods -----------------------------------------------------------------------------


async def test_flood_is_rate_limited_with_one_error_a_second_then_recovers() -> None:
    directory = load_directory()
    rate, burst = directory.limits.rate_per_s, directory.limits.rate_burst
    async with node_and_booth(directory) as (_, store, raw):
        sent = 0
        started = time.monotonic()
        while time.monotonic() - started < 2.5:
            for _ in range(10):
                sent += 1
                await raw.send_json({"type": "ping", "id": f"f{sent}"})
            await asyncio.sleep(0.02)
        await raw.send_json({"type": "ping", "id": "end-of-flood"})
        pongs: list[Pong] = []
        errors: list[Error] = []
        last = started
        # Collect until a quiet moment: dropped frames get no answer at all.
        while True:
            try:
                message = await raw.next(timeout=1.0)
            except TimeoutError:
                break
            last = time.monotonic()
            if isinstance(message, Pong):
                pongs.append(message)
            else:
                assert isinstance(message, Error), message
                errors.append(message)
        # How long the server was busy with the flood (it may lag behind the sender).
        elapsed = last - started
        assert errors, "no rate_limited error"
        for error in errors:
            assert error.code == ErrorCode.RATE_LIMITED
            assert error.retry_after_s is not None and 0 < error.retry_after_s <= 1 / rate + 0.01
        # At most about one error a second, however many frames were dropped.
        assert len(errors) <= int(elapsed) + 2, (len(errors), elapsed)
        # The bucket let the burst (less the hello) and the refill through and nothing more.
        assert burst - 1 <= len(pongs) <= burst + rate * (elapsed + 0.5) + 1, (len(pongs), elapsed)
        assert len(pongs) < sent
        # After waiting, requests work again on the same connection.
        await asyncio.sleep(max(e.retry_after_s or 0 for e in errors) + 0.2)
        await raw.assert_usable()
        assert not raw.closed.is_set()
        await assert_no_state(store)


async def test_flood_of_bad_frames_is_rate_limited_too() -> None:
    async with node_and_booth() as (_, store, raw):
        for _ in range(200):
            await raw.send("{not json")
        messages: list[ServerMessage] = []
        while True:
            try:
                messages.append(await raw.next(timeout=0.5))
            except TimeoutError:
                break
        codes = [m.code for m in messages if isinstance(m, Error)]
        assert len(codes) == len(messages)
        assert ErrorCode.RATE_LIMITED in codes
        assert codes.count(ErrorCode.BAD_JSON) < 200
        await asyncio.sleep(1.0)
        await raw.assert_usable()
        await assert_no_state(store)


# --- before and at hello ----------------------------------------------------------------


def forged(secret: str, *, site: str = "lib-kitee", **claims: Any) -> str:
    """Return a booth access token signed with ``secret``."""
    now = time.time()
    body = {
        "iss": ISSUER,
        "typ": "access",
        "sub": f"site:{site}",
        "kind": "booth",
        "roles": ["booth"],
        "site": site,
        "iat": int(now),
        "exp": now + 600,
        **claims,
    }
    return jwt.encode(body, secret, algorithm=ALGORITHM)


def tampered(token: str, **claims: Any) -> str:
    """Return a valid token with its claims changed but the old signature kept."""
    header, _, signature = token.split(".")
    payload = jwt.decode(token, options={"verify_signature": False})
    payload.update(claims)
    body = jwt.utils.base64url_encode(json.dumps(payload).encode()).decode()
    return f"{header}.{body}.{signature}"


async def test_messages_before_hello_are_unauthenticated_and_hello_still_works() -> None:
    store = MemoryStore()
    async with running_node(store) as node:
        raw = await Raw.open(node.base_url)
        try:
            for message in (
                {"type": "ping", "id": "p0"},
                {**CALL, "id": "p1"},
                {"type": "set_availability", "id": "p2", "status": "available"},
                {"type": "call_cancel", "id": "p3", "session_id": SESSION},
                ICE,
            ):
                await raw.send_json(message)
                error = await raw.next()
                assert isinstance(error, Error), error
                assert error.code == ErrorCode.UNAUTHENTICATED
                assert error.id == message.get("id")
            # Parse errors before hello are reported as such.
            await raw.send("{")
            error = await raw.next()
            assert isinstance(error, Error) and error.code == ErrorCode.BAD_JSON
            welcome = await raw.hello(await booth_token(node.base_url))
            assert isinstance(welcome, Welcome), welcome
            assert welcome.sessions == []
        finally:
            await raw.close()
        await assert_no_state(store)


async def test_bad_tokens_are_unauthenticated_and_the_connection_stays_usable() -> None:
    store = MemoryStore()
    directory = load_directory()
    async with running_node(store, directory) as node:
        good = await booth_token(node.base_url)
        authority = Authority(directory)
        past = Authority(directory, clock=lambda: time.time() - 3600)
        expired, _ = past.issue(BOOTH)
        resume, _ = authority.issue(BOOTH, typ="resume")
        staff = Principal(
            kind="staff",
            subject="staff:kela.expert",
            roles=("expert",),
            username="kela.expert",
        )
        cases: list[tuple[str, dict[str, Any], ErrorCode, str]] = [
            (
                "forged",
                {"token": forged("another-secret-" * 4)},
                ErrorCode.UNAUTHENTICATED,
                "token",
            ),
            (
                "unsigned",
                {
                    "token": jwt.encode(
                        jwt.decode(good, options={"verify_signature": False}),
                        None,
                        algorithm="none",
                    )
                },
                ErrorCode.UNAUTHENTICATED,
                "token",
            ),
            (
                "tampered",
                {"token": tampered(good, roles=["booth", "expert"])},
                ErrorCode.UNAUTHENTICATED,
                "token",
            ),
            ("garbage", {"token": "not-a-token"}, ErrorCode.UNAUTHENTICATED, "token"),
            ("expired", {"token": expired}, ErrorCode.UNAUTHENTICATED, "token"),
            ("resume-as-access", {"token": resume}, ErrorCode.UNAUTHENTICATED, "token"),
            (
                "unknown-site",
                {"token": forged(directory.auth.token_secret.get_secret_value(), site="nowhere")},
                ErrorCode.UNAUTHENTICATED,
                "token",
            ),
            (
                "access-as-resume",
                {"token": good, "resume_token": good},
                ErrorCode.UNAUTHENTICATED,
                "resume_token",
            ),
            (
                "forged-resume",
                {"token": good, "resume_token": forged("another-secret-" * 4, typ="resume")},
                ErrorCode.UNAUTHENTICATED,
                "resume_token",
            ),
            (
                "someone-elses-resume",
                {"token": good, "resume_token": authority.issue(staff, typ="resume")[0]},
                ErrorCode.FORBIDDEN,
                "resume_token",
            ),
            (
                "unsupported-version",
                {"token": good, "versions": [2]},
                ErrorCode.UNSUPPORTED_VERSION,
                "versions",
            ),
            (
                "version-zero",
                {"token": good, "versions": [0, 99]},
                ErrorCode.UNSUPPORTED_VERSION,
                "versions",
            ),
        ]
        raw = await Raw.open(node.base_url)
        try:
            for name, fields, code, field in cases:
                hello = {"type": "hello", "id": f"h-{name}", "versions": [1], **fields}
                await raw.send_json(hello)
                error = await raw.next()
                assert isinstance(error, Error), (name, error)
                assert (error.code, error.field, error.id) == (code, field, f"h-{name}"), name
                # Still not authenticated: nothing but hello is accepted.
                await raw.send_json({"type": "ping", "id": f"p-{name}"})
                error = await raw.next()
                assert isinstance(error, Error) and error.code == ErrorCode.UNAUTHENTICATED
            assert not node_of(node).connections
            # The same connection still takes a good hello (versions may include unknown ones).
            welcome = await raw.hello(good, versions=[PROTOCOL_VERSION, 99])
            assert isinstance(welcome, Welcome), welcome
            assert welcome.version == PROTOCOL_VERSION
            await raw.assert_usable()
        finally:
            await raw.close()
        await assert_no_state(store)


async def test_token_that_expired_before_hello_is_refused() -> None:
    # A token valid when issued but expired by the time of hello is refused.
    store = MemoryStore()
    directory = load_directory()
    async with running_node(store, directory) as node:
        ttl = directory.auth.device_token_ttl_s
        almost, expires = Authority(directory, clock=lambda: time.time() - ttl + 0.5).issue(BOOTH)
        await asyncio.sleep(max(0.0, expires - time.time()) + 0.2)
        raw = await Raw.open(node.base_url)
        try:
            error = await raw.hello(almost)
            assert isinstance(error, Error)
            assert (error.code, error.field) == (ErrorCode.UNAUTHENTICATED, "token")
        finally:
            await raw.close()
        await assert_no_state(store)


async def test_no_hello_in_time_closes_the_socket() -> None:
    directory = with_limits(hello_timeout_s=0.5)
    store = MemoryStore()
    async with running_node(store, directory) as node:
        raw = await Raw.open(node.base_url)
        try:
            started = time.monotonic()
            error = await raw.next(timeout=5)
            assert isinstance(error, Error)
            assert error.code == ErrorCode.UNAUTHENTICATED
            await asyncio.wait_for(raw.closed.wait(), 5)
            assert raw.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
            assert 0.4 <= time.monotonic() - started < 3
        finally:
            await raw.close()
        await assert_no_state(store)


async def test_chatter_does_not_extend_the_hello_timeout() -> None:
    directory = with_limits(hello_timeout_s=0.5)
    store = MemoryStore()
    async with running_node(store, directory) as node:
        raw = await Raw.open(node.base_url)
        try:
            started = time.monotonic()
            codes: list[ErrorCode] = []
            while not raw.closed.is_set() and time.monotonic() - started < 5:
                with_id = {"type": "ping", "id": f"c{len(codes)}"}
                try:
                    await raw.send_json(with_id)
                except (ConnectionError, RuntimeError):
                    break
                try:
                    message = await raw.next(timeout=0.5)
                except (ConnectionError, TimeoutError):
                    break
                assert isinstance(message, Error)
                codes.append(message.code)
                await asyncio.sleep(0.05)
            await asyncio.wait_for(raw.closed.wait(), 5)
            assert time.monotonic() - started < 3
            assert raw.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
            assert set(codes) == {ErrorCode.UNAUTHENTICATED}
        finally:
            await raw.close()
        await assert_no_state(store)


# --- REST token endpoints ---------------------------------------------------------------


async def post(base_url: str, path: str, body: str | bytes) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(base_url + path, data=body, headers={"Content-Type": "application/json"}) as resp,
    ):
        assert resp.content_type == "application/json", await resp.text()
        return resp.status, await resp.json()


def check_rest_error(
    reply: tuple[int, Any], status: int, code: ErrorCode, field: str | None
) -> str:
    got_status, body = reply
    assert got_status == status, body
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == code.value
    assert error.get("field") == field
    assert isinstance(error["message"], str) and error["message"]
    return str(error["message"])


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "field"),
    [
        ("/auth/login", "{", 400, ErrorCode.BAD_JSON, None),
        ("/auth/login", "", 400, ErrorCode.BAD_JSON, None),
        ("/auth/login", "[]", 400, ErrorCode.BAD_JSON, None),
        ("/auth/login", b'{"username": "\xff"}', 400, ErrorCode.BAD_JSON, None),
        ("/auth/login", "{}", 400, ErrorCode.INVALID_FIELD, "username"),
        ("/auth/login", '{"username": "kela.expert"}', 400, ErrorCode.INVALID_FIELD, "password"),
        (
            "/auth/login",
            '{"username": 5, "password": "demo"}',
            400,
            ErrorCode.INVALID_FIELD,
            "username",
        ),
        (
            "/auth/login",
            '{"username": "kela.expert", "password": ""}',
            400,
            ErrorCode.INVALID_FIELD,
            "password",
        ),
        (
            "/auth/login",
            json.dumps({"username": "kela.expert", "password": "p" * 257}),
            400,
            ErrorCode.INVALID_FIELD,
            "password",
        ),
        (
            "/auth/login",
            '{"username": "kela.expert", "password": "wrong"}',
            401,
            ErrorCode.UNAUTHENTICATED,
            None,
        ),
        (
            "/auth/login",
            '{"username": "nobody", "password": "demo"}',
            401,
            ErrorCode.UNAUTHENTICATED,
            None,
        ),
        ("/auth/device", "not json", 400, ErrorCode.BAD_JSON, None),
        ("/auth/device", "null", 400, ErrorCode.BAD_JSON, None),
        ("/auth/device", '{"site": "lib-kitee"}', 400, ErrorCode.INVALID_FIELD, "secret"),
        ("/auth/device", '{"secret": "x"}', 400, ErrorCode.INVALID_FIELD, "site"),
        (
            "/auth/device",
            '{"site": ["lib-kitee"], "secret": "x"}',
            400,
            ErrorCode.INVALID_FIELD,
            "site",
        ),
        (
            "/auth/device",
            '{"site": "lib-kitee", "secret": "wrong"}',
            401,
            ErrorCode.UNAUTHENTICATED,
            None,
        ),
        (
            "/auth/device",
            '{"site": "lib-kitee", "secret": "demo-secret-bus-lieksa"}',
            401,
            ErrorCode.UNAUTHENTICATED,
            None,
        ),
        (
            "/auth/device",
            '{"site": "nowhere", "secret": "demo-secret-lib-kitee"}',
            401,
            ErrorCode.UNAUTHENTICATED,
            None,
        ),
    ],
)
async def test_token_endpoints_refuse_bad_requests_with_a_json_error(
    path: str, body: str, status: int, code: ErrorCode, field: str | None
) -> None:
    store = MemoryStore()
    async with running_node(store) as node:
        check_rest_error(await post(node.base_url, path, body), status, code, field)
        await assert_no_state(store)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/auth/login", '{"username": "kela.expert", "password": "\\ud800"}', "password"),
        ("/auth/device", '{"site": "lib-kitee", "secret": "\\ud800"}', "secret"),
    ],
    ids=["login-password", "device-secret"],
)
async def test_token_endpoints_refuse_text_that_is_not_unicode(
    path: str, body: str, field: str
) -> None:
    # A lone surrogate is valid JSON but no string a password or secret can be: it must
    # be refused like any other bad field, not crash the handler with a 500.
    store = MemoryStore()
    async with running_node(store) as node:
        reply = await post(node.base_url, path, body)
        check_rest_error(reply, 400, ErrorCode.INVALID_FIELD, field)
        await assert_no_state(store)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/login", '{"username": "\\udfff", "password": "demo"}'),
        ("/auth/device", '{"site": "\\ud800", "secret": "demo-secret-lib-kitee"}'),
    ],
    ids=["login-username", "device-site"],
)
async def test_token_endpoints_refuse_unicode_less_names_with_a_json_error(
    path: str, body: str
) -> None:
    # Refused either as a bad field (400) or as an unknown account or site (401).
    store = MemoryStore()
    async with running_node(store) as node:
        status, reply = await post(node.base_url, path, body)
        assert status in (400, 401), reply
        assert reply["error"]["code"] in (ErrorCode.INVALID_FIELD, ErrorCode.UNAUTHENTICATED)
        await assert_no_state(store)


@pytest.mark.parametrize("path", ["/auth/login", "/auth/device"])
async def test_token_endpoint_body_over_64_kib_is_a_json_too_large_error(path: str) -> None:
    store = MemoryStore()
    async with running_node(store) as node:
        body = json.dumps({"username": "kela.expert", "site": "x", "pad": "x" * MAX_MESSAGE_BYTES})
        check_rest_error(await post(node.base_url, path, body), 413, ErrorCode.TOO_LARGE, None)
        # The endpoint still works afterwards.
        assert await booth_token(node.base_url)
        await assert_no_state(store)


async def test_wrong_credentials_do_not_tell_which_part_was_wrong() -> None:
    async with running_node(MemoryStore()) as node:
        url = node.base_url
        wrong_password = check_rest_error(
            await post(url, "/auth/login", '{"username": "kela.expert", "password": "x"}'),
            401,
            ErrorCode.UNAUTHENTICATED,
            None,
        )
        unknown_user = check_rest_error(
            await post(url, "/auth/login", '{"username": "nobody", "password": "x"}'),
            401,
            ErrorCode.UNAUTHENTICATED,
            None,
        )
        assert wrong_password == unknown_user
        wrong_secret = check_rest_error(
            await post(url, "/auth/device", '{"site": "lib-kitee", "secret": "x"}'),
            401,
            ErrorCode.UNAUTHENTICATED,
            None,
        )
        unknown_site = check_rest_error(
            await post(url, "/auth/device", '{"site": "nowhere", "secret": "x"}'),
            401,
            ErrorCode.UNAUTHENTICATED,
            None,
        )
        assert wrong_secret == unknown_site


# --- the property -----------------------------------------------------------------------

FIELD_NAMES = [
    "id",
    "type",
    "versions",
    "token",
    "resume_token",
    "agency",
    "service",
    "language",
    "interpreter",
    "session_id",
    "status",
    "reason",
    "to",
    "payload",
    "outcome",
    "note",
]

# Awkward strings: NUL, lone surrogates (valid JSON escapes, not UTF-8), bidi controls.
awkward_text = st.sampled_from(
    ["", " ", "\u0000", "\ud800", "\udfff", "💥", "\u202e", "a" * 65, "s-" + "0" * 32, "../../"]
) | st.text(max_size=40)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | awkward_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def valid_bases() -> list[dict[str, Any]]:
    """One valid client message of each kind (ids are replaced per example)."""
    return [
        {"type": "ping"},
        {"type": "hello", "versions": [1], "token": "x.y.z"},
        {**CALL, "interpreter": {"language": "ar", "modality": "spoken"}},
        {"type": "call_request", "agency": "ulosotto", "service": "enforcement", "language": "fi"},
        {"type": "call_cancel", "session_id": SESSION},
        {"type": "set_availability", "status": "available", "reason": "back"},
        {"type": "offer_accept", "session_id": SESSION},
        {"type": "offer_decline", "session_id": SESSION},
        ICE,
        {**ICE, "payload": {"kind": "sdp", "sdp_type": "offer", "sdp": "v=0\r\n"}},
        {"type": "session_end", "session_id": SESSION, "outcome": "resolved"},
        {"type": "session_leave", "session_id": SESSION},
        {
            "type": "transfer",
            "session_id": SESSION,
            "agency": "vero",
            "service": "tax-card",
            "language": "fi",
            "note": "n",
        },
    ]


@st.composite
def mutated_messages(draw: st.DrawFn) -> dict[str, Any]:
    """A valid message with one field given a wrong type, a long value, removed or added."""
    message = dict(draw(st.sampled_from(valid_bases())))
    if message["type"] != "signal":
        message["id"] = "ID"  # a placeholder for a fresh id per example
    keys = sorted(message)
    mutation = draw(st.sampled_from(["wrong_type", "too_long", "missing", "extra", "nested"]))
    key = draw(st.sampled_from(keys))
    if mutation == "wrong_type":
        value = message[key]
        message[key] = draw(json_values.filter(lambda v: type(v) is not type(value)))
    elif mutation == "too_long":
        message[key] = draw(st.sampled_from(["x", "é", "1"])) * draw(
            st.sampled_from([65, 501, 4097, 60_001, 70_000])
        )
    elif mutation == "missing":
        del message[key]
    elif mutation == "extra":
        message[draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in message))] = draw(
            json_values
        )
    else:
        nested = [k for k in keys if isinstance(message[k], dict)] or [key]
        target = draw(st.sampled_from(nested))
        inner = message[target] if isinstance(message[target], dict) else {}
        inner = dict(inner)
        inner[draw(st.sampled_from([*inner, "kind", "x"]))] = draw(json_values)
        message[target] = inner
    return message


@st.composite
def random_dicts(draw: st.DrawFn) -> dict[str, Any]:
    message = draw(st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=6))
    message["type"] = draw(st.sampled_from(sorted(CLIENT_TYPES)) | json_values)
    if draw(st.booleans()):
        message["id"] = draw(awkward_text | json_values)
    return message


class Frame:
    """One frame of the property: a message to give a fresh id, or data sent as it is."""

    def __init__(self, data: Any, *, fresh_id: bool = False) -> None:
        self.data = data
        self.fresh_id = fresh_id

    def __repr__(self) -> str:
        shown = repr(self.data)
        cut = f"{shown[:300]}...({len(shown)} chars)" if len(shown) > 300 else shown
        return f"Frame({cut}, fresh_id={self.fresh_id})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


frames = st.one_of(
    st.sampled_from(valid_bases()).map(lambda m: Frame(m, fresh_id=True)),
    mutated_messages().map(lambda m: Frame(m, fresh_id=True)),
    random_dicts().map(Frame),
    json_values.map(lambda v: Frame(json.dumps(v))),
    st.text(max_size=200).map(Frame),
    st.binary(max_size=200).map(Frame),
)


def usable_id(data: str | bytes) -> str | None:
    """The id the server should echo: a string of 1..64 characters in an object."""
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if isinstance(raw, dict):
        value = raw.get("id")
        # A lone surrogate cannot be sent back in UTF-8, so it cannot be echoed either.
        if isinstance(value, str) and 0 < len(value) <= 64 and not _unencodable(value):
            return value
    return None


def _unencodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@dataclass
class PropertyRun:
    loop: asyncio.AbstractEventLoop
    base_url: str
    raw: Raw
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    created: set[str] = field(default_factory=set)
    answered: int = 0
    codes: dict[str, int] = field(default_factory=dict)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def encode(self, frame: Frame) -> tuple[str | bytes, str | None]:
        """Return the data to send and the id its answer must carry."""
        data = frame.data
        if isinstance(data, dict):
            if frame.fresh_id and data.get("type") != "signal" and data.get("id", "ID") == "ID":
                # A fresh id per example, unless the mutation was to the id itself.
                data = {**data, "id": f"prop-{next(self.ids)}"}
            data = json.dumps(data)
        return data, usable_id(data)

    async def reconnect(self) -> None:
        await self.raw.close()
        self.raw = await authenticated(self.base_url)

    def is_push(self, message: ServerMessage) -> bool:
        """Messages the booth may get at any time about its own sessions."""
        if isinstance(message, QueueStatus | SessionEnded):
            return message.session_id in self.created
        if isinstance(message, SessionUpdate):
            return message.session.session_id in self.created
        return False

    async def expect_close(self, data: str | bytes) -> int | None:
        """Send a frame over the hard limit: the server closes the socket; reconnect."""
        await self.raw.send(data)
        await asyncio.wait_for(self.raw.closed.wait(), 5)
        code = self.raw.close_code
        await self.reconnect()
        return code

    def check(self, frame: Frame) -> None:
        data, request_id = self.encode(frame)
        size = len(data.encode()) if isinstance(data, str) else len(data)
        if size > HARD_FRAME_LIMIT:
            # The one case where closing is the answer (see test_frame_over_256_kib_...).
            assert self.run(self.expect_close(data)) == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
            self.codes["closed_too_big"] = self.codes.get("closed_too_big", 0) + 1
            self.answered += 1
            return
        try:
            answers = self.run(self.raw.answers_to(data))
        except (ConnectionError, TimeoutError) as exc:
            # Leave a fresh connection for the next example, then report this one.
            self.run(self.reconnect())
            raise AssertionError(f"the server dropped the connection on {data!r:.300}") from exc
        replies = [m for m in answers if not self.is_push(m)]
        assert len(replies) == 1, (data, replies)
        (reply,) = replies
        assert not (isinstance(reply, Error) and reply.code == ErrorCode.INTERNAL), reply
        if isinstance(reply, Error):
            self.codes[reply.code.value] = self.codes.get(reply.code.value, 0) + 1
            if reply.code in (ErrorCode.BAD_JSON, ErrorCode.TOO_LARGE):
                assert reply.id is None
            else:
                assert reply.id == request_id, (data, reply)
        else:
            assert getattr(reply, "id", None) == request_id, (data, reply)
            self.codes[reply.type] = self.codes.get(reply.type, 0) + 1
        if isinstance(reply, CallQueued):
            assert reply.session.site == "lib-kitee"
            self.created.add(reply.session.session_id)
        self.answered += 1


@pytest.mark.timeout(300)
async def test_random_and_mutated_frames_are_answered_and_leak_nothing() -> None:
    directory = with_limits(rate_per_s=1_000_000, rate_burst=1_000_000)
    store = MemoryStore()
    async with running_node(store, directory) as node:
        run = PropertyRun(
            asyncio.get_running_loop(), node.base_url, await authenticated(node.base_url)
        )

        @settings(
            max_examples=200,
            deadline=None,
            database=None,
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.filter_too_much,
            ],
        )
        @given(frames)
        # Known-nasty frames first, on every run.
        @example(Frame('{"type": "ping", "id": "\\ud800"}'))
        @example(Frame("[" * 5_000 + "]" * 5_000))
        @example(Frame('{"type": "ping", "id": "n", "x": ' + "[" * 3_000 + "]" * 3_000 + "}"))
        @example(Frame('{"type": "ping", "id": "big", "pad": "' + "x" * MAX_MESSAGE_BYTES + '"}'))
        @example(Frame("x" * (HARD_FRAME_LIMIT + 1)))
        def property_holds(frame: Frame) -> None:
            run.check(frame)

        try:
            await asyncio.to_thread(property_holds)
            # The server is up and the connection still works.
            await run.raw.assert_usable()
            assert run.answered >= 200
            # No state leaked: every session is one the booth created, and its own.
            counts = await store.count_sessions_by_state()
            assert sum(counts.values()) == len(run.created), (counts, run.created)
            assert set(await store.memberships(BOOTH.subject)) <= run.created
            for session_id in run.created:
                record = await store.load_session(session_id)
                assert record is not None and record.site == "lib-kitee"
                assert [m.subject for m in record.members] == [BOOTH.subject]
            events = [e for _, e in await store.read_events()]
            assert all(e["site"] == "lib-kitee" for e in events)
            assert {e["session_id"] for e in events} == run.created
            for account in directory.staff:
                assert await store.load_expert(f"staff:{account.username}") is None
            # Withdraw what the booth asked for; then nothing waits anywhere.
            for session_id in run.created:
                record = await store.load_session(session_id)
                if record is not None and not record.finished:
                    answers = await run.raw.answers_to(
                        json.dumps(
                            {"type": "call_cancel", "id": "cleanup", "session_id": session_id}
                        )
                    )
                    assert any(getattr(a, "id", None) == "cleanup" for a in answers), answers
            assert await store.queue_lengths() == {}
            assert set(await store.count_sessions_by_state()) <= {"abandoned"}
        finally:
            await run.raw.close()
