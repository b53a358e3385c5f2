"""Sessions derived from their events, and what a finished session adds to the rollups.

Pure functions on plain dicts (the consumer's hot path): an event is the JSON of
signaling.events.Event; a session row is a dict of the sessions table's columns.
Events may come out of order, twice, or not at all (docs/adr/0008): each carries the
session's snapshot, so a row is the merge of what its events say.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .schema import COUNTERS, DIMENSIONS, HISTOGRAMS

Session = dict[str, Any]
Event = dict[str, Any]

FINAL_STATES = frozenset({"ended", "abandoned", "failed"})
INTERPRETER_ASKED = frozenset({"interpreter_requested", "interpreter_unavailable"})
INTERPRETER_NOT_FOUND = frozenset({"interpreter_unanswered", "interpreter_unavailable"})
# A call counts as a technical failure when it failed, the booth was lost, or its
# measured quality was below what a conversation needs (clients' getStats summary).
LOSS_LIMIT_PCT = 5.0
FPS_LIMIT = 10.0

SESSION_COLUMNS = (
    "session_id",
    "day",
    "month",
    *DIMENSIONS,
    "interpreter_language",
    "state",
    "final",
    "end_reason",
    "requested_at",
    "answered_at",
    "ended_at",
    "transfers",
    "satisfaction",
    "interp_requested",
    "interp_joined",
    "interp_unanswered",
    "interp_wait_s",
    "rtt_ms",
    "loss_pct",
    "fps",
    "last_event_at",
)


def periods(at: float, zone: ZoneInfo) -> tuple[str, str]:
    """The local day (YYYY-MM-DD) and month (YYYY-MM) of a Unix time."""
    day = datetime.fromtimestamp(at, zone).date().isoformat()
    return day, day[:7]


def _need(event: Event) -> dict[str, Any] | None:
    need = event.get("interpreting") or event.get("interpreter")
    return need if isinstance(need, dict) else None


def new_session(event: Event, zone: ZoneInfo) -> Session:
    """The row of a session first seen in ``event``."""
    day, month = periods(float(event["requested_at"]), zone)
    row: Session = dict.fromkeys(SESSION_COLUMNS)
    row.update(
        session_id=event["session_id"],
        day=day,
        month=month,
        modality="",
        outcome="",
        requested_at=float(event["requested_at"]),
        transfers=0,
        interp_requested=0,
        interp_joined=0,
        interp_unanswered=0,
        final=0,
        state=event["state"],
        last_event_at=float("-inf"),
    )
    return row


def merge(row: Session | None, event: Event, zone: ZoneInfo) -> Session:
    """Return the session ``row`` (None: first seen) with ``event`` taken into account."""
    merged = new_session(event, zone) if row is None else dict(row)
    at = float(event["at"])
    if at >= merged["last_event_at"]:
        # The latest word on where the call is (a transfer changes the queue) and how.
        for name in ("site", "site_kind", "municipality", "region", "agency", "service"):
            merged[name] = event[name]
        merged["language"] = event["language"]
        merged["state"] = event["state"]
        merged["last_event_at"] = at
    if merged["state"] in FINAL_STATES or event["state"] in FINAL_STATES:
        merged["final"] = 1
        if merged["state"] not in FINAL_STATES:
            merged["state"] = event["state"]
    merged["requested_at"] = min(merged["requested_at"], float(event["requested_at"]))
    if event.get("answered_at") is not None:
        answered = float(event["answered_at"])
        first = merged["answered_at"]
        merged["answered_at"] = answered if first is None else min(first, answered)
    if event.get("ended_at") is not None:
        merged["ended_at"] = max(merged["ended_at"] or 0.0, float(event["ended_at"]))
    merged["transfers"] = max(merged["transfers"], int(event.get("transfers") or 0))
    if event.get("outcome"):
        merged["outcome"] = event["outcome"]
    if event.get("feedback") is not None:
        merged["satisfaction"] = int(event["feedback"])
    kind = event["kind"]
    if kind == "session_ended" and event.get("reason"):
        merged["end_reason"] = event["reason"]
    _merge_interpreting(merged, event, kind)
    _merge_quality(merged, event.get("quality"))
    return merged


def _merge_interpreting(row: Session, event: Event, kind: str) -> None:
    need = _need(event)
    if need is not None and not row["modality"]:
        row["modality"] = need["modality"]
        row["interpreter_language"] = need["language"]
    if kind in INTERPRETER_ASKED:
        row["interp_requested"] = 1
    if kind in INTERPRETER_NOT_FOUND:
        row["interp_unanswered"] = 1
    if kind == "participant_joined" and event.get("participant_kind") == "interpreter":
        row["interp_joined"] = 1
        row["interp_requested"] = 1
        waited = event.get("interpreter_wait_s")
        if waited is not None:
            first = row["interp_wait_s"]
            row["interp_wait_s"] = float(waited) if first is None else min(first, float(waited))


def _merge_quality(row: Session, quality: Any) -> None:
    if not isinstance(quality, dict):
        return
    for name in ("rtt_ms", "loss_pct", "fps"):
        if quality.get(name) is not None:
            row[name] = float(quality[name])


# --- rollups -------------------------------------------------------------------------


def technical_failure(row: Session) -> bool:
    """Tell whether a finished call failed technically (see LOSS_LIMIT_PCT, FPS_LIMIT)."""
    if row["state"] == "failed" or row["end_reason"] == "booth_lost":
        return True
    loss, fps = row["loss_pct"], row["fps"]
    return (loss is not None and loss > LOSS_LIMIT_PCT) or (fps is not None and fps < FPS_LIMIT)


def durations(row: Session) -> dict[str, float | None]:
    """The wait to an answer, the handling time and the time to an interpreter (seconds)."""
    answered = row["answered_at"]
    wait = None if answered is None else max(0.0, answered - row["requested_at"])
    handling = None
    if answered is not None and row["ended_at"] is not None:
        handling = max(0.0, row["ended_at"] - answered)
    return {"wait": wait, "handling": handling, "interp": row["interp_wait_s"]}


def bucket(edges: tuple[int, ...], seconds: float) -> int:
    """The index of the histogram bucket that holds ``seconds``."""
    return max(0, bisect_right(edges, seconds) - 1)


def contribution(row: Session) -> list[int | float]:
    """What a finished session adds to its rollup rows, in rollup_columns() order."""
    served = row["answered_at"] is not None
    quality = row["rtt_ms"] is not None or row["loss_pct"] is not None or row["fps"] is not None
    counters: dict[str, int | float] = {
        "sessions": 1,
        "served": int(served),
        "abandoned": int(row["state"] == "abandoned" and not served),
        "failed": int(row["state"] == "failed"),
        "transfers": row["transfers"],
        "transferred": int(row["transfers"] > 0),
        "satisfaction_n": int(row["satisfaction"] is not None),
        "satisfaction_sum": row["satisfaction"] or 0,
        "interp_requested": row["interp_requested"],
        "interp_filled": row["interp_joined"],
        "interp_unanswered": int(row["interp_unanswered"] and not row["interp_joined"]),
        "technical_failures": int(technical_failure(row)),
        "quality_n": int(quality),
        # Sums of quality figures are kept in integer units (ms, 0.01 %, 0.01 fps).
        "rtt_ms_sum": round(row["rtt_ms"] or 0),
        "loss_pct_sum": round((row["loss_pct"] or 0) * 100),
        "fps_sum": round((row["fps"] or 0) * 100),
    }
    values: list[int | float] = [counters[name] for name in COUNTERS]
    spans = durations(row)
    for name, edges in HISTOGRAMS.items():
        counts = [0] * len(edges)
        seconds = spans[name]
        if seconds is not None:
            counts[bucket(edges, seconds)] = 1
        values += counts
    return values


def rollup_key(row: Session) -> tuple[str, ...]:
    """The session's dimension values, in DIMENSIONS order."""
    return tuple(str(row[d] or "") for d in DIMENSIONS)
