"""A network namespace joined to the host by a veth pair: a booth PC on its own network.

    with network_namespace() as ns:          # fails the test when it cannot be made
        ns.exec_command("python", "-m", ...) # argv that runs a command inside
        ns.link_down(); ns.link_up()         # the booth's network goes away and comes back
        ns.change_address()                  # the bus gets a new address from its carrier
        ns.limit_uplink(1000)                # the booth sends at most 1 Mbit/s (tc tbf)
        ns.drop_randomly(3)                  # 3 % of its packets vanish, each way (nftables)
        ns.dropped()                         # how many the rule dropped so far, per way
        ns.unlimit_uplink(); ns.stop_dropping()

The host side is ``10.77.<n>.1/24``, the namespace side ``10.77.<n>.2/24`` with a default
route through the host; ``lo`` is up inside (the booth serves its kiosk on 127.0.0.1
there). Names carry the creating process's id, so parallel runs never clash; whatever a
dead process left behind (same prefix, its pid gone) is removed when the next one starts.
Everything is removed on exit, also when the block fails; the bandwidth cap and the loss
rules live inside the namespace (its veth's qdisc, its own nftables table), so they go
with it. Needs root (``ip netns``), ``tc`` and ``nft`` for the impairments. This kernel
has no netem: a cap is a token bucket, loss is an nftables ``numgen random`` rule, and
there is no added delay.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

PREFIX = "etp"  # namespaces "etp-<pid>-<n>", veths "etp<pid hex>n<n>h|b"
_NS_NAME = re.compile(rf"^{PREFIX}-(\d+)-\d+$")
_VETH_NAME = re.compile(rf"^{PREFIX}([0-9a-f]+)n\d+[hb]$")
_SUBNET = "10.77.{}.0/24"
_counter = itertools.count(1)


LOSS_TABLE = "etp_loss"  # the nftables table (family netdev) of drop_randomly, per namespace


class NetnsError(RuntimeError):
    """An ``ip``, ``tc`` or ``nft`` command failed."""


def _command(argv: list[str], *, check: bool = True, stdin: str | None = None) -> str:
    """Run a command; return its stdout, raising NetnsError with stderr on failure."""
    if shutil.which(argv[0]) is None:
        raise NetnsError(f"`{argv[0]}` is missing (scripts/install-system-deps installs it)")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=20, input=stdin)
    if check and result.returncode != 0:
        raise NetnsError(f"{' '.join(argv)}: {result.stderr.strip() or result.returncode}")
    return result.stdout


def ip(*args: str, check: bool = True) -> str:
    """Run ``ip <args>``; return its stdout, raising NetnsError with stderr on failure."""
    return _command(["ip", *args], check=check)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale() -> list[str]:
    """Remove namespaces and veths of this prefix whose creating process is gone."""
    removed = []
    for line in ip("netns", "list", check=False).splitlines():
        name = line.split()[0] if line.strip() else ""
        match = _NS_NAME.match(name)
        if match and not _alive(int(match.group(1))):
            ip("netns", "delete", name, check=False)
            removed.append(name)
    for line in ip("-o", "link", "show", check=False).splitlines():
        parts = line.split(":", 2)
        if len(parts) < 2:
            continue
        name = parts[1].strip().split("@", 1)[0]
        match = _VETH_NAME.match(name)
        if match and not _alive(int(match.group(1), 16)):
            ip("link", "delete", name, check=False)
            removed.append(name)
    return removed


def _used_subnets() -> set[int]:
    """Return the n of every 10.77.n.x address on the host."""
    used = set()
    for found in re.finditer(r"inet 10\.77\.(\d+)\.\d+", ip("-o", "-4", "addr", "show")):
        used.add(int(found.group(1)))
    return used


def _free_subnet() -> int:
    used = _used_subnets()
    start = (os.getpid() * 7 + next(_counter) * 13) % 250
    for offset in range(250):
        n = 1 + (start + offset) % 250
        if n not in used:
            return n
    raise NetnsError("no free 10.77.n.0/24 subnet on the host")


@dataclass
class Namespace:
    """One namespace, its veth pair and their addresses."""

    name: str
    host_if: str  # the veth end on the host
    ns_if: str  # the veth end inside the namespace
    subnet: ipaddress.IPv4Network
    ns_host_number: int = 2  # the namespace's address is <subnet>.<this>

    @property
    def host_address(self) -> str:
        return str(self.subnet.network_address + 1)

    @property
    def ns_address(self) -> str:
        return str(self.subnet.network_address + self.ns_host_number)

    def ip(self, *args: str, check: bool = True) -> str:
        """Run ``ip <args>`` inside the namespace."""
        return ip("-n", self.name, *args, check=check)

    def exec_command(self, *argv: str) -> list[str]:
        """Return the argv that runs ``argv`` inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, *argv: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace and wait for it."""
        return subprocess.run(
            self.exec_command(*argv), capture_output=True, text=True, timeout=timeout
        )

    def write_wrapper(self, path: os.PathLike[str] | str, executable: str) -> str:
        """Write a shell script that execs ``executable`` inside the namespace; return it.

        For programs started by libraries that take an executable path (Playwright's
        ``executable_path``): the script keeps the arguments and the open descriptors.
        """
        ip_path = shutil.which("ip") or "/usr/sbin/ip"
        text = f'#!/bin/sh\nexec {ip_path} netns exec {self.name} {executable} "$@"\n'
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, 0o755)
        return str(path)

    def create(self) -> None:
        ip("netns", "add", self.name)
        ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        ip("link", "set", self.ns_if, "netns", self.name)
        prefix = self.subnet.prefixlen
        ip("addr", "add", f"{self.host_address}/{prefix}", "dev", self.host_if)
        ip("link", "set", self.host_if, "up")
        self.ip("link", "set", "lo", "up")
        self.ip("addr", "add", f"{self.ns_address}/{prefix}", "dev", self.ns_if)
        self.ip("link", "set", self.ns_if, "up")
        self.ip("route", "add", "default", "via", self.host_address)

    def link_down(self, side: str = "ns") -> None:
        """Take the link down on one end (``ns``: the booth's own interface, or ``host``)."""
        if side == "ns":
            self.ip("link", "set", self.ns_if, "down")
        else:
            ip("link", "set", self.host_if, "down")

    def link_up(self, side: str = "ns") -> None:
        """Bring the link up again (and the default route, which went with it)."""
        if side == "ns":
            self.ip("link", "set", self.ns_if, "up")
        else:
            ip("link", "set", self.host_if, "up")
        self.ip("route", "replace", "default", "via", self.host_address)

    def change_address(self, host_number: int = 3) -> str:
        """Give the namespace side another address in the subnet; return it."""
        old = self.ns_address
        prefix = self.subnet.prefixlen
        self.ns_host_number = host_number
        # Delete first: deleting a primary address also deletes its secondaries.
        self.ip("addr", "del", f"{old}/{prefix}", "dev", self.ns_if)
        self.ip("addr", "add", f"{self.ns_address}/{prefix}", "dev", self.ns_if)
        self.ip("route", "replace", "default", "via", self.host_address)
        return self.ns_address

    # --- impairments of the booth's link (its own veth end) -----------------------------

    def limit_uplink(self, kbit: int, *, burst_bytes: int = 16_000, latency_ms: int = 100) -> None:
        """Cap what the booth sends at ``kbit`` kbit/s: a token bucket (tc tbf) on its veth.

        Packets wait up to ``latency_ms`` in the bucket's queue and are dropped beyond, as
        a mobile modem's buffer does. Replaces an earlier cap.
        """
        _command(
            ["tc", "-n", self.name, "qdisc", "replace", "dev", self.ns_if, "root", "tbf"]
            + ["rate", f"{kbit}kbit", "burst", str(burst_bytes), "latency", f"{latency_ms}ms"]
        )

    def unlimit_uplink(self) -> None:
        """Remove the cap (the veth's default qdisc again); idempotent."""
        _command(["tc", "-n", self.name, "qdisc", "del", "dev", self.ns_if, "root"], check=False)

    def uplink_stats(self) -> str:
        """Return ``tc -s qdisc`` of the booth's veth: what the cap sent, dropped, queued."""
        return _command(["tc", "-n", self.name, "-s", "qdisc", "show", "dev", self.ns_if])

    def drop_randomly(self, percent: float, *, inbound: bool = True, outbound: bool = True) -> None:
        """Drop ``percent`` % of the packets the booth receives and/or sends on its veth.

        A netdev table of its own inside the namespace, one ``numgen random`` rule on the
        veth's ingress and one on its egress hook (to 0.01 %; IP packets only, ARP is
        spared). Egress, not the inet output hook: a packet dropped there fails the
        sender's ``sendto`` with EPERM, which Chromium notices, whereas on the wire a lost
        packet is silent. Loopback inside the namespace (the kiosk talking to its agent) is
        untouched. Replaces earlier loss rules. Needs kernel 5.16 and nft 1.0.1 (egress).
        """
        threshold = round(percent * 100)  # out of 10000
        if not 0 <= threshold <= 10_000:
            raise ValueError(f"percent must be within 0..100, not {percent}")
        rules = []
        for wanted, hook in ((inbound, "ingress"), (outbound, "egress")):
            if wanted:
                rules.append(
                    f"  chain {hook} {{\n"
                    f'    type filter hook {hook} device "{self.ns_if}" priority filter;\n'
                    f"    meta protocol {{ ip, ip6 }} numgen random mod 10000 < {threshold} "
                    f"counter drop\n"
                    f"  }}\n"
                )
        self.stop_dropping()
        script = f"table netdev {LOSS_TABLE} {{\n{''.join(rules)}}}\n"
        _command([*self.exec_command("nft"), "-f", "-"], stdin=script)

    def stop_dropping(self) -> None:
        """Remove the loss rules; idempotent."""
        _command([*self.exec_command("nft"), "delete", "table", "netdev", LOSS_TABLE], check=False)

    def dropped(self) -> dict[str, int]:
        """Return the packets the loss rules dropped so far: ``{"ingress": n, "egress": n}``."""
        listing = _command(
            [*self.exec_command("nft"), "list", "table", "netdev", LOSS_TABLE], check=False
        )
        counts: dict[str, int] = {}
        hook = ""
        for line in listing.splitlines():
            chain = re.match(r"\s*chain (\w+)", line)
            if chain:
                hook = chain.group(1)
            counter = re.search(r"counter packets (\d+)", line)
            if counter and hook:
                counts[hook] = int(counter.group(1))
        return counts

    def remove(self) -> None:
        """Remove the veth pair and the namespace; idempotent, never raises."""
        ip("link", "delete", self.host_if, check=False)  # takes its peer with it
        ip("netns", "delete", self.name, check=False)


def new_namespace() -> Namespace:
    """Create a namespace with a unique name and subnet (after removing stale ones)."""
    remove_stale()
    pid = os.getpid()
    n = next(_counter)
    ns = Namespace(
        name=f"{PREFIX}-{pid}-{n}",
        host_if=f"{PREFIX}{pid:x}n{n}h",
        ns_if=f"{PREFIX}{pid:x}n{n}b",
        subnet=ipaddress.IPv4Network(_SUBNET.format(_free_subnet())),
    )
    try:
        ns.create()
    except BaseException:
        ns.remove()
        raise
    return ns


@contextlib.contextmanager
def network_namespace() -> Iterator[Namespace]:
    """Yield a fresh namespace; fail the test (never skip) when one cannot be made."""
    if shutil.which("ip") is None:
        pytest.fail("`ip` (iproute2) is missing: these tests need `ip netns` and veth pairs")
    try:
        ns = new_namespace()
    except (NetnsError, OSError, subprocess.SubprocessError) as exc:
        pytest.fail(
            f"cannot create a network namespace with a veth pair ({exc}); these tests "
            f"need root (CAP_NET_ADMIN) and a kernel with network namespaces and veth"
        )
    try:
        yield ns
    finally:
        ns.remove()
