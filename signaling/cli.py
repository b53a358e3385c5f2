"""The ``etapiste`` command: serve, protocol schema, bench."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import socket
import sys
from collections.abc import Sequence

from aiohttp import web

import agent_console
import browser_client
from endpoint_agent import KIOSK_DIR

from .directory import DEMO_CONFIG, ConfigError, Directory, load_directory
from .forwarded import parse_networks
from .logs import LOG_FORMATS, configure_logging
from .protocol import json_schema
from .server import create_app
from .store import open_store

DEMO_PASSWORD = "demo"


def _banner(directory: Directory, args: argparse.Namespace, demo: bool) -> str:
    """Describe what runs where, and on the demo config, how to log in."""
    base = f"http://{args.host}:{args.port}"
    lines = [
        f"Etäpiste signaling node {args.node_id} (store: {args.store})",
        f"  expert console       {base}/console/",
        f"  signaling WebSocket  ws://{args.host}:{args.port}/ws",
        f"  health               {base}/healthz",
        f"  metrics              {base}/metrics",
        f"  staff token          POST {base}/auth/login",
        f"  device token         POST {base}/auth/device",
    ]
    if demo:
        lines.append(f"Demo accounts (password '{DEMO_PASSWORD}'):")
        for account in directory.staff:
            lines.append(f"  {account.username:<14} {', '.join(account.roles())}")
        lines.append("Demo sites (device secret):")
        for site in directory.sites:
            secret = site.device_secret.get_secret_value()
            lines.append(f"  {site.id:<14} {site.kind:<2} {site.name.en} — {secret}")
    return "\n".join(lines)


def _serve(args: argparse.Namespace) -> int:
    try:
        directory = load_directory(args.config)
    except ConfigError as exc:
        print(f"etapiste: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        parse_networks(args.trusted_proxy)
        store = open_store(args.store)
    except ValueError as exc:
        print(f"etapiste: {exc}", file=sys.stderr)
        return 2
    configure_logging(args.log_format, node=args.node_id)
    # The command line is where the parts meet: the node serves the consoles' pages and
    # the browser call client, which the signaling package itself knows nothing of.
    extensions = []
    if args.stats_db:
        from stats.web import add_statistics

        extensions.append(lambda app: add_statistics(app, args.stats_db, store))
    app = create_app(
        directory,
        store,
        args.node_id,
        shutdown_timeout=args.shutdown_timeout,
        console_dir=agent_console.STATIC_DIR,
        client_dir=browser_client.DIRECTORY,
        guest_dir=KIOSK_DIR,
        extensions=extensions,
        trusted_proxies=args.trusted_proxy,
    )
    print(_banner(directory, args, demo=args.config is None), flush=True)
    # Thousands of long-lived connection objects make full collections stall the loop
    # for hundreds of milliseconds; freeze what exists now and collect less often.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    web.run_app(
        app,
        host=args.host,
        port=args.port,
        print=None,
        shutdown_timeout=args.shutdown_timeout,
        access_log=None,
    )
    return 0


def _protocol_schema(args: argparse.Namespace) -> int:
    json.dump(json_schema(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def _answer(args: argparse.Namespace) -> int:
    from .client.answering import answer_calls, answer_interpreter_requests

    if not args.username and not args.interpreter:
        print("etapiste answer: give --username or --interpreter", file=sys.stderr)
        return 2
    configure_logging("text")

    async def run() -> None:
        await asyncio.gather(
            *(
                answer_calls(args.server, username, args.password, hold_s=args.hold)
                for username in args.username
            ),
            *(
                answer_interpreter_requests(args.server, username, args.password, hold_s=args.hold)
                for username in args.interpreter
            ),
        )

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def _bench(args: argparse.Namespace) -> int:
    from bench import run_bench

    return run_bench(args.name, args.rest)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the server's commands."""
    parser = argparse.ArgumentParser(prog="etapiste", description="Etäpiste remote service")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the server's commands: serve, protocol, bench."""
    serve = commands.add_parser("serve", help="run a signaling node")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--config", default=None, help=f"directory TOML (default: the demo, {DEMO_CONFIG.name})"
    )
    serve.add_argument(
        "--store",
        default="memory",
        help='"memory", a redis:// URL, or redis+cluster://host:port (any node of a cluster)',
    )
    serve.add_argument(
        "--log-format", choices=LOG_FORMATS, default="text", help="json: one object a line"
    )
    serve.add_argument(
        "--node-id", default=f"{socket.gethostname()}-{os.getpid()}", help="unique per node"
    )
    serve.add_argument("--shutdown-timeout", type=float, default=5.0)
    serve.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="a reverse proxy (address or CIDR network, repeatable) whose X-Forwarded-For "
        "names the client for login throttling and the audit log",
    )
    serve.add_argument(
        "--stats-db",
        default=None,
        help="consume the events into this statistics database here (sqlite:///file or "
        "postgresql://…) and serve its reports; production runs `etapiste stats consume`",
    )
    serve.set_defaults(func=_serve)

    protocol = commands.add_parser("protocol", help="protocol tools")
    protocol_commands = protocol.add_subparsers(dest="protocol_command", required=True)
    schema = protocol_commands.add_parser("schema", help="print the JSON Schema of every message")
    schema.set_defaults(func=_protocol_schema)

    answer = commands.add_parser(
        "answer",
        help="headless experts that answer every call and interpreters that join every "
        "request (demo, trying a booth alone)",
    )
    answer.add_argument("--server", default="http://127.0.0.1:8080")
    answer.add_argument(
        "--username", action="append", default=[], help="expert account (repeatable)"
    )
    answer.add_argument(
        "--interpreter", action="append", default=[], help="interpreter account (repeatable)"
    )
    answer.add_argument("--password", default=DEMO_PASSWORD)
    answer.add_argument(
        "--hold", type=float, default=0, help="end each call after this many seconds (0: never)"
    )
    answer.set_defaults(func=_answer)

    bench = commands.add_parser("bench", help="run a benchmark (prints one JSON object)")
    bench.add_argument(
        "name", choices=["signaling", "doccam", "doccam-still", "interpreting", "stats"]
    )
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    bench.set_defaults(func=_bench)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``etapiste`` command."""
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
