"""A report as JSON, CSV or a text table: the same rows and columns in each."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from .report import COUNTS, DERIVED, ReportQuery

FIGURES = (*DERIVED, "rtt_ms_mean", "loss_pct_mean", "fps_mean")


def columns(query: ReportQuery) -> list[str]:
    """The report's columns: the period, the groupings, the counts and the figures."""
    head = ["period"] if query.period else []
    return [*head, *query.by, *COUNTS, *FIGURES, "suppressed"]


def as_json(query: ReportQuery, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The report as one JSON object (the REST API's and `--format json`'s shape)."""
    return {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "period": query.period,
        "by": list(query.by),
        "filters": {name: list(values) for name, values in sorted(query.filters.items())},
        "suppress_below": query.suppress_below,
        "columns": columns(query),
        "rows": rows,
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def as_csv(query: ReportQuery, rows: list[dict[str, Any]]) -> str:
    """The report as CSV: a header row, then one line per row; withheld cells are empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = columns(query)
    writer.writerow(names)
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in names])
    return out.getvalue()


def as_table(query: ReportQuery, rows: list[dict[str, Any]]) -> str:
    """The report as an aligned text table for a terminal (withheld cells show '·')."""
    names = [n for n in columns(query) if n != "suppressed"]
    cells = [[("·" if row.get(n) is None else _cell(row.get(n))) for n in names] for row in rows]
    widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    span = f"{query.start.isoformat()} – {query.end.isoformat()}"
    lines.append(f"({len(rows)} rows, {span}; '·' withheld: fewer than {query.suppress_below})")
    return "\n".join(lines)


def parse_day(text: str, field: str) -> date:
    """A YYYY-MM-DD day, or a ValueError naming the field."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field}: not a day (YYYY-MM-DD): {text!r}") from None
