"""``etapiste stats``: reports on the command line, the consumer, the schema and a history."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from signaling.logs import LOG_FORMATS, configure_logging
from signaling.store import open_store

from .consumer import KEEP_EVENTS_S, Consumer
from .db import open_database
from .output import as_csv, as_json, as_table, parse_day
from .report import DEFAULT_SUPPRESS_BELOW, PERIODS, ReportError, ReportQuery, report
from .schema import migrate
from .synth import Event, history, ingest

DEFAULT_DB = "sqlite:///etapiste-stats.db"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``etapiste stats report|consume|migrate|seed``."""
    stats = commands.add_parser("stats", help="statistics: reports, the event consumer")
    sub = stats.add_subparsers(dest="stats_command", required=True)

    rep = sub.add_parser("report", help="print a report (suppressed small cells)")
    rep.add_argument("--db", default=DEFAULT_DB, help="sqlite:///file or postgresql://…")
    rep.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    rep.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
    rep.add_argument("--by", default="", help="comma-separated: site,agency,…")
    rep.add_argument("--period", choices=PERIODS, default=None)
    rep.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="DIM=V1,V2",
        help="keep only these values of a dimension (repeatable)",
    )
    rep.add_argument("--format", choices=["table", "json", "csv"], default="table")
    rep.add_argument("--suppress-below", type=int, default=DEFAULT_SUPPRESS_BELOW)
    rep.set_defaults(func=_report)

    consume = sub.add_parser("consume", help="consume the event log into the database")
    consume.add_argument("--store", default="memory", help="redis:// URL of the nodes' store")
    consume.add_argument("--db", default=DEFAULT_DB)
    consume.add_argument("--once", action="store_true", help="stop when caught up")
    consume.add_argument(
        "--keep-events-h",
        type=float,
        default=KEEP_EVENTS_S / 3600,
        help="trim events from the store this many hours after the database took them",
    )
    consume.add_argument("--log-format", choices=LOG_FORMATS, default="text")
    consume.set_defaults(func=_consume)

    mig = sub.add_parser("migrate", help="create or update the database's tables")
    mig.add_argument("--db", default=DEFAULT_DB)
    mig.set_defaults(func=_migrate)

    seed = sub.add_parser("seed", help="write a made-up history (demo, benchmark); idempotent")
    seed.add_argument("--db", default=DEFAULT_DB)
    seed.add_argument("--sessions", type=int, default=30_000)
    seed.add_argument("--days", type=int, default=365, help="the history's length, to --until")
    seed.add_argument("--seed", type=int, default=1, help="the same seed gives the same calls")
    seed.add_argument("--until", default=None, help="last day, YYYY-MM-DD (default: yesterday)")
    seed.add_argument(
        "--if-empty", action="store_true", help="do nothing when the database has sessions"
    )
    seed.set_defaults(func=_seed)


def query_from(args: argparse.Namespace) -> ReportQuery:
    """The report the command line asks for (ReportError or ValueError when it cannot be)."""
    start = parse_day(args.start, "from")
    end = parse_day(args.end, "to")
    by = tuple(name for name in args.by.split(",") if name)
    filters: dict[str, tuple[str, ...]] = {}
    for item in args.where:
        name, _, values = item.partition("=")
        if not values:
            raise ReportError("where", f"write DIM=VALUE[,VALUE…], not {item!r}")
        filters[name] = tuple(v for v in values.split(",") if v)
    return ReportQuery(start, end, by, args.period, filters, args.suppress_below)


def _report(args: argparse.Namespace) -> int:
    try:
        query = query_from(args)
    except ReportError as exc:
        print(f"etapiste stats report: invalid_field ({exc.field}): {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"etapiste stats report: invalid_field: {exc}", file=sys.stderr)
        return 2

    async def run() -> list[dict[str, Any]]:
        database = await open_database(args.db)
        try:
            await migrate(database)
            return await report(database, query)
        finally:
            await database.close()

    try:
        rows = asyncio.run(run())
    except ValueError as exc:  # a database URL of neither kind
        print(f"etapiste stats report: invalid_field (db): {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        json.dump(as_json(query, rows), sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    elif args.format == "csv":
        sys.stdout.write(as_csv(query, rows))
    else:
        print(as_table(query, rows))
    return 0


def _consume(args: argparse.Namespace) -> int:
    configure_logging(args.log_format)

    async def run() -> None:
        store = open_store(args.store)
        database = await open_database(args.db)
        try:
            await migrate(database)
            consumer = Consumer(store, database, keep_s=args.keep_events_h * 3600)
            if args.once:
                while await consumer.consume_once():
                    pass
                print(f"caught up: {consumer.applied} new events", flush=True)
            else:
                await consumer.run()
        finally:
            await database.close()
            await store.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def _migrate(args: argparse.Namespace) -> int:
    async def run() -> int:
        database = await open_database(args.db)
        try:
            return await migrate(database)
        finally:
            await database.close()

    print(f"schema version {asyncio.run(run())}")
    return 0


def _seed(args: argparse.Namespace) -> int:
    try:
        until = parse_day(args.until, "until") if args.until else date.today() - timedelta(1)
    except ValueError as exc:
        print(f"etapiste stats seed: invalid_field (until): {exc}", file=sys.stderr)
        return 2
    if args.sessions < 0 or args.days < 1:
        print("etapiste stats seed: invalid_field: --sessions >= 0, --days >= 1", file=sys.stderr)
        return 2
    start = until - timedelta(args.days - 1)

    async def run() -> tuple[int, int]:
        database = await open_database(args.db)
        try:
            await migrate(database)
            if args.if_empty and (await database.fetch("SELECT COUNT(*) FROM sessions"))[0][0]:
                return -1, 0
            events = history(args.sessions, args.seed, start, args.days)
            count = 0

            def counted() -> Iterator[Event]:
                nonlocal count
                for event in events:
                    count += 1
                    yield event

            applied = await ingest(database, counted())
            return count, applied
        finally:
            await database.close()

    began = time.monotonic()
    read, applied = asyncio.run(run())
    if read < 0:
        print(f"not seeded: {args.db} has sessions already (--if-empty)")
        return 0
    print(
        f"seeded {start}..{until}: {applied} new events of {read} "
        f"({args.sessions} sessions, seed {args.seed}) in {time.monotonic() - began:.1f} s"
    )
    return 0
