"""Unit tests of the wire protocol: parsing, error codes and field paths, encoding, schema."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signaling import protocol
from signaling.protocol import (
    CLIENT_TYPES,
    MAX_MESSAGE_BYTES,
    Error,
    ErrorCode,
    IcePayload,
    ProtocolError,
    SdpPayload,
    SignalRelay,
    encode,
    parse_client_message,
    parse_server_message,
)

from .support import REPO

SESSION = "s-" + "0123456789abcdef" * 2

# One valid example of every client message type, with every optional field set in at
# least one of them.
VALID: dict[str, dict[str, Any]] = {
    "hello": {"type": "hello", "id": "r1", "versions": [1], "token": "t.o.k", "resume_token": "x"},
    "ping": {"type": "ping", "id": "r2"},
    "token_refresh": {"type": "token_refresh", "id": "r9"},
    "booth_health": {
        "type": "booth_health",
        "id": "r10",
        "devices": {
            "camera": "ok",
            "microphone": "ok",
            "speaker": "ok",
            "document_camera": "missing",
        },
        "rtt_ms": 38.5,
        "loss_pct": 0.0,
        "cpu_pct": 12.0,
        "disk_free_pct": 71.0,
        "kiosk": "running",
        "software_version": "0.1.0",
    },
    "catalog_request": {"type": "catalog_request", "id": "r11"},
    "chat": {"type": "chat", "id": "r14", "session_id": SESSION, "text": "Hei!"},
    "feedback": {"type": "feedback", "id": "r12", "session_id": SESSION, "score": 4},
    "appointment_checkin": {"type": "appointment_checkin", "id": "r13", "code": "123456"},
    "call_request": {
        "type": "call_request",
        "id": "r3",
        "agency": "kela",
        "service": "general",
        "language": "fi",
        "interpreter": {"language": "ar", "modality": "spoken"},
    },
    "call_cancel": {"type": "call_cancel", "id": "r4", "session_id": SESSION},
    "set_availability": {
        "type": "set_availability",
        "id": "r5",
        "status": "paused",
        "reason": "lunch",
    },
    "offer_accept": {"type": "offer_accept", "id": "r6", "session_id": SESSION},
    "offer_decline": {"type": "offer_decline", "id": "r7", "session_id": SESSION},
    "signal": {
        "type": "signal",
        "session_id": SESSION,
        "to": "p-0123456789ab",
        "payload": {"kind": "sdp", "sdp_type": "offer", "sdp": "v=0\r\n"},
    },
    "quality_report": {
        "type": "quality_report",
        "session_id": SESSION,
        "quality": {"rtt_ms": 48.5, "loss_pct": 0.4, "fps": 24.0, "samples": 30},
    },
    "session_end": {
        "type": "session_end",
        "id": "r9",
        "session_id": SESSION,
        "outcome": "resolved",
    },
    "session_leave": {"type": "session_leave", "id": "r10", "session_id": SESSION},
    "doccam_join": {"type": "doccam_join", "id": "r20", "session_id": SESSION},
    "doccam_share": {"type": "doccam_share", "id": "r21", "session_id": SESSION, "shared": True},
    "interpreter_request": {
        "type": "interpreter_request",
        "id": "r22",
        "session_id": SESSION,
        "language": "fse",
        "modality": "sign",
    },
    "interpreter_cancel": {"type": "interpreter_cancel", "id": "r23", "session_id": SESSION},
    "interpreter_accept": {
        "type": "interpreter_accept",
        "id": "r24",
        "request_id": "ir-0123456789abcdef01234567",
    },
    "interpreter_decline": {
        "type": "interpreter_decline",
        "id": "r25",
        "request_id": "ir-0123456789abcdef01234567",
    },
    "caption": {"type": "caption", "session_id": SESSION, "text": "Hyvää päivää", "final": True},
    "doccam_share_request": {"type": "doccam_share_request", "id": "r26", "session_id": SESSION},
    "guest_checkin": {"type": "guest_checkin", "id": "r27"},
    "transfer": {
        "type": "transfer",
        "id": "r11",
        "session_id": SESSION,
        "agency": "vero",
        "service": "tax-card",
        "language": "sv",
        "note": "asks about the tax card",
    },
}

ICE_SIGNAL = {
    "type": "signal",
    "session_id": SESSION,
    "to": "p-0123456789ab",
    "payload": {
        "kind": "ice",
        "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host",
        "sdp_mid": "0",
        "sdp_mline_index": 0,
    },
}


def refused(data: str | bytes) -> Error:
    """Parse a frame that must be refused and return the wire error."""
    with pytest.raises(ProtocolError) as info:
        parse_client_message(data)
    error = info.value.error
    # The error must itself be a valid server message.
    assert parse_server_message(encode(error)) == error
    return error


# --- bad_json ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "",
        "{",
        "{'type': 'ping'}",
        '{"type": "ping", "id": "a",}',
        "ping",
        '{"type": "ping"} trailing',
        b"\xff\xfe\xfd",
        b'{"type": "ping", "id": "\xc3\x28"}',  # invalid UTF-8 inside a string
        b'{"type": "ping", "id": "\xff"}',
    ],
    ids=[
        "empty",
        "truncated",
        "single-quotes",
        "trailing-comma",
        "bare-word",
        "trailing-garbage",
        "binary-garbage",
        "invalid-utf8-sequence",
        "invalid-utf8-byte",
    ],
)
def test_invalid_json_is_bad_json(data: str | bytes) -> None:
    error = refused(data)
    assert error.code == ErrorCode.BAD_JSON
    assert error.field is None and error.id is None
    assert error.message


@pytest.mark.parametrize(
    "data", ["[]", '[{"type": "ping", "id": "a"}]', "1", '"ping"', "null", "true", "1.5"]
)
def test_json_that_is_not_an_object_is_bad_json(data: str) -> None:
    error = refused(data)
    assert error.code == ErrorCode.BAD_JSON
    assert error.field is None and error.id is None


@pytest.mark.parametrize("depth", [2_000, 20_000])
def test_deeply_nested_json_is_bad_json(depth: int) -> None:
    # Well under 64 KiB, but deeper than the JSON decoder's recursion limit: the parser
    # must turn the RecursionError into bad_json like any other undecodable frame.
    data = "[" * depth + "]" * depth
    assert len(data) < MAX_MESSAGE_BYTES
    error = refused(data)
    assert error.code == ErrorCode.BAD_JSON


def test_deeply_nested_value_inside_a_message_is_refused() -> None:
    data = '{"type": "ping", "id": "deep", "x": ' + "[" * 5_000 + "]" * 5_000 + "}"
    assert len(data) < MAX_MESSAGE_BYTES
    error = refused(data)
    assert error.code == ErrorCode.BAD_JSON


# --- unknown_type -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "nonsense", "id": "u1"},
        {"type": "welcome", "id": "u1"},  # a server message is not a client message
        {"type": "PING", "id": "u1"},
        {"type": "", "id": "u1"},
        {"type": 5, "id": "u1"},
        {"type": None, "id": "u1"},
        {"type": ["ping"], "id": "u1"},
        {"id": "u1"},
    ],
    ids=["unknown", "server-type", "wrong-case", "empty", "number", "null", "list", "missing"],
)
def test_unknown_or_missing_type_is_unknown_type_with_field_and_id(raw: dict[str, Any]) -> None:
    error = refused(json.dumps(raw))
    assert error.code == ErrorCode.UNKNOWN_TYPE
    assert error.field == "type"
    assert error.id == "u1"


def test_unknown_type_without_usable_id_has_no_id() -> None:
    for bad_id in (None, 7, "", "x" * 65, ["a"]):
        error = refused(json.dumps({"type": "nope", "id": bad_id}))
        assert error.code == ErrorCode.UNKNOWN_TYPE
        assert error.id is None


# --- invalid_field ----------------------------------------------------------------------


def with_(message: dict[str, Any], **changes: Any) -> str:
    """Return ``message`` with fields changed as a JSON frame."""
    return json.dumps({**message, **changes})


def without(message: dict[str, Any], key: str) -> str:
    """Return ``message`` without a field as a JSON frame."""
    return json.dumps({k: v for k, v in message.items() if k != key})


@pytest.mark.parametrize(
    ("frame", "field", "request_id"),
    [
        # top-level fields: wrong type, bad value, too long, missing, extra
        (with_(VALID["call_request"], agency=5), "agency", "r3"),
        (with_(VALID["call_request"], agency="Kela!"), "agency", "r3"),
        (with_(VALID["call_request"], language="finnish"), "language", "r3"),
        (without(VALID["call_request"], "service"), "service", "r3"),
        (with_(VALID["call_request"], priority=0), "priority", "r3"),
        (with_(VALID["hello"], versions=[]), "versions", "r1"),
        (with_(VALID["hello"], versions="1"), "versions", "r1"),
        (with_(VALID["hello"], token=""), "token", "r1"),
        (with_(VALID["hello"], token="t" * 4097), "token", "r1"),
        (with_(VALID["set_availability"], status="busy"), "status", "r5"),
        (with_(VALID["set_availability"], reason="r" * 65), "reason", "r5"),
        (with_(VALID["call_cancel"], session_id="s-123"), "session_id", "r4"),
        (with_(VALID["session_end"], outcome=None), "outcome", "r9"),
        (with_(VALID["transfer"], note="n" * 501), "note", "r11"),
        # list items are numbered
        (with_(VALID["hello"], versions=[1, "two"]), "versions.1", "r1"),
        # nested fields get a dotted path without union tags
        (
            with_(VALID["call_request"], interpreter={"language": "ar", "modality": "smoke"}),
            "interpreter.modality",
            "r3",
        ),
        (
            with_(VALID["call_request"], interpreter={"language": "ar"}),
            "interpreter.modality",
            "r3",
        ),
        (
            with_(VALID["call_request"], interpreter={"language": "AR", "modality": "sign"}),
            "interpreter.language",
            "r3",
        ),
        (
            with_(
                VALID["call_request"],
                interpreter={"language": "ar", "modality": "sign", "extra": 1},
            ),
            "interpreter.extra",
            "r3",
        ),
        (
            with_(ICE_SIGNAL, payload={**ICE_SIGNAL["payload"], "sdp_mline_index": "zero"}),
            "payload.sdp_mline_index",
            None,
        ),
        (
            with_(ICE_SIGNAL, payload={**ICE_SIGNAL["payload"], "sdp_mline_index": 65}),
            "payload.sdp_mline_index",
            None,
        ),
        (
            with_(ICE_SIGNAL, payload={**ICE_SIGNAL["payload"], "sdp_mid": "m" * 65}),
            "payload.sdp_mid",
            None,
        ),
        (
            with_(VALID["signal"], payload={**VALID["signal"]["payload"], "sdp_type": "pranswer"}),
            "payload.sdp_type",
            None,
        ),
        # the id itself: a usable id is echoed, an unusable one is the offending field
        (with_(VALID["ping"], id=""), "id", None),
        (with_(VALID["ping"], id="i" * 65), "id", None),
        (with_(VALID["ping"], id=12), "id", None),
        (without(VALID["ping"], "id"), "id", None),
        # a signal takes no id; the id is still echoed so the client can match the error
        (with_(VALID["signal"], id="sig1"), "id", "sig1"),
    ],
)
def test_invalid_field_names_the_field_and_echoes_the_id(
    frame: str, field: str, request_id: str | None
) -> None:
    error = refused(frame)
    assert error.code == ErrorCode.INVALID_FIELD
    assert error.field == field
    assert error.id == request_id
    assert field in error.message


@pytest.mark.parametrize(
    "payload",
    [
        {"kind": "sdp", "sdp_type": "offer", "sdp": 5},
        {"kind": "sdp", "sdp_type": "offer", "sdp": "v" * 60_001},
        {"kind": "sdp", "sdp_type": "offer"},
    ],
    ids=["wrong-type", "too-long", "missing"],
)
def test_invalid_sdp_field_path_is_payload_sdp(payload: dict[str, Any]) -> None:
    # The SDP payload's text field is called "sdp", like the union tag the parser strips
    # from the location: the field itself must not be stripped too.
    frame = with_(VALID["signal"], payload=payload)
    assert len(frame.encode()) <= MAX_MESSAGE_BYTES
    error = refused(frame)
    assert error.code == ErrorCode.INVALID_FIELD
    assert error.field == "payload.sdp"


@pytest.mark.parametrize(
    "payload",
    [{"kind": "video"}, {"sdp_type": "offer", "sdp": "v=0"}, "sdp", None],
    ids=["unknown-kind", "missing-kind", "string", "null"],
)
def test_invalid_signal_payload_is_an_invalid_payload_field(payload: Any) -> None:
    error = refused(with_(VALID["signal"], payload=payload))
    assert error.code == ErrorCode.INVALID_FIELD
    assert error.field is not None and error.field.startswith("payload")


def test_lone_surrogate_id_is_not_echoed_into_an_unencodable_error() -> None:
    # "\ud800" is valid JSON but not encodable as UTF-8: echoing it as the error's id
    # would make the error itself impossible to send.
    frame = '{"type": "ping", "id": "\\ud800"}'
    with pytest.raises(ProtocolError) as info:
        parse_client_message(frame)
    error = info.value.error
    assert error.code == ErrorCode.INVALID_FIELD
    assert error.field == "id"
    encoded = encode(error)  # must not raise
    assert parse_server_message(encoded).type == "error"


def test_lone_surrogate_in_unknown_type_is_still_encodable() -> None:
    error = refused('{"type": "\\udfff", "id": "s1"}')
    assert error.code == ErrorCode.UNKNOWN_TYPE
    assert error.id == "s1"


# --- too_large --------------------------------------------------------------------------


def padded_ping(size: int, char: str = "x") -> str:
    """Return a valid ping frame of exactly ``size`` UTF-8 bytes (``char`` as padding)."""
    head = '{"type": "ping", "id": "big", "pad": "'
    tail = '"}'
    room = size - len(head.encode()) - len(tail.encode())
    width = len(char.encode())
    assert room % width == 0
    frame = head + char * (room // width) + tail
    assert len(frame.encode()) == size
    return frame


def test_frame_of_exactly_the_limit_is_parsed_not_too_large() -> None:
    error = refused(padded_ping(MAX_MESSAGE_BYTES))
    # The size is fine; the extra "pad" field is what is wrong.
    assert error.code == ErrorCode.INVALID_FIELD and error.field == "pad"


def test_frame_over_the_limit_is_too_large() -> None:
    error = refused(padded_ping(MAX_MESSAGE_BYTES + 1))
    assert error.code == ErrorCode.TOO_LARGE
    assert error.field is None


def test_size_is_counted_in_utf8_bytes_not_characters() -> None:
    # 3-byte characters: far fewer than 64 Ki characters but more than 64 KiB.
    frame = '{"type": "ping", "id": "big", "pad": "' + "€" * 21_900 + '"}'
    assert len(frame) < MAX_MESSAGE_BYTES < len(frame.encode("utf-8"))
    assert refused(frame).code == ErrorCode.TOO_LARGE
    assert refused(frame.encode("utf-8")).code == ErrorCode.TOO_LARGE
    # and just under the limit in bytes, the same characters are parsed
    small = '{"type": "ping", "id": "ok", "pad": "' + "€" * 21_800 + '"}'
    assert len(small.encode("utf-8")) <= MAX_MESSAGE_BYTES
    assert refused(small).code == ErrorCode.INVALID_FIELD


def test_too_large_is_checked_before_parsing() -> None:
    error = refused("{" * (MAX_MESSAGE_BYTES + 1))
    assert error.code == ErrorCode.TOO_LARGE


# --- valid messages ---------------------------------------------------------------------


def test_examples_cover_every_client_type() -> None:
    assert set(VALID) == set(CLIENT_TYPES)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_client_message_round_trips(kind: str) -> None:
    raw = VALID[kind]
    parsed = parse_client_message(json.dumps(raw))
    assert parsed.type == kind
    assert json.loads(encode(parsed)) == raw
    # bytes frames parse the same
    assert parse_client_message(json.dumps(raw).encode()) == parsed
    # and the encoded form parses back to the same message
    assert parse_client_message(encode(parsed)) == parsed


def test_ice_signal_round_trips_including_end_of_candidates() -> None:
    parsed = parse_client_message(json.dumps(ICE_SIGNAL))
    assert isinstance(parsed.payload, IcePayload)  # type: ignore[union-attr]
    assert json.loads(encode(parsed)) == ICE_SIGNAL
    end = {**ICE_SIGNAL, "payload": {"kind": "ice", "candidate": None}}
    parsed_end = parse_client_message(json.dumps(end))
    assert parsed_end.payload.candidate is None  # type: ignore[union-attr]


def test_optional_fields_may_be_left_out() -> None:
    for kind, optional in [
        ("hello", "resume_token"),
        ("call_request", "interpreter"),
        ("set_availability", "reason"),
        ("transfer", "note"),
    ]:
        parsed = parse_client_message(without(VALID[kind], optional))
        assert getattr(parsed, optional) is None


def test_non_ascii_text_is_accepted_within_limits() -> None:
    parsed = parse_client_message(with_(VALID["transfer"], note="Äiti kysyy perintöverosta €"))
    assert parsed.note == "Äiti kysyy perintöverosta €"  # type: ignore[union-attr]


# --- encoding ---------------------------------------------------------------------------


def test_signal_relay_is_encoded_with_from() -> None:
    relay = SignalRelay(
        session_id=SESSION,
        from_="p-aaaaaaaaaaaa",
        payload=SdpPayload(kind="sdp", sdp_type="answer", sdp="v=0\r\n"),
    )
    wire = json.loads(encode(relay))
    assert wire["from"] == "p-aaaaaaaaaaaa"
    assert "from_" not in wire
    assert wire["type"] == "signal"
    assert parse_server_message(encode(relay)) == relay


def test_encode_leaves_out_none_fields() -> None:
    wire = json.loads(encode(Error(code=ErrorCode.NOT_FOUND, message="no such thing")))
    assert wire == {"type": "error", "code": "not_found", "message": "no such thing"}


def test_error_codes_are_stable_strings() -> None:
    assert {code.value for code in ErrorCode} == {
        "bad_json",
        "unknown_type",
        "invalid_field",
        "too_large",
        "rate_limited",
        "unsupported_version",
        "unauthenticated",
        "forbidden",
        "not_found",
        "conflict",
        "closed",
        "unavailable",
        "internal",
    }


# --- schema -----------------------------------------------------------------------------

SERVER_TYPES = {
    "welcome",
    "pong",
    "token",
    "ack",
    "call_queued",
    "catalog",
    "queue_status",
    "queue_overview",
    "offer",
    "offer_withdrawn",
    "availability",
    "session_update",
    "participant",
    "signal",
    "chat",
    "session_ended",
    "interpreter_offer",
    "interpreter_offer_withdrawn",
    "caption",
    "doccam_share_requested",
    "wallboard",
    "device_test",
    "going_away",
    "error",
}


def type_names(schema: dict[str, Any]) -> set[str]:
    """Collect the ``type`` constants of every message in a union schema."""
    names: set[str] = set()
    for definition in schema.get("$defs", {}).values():
        type_schema = definition.get("properties", {}).get("type", {})
        if "const" in type_schema:
            names.add(type_schema["const"])
        names.update(type_schema.get("enum", []))
    return names


def check_schema(schema: dict[str, Any]) -> None:
    assert schema["protocol_version"] == protocol.PROTOCOL_VERSION
    assert set(schema) >= {"client_to_server", "server_to_client"}
    assert type_names(schema["client_to_server"]) == set(CLIENT_TYPES)
    assert type_names(schema["server_to_client"]) == SERVER_TYPES
    text = json.dumps(schema)
    for name in CLIENT_TYPES | SERVER_TYPES:
        assert f'"{name}"' in text
    # SignalRelay's sender is "from" on the wire, in the schema too.
    relay = next(
        d for d in schema["server_to_client"]["$defs"].values() if d.get("title") == "SignalRelay"
    )
    assert "from" in relay["properties"] and "from_" not in relay["properties"]


def test_json_schema_has_both_directions_and_every_type() -> None:
    check_schema(protocol.json_schema())


def test_cli_prints_the_schema_as_json() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "signaling.cli", "protocol", "schema"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    check_schema(schema)
    assert schema == json.loads(json.dumps(protocol.json_schema()))


@pytest.mark.parametrize(
    "payload",
    [
        {"kind": "sdp", "sdp_type": "offer", "sdp": 'v=0\r\no=- "quoted" ä\r\n'},
        {
            "kind": "ice",
            "candidate": "candidate:1 1 udp 2 127.0.0.1 5000 typ host",
            "sdp_mid": "0",
            "sdp_mline_index": 0,
        },
        {"kind": "ice", "candidate": None},
    ],
)
def test_fast_relay_encoding_equals_the_model(payload: dict[str, object]) -> None:
    from signaling.protocol import SignalRelay, encode_signal_relay

    relay = SignalRelay.model_validate(
        {"type": "signal", "session_id": "s-" + "a" * 32, "from": "p-1", "payload": payload}
    )
    fast = encode_signal_relay(relay.session_id, relay.from_, relay.payload)
    assert json.loads(fast) == json.loads(encode(relay))
    assert parse_server_message(fast) == relay


# Mostly valid ICE frames with, now and then, one thing wrong in type, range or shape.
_ICE_PAYLOADS = st.fixed_dictionaries(
    {"kind": st.sampled_from(["ice", "ice", "ice", "ice", "sdp", "ICE", None])},
    optional={
        "candidate": st.one_of(
            st.none(),
            st.text(max_size=80),
            st.text(min_size=2046, max_size=2050),
            st.integers(),
            st.booleans(),
        ),
        "sdp_mid": st.one_of(st.none(), st.text(max_size=66), st.integers()),
        "sdp_mline_index": st.one_of(
            st.none(),
            st.integers(-2, 66),
            st.booleans(),
            st.floats(0, 3),
            st.just("1"),
        ),
        "sdp": st.text(max_size=5),
    },
)


@settings(max_examples=500, deadline=None)
@given(
    payload=_ICE_PAYLOADS,
    session_id=st.sampled_from(["s-" + "a" * 32, "s-" + "0f" * 16, "s-" + "A" * 32, "s-1", 7]),
    to=st.one_of(st.text(min_size=1, max_size=12), st.text(max_size=130), st.integers()),
    extra=st.sampled_from([False, False, False, True]),
)
def test_fast_ice_path_accepts_only_what_the_model_accepts_and_encodes_the_same(
    payload: dict[str, object], session_id: object, to: object, extra: bool
) -> None:
    from signaling.protocol import (
        ProtocolError,
        Signal,
        encode_ice_relay,
        encode_signal_relay,
        parse_ice_signal,
    )

    frame = {"type": "signal", "session_id": session_id, "to": to, "payload": payload}
    if extra:
        frame["id"] = "r1"
    text = json.dumps(frame)
    fast = parse_ice_signal(text)
    if fast is None:
        return  # the full parser decides, with its error messages
    try:
        model = parse_client_message(text)
    except ProtocolError as exc:  # pragma: no cover - a failure of the property
        raise AssertionError(f"fast path accepted what the model refuses: {exc}") from None
    assert isinstance(model, Signal)
    assert (fast.session_id, fast.to) == (model.session_id, model.to)
    fast_relay = json.loads(encode_ice_relay(fast.session_id, "p-1", fast.payload))
    model_relay = json.loads(encode_signal_relay(model.session_id, "p-1", model.payload))
    assert fast_relay == model_relay


def test_fast_ice_path_takes_real_candidates() -> None:
    from signaling.protocol import parse_ice_signal

    frame = json.dumps(
        {
            "type": "signal",
            "session_id": "s-" + "b" * 32,
            "to": "p-1",
            "payload": {
                "kind": "ice",
                "candidate": "candidate:1 1 udp 2 10.0.0.1 9 typ host",
                "sdp_mid": "0",
                "sdp_mline_index": 0,
            },
        }
    )
    fast = parse_ice_signal(frame)
    assert fast is not None and fast.payload["sdp_mline_index"] == 0
    end = parse_ice_signal(frame.replace('"candidate:1 1 udp 2 10.0.0.1 9 typ host"', "null"))
    assert end is not None and "candidate" not in end.payload
