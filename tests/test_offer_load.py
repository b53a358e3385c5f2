"""200 protocol-only booths and 50 experts through real nodes: no offer lost or duplicated.

The load runs against one real ``etapiste serve`` on the memory store, and against two
real nodes sharing one real Redis with booths and experts spread over both, where
"exactly one winner" has to hold across processes. Booths request calls one after
another (a few cancel while they wait); experts accept most offers, decline some, let a
few ring out (never two in a row, which would pause them) and end each call "resolved"
after a short hold.

Pass or fail comes from correctness alone: what every client saw (tests/load.py
check_ledger), the nodes' counters, and with Redis the events log, session by session.
The measured numbers are printed (run with -s); they are not judged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.relay_baseline import raise_nofile_limit
from signaling.store import Store, open_store

from .conftest import STORE_SPECS
from .load import (
    CallSeen,
    Ledger,
    LoadBooth,
    LoadExpert,
    check_events,
    check_ledger,
    check_metrics,
    connect_booths,
    connect_experts,
    expert_plan,
    offer_overlaps,
    scrape_metrics,
    watch_for_stalls,
    write_directory,
)
from .support import ServeProcess, eventually, serving

pytestmark = pytest.mark.timeout(150)

BOOTHS = 200
EXPERTS = 50
CALLS_PER_BOOTH = 3
RING_TIMEOUT_S = 2.0
ROUTING = {
    "ring_timeout_s": RING_TIMEOUT_S,
    # A declined or rung-out call skips that expert this long; short, so that an idle
    # expert next to a waiting call always means the routing dropped it.
    "reoffer_cooldown_s": 0.5,
}
# A load client starved of CPU for a while (the machine is shared) must not be dropped by
# the heartbeat: liveness is tested elsewhere; this test is about routing.
LIMITS = {"heartbeat_s": 60}
BEHAVIOUR = {"decline_share": 0.10, "ignore_share": 0.06, "hold_s": (0.2, 1.2)}
THINK_S = (0.0, 1.0)  # a booth's pause before each call
CANCEL_SHARE = 0.04
STALL_S = 5.0  # a call waiting this long while a fitting expert idles as long is lost
CALL_END_TIMEOUT_S = 40.0
LOAD_DEADLINE_S = 90.0
SEED = 4


@dataclass
class Nodes:
    """The base URLs of the nodes under load, and their store's spec (None: memory)."""

    urls: list[str]
    redis_url: str | None


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory-1-node"),
        pytest.param("redis", id="redis-2-nodes", marks=pytest.mark.redis),
        pytest.param("cluster", id="cluster-2-nodes", marks=pytest.mark.redis),
    ]
)
async def nodes(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Nodes]:
    """Serve the load directory: one memory node, or two nodes on one Redis or a Redis
    Cluster."""
    # Each node and this process hold a socket per client (250), plus files and pipes;
    # the nodes inherit the raised limit.
    limit = raise_nofile_limit(4096)
    assert limit >= BOOTHS + EXPERTS + 256, f"open-file limit {limit} is too low (ulimit -n)"
    config = write_directory(
        tmp_path / "load.toml", BOOTHS, expert_plan(EXPERTS), routing=ROUTING, limits=LIMITS
    )
    async with AsyncExitStack() as stack:
        if request.param == "memory":
            names, store = ["load-node"], "memory"
        else:
            spec = STORE_SPECS[request.param]
            names, store = ["load-a", "load-b"], request.getfixturevalue(spec)
        servers: list[ServeProcess] = []
        for name in names:
            servers.append(await stack.enter_async_context(serving(store, name, config=config)))
        yield Nodes([s.base_url for s in servers], None if store == "memory" else store)


def explain_from(store: Store) -> Callable[[CallSeen, list[LoadExpert]], Awaitable[str]]:
    """Return a reader of the store's view of a waiting call and the idle experts."""

    async def explain(call: CallSeen, idle: list[LoadExpert]) -> str:
        record = await store.load_session(call.session_id)
        agency = call.queue.split("/", 1)[0]
        index = await store.available_experts(agency)
        queue = await store.queue_members(call.queue, 1000)
        parts = [
            f"call {record.state if record else None} "
            f"rank {queue.index(call.session_id) if call.session_id in queue else None}"
            f"/{len(queue)} passed {record.passed if record else None}"
        ]
        for expert in idle[:3]:
            x = await store.load_expert(f"staff:{expert.username}")
            subject = f"staff:{expert.username}"
            parts.append(
                f"{expert.username} {x.state if x else None} session {x.session_id if x else None}"
                f" wrap_up_until {getattr(x, 'wrap_up_until', None)}"
                f" indexed {subject in index} ({index.index(subject) if subject in index else -1}"
                f"/{len(index)})"
            )
        return "; ".join(parts)

    return explain


async def read_all_events(spec: str) -> list[dict[str, object]]:
    store = open_store(spec)
    try:
        events, after = [], "0"
        while batch := await store.read_events(after, 1000):
            events += [event for _, event in batch]
            after = batch[-1][0]
        return events
    finally:
        await store.close()


async def test_no_offer_is_lost_or_duplicated(
    nodes: Nodes, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    ledger = Ledger()
    plan = expert_plan(EXPERTS)
    store = open_store(nodes.redis_url) if nodes.redis_url else None
    explain = explain_from(store) if store else None
    started = time.monotonic()
    booths: list[LoadBooth] = []
    experts: list[LoadExpert] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        booths = await connect_booths(nodes.urls, BOOTHS, ledger, SEED)
        experts = await connect_experts(nodes.urls, plan, ledger, SEED, **BEHAVIOUR)
        connect_s = time.monotonic() - started
        tasks = [asyncio.create_task(e.run(), name=e.username) for e in experts]
        await eventually(lambda: all(e.available for e in experts), 20, message="all available")
        tasks.append(
            asyncio.create_task(
                watch_for_stalls(ledger, booths, experts, STALL_S, explain), name="watch"
            )
        )
        load_started = time.monotonic()
        try:
            async with asyncio.timeout(LOAD_DEADLINE_S):
                await asyncio.gather(
                    *(
                        b.run(CALLS_PER_BOOTH, THINK_S, CANCEL_SHARE, CALL_END_TIMEOUT_S)
                        for b in booths
                    )
                )
        except TimeoutError:
            ledger.problem(f"the booths were not done within {LOAD_DEADLINE_S:g} s")
        load_s = time.monotonic() - load_started
        # Every booth's last call is over; the experts' last answers may still be arriving.
        # (An expert left holding an offer or a call is reported by check_ledger.)
        with contextlib.suppress(AssertionError):
            await eventually(lambda: all(not e.open and e.in_call is None for e in experts), 10)
    finally:
        stopped = [t for t in tasks if t.done() and not t.cancelled() and t.exception()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(20):
                await asyncio.gather(
                    *(
                        c.close()
                        for c in [*(b.client for b in booths), *(e.client for e in experts)]
                    ),
                    return_exceptions=True,
                )
        if store is not None:
            await store.close()

    problems = check_ledger(ledger, experts, RING_TIMEOUT_S)
    if len(ledger.calls) != BOOTHS * CALLS_PER_BOOTH:
        problems.append(f"{len(ledger.calls)} calls made of {BOOTHS * CALLS_PER_BOOTH}")
    problems += [f"{t.get_name()} stopped: {t.exception()!r}" for t in stopped]
    try:
        problems += check_metrics([await scrape_metrics(url) for url in nodes.urls], ledger)
    except AssertionError as exc:
        problems.append(str(exc))
    kinds: dict[str, int] = {}
    if nodes.redis_url is not None:
        event_problems, kinds = check_events(await read_all_events(nodes.redis_url), ledger)
        problems += event_problems

    summary = ledger.summary()
    overlaps = offer_overlaps(ledger)
    report = {
        "nodes": len(nodes.urls),
        "booths": BOOTHS,
        "experts": EXPERTS,
        "connect_s": round(connect_s, 1),
        "load_s": round(load_s, 1),
        "calls_per_s": round(summary["calls"] / load_s, 1),
        **summary,
        "offer_overlap_as_read_ms": {
            "n": len(overlaps),
            "max": round(max(overlaps, default=0.0) * 1000, 1),
        },
        "events": dict(sorted(kinds.items())),
    }
    print(f"\noffer load ({request.node.callspec.id}): {json.dumps(report)}")
    if problems:
        (tmp_path / "problems.txt").write_text("\n".join(problems) + "\n")
    assert not problems, (
        f"{len(problems)} problems (all in {tmp_path / 'problems.txt'}):\n"
        + "\n".join(problems[:40])
    )
