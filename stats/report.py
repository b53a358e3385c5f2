"""Reports: KPIs per period and dimensions from the rollups, with small cells suppressed.

Definitions (docs/statistics.md): a session counts in the period of the day it was
requested, once it is finished. Waits are to the first answer of served calls; handling
is from that answer to the end; medians and 90th percentiles are interpolated within the
histogram bucket that holds them (docs/adr/0008).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from .db import Database
from .schema import DIMENSIONS, HISTOGRAMS, bucket_columns, rollup_columns

Period = Literal["day", "week", "month", "year"]
PERIODS: tuple[Period, ...] = ("day", "week", "month", "year")
DEFAULT_SUPPRESS_BELOW = 5

# Counts published in a report row, and the derived figures with the counts they need.
COUNTS = (
    "sessions",
    "served",
    "abandoned",
    "transfers",
    "interp_requested",
    "interp_filled",
    "interp_unanswered",
    "technical_failures",
    "satisfaction_n",
)
DERIVED: dict[str, tuple[str, ...]] = {
    "wait_p50_s": ("served",),
    "wait_p90_s": ("served",),
    "handling_p50_s": ("served",),
    "interp_fill_rate": ("interp_requested", "interp_filled"),
    "interp_p50_s": ("interp_filled",),
    "satisfaction_mean": ("satisfaction_n",),
    "technical_failure_rate": ("sessions", "technical_failures"),
    "abandoned_rate": ("sessions", "abandoned"),
}


class ReportError(ValueError):
    """A report asked for something that does not exist; names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ReportQuery:
    """What a report covers: days (inclusive), grouping, filters and the suppression."""

    start: date
    end: date
    by: tuple[str, ...] = ()
    period: Period | None = None
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    suppress_below: int = DEFAULT_SUPPRESS_BELOW

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ReportError("to", "the report ends before it starts")
        for name in self.by:
            if name not in DIMENSIONS:
                raise ReportError("by", f"cannot group by {name!r}: one of {', '.join(DIMENSIONS)}")
        if len(set(self.by)) != len(self.by):
            raise ReportError("by", "a dimension is named twice")
        for name in self.filters:
            if name not in DIMENSIONS:
                raise ReportError(name, f"cannot filter by {name!r}")
        if self.period is not None and self.period not in PERIODS:
            raise ReportError("period", f"the period is one of {', '.join(PERIODS)}")
        if self.suppress_below < 1:
            raise ReportError("suppress_below", "the suppression threshold is 1 or more")


def period_label(day: str, period: Period | None) -> str:
    """The label of the period a day (YYYY-MM-DD) falls in ('' without periods)."""
    if period is None:
        return ""
    if period == "day":
        return day
    if period == "month":
        return day[:7]
    if period == "year":
        return day[:4]
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


def _spans(start: date, end: date, whole_months: bool) -> list[tuple[str, str, str]]:
    """(table, first, last) pieces covering the days: whole months from the monthly
    rollup when allowed, the days at the edges from the daily one."""
    if not whole_months:
        return [("daily", start.isoformat(), end.isoformat())]
    pieces: list[tuple[str, str, str]] = []
    first_month = start if start.day == 1 else _next_month(start)
    last_of_end = date(end.year, end.month, calendar.monthrange(end.year, end.month)[1])
    last_month_end = end if end == last_of_end else date(end.year, end.month, 1) - timedelta(1)
    if first_month > last_month_end:
        return [("daily", start.isoformat(), end.isoformat())]
    if start < first_month:
        pieces.append(("daily", start.isoformat(), (first_month - timedelta(1)).isoformat()))
    pieces.append(("monthly", first_month.isoformat()[:7], last_month_end.isoformat()[:7]))
    if last_month_end < end:
        pieces.append(("daily", (last_month_end + timedelta(1)).isoformat(), end.isoformat()))
    return pieces


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


async def report(database: Database, query: ReportQuery) -> list[dict[str, Any]]:
    """Run a report: one row per period and combination of the grouped dimensions."""
    sums = rollup_columns()
    groups: dict[tuple[str, ...], list[int]] = {}
    whole_months = query.period in (None, "month", "year")
    for table, first, last in _spans(query.start, query.end, whole_months):
        for period, dims, values in await _fetch(database, table, first, last, query, sums):
            # A monthly row's period is YYYY-MM: its month and year labels are the same.
            day = period if len(period) == 10 else period + "-01"
            key = (period_label(day, query.period), *dims)
            current = groups.setdefault(key, [0] * len(sums))
            for i, value in enumerate(values):
                current[i] += int(value)
    rows = [_kpis(key, values, query) for key, values in sorted(groups.items())]
    return [row for row in rows if row["sessions"] != 0]


async def _fetch(
    database: Database, table: str, first: str, last: str, query: ReportQuery, sums: list[str]
) -> Iterable[tuple[str, tuple[str, ...], tuple[Any, ...]]]:
    by = list(query.by)
    select = ", ".join(["period", *by, *(f"SUM({c})" for c in sums)])
    where = ["period BETWEEN ? AND ?"]
    args: list[Any] = [first, last]
    for name, values in sorted(query.filters.items()):
        where.append(f"{name} IN ({', '.join('?' * len(values))})")
        args += list(values)
    sql = (
        f"SELECT {select} FROM {table} WHERE {' AND '.join(where)} "
        f"GROUP BY {', '.join(['period', *by])}"
    )
    width = len(by)
    return [
        (str(r[0]), tuple(str(v) for v in r[1 : 1 + width]), r[1 + width :])
        for r in await database.fetch(sql, args)
    ]


def percentile(edges: tuple[int, ...], counts: list[int], p: float) -> float | None:
    """The p-th quantile of a histogram, interpolated within its bucket (None: empty)."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = p * total
    seen = 0
    for i, count in enumerate(counts):
        if count > 0 and seen + count >= rank:
            low = edges[i]
            if i + 1 == len(edges):
                return float(low)  # the open last bucket: "at least"
            return round(low + (rank - seen) / count * (edges[i + 1] - low), 1)
        seen += count
    return float(edges[-1])


def _kpis(key: tuple[str, ...], values: list[int], query: ReportQuery) -> dict[str, Any]:
    """One report row: the grouping, the counts and the derived figures, suppressed."""
    named = dict(zip(rollup_columns(), values, strict=True))
    hist = {name: [named[c] for c in bucket_columns(name)] for name in HISTOGRAMS}
    row: dict[str, Any] = {}
    if query.period is not None:
        row["period"] = key[0]
    row.update(zip(query.by, key[1:], strict=True))
    counts = {name: named[name] for name in COUNTS}
    row.update(counts)

    def ratio(part: int, whole: int) -> float | None:
        return round(part / whole, 3) if whole else None

    figures: dict[str, Any] = {
        "wait_p50_s": percentile(HISTOGRAMS["wait"], hist["wait"], 0.5),
        "wait_p90_s": percentile(HISTOGRAMS["wait"], hist["wait"], 0.9),
        "handling_p50_s": percentile(HISTOGRAMS["handling"], hist["handling"], 0.5),
        "interp_fill_rate": ratio(counts["interp_filled"], counts["interp_requested"]),
        "interp_p50_s": percentile(HISTOGRAMS["interp"], hist["interp"], 0.5),
        "satisfaction_mean": round(named["satisfaction_sum"] / counts["satisfaction_n"], 2)
        if counts["satisfaction_n"]
        else None,
        "technical_failure_rate": ratio(counts["technical_failures"], counts["sessions"]),
        "abandoned_rate": ratio(counts["abandoned"], counts["sessions"]),
    }
    row.update(figures)
    quality_n = named["quality_n"]
    row["rtt_ms_mean"] = round(named["rtt_ms_sum"] / quality_n, 1) if quality_n else None
    row["loss_pct_mean"] = round(named["loss_pct_sum"] / 100 / quality_n, 2) if quality_n else None
    row["fps_mean"] = round(named["fps_sum"] / 100 / quality_n, 1) if quality_n else None
    return _suppress(row, query.suppress_below, quality_n)


def _suppress(row: dict[str, Any], below: int, quality_n: int) -> dict[str, Any]:
    """Withhold counts of 1 to below-1, and every figure computed from such a count."""
    hidden = [name for name in COUNTS if 0 < row[name] < below]
    # A group smaller than the threshold shows nothing at all but that it exists.
    if 0 < row["sessions"] < below:
        hidden = list(COUNTS)
    # A figure computed from a withheld count would give it away (or say too much about
    # the few sessions behind it).
    hidden += [name for name, needs in DERIVED.items() if any(n in hidden for n in needs)]
    if 0 < quality_n < below or "sessions" in hidden:
        hidden += ["rtt_ms_mean", "loss_pct_mean", "fps_mean"]
    for name in hidden:
        row[name] = None
    row["suppressed"] = sorted(set(hidden))
    return row
