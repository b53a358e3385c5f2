"""The node's event outbox: nothing lost, nothing reordered while the store is away."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import redis

from signaling.events import Event
from signaling.outbox import EventOutbox
from signaling.store import MemoryStore, open_store

from .redis_server import RedisServer
from .support import running_node


class FlakyStore(MemoryStore):
    """A memory store whose event log refuses appends while `down` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def append_event(self, event: dict[str, Any], log: Any = "events") -> str:
        if self.down:
            raise ConnectionError("the store is restarting")
        return await super().append_event(event, log)


async def kinds(store: MemoryStore) -> list[int]:
    return [event["n"] for _, event in await store.read_events()]


async def test_events_wait_while_the_store_is_down_and_go_in_order() -> None:
    store = FlakyStore()
    outbox = EventOutbox(store)
    runner = asyncio.create_task(outbox.run())
    try:
        await outbox.append({"n": 1})
        store.down = True
        await outbox.append({"n": 2})
        await outbox.append({"n": 3})
        assert outbox.pending == 2
        assert await kinds(store) == [1]
        store.down = False
        # A later event must not overtake the ones held back.
        await outbox.append({"n": 4})
        for _ in range(100):
            if outbox.pending == 0:
                break
            await asyncio.sleep(0.05)
        assert await kinds(store) == [1, 2, 3, 4]
    finally:
        runner.cancel()


def test_every_event_has_an_id_of_its_own() -> None:
    fields: dict[str, Any] = {
        "kind": "session_requested",
        "at": 1.0,
        "node": "n",
        "session_id": "s-1",
        "state": "requested",
        "site": "lib-kitee",
        "site_kind": "S",
        "municipality": "Kitee",
        "region": "Pohjois-Karjala",
        "agency": "kela",
        "service": "general",
        "language": "fi",
        "interpreter": None,
        "requested_at": 1.0,
        "queued_at": 1.0,
        "answered_at": None,
        "ended_at": None,
    }
    first, second = Event(**fields), Event(**fields)
    assert len(first.event_id) == 32 and first.event_id != second.event_id
    assert Event.model_validate(first.model_dump(mode="json")) == first


@pytest.mark.redis
async def test_metrics_answer_while_redis_is_down(
    redis_server: RedisServer, redis_url: str
) -> None:
    async with running_node(open_store(redis_url)) as node:
        redis_server.kill()
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(node.base_url + "/metrics") as resp,
            ):
                assert resp.status == 200
                assert "etapiste_events_waiting 0.0" in await resp.text()
        finally:
            redis_server.restart()


@pytest.mark.redis
async def test_a_redis_that_lost_its_data_starts_a_new_log_epoch(redis_url: str) -> None:
    store = open_store(redis_url)
    try:
        before = await store.log_epoch()
        assert await store.log_epoch() == before
        flusher = redis.Redis.from_url(redis_url)
        flusher.flushall()
        flusher.close()
        assert await store.log_epoch() != before
    finally:
        await store.close()
