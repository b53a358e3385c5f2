"""Statistics as a user meets them: a real `etapiste serve --stats-db` counts real calls;
supervisors read reports over REST (scoped to their agencies) and as CSV; the
`etapiste stats report` command prints the same on the command line."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from signaling.protocol import Ack, CallQueued, Offer, SessionEnded

from .postgres_server import PostgresServer
from .support import REPO, ServeProcess, booth_client, eventually, login, serving, staff_client

KELA_CALL = {"type": "call_request", "agency": "kela", "service": "general", "language": "fi"}
CALLS = 5  # the smallest number a published report shows


async def served_calls(base_url: str, count: int) -> list[str]:
    """Make `count` Kela calls from lib-kitee, each answered, ended and rated 4."""
    booth = await booth_client(base_url)
    expert = await staff_client(base_url, "kela.expert")
    ids = []
    try:
        await expert.request({"type": "set_availability", "status": "available"}, expect=Ack)
        for _ in range(count):
            queued = await booth.request(KELA_CALL, expect=CallQueued)
            sid = queued.session.session_id
            await expert.wait_for(Offer, lambda o, sid=sid: o.session_id == sid)
            await expert.request({"type": "offer_accept", "session_id": sid}, expect=Ack)
            await expert.request(
                {"type": "session_end", "session_id": sid, "outcome": "resolved"}, expect=Ack
            )
            await booth.wait_for(SessionEnded, lambda e, sid=sid: e.session_id == sid)
            await booth.request({"type": "feedback", "session_id": sid, "score": 4}, expect=Ack)
            ids.append(sid)
            # Past the wrap-up, the expert takes the next call.
            await expert.request({"type": "set_availability", "status": "available"})
    finally:
        await booth.close()
        await expert.close()
    return ids


async def get(base_url: str, username: str, params: dict[str, str]) -> tuple[int, Any]:
    token = await login(base_url, username, "demo")
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            base_url + "/console/api/stats/report",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        if resp.content_type == "text/csv":
            return resp.status, await resp.text()
        return resp.status, await resp.json()


def today() -> str:
    return date.today().isoformat()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stats_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        return server.create_database(f"service_{tmp_path.name.replace('-', '_')}")
    return f"sqlite:///{tmp_path / 'stats.db'}"


@pytest.mark.timeout(120)
async def test_calls_are_counted_and_reported_to_supervisors(stats_db_url: str) -> None:
    async with serving("memory", "stats-node", extra=["--stats-db", stats_db_url]) as node:
        await served_calls(node.base_url, CALLS)
        day = {"from": today(), "to": today()}

        async def counted() -> bool:
            status, body = await get(node.base_url, "supervisor", {**day, "by": "agency"})
            return status == 200 and [r["sessions"] for r in body["rows"]] == [CALLS]

        await eventually(counted, timeout=20, message="the calls in the report")
        status, body = await get(
            node.base_url, "supervisor", {**day, "by": "site,agency,outcome", "period": "day"}
        )
        assert status == 200, body
        (row,) = body["rows"]
        assert (row["period"], row["site"], row["agency"], row["outcome"]) == (
            today(),
            "lib-kitee",
            "kela",
            "resolved",
        )
        assert row["sessions"] == row["served"] == CALLS
        assert row["satisfaction_n"] == CALLS and row["satisfaction_mean"] == 4.0
        assert row["abandoned"] == 0 and row["wait_p50_s"] is not None
        assert body["suppress_below"] == 5 and "wait_p90_s" in body["columns"]

        # A Kela supervisor sees Kela; another agency is refused, naming the field.
        status, body = await get(node.base_url, "kela.supervisor", {**day, "by": "agency"})
        assert status == 200 and [r["agency"] for r in body["rows"]] == ["kela"]
        assert body["filters"] == {"agency": ["kela"]}
        status, body = await get(node.base_url, "kela.supervisor", {**day, "agency": "vero"})
        assert status == 403 and body["error"]["field"] == "agency"
        # Experts and interpreters get no statistics; nobody gets them without signing in.
        status, body = await get(node.base_url, "kela.expert", day)
        assert status == 403 and body["error"]["code"] == "forbidden"
        async with (
            aiohttp.ClientSession() as http,
            http.get(node.base_url + "/console/api/stats/report", params=day) as resp,
        ):
            assert resp.status == 401
        # Bad requests name the offending field and change nothing.
        for params, field in (
            ({"to": today()}, "from"),
            ({**day, "by": "name"}, "by"),
            ({**day, "period": "fortnight"}, "period"),
            ({**day, "from": "yesterday"}, "from"),
            ({**day, "ssn": "1"}, "ssn"),
            ({**day, "format": "xml"}, "format"),
        ):
            status, body = await get(node.base_url, "admin", params)
            assert status == 400, (params, body)
            assert (body["error"]["code"], body["error"]["field"]) == ("invalid_field", field)

        # The CSV export: the same columns and figures.
        status, text = await get(node.base_url, "admin", {**day, "by": "agency", "format": "csv"})
        assert status == 200
        (line,) = list(csv.DictReader(io.StringIO(text)))
        assert line["agency"] == "kela" and line["sessions"] == str(CALLS)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etapiste", "stats", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.timeout(120)
async def test_the_report_command_prints_table_json_and_csv(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    async with serving("memory", "stats-cli-node", extra=["--stats-db", url]) as node:
        await served_calls(node.base_url, CALLS)

        async def counted() -> bool:
            status, body = await get(node.base_url, "admin", {"from": today(), "to": today()})
            return status == 200 and bool(body["rows"]) and body["rows"][0]["sessions"] == CALLS

        await eventually(counted, timeout=20, message="the calls in the database")
    span = ["--from", today(), "--to", today(), "--db", url]
    result = await asyncio.to_thread(cli, "report", *span, "--by", "agency", "--format", "json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert [(r["agency"], r["sessions"]) for r in body["rows"]] == [("kela", CALLS)]
    result = await asyncio.to_thread(cli, "report", *span, "--by", "site", "--format", "csv")
    assert result.stdout.splitlines()[0].startswith("site,sessions,served,")
    result = await asyncio.to_thread(cli, "report", *span, "--by", "agency")
    assert result.returncode == 0 and "kela" in result.stdout and "sessions" in result.stdout
    # Withheld below the threshold: the cell shows '·' in the table.
    result = await asyncio.to_thread(
        cli, "report", *span, "--by", "agency", "--suppress-below", "10"
    )
    assert "·" in result.stdout.splitlines()[1]
    result = await asyncio.to_thread(cli, "report", *span, "--by", "surname")
    assert result.returncode == 2 and "invalid_field (by)" in result.stderr
    result = await asyncio.to_thread(cli, "report", "--from", "2026-13-01", "--to", today())
    assert result.returncode == 2 and "from" in result.stderr


async def test_a_node_without_statistics_has_no_report(node: ServeProcess) -> None:
    status, body = await get(node.base_url, "admin", {"from": today(), "to": today()})
    assert status == 404 and body["error"]["code"] == "not_found"
