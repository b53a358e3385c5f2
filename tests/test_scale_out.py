"""Scale-out with real processes: nginx (infra/nginx) in front of two nodes on one Redis.

nginx runs as the current user from a temporary prefix, with the configuration rendered
from infra/nginx/etapiste.conf by infra/nginx/render.py, on loopback ports only.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from aioice import turn

from signaling.client import Call, SignalingClient
from signaling.forwarded import TRUSTED_PROXIES, client_address, parse_networks
from signaling.protocol import PROTOCOL_VERSION, CallQueued, ParticipantEvent, SessionEnded
from signaling.store.redis import RedisStore

from .support import (
    KELA_CALL,
    REPO,
    ServeProcess,
    booth_client,
    eventually,
    frames,
    free_port,
    staff_client,
    start_call,
)

NGINX = "/usr/sbin/nginx"
RENDER = REPO / "infra" / "nginx" / "render.py"
CLUSTER_UP = REPO / "infra" / "cluster-up"

pytestmark = [
    pytest.mark.redis,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not os.path.exists(NGINX), reason="nginx is not installed"),
]


class NginxProcess:
    """A real nginx from a temporary prefix, configured by infra/nginx/render.py."""

    def __init__(self, prefix: Path, nodes: Sequence[str], *render_args: str) -> None:
        self.prefix = prefix
        self.port = free_port()
        self.nodes = list(nodes)
        self.render_args = list(render_args)
        self.conf = prefix / "nginx.conf"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def render(self, *, plain: bool = True) -> None:
        """Render the configuration and check it with `nginx -t`."""
        command = [sys.executable, str(RENDER), "--standalone", str(self.prefix)]
        command += ["--listen", f"127.0.0.1:{self.port}", "--output", str(self.conf)]
        command += ["--plain"] if plain else []
        for node in self.nodes:
            command += ["--node", node]
        subprocess.run([*command, *self.render_args], check=True)
        subprocess.run([*self._nginx(), "-t", "-q"], check=True)

    def _nginx(self) -> list[str]:
        return [NGINX, "-p", str(self.prefix), "-c", str(self.conf)] + [
            "-e",
            str(self.prefix / "error.log"),
        ]

    async def start(self, *, plain: bool = True, ready_url: str | None = None) -> None:
        """Start nginx in the foreground and wait until /healthz answers through it."""
        self.render(plain=plain)
        self.proc = subprocess.Popen(
            [*self._nginx(), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        url = ready_url or self.base_url + "/healthz"

        async def answers() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited: {self.error_log()}")
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(url, ssl=False) as resp,
                ):
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(answers, timeout=15, message="nginx answers /healthz")

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text()[-2000:] if path.exists() else ""

    def access_log(self) -> list[str]:
        path = self.prefix / "etapiste.access.log"
        return path.read_text().splitlines() if path.exists() else []

    def stop(self) -> None:
        """Stop nginx at once (SIGTERM: fast shutdown) and wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
async def cluster(
    redis_url: str, tmp_path: Path
) -> AsyncIterator[tuple[NginxProcess, dict[str, ServeProcess]]]:
    """Two real nodes on one Redis behind a real nginx; the nodes trust nginx's address."""
    trust = ["--trusted-proxy", "127.0.0.1/32"]
    nodes = {
        name: ServeProcess(redis_url, name, extra=trust, host="127.0.0.1")
        for name in ("node-a", "node-b")
    }
    proxy = NginxProcess(
        tmp_path / "nginx",
        [f"127.0.0.1:{node.port}" for node in nodes.values()],
        "--fail-timeout",
        "5s",
    )
    proxy.prefix.mkdir()
    try:
        for node in nodes.values():
            await node.start()
        await proxy.start()
        yield proxy, nodes
    finally:
        proxy.stop()
        for node in nodes.values():
            node.kill()


async def healthz(base_url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(base_url + "/healthz") as resp:
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


async def test_clients_land_on_both_nodes_without_stickiness(
    cluster: tuple[NginxProcess, dict[str, ServeProcess]],
) -> None:
    proxy, nodes = cluster
    clients = [await booth_client(proxy.base_url, site) for site in ("lib-kitee", "bus-lieksa")]
    try:
        landed = {c.welcome.node_id for c in clients if c.welcome is not None}
        # least_conn: the second socket goes to the node that holds none yet.
        assert landed == set(nodes), landed
        # /metrics stays on the private network: nginx does not serve it.
        async with aiohttp.ClientSession() as http, http.get(proxy.base_url + "/metrics") as r:
            assert r.status == 404
    finally:
        for client in clients:
            await client.close()


async def _drain_and_resume(
    proxy: NginxProcess,
    nodes: dict[str, ServeProcess],
    drained_name: str,
    parties: list[tuple[SignalingClient, Call]],
    session_id: str,
) -> None:
    """SIGTERM one node; its parties get going_away and resume through nginx on the
    other; new connections meanwhile go there too."""
    (live_name,) = set(nodes) - {drained_name}
    on_drained = [
        (client, call)
        for client, call in parties
        if client.welcome is not None and client.welcome.node_id == drained_name
    ]
    assert on_drained, f"nobody on {drained_name}"
    draining = nodes[drained_name]
    began = time.monotonic()
    stopped = asyncio.create_task(draining.terminate())  # SIGTERM: drain

    async def probe() -> list[tuple[str, bool]]:
        """Ask /healthz through nginx again and again until the node has exited."""
        answers = []
        while not stopped.done():
            alive = draining.proc is not None and draining.proc.poll() is None
            answers.append(((await healthz(proxy.base_url))["node_id"], alive))
        return answers

    probing = asyncio.create_task(probe())
    try:
        for client, _ in on_drained:
            await asyncio.wait_for(client.going_away.wait(), 10)
        # While the node drains, new connections through nginx go to the live node.
        latecomer = await booth_client(proxy.base_url, "bus-lieksa")
        try:
            assert latecomer.welcome is not None and latecomer.welcome.node_id == live_name
        finally:
            await latecomer.close()
        for _ in range(5):
            assert (await healthz(proxy.base_url))["node_id"] == live_name
        for client, call in on_drained:
            await asyncio.wait_for(client.disconnected.wait(), 10)
            welcome = await client.connect(proxy.ws_url)  # the same URL: nginx picks
            assert welcome.node_id == live_name and welcome.resumed
            (session,) = welcome.sessions
            assert session.session_id == session_id
            assert session.state in ("connecting", "active")
            await call.resumed(session)
        resumed_s = time.monotonic() - began
    finally:
        code = await stopped  # it exits within its shutdown timeout
        answers = await probing
    assert code == 0, f"{drained_name} exited cleanly"
    # Every request during the drain was answered, and by the live node.
    assert answers and {name for name, _ in answers} == {live_name}, answers
    assert any(alive for _, alive in answers), "no request while the node was draining"
    # Printed for docs (pytest -s): how long the drain took the clients, what nginx did.
    during = sum(alive for _, alive in answers)
    print(f"drain {drained_name}: {len(on_drained)} client(s) resumed in {resumed_s:.2f} s;")
    print(f"  {len(answers)} /healthz through nginx meanwhile ({during} before the node")
    print(f"  exited), all 200 from {live_name}")
    assert resumed_s < 5, f"resuming took {resumed_s:.1f} s"


async def _media_flows(booth_call: Call, expert_call: Call, when: str) -> None:
    before = (frames(booth_call), frames(expert_call))
    await eventually(
        lambda: frames(booth_call) > before[0] + 10 and frames(expert_call) > before[1] + 10,
        timeout=15,
        message=f"frames keep arriving {when}",
    )


async def test_drained_nodes_call_resumes_through_nginx_on_the_other_node(
    cluster: tuple[NginxProcess, dict[str, ServeProcess]], redis_url: str
) -> None:
    proxy, nodes = cluster
    booth = await booth_client(proxy.base_url)
    expert = await staff_client(proxy.base_url, "kela.expert")
    booth_call = expert_call = None
    events = RedisStore(redis_url)
    try:
        session_id, booth_call, expert_call = await start_call(booth, expert)
        parties = [(booth, booth_call), (expert, expert_call)]
        assert booth.welcome is not None and expert.welcome is not None
        # least_conn put them on different nodes. First drain the booth's node: the
        # booth resumes on the expert's.
        first = booth.welcome.node_id
        (second,) = set(nodes) - {first}
        await _drain_and_resume(proxy, nodes, first, parties, session_id)
        back = await expert.wait_for(ParticipantEvent, lambda e: e.event == "reconnected")
        assert back.participant.kind == "booth"
        await _media_flows(booth_call, expert_call, "after the booth's node drained")

        # The update is done: the node comes back and nginx sends clients to it again
        # once fail_timeout (5 s here) has passed.
        await nodes[first].start()
        await eventually(
            lambda: _served_by(proxy, first),
            timeout=20,
            message=f"nginx routes to {first} again",
        )
        # Now both parties are on the second node: drain it, and both resume together.
        assert booth.welcome.node_id == expert.welcome.node_id == second
        await _drain_and_resume(proxy, nodes, second, parties, session_id)
        await _media_flows(booth_call, expert_call, "after both parties' node drained")

        # Signaling goes on too: the expert ends the call and the booth hears of it.
        await expert.request(
            {"type": "session_end", "session_id": session_id, "outcome": "resolved"}
        )
        ended = await booth.wait_for(SessionEnded)
        assert (ended.state, ended.outcome) == ("ended", "resolved")
        kinds = [e["kind"] for _, e in await events.read_events() if e["session_id"] == session_id]
        assert kinds.count("participant_reconnected") >= 2, kinds
        assert "session_requeued" not in kinds and kinds[-1] == "session_ended"
    finally:
        for call in (booth_call, expert_call):
            if call is not None:
                await call.close()
        await booth.close()
        await expert.close()
        await events.close()


async def _served_by(proxy: NginxProcess, name: str) -> bool:
    try:
        return bool((await healthz(proxy.base_url))["node_id"] == name)
    except (AssertionError, aiohttp.ClientError):
        return False


async def test_killed_node_queued_booth_resumes_through_nginx(
    cluster: tuple[NginxProcess, dict[str, ServeProcess]],
) -> None:
    proxy, nodes = cluster
    booth = await booth_client(proxy.base_url)
    try:
        queued = await booth.request(KELA_CALL, expect=CallQueued)  # nobody on shift
        assert booth.welcome is not None
        dead = booth.welcome.node_id
        (live,) = set(nodes) - {dead}
        nodes[dead].kill()  # SIGKILL: a crash, no going_away
        await asyncio.wait_for(booth.disconnected.wait(), 10)
        # nginx finds the refused connect and tries the other node (proxy_next_upstream).
        welcome = await booth.connect(proxy.ws_url)
        assert welcome.node_id == live and welcome.resumed
        (session,) = welcome.sessions
        assert (session.session_id, session.state) == (queued.session.session_id, "queued")
        for _ in range(5):
            assert (await healthz(proxy.base_url))["node_id"] == live
    finally:
        await booth.close()


async def test_login_through_nginx_is_attributed_to_the_client_not_the_proxy(
    cluster: tuple[NginxProcess, dict[str, ServeProcess]], redis_url: str
) -> None:
    proxy, _ = cluster
    # The client comes from 127.0.0.5 (nginx reaches the nodes from 127.0.0.1, the trusted
    # proxy) and forges an X-Forwarded-For entry, which must be ignored.
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.5", 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.post(
            proxy.base_url + "/auth/login",
            json={"username": "kela.expert", "password": "wrong"},
            headers={"X-Forwarded-For": "198.51.100.7"},
        ) as resp:
            assert resp.status == 401
    events = RedisStore(redis_url)
    try:
        audit = [e for _, e in await events.read_events(log="audit")]
    finally:
        await events.close()
    failed = [e for e in audit if e["action"] == "login_failed"]
    assert [e["address"] for e in failed] == ["127.0.0.5"]


def _request(remote: str, forwarded: str | None, proxies: Sequence[str]) -> Any:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    app = web.Application()
    app[TRUSTED_PROXIES] = parse_networks(proxies)
    request = make_mocked_request("POST", "/auth/login", headers=headers, app=app)
    return request.clone(remote=remote)


@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "expected"),
    [
        ("203.0.113.9", "198.51.100.7", [], "203.0.113.9"),  # no proxy trusted: header ignored
        ("203.0.113.9", "198.51.100.7", ["10.0.0.0/8"], "203.0.113.9"),  # not from the proxy
        ("10.0.0.2", None, ["10.0.0.0/8"], "10.0.0.2"),  # the proxy itself, no header
        ("10.0.0.2", "198.51.100.7", ["10.0.0.0/8"], "198.51.100.7"),
        ("10.0.0.2", "1.2.3.4, 198.51.100.7", ["10.0.0.0/8"], "198.51.100.7"),  # forged left
        ("10.0.0.2", "198.51.100.7, 10.0.0.3", ["10.0.0.0/8"], "198.51.100.7"),  # two proxies
        ("10.0.0.2", "10.0.0.4, 10.0.0.3", ["10.0.0.0/8"], "10.0.0.4"),  # all trusted
        ("10.0.0.2", "garbage", ["10.0.0.0/8"], "garbage"),  # reported as given, not trusted
        ("2001:db8::2", "2001:db8:1::7", ["2001:db8::/64"], "2001:db8:1::7"),
    ],
)
def test_client_address_reads_x_forwarded_for_only_from_trusted_proxies(
    remote: str, forwarded: str | None, proxies: list[str], expected: str
) -> None:
    assert client_address(_request(remote, forwarded, proxies)) == expected


def test_a_bad_trusted_proxy_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="'10.0.0.300'"):
        parse_networks(["10.0.0.300"])
    result = subprocess.run(
        [sys.executable, "-m", "signaling.cli", "serve", "--trusted-proxy", "nonsense"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "'nonsense'" in result.stderr


async def test_tls_variant_terminates_tls_and_redirects_plain_http(
    redis_url: str, tmp_path: Path
) -> None:
    prefix = tmp_path / "nginx-tls"
    prefix.mkdir()
    cert, key = prefix / "cert.pem", prefix / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + [
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    http_port = free_port()
    node = ServeProcess(redis_url, "node-tls")
    proxy = NginxProcess(
        prefix,
        [f"127.0.0.1:{node.port}"],
        "--cert",
        str(cert),
        "--key",
        str(key),
        "--http-listen",
        f"127.0.0.1:{http_port}",
        "--server-name",
        "localhost",
    )
    https = f"https://localhost:{proxy.port}"
    trusting = ssl.create_default_context(cafile=str(cert))
    try:
        await node.start()
        await proxy.start(plain=False, ready_url=https + "/healthz")
        async with aiohttp.ClientSession() as http:
            async with http.get(
                f"http://localhost:{http_port}/console/", allow_redirects=False
            ) as resp:
                assert resp.status == 301
                assert resp.headers["Location"] == "https://localhost/console/"
            async with http.get(https + "/healthz", ssl=trusting) as resp:
                assert resp.status == 200 and resp.headers["Strict-Transport-Security"]
            async with http.post(
                https + "/auth/device",
                json={"site": "lib-kitee", "secret": "demo-secret-lib-kitee"},
                ssl=trusting,
            ) as resp:
                token = (await resp.json())["token"]
            async with http.ws_connect(f"wss://localhost:{proxy.port}/ws", ssl=trusting) as ws:
                hello = {"type": "hello", "id": "1", "versions": [PROTOCOL_VERSION], "token": token}
                await ws.send_str(json.dumps(hello))
                welcome = json.loads(await asyncio.wait_for(ws.receive_str(), 10))
                assert welcome["type"] == "welcome" and welcome["node_id"] == "node-tls"
    finally:
        proxy.stop()
        node.kill()


async def test_cluster_up_starts_everything_and_stops_it_on_ctrl_c(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("http", "node1", "node2", "redis", "turn")}
    command = [sys.executable, str(CLUSTER_UP), "--dir", str(tmp_path / "cluster")]
    command += ["--http-port", str(ports["http"]), "--redis-port", str(ports["redis"])]
    command += ["--node-port", str(ports["node1"]), "--node-port", str(ports["node2"])]
    command += ["--turn-port", str(ports["turn"])]
    proc = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PATH": f"{os.environ.get('PATH', '')}:/usr/sbin"},
    )
    assert proc.stdout is not None
    try:
        lines: list[str] = []
        while not lines or lines[-1] != "Press Ctrl-C to stop.":
            line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 60)
            assert line, "cluster-up exited early:\n" + "\n".join(lines)
            lines.append(line.decode().rstrip())
        banner = "\n".join(lines)
        assert f"http://127.0.0.1:{ports['http']}/console/" in banner
        assert f"turn:127.0.0.1:{ports['turn']}" in banner
        seen = {(await healthz(f"http://127.0.0.1:{ports['http']}"))["node_id"] for _ in range(4)}
        assert seen <= {"node-1", "node-2"} and seen
        for port in (ports["node1"], ports["node2"]):
            body = await healthz(f"http://127.0.0.1:{port}")
            assert body["store"] == "redis" and body["store_ok"]
        # The nodes mint TURN credentials that the cluster's coturn accepts.
        booth = await booth_client(f"http://127.0.0.1:{ports['http']}")
        try:
            assert booth.welcome is not None
            (server,) = [s for s in booth.welcome.ice_servers if s.username]
            assert f"turn:127.0.0.1:{ports['turn']}?transport=udp" in server.urls
            relay, _ = await asyncio.wait_for(
                turn.create_turn_endpoint(
                    asyncio.DatagramProtocol,
                    server_addr=("127.0.0.1", ports["turn"]),
                    username=server.username,
                    password=server.credential,
                ),
                10,
            )
            assert relay.get_extra_info("sockname")[0] == "127.0.0.1"  # an allocation
            relay.close()
            with pytest.raises(Exception, match="401"):  # and it does check them
                await asyncio.wait_for(
                    turn.create_turn_endpoint(
                        asyncio.DatagramProtocol,
                        server_addr=("127.0.0.1", ports["turn"]),
                        username=server.username,
                        password="not-the-credential",
                    ),
                    10,
                )
        finally:
            await booth.close()
        proc.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(proc.wait, 30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()
    for port in ports.values():
        with pytest.raises(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()


def test_compose_nginx_conf_is_the_rendered_template() -> None:
    """infra/nginx/compose.conf (used by infra/compose.yaml) matches the template."""
    command = [sys.executable, str(RENDER), "--server-name", "etapiste.example.fi"]
    command += ["--node", "172.28.0.11:8080", "--node", "172.28.0.12:8080"]
    command += ["--cert", "/etc/nginx/certs/fullchain.pem"]
    command += ["--key", "/etc/nginx/certs/privkey.pem"]
    rendered = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    assert rendered == (REPO / "infra" / "nginx" / "compose.conf").read_text()
