"""Shared fixtures: a real redis-server for the session and stores of each kind."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from signaling.store import Store, open_store
from tests.redis_server import RedisServer

# --- redis ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """Run one redis-server for the whole test session."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """Return the URL of an empty database (flushed before the test)."""
    redis_server.start()  # no-op unless an earlier test left it stopped
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushall()
    finally:
        client.close()
    return redis_server.url


# --- stores -----------------------------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
    ]
)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """Yield an open store of each kind; the Redis one starts on an empty database."""
    spec = "memory" if request.param == "memory" else request.getfixturevalue("redis_url")
    opened = open_store(spec)
    try:
        yield opened
    finally:
        await opened.close()
