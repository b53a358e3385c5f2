"""``etapiste bench stats``: the statistics database at a year of a busy service network.

1. **History**: ``stats.synth.generate`` makes the sessions (1,000,000 by default, seeded,
   over the 365 days to 2026-10-15, with the real skew: Kela and Vero most, Monday
   mornings busiest) as the events a node logs, about 7 per session.
2. **Ingest**, per engine: the events go through the consumer's own code path
   (``Consumer.apply``, one transaction per batch of its default size) into a fresh
   SQLite file in a temp directory and into a throwaway PostgreSQL cluster
   (bench/postgres.py, PostgreSQL's durable defaults). Timed: the seconds inside the
   transactions only (generating the events is not the database's cost).
3. **Reports** over the year (``stats.report.report``; the year does not start on the 1st,
   so the edge months come from the daily rollups): by agency; by agency per month; by
   site; by region and agency; by language and interpreting modality; Kela per day.
   Each is run several times; the median is reported.
4. **Baseline**, same engine and run: the first report's question (sessions and median
   wait per agency over the year) answered by plain SQL over the raw ``events`` table and
   a median in Python.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from stats.consumer import BATCH
from stats.db import Database, open_database
from stats.report import ReportQuery, report
from stats.schema import migrate
from stats.synth import history, ingest

from .postgres import PostgresServer

Json = dict[str, Any]
ENGINES = ("sqlite", "postgres")
INGEST_AIM = 20_000.0  # events per second
REPORT_AIM_S = 1.0
SEED = 2026
UNTIL = date(2026, 10, 15)
DAYS = 365
HELSINKI = ZoneInfo("Europe/Helsinki")


def log(message: str) -> None:
    """Progress on stderr (stdout is the JSON object's)."""
    print(f"[bench stats {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def standard_reports(start: date, end: date) -> dict[str, ReportQuery]:
    """The reports a supervisor runs over the year."""
    return {
        "by_agency": ReportQuery(start, end, by=("agency",)),
        "agency_by_month": ReportQuery(start, end, by=("agency",), period="month"),
        "by_site": ReportQuery(start, end, by=("site",)),
        "by_region_agency": ReportQuery(start, end, by=("region", "agency")),
        "by_language_modality": ReportQuery(start, end, by=("language", "modality")),
        "kela_by_day": ReportQuery(start, end, period="day", filters={"agency": ("kela",)}),
    }


async def baseline(database: Database, start: date, end: date) -> dict[str, tuple[int, float]]:
    """Sessions and median wait per agency over the days, from the raw events alone."""
    first = datetime.combine(start, datetime.min.time(), HELSINKI).timestamp()
    after = datetime.combine(end + timedelta(1), datetime.min.time(), HELSINKI).timestamp()
    rows = await database.fetch(
        "SELECT agency, session_id, "
        "MIN(CASE WHEN kind = 'session_requested' THEN at END), "
        "MIN(CASE WHEN kind = 'session_connecting' THEN at END) "
        "FROM events WHERE at >= ? AND at < ? "
        "AND kind IN ('session_requested', 'session_connecting') "
        "GROUP BY agency, session_id",
        (first, after),
    )
    sessions: dict[str, int] = defaultdict(int)
    waits: dict[str, list[float]] = defaultdict(list)
    for agency, _, requested, answered in rows:
        if requested is None:
            continue
        sessions[agency] += 1
        if answered is not None:
            waits[agency].append(answered - requested)
    return {a: (n, statistics.median(waits[a]) if waits[a] else 0.0) for a, n in sessions.items()}


async def timed(run: Callable[[], Awaitable[Any]], runs: int) -> Json:
    """Run ``runs`` times: the median, best and worst in ms, and the last answer's rows."""
    times = []
    answer: Any = None
    for _ in range(runs):
        began = time.perf_counter()
        answer = await run()
        times.append(time.perf_counter() - began)
    return {
        "p50_ms": round(statistics.median(times) * 1000, 2),
        "min_ms": round(min(times) * 1000, 2),
        "max_ms": round(max(times) * 1000, 2),
        "runs": runs,
        "rows": len(answer),
    }


async def database_size(database: Database, path: Path | None) -> int | None:
    """The database's bytes on disk."""
    if path is not None:
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    rows = await database.fetch("SELECT pg_database_size(current_database())")
    return int(rows[0][0])


async def bench_engine(engine: str, url: str, path: Path | None, params: Json) -> Json:
    """Ingest the history into one engine, then time the reports and the baseline."""
    database = await open_database(url)
    try:
        await migrate(database)
        start, end = date.fromisoformat(params["from"]), date.fromisoformat(params["to"])
        clock = [0.0]
        began = time.perf_counter()
        count = 0
        events = history(params["sessions"], params["seed"], start, params["days"])

        def counted() -> Any:
            nonlocal count
            for event in events:
                count += 1
                if count % 500_000 == 0:
                    log(f"{engine}: {count} events, {count / clock[0]:.0f}/s in the database")
                yield event

        applied = await ingest(database, counted(), batch=params["batch"], clock=clock)
        wall = time.perf_counter() - began
        log(
            f"{engine}: ingested {applied} events in {clock[0]:.1f} s "
            f"({wall:.1f} s with generation)"
        )
        counts = {}
        for table in ("events", "sessions", "daily", "monthly"):
            counts[table] = (await database.fetch(f"SELECT COUNT(*) FROM {table}"))[0][0]
        reports: Json = {}
        for name, query in standard_reports(start, end).items():
            reports[name] = await timed(partial(report, database, query), params["runs"])
            log(f"{engine}: {name} p50 {reports[name]['p50_ms']} ms")
        base = await timed(partial(baseline, database, start, end), params["baseline_runs"])
        log(f"{engine}: baseline p50 {base['p50_ms']} ms")
        # The report and the baseline answer the same question: check they agree.
        by_agency = {
            r["agency"]: r["sessions"]
            for r in await report(
                database, ReportQuery(start, end, by=("agency",), suppress_below=1)
            )
        }
        plain = {a: n for a, (n, _) in (await baseline(database, start, end)).items()}
        return {
            "ingest": {
                "events": applied,
                "read": count,
                "seconds": round(clock[0], 2),
                "events_per_s": round(applied / clock[0], 1) if clock[0] else None,
                "seconds_with_generation": round(wall, 2),
                "batch": params["batch"],
            },
            "rows": counts,
            "bytes": await database_size(database, path),
            "reports": reports,
            "baseline": base,
            "baseline_agrees": by_agency == plain,
        }
    finally:
        await database.close()


async def run(args: argparse.Namespace) -> Json:
    """Run the benchmark on each engine in turn; always remove what it made."""
    start = UNTIL - timedelta(DAYS - 1)
    params: Json = {
        "sessions": args.sessions,
        "days": DAYS,
        "from": start.isoformat(),
        "to": UNTIL.isoformat(),
        "seed": SEED,
        "batch": args.batch,
        "runs": args.runs,
        "baseline_runs": args.baseline_runs,
        "engines": list(args.engines),
        "quick": args.quick,
    }
    results: Json = {}
    folder = Path(tempfile.mkdtemp(prefix="etapiste-bench-stats-"))
    began = time.monotonic()
    try:
        for engine in args.engines:
            log(f"{engine}: {args.sessions} sessions")
            if engine == "sqlite":
                path = folder / "stats.db"
                results[engine] = await bench_engine(engine, f"sqlite:///{path}", path, params)
                for leftover in folder.glob("stats.db*"):
                    leftover.unlink()
            else:
                server = PostgresServer(durable=True)
                try:
                    server.start()
                    url = server.create_database("bench")
                    results[engine] = await bench_engine(engine, url, None, params)
                finally:
                    server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ratios: Json = {}
    aims: Json = {}
    for engine, result in results.items():
        reports = result["reports"]
        slowest = max(r["p50_ms"] for r in reports.values())
        rate = result["ingest"]["events_per_s"] or 0.0
        ratios[engine] = {
            "baseline_over_by_agency": round(
                result["baseline"]["p50_ms"] / reports["by_agency"]["p50_ms"], 1
            ),
            "baseline_over_slowest_report": round(result["baseline"]["p50_ms"] / slowest, 1),
            "ingest_over_aim": round(rate / INGEST_AIM, 3),
            "slowest_report_over_aim": round(slowest / (REPORT_AIM_S * 1000), 4),
        }
        aims[engine] = {
            "ingest_at_least_20000_events_per_s": rate >= INGEST_AIM,
            "every_report_under_1_s": slowest < REPORT_AIM_S * 1000,
        }
    baselines = {engine: result.pop("baseline") for engine, result in results.items()}
    return {
        "bench": "stats",
        "results": results,
        "baseline": baselines,
        "ratios": ratios,
        "aims": aims,
        "params": params,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "seconds": round(time.monotonic() - began, 1),
        "errors": [],
    }


def main(argv: Sequence[str]) -> int:
    """Parse the options, run, print one JSON object."""
    parser = argparse.ArgumentParser(prog="etapiste bench stats")
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="20,000 sessions, 3 runs each")
    parser.add_argument("--engines", default=",".join(ENGINES), help="sqlite,postgres")
    parser.add_argument("--batch", type=int, default=BATCH, help="events per transaction")
    parser.add_argument("--runs", type=int, default=7, help="runs of each report")
    parser.add_argument("--baseline-runs", type=int, default=3)
    args = parser.parse_args(argv)
    args.engines = tuple(e for e in args.engines.split(",") if e)
    unknown = set(args.engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(sorted(unknown))}: {', '.join(ENGINES)}")
    if args.quick:
        args.sessions, args.runs, args.baseline_runs = 20_000, 3, 3
    with contextlib.suppress(KeyboardInterrupt):
        result = asyncio.run(run(args))
        print(json.dumps(result, indent=None if args.json else 2))
        return 0
    return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
