"""Shared state behind one interface: pick memory or Redis with ``open_store``."""

from .base import Store
from .memory import MemoryStore


def open_store(spec: str) -> Store:
    """Open the store named by ``spec``: "memory" or a redis:// (rediss://) URL."""
    if spec == "memory":
        return MemoryStore()
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisStore

        return RedisStore(spec)
    raise ValueError(f'unknown store "{spec}": use "memory" or a redis:// URL')


__all__ = ["MemoryStore", "Store", "open_store"]
