"""Shared fixtures: a real redis-server, stores of each kind, real nodes and Chromium."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from playwright.async_api import Browser

from signaling.store import Store, open_store
from stats.db import Database, open_database
from stats.schema import migrate
from tests.browser import launch_chromium
from tests.postgres_server import PostgresServer
from tests.redis_cluster import RedisCluster
from tests.redis_server import RedisServer
from tests.support import ServeProcess, serving

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


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """Run one three-master Redis Cluster for the whole test session."""
    with RedisCluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


@pytest.fixture
def redis_cluster_url(redis_cluster: RedisCluster) -> str:
    """Return the store spec of the cluster, emptied before the test."""
    redis_cluster.flush()
    return redis_cluster.url


# --- stores -----------------------------------------------------------------------------

STORE_SPECS = {"redis": "redis_url", "cluster": "redis_cluster_url"}


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
        pytest.param("cluster", id="cluster", marks=pytest.mark.redis),
    ]
)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """Yield an open store of each kind: in memory, one Redis, and a three-master Redis
    Cluster; the Redis ones start empty."""
    spec = (
        "memory"
        if request.param == "memory"
        else request.getfixturevalue(STORE_SPECS[request.param])
    )
    opened = open_store(spec)
    try:
        yield opened
    finally:
        await opened.close()


# --- the statistics database ---------------------------------------------------------

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Run one PostgreSQL server for the whole test session."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
async def stats_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    """Yield a migrated, empty statistics database of each kind."""
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database(f"stats_{next(_databases)}")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('stats') / 'stats.db'}"
    database = await open_database(url)
    try:
        await migrate(database)
        yield database
    finally:
        await database.close()


# --- real nodes and the browser ---------------------------------------------------------


@pytest.fixture
async def node() -> AsyncIterator[ServeProcess]:
    """Run a real `etapiste serve` on the memory store."""
    async with serving("memory", "memory-node") as server:
        yield server


@pytest.fixture
async def redis_node(redis_url: str) -> AsyncIterator[ServeProcess]:
    """Run a real `etapiste serve` on an empty Redis database (see redis_url)."""
    async with serving(redis_url, "redis-node") as server:
        yield server


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Run the system Chromium (tests/browser.py launch_chromium)."""
    async with launch_chromium() as chromium:
        yield chromium
