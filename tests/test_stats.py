"""Statistics: the event log into SQL and the reports, on SQLite and on a real PostgreSQL.

The small fixed data set below is worked out by hand in the comments; the reports must
give exactly those answers (percentiles by the bucket rule of docs/statistics.md).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from signaling.store import MemoryStore
from stats.consumer import CHECKPOINT_KEY, Consumer
from stats.db import Database
from stats.report import ReportError, ReportQuery, percentile, report
from stats.schema import MIGRATIONS, WAIT_EDGES, migrate
from stats.synth import Call, Place, events_of

HELSINKI = ZoneInfo("Europe/Helsinki")
KITEE = Place("lib-kitee", "S", "Kitee", "Pohjois-Karjala")
LIEKSA = Place("bus-lieksa", "XS", "Lieksa", "Pohjois-Karjala")


def at(day: str, clock: str = "10:00") -> float:
    """Unix time of a local Helsinki time."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=HELSINKI).timestamp()


def kela(n: int, day: str, **fields: Any) -> Call:
    base: dict[str, Any] = {
        "session_id": f"s-kela-{day}-{n}",
        "place": KITEE,
        "agency": "kela",
        "service": "general",
        "language": "fi",
        "requested_at": at(day, f"10:{n:02d}"),
        "wait_s": 10.0,
        "handling_s": 300.0,
    }
    base.update(fields)
    return Call(**base)


# Kela at Kitee on Monday 2 March 2026: six served calls and two abandoned.
#   waits 10, 20, 30, 40, 50, 60 s -> buckets [10,15) [20,30) [30,45) x2 [45,60) [60,90)
#   median: rank 3 lies in [30,45) holding the 3rd and 4th: 30 + (3-2)/2 * 15 = 37.5
#   90th:   rank 5.4 lies in [60,90) holding the 6th:       60 + (5.4-5)/1 * 30 = 72.0
#   handling 300 s each -> [300,420) holds all six: 300 + 3/6 * 120 = 360.0
#   feedback 5, 4, 4, 3, 5 (one gave none): n = 5, mean 4.2
#   one asked for an Arabic interpreter, who came after 30 s: 1 request (< 5: withheld)
MARCH_2 = [
    kela(1, "2026-03-02", wait_s=10.0, feedback=5),
    kela(2, "2026-03-02", wait_s=20.0, feedback=4),
    kela(3, "2026-03-02", wait_s=30.0, feedback=4),
    kela(
        4,
        "2026-03-02",
        wait_s=40.0,
        feedback=3,
        interpreting={"language": "ar", "modality": "spoken"},
        interp_wait_s=30.0,
    ),
    kela(5, "2026-03-02", wait_s=50.0, feedback=5),
    kela(6, "2026-03-02", wait_s=60.0),
    kela(7, "2026-03-02", wait_s=100.0, handling_s=None, outcome=None),
    kela(8, "2026-03-02", wait_s=200.0, handling_s=None, outcome=None),
]
# Vero on the Lieksa bus on 3 March: three calls, a cell too small to publish.
MARCH_3 = [
    Call(
        session_id=f"s-vero-{n}",
        place=LIEKSA,
        agency="vero",
        service="tax-card",
        language="fi",
        requested_at=at("2026-03-03", f"12:0{n}"),
        wait_s=5.0,
        handling_s=120.0,
    )
    for n in range(3)
]


async def consume(store: MemoryStore, database: Database) -> Consumer:
    consumer = Consumer(store, database, batch=7)  # batches that cut sessions in two
    while await consumer.consume_once():
        pass
    return consumer


async def load(database: Database, calls: list[Call]) -> MemoryStore:
    store = MemoryStore()
    for call in calls:
        for event in events_of(call):
            await store.append_event(event)
    await consume(store, database)
    return store


MARCH = ReportQuery(date(2026, 3, 1), date(2026, 3, 31), by=("site", "agency"))


async def test_migrations_run_once_and_leave_the_version(stats_db: Database) -> None:
    assert await migrate(stats_db) == len(MIGRATIONS)  # the fixture migrated already
    rows = await stats_db.fetch("SELECT value FROM stats_meta WHERE key = 'schema_version'")
    assert rows == [(str(len(MIGRATIONS)),)]


async def test_a_report_gives_the_hand_computed_answers(stats_db: Database) -> None:
    await load(stats_db, MARCH_2 + MARCH_3)
    rows = await report(stats_db, MARCH)
    assert [(r["site"], r["agency"]) for r in rows] == [
        ("bus-lieksa", "vero"),
        ("lib-kitee", "kela"),
    ]
    small, kitee = rows
    assert small["sessions"] is None and small["wait_p50_s"] is None
    assert "sessions" in small["suppressed"]
    assert kitee["sessions"] == 8 and kitee["served"] == 6
    assert kitee["wait_p50_s"] == 37.5 and kitee["wait_p90_s"] == 72.0
    assert kitee["handling_p50_s"] == 360.0
    assert kitee["satisfaction_n"] == 5 and kitee["satisfaction_mean"] == 4.2
    assert kitee["transfers"] == 0 and kitee["technical_failures"] == 0
    assert kitee["technical_failure_rate"] == 0.0
    # Counts of 1 to 4 are withheld, with every figure that would give them away.
    assert kitee["abandoned"] is None and kitee["abandoned_rate"] is None
    assert kitee["interp_requested"] is None and kitee["interp_fill_rate"] is None
    assert kitee["interp_p50_s"] is None
    assert set(kitee["suppressed"]) >= {"abandoned", "interp_requested", "interp_filled"}
    # With the threshold at 1 (an internal view), everything shows.
    open_rows = await report(
        stats_db, ReportQuery(MARCH.start, MARCH.end, by=("agency",), suppress_below=1)
    )
    by_agency = {r["agency"]: r for r in open_rows}
    assert by_agency["kela"]["abandoned"] == 2 and by_agency["kela"]["abandoned_rate"] == 0.25
    assert by_agency["kela"]["interp_requested"] == 1
    assert by_agency["kela"]["interp_fill_rate"] == 1.0
    assert by_agency["kela"]["interp_p50_s"] == 37.5  # [30,45) holds it: 30 + 0.5/1 * 15
    assert by_agency["vero"]["sessions"] == 3 and by_agency["vero"]["wait_p50_s"] == 7.5


async def test_periods_join_whole_months_and_the_days_at_the_edges(stats_db: Database) -> None:
    calls = [kela(n, "2026-03-31") for n in range(5)] + [kela(n, "2026-04-01") for n in range(7)]
    calls += [kela(n, "2026-04-30") for n in range(3)] + [kela(n, "2026-05-01") for n in range(9)]
    await load(stats_db, calls)
    months = await report(
        stats_db, ReportQuery(date(2026, 3, 31), date(2026, 4, 30), period="month")
    )
    assert [(r["period"], r["sessions"]) for r in months] == [("2026-03", 5), ("2026-04", 10)]
    days = await report(stats_db, ReportQuery(date(2026, 3, 31), date(2026, 4, 30), period="day"))
    assert [(r["period"], r["sessions"]) for r in days] == [
        ("2026-03-31", 5),
        ("2026-04-01", 7),
        ("2026-04-30", None),  # three: withheld
    ]
    weeks = await report(stats_db, ReportQuery(date(2026, 3, 30), date(2026, 5, 3), period="week"))
    assert [(r["period"], r["sessions"]) for r in weeks] == [("2026-W14", 12), ("2026-W18", 12)]
    years = await report(stats_db, ReportQuery(date(2026, 1, 1), date(2026, 12, 31), period="year"))
    assert [(r["period"], r["sessions"]) for r in years] == [("2026", 24)]


async def test_events_seen_again_count_once(stats_db: Database) -> None:
    store = await load(stats_db, MARCH_2)
    first = await report(stats_db, MARCH)
    # The log read again from the start (a consumer that lost its checkpoint) ...
    async with stats_db.transaction() as conn:
        await conn.execute("UPDATE stats_meta SET value = '0' WHERE key = ?", (CHECKPOINT_KEY,))
    again = await consume(store, stats_db)
    assert again.applied == 0
    # ... and a node that sent some events twice (a retry after a store failure).
    for event in events_of(MARCH_2[0]) + events_of(MARCH_2[6]):
        await store.append_event(event)
    assert (await consume(store, stats_db)).applied == 0
    assert await report(stats_db, MARCH) == first
    count = await stats_db.fetch("SELECT COUNT(*) FROM sessions")
    assert count == [(len(MARCH_2),)]


async def test_a_log_that_starts_over_is_read_from_its_start(stats_db: Database) -> None:
    # The demo's shape: a memory store's log dies with its node, the database lives on.
    await load(stats_db, MARCH_2[:4])
    # The new log's ids start again at 1, but its events are new: all are counted.
    restarted = await load(stats_db, MARCH_2[4:] + MARCH_3)
    assert (await consume(restarted, stats_db)).applied == 0
    count = await stats_db.fetch("SELECT COUNT(*) FROM sessions")
    assert count == [(len(MARCH_2) + len(MARCH_3),)]


async def test_the_consumer_trims_the_store_a_day_after_the_database_took_the_events(
    stats_db: Database,
) -> None:
    store = MemoryStore()
    now = [1000.0]
    consumer = Consumer(store, stats_db, batch=7, keep_s=86400.0, clock=lambda: now[0])
    for call in MARCH_2:
        for event in events_of(call):
            await store.append_event(event)
    logged = len(await store.read_events(count=10_000))
    while await consumer.consume_once():
        now[0] += 1.0  # batches a second apart: one remembered checkpoint a minute
    first = await report(stats_db, MARCH)
    assert consumer.trimmed == 0 and len(await store.read_events(count=10_000)) == logged

    now[0] += 86400.0 - 60.0  # not yet a day since the batches were taken
    assert await consumer.consume_once() == 0
    assert consumer.trimmed == 0
    now[0] += 60.0
    assert await consumer.consume_once() == 0
    assert consumer.trimmed == logged
    assert await store.read_events() == []
    # The statistics are the database's: the same report; new events go on being counted.
    assert await report(stats_db, MARCH) == first
    for event in events_of(MARCH_3[0]):
        await store.append_event(event)
    assert await consumer.consume_once() == len(events_of(MARCH_3[0]))
    count = await stats_db.fetch("SELECT COUNT(*) FROM sessions")
    assert count == [(len(MARCH_2) + 1,)]


async def test_a_trim_due_after_the_log_started_over_trims_nothing(stats_db: Database) -> None:
    store = MemoryStore()
    now = [0.0]
    consumer = Consumer(store, stats_db, keep_s=10.0, clock=lambda: now[0])
    for event in events_of(MARCH_2[0]):
        await store.append_event(event)
    await consumer.consume_once()
    consumer.store = fresh = MemoryStore()  # a node restarted on the memory store
    for event in events_of(MARCH_2[1]):
        await fresh.append_event(event)
    now[0] = 20.0
    await consumer.consume_once()
    assert consumer.trimmed == 0
    assert len(await fresh.read_events()) == len(events_of(MARCH_2[1]))


async def test_events_out_of_order_and_late_feedback(stats_db: Database) -> None:
    calls = [kela(n, "2026-03-02", feedback=4) for n in range(5)]
    store = MemoryStore()
    late = []
    for call in calls:
        events = events_of(call)
        late.append(events.pop())  # the feedback comes in a later batch
        for event in reversed(events):  # and the rest backwards
            await store.append_event(event)
    await consume(store, stats_db)
    before = (await report(stats_db, MARCH))[0]
    assert before["sessions"] == 5 and before["satisfaction_n"] == 0
    assert before["wait_p50_s"] == 12.5
    for event in late:
        await store.append_event(event)
    await consume(store, stats_db)
    after = (await report(stats_db, MARCH))[0]
    assert after["sessions"] == 5 and after["satisfaction_n"] == 5
    assert after["satisfaction_mean"] == 4.0
    assert {k: v for k, v in after.items() if not k.startswith("satisfaction")} == {
        k: v for k, v in before.items() if not k.startswith("satisfaction")
    }


async def test_sessions_keep_no_personal_data(stats_db: Database) -> None:
    await load(stats_db, MARCH_2)
    columns = await stats_db.fetch("SELECT * FROM sessions")
    text = repr(columns) + repr(await stats_db.fetch("SELECT body FROM events"))
    for personal in ("display_name", "username", "subject", "kela.expert", "127.0.0.1"):
        assert personal not in text


def test_bad_report_queries_name_the_field() -> None:
    cases = [
        ({"start": date(2026, 3, 2), "end": date(2026, 3, 1)}, "to"),
        ({"by": ("name",)}, "by"),
        ({"by": ("site", "site")}, "by"),
        ({"filters": {"ssn": ("x",)}}, "ssn"),
        ({"period": "fortnight"}, "period"),
        ({"suppress_below": 0}, "suppress_below"),
    ]
    for changes, field in cases:
        args: dict[str, Any] = {"start": date(2026, 3, 1), "end": date(2026, 3, 31), **changes}
        with pytest.raises(ReportError) as info:
            ReportQuery(**args)
        assert info.value.field == field


def test_percentiles_interpolate_within_the_bucket() -> None:
    counts = [0] * len(WAIT_EDGES)
    assert percentile(WAIT_EDGES, counts, 0.5) is None
    counts[1] = 4  # four waits in [5, 10)
    assert percentile(WAIT_EDGES, counts, 0.5) == 7.5
    assert percentile(WAIT_EDGES, counts, 1.0) == 10.0
    counts[-1] = 100  # the open last bucket: "an hour or more"
    assert percentile(WAIT_EDGES, counts, 0.9) == 3600.0


async def test_quality_and_technical_failures(stats_db: Database) -> None:
    # Five calls: two over the loss limit (5 %), one lost booth, two fine.
    figures = [(80.0, 1.0, 25.0), (120.0, 8.0, 20.0), (200.0, 12.0, 9.0), (60.0, 0.5, 30.0)]
    calls = [
        kela(n, "2026-03-02", quality={"rtt_ms": r, "loss_pct": loss, "fps": fps})
        for n, (r, loss, fps) in enumerate(figures)
    ]
    calls.append(kela(9, "2026-03-02", end_reason="booth_lost"))
    await load(stats_db, calls)
    (row,) = await report(stats_db, ReportQuery(MARCH.start, MARCH.end, suppress_below=1))
    assert row["sessions"] == 5 and row["technical_failures"] == 3
    assert row["technical_failure_rate"] == 0.6
    assert row["rtt_ms_mean"] == 115.0  # (80 + 120 + 200 + 60) / 4 reported calls
    assert row["loss_pct_mean"] == 5.38 and row["fps_mean"] == 21.0
