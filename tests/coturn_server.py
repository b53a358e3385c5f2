"""A real coturn for the tests: infra/coturn/turnserver.conf on loopback, with a test CA.

The server runs the production configuration (its auth scheme, denied peer ranges,
relay and TLS rules) with only what a test machine must change: loopback listeners on
free ports, a random secret, a certificate for 127.0.0.1 signed by a CA made for the
run, a log file to assert on, and one allowed peer, 127.0.0.1, because every client
of the tests relays to another on this machine.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent
PRODUCTION_CONF = REPO / "infra" / "coturn" / "turnserver.conf"
REALM = "etapiste.test"
START_DEADLINE_S = 10.0
STOP_DEADLINE_S = 10.0
POLL_INTERVAL_S = 0.05

# Production options a test machine replaces (addresses, ports, files, secret, logging).
_REPLACED = {
    "static-auth-secret",
    "realm",
    "server-name",
    "listening-port",
    "tls-listening-port",
    "listening-ip",
    "relay-ip",
    "external-ip",
    "min-port",
    "max-port",
    "cert",
    "pkey",
    "syslog",
    "log-file",
    "simple-log",
}


@dataclass(frozen=True)
class Pki:
    """A CA made for one run and a server certificate it signed for 127.0.0.1."""

    ca_cert: Path
    server_cert: Path  # the server's certificate, then the CA's (a full chain)
    server_key: Path
    server_spki_sha256: str  # base64, for Chromium's --ignore-certificate-errors-spki-list


def make_pki(directory: Path, *, name: str = "Etäpiste test") -> Pki:
    """Write a fresh CA and a server certificate (SAN IP 127.0.0.1, localhost)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = Pki(
        ca_cert=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        server_spki_sha256=base64.b64encode(
            hashlib.sha256(
                key.public_key().public_bytes(
                    serialization.Encoding.DER,
                    serialization.PublicFormat.SubjectPublicKeyInfo,
                )
            ).digest()
        ).decode(),
    )
    paths.ca_cert.write_bytes(ca.public_bytes(pem))
    paths.server_cert.write_bytes(server.public_bytes(pem) + ca.public_bytes(pem))
    paths.server_key.write_bytes(
        key.private_bytes(
            pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    paths.server_key.chmod(0o600)
    return paths


def _free_ports(count: int) -> list[int]:
    """Return ``count`` distinct loopback ports that were free for TCP and UDP a moment ago."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((HOST, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((HOST, port))
                except OSError:
                    continue
        if port not in ports:
            ports.append(port)
    return ports


def production_options() -> list[str]:
    """Return the production configuration's lines that the tests keep, as written."""
    kept = []
    for raw in PRODUCTION_CONF.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.split("=", 1)[0].strip() in _REPLACED:
            continue
        kept.append(line)
    return kept


def stun_binding_answers(port: int, timeout: float = 0.3) -> bool:
    """Tell whether a STUN Binding request over UDP to ``port`` gets a success answer."""
    transaction = secrets.token_bytes(12)
    request = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + transaction
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(request, (HOST, port))
            answer, _ = sock.recvfrom(2048)
        except OSError:
            return False
    return answer[:2] == b"\x01\x01" and answer[8:20] == transaction


class CoturnServer:
    """One turnserver subprocess with the production configuration, on loopback."""

    def __init__(self, directory: Path, *, extra_options: tuple[str, ...] = ()) -> None:
        """Prepare a server (its CA, certificate and secret) in ``directory``; start() runs it."""
        executable = shutil.which("turnserver")
        if executable is None:
            raise RuntimeError(
                "turnserver is not on PATH: the TURN tests need a real coturn; "
                "`make test` installs it (scripts/install-system-deps, the coturn package)"
            )
        self.executable = executable
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.pki = make_pki(directory / "pki")
        self.secret = secrets.token_urlsafe(32)
        self.extra_options = extra_options
        self.config_path = directory / "turnserver.conf"
        self.log_path = directory / "turnserver.log"
        self.stderr_path = directory / "turnserver.stderr"
        self.port = 0  # TURN over UDP and TCP
        self._ports: list[int] = []  # all four listeners, kept for restart()
        self.tls_port = 0  # TURNS
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def turn_udp(self) -> str:
        return f"turn:{HOST}:{self.port}?transport=udp"

    @property
    def turn_tcp(self) -> str:
        return f"turn:{HOST}:{self.port}?transport=tcp"

    @property
    def turns(self) -> str:
        return f"turns:{HOST}:{self.tls_port}?transport=tcp"

    def url(self, transport: str) -> str:
        """Return the URL of one transport: udp, tcp or tls."""
        return {"udp": self.turn_udp, "tcp": self.turn_tcp, "tls": self.turns}[transport]

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_text(self) -> str:
        """Return everything the server logged so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _config(self, ports: list[int]) -> str:
        port, tls_port, alt_port, alt_tls_port = ports
        lines = [
            "# Written by tests/coturn_server.py from infra/coturn/turnserver.conf.",
            *production_options(),
            "# --- the test machine ---",
            f"static-auth-secret={self.secret}",
            f"realm={REALM}",
            f"server-name={REALM}",
            f"listening-ip={HOST}",
            f"relay-ip={HOST}",
            f"listening-port={port}",
            f"tls-listening-port={tls_port}",
            # coturn also opens the next ports for RFC 5780 unless told where.
            f"alt-listening-port={alt_port}",
            f"alt-tls-listening-port={alt_tls_port}",
            f"cert={self.pki.server_cert}",
            f"pkey={self.pki.server_key}",
            f"log-file={self.log_path}",
            "simple-log",
            "no-stdout-log",
            "verbose",
            f"pidfile={self.directory / 'turnserver.pid'}",
            # Every peer of the tests is on this machine: allow 127.0.0.1 (and only it;
            # allowed-peer-ip beats the production denied-peer-ip ranges).
            "allow-loopback-peers",
            f"allowed-peer-ip={HOST}",
            *self.extra_options,
        ]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        """Start the server on free ports and wait until UDP, TCP and TLS listen."""
        if self.running:
            return
        error: RuntimeError | None = None
        for _ in range(3):  # a port found free can be taken before coturn binds it
            ports = _free_ports(4)
            try:
                self._spawn_and_wait(ports)
            except RuntimeError as exc:
                error = exc
                continue
            self.port, self.tls_port = ports[0], ports[1]
            self._ports = ports
            return
        assert error is not None
        raise error

    def _spawn_and_wait(self, ports: list[int]) -> None:
        self.config_path.write_text(self._config(ports), encoding="utf-8")
        command = [self.executable, "-c", str(self.config_path)]
        with self.stderr_path.open("wb") as stderr:  # the child keeps its own descriptor
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env={**os.environ, "HOME": str(self.directory)},
            )
        self._proc = proc
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self._proc = None
                stderr = self.stderr_path.read_text(errors="replace")
                raise RuntimeError(
                    f"turnserver exited with {proc.returncode} (ports {ports}):\n"
                    f"{stderr}\n{self._log_tail()}"
                )
            if self._listening(ports[0], ports[1]):
                return
            time.sleep(POLL_INTERVAL_S)
        self._terminate(proc)
        self._proc = None
        raise RuntimeError(
            f"turnserver did not listen on {ports} within {START_DEADLINE_S} s:\n"
            + self._log_tail()
        )

    @staticmethod
    def _listening(port: int, tls_port: int) -> bool:
        for tcp_port in (port, tls_port):
            try:
                socket.create_connection((HOST, tcp_port), timeout=0.3).close()
            except OSError:
                return False
        return stun_binding_answers(port)

    def _log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:]) or "(no log)"

    @staticmethod
    def _terminate(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait; idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            self._terminate(proc)

    def restart(self) -> None:
        """Stop the server and start it again on the same ports (allocations are lost)."""
        self.stop()
        self._spawn_and_wait(self._ports)

    def __enter__(self) -> CoturnServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
