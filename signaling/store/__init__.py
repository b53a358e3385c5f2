"""Shared state behind one interface: pick memory or Redis with ``open_store``."""

from .base import Store
from .memory import MemoryStore

CLUSTER_SCHEMES = {"redis+cluster://": "redis://", "rediss+cluster://": "rediss://"}


def open_store(spec: str) -> Store:
    """Open the store named by ``spec``: "memory", a redis:// (rediss://) URL, or a
    redis+cluster:// URL naming any one node of a Redis Cluster."""
    if spec == "memory":
        return MemoryStore()
    for scheme, plain in CLUSTER_SCHEMES.items():
        if spec.startswith(scheme):
            from .redis import RedisStore

            return RedisStore(plain + spec.removeprefix(scheme), cluster=True)
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisStore

        return RedisStore(spec)
    raise ValueError(
        f'unknown store "{spec}": use "memory", a redis:// URL or a redis+cluster:// URL'
    )


__all__ = ["MemoryStore", "Store", "open_store"]
