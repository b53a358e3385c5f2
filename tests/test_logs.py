"""Logs and metrics as operators use them: one JSON object per line following a session by
its id with nothing personal, and a Grafana dashboard of what the nodes export."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys

import aiohttp
import pytest

from signaling.logs import JsonFormatter, configure_logging, public_name
from signaling.protocol import Ack, CallQueued, Error, Offer
from signaling.store import MemoryStore

from .support import REPO, booth_client, running_node, serving, staff_client

KELA_CALL = {"type": "call_request", "agency": "kela", "service": "general", "language": "fi"}


def test_a_record_becomes_one_line_of_json_with_its_fields() -> None:
    formatter = JsonFormatter(node="node-a")
    record = logging.LogRecord(
        "etapiste", logging.WARNING, __file__, 1, "%s went %s", ("x", "y"), None
    )
    record.session_id = "s-1"
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "x went y" and entry["level"] == "warning"
    assert (entry["node"], entry["session_id"], entry["logger"]) == ("node-a", "s-1", "etapiste")
    assert entry["at"].endswith("+00:00")
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord(
            "etapiste", logging.ERROR, __file__, 2, "failed", (), sys.exc_info()
        )
    assert "ValueError: boom" in json.loads(formatter.format(failed))["exception"]


async def test_a_call_is_traced_by_session_id_without_names(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="signaling.routing")
    async with running_node(MemoryStore()) as node:
        booth = await booth_client(node.base_url)
        expert = await staff_client(node.base_url, "kela.expert")
        try:
            await expert.request({"type": "set_availability", "status": "available"}, expect=Ack)
            sid = (await booth.request(KELA_CALL, expect=CallQueued)).session.session_id
            await expert.wait_for(Offer, lambda o: o.session_id == sid)
            await expert.request({"type": "offer_accept", "session_id": sid}, expect=Ack)
            await expert.request(
                {"type": "session_end", "session_id": sid, "outcome": "resolved"}, expect=Ack
            )
        finally:
            await booth.close()
            await expert.close()
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records if getattr(r, "session_id", None) == sid]
    events = [json.loads(line)["event"] for line in lines]
    assert events[0] == "session_requested" and "session_ended" in events, events
    text = "\n".join(lines)
    for personal in ("kela.expert", "Anna", "Virtanen", "127.0.0.1"):
        assert personal not in text


def test_configure_logging_replaces_the_handlers() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        configure_logging("json", node="n")
        configure_logging("json", node="n")
        assert len(root.handlers) == 1
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in before:
            root.addHandler(handler)


async def test_the_grafana_dashboard_asks_only_for_metrics_a_node_exports() -> None:
    dashboard = json.loads((REPO / "infra/grafana/etapiste-signaling.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    wanted = {name for expr in exprs for name in re.findall(r"etapiste_[a-z_]+", expr)}
    assert len(wanted) >= 8, wanted
    async with running_node(MemoryStore()) as node:
        booth = await booth_client(node.base_url)  # so that labelled series exist
        try:
            await booth.request(KELA_CALL, expect=CallQueued)
            await booth.send_raw("not json")  # an error sent, for the errors' series
            await booth.wait_for(Error)
            async with aiohttp.ClientSession() as http, http.get(node.base_url + "/metrics") as r:
                exported = await r.text()
        finally:
            await booth.close()
    missing = sorted(name for name in wanted if f"\n{name}" not in exported)
    assert missing == [], missing


async def test_a_real_node_logs_json_lines_that_follow_the_session() -> None:
    async with serving("memory", "json-logs", extra=["--log-format", "json"]) as node:
        booth = await booth_client(node.base_url)
        try:
            sid = (await booth.request(KELA_CALL, expect=CallQueued)).session.session_id
        finally:
            await booth.close()
        await asyncio.sleep(0.3)
        lines = node.log_path.read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    traced = [e for e in entries if e.get("session_id") == sid]
    assert [e["event"] for e in traced][:2] == ["session_requested", "session_queued"], traced
    assert all(e["node"] == "json-logs" and e["site"] == "lib-kitee" for e in traced)


def test_logs_name_booths_by_site_and_staff_by_kind_only() -> None:
    assert public_name("site:lib-kitee") == "site lib-kitee"
    assert public_name("staff:kela.expert") == "staff"
    assert public_name("guest:ap-123") == "guest"
