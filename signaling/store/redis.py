"""Redis store: shared state for many signaling nodes.

Every key carries a hash tag ({...}) and every command or script touches keys of one
slot only, so the same code runs on Redis Cluster. Records are hashes of
``v`` (version) and ``data`` (JSON); a Lua script does the compare-and-set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
import uuid
from typing import Any, TypeVar, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..records import ExpertRecord, Record, SessionRecord
from ..tasks import STOP_WAIT_S, cancel_and_wait, cancel_requested
from .base import EventLog, Handler, Store
from .waiting import WaitingCluster

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Record)

PREFIX = "etp"
FINISHED_SESSION_TTL_S = 24 * 3600

# KEYS[1] record; ARGV: expected version, new version, data, ttl seconds (0 = none)
_CAS = """
local v = redis.call('HGET', KEYS[1], 'v')
if (v == false and ARGV[1] == '0') or v == ARGV[1] then
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'data', ARGV[3])
  if ARGV[4] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
  return 1
end
return 0
"""

# KEYS: node hash, seen zset (one slot); ARGV: subject, node id, now
_DISCONNECT = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
end
return 0
"""


def _text(value: Any) -> str:
    """Return a Redis reply item as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _texts(values: Any) -> list[str]:
    """Return a Redis list or set reply as a list of text."""
    return [_text(v) for v in values]


def _key(*parts: str) -> str:
    """Return a key whose first part is its hash tag."""
    return f"{PREFIX}:{{{parts[0]}}}" + "".join(f":{p}" for p in parts[1:])


MAX_CONNECTIONS = 64
POOL_WAIT_S = 10.0


class RedisStore(Store):
    """State in Redis; safe to share between any number of nodes."""

    kind = "redis"

    def __init__(self, url: str, *, cluster: bool = False) -> None:
        self.url = url
        self.cluster = cluster
        retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=20)
        if cluster:
            # Every key has a hash tag and every command, script and transaction stays in
            # one slot, so the cluster client routes each to its master.
            self._redis: Any = WaitingCluster(
                aioredis.RedisCluster.from_url(
                    url,
                    decode_responses=True,
                    retry=retry,
                    # Beyond the commands in flight: the pubsub's own connection.
                    max_connections=MAX_CONNECTIONS + 2,
                    socket_connect_timeout=2,
                ),
                limit=MAX_CONNECTIONS,
            )
        else:
            # A busy node has hundreds of store calls in flight: beyond the pool's size
            # they wait for a connection (a blocking pool) instead of failing.
            pool = aioredis.BlockingConnectionPool.from_url(
                url,
                max_connections=MAX_CONNECTIONS,
                timeout=POOL_WAIT_S,
                decode_responses=True,
                retry=retry,
                retry_on_error=[RedisConnectionError, RedisTimeoutError, OSError],
                socket_connect_timeout=2,
                health_check_interval=10,
            )
            self._redis = aioredis.Redis(connection_pool=pool)
            self._redis.auto_close_connection_pool = True
        self._cas_script = self._redis.register_script(_CAS)
        self._disconnect_script = self._redis.register_script(_DISCONNECT)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    async def _load(self, key: str, model: type[R]) -> R | None:
        data = await self._redis.hget(key, "data")
        return None if data is None else model.model_validate_json(_text(data))

    async def _cas(self, key: str, record: R, ttl: int = 0) -> bool:
        expected = record.version
        record.version = expected + 1
        ok = await self._cas_script(
            keys=[key], args=[expected, expected + 1, record.model_dump_json(), ttl]
        )
        if not ok:
            record.version = expected
        return bool(ok)

    async def load_session(self, session_id: str) -> SessionRecord | None:
        return await self._load(_key(f"s:{session_id}"), SessionRecord)

    async def save_session(self, record: SessionRecord) -> bool:
        previous = None
        if record.version:
            stored = await self.load_session(record.session_id)
            previous = stored.state if stored else None
        ttl = FINISHED_SESSION_TTL_S if record.finished else 0
        ok = await self._cas(_key(f"s:{record.session_id}"), record, ttl)
        if ok and previous != record.state:
            # Only the winner of the compare-and-set counts the transition.
            pipe = self._redis.pipeline(transaction=True)
            if previous is not None:
                pipe.hincrby(_key("stats", "states"), previous, -1)
            pipe.hincrby(_key("stats", "states"), record.state, 1)
            await pipe.execute()
        return ok

    async def count_sessions_by_state(self) -> dict[str, int]:
        counts = await self._redis.hgetall(_key("stats", "states"))
        return {_text(state): int(n) for state, n in counts.items() if int(n) > 0}

    async def load_record(self, kind: str, key: str, model: type[R]) -> R | None:
        return await self._load(_key(f"{kind}:{key}"), model)

    async def save_record(self, kind: str, key: str, record: Record, ttl_s: int = 0) -> bool:
        return await self._cas(_key(f"{kind}:{key}"), record, ttl_s)

    async def index_add(self, index: str, member: str, score: float) -> None:
        await self._redis.zadd(_key(f"ix:{index}"), {member: score})

    async def index_remove(self, index: str, member: str) -> None:
        await self._redis.zrem(_key(f"ix:{index}"), member)

    async def index_members(self, index: str) -> list[str]:
        return _texts(await self._redis.zrange(_key(f"ix:{index}"), 0, -1))

    async def load_expert(self, subject: str) -> ExpertRecord | None:
        return await self._load(_key(f"x:{subject}"), ExpertRecord)

    async def save_expert(self, record: ExpertRecord) -> bool:
        return await self._cas(_key(f"x:{record.subject}"), record)

    async def set_available(self, agency: str, subject: str, idle_since: float) -> None:
        await self._redis.zadd(_key(f"avail:{agency}"), {subject: idle_since})

    async def clear_available(self, agency: str, subject: str) -> None:
        await self._redis.zrem(_key(f"avail:{agency}"), subject)

    async def available_experts(self, agency: str) -> list[str]:
        return _texts(await self._redis.zrange(_key(f"avail:{agency}"), 0, -1))

    async def count_available(self, agency: str, idle_before: float) -> int:
        return int(await self._redis.zcount(_key(f"avail:{agency}"), "-inf", idle_before))

    async def enqueue(self, queue: str, session_id: str, score: float) -> None:
        await self._redis.zadd(_key(f"q:{queue}"), {session_id: score})
        await self._redis.sadd(_key("queues"), queue)

    async def dequeue(self, queue: str, session_id: str) -> None:
        await self._redis.zrem(_key(f"q:{queue}"), session_id)

    async def queue_members(self, queue: str, limit: int = 100) -> list[str]:
        return _texts(await self._redis.zrange(_key(f"q:{queue}"), 0, limit - 1))

    async def queue_rank(self, queue: str, session_id: str) -> int | None:
        rank = await self._redis.zrank(_key(f"q:{queue}"), session_id)
        return None if rank is None else int(str(rank))

    async def queue_lengths(self) -> dict[str, int]:
        queues = sorted(_texts(await self._redis.smembers(_key("queues"))))
        lengths: dict[str, int] = {}
        for queue in queues:
            n = int(str(await self._redis.zcard(_key(f"q:{queue}"))))
            if n:
                lengths[queue] = n
        return lengths

    async def add_handling_time(self, queue: str, seconds: float, keep: int = 20) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.lpush(_key(f"h:{queue}"), seconds)
        pipe.ltrim(_key(f"h:{queue}"), 0, keep - 1)
        await pipe.execute()

    async def handling_times(self, queue: str) -> list[float]:
        return [float(x) for x in await self._redis.lrange(_key(f"h:{queue}"), 0, -1)]

    async def set_offer_deadline(self, session_id: str, deadline: float) -> None:
        await self._redis.zadd(_key("offers"), {session_id: deadline})

    async def clear_offer_deadline(self, session_id: str) -> None:
        await self._redis.zrem(_key("offers"), session_id)

    async def expired_offers(self, now: float) -> list[str]:
        return _texts(await self._redis.zrangebyscore(_key("offers"), "-inf", now))

    async def touch_presence(self, subjects: list[str], node_id: str, now: float) -> None:
        if not subjects:
            return
        pipe = self._redis.pipeline(transaction=True)
        pipe.zadd(_key("presence", "seen"), dict.fromkeys(subjects, now))
        pipe.hset(_key("presence", "node"), mapping=dict.fromkeys(subjects, node_id))
        await pipe.execute()

    async def mark_disconnected(self, subject: str, node_id: str, now: float) -> None:
        await self._disconnect_script(
            keys=[_key("presence", "node"), _key("presence", "seen")],
            args=[subject, node_id, now],
        )

    async def presence_node(self, subject: str) -> str | None:
        node = await self._redis.hget(_key("presence", "node"), subject)
        return None if node is None else _text(node)

    async def present_subjects(self) -> dict[str, str]:
        nodes = await self._redis.hgetall(_key("presence", "node"))
        return {_text(subject): _text(node) for subject, node in nodes.items()}

    async def stale_subjects(self, before: float) -> list[str]:
        return _texts(await self._redis.zrangebyscore(_key("presence", "seen"), "-inf", before))

    async def forget_presence(self, subject: str) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.zrem(_key("presence", "seen"), subject)
        pipe.hdel(_key("presence", "node"), subject)
        await pipe.execute()

    async def add_membership(self, subject: str, session_id: str) -> None:
        await self._redis.sadd(_key(f"m:{subject}"), session_id)

    async def remove_membership(self, subject: str, session_id: str) -> None:
        await self._redis.srem(_key(f"m:{subject}"), session_id)

    async def memberships(self, subject: str) -> list[str]:
        return sorted(_texts(await self._redis.smembers(_key(f"m:{subject}"))))

    async def save_booth_health(self, site: str, report: dict[str, Any]) -> None:
        await self._redis.hset(_key("booths", "health"), site, json.dumps(report))

    async def booth_health(self) -> dict[str, dict[str, Any]]:
        reports = await self._redis.hgetall(_key("booths", "health"))
        return {_text(site): json.loads(report) for site, report in reports.items()}

    async def add_login_failure(self, key: str, now: float, window_s: float) -> None:
        name = _key("login", key)
        pipe = self._redis.pipeline(transaction=True)
        pipe.zremrangebyscore(name, "-inf", now - window_s)
        pipe.zadd(name, {f"{now!r}:{secrets.token_hex(4)}": now})
        pipe.expire(name, max(1, math.ceil(window_s)))
        await pipe.execute()

    async def login_failures(self, key: str, now: float, window_s: float) -> list[float]:
        entries = await self._redis.zrangebyscore(
            _key("login", key), f"({now - window_s!r}", "+inf", withscores=True
        )
        pairs = cast(list[tuple[Any, float]], entries)
        return [float(score) for _, score in pairs]

    async def clear_login_failures(self, key: str) -> None:
        await self._redis.delete(_key("login", key))

    async def append_event(self, event: dict[str, Any], log: EventLog = "events") -> str:
        event_id = await self._redis.xadd(_key(log), {"event": json.dumps(event)})
        return _text(event_id)

    async def log_epoch(self, log: EventLog = "events") -> str:
        key = _key(log, "epoch")  # beside the stream, in its hash slot; lost with it
        await self._redis.set(key, uuid.uuid4().hex, nx=True)
        return _text(await self._redis.get(key))

    async def read_events(
        self, after: str = "0", count: int = 1000, log: EventLog = "events"
    ) -> list[tuple[str, dict[str, Any]]]:
        start = "(" + after if after != "0" else "-"
        entries = await self._redis.xrange(_key(log), min=start, max="+", count=count)
        return [(_text(i), json.loads((fields or {})["event"])) for i, fields in entries or ()]

    async def trim_events(self, through: str, log: EventLog = "events") -> int:
        ms, _, seq = through.partition("-")
        # XTRIM MINID keeps ids >= MINID: the id right after ``through``.
        after = f"{ms}-{int(seq or 0) + 1}"
        return int(await self._redis.xtrim(_key(log), minid=after, approximate=False))

    async def publish(self, channel: str, payload: str) -> None:
        await self._redis.publish(f"{PREFIX}:ch:{channel}", payload)

    async def subscribe(self, channels: list[str], handler: Handler) -> None:
        if self._closed:
            raise RuntimeError("the store is closed")
        ready = asyncio.Event()
        task = asyncio.create_task(self._listen(channels, handler, ready), name="redis-listen")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        waiter = asyncio.create_task(ready.wait())
        # Return once subscribed, or raise what stopped the listener before it could.
        await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.is_set():
            waiter.cancel()
            await task  # raises the listener's error

    async def _listen(self, channels: list[str], handler: Handler, ready: asyncio.Event) -> None:
        """Deliver published payloads; re-subscribe after Redis comes back."""
        names = [f"{PREFIX}:ch:{c}" for c in channels]
        while not self._closed:
            try:
                if self.cluster:
                    await self._redis.initialize()  # the pubsub picks a node by the slot map
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(*names)
                    ready.set()
                    while True:
                        message = await pubsub.get_message(timeout=1.0)
                        if message is not None:
                            await self._call(handler, _text(message["data"]))
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                if cancel_requested():
                    raise  # redis-py turned our cancel into a connection error
                log.warning("redis subscription lost (%s); retrying", exc)
                await asyncio.sleep(0.2)

    @staticmethod
    async def _call(handler: Handler, payload: str) -> None:
        try:
            await handler(payload)
        except Exception:  # a bad payload must not stop delivery to the node
            log.exception("handler failed for a published message")

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisConnectionError, RedisTimeoutError, OSError):
            return False

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await cancel_and_wait(self._tasks)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(STOP_WAIT_S):
                await self._redis.aclose()
