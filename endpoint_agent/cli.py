"""The ``etapiste booth`` command: run a booth's endpoint agent."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from aiohttp import web

from signaling.logs import LOG_FORMATS, configure_logging

from .agent import BoothAgent
from .config import BoothConfig, BoothConfigError, load_config
from .web import create_app


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``booth`` command."""
    booth = commands.add_parser(
        "booth",
        help="run a booth's endpoint agent (kiosk page, health reports, kiosk browser)",
        description="Serve the kiosk page on 127.0.0.1, report the booth's health to the "
        "server, and keep Chromium open on the page in kiosk mode.",
    )
    booth.add_argument("--config", type=Path, default=None, help="booth.toml")
    booth.add_argument("--site", default=None, help="site id (e.g. lib-kitee)")
    booth.add_argument(
        "--secret", default=None, help="device secret (default: secret_file, or the demo's)"
    )
    booth.add_argument("--server", default=None, help="server base URL (http://127.0.0.1:8080)")
    booth.add_argument("--port", type=int, default=None, help="kiosk page port (8765; 0 = any)")
    booth.add_argument(
        "--fake-devices",
        action="store_const",
        const=True,
        default=None,
        help="use Chromium's made-up camera and microphone",
    )
    booth.add_argument(
        "--doccam-fake",
        type=Path,
        default=None,
        metavar="PATH",
        help="an image, a folder of images or a video as the document camera",
    )
    booth.add_argument(
        "--no-kiosk-browser",
        dest="kiosk_browser",
        action="store_const",
        const=False,
        default=None,
        help="do not launch Chromium; print the kiosk URL instead",
    )
    booth.add_argument(
        "--headless",
        dest="kiosk_headless",
        action="store_const",
        const=True,
        default=None,
        help="run the kiosk browser without a screen (tests)",
    )
    booth.add_argument(
        "--log-format", choices=LOG_FORMATS, default="text", help="json: one object a line"
    )
    booth.set_defaults(func=_booth)


def _booth(args: argparse.Namespace) -> int:
    overrides = {
        key: getattr(args, key)
        for key in ("site", "secret", "server", "port", "fake_devices", "kiosk_browser")
    }
    overrides["kiosk_headless"] = args.kiosk_headless
    if args.doccam_fake is not None:
        overrides["doccam"] = {"fake": args.doccam_fake}
    if args.config is None and args.site is None:
        print("etapiste booth: give --site or --config", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config, overrides)
        config.device_secret()  # a missing secret is a start-up error, not a later one
    except BoothConfigError as exc:
        print(f"etapiste booth: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(args.log_format)
    return asyncio.run(_run(config))


async def _run(config: BoothConfig) -> int:
    """Serve the kiosk and run the agent until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    agent = BoothAgent(config)
    runner = web.AppRunner(create_app(agent), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", config.port)
        try:
            await site.start()
        except OSError as exc:
            print(
                f"etapiste booth: cannot serve on 127.0.0.1:{config.port}: {exc.strerror}",
                file=sys.stderr,
            )
            return 1
        # With --port 0 the port is known only now.
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}/"
        await agent.start(url)
        print(url if not config.kiosk_browser else f"kiosk page: {url}", flush=True)
        await stop.wait()
        return 0
    finally:
        await agent.close()
        await runner.cleanup()
