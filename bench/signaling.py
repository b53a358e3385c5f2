"""``etapiste bench signaling``: one node under thousands of clients, against a bare relay.

The node runs as a real ``etapiste serve`` subprocess (memory store) on one CPU and this
process generates the load on the other, over loopback. In order, against the node:

1. **connect** - N clients (booths and experts) open a WebSocket and say hello; each
   welcome is checked. They all stay connected for the rest of the run.
2. **waiting** - W booths request Kela calls while no Kela expert is on shift: W calls
   wait in four Kela queues for the whole run.
3. **routing** - one call at a time: a booth requests a Vero call while Vero experts are
   available; timed from sending ``call_request`` to the expert receiving ``offer``; the
   expert accepts and ends the call and the booth receives ``session_ended``.
4. **calls** - C such call loops at once for a fixed time: calls set up and torn down
   through routing per second.
5. **relay** - K booth-expert pairs in accepted calls trickle ICE candidates both ways:
   one-way latency at a fixed offered rate, then messages per second at saturation.

Then the same connect and relay phases run against ``bench.relay_baseline``, a bare
aiohttp relay with the same process shape, and the ratios compare the two.

The generated directory has thousands of sites and many expert accounts. Tokens are
minted here with the server's own ``Authority`` and the run's token secret instead of
through ``/auth/*`` (argon2 on hundreds of passwords would dominate the run), and the
per-connection rate limit is raised so that saturation measures the server, not the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import itertools
import json
import os
import platform
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from signaling.directory import DEMO_CONFIG, Directory, load_directory
from signaling.identity import Authority, Principal
from signaling.protocol import PROTOCOL_VERSION, parse_server_message

from .relay_baseline import raise_nofile_limit

REPO = Path(__file__).resolve().parent.parent
Json = dict[str, Any]

# The measured calls go to a Vero queue; the waiting calls sit in Kela queues nobody serves.
CALL_QUEUE = {"agency": "vero", "service": "tax-card", "language": "fi"}
WAITING_QUEUES = [
    {"agency": "kela", "service": "general", "language": "fi"},
    {"agency": "kela", "service": "housing", "language": "sv"},
    {"agency": "kela", "service": "pension", "language": "fi"},
    {"agency": "kela", "service": "family", "language": "en"},
]
AIMS = {"clients": 5000, "routing_p50_ms": 20.0, "relay_ratio": 0.6}
REQUEST_TIMEOUT_S = 15.0
# A node encodes compactly; the baseline forwards what the client sent (json.dumps).
SIGNAL_PREFIXES = ('{"type":"signal",', '{"type": "signal",')
CANDIDATE = "candidate:"
WINDOW_DRAIN_S = 10.0

# The server's own entry point, with the open-file limit raised first.
SERVER_WRAPPER = (
    "import sys; from bench.relay_baseline import raise_nofile_limit; raise_nofile_limit(); "
    "from signaling.cli import main; sys.exit(main(sys.argv[1:]))"
)


class BenchError(RuntimeError):
    """A phase could not be completed (the server answered wrongly or not at all)."""


def log(message: str) -> None:
    """Progress goes to stderr: stdout carries only the result."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- parameters ------------------------------------------------------------------------


@dataclass
class Params:
    """Sizes and durations of one run."""

    clients: int = 5000
    waiting: int = 100
    calls: int = 200  # sequential routing samples
    call_concurrency: int = 10
    duration: float = 10.0  # seconds of each saturation phase (calls, relay throughput)
    pairs: int = 50
    window: int = 16  # messages in flight per direction of a pair at saturation
    relay_rate: float = 1000.0  # messages/s offered in the relay latency phase
    # One whole heartbeat period (10 s by default), so that both servers' latency phases
    # include the same share of heartbeat pings.
    latency_seconds: float = 10.0
    idle_seconds: float = 3.0  # all clients connected, nothing sent: background CPU
    connect_concurrency: int = 100
    pin: bool = True
    quick: bool = False

    @property
    def experts(self) -> int:
        """Vero experts: enough for every relay pair and every concurrent call loop."""
        return max(self.pairs, self.call_concurrency, 1)


QUICK: dict[str, Any] = {
    "clients": 300,
    "waiting": 20,
    "calls": 30,
    "call_concurrency": 5,
    "duration": 2.0,
    "pairs": 10,
    "relay_rate": 500.0,
    "latency_seconds": 1.5,
    "idle_seconds": 1.0,
}


def parse_args(argv: Sequence[str]) -> tuple[Params, bool]:
    """Return the run's parameters and whether to print JSON."""
    d = Params()
    parser = argparse.ArgumentParser(
        prog="etapiste bench signaling",
        description="Load one signaling node with many clients; compare with a bare relay.",
    )
    parser.add_argument("--clients", type=int, default=None, help=f"default {d.clients}")
    parser.add_argument("--waiting", type=int, default=None, help=f"default {d.waiting}")
    parser.add_argument(
        "--calls", type=int, default=None, help=f"sequential routing samples (default {d.calls})"
    )
    parser.add_argument(
        "--call-concurrency",
        type=int,
        default=None,
        help=f"call loops at once in the calls/s phase (default {d.call_concurrency})",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help=f"seconds of each saturation phase (default {d.duration})",
    )
    parser.add_argument("--pairs", type=int, default=None, help=f"relay pairs (default {d.pairs})")
    parser.add_argument(
        "--window",
        type=int,
        default=None,
        help=f"messages in flight per direction at saturation (default {d.window})",
    )
    parser.add_argument(
        "--relay-rate",
        type=float,
        default=None,
        help=f"messages/s offered in the latency phase (default {d.relay_rate:g})",
    )
    parser.add_argument(
        "--latency-seconds",
        type=float,
        default=None,
        help=f"seconds of the relay latency phase (default {d.latency_seconds:g})",
    )
    parser.add_argument(
        "--connect-concurrency",
        type=int,
        default=None,
        help=f"connections opened at once (default {d.connect_concurrency})",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    args = parser.parse_args(list(argv))
    params = Params(**(QUICK if args.quick else {}))
    params.quick = args.quick
    params.pin = not args.no_pin
    for name in (
        "clients",
        "waiting",
        "calls",
        "call_concurrency",
        "duration",
        "pairs",
        "window",
        "relay_rate",
        "latency_seconds",
        "connect_concurrency",
    ):
        value = getattr(args, name)
        if value is not None:
            setattr(params, name, value)
    spare = params.clients - params.experts - params.waiting - params.pairs
    if min(params.waiting, params.calls, params.duration, params.window) < 0 or spare < max(
        2 * params.call_concurrency, 2
    ):
        parser.error(
            f"--clients {params.clients} is too small: the run needs {params.experts} experts, "
            f"{params.waiting} waiting booths, {params.pairs} relay booths and "
            f"{2 * params.call_concurrency} booths for the call loops"
        )
    if min(params.pairs, params.call_concurrency, params.connect_concurrency) < 1:
        parser.error("--pairs, --call-concurrency and --connect-concurrency must be positive")
    return params, bool(args.json)


# --- statistics ------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def summary_ms(seconds: Sequence[float]) -> Json:
    """Summarise durations in seconds as milliseconds: count, p50, p90, p99, max, mean."""
    values = sorted(seconds)
    if not values:
        return {"n": 0}
    ms = [v * 1000 for v in values]
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 50), 3),
        "p90": round(percentile(ms, 90), 3),
        "p99": round(percentile(ms, 99), 3),
        "max": round(ms[-1], 3),
        "mean": round(sum(ms) / len(ms), 3),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    """Return a/b rounded, or None when either is missing or b is zero."""
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


# --- the generated directory -------------------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def dump_toml(data: Json) -> str:
    """Write a document as TOML: top-level tables and arrays of tables, the rest inline."""
    lines: list[str] = []

    def is_table_array(value: Any) -> bool:
        return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)

    for key, value in data.items():
        if not isinstance(value, dict) and not is_table_array(value):
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"\n[{_toml_key(key)}]")
            lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
    for key, value in data.items():
        if is_table_array(value):
            for item in value:
                lines.append(f"\n[[{_toml_key(key)}]]")
                lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in item.items())
    return "\n".join(lines) + "\n"


@dataclass
class Identity:
    """One load client's principal and token."""

    kind: str  # "booth" or "expert"
    subject: str
    token: str
    site: str | None = None


REGIONS = [
    ("Kitee", "Pohjois-Karjala"),
    ("Lieksa", "Pohjois-Karjala"),
    ("Kemijärvi", "Lappi"),
    ("Kaskinen", "Pohjanmaa"),
    ("Utsjoki", "Lappi"),
    ("Kuhmo", "Kainuu"),
]


def build_directory(params: Params, token_secret: str) -> Json:
    """Return the demo directory with N sites, the run's experts and raised limits."""
    with DEMO_CONFIG.open("rb") as stream:
        data = tomllib.load(stream)
    booths = params.clients - params.experts
    sites = []
    for i in range(booths):
        municipality, region = REGIONS[i % len(REGIONS)]
        sites.append(
            {
                "id": f"bench-{i:05d}",
                "kind": "XS" if i % 5 == 4 else "S",
                "name": {
                    "fi": f"Testipiste {i}",
                    "sv": f"Testpunkt {i}",
                    "en": f"Bench site {i}",
                },
                "municipality": municipality,
                "region": region,
                "device_secret": secrets.token_hex(12),
            }
        )
    # Accounts are never logged in with a password (tokens are minted), so every generated
    # account reuses one valid argon2 hash from the demo.
    password_hash = data["staff"][0]["password_hash"]
    experts = [
        {
            "username": f"bench.vero.{i:04d}",
            "display_name": f"Vero bench expert {i}",
            "password_hash": password_hash,
            "expert": {"agencies": ["vero"], "languages": ["fi", "en"]},
        }
        for i in range(params.experts)
    ]
    data["sites"] = sites
    data["staff"] = list(data["staff"]) + experts
    data["limits"] = {
        **data.get("limits", {}),
        # The default 20 messages/s (burst 60) per connection is a production abuse
        # limit; the saturation phases send thousands a second on one connection.
        "rate_per_s": 1_000_000,
        "rate_burst": 1_000_000,
    }
    # The bench measures routing: experts take the next call at once, without wrap-up.
    data["routing"] = {**data.get("routing", {}), "wrap_up_s": 0}
    data["auth"] = {
        **data.get("auth", {}),
        "token_secret": token_secret,
        "token_ttl_s": 3600,
        "device_token_ttl_s": 3600,
    }
    return data


def mint_identities(directory: Directory, params: Params) -> tuple[list[Identity], list[Identity]]:
    """Return (booths, experts) with tokens signed by the server's own authority."""
    authority = Authority(directory)
    booths = []
    for site in directory.sites:
        if not site.id.startswith("bench-"):
            continue
        principal = Principal(
            kind="booth", subject=f"site:{site.id}", roles=("booth",), site=site.id
        )
        token, _ = authority.issue(principal)
        booths.append(Identity("booth", principal.subject, token, site.id))
    experts = []
    for account in directory.staff:
        if not account.username.startswith("bench."):
            continue
        principal = Principal(
            kind="staff",
            subject=f"staff:{account.username}",
            roles=tuple(account.roles()),
            username=account.username,
        )
        token, _ = authority.issue(principal)
        experts.append(Identity("expert", principal.subject, token))
    if len(booths) + len(experts) != params.clients:
        raise BenchError("the generated directory does not hold the expected identities")
    return booths, experts


# --- processes ---------------------------------------------------------------------------


def free_port() -> int:
    """Return a free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_plan(pin: bool) -> tuple[int | None, int | None]:
    """Return (server CPU, load generator CPU), or Nones when not pinning."""
    if not pin or not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return cpus[-1], cpus[0]


class ServerProcess:
    """A server subprocess: started, waited on until healthy, measured, stopped."""

    def __init__(self, name: str, argv: list[str], port: int, log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self, http: aiohttp.ClientSession, cpu: int | None) -> None:
        """Start the process and wait until /healthz answers 200."""
        self._log_file = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        if cpu is not None:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(self.proc.pid, {cpu})
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.proc.returncode}: {self.tail()}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(self.base_url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name} did not become healthy: {self.tail()}")
            await asyncio.sleep(0.1)

    def cpu_seconds(self) -> float | None:
        """User plus system CPU time of the process so far (Linux /proc)."""
        if self.proc is None:
            return None
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float | None:
        """Resident memory of the process in MiB (Linux /proc)."""
        if self.proc is None:
            return None
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        return round(int(match.group(1)) / 1024, 1) if match else None

    def tail(self, lines: int = 20) -> str:
        """Return the end of the process's output, for error reports."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time; idempotent."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def machine_cpu_seconds() -> float | None:
    """Busy CPU seconds of the whole machine so far, all cores (Linux /proc/stat)."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    ticks = [int(v) for v in first[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait; guest time is already in user
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def machine_busy(seconds: float) -> float | None:
    """How busy the machine is, in percent of one core, over ``seconds``."""
    before = machine_cpu_seconds()
    await asyncio.sleep(seconds)
    after = machine_cpu_seconds()
    return None if before is None or after is None else round(100 * (after - before) / seconds, 1)


class CpuMeter:
    """CPU use over a phase in percent of one core: server, load generator, everything else.

    "other" is the rest of the machine's busy time: kernel network work outside the two
    processes, and any other program running at the same time (it should be near zero;
    when it is not, the figures of that run are disturbed).
    """

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self._wall = time.perf_counter()
        self._server = server.cpu_seconds()
        self._own = time.process_time()
        self._machine = machine_cpu_seconds()

    def read(self) -> Json:
        wall = time.perf_counter() - self._wall
        server = self.server.cpu_seconds()
        machine = machine_cpu_seconds()
        own = time.process_time() - self._own
        used = None if server is None or self._server is None else server - self._server
        total = None if machine is None or self._machine is None else machine - self._machine
        other = None if used is None or total is None else max(0.0, total - used - own)

        def pct(seconds: float | None) -> float | None:
            return None if seconds is None or wall <= 0 else round(100 * seconds / wall, 1)

        return {
            "server_cpu_pct": pct(used),
            "loadgen_cpu_pct": pct(own),
            "other_cpu_pct": pct(other),
            "server_cpu_s": None if used is None else round(used, 3),
        }


# --- a load client -----------------------------------------------------------------------

Predicate = Callable[[Json], bool]


class WireClient:
    """One raw WebSocket client: requests with replies, a small inbox, and relay hooks."""

    def __init__(self, name: str, identity: Identity | None = None) -> None:
        self.name = name
        self.identity = identity
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task[None] | None = None
        self.pending: dict[str, asyncio.Future[Json]] = {}
        self.waiters: list[tuple[Predicate, asyncio.Future[Json]]] = []
        self.inbox: deque[Json] = deque(maxlen=64)
        self.unsolicited_errors: list[Json] = []
        self.received: Counter[str] = Counter()
        self.on_signal: Callable[[WireClient, str], Awaitable[None]] | None = None
        self.on_offer: Callable[[WireClient, Json], None] | None = None
        self.incoming: Stream | None = None  # the relay stream this client receives
        self.welcome: Json | None = None
        self._ids = itertools.count(1)

    @property
    def site(self) -> str | None:
        return self.identity.site if self.identity else None

    async def open(self, http: aiohttp.ClientSession, url: str, hello: Json) -> tuple[float, float]:
        """Connect and say hello; return (handshake seconds, hello-to-welcome seconds)."""
        t0 = time.perf_counter()
        self.ws = await http.ws_connect(url, heartbeat=None, max_msg_size=0)
        t1 = time.perf_counter()
        self.reader = asyncio.create_task(self._read(self.ws))
        welcome = await self.request({**hello, "id": "hello"})
        t2 = time.perf_counter()
        if welcome.get("type") != "welcome":
            raise BenchError(f"{self.name}: expected welcome, got {welcome}")
        self.welcome = welcome
        return t1 - t0, t2 - t1

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for frame in ws:
                if frame.type is not aiohttp.WSMsgType.TEXT:
                    continue
                text: str = frame.data
                # Relayed frames take a fast path (no JSON parse) so that the load
                # generator stays cheaper per message than the servers it loads.
                if self.on_signal is not None and text.startswith(SIGNAL_PREFIXES):
                    await self.on_signal(self, text)
                    continue
                data = json.loads(text)
                kind = data.get("type")
                self.received[kind] += 1
                request_id = data.get("id")
                if request_id is not None:
                    future = self.pending.pop(request_id, None)
                    if future is not None:
                        if not future.done():
                            future.set_result(data)
                        continue
                if kind == "error":
                    self.unsolicited_errors.append(data)
                if kind == "offer" and self.on_offer is not None:
                    self.on_offer(self, data)
                    continue
                for index, (predicate, waiter) in enumerate(self.waiters):
                    if not waiter.done() and predicate(data):
                        waiter.set_result(data)
                        del self.waiters[index]
                        break
                else:
                    self.inbox.append(data)
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError(f"{self.name}: connection closed"))
            for _, waiter in self.waiters:
                if not waiter.done():
                    waiter.set_exception(ConnectionError(f"{self.name}: connection closed"))

    async def send(self, data: str) -> None:
        assert self.ws is not None
        await self.ws.send_str(data)

    async def request(self, message: Json, timeout: float = REQUEST_TIMEOUT_S) -> Json:
        """Send a request and return its reply; an error reply raises BenchError."""
        request_id = message.get("id") or f"r{next(self._ids)}"
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        try:
            await self.send(json.dumps({**message, "id": request_id}))
            reply = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise BenchError(f"{self.name}: no reply to {message['type']} in {timeout} s") from None
        finally:
            self.pending.pop(request_id, None)
        if reply.get("type") == "error":
            raise BenchError(f"{self.name}: {message['type']} refused: {reply}")
        return reply

    async def wait_for(self, predicate: Predicate, timeout: float = REQUEST_TIMEOUT_S) -> Json:
        """Return the first buffered or arriving pushed message that matches."""
        for message in self.inbox:
            if predicate(message):
                self.inbox.remove(message)
                return message
        waiter: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        entry = (predicate, waiter)
        self.waiters.append(entry)
        try:
            return await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            raise BenchError(f"{self.name}: expected message did not arrive") from None
        finally:
            with contextlib.suppress(ValueError):
                self.waiters.remove(entry)

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader


async def connect_all(
    http: aiohttp.ClientSession,
    clients: list[WireClient],
    url_of: Callable[[WireClient], str],
    hello_of: Callable[[WireClient], Json],
    concurrency: int,
) -> Json:
    """Open every client, ``concurrency`` at a time; return the connect figures."""
    handshakes: list[float] = []
    hellos: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(client: WireClient) -> None:
        async with gate:
            handshake, hello = await client.open(http, url_of(client), hello_of(client))
        handshakes.append(handshake)
        hellos.append(hello)

    started = time.perf_counter()
    results = await asyncio.gather(*(one(c) for c in clients), return_exceptions=True)
    seconds = time.perf_counter() - started
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise BenchError(f"{len(failures)} of {len(clients)} clients failed: {failures[0]!r}")
    return {
        "clients": len(clients),
        "seconds": round(seconds, 3),
        "clients_per_s": round(len(clients) / seconds, 1),
        "handshake_ms": summary_ms(handshakes),
        "hello_to_welcome_ms": summary_ms(hellos),
    }


# --- relay -------------------------------------------------------------------------------


class Stream:
    """One direction of a pair: frames carry their send time in the ICE foundation."""

    def __init__(self, sender: WireClient, prefix: str, suffix: str) -> None:
        self.sender = sender
        self.prefix = prefix
        self.suffix = suffix
        self.sent = 0
        self.received = 0

    async def send(self) -> None:
        self.sent += 1
        await self.sender.send(self.prefix + str(time.perf_counter_ns()) + self.suffix)


def signal_frame_parts(session_id: str, to: str, index: int) -> tuple[str, str]:
    """Return the text around the timestamp of a realistic trickled ICE candidate."""
    host = f"192.168.{index // 250 % 250}.{index % 250 + 1}"
    port = 40000 + index % 20000
    head = json.dumps(
        {
            "type": "signal",
            "session_id": session_id,
            "to": to,
            "payload": {
                "kind": "ice",
                "candidate": "@@",
                "sdp_mid": "0",
                "sdp_mline_index": 0,
            },
        }
    )
    candidate = (
        f"candidate:@@ 1 udp 2122260223 {host} {port} typ host generation 0 "
        f"ufrag {secrets.token_hex(2)} network-id 1 network-cost 10"
    )
    prefix, suffix = head.replace('"@@"', json.dumps(candidate)).split("@@")
    return prefix, suffix


class RelayMeter:
    """Receives relayed frames: latency samples, counts, and closed-loop resends."""

    def __init__(self) -> None:
        self.recording = False
        self.window_mode = False
        self.samples_ns: list[int] = []
        self.delivered = 0
        self.malformed = 0

    async def on_signal(self, client: WireClient, text: str) -> None:
        now = time.perf_counter_ns()
        start = text.find(CANDIDATE) + len(CANDIDATE)
        try:
            sent = int(text[start : text.index(" ", start)])
        except ValueError:
            self.malformed += 1
            return
        self.delivered += 1
        if self.recording:
            self.samples_ns.append(now - sent)
        stream = client.incoming
        if stream is not None:
            stream.received += 1
            if self.window_mode:
                await stream.send()


async def wait_drained(streams: list[Stream], timeout: float) -> int:
    """Wait until every sent frame arrived; return how many were still missing."""
    deadline = time.monotonic() + timeout
    while True:
        missing = sum(s.sent - s.received for s in streams)
        if missing <= 0 or time.monotonic() > deadline:
            return max(0, missing)
        await asyncio.sleep(0.02)


async def measure_relay(
    streams: list[Stream], meter: RelayMeter, params: Params, cpu: ServerProcess
) -> Json:
    """Open-loop latency at a fixed rate, then closed-loop throughput at saturation."""
    # Latency at a fixed offered rate, evenly spread over the streams.
    rate, seconds = params.relay_rate, params.latency_seconds
    warmup = min(0.5, seconds / 4)
    meter.samples_ns = []
    cpu_meter = CpuMeter(cpu)
    started = time.perf_counter()
    sent = 0
    cycle = itertools.cycle(streams)
    while True:
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            break
        meter.recording = elapsed >= warmup
        for _ in range(int(elapsed * rate) - sent):
            await next(cycle).send()
            sent += 1
        await asyncio.sleep(0.002)
    missing = await wait_drained(streams, WINDOW_DRAIN_S)
    meter.recording = False
    latency = {
        "offered_msgs_per_s": rate,
        "seconds": seconds,
        "ms": summary_ms([ns / 1e9 for ns in meter.samples_ns]),
        "lost": missing,
        **cpu_meter.read(),
    }

    # Throughput: each direction keeps ``window`` frames in flight for ``duration`` seconds.
    meter.samples_ns = []
    meter.window_mode = True
    for _ in range(params.window):
        for stream in streams:
            await stream.send()
    await asyncio.sleep(min(1.0, params.duration / 5))  # reach the steady state
    meter.recording = True
    before = meter.delivered
    cpu_meter = CpuMeter(cpu)
    t0 = time.perf_counter()
    await asyncio.sleep(params.duration)
    delivered = meter.delivered - before
    elapsed = time.perf_counter() - t0
    usage = cpu_meter.read()
    meter.recording = False
    meter.window_mode = False
    missing = await wait_drained(streams, WINDOW_DRAIN_S)
    server_s = usage["server_cpu_s"]
    throughput = {
        "window": params.window,
        "in_flight": params.window * len(streams),
        "seconds": round(elapsed, 3),
        "delivered": delivered,
        "msgs_per_s": round(delivered / elapsed, 1),
        "ms": summary_ms([ns / 1e9 for ns in meter.samples_ns]),
        "lost": missing,
        # Server CPU per relayed message: unlike msgs/s, hardly moved by other programs.
        "server_cpu_us_per_msg": (
            round(1e6 * server_s / delivered, 2) if server_s is not None and delivered else None
        ),
        **usage,
    }
    meter.samples_ns = []
    return {
        "pairs": len(streams) // 2,
        "frame_bytes": len(streams[0].prefix) + 19 + len(streams[0].suffix),
        "latency": latency,
        "throughput": throughput,
        "malformed": meter.malformed,
    }


async def measure_idle(server: ServerProcess, params: Params) -> Json:
    """CPU the server spends with every client connected and nobody sending."""
    cpu_meter = CpuMeter(server)
    await asyncio.sleep(params.idle_seconds)
    return {"seconds": params.idle_seconds, "clients": params.clients, **cpu_meter.read()}


# --- the signaling node ------------------------------------------------------------------


class OfferBoard:
    """Routes offers the experts receive to the call that waits for them, by site."""

    def __init__(self) -> None:
        self.expected: dict[str, asyncio.Future[tuple[WireClient, Json, float]]] = {}
        self.stray = 0

    def expect(self, site: str) -> asyncio.Future[tuple[WireClient, Json, float]]:
        future: asyncio.Future[tuple[WireClient, Json, float]] = (
            asyncio.get_running_loop().create_future()
        )
        self.expected[site] = future
        return future

    def deliver(self, expert: WireClient, offer: Json) -> None:
        now = time.perf_counter()
        future = self.expected.pop(offer.get("site", {}).get("id", ""), None)
        if future is None or future.done():
            self.stray += 1
            return
        future.set_result((expert, offer, now))


@dataclass
class CallTimes:
    """The timings of one call through routing."""

    request_to_queued: float = 0.0
    request_to_offer: float = 0.0
    accept: float = 0.0
    end_to_ended: float = 0.0
    cycle: float = 0.0
    session_id: str = ""
    expert: WireClient | None = field(default=None, repr=False)


async def one_call(booth: WireClient, board: OfferBoard, *, end: bool = True) -> CallTimes:
    """Request a call, have the offered expert accept it and (optionally) end it."""
    assert booth.site is not None
    times = CallTimes()
    offered = board.expect(booth.site)
    t0 = time.perf_counter()
    queued = await booth.request({"type": "call_request", **CALL_QUEUE})
    times.request_to_queued = time.perf_counter() - t0
    if queued.get("type") != "call_queued":
        raise BenchError(f"{booth.name}: expected call_queued, got {queued}")
    session_id = queued["session"]["session_id"]
    try:
        expert, offer, at = await asyncio.wait_for(offered, REQUEST_TIMEOUT_S)
    except TimeoutError:
        board.expected.pop(booth.site, None)
        raise BenchError(f"{booth.name}: no offer for {session_id}") from None
    times.request_to_offer = at - t0
    if offer["session_id"] != session_id:
        raise BenchError(f"offer for {offer['session_id']}, expected {session_id}")
    t1 = time.perf_counter()
    await expert.request({"type": "offer_accept", "session_id": session_id})
    times.accept = time.perf_counter() - t1
    times.session_id = session_id
    times.expert = expert
    if end:
        t2 = time.perf_counter()
        await expert.request(
            {"type": "session_end", "session_id": session_id, "outcome": "resolved"}
        )
        ended = await booth.wait_for(
            lambda m: m.get("type") == "session_ended" and m.get("session_id") == session_id
        )
        if ended.get("state") != "ended":
            raise BenchError(f"{booth.name}: call ended as {ended}")
        times.end_to_ended = time.perf_counter() - t2
    times.cycle = time.perf_counter() - t0
    return times


def call_summary(samples: list[CallTimes]) -> Json:
    return {
        "request_to_offer_ms": summary_ms([s.request_to_offer for s in samples]),
        "request_to_call_queued_ms": summary_ms([s.request_to_queued for s in samples]),
        "accept_to_ack_ms": summary_ms([s.accept for s in samples]),
        "end_to_session_ended_ms": summary_ms([s.end_to_ended for s in samples]),
        "full_call_ms": summary_ms([s.cycle for s in samples]),
    }


async def read_metrics(http: aiohttp.ClientSession, base_url: str) -> dict[str, float]:
    """Return the node's Prometheus samples by their full name with labels."""
    async with http.get(base_url + "/metrics") as resp:
        text = await resp.text()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                samples[name] = float(value)
    return samples


def labelled(samples: dict[str, float], metric: str) -> dict[str, float]:
    """Return the samples of one metric keyed by their label value."""
    found = {}
    for name, value in samples.items():
        match = re.match(rf'^{re.escape(metric)}\{{\w+="([^"]*)"\}}$', name)
        if match and value:
            found[match.group(1)] = value
    return found


async def run_node(
    http: aiohttp.ClientSession,
    params: Params,
    config: Path,
    directory: Directory,
    workdir: Path,
    cpus: tuple[int | None, int | None],
) -> Json:
    """Every phase against a signaling node; return its results."""
    port = free_port()
    server = ServerProcess(
        "signaling node",
        [
            sys.executable,
            "-c",
            SERVER_WRAPPER,
            "serve",
            "--port",
            str(port),
            "--store",
            "memory",
            "--config",
            str(config),
            "--node-id",
            "bench-node",
            "--shutdown-timeout",
            "3",
        ],
        port,
        workdir / "node.log",
    )
    booth_ids, expert_ids = mint_identities(directory, params)
    booths = [WireClient(i.subject, i) for i in booth_ids]
    experts = [WireClient(i.subject, i) for i in expert_ids]
    board = OfferBoard()
    for expert in experts:
        expert.on_offer = board.deliver
    results: Json = {}
    try:
        await server.start(http, cpus[0])
        rss_idle = server.rss_mb()

        # 1. connect
        log(f"node: connecting {params.clients} clients")
        everyone = experts + booths
        welcome_checked: list[str] = []

        def hello(client: WireClient) -> Json:
            assert client.identity is not None
            return {"type": "hello", "versions": [PROTOCOL_VERSION], "token": client.identity.token}

        cpu_meter = CpuMeter(server)
        results["connect"] = await connect_all(
            http, everyone, lambda _: server.ws_url, hello, params.connect_concurrency
        )
        results["connect"].update(cpu_meter.read())
        # Every welcome names the right subject; one of each kind is fully validated.
        for client in everyone:
            assert client.identity is not None
            welcome = client.welcome or {}
            if (
                welcome.get("version") != PROTOCOL_VERSION
                or welcome.get("identity", {}).get("subject") != client.identity.subject
                or welcome.get("identity", {}).get("site") != client.identity.site
            ):
                raise BenchError(f"{client.name}: wrong welcome {welcome}")
        for sample in (booths[0], experts[0]):
            parse_server_message(json.dumps(sample.welcome))
            welcome_checked.append(sample.name)
        async with http.get(server.base_url + "/healthz") as resp:
            health = await resp.json()
        if health.get("clients") != params.clients:
            raise BenchError(f"node holds {health.get('clients')} clients, not {params.clients}")
        rss = server.rss_mb()
        results["connect"].update(
            {
                "server_clients": health["clients"],
                "server_rss_mb_idle": rss_idle,
                "server_rss_mb": rss,
                "server_kb_per_client": (
                    round((rss - rss_idle) * 1024 / params.clients, 1)
                    if rss is not None and rss_idle is not None
                    else None
                ),
            }
        )
        gc.collect()
        gc.freeze()  # the clients live for the whole run: keep them out of GC passes

        # 2. waiting calls
        waiting, rest = booths[: params.waiting], booths[params.waiting :]
        relay_booths, call_booths = rest[: params.pairs], rest[params.pairs :]
        log(f"node: {params.waiting} calls waiting in Kela queues")
        for index, booth in enumerate(waiting):
            reply = await booth.request(
                {"type": "call_request", **WAITING_QUEUES[index % len(WAITING_QUEUES)]}
            )
            if reply.get("session", {}).get("state") != "queued":
                raise BenchError(f"{booth.name}: waiting call not queued: {reply}")
        for expert in experts:
            await expert.request({"type": "set_availability", "status": "available"})
        results["idle"] = await measure_idle(server, params)
        metrics = await read_metrics(http, server.base_url)
        queued = labelled(metrics, "etapiste_queue_length")
        if sum(v for q, v in queued.items() if q.startswith("kela/")) != params.waiting:
            raise BenchError(f"expected {params.waiting} waiting calls, the node has {queued}")

        # 3. routing, one call at a time
        log(f"node: {params.calls} calls one at a time")
        pool = itertools.cycle(call_booths)
        cpu_meter = CpuMeter(server)
        samples = [await one_call(next(pool), board) for _ in range(params.calls)]
        usage = cpu_meter.read()
        results["routing"] = {
            "samples": len(samples),
            "waiting_calls": params.waiting,
            "waiting_where": (
                f"{params.waiting} calls wait in {len(WAITING_QUEUES)} Kela queues with no "
                "Kela expert on shift; the measured calls go to vero/tax-card/fi, where "
                f"{len(experts)} experts are available"
            ),
            "clients_connected": params.clients,
            **call_summary(samples),
            **usage,
        }

        # 4. calls/s: C loops, each request -> offer -> accept -> end -> ended, repeated
        log(f"node: {params.call_concurrency} call loops for {params.duration:g} s")
        loop_samples: list[CallTimes] = []
        stop_at = time.perf_counter() + params.duration
        cpu_meter = CpuMeter(server)

        async def call_loop(mine: list[WireClient]) -> None:
            for booth in itertools.cycle(mine):
                if time.perf_counter() >= stop_at:
                    return
                loop_samples.append(await one_call(booth, board))

        started = time.perf_counter()
        await asyncio.gather(
            *(
                call_loop(call_booths[i :: params.call_concurrency])
                for i in range(params.call_concurrency)
            )
        )
        elapsed = time.perf_counter() - started
        usage = cpu_meter.read()
        server_s = usage["server_cpu_s"]
        results["calls"] = {
            "concurrency": params.call_concurrency,
            "seconds": round(elapsed, 3),
            "completed": len(loop_samples),
            "calls_per_s": round(len(loop_samples) / elapsed, 1),
            **call_summary(loop_samples),
            "server_cpu_ms_per_call": (
                round(1e3 * server_s / len(loop_samples), 3)
                if server_s is not None and loop_samples
                else None
            ),
            **usage,
        }

        # 5. relay: K calls accepted and left open, ICE both ways
        log(f"node: relay over {params.pairs} pairs")
        meter = RelayMeter()
        streams: list[Stream] = []
        sessions: list[tuple[WireClient, str]] = []
        for index, booth in enumerate(relay_booths):
            call = await one_call(booth, board, end=False)
            partner = call.expert
            assert partner is not None
            sessions.append((partner, call.session_id))

            def connecting(m: Json, sid: str = call.session_id) -> bool:
                return (
                    m.get("type") == "session_update"
                    and m["session"]["session_id"] == sid
                    and m["session"]["state"] == "connecting"
                )

            booth_view = (await booth.wait_for(connecting))["session"]
            expert_view = (await partner.wait_for(connecting))["session"]
            kinds = {p["kind"]: p["id"] for p in booth_view["participants"]}
            if (
                kinds.get("expert") != expert_view["self_id"]
                or kinds.get("booth") != booth_view["self_id"]
            ):
                raise BenchError(f"participants disagree: {booth_view} / {expert_view}")
            for sender, receiver, to in (
                (booth, partner, kinds["expert"]),
                (partner, booth, kinds["booth"]),
            ):
                prefix, suffix = signal_frame_parts(call.session_id, to, 2 * index + len(streams))
                stream = Stream(sender, prefix, suffix)
                receiver.incoming = stream
                receiver.on_signal = meter.on_signal
                streams.append(stream)
        results["relay"] = await measure_relay(streams, meter, params, server)
        for expert, session_id in sessions:
            await expert.request(
                {"type": "session_end", "session_id": session_id, "outcome": "resolved"}
            )

        # Health: what the node counted while all this ran.
        metrics = await read_metrics(http, server.base_url)
        count = metrics.get("etapiste_routing_latency_seconds_count", 0.0)
        total = metrics.get("etapiste_routing_latency_seconds_sum", 0.0)
        results["server"] = {
            "routing_latency_mean_ms": round(1000 * total / count, 3) if count else None,
            "errors": labelled(metrics, "etapiste_errors_total"),
            "slow_consumers": metrics.get("etapiste_slow_consumers_total", 0.0),
            "rss_mb_end": server.rss_mb(),
            "stray_offers": board.stray,
            "unsolicited_errors": sum(len(c.unsolicited_errors) for c in everyone),
            "welcome_validated": welcome_checked,
        }
        return results
    finally:
        log("node: stopping")
        await asyncio.to_thread(server.stop)
        await asyncio.gather(*(c.close() for c in experts + booths), return_exceptions=True)
        gc.unfreeze()


# --- the baseline --------------------------------------------------------------------------


async def run_baseline(
    http: aiohttp.ClientSession, params: Params, workdir: Path, cpus: tuple[int | None, int | None]
) -> Json:
    """Connect and relay against the bare aiohttp relay; return its results."""
    port = free_port()
    server = ServerProcess(
        "baseline relay",
        [sys.executable, "-m", "bench.relay_baseline", "--port", str(port)],
        port,
        workdir / "baseline.log",
    )
    clients = [WireClient(f"c{i}") for i in range(params.clients)]
    # The first 2K clients form the relay pairs (0-1, 2-3, ...); the rest stay idle.
    peer = {i: (i ^ 1 if i < 2 * params.pairs else i) for i in range(params.clients)}
    index = {id(c): i for i, c in enumerate(clients)}
    results: Json = {}
    try:
        await server.start(http, cpus[0])
        rss_idle = server.rss_mb()
        log(f"baseline: connecting {params.clients} clients")

        def url(client: WireClient) -> str:
            i = index[id(client)]
            return f"{server.ws_url}?me=c{i}&peer=c{peer[i]}"

        def hello(_: WireClient) -> Json:
            return {"type": "hello", "versions": [PROTOCOL_VERSION], "token": "-"}

        cpu_meter = CpuMeter(server)
        results["connect"] = await connect_all(
            http, clients, url, hello, params.connect_concurrency
        )
        results["connect"].update(cpu_meter.read())
        rss = server.rss_mb()
        results["connect"].update(
            {
                "server_rss_mb_idle": rss_idle,
                "server_rss_mb": rss,
                "server_kb_per_client": (
                    round((rss - rss_idle) * 1024 / params.clients, 1)
                    if rss is not None and rss_idle is not None
                    else None
                ),
            }
        )
        gc.collect()
        gc.freeze()
        results["idle"] = await measure_idle(server, params)
        log(f"baseline: relay over {params.pairs} pairs")
        meter = RelayMeter()
        streams: list[Stream] = []
        for p in range(params.pairs):
            a, b = clients[2 * p], clients[2 * p + 1]
            session_id = "s-" + secrets.token_hex(16)
            for sender, receiver in ((a, b), (b, a)):
                prefix, suffix = signal_frame_parts(
                    session_id, "p-" + secrets.token_hex(6), len(streams)
                )
                stream = Stream(sender, prefix, suffix)
                receiver.incoming = stream
                receiver.on_signal = meter.on_signal
                streams.append(stream)
        results["relay"] = await measure_relay(streams, meter, params, server)
        return results
    finally:
        log("baseline: stopping")
        await asyncio.to_thread(server.stop)
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        gc.unfreeze()


# --- the run -------------------------------------------------------------------------------


def source_info() -> Json:
    """The commit measured and whether the server's code differed from it (read-only git)."""
    info: Json = {"commit": None, "modified": None}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        )
        if head.returncode == 0:
            info["commit"] = head.stdout.strip()
            diff = subprocess.run(
                ["git", "--no-optional-locks", "diff", "--quiet", "HEAD", "--", "signaling"],
                cwd=REPO,
                capture_output=True,
                timeout=10,
            )
            info["modified"] = diff.returncode != 0
    return info


def machine_info(cpus: tuple[int | None, int | None]) -> Json:
    model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "aiohttp": aiohttp.__version__,
        "pinned": {"server_cpu": cpus[0], "loadgen_cpu": cpus[1]},
        "nofile_limit": raise_nofile_limit(),
    }


def aims(results: Json, ratios: Json, params: Params) -> Json:
    """Tell which of the issue's aims this run met."""
    p50 = results.get("routing", {}).get("request_to_offer_ms", {}).get("p50")
    relay_ratio = ratios.get("relay_msgs_per_s")
    return {
        "clients_5000": {
            "aim": AIMS["clients"],
            "measured": results.get("connect", {}).get("clients"),
            "met": results.get("connect", {}).get("clients", 0) >= AIMS["clients"],
            "applicable": params.clients >= AIMS["clients"],
        },
        "routing_p50_ms_under_20_with_100_waiting": {
            "aim": AIMS["routing_p50_ms"],
            "measured": p50,
            "waiting": params.waiting,
            "met": p50 is not None and p50 < AIMS["routing_p50_ms"] and params.waiting >= 100,
            "applicable": params.waiting >= 100 and params.clients >= AIMS["clients"],
        },
        "relay_ratio_at_least_0_6": {
            "aim": AIMS["relay_ratio"],
            "measured": relay_ratio,
            "met": relay_ratio is not None and relay_ratio >= AIMS["relay_ratio"],
            "applicable": params.clients >= AIMS["clients"],
        },
    }


async def run(params: Params) -> Json:
    """Run both servers' phases and assemble the report."""
    cpus = cpu_plan(params.pin)
    machine = machine_info(cpus)
    own_affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    report: Json = {
        "bench": "signaling",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "source": source_info(),
        "params": {**asdict(params), "experts": params.experts, "call_queue": CALL_QUEUE},
        "results": {},
        "baseline": {},
        "ratios": {},
        "errors": [],
    }
    # Each process holds one socket per client, plus files, pipes and the listener.
    if machine["nofile_limit"] < params.clients + 256:
        report["errors"].append(
            f"the open-file limit is {machine['nofile_limit']}; {params.clients} clients need "
            f"{params.clients + 256} (raise the hard limit, e.g. ulimit -Hn)"
        )
        return report
    busy = await machine_busy(1.0)
    machine["busy_before_run_pct"] = busy
    if busy is not None and busy > 20:
        log(f"warning: the machine was {busy:.0f}% busy before the run; figures will suffer")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="etapiste-bench-") as tmp:
        workdir = Path(tmp)
        token_secret = secrets.token_urlsafe(36)
        config = workdir / "directory.toml"
        data = build_directory(params, token_secret)
        text = dump_toml(data)
        if tomllib.loads(text) != data:
            raise BenchError("the TOML writer did not round-trip the directory")
        config.write_text(text, encoding="utf-8")
        directory = load_directory(config)
        if cpus[1] is not None:
            os.sched_setaffinity(0, {cpus[1]})
        # Keep the load generator's own garbage collection out of the figures: with
        # thousands of clients a full collection here stalls every client for 100-300 ms.
        threshold = gc.get_threshold()
        gc.collect()
        gc.freeze()
        gc.set_threshold(100_000, 50, 1000)
        connector = aiohttp.TCPConnector(limit=0)
        try:
            async with aiohttp.ClientSession(connector=connector) as http:
                try:
                    report["results"] = await run_node(
                        http, params, config, directory, workdir, cpus
                    )
                except Exception as exc:  # report it in the JSON; the servers are stopped
                    report["errors"].append(f"node: {type(exc).__name__}: {exc}")
                try:
                    report["baseline"] = await run_baseline(http, params, workdir, cpus)
                except Exception as exc:
                    report["errors"].append(f"baseline: {type(exc).__name__}: {exc}")
        finally:
            gc.set_threshold(*threshold)
            gc.unfreeze()
            if own_affinity is not None:
                os.sched_setaffinity(0, own_affinity)
    node, base = report["results"], report["baseline"]
    node_relay, base_relay = node.get("relay", {}), base.get("relay", {})
    report["ratios"] = {
        "relay_msgs_per_s": ratio(
            node_relay.get("throughput", {}).get("msgs_per_s"),
            base_relay.get("throughput", {}).get("msgs_per_s"),
        ),
        "relay_latency_p50": ratio(
            node_relay.get("latency", {}).get("ms", {}).get("p50"),
            base_relay.get("latency", {}).get("ms", {}).get("p50"),
        ),
        "relay_latency_p99": ratio(
            node_relay.get("latency", {}).get("ms", {}).get("p99"),
            base_relay.get("latency", {}).get("ms", {}).get("p99"),
        ),
        # Baseline server CPU per message over the node's: the throughput ratio the two
        # would reach if each had a core to itself and the load generator were free.
        "relay_server_cpu_per_msg": ratio(
            base_relay.get("throughput", {}).get("server_cpu_us_per_msg"),
            node_relay.get("throughput", {}).get("server_cpu_us_per_msg"),
        ),
        "connect_clients_per_s": ratio(
            node.get("connect", {}).get("clients_per_s"),
            base.get("connect", {}).get("clients_per_s"),
        ),
    }
    report["aims"] = aims(node, report["ratios"], params)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    return report


def human(report: Json) -> str:
    """A short readable summary of a report."""
    node, base, ratios = report["results"], report["baseline"], report["ratios"]
    lines = [f"signaling bench, {report['date']}, {report['machine']['cpus']} CPUs"]

    def get(d: Json, *path: str) -> Any:
        for key in path:
            d = d.get(key, {}) if isinstance(d, dict) else {}
        return d if d != {} else None

    lines += [
        f"  clients connected      {get(node, 'connect', 'clients')} "
        f"({get(node, 'connect', 'clients_per_s')}/s; baseline "
        f"{get(base, 'connect', 'clients_per_s')}/s)",
        f"  request->offer ms      p50 {get(node, 'routing', 'request_to_offer_ms', 'p50')} "
        f"p99 {get(node, 'routing', 'request_to_offer_ms', 'p99')} "
        f"({get(node, 'routing', 'waiting_calls')} waiting)",
        f"  calls/s                {get(node, 'calls', 'calls_per_s')} "
        f"(concurrency {get(node, 'calls', 'concurrency')})",
        f"  relay msgs/s           {get(node, 'relay', 'throughput', 'msgs_per_s')} "
        f"vs baseline {get(base, 'relay', 'throughput', 'msgs_per_s')} "
        f"(ratio {ratios.get('relay_msgs_per_s')})",
        f"  relay latency ms       p50 {get(node, 'relay', 'latency', 'ms', 'p50')} "
        f"p99 {get(node, 'relay', 'latency', 'ms', 'p99')} vs baseline "
        f"p50 {get(base, 'relay', 'latency', 'ms', 'p50')} "
        f"p99 {get(base, 'relay', 'latency', 'ms', 'p99')}",
    ]
    for name, aim in report.get("aims", {}).items():
        verdict = "met" if aim["met"] else "NOT met"
        if not aim["applicable"]:
            verdict += " (sizes below the aim's)"
        lines.append(f"  aim {name}: {verdict} ({aim['measured']})")
    lines += [f"  error: {e}" for e in report["errors"]]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    """Run the benchmark; print one JSON object with --json, else a summary."""
    params, as_json = parse_args(argv)
    try:
        report = asyncio.run(run(params))
    except KeyboardInterrupt:
        return 130
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        print(human(report))
    sys.stdout.flush()
    return 1 if report["errors"] else 0
