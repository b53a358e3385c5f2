"""Calls' media quality: participants' reports combined into the session_ended event."""

from __future__ import annotations

import asyncio
import json

import pytest

from signaling.protocol import Ack, CallQueued, Error, ErrorCode, Offer, QualityFigures
from signaling.quality import combine
from signaling.store import Store

from .support import booth_client, running_node, staff_client

KELA_CALL = {"type": "call_request", "agency": "kela", "service": "general", "language": "fi"}


def test_figures_combine_weighted_by_samples() -> None:
    booth = QualityFigures(rtt_ms=100, loss_pct=1.0, fps=30, samples=30)
    expert = QualityFigures(rtt_ms=40, loss_pct=None, fps=20, samples=10)
    both = combine([booth, expert])
    assert both == QualityFigures(rtt_ms=85.0, loss_pct=1.0, fps=27.5, samples=40)
    assert combine([]) is None


async def test_reports_reach_the_end_event_and_outsiders_are_refused(store: Store) -> None:
    async with running_node(store) as node:
        booth = await booth_client(node.base_url)
        expert = await staff_client(node.base_url, "kela.expert")
        other = await booth_client(node.base_url, "bus-lieksa")
        try:
            await expert.request({"type": "set_availability", "status": "available"}, expect=Ack)
            sid = (await booth.request(KELA_CALL, expect=CallQueued)).session.session_id
            await expert.wait_for(Offer, lambda o: o.session_id == sid)
            await expert.request({"type": "offer_accept", "session_id": sid}, expect=Ack)
            report = {"type": "quality_report", "session_id": sid}
            # A running summary: the later one replaces the earlier of the same member.
            await booth.send({**report, "quality": {"rtt_ms": 500, "fps": 5, "samples": 3}})
            await booth.send(
                {**report, "quality": {"rtt_ms": 120, "loss_pct": 2.0, "fps": 24, "samples": 30}}
            )
            await expert.send({**report, "quality": {"rtt_ms": 60, "fps": 30, "samples": 10}})
            # Someone outside the call may not report on it; nonsense is refused.
            await other.send({**report, "quality": {"rtt_ms": 1, "samples": 1}})
            assert (await other.wait_for(Error)).code == ErrorCode.FORBIDDEN
            await booth.send_raw(json.dumps({**report, "quality": {"rtt_ms": -1, "samples": 1}}))
            refused = await booth.wait_for(Error)
            assert refused.code == ErrorCode.INVALID_FIELD
            await asyncio.sleep(0.2)
            await expert.request(
                {"type": "session_end", "session_id": sid, "outcome": "resolved"}, expect=Ack
            )
            events = [e for _, e in await store.read_events(count=1000)]
            (ended,) = [e for e in events if e["kind"] == "session_ended"]
            assert ended["quality"] == {
                "rtt_ms": 105.0,
                "loss_pct": 2.0,
                "fps": 25.5,
                "samples": 40,
            }
            # After the end, a report is too late: it changes nothing and is not an error.
            await booth.send({**report, "quality": {"rtt_ms": 1, "samples": 1}})
            with pytest.raises(asyncio.TimeoutError):
                await booth.wait_for(Error, timeout=0.5)
        finally:
            for client in (booth, expert, other):
                await client.close()
