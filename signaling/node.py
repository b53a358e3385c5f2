"""One signaling node: its connections, message handling, delivery and timers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType

from interpreter_bridge.bridge import InterpreterBridge
from interpreter_bridge.checkin import CheckIn

from .catalog import build_catalog
from .connection import CLOSE_REPLACED, Connection
from .directory import Directory
from .fleet import record_health
from .ice import ice_servers
from .identity import Authority, Principal, TokenError
from .logs import public_name
from .metrics import Metrics
from .overview import QueueCounts, build_overview
from .protocol import (
    SUPPORTED_VERSIONS,
    Ack,
    AppointmentCheckin,
    BoothHealth,
    CallCancel,
    CallQueued,
    CallRequest,
    CaptionRelay,
    CaptionSend,
    Catalog,
    CatalogAgency,
    CatalogRequest,
    ChatRelay,
    ChatSend,
    ClientMessage,
    DoccamJoin,
    DoccamShare,
    DoccamShareRequest,
    DoccamShareRequested,
    Error,
    ErrorCode,
    Feedback,
    GoingAway,
    GuestCheckin,
    Hello,
    IceSignal,
    Identity,
    InterpreterAccept,
    InterpreterCancel,
    InterpreterDecline,
    InterpreterRequest,
    Message,
    OfferAccept,
    OfferDecline,
    Ping,
    Pong,
    ProtocolError,
    QualityReport,
    Request,
    SessionEnd,
    SessionLeave,
    SessionUpdate,
    SetAvailability,
    Signal,
    Token,
    TokenRefresh,
    Transfer,
    Welcome,
    encode,
    encode_ice_relay,
    encode_signal_relay,
    parse_client_message,
    parse_ice_signal,
)
from .quality import record_quality
from .records import Member, SessionRecord, queue_key
from .routing import Router, RoutingError
from .store import Store
from .supervision import WALLBOARD_INTERVAL_S, build_wallboard, narrowed, supervised_agencies
from .tasks import cancel_and_wait, cancel_requested

log = logging.getLogger(__name__)

TICK_S = 0.25
SWEEP_S = 1.0
CATALOG_MAX_AGE_S = 5.0
OVERVIEW_POLL_S = 2.0  # colleagues' availability changes without a queue change
OVERVIEW_MIN_GAP_S = 1.0  # at most one queue overview a second per expert
OVERVIEW_REFRESH_S = 10.0  # and one at least this often, changed or not
BROADCAST = "all"

# Which role each request needs (one of them, for a tuple); messages not listed need only
# a session membership.
REQUIRED_ROLE: dict[str, str | tuple[str, ...]] = {
    "booth_health": "booth_agent",
    "doccam_join": "doccam",
    "doccam_share": "expert",
    "catalog_request": "booth",
    "call_request": "booth",
    "call_cancel": "booth",
    "feedback": ("booth", "guest"),
    "guest_checkin": "guest",
    "appointment_checkin": "booth",
    "offer_accept": "expert",
    "offer_decline": "expert",
    "session_end": "expert",
    "transfer": "expert",
    "interpreter_accept": "interpreter",
    "interpreter_decline": "interpreter",
    "caption": "interpreter",
    "doccam_share_request": "interpreter",
}


class Node:
    """A signaling node: serves connections and routes through the shared store."""

    def __init__(
        self,
        directory: Directory,
        store: Store,
        node_id: str,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.store = store
        self.node_id = node_id
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.limits = directory.limits
        self.authority = Authority(directory, clock)
        self.router = Router(store, directory, self, node_id, clock)
        self.bridge = InterpreterBridge(store, directory, self.router, self, clock)
        self.appointments = CheckIn(store, directory, self.router, clock)
        self.connections: dict[str, Connection] = {}
        self.accepting = True
        self.started_at = time.monotonic()
        self._dirty: set[str] = set()
        self._wake_status = asyncio.Event()
        # Connections with calls waiting in a queue: only these need position updates.
        self._waiting_conns: set[Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        # Experts owed a queue overview now (just connected or changed their skills), and
        # what each was sent last (counts, monotonic time).
        self._overview_due: set[str] = set()
        self._overview_sent: dict[str, tuple[object, float]] = {}
        self._wake_wallboard = asyncio.Event()
        self._wake_overview = asyncio.Event()
        # Every booth asks for the catalog; one computation serves them all for a while.
        self._catalog: tuple[float, list[CatalogAgency]] | None = None
        self._catalog_lock = asyncio.Lock()
        self._handlers: dict[str, Callable[[Connection, Any], Awaitable[None]]] = {
            "ping": self._on_ping,
            "token_refresh": self._on_token_refresh,
            "booth_health": self._on_booth_health,
            "catalog_request": self._on_catalog_request,
            "call_request": self._on_call_request,
            "call_cancel": self._on_call_cancel,
            "feedback": self._on_feedback,
            "appointment_checkin": self._on_appointment_checkin,
            "guest_checkin": self._on_guest_checkin,
            "set_availability": self._on_set_availability,
            "offer_accept": self._on_offer_accept,
            "offer_decline": self._on_offer_decline,
            "signal": self._on_signal,
            "quality_report": self._on_quality_report,
            "chat": self._on_chat,
            "session_end": self._on_session_end,
            "session_leave": self._on_session_leave,
            "doccam_join": self._on_doccam_join,
            "doccam_share": self._on_doccam_share,
            "transfer": self._on_transfer,
            "interpreter_request": self._on_interpreter_request,
            "interpreter_cancel": self._on_interpreter_cancel,
            "interpreter_accept": self._on_interpreter_accept,
            "interpreter_decline": self._on_interpreter_decline,
            "caption": self._on_caption,
            "doccam_share_request": self._on_doccam_share_request,
        }

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to this node's channels and start the timers."""
        await self.store.subscribe([self.node_id, BROADCAST], self._on_published)
        self._spawn(self._tick_loop(), "tick")
        self._spawn(self._status_loop(), "queue-status")
        self._spawn(self._overview_loop(), "queue-overview")
        self._spawn(self.router.outbox.run(), "event-outbox")
        self._spawn(self._wallboard_loop(), "wallboard")

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Stop accepting, tell clients GOING_AWAY, and close their sockets."""
        self.accepting = False
        connections = list(self.connections.values())
        log.info("draining %d connections", len(connections))
        for conn in connections:
            conn.send(GoingAway(reason="node shutting down; reconnect and resume"))
        await asyncio.gather(*(c.drain(timeout) for c in connections), return_exceptions=True)
        await asyncio.gather(
            *(c.close(WSCloseCode.GOING_AWAY, "going away") for c in connections),
            return_exceptions=True,
        )

    async def close(self) -> None:
        """Cancel the timers, waiting a bounded time for them; idempotent."""
        await cancel_and_wait(self._tasks)

    # --- delivery (Courier) -----------------------------------------------------------

    async def send(self, subject: str, message: Message) -> None:
        """Deliver to a local connection, or publish to the node that holds the subject."""
        conn = self.connections.get(subject)
        if conn is not None:
            self._track(conn, message)
        await self.send_encoded(subject, encode(message), message.type)  # type: ignore[attr-defined]

    async def send_encoded(self, subject: str, data: str, kind: str) -> None:
        """Deliver an already encoded message (not tracked for queue positions)."""
        conn = self.connections.get(subject)
        if conn is not None:
            conn.send_raw(data, kind)
            return
        node = await self.store.presence_node(subject)
        if node is not None and node != self.node_id:
            envelope = {"to": subject, "type": kind, "message": data}
            await self.store.publish(node, json.dumps(envelope))

    async def queue_changed(self, queue: str) -> None:
        """Tell every node (this one included) to refresh queue positions."""
        await self.store.publish(BROADCAST, json.dumps({"queue_changed": queue}))

    def observe_routing(self, seconds: float) -> None:
        """Record routing latency."""
        self.metrics.routing_latency.observe(seconds)

    async def _on_published(self, payload: str) -> None:
        """Handle a message from another node (or the broadcast channel)."""
        data = json.loads(payload)
        if "queue_changed" in data:
            self._dirty.add(str(data["queue_changed"]))
            self._wake_status.set()
            self._wake_overview.set()
        elif "kick" in data:
            # The subject connected again on another node: this older connection goes.
            conn = self.connections.get(data["kick"])
            if conn is not None:
                await self._replace(conn)
        elif "to" in data:
            conn = self.connections.get(data["to"])
            if conn is None:
                return
            if data["type"] == "session_update":
                update = SessionUpdate.model_validate_json(data["message"])
                self._track(conn, update)
            conn.send_raw(data["message"], data["type"])

    def _track(self, conn: Connection, message: Message) -> None:
        """Follow which of a booth's sessions wait in a queue, for position updates."""
        if isinstance(message, SessionUpdate | CallQueued):
            info = message.session
            if info.state == "queued":
                conn.waiting[info.session_id] = queue_key(info.agency, info.service, info.language)
                self._dirty.add(conn.waiting[info.session_id])
                self._wake_status.set()
            else:
                conn.waiting.pop(info.session_id, None)
                conn.last_status.pop(info.session_id, None)
            if conn.waiting:
                self._waiting_conns.add(conn)
            else:
                self._waiting_conns.discard(conn)

    # --- serving a connection ---------------------------------------------------------

    async def serve(self, conn: Connection) -> None:
        """Read a client's messages until it goes away."""
        conn.start()
        self.metrics.connections.labels("unauthenticated").inc()
        try:
            await self._await_hello(conn)
            if conn.principal is None:
                return
            self.metrics.connections.labels("unauthenticated").dec()
            self.metrics.connections.labels(conn.principal.kind).inc()
            async for msg in conn.ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self.handle_frame(conn, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            label = conn.principal.kind if conn.principal else "unauthenticated"
            self.metrics.connections.labels(label).dec()
            await self._disconnect(conn)

    async def _await_hello(self, conn: Connection) -> None:
        """Accept messages until a valid hello, within the hello timeout."""
        deadline = time.monotonic() + self.limits.hello_timeout_s
        while conn.principal is None and not conn.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                conn.send(Error(code=ErrorCode.UNAUTHENTICATED, message="no hello in time"))
                await conn.drain(1.0)
                await conn.close(WSCloseCode.POLICY_VIOLATION, "no hello")
                return
            try:
                msg = await conn.ws.receive(timeout=remaining)
            except TimeoutError:
                continue
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                await self.handle_frame(conn, msg.data)
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                return
            elif msg.type == WSMsgType.ERROR:
                return

    def _error(self, conn: Connection, error: Error) -> None:
        """Send an error and count it."""
        self.metrics.errors.labels(error.code.value).inc()
        conn.send(error)

    async def handle_frame(self, conn: Connection, data: str | bytes) -> None:
        """Check, parse, authorise and handle one frame."""
        if not conn.bucket.take():
            now = time.monotonic()
            # One error a second is enough to tell a flooding client; the rest are dropped.
            if now - conn.last_rate_error >= 1.0:
                conn.last_rate_error = now
                self._error(
                    conn,
                    Error(
                        code=ErrorCode.RATE_LIMITED,
                        message="too many messages; slow down",
                        retry_after_s=conn.bucket.retry_after(),
                    ),
                )
            self.metrics.count_in(None)
            return
        # A frame of at most a quarter of the limit in characters is within it in UTF-8.
        if conn.principal is not None and 4 * len(data) <= self.limits.max_message_bytes:
            ice = parse_ice_signal(data)
            if ice is not None:  # most relayed traffic: skip building models
                self.metrics.count_in("signal")
                await self._relay_ice(conn, ice)
                return
        try:
            message = parse_client_message(data, self.limits.max_message_bytes)
        except ProtocolError as exc:
            self.metrics.count_in(None)
            self._error(conn, exc.error)
            return
        self.metrics.count_in(message.type)
        request_id = message.id if isinstance(message, Request) else None
        try:
            await self._dispatch(conn, message)
        except RoutingError as exc:
            self._error(
                conn,
                Error(
                    code=exc.code,
                    message=exc.message,
                    field=exc.field,
                    id=request_id,
                    next_opening=exc.next_opening,
                    retry_after_s=exc.retry_after_s,
                ),
            )
        except Exception:
            log.exception("failed to handle %s", message.type)
            self._error(
                conn,
                Error(code=ErrorCode.INTERNAL, message="internal error; try again", id=request_id),
            )

    async def _dispatch(self, conn: Connection, message: ClientMessage) -> None:
        """Authorise a parsed message and call its handler."""
        if isinstance(message, Hello):
            if conn.principal is not None:
                raise RoutingError(ErrorCode.CONFLICT, "hello was already accepted")
            await self._on_hello(conn, message)
            return
        if conn.principal is None:
            raise RoutingError(ErrorCode.UNAUTHENTICATED, "send hello with a token first")
        needed = REQUIRED_ROLE.get(message.type)
        roles = (needed,) if isinstance(needed, str) else needed or ()
        if roles and not any(conn.principal.has_role(role) for role in roles):
            names = " or ".join(roles)
            raise RoutingError(
                ErrorCode.FORBIDDEN, f"{message.type} needs the {names} role", "type"
            )
        await self._handlers[message.type](conn, message)

    # --- hello, resume, goodbye -------------------------------------------------------

    async def _on_hello(self, conn: Connection, hello: Hello) -> None:
        common = SUPPORTED_VERSIONS.intersection(hello.versions)
        if not common:
            raise RoutingError(
                ErrorCode.UNSUPPORTED_VERSION,
                f"server speaks versions {sorted(SUPPORTED_VERSIONS)}",
                "versions",
            )
        if not self.accepting:
            raise RoutingError(ErrorCode.UNAVAILABLE, "this node is shutting down; use another")
        token = hello.token or conn.cookie_token
        if token is None:
            raise RoutingError(
                ErrorCode.UNAUTHENTICATED, "hello needs a token (or a console login)", "token"
            )
        try:
            principal = self.authority.verify(token)
        except TokenError as exc:
            raise RoutingError(ErrorCode.UNAUTHENTICATED, str(exc), "token") from None
        resumed = False
        if hello.resume_token is not None:
            try:
                previous = self.authority.verify(hello.resume_token, typ="resume")
            except TokenError as exc:
                raise RoutingError(ErrorCode.UNAUTHENTICATED, str(exc), "resume_token") from None
            if previous.subject != principal.subject:
                raise RoutingError(
                    ErrorCode.FORBIDDEN, "resume token belongs to someone else", "resume_token"
                )
            resumed = True
        await self._register(conn, principal)
        await self.router.set_connected(principal.subject, True)
        sessions = await self._live_sessions(principal.subject)
        resume_token, _ = self.authority.issue(principal, typ="resume")
        conn.send(
            Welcome(
                id=hello.id,
                version=max(common),
                node_id=self.node_id,
                identity=Identity(
                    kind=principal.kind,
                    subject=principal.subject,
                    roles=list(principal.roles),
                    site=principal.site,
                    grants=self._grants(principal),
                ),
                resume_token=resume_token,
                grace_period_s=self.directory.routing.grace_period_s,
                heartbeat_s=self.limits.heartbeat_s,
                ice_servers=ice_servers(
                    self.directory.ice, principal.subject.split(":", 1)[0], self.clock()
                ),
                ice_transport_policy=(
                    "relay" if self.directory.relay_only(principal.site) else "all"
                ),
                sessions=[s.info(principal.subject) for s in sessions],
                resumed=resumed and bool(sessions),
            )
        )
        for record in sessions:
            self._track(conn, SessionUpdate(session=record.info(principal.subject)))
        if principal.has_role("expert"):
            expert = await self.store.load_expert(principal.subject)
            conn.send(self.router.availability_of(expert, principal.subject))
            self._overview_due.add(principal.subject)
            self._wake_overview.set()
        elif principal.has_role("interpreter"):
            conn.send(await self.bridge.availability(principal.subject))
        if principal.has_role("supervisor") or principal.has_role("admin"):
            self._wake_wallboard.set()  # the picture now, not at the next beat
        await self._resend_offer(principal)
        if principal.has_role("interpreter"):
            await self.bridge.resend_rings(principal.subject)

    def _grants(self, principal: Principal) -> dict[str, dict[str, Any]]:
        """Return the principal's role scopes as the directory has them now."""
        account = self.directory.account(principal.username) if principal.username else None
        return account.grants() if account else {}

    async def _register(self, conn: Connection, principal: Principal) -> None:
        """Make ``conn`` the subject's one connection, replacing any older one."""
        old = self.connections.get(principal.subject)
        if old is not None:
            await self._replace(old)
        else:
            node = await self.store.presence_node(principal.subject)
            if node is not None and node != self.node_id:
                await self.store.publish(node, json.dumps({"kick": principal.subject}))
        conn.principal = principal
        self.connections[principal.subject] = conn
        await self.store.touch_presence([principal.subject], self.node_id, self.clock())

    async def _replace(self, old: Connection) -> None:
        """Close an older connection of a subject that connected again."""
        if old.subject is not None and self.connections.get(old.subject) is old:
            del self.connections[old.subject]
        old.send(Error(code=ErrorCode.CONFLICT, message="replaced by a newer connection"))
        await old.drain(0.5)
        await old.close(CLOSE_REPLACED, "replaced")

    async def _live_sessions(self, subject: str) -> list[SessionRecord]:
        """Return the subject's sessions that are not over."""
        sessions = []
        for session_id in await self.store.memberships(subject):
            record = await self.store.load_session(session_id)
            if record is not None and not record.finished:
                sessions.append(record)
        return sessions

    async def _resend_offer(self, principal: Principal) -> None:
        """Ring an expert again for an offer still open to them after a reconnect."""
        if not principal.has_role("expert"):
            return
        expert = await self.store.load_expert(principal.subject)
        if expert is None or expert.state != "offered" or expert.session_id is None:
            return
        record = await self.store.load_session(expert.session_id)
        if record is not None and record.state == "offered":
            await self.send(principal.subject, self.router._offer_message(record))

    async def _disconnect(self, conn: Connection) -> None:
        """Forget a closed connection; its subject's grace period starts now."""
        await conn.close()
        subject = conn.subject
        if subject is None or self.connections.get(subject) is not conn:
            return  # never authenticated, or replaced by a newer connection
        del self.connections[subject]
        try:
            await self.store.mark_disconnected(subject, self.node_id, self.clock())
            await self.router.set_connected(subject, False)
        except Exception:
            # The store may be down; the presence sweep handles the subject later.
            log.exception("could not record the disconnect of a %s", public_name(subject))

    # --- handlers ---------------------------------------------------------------------

    async def _on_ping(self, conn: Connection, message: Ping) -> None:
        conn.send(Pong(id=message.id, server_time=self.clock()))

    async def _on_token_refresh(self, conn: Connection, message: TokenRefresh) -> None:
        assert conn.principal is not None
        token, expires = self.authority.issue(conn.principal)
        conn.send(Token(id=message.id, token=token, expires_at=expires))

    async def _on_booth_health(self, conn: Connection, message: BoothHealth) -> None:
        assert conn.principal is not None and conn.principal.site is not None
        await record_health(self.store, conn.principal.site, message, self.clock())
        conn.send(Ack(id=message.id))

    async def _on_catalog_request(self, conn: Connection, message: CatalogRequest) -> None:
        async with self._catalog_lock:
            now = self.clock()
            if self._catalog is None or now - self._catalog[0] >= CATALOG_MAX_AGE_S:
                self._catalog = (now, await build_catalog(self.directory, self.router, now))
            generated_at, agencies = self._catalog
        conn.send(Catalog(id=message.id, generated_at=generated_at, agencies=agencies))

    async def _on_feedback(self, conn: Connection, message: Feedback) -> None:
        assert conn.principal is not None
        await self.router.feedback(conn.principal, message.session_id, message.score)
        conn.send(Ack(id=message.id))

    async def _on_appointment_checkin(self, conn: Connection, message: AppointmentCheckin) -> None:
        started = time.perf_counter()
        assert conn.principal is not None and conn.principal.site is not None
        record = await self.appointments.check_in(conn.principal, message)
        reply = CallQueued(id=message.id, session=record.info(conn.principal.subject))
        self._track(conn, reply)
        conn.send(reply)
        await self.router.dispatch(record.queue, started)

    async def _on_guest_checkin(self, conn: Connection, message: GuestCheckin) -> None:
        started = time.perf_counter()
        assert conn.principal is not None
        record = await self.appointments.guest_check_in(conn.principal, message.id)
        reply = CallQueued(id=message.id, session=record.info(conn.principal.subject))
        self._track(conn, reply)
        conn.send(reply)
        await self.router.dispatch(record.queue, started)

    async def _on_call_request(self, conn: Connection, message: CallRequest) -> None:
        started = time.perf_counter()
        assert conn.principal is not None
        record = await self.router.request_call(conn.principal, message)
        reply = CallQueued(id=message.id, session=record.info(conn.principal.subject))
        self._track(conn, reply)
        conn.send(reply)
        await self.router.dispatch(record.queue, started)

    async def _on_call_cancel(self, conn: Connection, message: CallCancel) -> None:
        assert conn.principal is not None
        await self.router.cancel(conn.principal, message.session_id)
        conn.send(Ack(id=message.id))

    async def _on_set_availability(self, conn: Connection, message: SetAvailability) -> None:
        assert conn.principal is not None
        if not conn.principal.has_role("expert"):
            if not conn.principal.has_role("interpreter"):
                raise RoutingError(
                    ErrorCode.FORBIDDEN, "set_availability needs the expert role", "type"
                )
            if message.skills is not None:
                raise RoutingError(
                    ErrorCode.FORBIDDEN, "interpreters do not choose skills", "skills"
                )
            availability = await self.bridge.set_availability(
                conn.principal, message.status, message.reason
            )
            conn.send(Ack(id=message.id))
            conn.send(availability)
            return
        record = await self.router.set_availability(
            conn.principal, message.status, message.reason, message.skills
        )
        conn.send(Ack(id=message.id))
        conn.send(self.router.availability_of(record, conn.principal.subject))
        self._overview_due.add(conn.principal.subject)
        self._wake_overview.set()

    async def _on_offer_accept(self, conn: Connection, message: OfferAccept) -> None:
        assert conn.principal is not None
        record = await self.router.accept(conn.principal, message.session_id)
        conn.send(Ack(id=message.id))
        # The interpreter the citizen chose at the booth is asked for once someone answers.
        await self.bridge.request_for_booth(record)

    async def _on_offer_decline(self, conn: Connection, message: OfferDecline) -> None:
        assert conn.principal is not None
        await self.router.decline(conn.principal, message.session_id)
        conn.send(Ack(id=message.id))

    async def _on_signal(self, conn: Connection, message: Signal) -> None:
        payload = message.payload
        answer = payload.kind == "sdp" and payload.sdp_type == "answer"
        await self._relay(
            conn,
            message.session_id,
            message.to,
            lambda sender: encode_signal_relay(message.session_id, sender, payload),
            answer,
        )

    async def _on_quality_report(self, conn: Connection, message: QualityReport) -> None:
        # Only members report; a report that comes after the end is too late to count.
        assert conn.principal is not None
        record = await self.store.peek_session(message.session_id)
        self.router.member_of(record, conn.principal)
        assert record is not None
        if not record.finished:
            await record_quality(
                self.store, message.session_id, conn.principal.subject, message.quality
            )

    async def _on_chat(self, conn: Connection, message: ChatSend) -> None:
        # Relayed to the other members as it is and kept nowhere: no log, no event.
        assert conn.principal is not None
        record = await self.store.peek_session(message.session_id)
        sender = self.router.member_of(record, conn.principal)
        assert record is not None
        if record.finished:
            raise RoutingError(ErrorCode.CONFLICT, "the session is over", "session_id")
        relay = ChatRelay(
            session_id=record.session_id, from_=sender.id, text=message.text, at=self.clock()
        )
        for member in record.members:
            if member.id != sender.id:
                await self.send(member.subject, relay)
        conn.send(Ack(id=message.id))

    async def _relay_ice(self, conn: Connection, ice: IceSignal) -> None:
        """Relay a fast-parsed ICE signal, answering errors as the full path does."""
        try:
            await self._relay(
                conn,
                ice.session_id,
                ice.to,
                lambda sender: encode_ice_relay(ice.session_id, sender, ice.payload),
                False,
            )
        except RoutingError as exc:
            self._error(conn, Error(code=exc.code, message=exc.message, field=exc.field))
        except Exception:
            log.exception("failed to relay an ICE signal")
            self._error(conn, Error(code=ErrorCode.INTERNAL, message="internal error; try again"))

    async def _relay(
        self,
        conn: Connection,
        session_id: str,
        to: str,
        encode_for: Callable[[str], str],
        answer: bool,
    ) -> None:
        """Relay SDP or ICE from a member to another member of the same session."""
        assert conn.principal is not None
        record = await self.store.peek_session(session_id)
        sender = self.router.member_of(record, conn.principal)
        assert record is not None
        target = record.member_by_id(to)
        if target is None:
            raise RoutingError(ErrorCode.NOT_FOUND, "no such participant in this session", "to")
        if target.id == sender.id:
            raise RoutingError(ErrorCode.INVALID_FIELD, "cannot signal yourself", "to")
        if record.finished:
            raise RoutingError(ErrorCode.CONFLICT, "the session is over", "session_id")
        if not record.may_connect(sender, target):
            raise RoutingError(
                ErrorCode.FORBIDDEN, "the document camera is shown to the expert only", "to"
            )
        await self.send_encoded(target.subject, encode_for(sender.id), "signal")
        if record.state == "connecting" and answer:
            await self.router.mark_active(record.session_id)

    async def _on_session_end(self, conn: Connection, message: SessionEnd) -> None:
        assert conn.principal is not None
        await self.router.end(conn.principal, message.session_id, message.outcome)
        conn.send(Ack(id=message.id))

    async def _on_session_leave(self, conn: Connection, message: SessionLeave) -> None:
        assert conn.principal is not None
        await self.router.leave(conn.principal, message.session_id)
        conn.send(Ack(id=message.id))

    async def _on_doccam_join(self, conn: Connection, message: DoccamJoin) -> None:
        assert conn.principal is not None
        await self.router.join_doccam(conn.principal, message.session_id)
        conn.send(Ack(id=message.id))

    async def _on_doccam_share(self, conn: Connection, message: DoccamShare) -> None:
        assert conn.principal is not None
        await self.router.share_doccam(conn.principal, message.session_id, message.shared)
        conn.send(Ack(id=message.id))

    async def _on_transfer(self, conn: Connection, message: Transfer) -> None:
        assert conn.principal is not None
        await self.router.transfer(conn.principal, message)
        conn.send(Ack(id=message.id))

    async def _on_interpreter_request(self, conn: Connection, message: InterpreterRequest) -> None:
        assert conn.principal is not None
        await self.bridge.request(
            conn.principal, message.session_id, message.language, message.modality
        )
        conn.send(Ack(id=message.id))

    async def _on_interpreter_cancel(self, conn: Connection, message: InterpreterCancel) -> None:
        assert conn.principal is not None
        await self.bridge.cancel(conn.principal, message.session_id)
        conn.send(Ack(id=message.id))

    async def _on_interpreter_accept(self, conn: Connection, message: InterpreterAccept) -> None:
        assert conn.principal is not None
        await self.bridge.accept(conn.principal, message.request_id)
        conn.send(Ack(id=message.id))

    async def _on_interpreter_decline(self, conn: Connection, message: InterpreterDecline) -> None:
        assert conn.principal is not None
        await self.bridge.decline(conn.principal, message.request_id)
        conn.send(Ack(id=message.id))

    async def _interpreter_member(
        self, conn: Connection, session_id: str
    ) -> tuple[SessionRecord, Member]:
        """Return a running session and the sender's membership in it as an interpreter."""
        assert conn.principal is not None
        record = await self.store.peek_session(session_id)
        sender = self.router.member_of(record, conn.principal)
        assert record is not None
        if sender.kind != "interpreter":
            raise RoutingError(ErrorCode.FORBIDDEN, "only the session's interpreter may", "type")
        if record.finished:
            raise RoutingError(ErrorCode.CONFLICT, "the session is over", "session_id")
        return record, sender

    async def _on_caption(self, conn: Connection, message: CaptionSend) -> None:
        # Relayed as it is and kept nowhere: no log, no event (docs/protocol.md §5.3).
        record, sender = await self._interpreter_member(conn, message.session_id)
        relay = CaptionRelay(
            session_id=record.session_id,
            from_=sender.id,
            text=message.text,
            final=message.final,
            at=self.clock(),
        )
        for member in record.members:
            if member.id != sender.id and member.kind != "doccam":
                await self.send(member.subject, relay)

    async def _on_doccam_share_request(self, conn: Connection, message: DoccamShareRequest) -> None:
        record, sender = await self._interpreter_member(conn, message.session_id)
        asked = DoccamShareRequested(session_id=record.session_id, from_=sender.id)
        for member in record.members:
            if member.kind == "expert":
                await self.send(member.subject, asked)
        conn.send(Ack(id=message.id))

    # --- timers -----------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        """Expire offers, refresh presence and sweep lost subjects, forever."""
        refresh_s = min(5.0, self.directory.routing.grace_period_s / 3)
        last_refresh = last_sweep = 0.0
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self.router.expire_offers()
                now = time.monotonic()
                if now - last_refresh >= refresh_s:
                    last_refresh = now
                    await self.store.touch_presence(
                        list(self.connections), self.node_id, self.clock()
                    )
                if now - last_sweep >= SWEEP_S:
                    last_sweep = now
                    await self._sweep_lost()
                    await self.router.dispatch_all()
                    await self.bridge.tick()
            except Exception:
                if cancel_requested():
                    raise  # a library turned our cancel into its own error
                # The store may be restarting; the next tick tries again.
                log.exception("tick failed")

    async def _sweep_lost(self) -> None:
        """Handle subjects whose grace period ran out."""
        before = self.clock() - self.directory.routing.grace_period_s
        for subject in await self.store.stale_subjects(before):
            if subject in self.connections:
                await self.store.touch_presence([subject], self.node_id, self.clock())
                continue
            log.info("grace period over for a %s", public_name(subject))
            await self.bridge.subject_lost(subject)
            await self.router.subject_lost(subject)

    async def _status_loop(self) -> None:
        """Push queue positions to local booths on change and at a steady interval."""
        interval = self.directory.routing.queue_status_interval_s
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can turn a cancel that
            # races its timeout into TimeoutError, and this loop would never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._wake_status.wait()
            self._wake_status.clear()
            dirty, self._dirty = self._dirty, set()
            try:
                await self._push_statuses(dirty, interval)
            except Exception:
                if cancel_requested():
                    raise  # a library turned our cancel into its own error
                log.exception("queue status push failed")

    async def _push_statuses(self, dirty: set[str], interval: float) -> None:
        """Send each waiting local booth its position if it changed or is due."""
        now = time.monotonic()
        for conn in list(self._waiting_conns):
            if conn.closing or self.connections.get(conn.subject or "") is not conn:
                self._waiting_conns.discard(conn)
                continue
            for session_id, queue in list(conn.waiting.items()):
                last = conn.last_status.get(session_id)
                if queue not in dirty and last is not None and now - last[2] < interval:
                    continue
                record = await self.store.load_session(session_id)
                status = await self.router.queue_status(record) if record else None
                if status is None:
                    continue
                key = (status.position, status.estimated_wait_s)
                if last is None or key != last[:2] or now - last[2] >= interval:
                    conn.last_status[session_id] = (*key, now)
                    conn.send(status)

    async def _overview_loop(self) -> None:
        """Push each local expert the overview of their queues, on change and steadily."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(OVERVIEW_POLL_S):
                    await self._wake_overview.wait()
            self._wake_overview.clear()
            try:
                await self._push_overviews()
            except Exception:
                if cancel_requested():
                    raise  # a library turned our cancel into its own error
                log.exception("queue overview push failed")
            await asyncio.sleep(OVERVIEW_MIN_GAP_S)

    async def _wallboard_loop(self) -> None:
        """Push the local supervisors the wallboard, steadily and when one connects."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(WALLBOARD_INTERVAL_S):
                    await self._wake_wallboard.wait()
            self._wake_wallboard.clear()
            try:
                await self._push_wallboards()
            except Exception:
                if cancel_requested():
                    raise
                log.exception("wallboard push failed")

    async def _push_wallboards(self) -> None:
        """Build the wallboard once and send each supervisor the part they may see."""
        watchers = [
            (conn, scope)
            for conn in self.connections.values()
            if conn.principal is not None
            and (scope := supervised_agencies(self.directory, conn.principal)) != []
        ]
        if not watchers:
            return

        async def interpreter_state(subject: str) -> str:
            return (await self.bridge.availability(subject)).status

        board = await build_wallboard(self.store, self.directory, self.clock(), interpreter_state)
        for conn, scope in watchers:
            conn.send(narrowed(board, scope))

    async def _push_overviews(self) -> None:
        """Send every local expert whose overview changed (or is due) a fresh one."""
        experts = [
            conn
            for conn in self.connections.values()
            if conn.principal is not None and conn.principal.has_role("expert")
        ]
        due, self._overview_due = self._overview_due, set()
        for subject in [s for s in self._overview_sent if s not in self.connections]:
            del self._overview_sent[subject]
        if not experts:
            return
        counts = QueueCounts(self.store, self.clock(), await self.store.queue_lengths())
        now = time.monotonic()
        for conn in experts:
            assert conn.principal is not None
            subject = conn.principal.subject
            overview = await build_overview(
                self.directory, counts, conn.principal, await self.store.load_expert(subject)
            )
            key = overview.model_copy(
                update={
                    "queues": [
                        q.model_copy(update={"oldest_wait_s": None}) for q in overview.queues
                    ]
                }
            )
            last = self._overview_sent.get(subject)
            if (
                subject in due
                or last is None
                or last[0] != key
                or now - last[1] >= OVERVIEW_REFRESH_S
            ):
                self._overview_sent[subject] = (key, now)
                conn.send(overview)

    # --- introspection ----------------------------------------------------------------

    def pending_messages(self) -> int:
        """Return how many messages wait in send queues."""
        return sum(c.pending for c in self.connections.values())
