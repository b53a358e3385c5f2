"""What every REST handler of a node shares: the node key, JSON errors, reading a body."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .node import Node
from .protocol import MAX_MESSAGE_BYTES, ErrorCode

NODE = web.AppKey("node", Node)


def json_error(
    status: int,
    code: ErrorCode,
    message: str,
    field: str | None = None,
    *,
    retry_after_s: float | None = None,
) -> web.Response:
    """Return the REST error shape: {"error": {code, message, field?, retry_after_s?}}."""
    body: dict[str, Any] = {"error": {"code": code.value, "message": message}}
    if field is not None:
        body["error"]["field"] = field
    if retry_after_s is not None:
        body["error"]["retry_after_s"] = retry_after_s
    return web.json_response(body, status=status)


def _is_utf8(text: str) -> bool:
    """Tell whether a string can be encoded (JSON allows lone surrogates; UTF-8 does not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def read_fields(
    request: web.Request, *names: str, optional: tuple[str, ...] = ()
) -> dict[str, str] | web.Response:
    """Read a JSON object with the given string fields, or return the error response."""
    try:
        body = await request.json()
    except web.HTTPRequestEntityTooLarge:
        return json_error(413, ErrorCode.TOO_LARGE, f"the body exceeds {MAX_MESSAGE_BYTES} bytes")
    except (ValueError, UnicodeDecodeError):
        return json_error(400, ErrorCode.BAD_JSON, "the body must be a JSON object")
    if not isinstance(body, dict):
        return json_error(400, ErrorCode.BAD_JSON, "the body must be a JSON object")
    fields: dict[str, str] = {}
    for name in (*names, *optional):
        value = body.get(name)
        if name in optional and value is None:
            continue
        if not isinstance(value, str) or not value or len(value) > 256 or not _is_utf8(value):
            return json_error(400, ErrorCode.INVALID_FIELD, f"{name} must be a string", name)
        fields[name] = value
    return fields


def same_origin(request: web.Request) -> bool:
    """Tell whether a browser request comes from a page of this server (no Origin header:
    not a browser's cross-site request)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    scheme, _, host = origin.partition("://")
    return scheme in ("http", "https") and host == request.host
