"""Shared test helpers: running nodes in-process or as real processes, and waiting."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

import agent_console
import browser_client
from endpoint_agent import KIOSK_DIR
from signaling.client import (
    Call,
    SignalingClient,
    SyntheticCamera,
    SyntheticMicrophone,
    device_token,
    login,
)
from signaling.directory import DEMO_CONFIG, Directory, load_directory
from signaling.protocol import CallQueued, Offer, SessionUpdate
from signaling.server import NODE, create_app
from signaling.store import Store

REPO = Path(__file__).resolve().parent.parent
DEMO_SECRETS = {"lib-kitee": "demo-secret-lib-kitee", "bus-lieksa": "demo-secret-bus-lieksa"}


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool],
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str = "condition",
) -> None:
    """Wait until ``check`` is true, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not met within {timeout} s")
        await asyncio.sleep(interval)


def free_port() -> int:
    """Return a free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningNode:
    """A node served in this process."""

    base_url: str
    app: web.Application
    runner: web.AppRunner

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http", "ws", 1) + "/ws"

    async def stop(self) -> None:
        """Shut the node down as on SIGTERM (clients get GOING_AWAY)."""
        await self.runner.cleanup()


@asynccontextmanager
async def running_node(
    store: Store, directory: Directory | None = None, node_id: str = "test-node"
) -> AsyncIterator[RunningNode]:
    """Serve a node on a free loopback port for the duration of the block."""
    directory = directory or load_directory()
    app = create_app(
        directory,
        store,
        node_id,
        shutdown_timeout=2.0,
        console_dir=agent_console.STATIC_DIR,
        client_dir=browser_client.DIRECTORY,
        guest_dir=KIOSK_DIR,
    )
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    node = RunningNode(f"http://127.0.0.1:{port}", app, runner)
    try:
        yield node
    finally:
        await runner.cleanup()


def node_of(running: RunningNode):  # type: ignore[no-untyped-def]
    """Return the Node object behind a running node."""
    return running.app[NODE]


async def booth_client(
    base_url: str, site: str = "lib-kitee", role: str = "kiosk"
) -> SignalingClient:
    """Return a connected booth client (kiosk or agent identity) for a demo site."""
    token = await device_token(base_url, site, DEMO_SECRETS[site], role)
    client = SignalingClient(base_url.replace("http", "ws", 1) + "/ws", token)
    await client.connect()
    return client


async def staff_client(base_url: str, username: str) -> SignalingClient:
    """Return a connected staff client for a demo account (password "demo")."""
    token = await login(base_url, username, "demo")
    client = SignalingClient(base_url.replace("http", "ws", 1) + "/ws", token)
    await client.connect()
    return client


class ServeProcess:
    """A real ``etapiste serve`` process."""

    def __init__(
        self,
        store: str,
        node_id: str,
        port: int | None = None,
        host: str = "127.0.0.1",
        config: Path | None = None,
        extra: Sequence[str] = (),
    ) -> None:
        self.port = port or free_port()
        self.extra = list(extra)  # more `etapiste serve` options
        self.node_id = node_id
        self.store = store
        self.host = host  # the address it listens on; clients here still use 127.0.0.1
        self.config = config  # a directory TOML; None: the demo
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.gettempdir()) / f"etapiste-{node_id}-{self.port}.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self) -> None:
        """Start the process and wait until /healthz answers."""
        command = [sys.executable, "-m", "signaling.cli", "serve", "--port", str(self.port)]
        command += ["--store", self.store, "--node-id", self.node_id, "--host", self.host]
        if self.config is not None:
            command += ["--config", str(self.config)]
        command += self.extra
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                command,
                cwd=REPO,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        async def healthy() -> bool:
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(self.base_url + "/healthz") as resp,
                ):
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(healthy, timeout=20, message=f"node {self.node_id} healthy")

    def kill(self) -> None:
        """Kill the process without any goodbye (SIGKILL)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    async def terminate(self) -> int:
        """Stop the process gracefully (SIGTERM); return its exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        # Wait in a thread: the clients in this loop must keep answering the node.
        return await asyncio.to_thread(self.proc.wait, 20)


@asynccontextmanager
async def serving(store: str, node_id: str, **options: Any) -> AsyncIterator[ServeProcess]:
    """Run a real ``etapiste serve`` (ServeProcess options) for the block; kill it after."""
    server = ServeProcess(store, node_id, **options)
    await server.start()
    try:
        yield server
    finally:
        server.kill()


class BoothProcess:
    """A real ``etapiste booth`` process; its kiosk URL is read from its first line."""

    def __init__(
        self, server: str, site: str = "lib-kitee", *extra: str, prefix: Sequence[str] = ()
    ) -> None:
        self.server = server
        self.site = site
        self.extra = extra
        self.prefix = list(prefix)  # runs the agent through it: ["ip", "netns", "exec", ns]
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log_path = Path(tempfile.gettempdir()) / f"etapiste-booth-{site}-{os.getpid()}.log"

    async def start(self) -> str:
        """Start the agent (no kiosk browser, fake devices) and return the kiosk URL."""
        command = [sys.executable, "-m", "etapiste", "booth", "--site", self.site]
        command += ["--server", self.server, "--port", "0", *self.extra]
        if "--kiosk-browser" in self.extra:
            command.remove("--kiosk-browser")
        else:
            command += ["--no-kiosk-browser", "--fake-devices"]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [*self.prefix, *command],
                cwd=REPO,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                stdout=subprocess.PIPE,
                stderr=log,
            )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), 20)
        self.url = line.decode().strip().removeprefix("kiosk page: ")
        if not self.url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"etapiste booth did not print its URL: {line!r} ({self.log_path})")
        return self.url

    async def stop(self) -> int:
        """Stop the agent gracefully (SIGTERM); return its exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(self.proc.wait, 20)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # leave no agent behind, and still fail
            await asyncio.to_thread(self.proc.wait, 10)
            raise
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        return code


def demo_data() -> dict[str, Any]:
    """Return the demo directory as plain TOML data, to modify in tests."""
    with DEMO_CONFIG.open("rb") as f:
        return tomllib.load(f)


def directory_with(
    extra_experts: dict[str, list[str]] | None = None, **sections: dict[str, Any]
) -> Directory:
    """Return the demo directory with more experts (username -> agencies) and settings."""
    data = demo_data()
    template = next(a for a in data["staff"] if a["username"] == "kela.expert")
    for username, agencies in (extra_experts or {}).items():
        data["staff"].append(
            {
                "username": username,
                "display_name": username,
                "password_hash": template["password_hash"],
                "expert": {"agencies": agencies, "languages": ["fi", "sv", "en"]},
            }
        )
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return Directory.model_validate(data)


KELA_CALL = {"type": "call_request", "agency": "kela", "service": "general", "language": "fi"}


async def start_call(booth: SignalingClient, expert: SignalingClient) -> tuple[str, Call, Call]:
    """Connect a Kela call between two clients with media flowing both ways."""
    await expert.request({"type": "set_availability", "status": "available"})
    queued = await booth.request(KELA_CALL, expect=CallQueued)
    session_id = queued.session.session_id
    booth_call = Call(booth, session_id, [SyntheticCamera(), SyntheticMicrophone()])
    booth_call.start(SessionUpdate(session=queued.session))
    await expert.wait_for(Offer, lambda o: o.session_id == session_id)
    expert_call = Call(expert, session_id, [SyntheticCamera(), SyntheticMicrophone()])
    expert_call.start()
    await expert.request({"type": "offer_accept", "session_id": session_id})
    try:
        await eventually(
            lambda: all(
                c.received
                and all(r.video_frames >= 10 and r.audio_peak > 1000 for r in c.received.values())
                for c in (booth_call, expert_call)
            ),
            timeout=30,
            message="decoded video and audible audio both ways",
        )
    except BaseException:
        await booth_call.close()
        await expert_call.close()
        raise
    return session_id, booth_call, expert_call


def frames(call: Call) -> int:
    """Return how many video frames a call has decoded from everyone."""
    return sum(r.video_frames for r in call.received.values())


@asynccontextmanager
async def parties(
    booth_url: str, expert_url: str, site: str = "lib-kitee", username: str = "kela.expert"
) -> AsyncIterator[tuple[SignalingClient, SignalingClient]]:
    """Connect a booth and an expert (possibly to different nodes); close both after."""
    booth = await booth_client(booth_url, site)
    try:
        expert = await staff_client(expert_url, username)
        try:
            yield booth, expert
        finally:
            await expert.close()
    finally:
        await booth.close()
