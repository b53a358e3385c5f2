"""The statistics database: SQLite (embedded) or PostgreSQL, behind one small interface.

The SQL is written once with ``?`` placeholders; PostgreSQL gets them as ``$1, $2, …``.
Everything else the two need to differ in is here (docs/adr/0008).
"""

from __future__ import annotations

import abc
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import aiosqlite
import asyncpg

Dialect = Literal["sqlite", "postgres"]
Row = tuple[Any, ...]

_PLACEHOLDER = re.compile(r"\?")


def to_postgres(sql: str) -> str:
    """Number the ``?`` placeholders of ``sql`` as PostgreSQL's ``$n``."""
    count = 0

    def number(_: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, sql)


class Connection(abc.ABC):
    """One connection's statements (inside a transaction, or reading)."""

    @abc.abstractmethod
    async def execute(self, sql: str, args: Sequence[Any] = ()) -> None:
        """Run one statement."""

    @abc.abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row of arguments."""

    @abc.abstractmethod
    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return its rows as tuples."""


class Database(abc.ABC):
    """A statistics database: a writer's transactions and readers' queries."""

    dialect: Dialect
    url: str

    @abc.abstractmethod
    def transaction(self) -> Any:
        """An async context manager giving a Connection whose work commits on exit."""

    @abc.abstractmethod
    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Run a read-only query outside any transaction."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the connections; idempotent."""


# --- SQLite -----------------------------------------------------------------------------


async def _run(conn: aiosqlite.Connection, sql: str, args: Sequence[Any] = ()) -> None:
    """Run a statement and finalize it (an open cursor would keep its lock)."""
    async with conn.execute(sql, tuple(args)):
        pass


class _SqliteConnection(Connection):
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> None:
        await _run(self._conn, sql, args)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        cursor = await self._conn.executemany(sql, [tuple(r) for r in rows])
        await cursor.close()

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        async with self._conn.execute(sql, tuple(args)) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]


class SqliteDatabase(Database):
    """A SQLite file: one writer connection and one reader (WAL lets them overlap)."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None

    async def open(self) -> None:
        """Open (creating) the file, in WAL mode."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        await _run(self._writer, "PRAGMA journal_mode=WAL")
        self._reader = await self._connect()

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        await _run(conn, "PRAGMA busy_timeout=10000")
        await _run(conn, "PRAGMA synchronous=NORMAL")
        return conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        assert self._writer is not None, "the database is not open"
        await _run(self._writer, "BEGIN IMMEDIATE")
        try:
            yield _SqliteConnection(self._writer)
        except BaseException:
            await _run(self._writer, "ROLLBACK")
            raise
        await _run(self._writer, "COMMIT")

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        assert self._reader is not None, "the database is not open"
        return await _SqliteConnection(self._reader).fetch(sql, args)

    async def close(self) -> None:
        for conn in (self._writer, self._reader):
            if conn is not None:
                await conn.close()
        self._writer = self._reader = None


# --- PostgreSQL -----------------------------------------------------------------------


class _PostgresConnection(Connection):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> None:
        await self._conn.execute(to_postgres(sql), *args)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(r) for r in rows]
        if batch:
            await self._conn.executemany(to_postgres(sql), batch)

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return [tuple(record) for record in await self._conn.fetch(to_postgres(sql), *args)]


class PostgresDatabase(Database):
    """A PostgreSQL database through a small asyncpg pool."""

    dialect: Dialect = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        """Connect the pool."""
        self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=4)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        assert self._pool is not None, "the database is not open"
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PostgresConnection(conn)

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        assert self._pool is not None, "the database is not open"
        async with self._pool.acquire() as conn:
            return await _PostgresConnection(conn).fetch(sql, args)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


async def open_database(url: str) -> Database:
    """Open ``sqlite:///path/to/file.db`` or ``postgresql://user@host/db``."""
    database: SqliteDatabase | PostgresDatabase
    if url.startswith("sqlite:///"):
        database = SqliteDatabase(Path(url.removeprefix("sqlite:///")))
    elif url.startswith(("postgresql://", "postgres://")):
        database = PostgresDatabase(url)
    else:
        raise ValueError(f"not a statistics database URL: {url!r} (sqlite:/// or postgresql://)")
    await database.open()
    return database
