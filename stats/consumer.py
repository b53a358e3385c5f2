"""The consumer: the store's event log into the statistics database, at least once.

Each batch is one transaction: the events not seen before are inserted, their sessions
merged and re-rolled up, and the checkpoint moved. A crash before the commit repeats the
batch; events already in the table are skipped, so nothing counts twice (docs/adr/0008).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from signaling.store import Store

from .db import Connection, Database
from .derive import SESSION_COLUMNS, Event, Session, contribution, merge, rollup_key
from .schema import DIMENSIONS, rollup_columns

log = logging.getLogger(__name__)

BATCH = 2000
IDLE_POLL_S = 0.5
RETRY_MAX_S = 10.0
CHUNK = 500  # ids per IN (...) list: under SQLite's variable limit, quick on PostgreSQL
CHECKPOINT_KEY = "checkpoint:events"
# Events stay in the store this long after the database took them (a day to look at or
# replay), then the consumer trims them: the store's log must not grow for ever.
KEEP_EVENTS_S = 24 * 3600.0
# Checkpoints are remembered for trimming one per this step: an event may go this much
# before its KEEP_EVENTS_S are up, and the consumer keeps a day's list in a few kB.
TRIM_STEP_S = 60.0

# One encoder for every event body (json.dumps with separators builds one per call).
_JSON = json.JSONEncoder(separators=(",", ":"))

Delta = dict[tuple[str, str, tuple[str, ...]], list[int | float]]


def _chunks(items: Sequence[str], size: int = CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Consumer:
    """Reads events after the database's checkpoint and applies them in batches."""

    def __init__(
        self,
        store: Store,
        database: Database,
        zone: str = "Europe/Helsinki",
        batch: int = BATCH,
        keep_s: float = KEEP_EVENTS_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.database = database
        self.zone = ZoneInfo(zone)
        self.batch = batch
        self.keep_s = keep_s
        self.clock = clock
        self.applied = 0  # events applied by this consumer (new ones only)
        self.trimmed = 0  # events this consumer trimmed from the store
        # (when, epoch, id) of committed checkpoints, oldest first: what may be trimmed when.
        self._committed: deque[tuple[float, str, str]] = deque()

    async def checkpoint(self) -> str:
        """The id of the last event the database has taken from this life of the log
        ("0": none). A checkpoint of an earlier life (a memory store since restarted, a
        Redis that lost its data) means nothing here: read from the start, and let the
        event ids skip what was counted (docs/adr/0008)."""
        rows = await self.database.fetch(
            "SELECT value FROM stats_meta WHERE key = ?", (CHECKPOINT_KEY,)
        )
        epoch, _, position = (str(rows[0][0]) if rows else "").partition(" ")
        return position if position and epoch == await self.store.log_epoch() else "0"

    async def run(self) -> None:
        """Consume until cancelled; wait and retry while the store or the database is away."""
        delay = IDLE_POLL_S
        while True:
            try:
                taken = await self.consume_once()
                delay = IDLE_POLL_S
            except Exception as exc:  # a restarting Redis or database: nothing was committed
                log.warning("statistics consumer waits %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            if taken < self.batch:
                await asyncio.sleep(IDLE_POLL_S)

    async def consume_once(self) -> int:
        """Apply one batch; return how many events were read (0: caught up)."""
        await self._trim()
        after = await self.checkpoint()
        entries = await self.store.read_events(after=after, count=self.batch)
        if not entries:
            return 0
        epoch = await self.store.log_epoch()
        async with self.database.transaction() as conn:
            self.applied += await self.apply(conn, entries)
            await conn.execute(
                "INSERT INTO stats_meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (CHECKPOINT_KEY, f"{epoch} {entries[-1][0]}"),
            )
        now = self.clock()
        if self._committed and now - self._committed[-1][0] < TRIM_STEP_S:
            self._committed[-1] = (self._committed[-1][0], epoch, entries[-1][0])
        else:
            self._committed.append((now, epoch, entries[-1][0]))
        return len(entries)

    async def _trim(self) -> None:
        """Trim the store's log through the newest checkpoint committed ``keep_s`` ago."""
        due = None
        while self._committed and self.clock() - self._committed[0][0] >= self.keep_s:
            due = self._committed.popleft()
        if due is None:
            return
        _, epoch, through = due
        if epoch != await self.store.log_epoch():
            return  # the log started over since: that id names nothing in it
        gone = await self.store.trim_events(through)
        self.trimmed += gone
        log.info("statistics consumer trimmed %d events through %s from the store", gone, through)

    async def apply(self, conn: Connection, entries: Sequence[tuple[str, Event]]) -> int:
        """Insert the unseen events of ``entries`` and apply them; return how many."""
        fresh = await self._unseen(conn, entries)
        if not fresh:
            return 0
        await conn.executemany(
            "INSERT INTO events (event_id, stream_id, kind, at, session_id, state, site, "
            "agency, service, language, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    e["event_id"],
                    stream_id,
                    e["kind"],
                    e["at"],
                    e["session_id"],
                    e["state"],
                    e["site"],
                    e["agency"],
                    e["service"],
                    e["language"],
                    _JSON.encode(e),
                )
                for stream_id, e in fresh
            ),
        )
        by_session: dict[str, list[Event]] = defaultdict(list)
        for _, event in fresh:
            by_session[event["session_id"]].append(event)
        before = await self._sessions(conn, list(by_session))
        after: dict[str, Session] = {}
        delta: Delta = {}
        for session_id, events in by_session.items():
            old = before.get(session_id)
            row = old
            for event in sorted(events, key=lambda e: e["at"]):
                row = merge(row, event, self.zone)
            assert row is not None
            after[session_id] = row
            if old is not None and old["final"]:
                _add(delta, old, -1)
            if row["final"]:
                _add(delta, row, +1)
        await self._save_sessions(conn, after.values())
        await self._save_rollups(conn, delta)
        return len(fresh)

    async def _unseen(
        self, conn: Connection, entries: Sequence[tuple[str, Event]]
    ) -> list[tuple[str, Event]]:
        """The entries whose events are not in the table yet (nor earlier in the batch)."""
        ids = [e["event_id"] for _, e in entries if e.get("event_id")]
        seen: set[str] = set()
        for chunk in _chunks(ids):
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT event_id FROM events WHERE event_id IN ({marks})"
            rows = await conn.fetch(sql, chunk)
            seen.update(str(r[0]) for r in rows)
        fresh = []
        for stream_id, event in entries:
            event_id = event.get("event_id")
            if not event_id:  # logged before events had ids: the log's own id is unique
                event = {**event, "event_id": f"log-{stream_id}"}
                event_id = event["event_id"]
            if event_id in seen:
                continue
            seen.add(event_id)
            fresh.append((stream_id, event))
        return fresh

    async def _sessions(self, conn: Connection, session_ids: list[str]) -> dict[str, Session]:
        columns = ", ".join(SESSION_COLUMNS)
        found: dict[str, Session] = {}
        for chunk in _chunks(session_ids):
            marks = ", ".join("?" * len(chunk))
            rows = await conn.fetch(
                f"SELECT {columns} FROM sessions WHERE session_id IN ({marks})", chunk
            )
            for values in rows:
                row = dict(zip(SESSION_COLUMNS, values, strict=True))
                found[row["session_id"]] = row
        return found

    async def _save_sessions(self, conn: Connection, rows: Iterable[Session]) -> None:
        columns = ", ".join(SESSION_COLUMNS)
        marks = ", ".join("?" * len(SESSION_COLUMNS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in SESSION_COLUMNS[1:])
        await conn.executemany(
            f"INSERT INTO sessions ({columns}) VALUES ({marks}) "
            f"ON CONFLICT (session_id) DO UPDATE SET {updates}",
            ([row[c] for c in SESSION_COLUMNS] for row in rows),
        )

    async def _save_rollups(self, conn: Connection, delta: Delta) -> None:
        sums = rollup_columns()
        key = ("period", *DIMENSIONS)
        columns = ", ".join((*key, *sums))
        marks = ", ".join("?" * (len(key) + len(sums)))
        conflict = ", ".join(key)
        updates = ", ".join(f"{c} = {{table}}.{c} + excluded.{c}" for c in sums)
        by_table: dict[str, list[list[Any]]] = defaultdict(list)
        for (table, period, dims), values in delta.items():
            if any(values):
                by_table[table].append([period, *dims, *values])
        for table, rows in by_table.items():
            await conn.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks}) "
                f"ON CONFLICT ({conflict}) DO UPDATE SET {updates.format(table=table)}",
                rows,
            )


def _add(delta: Delta, row: Session, sign: int) -> None:
    """Add (sign +1) or take out (-1) a finished session's part of its rollup rows."""
    values = contribution(row)
    if sign != 1:
        values = [sign * value for value in values]
    dims = rollup_key(row)
    for table, period in (("daily", row["day"]), ("monthly", row["month"])):
        key = (table, period, dims)
        current = delta.get(key)
        # Whole lists at a time: this runs for every finished session (the hot path).
        delta[key] = (
            values if current is None else [a + b for a, b in zip(current, values, strict=True)]
        )
