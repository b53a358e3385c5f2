"""Calls' media quality: each participant's running summary, combined when the call ends.

Clients send `quality_report` now and then with their getStats means so far; the latest
of each participant is kept beside the session (not in it: reports must not contend with
the session's own compare-and-set), and the session_ended event carries the combination.
"""

from __future__ import annotations

from .protocol import QualityFigures
from .records import Record
from .store import Store

QUALITY = "sq"
KEEP_S = 24 * 3600  # a call longer than a day has bigger problems than its statistics
MAX_CAS_RETRIES = 10


class CallQuality(Record):
    """The latest summary of each participant (by subject) of one call."""

    reports: dict[str, QualityFigures] = {}


async def record_quality(
    store: Store, session_id: str, subject: str, figures: QualityFigures
) -> None:
    """Keep a participant's latest summary of the call."""
    for _ in range(MAX_CAS_RETRIES):
        record = await store.load_record(QUALITY, session_id, CallQuality) or CallQuality()
        record.reports[subject] = figures
        if await store.save_record(QUALITY, session_id, record, KEEP_S):
            return


def combine(reports: list[QualityFigures]) -> QualityFigures | None:
    """The call's figures: each participant's means weighted by its samples."""
    if not reports:
        return None

    def mean(name: str) -> float | None:
        pairs = [(getattr(r, name), r.samples) for r in reports if getattr(r, name) is not None]
        weight = sum(samples for _, samples in pairs)
        return round(sum(v * s for v, s in pairs) / weight, 2) if weight else None

    return QualityFigures(
        rtt_ms=mean("rtt_ms"),
        loss_pct=mean("loss_pct"),
        fps=mean("fps"),
        samples=sum(r.samples for r in reports),
    )


async def call_quality(store: Store, session_id: str) -> QualityFigures | None:
    """The combined figures of a call, or None when nobody reported."""
    record = await store.load_record(QUALITY, session_id, CallQuality)
    return combine(list(record.reports.values())) if record else None
