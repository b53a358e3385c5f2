"""A real three-master Redis Cluster for the tests, on loopback ports of its own."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import redis

HOST = "127.0.0.1"
MASTERS = 3
BUS_OFFSET = 10000  # Redis Cluster's bus listens on port + 10000
START_DEADLINE_S = 20.0


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _free_ports(count: int) -> list[int]:
    """Ports free now whose cluster-bus ports (+10000) are free too."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port + BUS_OFFSET < 65536 and _port_free(port + BUS_OFFSET) and port not in ports:
            ports.append(port)
    return ports


class RedisCluster:
    """Three redis-server masters made one cluster by `redis-cli --cluster create`."""

    def __init__(self, directory: Path) -> None:
        for program in ("redis-server", "redis-cli"):
            if shutil.which(program) is None:
                raise RuntimeError(f"{program} is not on PATH: `make test` installs Redis")
        self.directory = directory
        self.ports = _free_ports(MASTERS)
        self._procs: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """The store spec of the cluster (any one node; the client finds the rest)."""
        return f"redis+cluster://{HOST}:{self.ports[0]}/0"

    def start(self) -> None:
        """Start the masters, join them, and wait until the cluster answers ok."""
        for port in self.ports:
            home = self.directory / str(port)
            home.mkdir(parents=True, exist_ok=True)
            with (home / "redis.log").open("wb") as log:  # the child keeps its own descriptor
                self._procs.append(self._spawn(port, home, log))
        for port in self.ports:
            self._wait(lambda port=port: redis.Redis(host=HOST, port=port).ping())
        subprocess.run(
            ["redis-cli", "--cluster", "create"]
            + [f"{HOST}:{p}" for p in self.ports]
            + ["--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=30,
        )
        for port in self.ports:
            self._wait(lambda port=port: b"cluster_state:ok" in self._info(port))

    @staticmethod
    def _spawn(port: int, home: Path, log: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                "redis-server",
                "--bind",
                HOST,
                "--port",
                str(port),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(home / "nodes.conf"),
                "--cluster-node-timeout",
                "2000",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--dir",
                str(home),
                "--protected-mode",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    @staticmethod
    def _info(port: int) -> bytes:
        return subprocess.run(
            ["redis-cli", "-h", HOST, "-p", str(port), "cluster", "info"],
            capture_output=True,
            timeout=5,
        ).stdout

    @staticmethod
    def _wait(check: object) -> None:
        deadline = time.monotonic() + START_DEADLINE_S
        while True:
            try:
                if check():  # type: ignore[operator]
                    return
            except (redis.ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not come up in time")
            time.sleep(0.1)

    def flush(self) -> None:
        """Empty every master (a test starts on an empty cluster)."""
        for port in self.ports:
            client = redis.Redis(host=HOST, port=port)
            try:
                client.flushall()
            finally:
                client.close()

    def stop(self) -> None:
        """Stop every master; idempotent."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._procs = []

    def __enter__(self) -> RedisCluster:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
