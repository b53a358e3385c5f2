"""Booth health reports over the wire, and the fleet view built from them."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from signaling.client import SignalingError, login
from signaling.fleet import OFFLINE_AFTER_S, fleet
from signaling.protocol import Error, ErrorCode
from signaling.store import MemoryStore

from .support import (
    BoothProcess,
    ServeProcess,
    booth_client,
    eventually,
    node_of,
    running_node,
    staff_client,
)


def report(**changes: Any) -> dict[str, Any]:
    """Return a healthy booth's report with some fields changed."""
    devices = {"camera": "ok", "microphone": "ok", "speaker": "ok", "document_camera": "ok"}
    devices.update(changes.pop("devices", {}))
    return {
        "type": "booth_health",
        "devices": devices,
        "rtt_ms": 42.0,
        "loss_pct": 0.5,
        "cpu_pct": 15.0,
        "disk_free_pct": 60.0,
        "kiosk": "running",
        "software_version": "0.1.0",
        **changes,
    }


async def test_reports_make_booths_online_then_offline_when_they_stop() -> None:
    store = MemoryStore()
    async with running_node(store) as node:
        kitee = await booth_client(node.base_url, role="agent")
        lieksa = await booth_client(node.base_url, "bus-lieksa", role="agent")
        try:
            await kitee.request(report())
            await lieksa.request(report(devices={"document_camera": "missing"}))
            n = node_of(node)
            now = n.clock()
            states = {s.site: s for s in await fleet(store, n.directory, now)}
            assert states["lib-kitee"].status == "online"
            assert states["lib-kitee"].report is not None
            assert states["lib-kitee"].report["rtt_ms"] == 42.0
            assert states["bus-lieksa"].status == "device_problem"
            assert states["bus-lieksa"].kind == "XS"
            assert states["th-kaskinen"].status == "never_seen"
            later = {
                s.site: s.status for s in await fleet(store, n.directory, now + OFFLINE_AFTER_S + 1)
            }
            assert later["lib-kitee"] == later["bus-lieksa"] == "offline"
        finally:
            await kitee.close()
            await lieksa.close()


async def test_only_booth_agents_report_health_and_bad_reports_change_nothing() -> None:
    store = MemoryStore()
    async with running_node(store) as node:
        expert = await staff_client(node.base_url, "kela.expert")
        kiosk = await booth_client(node.base_url)
        booth = await booth_client(node.base_url, role="agent")
        try:
            for not_an_agent in (expert, kiosk):
                with pytest.raises(SignalingError) as refused:
                    await not_an_agent.request(report())
                assert (refused.value.code, refused.value.field) == (ErrorCode.FORBIDDEN, "type")
            # The Python client refuses to send these, so they go as raw frames.
            await booth.send_raw(json.dumps({**report(cpu_pct=150), "id": "bad1"}))
            bad = await booth.wait_for(Error, lambda e: e.id == "bad1")
            assert (bad.code, bad.field) == (ErrorCode.INVALID_FIELD, "cpu_pct")
            await booth.send_raw(json.dumps({**report(devices={"camera": "broken"}), "id": "bad2"}))
            bad_device = await booth.wait_for(Error, lambda e: e.id == "bad2")
            assert bad_device.field == "devices.camera"
            assert await store.booth_health() == {}
        finally:
            await expert.close()
            await kiosk.close()
            await booth.close()


# --- the fleet API and the device test, with a real booth agent ---------------------------


async def fleet_api(
    base_url: str, username: str, method: str = "GET", path: str = "/console/api/fleet"
) -> tuple[int, Any]:
    token = await login(base_url, username, "demo")
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, base_url + path, headers={"Authorization": f"Bearer {token}"}) as r,
    ):
        return r.status, await r.json()


@pytest.mark.timeout(60)
async def test_a_supervisor_sees_the_fleet_and_a_device_test_reaches_the_real_agent(
    node: ServeProcess,
) -> None:
    booth = BoothProcess(node.base_url)
    await booth.start()
    try:

        async def reporting() -> bool:
            status, body = await fleet_api(node.base_url, "kela.supervisor")
            states = {b["site"]: b for b in body.get("booths", [])}
            return status == 200 and states["lib-kitee"]["last_report_at"] is not None

        await eventually(reporting, timeout=20, message="lib-kitee reporting in the fleet")
        status, body = await fleet_api(node.base_url, "admin")
        kitee = next(b for b in body["booths"] if b["site"] == "lib-kitee")
        # No kiosk page is open here: the agent says so, and the booth needs a look.
        assert kitee["report"]["kiosk"] == "starting" and kitee["status"] == "device_problem"
        assert kitee["in_call"] is False and kitee["report"]["software_version"]
        assert {b["site"]: b["status"] for b in body["booths"]}["bus-lieksa"] == "never_seen"

        status, body = await fleet_api(
            node.base_url, "supervisor", "POST", "/console/api/fleet/lib-kitee/device-test"
        )
        assert status == 202, body
        test_id = body["test_id"]

        async def tested() -> bool:
            _, body = await fleet_api(node.base_url, "supervisor")
            kitee = next(b for b in body["booths"] if b["site"] == "lib-kitee")
            return kitee["report"].get("test_id") == test_id

        # Sooner than the agent's next regular report would come with its own timing.
        await eventually(tested, timeout=10, message="the device test's report")

        # A booth whose agent is not connected, a site that does not exist, an expert.
        status, body = await fleet_api(
            node.base_url, "admin", "POST", "/console/api/fleet/bus-lieksa/device-test"
        )
        assert (status, body["error"]["code"], body["error"]["field"]) == (409, "conflict", "site")
        status, body = await fleet_api(
            node.base_url, "admin", "POST", "/console/api/fleet/nowhere/device-test"
        )
        assert (status, body["error"]["field"]) == (404, "site")
        status, body = await fleet_api(node.base_url, "kela.expert")
        assert (status, body["error"]["code"]) == (403, "forbidden")
    finally:
        await booth.stop()
