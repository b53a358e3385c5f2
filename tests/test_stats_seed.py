"""The made-up history (stats.synth.generate) and `etapiste stats seed`: seeded, skewed,
and written through the consumer so that seeding twice counts once."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from stats.db import Database
from stats.report import ReportQuery, report
from stats.synth import events_of, generate, history, ingest

REPO = Path(__file__).resolve().parent.parent
HELSINKI = ZoneInfo("Europe/Helsinki")
START = date(2026, 1, 5)  # a Monday


def test_the_same_seed_gives_the_same_calls_and_other_seeds_other_ids() -> None:
    first = list(generate(2000, 1, START, 28))
    assert first == list(generate(2000, 1, START, 28))
    other = list(generate(2000, 2, START, 28))
    assert len(first) == len(other) == 2000
    ids = [e["event_id"] for call in first + other for e in events_of(call)]
    assert len(ids) == len(set(ids))
    assert {c.session_id for c in first}.isdisjoint(c.session_id for c in other)


def test_the_history_has_the_skew_of_real_service_points() -> None:
    calls = list(generate(20_000, 3, START, 28))
    agencies = Counter(c.agency for c in calls)
    top = [name for name, _ in agencies.most_common(2)]
    assert top == ["kela", "vero"]
    assert agencies["kela"] + agencies["vero"] > 0.5 * len(calls)
    local = [datetime.fromtimestamp(c.requested_at, HELSINKI) for c in calls]
    weekdays = Counter(t.weekday() for t in local)
    assert weekdays[0] > weekdays[4] > weekdays[5] > weekdays[6]
    # Agencies closed at weekends in the directory get no weekend calls.
    weekend = {c.agency for c, t in zip(calls, local, strict=True) if t.weekday() >= 5}
    assert weekend <= {"kela", "vero", "migri"}
    assert all(8 <= t.hour < 18 for t in local)
    served = [c for c in calls if c.handling_s is not None]
    assert 0.01 < 1 - len(served) / len(calls) < 0.06  # abandoned
    assert sum(c.wait_s < 120 for c in served) > 0.8 * len(served)
    interpreted = [c for c in calls if c.interpreting]
    assert 0.02 < len(interpreted) / len(calls) < 0.07
    assert {c.interpreting["modality"] for c in interpreted if c.interpreting} == {
        "spoken",
        "sign",
        "text",
    }
    bus = [c.quality["loss_pct"] for c in served if c.place.site_kind == "XS" and c.quality]
    room = [c.quality["loss_pct"] for c in served if c.place.site_kind == "S" and c.quality]
    assert sum(bus) / len(bus) > 2 * sum(room) / len(room)


async def test_ingesting_a_history_twice_counts_it_once(stats_db: Database) -> None:
    assert await ingest(stats_db, history(300, 5, START, 7), batch=100) > 0
    query = ReportQuery(START, date(2026, 1, 11), by=("agency",), suppress_below=1)
    first = await report(stats_db, query)
    assert sum(r["sessions"] for r in first) == 300
    assert await ingest(stats_db, history(300, 5, START, 7), batch=100) == 0
    assert await report(stats_db, query) == first


def test_the_seed_command_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    command = [sys.executable, "-m", "etapiste", "stats", "seed", "--db", url]
    command += ["--sessions", "500", "--days", "30", "--seed", "9", "--until", "2026-01-31"]
    first = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "seeded 2026-01-02..2026-01-31" in first.stdout and " 0 new" not in first.stdout
    again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert ": 0 new events of" in again.stdout
    # The demo seeds only an empty database.
    skipped = subprocess.run(
        [*command, "--if-empty"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert skipped.returncode == 0 and "not seeded" in skipped.stdout
