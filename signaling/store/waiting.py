"""A Redis Cluster client whose commands wait for a connection instead of failing.

redis-py's asyncio cluster client keeps a pool per node and raises
``MaxConnectionsError`` as soon as it is empty (redis/redis-py#3135); it has no blocking
pool like the one a single Redis gets. A busy node has hundreds of store calls in
flight, so here at most ``limit`` commands, transactions and scripts run at once and
the rest wait their turn, as they do on a single Redis.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from redis.commands.core import AsyncScript


class WaitingCluster:
    """Wrap a ``redis.asyncio.RedisCluster``: every awaited call takes a slot first."""

    def __init__(self, client: Any, limit: int) -> None:
        self._client = client
        self._slots = asyncio.Semaphore(limit)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        return self._bounded(attr) if callable(attr) else attr

    def _bounded(self, call: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``call`` whose awaitable result runs only once it holds a slot."""

        def bounded(*args: Any, **kwargs: Any) -> Any:
            result = call(*args, **kwargs)
            if not inspect.isawaitable(result):
                return result  # a pubsub, an encoder, a pipeline's buffered command
            return self._in_slot(result)

        return bounded

    async def _in_slot(self, work: Awaitable[Any]) -> Any:
        async with self._slots:
            return await work

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        """A pipeline (or transaction) whose ``execute`` waits for a slot."""
        pipe = self._client.pipeline(*args, **kwargs)
        pipe.execute = self._bounded(pipe.execute)
        return pipe

    def register_script(self, script: str) -> AsyncScript:
        """A Lua script that runs through this client, so it waits for a slot too."""
        return AsyncScript(self, script)  # type: ignore[arg-type]

    async def aclose(self) -> None:
        """Close the cluster client's connections (needs no slot)."""
        await self._client.aclose()
