"""The supervisors' wallboard: queues, calls, experts, interpreters and booths, counted.

One snapshot serves every supervisor connected to a node (each sees the agencies of their
role). It reads who is connected in one go and then the records of the connected experts
and interpreters only; it is built every WALLBOARD_INTERVAL_S, and only while a
supervisor is connected.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

from .directory import Directory
from .fleet import fleet
from .identity import Principal
from .overview import QueueCounts
from .protocol import AgencyCounts, BoothCounts, OverviewQueue, Wallboard
from .records import queue_key
from .store import Store

WALLBOARD_INTERVAL_S = 2.0
EXPERT_STATES = ("available", "wrap_up", "offered", "busy", "paused", "offline")
INTERPRETER_STATES = ("available", "busy", "paused", "offline")
IN_CALL = frozenset({"connecting", "active"})


def supervised_agencies(directory: Directory, principal: Principal) -> list[str] | None:
    """The agencies a staff member supervises (None: all, an admin), or [] for none."""
    if principal.has_role("admin"):
        return None
    account = directory.account(principal.username or "")
    if account is None or account.supervisor is None:
        return []
    return list(account.supervisor.agencies)


async def build_wallboard(
    store: Store,
    directory: Directory,
    now: float,
    interpreter_state: Callable[[str], Awaitable[str]],
) -> Wallboard:
    """The whole network's wallboard (every agency), to be narrowed per supervisor;
    ``interpreter_state`` tells a connected interpreter's state (the bridge keeps it)."""
    counts = QueueCounts(store, now, await store.queue_lengths())
    queues = []
    for agency in directory.agencies:
        for service in agency.services:
            for language in agency.service_languages(service.id):
                key = queue_key(agency.id, service.id, language)
                queues.append(
                    OverviewQueue(
                        queue=key,
                        agency=agency.id,
                        service=service.id,
                        language=language,
                        waiting=counts.lengths.get(key, 0),
                        oldest_wait_s=await counts.oldest_wait(key),
                    )
                )
    experts: dict[str, Counter[str]] = {a.id: Counter() for a in directory.agencies}
    active: Counter[str] = Counter()
    sites_in_call: set[str] = set()
    # One read of who is connected; only their records are read (most staff are not).
    present = await store.present_subjects()
    for account in directory.staff:
        if account.expert is None:
            continue
        subject = f"staff:{account.username}"
        record = await store.load_expert(subject) if subject in present else None
        state = "offline"
        if record is not None:
            state = "wrap_up" if record.in_wrap_up(now) else record.state
        if record is not None and record.state == "busy" and record.session_id:
            session = await store.peek_session(record.session_id)
            if session is not None and session.state in IN_CALL:
                active[session.agency] += 1
                sites_in_call.add(session.site)
        for served in account.expert.agencies:
            experts[served][state] += 1
    interpreters: Counter[str] = Counter()
    for account in directory.interpreters():
        subject = f"staff:{account.username}"
        state = "offline"
        if subject in present:
            state = await interpreter_state(subject)
        interpreters[state] += 1
    booths = Counter(
        "in_call" if booth.site in sites_in_call and booth.status == "online" else booth.status
        for booth in await fleet(store, directory, now)
    )
    return Wallboard(
        at=round(now, 3),
        queues=queues,
        agencies=[
            AgencyCounts(
                agency=agency.id,
                active_calls=active[agency.id],
                experts={state: experts[agency.id][state] for state in EXPERT_STATES},
            )
            for agency in directory.agencies
        ],
        interpreters={state: interpreters[state] for state in INTERPRETER_STATES},
        booths=BoothCounts(**booths),
    )


def narrowed(board: Wallboard, agencies: list[str] | None) -> Wallboard:
    """The wallboard as a supervisor of ``agencies`` sees it (None: everything)."""
    if agencies is None:
        return board
    allowed = set(agencies)
    return board.model_copy(
        update={
            "queues": [q for q in board.queues if q.agency in allowed],
            "agencies": [a for a in board.agencies if a.agency in allowed],
        }
    )
