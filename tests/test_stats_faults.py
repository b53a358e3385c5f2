"""Faults lose no statistics: calls go on while the consumer, the node and Redis are each
killed (SIGKILL) and started again; at the end every call made is counted, once.

Real processes: redis-server (AOF, fsync always), `etapiste serve` on it, and
`etapiste stats consume` into SQLite. Two lanes of protocol clients (a booth and an
expert each) make calls all the while, starting over with new connections when theirs
breaks. A call cut off by a kill ends by itself (the booth's grace period runs out).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from signaling.client import SignalingClient, SignalingError
from signaling.directory import DEMO_CONFIG
from signaling.protocol import Ack, CallQueued, Offer, SessionEnded
from stats.db import open_database

from .postgres_server import PostgresServer
from .redis_server import RedisServer
from .support import REPO, ServeProcess, booth_client, staff_client

pytestmark = [pytest.mark.redis]

RUN_S = 36.0  # the load's length; the kills fall at a quarter, a half and three quarters
LANES = (
    ("lib-kitee", "kela.expert", {"agency": "kela", "service": "general", "language": "fi"}),
    ("bus-lieksa", "vero.expert", {"agency": "vero", "service": "tax-card", "language": "fi"}),
)
BROKEN = (ConnectionError, OSError, TimeoutError, SignalingError, aiohttp.ClientError)


@dataclass
class Tally:
    """What the load made: every session queued, and the feedback that was taken."""

    queued: set[str] = field(default_factory=set)
    rated: set[str] = field(default_factory=set)
    restarts: int = 0


def quick_directory(tmp_path: Path) -> Path:
    """The demo directory with a 3 s grace period, so cut-off calls end soon."""
    text = DEMO_CONFIG.read_text()
    assert "grace_period_s = 30" in text, "the demo directory's grace period line moved"
    path = tmp_path / "directory.toml"
    path.write_text(text.replace("grace_period_s = 30", "grace_period_s = 3", 1))
    return path


class Consumer:
    """A real `etapiste stats consume` process."""

    def __init__(self, store: str, db: str, log: Path) -> None:
        self.command = [sys.executable, "-m", "etapiste", "stats", "consume"]
        self.command += ["--store", store, "--db", db]
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.command, cwd=REPO, stdout=out, stderr=out)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


async def lane(
    base_url: str, site: str, username: str, call: dict[str, str], tally: Tally, until: float
) -> None:
    """Make calls one after another until `until`; start over when the link breaks."""
    booth: SignalingClient | None = None
    expert: SignalingClient | None = None
    while time.monotonic() < until:
        try:
            if booth is None or expert is None:
                booth = await booth_client(base_url, site)
                expert = await staff_client(base_url, username)
            await expert.request({"type": "set_availability", "status": "available"}, expect=Ack)
            queued = await booth.request({"type": "call_request", **call}, expect=CallQueued)
            sid = queued.session.session_id
            tally.queued.add(sid)
            await expert.wait_for(Offer, lambda o, sid=sid: o.session_id == sid, timeout=5)
            await expert.request({"type": "offer_accept", "session_id": sid}, expect=Ack)
            await expert.request(
                {"type": "session_end", "session_id": sid, "outcome": "resolved"}, expect=Ack
            )
            await booth.wait_for(SessionEnded, lambda e, sid=sid: e.session_id == sid, timeout=5)
            await booth.request({"type": "feedback", "session_id": sid, "score": 5}, expect=Ack)
            tally.rated.add(sid)
            await asyncio.sleep(0.05)
        except BROKEN:
            tally.restarts += 1
            for client in (booth, expert):
                if client is not None:
                    with contextlib.suppress(Exception):
                        await client.close()
            booth = expert = None
            await asyncio.sleep(0.5)
    for client in (booth, expert):
        if client is not None:
            await client.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty statistics database of each kind."""
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        return server.create_database(f"faults_{tmp_path.name.replace('-', '_')}")
    return f"sqlite:///{tmp_path / 'stats.db'}"


@pytest.mark.timeout(240)
async def test_killing_the_consumer_the_node_and_redis_loses_and_doubles_nothing(
    redis_server: RedisServer, redis_url: str, db_url: str, tmp_path: Path
) -> None:
    config = quick_directory(tmp_path)
    node = ServeProcess(redis_url, "fault-node", config=config)
    await node.start()
    consumer = Consumer(redis_url, db_url, tmp_path / "consumer.log")
    consumer.start()
    tally = Tally()
    until = time.monotonic() + RUN_S
    lanes = [
        asyncio.create_task(lane(node.base_url, site, user, call, tally, until))
        for site, user, call in LANES
    ]
    try:
        await asyncio.sleep(RUN_S / 4)
        consumer.kill()  # mid-batch or between batches: either must be safe
        await asyncio.sleep(1.0)
        consumer.start()
        await asyncio.sleep(RUN_S / 4)
        redis_server.kill()
        await asyncio.sleep(2.0)
        redis_server.restart()
        await asyncio.sleep(RUN_S / 4 - 2.0)
        node.kill()
        await asyncio.sleep(0.5)
        node = ServeProcess(redis_url, "fault-node", port=node.port, config=config)
        await node.start()
        await asyncio.gather(*lanes)
    finally:
        for task in lanes:
            task.cancel()
    print(
        f"{len(tally.queued)} calls queued, {len(tally.rated)} rated, "
        f"{tally.restarts} restarts of a lane"
    )
    assert tally.restarts >= 2, "the kills did not reach the load"
    assert len(tally.queued) >= 40

    # Every call made ends (a cut-off one after the grace period) and is counted once.
    database = await open_database(db_url)
    try:
        deadline = time.monotonic() + 60
        while True:
            rows = await database.fetch("SELECT session_id, final, satisfaction FROM sessions")
            final = {sid for sid, done, _ in rows if done}
            if final >= tally.queued or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert {sid for sid, _, _ in rows} == tally.queued
        assert final == tally.queued, f"not finished: {sorted(tally.queued - final)[:5]}"
        rated = {sid for sid, _, score in rows if score == 5}
        assert rated == tally.rated
        (total,) = await database.fetch("SELECT SUM(sessions), SUM(satisfaction_n) FROM daily")
        assert total == (len(tally.queued), len(tally.rated))
        (monthly,) = await database.fetch("SELECT SUM(sessions) FROM monthly")
        assert monthly == (len(tally.queued),)
        ended = await database.fetch(
            "SELECT session_id, COUNT(*) FROM events WHERE kind = 'session_ended' "
            "GROUP BY session_id HAVING COUNT(*) > 1"
        )
        assert ended == []
    finally:
        await database.close()
        consumer.kill()
        node.kill()
        if os.environ.get("ETAPISTE_KEEP_LOGS") is None:
            with contextlib.suppress(FileNotFoundError):
                node.log_path.unlink()
