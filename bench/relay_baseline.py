"""The baseline of the signaling benchmark: a bare aiohttp WebSocket relay.

It has the same process shape as a signaling node (one aiohttp process, one event loop,
``/ws`` and ``/healthz``) but no application logic: a client connects to
``/ws?me=A&peer=B``, its first text frame (a hello) is answered with
``{"type": "welcome", "id": ...}``, and every later text frame is forwarded verbatim to
the client that connected as ``B``. No parsing, validation, authorisation, store or
send queue: what is left is the cost of aiohttp's WebSocket transport itself.

Run as ``python -m bench.relay_baseline --port P``; the benchmark starts and stops it.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from collections.abc import Sequence

from aiohttp import WSMsgType, web

CLIENTS = web.AppKey("clients", dict[str, web.WebSocketResponse])
HEARTBEAT_S = 10.0  # as a signaling node's default limits.heartbeat_s
MAX_FRAME_BYTES = 4 * 64 * 1024  # as a signaling node's hard frame limit


async def relay(request: web.Request) -> web.WebSocketResponse:
    """Forward each text frame after the hello to the paired client."""
    clients = request.app[CLIENTS]
    me = request.query.get("me", "")
    peer = request.query.get("peer", "")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_FRAME_BYTES)
    await ws.prepare(request)
    clients[me] = ws
    greeted = False
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            if not greeted:
                greeted = True
                try:
                    hello_id = json.loads(msg.data).get("id")
                except (ValueError, AttributeError):
                    hello_id = None
                await ws.send_str(json.dumps({"type": "welcome", "id": hello_id}))
                continue
            target = clients.get(peer)
            if target is not None and not target.closed:
                await target.send_str(msg.data)
    finally:
        if clients.get(me) is ws:
            del clients[me]
    return ws


async def healthz(request: web.Request) -> web.Response:
    """Report that the relay is up and how many clients it holds."""
    return web.json_response({"status": "ok", "clients": len(request.app[CLIENTS])})


def create_app() -> web.Application:
    """Build the relay application."""
    app = web.Application()
    app[CLIENTS] = {}

    async def close_all(app: web.Application) -> None:
        for ws in list(app[CLIENTS].values()):
            await ws.close()

    app.on_shutdown.append(close_all)
    app.router.add_get("/ws", relay)
    app.router.add_get("/healthz", healthz)
    return app


def raise_nofile_limit(wanted: int = 65536) -> int:
    """Raise the soft open-file limit towards ``wanted`` (capped by the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the relay until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m bench.relay_baseline")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--shutdown-timeout", type=float, default=2.0)
    args = parser.parse_args(argv)
    raise_nofile_limit()
    web.run_app(
        create_app(),
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
        shutdown_timeout=args.shutdown_timeout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
