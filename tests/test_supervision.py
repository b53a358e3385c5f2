"""The supervisors' wallboard over the WebSocket: live counts, scoped to their agencies."""

from __future__ import annotations

from signaling.protocol import Ack, CallQueued, Offer, Wallboard
from signaling.store import Store

from .support import booth_client, node_of, running_node, staff_client

KELA_CALL = {"type": "call_request", "agency": "kela", "service": "general", "language": "fi"}


def kela_general_fi(board: Wallboard) -> int:
    return next(q.waiting for q in board.queues if q.queue == "kela/general/fi")


async def test_the_wallboard_follows_queues_calls_experts_and_booths(store: Store) -> None:
    async with running_node(store) as node:
        kela_sup = await staff_client(node.base_url, "kela.supervisor")
        admin = await staff_client(node.base_url, "admin")
        expert = await staff_client(node.base_url, "kela.expert")
        booth = await booth_client(node.base_url)
        try:
            first = await kela_sup.wait_for(Wallboard, timeout=5)
            assert {q.agency for q in first.queues} == {"kela"}
            assert [a.agency for a in first.agencies] == ["kela"]
            everything = await admin.wait_for(Wallboard, timeout=5)
            assert {"kela", "vero", "migri"} <= {a.agency for a in everything.agencies}

            # A call waits: the queue shows it, with the oldest wait.
            queued = await booth.request(KELA_CALL, expect=CallQueued)
            waiting = await kela_sup.wait_for(Wallboard, lambda b: kela_general_fi(b) == 1)
            queue = next(q for q in waiting.queues if q.queue == "kela/general/fi")
            assert queue.oldest_wait_s is not None and queue.oldest_wait_s >= 0
            kela = waiting.agencies[0]
            assert kela.experts["offline"] >= 1 and kela.active_calls == 0

            # The expert answers: a call in progress, the expert busy, the booth in a call.
            await expert.request({"type": "set_availability", "status": "available"}, expect=Ack)
            sid = queued.session.session_id
            await expert.wait_for(Offer, lambda o: o.session_id == sid)
            await expert.request({"type": "offer_accept", "session_id": sid}, expect=Ack)
            busy = await kela_sup.wait_for(
                Wallboard, lambda b: b.agencies[0].active_calls == 1, timeout=10
            )
            assert busy.agencies[0].experts["busy"] == 1 and kela_general_fi(busy) == 0
            assert busy.interpreters["offline"] == 3  # the demo's three, none signed in
            # No booth reports health here (that is the agent's), so the in-call booth is
            # not "online": the counts still add up to every site.
            assert sum(busy.booths.model_dump().values()) == len(node_of(node).directory.sites)
        finally:
            for client in (kela_sup, admin, expert, booth):
                await client.close()


async def test_experts_and_booths_get_no_wallboard(store: Store) -> None:
    async with running_node(store) as node:
        expert = await staff_client(node.base_url, "kela.expert")
        booth = await booth_client(node.base_url)
        try:
            for client in (expert, booth):
                try:
                    await client.wait_for(Wallboard, timeout=3)
                except TimeoutError:
                    continue
                raise AssertionError("a wallboard went to someone who is not a supervisor")
        finally:
            await expert.close()
            await booth.close()
