"""Signaling wire protocol: every message a pydantic model, parsed through one union.

Client-to-server and server-to-client messages are separate unions. A request that
expects an answer carries a client-chosen ``id`` and the answer echoes it. The first
message on a connection is ``hello``; it negotiates the protocol version.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})
MAX_MESSAGE_BYTES = 64 * 1024

RequestId = Annotated[str, Field(min_length=1, max_length=64)]
Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
SessionId = Annotated[str, Field(pattern=r"^s-[0-9a-f]{32}$")]
ParticipantId = Annotated[str, Field(min_length=1, max_length=128)]
LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
Modality = Literal["spoken", "sign", "text"]
ParticipantKind = Literal["booth", "doccam", "expert", "interpreter", "guest"]
# S: a room in a library or town hall; XS: a service bus; home: a guest link from home.
SiteKind = Literal["S", "XS", "home"]
SessionState = Literal[
    "requested", "queued", "offered", "connecting", "active", "ended", "abandoned", "failed"
]
ExpertStatus = Literal["available", "paused"]
# What a console shows: the expert's choice, or the wrap-up the server holds them in; an
# interpreter is busy while in a call.
AvailabilityStatus = Literal["available", "paused", "wrap_up", "busy"]
RequestIdOfInterpreter = Annotated[str, Field(pattern=r"^ir-[0-9a-f]{24}$")]


class ErrorCode(enum.StrEnum):
    """Stable error codes; clients switch on these, never on the message text."""

    BAD_JSON = "bad_json"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FIELD = "invalid_field"
    TOO_LARGE = "too_large"
    RATE_LIMITED = "rate_limited"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    CLOSED = "closed"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


class Message(BaseModel):
    """Base of every wire message: strict fields, nothing unknown accepted."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Request(Message):
    """A client message that expects an answer echoing its ``id``."""

    id: RequestId


class InterpreterNeed(Message):
    """The interpreting a citizen asked for: a language and a modality."""

    language: LanguageCode
    modality: Modality


# --- client to server -------------------------------------------------------------


class Hello(Request):
    """Open the conversation: protocol versions spoken, token, optional resume token.

    A staff console omits ``token``: its login cookie (HttpOnly, out of reach of scripts)
    came with the WebSocket upgrade and stands in for it."""

    type: Literal["hello"]
    versions: list[int] = Field(min_length=1, max_length=8)
    token: str | None = Field(default=None, min_length=1, max_length=4096)
    resume_token: str | None = Field(default=None, max_length=4096)


class Ping(Request):
    """Measure the round trip to the server."""

    type: Literal["ping"]


class TokenRefresh(Request):
    """Get a fresh access token before the current one expires (no password needed)."""

    type: Literal["token_refresh"]


DeviceState = Literal["ok", "missing", "error"]


class BoothDevices(Message):
    """Presence of the booth's peripherals, as the endpoint agent sees them."""

    camera: DeviceState
    microphone: DeviceState
    speaker: DeviceState
    document_camera: DeviceState


class BoothHealth(Request):
    """A booth's periodic health report: devices, network to the server, machine."""

    type: Literal["booth_health"]
    devices: BoothDevices
    rtt_ms: float | None = Field(default=None, ge=0, le=60_000)
    loss_pct: float | None = Field(default=None, ge=0, le=100)
    cpu_pct: float = Field(ge=0, le=100)
    disk_free_pct: float = Field(ge=0, le=100)
    kiosk: Literal["running", "starting", "restarting", "down"]
    software_version: str = Field(min_length=1, max_length=40)
    # Set when the report answers a supervisor's device_test.
    test_id: str | None = Field(default=None, pattern=r"^dt-[0-9a-f]{16}$")


class CallRequest(Request):
    """A booth asks for a call with an agency's service in a language."""

    type: Literal["call_request"]
    agency: Identifier
    service: Identifier
    language: LanguageCode
    interpreter: InterpreterNeed | None = None
    # The booth's call that was lost when its link stayed down past the grace period:
    # the new call goes to the front of the queue.
    previous_session: SessionId | None = None


class CatalogRequest(Request):
    """A booth asks what it can call: agencies, services, opening state and waits."""

    type: Literal["catalog_request"]


class Feedback(Request):
    """The citizen's anonymous 1-5 answer to "how did it go?" after a call."""

    type: Literal["feedback"]
    session_id: SessionId
    score: int = Field(ge=1, le=5)


class AppointmentCheckin(Request):
    """A citizen types the numeric code of a booked appointment."""

    type: Literal["appointment_checkin"]
    code: str = Field(pattern=r"^[0-9]{4,12}$")


class GuestCheckin(Request):
    """A citizen at home, signed in by an appointment's guest link, starts its call."""

    type: Literal["guest_checkin"]


class CallCancel(Request):
    """A booth withdraws its waiting call."""

    type: Literal["call_cancel"]
    session_id: SessionId


class Skills(Message):
    """The agencies, services (None = all of them) and languages an expert serves."""

    agencies: list[Identifier] = Field(min_length=1, max_length=64)
    services: list[Identifier] | None = Field(default=None, max_length=256)
    languages: list[LanguageCode] = Field(min_length=1, max_length=64)


class SetAvailability(Request):
    """An expert or interpreter goes available or pauses (experts may choose skills)."""

    type: Literal["set_availability"]
    status: ExpertStatus
    reason: str | None = Field(default=None, max_length=64)
    skills: Skills | None = None


class OfferAccept(Request):
    """An expert takes the call offered to them."""

    type: Literal["offer_accept"]
    session_id: SessionId


class OfferDecline(Request):
    """An expert passes the call offered to them on to the next expert."""

    type: Literal["offer_decline"]
    session_id: SessionId


class SdpPayload(Message):
    """A session description for the peer connection between two participants."""

    kind: Literal["sdp"]
    sdp_type: Literal["offer", "answer", "rollback"]
    sdp: str = Field(max_length=60_000)


class IcePayload(Message):
    """One ICE candidate (``candidate`` null means end of candidates)."""

    kind: Literal["ice"]
    candidate: str | None = Field(default=None, max_length=2048)
    sdp_mid: str | None = Field(default=None, max_length=64)
    sdp_mline_index: int | None = Field(default=None, ge=0, le=64)


SignalPayload = Annotated[SdpPayload | IcePayload, Field(discriminator="kind")]


class Signal(Message):
    """Relay SDP or ICE to another member of the same session."""

    type: Literal["signal"]
    session_id: SessionId
    to: ParticipantId
    payload: SignalPayload


class QualityFigures(Message):
    """Media quality a participant measured in a call (its getStats means so far)."""

    rtt_ms: float | None = Field(default=None, ge=0, le=60_000)
    loss_pct: float | None = Field(default=None, ge=0, le=100)
    fps: float | None = Field(default=None, ge=0, le=240)
    samples: int = Field(ge=1, le=1_000_000)


class QualityReport(Message):
    """A participant's running quality summary of a call, sent now and then (no reply)."""

    type: Literal["quality_report"]
    session_id: SessionId
    quality: QualityFigures


class ChatSend(Request):
    """A line of text to the other members of a session (relayed, never stored)."""

    type: Literal["chat"]
    session_id: SessionId
    text: str = Field(min_length=1, max_length=1000)


class SessionEnd(Request):
    """An expert ends the call with an outcome from the configured list."""

    type: Literal["session_end"]
    session_id: SessionId
    outcome: Identifier


class SessionLeave(Request):
    """A participant leaves the session without ending it for the others."""

    type: Literal["session_leave"]
    session_id: SessionId


class DoccamJoin(Request):
    """The site's document camera joins a call of its booth."""

    type: Literal["doccam_join"]
    session_id: SessionId


class DoccamShare(Request):
    """An expert shows the document camera to the session's interpreters, or stops."""

    type: Literal["doccam_share"]
    session_id: SessionId
    shared: bool


class Transfer(Request):
    """An expert sends the call to another queue; the booth goes to its front."""

    type: Literal["transfer"]
    session_id: SessionId
    agency: Identifier
    service: Identifier
    language: LanguageCode
    note: str | None = Field(default=None, max_length=500)


class InterpreterRequest(Request):
    """The expert or the booth asks for an interpreter to join the call."""

    type: Literal["interpreter_request"]
    session_id: SessionId
    language: LanguageCode
    modality: Modality


class InterpreterCancel(Request):
    """The expert or the booth withdraws the session's open interpreter request."""

    type: Literal["interpreter_cancel"]
    session_id: SessionId


class InterpreterAccept(Request):
    """An interpreter takes a request that rings at them."""

    type: Literal["interpreter_accept"]
    request_id: RequestIdOfInterpreter


class InterpreterDecline(Request):
    """An interpreter passes on a request that rings at them."""

    type: Literal["interpreter_decline"]
    request_id: RequestIdOfInterpreter


class CaptionSend(Message):
    """A speech-to-text interpreter's line: being typed, or finished."""

    type: Literal["caption"]
    session_id: SessionId
    text: str = Field(max_length=500)
    final: bool


class DoccamShareRequest(Request):
    """An interpreter asks the expert to show the document camera."""

    type: Literal["doccam_share_request"]
    session_id: SessionId


ClientMessage = Annotated[
    Hello
    | Ping
    | TokenRefresh
    | BoothHealth
    | CatalogRequest
    | CallRequest
    | CallCancel
    | Feedback
    | AppointmentCheckin
    | GuestCheckin
    | SetAvailability
    | OfferAccept
    | OfferDecline
    | Signal
    | QualityReport
    | ChatSend
    | SessionEnd
    | SessionLeave
    | DoccamJoin
    | DoccamShare
    | Transfer
    | InterpreterRequest
    | InterpreterCancel
    | InterpreterAccept
    | InterpreterDecline
    | CaptionSend
    | DoccamShareRequest,
    Field(discriminator="type"),
]


# --- server to client -------------------------------------------------------------


class IceServer(Message):
    """One entry of RTCConfiguration.iceServers."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class Identity(Message):
    """Who the server knows the client to be."""

    kind: Literal["booth", "staff", "guest"]
    subject: str
    roles: list[str]
    site: str | None = None
    # Per role its scope, e.g. {"expert": {"agencies": ["kela"], "languages": ["fi"]}}.
    grants: dict[str, dict[str, Any]] = {}


class Participant(Message):
    """A member of a session as the other members see it."""

    id: ParticipantId
    kind: ParticipantKind
    connected: bool = True
    # What an expert or interpreter chose to show of themselves (a first name or a
    # title); None shows only the agency.
    display_name: str | None = None
    # An interpreter's language and modality, so that screens can lay it out.
    interpreting: InterpreterNeed | None = None


class InterpreterRequestInfo(Message):
    """A session's open interpreter request, as its members see it."""

    request_id: str
    language: str
    modality: Modality
    state: Literal["ringing", "unanswered", "unavailable"]
    by: Literal["expert", "booth", "booking"]
    waited_s: float
    limit_s: float
    widened: bool = False
    rung: int = 0


class SessionInfo(Message):
    """A session as its members see it (no personal data)."""

    session_id: SessionId
    state: SessionState
    site: str
    agency: str
    service: str
    language: str
    interpreter: InterpreterNeed | None = None
    participants: list[Participant]
    self_id: ParticipantId | None = None
    interpreter_request: InterpreterRequestInfo | None = None
    # The expert shows the document camera to the interpreters (sight translation).
    doccam_shared: bool = False


class Welcome(Message):
    """Answer to hello: the negotiated version and everything needed to start."""

    type: Literal["welcome"] = "welcome"
    id: str
    version: int
    node_id: str
    identity: Identity
    resume_token: str
    grace_period_s: float
    heartbeat_s: float
    ice_servers: list[IceServer]
    # RTCConfiguration.iceTransportPolicy: "relay" when the directory sets ice.relay_only.
    ice_transport_policy: Literal["all", "relay"] = "all"
    sessions: list[SessionInfo]
    resumed: bool


class Pong(Message):
    """Answer to ping."""

    type: Literal["pong"] = "pong"
    id: str
    server_time: float


class Token(Message):
    """Answer to token_refresh: a new access token and when it expires."""

    type: Literal["token"] = "token"
    id: str
    token: str
    expires_at: float


class Ack(Message):
    """Answer to a request that has nothing more to say than that it was done."""

    type: Literal["ack"] = "ack"
    id: str


class CallQueued(Message):
    """Answer to call_request: the session was created and entered its queue."""

    type: Literal["call_queued"] = "call_queued"
    id: str
    session: SessionInfo


LocalizedText = dict[str, str]


class CatalogQueue(Message):
    """One language of a service: calls waiting and what a new caller would wait."""

    language: str
    waiting: int
    estimated_wait_s: int | None = None


class CatalogService(Message):
    """A service a booth can call, with its queues per language."""

    id: str
    name: LocalizedText
    languages: list[str]
    queues: list[CatalogQueue]


class CatalogAgency(Message):
    """An agency as the booth's tiles show it."""

    id: str
    kind: str
    name: LocalizedText
    open: bool
    next_opening: str | None = None
    services: list[CatalogService]


class Catalog(Message):
    """Answer to catalog_request: what can be called now and how long the wait is."""

    type: Literal["catalog"] = "catalog"
    id: str
    generated_at: float
    agencies: list[CatalogAgency]


class QueueStatus(Message):
    """The booth's place in its queue and the estimated wait, pushed on change."""

    type: Literal["queue_status"] = "queue_status"
    session_id: SessionId
    position: int
    estimated_wait_s: int


class OfferSite(Message):
    """Where a call comes from, as the expert sees it."""

    id: str
    kind: SiteKind
    municipality: str
    region: str


class Offer(Message):
    """A call offered to an expert, who must accept or decline before it times out."""

    type: Literal["offer"] = "offer"
    session_id: SessionId
    site: OfferSite
    agency: str
    service: str
    language: str
    interpreter: InterpreterNeed | None = None
    waited_s: float
    ring_timeout_s: float
    transfer_note: str | None = None


class OfferWithdrawn(Message):
    """An offer is no longer open to this expert."""

    type: Literal["offer_withdrawn"] = "offer_withdrawn"
    session_id: SessionId
    reason: Literal["timeout", "cancelled", "declined"]


class Availability(Message):
    """The expert's availability as routing sees it: after hello, after each change they
    make, and when the server changes it (wrap-up after a call, paused after missed offers)."""

    type: Literal["availability"] = "availability"
    status: AvailabilityStatus
    reason: str | None = None
    wrap_up_s: float | None = None  # seconds of wrap-up left; then available by itself
    skills: Skills | None = None
    can_choose_skills: bool = False


class OverviewQueue(Message):
    """One queue an expert serves: calls waiting and how long the oldest has waited."""

    queue: str
    agency: str
    service: str
    language: str
    waiting: int
    oldest_wait_s: float | None = None


class OverviewColleagues(Message):
    """How many other experts of an agency are available now."""

    agency: str
    available: int


class QueueOverview(Message):
    """The queues an expert serves, pushed on change and at a steady interval."""

    type: Literal["queue_overview"] = "queue_overview"
    queues: list[OverviewQueue]
    colleagues: list[OverviewColleagues]


class DeviceTest(Message):
    """To a booth's agent: check the devices now and report (a supervisor asked)."""

    type: Literal["device_test"] = "device_test"
    test_id: str


class AgencyCounts(Message):
    """One agency on the wallboard: its calls in progress and its experts by state."""

    agency: str
    active_calls: int
    experts: dict[str, int]  # available, wrap_up, offered, busy, paused, offline


class BoothCounts(Message):
    """The booths by state: online, in_call, device_problem, offline, never_seen."""

    online: int = 0
    in_call: int = 0
    device_problem: int = 0
    offline: int = 0
    never_seen: int = 0


class Wallboard(Message):
    """The live picture a supervisor watches: queues, calls, staff and booths (counts)."""

    type: Literal["wallboard"] = "wallboard"
    at: float
    queues: list[OverviewQueue]
    agencies: list[AgencyCounts]
    interpreters: dict[str, int]  # available, busy, paused, offline
    booths: BoothCounts


class SessionUpdate(Message):
    """The session's state or membership changed."""

    type: Literal["session_update"] = "session_update"
    session: SessionInfo


class ParticipantEvent(Message):
    """A member joined, left, lost or regained its connection."""

    type: Literal["participant"] = "participant"
    session_id: SessionId
    participant: Participant
    event: Literal["joined", "left", "disconnected", "reconnected"]


class SignalRelay(Message):
    """SDP or ICE from another member of the session."""

    type: Literal["signal"] = "signal"
    session_id: SessionId
    from_: ParticipantId = Field(alias="from")
    payload: SignalPayload

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ChatRelay(Message):
    """A line of text from another member of the session."""

    type: Literal["chat"] = "chat"
    session_id: SessionId
    from_: ParticipantId = Field(alias="from")
    text: str
    at: float

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SessionEnded(Message):
    """The session is over for everyone."""

    type: Literal["session_ended"] = "session_ended"
    session_id: SessionId
    state: Literal["ended", "abandoned", "failed"]
    outcome: str | None = None
    reason: str


class InterpreterOffer(Message):
    """An interpreter request rings at an interpreter, who accepts or declines."""

    type: Literal["interpreter_offer"] = "interpreter_offer"
    request_id: str
    session_id: SessionId
    language: str
    modality: Modality
    session_language: str
    agency: str
    service: str
    site: OfferSite
    urgency: Literal["on_demand", "booked"]
    waited_s: float
    ring_timeout_s: float


class InterpreterOfferWithdrawn(Message):
    """A request no longer rings at this interpreter."""

    type: Literal["interpreter_offer_withdrawn"] = "interpreter_offer_withdrawn"
    request_id: str
    reason: Literal["taken", "cancelled", "timeout", "declined"]


class CaptionRelay(Message):
    """A speech-to-text line from the session's interpreter."""

    type: Literal["caption"] = "caption"
    session_id: SessionId
    from_: ParticipantId = Field(alias="from")
    text: str
    final: bool
    at: float

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DoccamShareRequested(Message):
    """An interpreter asks the expert to show the document camera."""

    type: Literal["doccam_share_requested"] = "doccam_share_requested"
    session_id: SessionId
    from_: ParticipantId = Field(alias="from")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class GoingAway(Message):
    """This node is shutting down: reconnect (to any node) and resume."""

    type: Literal["going_away"] = "going_away"
    reason: str


class Error(Message):
    """A request or message was refused; nothing changed."""

    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    field: str | None = None
    id: str | None = None
    retry_after_s: float | None = None
    next_opening: str | None = None


ServerMessage = Annotated[
    Welcome
    | Pong
    | Token
    | Ack
    | CallQueued
    | Catalog
    | QueueStatus
    | Offer
    | OfferWithdrawn
    | Availability
    | QueueOverview
    | Wallboard
    | DeviceTest
    | SessionUpdate
    | ParticipantEvent
    | SignalRelay
    | ChatRelay
    | SessionEnded
    | InterpreterOffer
    | InterpreterOfferWithdrawn
    | CaptionRelay
    | DoccamShareRequested
    | GoingAway
    | Error,
    Field(discriminator="type"),
]

CLIENT_ADAPTER: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
SERVER_ADAPTER: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)
CLIENT_TYPES: frozenset[str] = frozenset(
    model.model_fields["type"].annotation.__args__[0]
    for model in get_args(get_args(ClientMessage)[0])
)


class ProtocolError(ValueError):
    """A client message could not be parsed; carries the wire error to send back."""

    def __init__(self, error: Error) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error


def _request_id(raw: Any) -> str | None:
    """Return the request id of a raw message when it has a usable one."""
    if isinstance(raw, dict):
        value = raw.get("id")
        if isinstance(value, str) and 0 < len(value) <= 64:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return None  # a lone surrogate: an error carrying it could not be sent
            return value
    return None


def _field_path(loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into a dotted path without union tags."""
    parts: list[str] = []
    for i, item in enumerate(loc):
        # The discriminated union puts the tag (e.g. "call_request") first and, for
        # the payload union, after the field name; they are not fields of the message.
        if i == 0 and isinstance(item, str) and item in CLIENT_TYPES:
            continue
        if isinstance(item, str) and item in ("sdp", "ice") and i > 0 and loc[i - 1] == "payload":
            continue
        parts.append(str(item))
    return ".".join(parts)


def parse_client_message(data: str | bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> ClientMessage:
    """Parse one client frame, raising ProtocolError with the wire error on failure."""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ProtocolError(
            Error(code=ErrorCode.TOO_LARGE, message=f"message exceeds {max_bytes} bytes")
        )
    try:
        # The fast path: a valid message parses in one step; a bad one is parsed again
        # below so that the error names what is wrong.
        return CLIENT_ADAPTER.validate_json(data)
    except ValidationError:
        pass
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ProtocolError(
            Error(code=ErrorCode.BAD_JSON, message=f"not valid JSON: {exc}")
        ) from None
    if not isinstance(raw, dict):
        raise ProtocolError(Error(code=ErrorCode.BAD_JSON, message="a message must be an object"))
    request_id = _request_id(raw)
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        raise ProtocolError(
            Error(
                code=ErrorCode.UNKNOWN_TYPE,
                message=f"unknown message type {kind!r}",
                field="type",
                id=request_id,
            )
        )
    try:
        return CLIENT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        path = _field_path(first["loc"])
        raise ProtocolError(
            Error(
                code=ErrorCode.INVALID_FIELD,
                message=f"{path or 'message'}: {first['msg']}",
                field=path or None,
                id=request_id,
            )
        ) from None


def encode(message: Message) -> str:
    """Serialise a message for the wire."""
    return message.model_dump_json(by_alias=True, exclude_none=True)


def encode_signal_relay(session_id: str, from_id: str, payload: SdpPayload | IcePayload) -> str:
    """Serialise a SignalRelay without building the model (the relay's hot path).

    The payload was validated on the way in; the result equals ``encode(SignalRelay(...))``.
    """
    return (
        '{"type":"signal","session_id":'
        + json.dumps(session_id)
        + ',"from":'
        + json.dumps(from_id)
        + ',"payload":'
        + payload.model_dump_json(exclude_none=True)
        + "}"
    )


_SESSION_ID = re.compile(r"s-[0-9a-f]{32}\Z")
_ICE_FIELDS = frozenset({"kind", "candidate", "sdp_mid", "sdp_mline_index"})


@dataclass(frozen=True, slots=True)
class IceSignal:
    """An ICE ``signal`` frame taken apart by the fast path (see parse_ice_signal)."""

    session_id: str
    to: str
    payload: dict[str, Any]


def parse_ice_signal(data: str | bytes) -> IceSignal | None:
    """Take apart an ICE signal frame cheaply, or return None to use the full parser.

    ICE candidates are most of what a node relays. This accepts only a strict subset
    of what the ``Signal`` model accepts (exact keys, exact types, no coercion), so any
    frame it accepts the model accepts identically; everything else, valid or not,
    goes through ``parse_client_message``.
    """
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(raw, dict) or raw.get("type") != "signal" or len(raw) != 4:
        return None
    session_id, to, payload = raw.get("session_id"), raw.get("to"), raw.get("payload")
    if not (
        type(session_id) is str
        and _SESSION_ID.match(session_id)
        and type(to) is str
        and 0 < len(to) <= 128
        and type(payload) is dict
        and payload.get("kind") == "ice"
        and _ICE_FIELDS.issuperset(payload)
    ):
        return None
    candidate = payload.get("candidate")
    mid = payload.get("sdp_mid")
    index = payload.get("sdp_mline_index")
    if not (
        (candidate is None or (type(candidate) is str and len(candidate) <= 2048))
        and (mid is None or (type(mid) is str and len(mid) <= 64))
        and (index is None or (type(index) is int and 0 <= index <= 64))
    ):
        return None
    # As the model encodes it: fields that are null are left out.
    return IceSignal(session_id, to, {k: v for k, v in payload.items() if v is not None})


def encode_ice_relay(session_id: str, from_id: str, payload: dict[str, Any]) -> str:
    """Serialise the relay of a fast-parsed ICE signal (equal to the model's encoding)."""
    message = {"type": "signal", "session_id": session_id, "from": from_id, "payload": payload}
    return orjson.dumps(message).decode()


def parse_server_message(data: str | bytes) -> ServerMessage:
    """Parse one server frame (used by clients and tests)."""
    return SERVER_ADAPTER.validate_json(data)


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema of every message, by direction."""
    return {
        "protocol_version": PROTOCOL_VERSION,
        "client_to_server": CLIENT_ADAPTER.json_schema(by_alias=True),
        "server_to_client": SERVER_ADAPTER.json_schema(by_alias=True, mode="serialization"),
    }
