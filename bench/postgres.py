"""A throwaway PostgreSQL server for the tests and the statistics benchmark: a cluster
in a temp directory on a free loopback port, removed when stopped."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"
START_DEADLINE_S = 30.0


def _bin_dir() -> Path:
    """Debian's PostgreSQL programs (the newest installed version)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: the statistics tests need a real server; "
            "`make test` installs it (or install the postgresql package)"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One cluster in a directory of its own; run as the postgres user when we are root.

    The directory is a fresh one under the system's temp folder: pytest's own are private
    to root, and the postgres user could not reach a cluster there."""

    def __init__(self, durable: bool = False) -> None:
        self.bin = _bin_dir()
        # Tests trade durability for speed; the benchmark keeps PostgreSQL's defaults.
        self.durable = durable
        self.directory = Path(tempfile.mkdtemp(prefix="etapiste-postgres-"))
        self.data = self.directory / "data"
        self.port = _free_port()
        self.user = "etapiste"
        self._as: list[str] = []
        if os.geteuid() == 0:
            # initdb refuses root; Debian's package made the postgres account.
            pwd.getpwnam("postgres")
            self._as = ["runuser", "-u", "postgres", "--"]

    def url(self, database: str = "postgres") -> str:
        """The URL of a database on this server."""
        return f"postgresql://{self.user}@{HOST}:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        """Make the cluster and start it; wait until it answers."""
        if self._as:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        options = (
            f"-c listen_addresses={HOST} -c port={self.port} "
            f"-c unix_socket_directories={self.directory}"
        )
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.directory / "postgres.log"),
            "-o",
            options,
            "-w",
            "-t",
            str(int(START_DEADLINE_S)),
            "start",
        )
        deadline = time.monotonic() + START_DEADLINE_S
        while True:
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def create_database(self, name: str) -> str:
        """Create an empty database; return its URL."""
        subprocess.run(
            [str(self.bin / "createdb"), "-h", HOST, "-p", str(self.port), "-U", self.user, name],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its files; idempotent."""
        if self.data.exists():
            subprocess.run(
                [*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(self.directory, ignore_errors=True)
