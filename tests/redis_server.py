"""A real redis-server for the tests, on a free loopback port, with AOF persistence."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

HOST = "127.0.0.1"
START_DEADLINE_S = 10.0
STOP_DEADLINE_S = 10.0
POLL_INTERVAL_S = 0.05


def _free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server subprocess; restarts keep its port and its AOF data."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        """Prepare a server that keeps its data in ``directory``; start() runs it."""
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError(
                "redis-server is not on PATH: the Redis tests need a real server; "
                "`make test` installs it (or install the redis-server package)"
            )
        self.executable = executable
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log_path = directory / "redis-server.log"
        self.port = port or 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the URL of logical database 0."""
        return f"redis://{HOST}:{self.port}/0"

    @property
    def running(self) -> bool:
        """Tell whether the subprocess is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the server (on a free port the first time) and wait until it answers."""
        if self.running:
            return
        if self.port:
            self._spawn_and_wait(self.port)
            return
        # A port found free can be taken before redis binds it: try a few.
        error: RuntimeError | None = None
        for _ in range(3):
            port = _free_port()
            try:
                self._spawn_and_wait(port)
            except RuntimeError as exc:
                error = exc
                continue
            self.port = port
            return
        assert error is not None
        raise error

    def _spawn_and_wait(self, port: int) -> None:
        """Run redis-server on ``port`` and poll PING until it answers or time runs out."""
        command = [
            self.executable,
            "--bind",
            HOST,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            str(self.directory),
            "--protected-mode",
            "no",
        ]
        with self.log_path.open("ab") as log:
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self._proc = proc
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self._proc = None
                raise RuntimeError(
                    f"redis-server exited with {proc.returncode} on port {port}:\n"
                    + self._log_tail()
                )
            if self._answers(port):
                return
            time.sleep(POLL_INTERVAL_S)
        self._terminate(proc)
        self._proc = None
        raise RuntimeError(
            f"redis-server did not answer PING on port {port} within {START_DEADLINE_S} s:\n"
            + self._log_tail()
        )

    @staticmethod
    def _answers(port: int) -> bool:
        """Tell whether a server on ``port`` answers PING (not while still loading)."""
        client = redis.Redis(host=HOST, port=port, socket_connect_timeout=0.5, socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def _log_tail(self, lines: int = 20) -> str:
        """Return the end of the server's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    @staticmethod
    def _terminate(proc: subprocess.Popen[bytes]) -> None:
        """Stop a process with SIGTERM, escalating to SIGKILL if it lingers."""
        if proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        """Shut the server down gracefully (SIGTERM) and wait; idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            self._terminate(proc)

    def kill(self) -> None:
        """Kill the server abruptly (SIGKILL) and wait; idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def restart(self) -> None:
        """Stop the server and start it again on the same port and data directory."""
        self.stop()
        self.start()

    def __enter__(self) -> RedisServer:
        """Start the server."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()
