"""The statistics tables and their migrations (docs/statistics.md, docs/adr/0008)."""

from __future__ import annotations

from collections.abc import Callable

from .db import Connection, Database, Dialect

# What a report may group by. Each is a column of the sessions and of the rollups; a
# session without interpreting has modality '' (a key column cannot be NULL everywhere).
DIMENSIONS = (
    "site",
    "site_kind",
    "municipality",
    "region",
    "agency",
    "service",
    "language",
    "modality",
    "outcome",
)

# Histogram buckets (seconds): each bucket runs from its edge to the next; the last is open.
WAIT_EDGES: tuple[int, ...] = (0, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420)
WAIT_EDGES += (600, 900, 1200, 1800, 3600)
HANDLING_EDGES: tuple[int, ...] = (0, 60, 120, 180, 240, 300, 420, 600, 900, 1200, 1500)
HANDLING_EDGES += (1800, 2400, 3600, 5400, 7200)
HISTOGRAMS = {"wait": WAIT_EDGES, "handling": HANDLING_EDGES, "interp": WAIT_EDGES}

# The rollups' counters, in order: summed when sessions are added, subtracted when removed.
COUNTERS = (
    "sessions",
    "served",
    "abandoned",
    "failed",
    "transfers",
    "transferred",
    "satisfaction_n",
    "satisfaction_sum",
    "interp_requested",
    "interp_filled",
    "interp_unanswered",
    "technical_failures",
    "quality_n",
    "rtt_ms_sum",
    "loss_pct_sum",
    "fps_sum",
)


def bucket_columns(name: str) -> list[str]:
    """The histogram's columns: ``wait_b0``, ``wait_b1``, …"""
    return [f"{name}_b{i}" for i in range(len(HISTOGRAMS[name]))]


def rollup_columns() -> list[str]:
    """Every summed column of a rollup row, in order."""
    columns = list(COUNTERS)
    for name in HISTOGRAMS:
        columns += bucket_columns(name)
    return columns


def _real(dialect: Dialect) -> str:
    return "DOUBLE PRECISION" if dialect == "postgres" else "REAL"


def _v1(dialect: Dialect) -> list[str]:
    real = _real(dialect)
    dims = ", ".join(f"{d} TEXT NOT NULL" for d in DIMENSIONS)
    statements = [
        f"""CREATE TABLE events (
            event_id TEXT PRIMARY KEY,
            stream_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            at {real} NOT NULL,
            session_id TEXT NOT NULL,
            state TEXT NOT NULL,
            site TEXT NOT NULL,
            agency TEXT NOT NULL,
            service TEXT NOT NULL,
            language TEXT NOT NULL,
            body TEXT NOT NULL
        )""",
        "CREATE INDEX events_at ON events (at)",
        "CREATE INDEX events_session ON events (session_id)",
        f"""CREATE TABLE sessions (
            session_id TEXT PRIMARY KEY,
            day TEXT NOT NULL,
            month TEXT NOT NULL,
            {dims},
            interpreter_language TEXT,
            state TEXT NOT NULL,
            final INTEGER NOT NULL,
            end_reason TEXT,
            requested_at {real} NOT NULL,
            answered_at {real},
            ended_at {real},
            transfers INTEGER NOT NULL,
            satisfaction INTEGER,
            interp_requested INTEGER NOT NULL,
            interp_joined INTEGER NOT NULL,
            interp_unanswered INTEGER NOT NULL,
            interp_wait_s {real},
            rtt_ms {real},
            loss_pct {real},
            fps {real},
            last_event_at {real} NOT NULL
        )""",
        "CREATE INDEX sessions_day ON sessions (day)",
    ]
    sums = ", ".join(f"{c} BIGINT NOT NULL DEFAULT 0" for c in rollup_columns())
    for table in ("daily", "monthly"):
        key = ", ".join(("period",) + DIMENSIONS)
        statements.append(
            f"""CREATE TABLE {table} (
                period TEXT NOT NULL,
                {dims},
                {sums},
                PRIMARY KEY ({key})
            )"""
        )
    statements.append("CREATE TABLE stats_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    return statements


# Each migration: the statements that take the schema from version n-1 to n.
MIGRATIONS: list[Callable[[Dialect], list[str]]] = [_v1]


async def migrate(database: Database) -> int:
    """Bring the schema up to date, one migration per transaction; return the version."""
    while True:
        async with database.transaction() as conn:
            version = await _version_in(database, conn)
            if version >= len(MIGRATIONS):
                return version
            for statement in MIGRATIONS[version](database.dialect):
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO stats_meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(version + 1),),
            )


async def _version_in(database: Database, conn: Connection) -> int:
    """Read the version inside the migration's transaction (0: an empty database)."""
    if database.dialect == "postgres":
        # Two consumers starting at once: the second waits here for the first's migration.
        await conn.execute("SELECT pg_advisory_xact_lock(8008)")
        exists = await conn.fetch("SELECT to_regclass('stats_meta') IS NOT NULL")
    else:
        exists = await conn.fetch(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'stats_meta'"
        )
    if not exists[0][0]:
        return 0
    rows = await conn.fetch("SELECT value FROM stats_meta WHERE key = 'schema_version'")
    return int(rows[0][0]) if rows else 0
