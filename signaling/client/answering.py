"""A headless expert that answers every call: for the demo and for trying a booth alone."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..protocol import Offer, SessionEnded
from .call import Call
from .media import SyntheticCamera, SyntheticMicrophone
from .wire import SignalingClient, login

log = logging.getLogger(__name__)

FOREVER_S = 1e9


async def answer_calls(
    base_url: str, username: str, password: str, *, hold_s: float, outcome: str = "resolved"
) -> None:
    """Log in, go available, and take each offered call for ``hold_s`` seconds (0 = until
    the booth leaves), with a synthetic camera and microphone."""
    token = await login(base_url, username, password)
    client = SignalingClient(base_url.replace("http", "ws", 1) + "/ws", token)
    await client.connect()
    try:
        await client.request({"type": "set_availability", "status": "available"})
        log.info("%s is available", username)
        while True:
            offer = await client.wait_for(Offer, timeout=FOREVER_S)
            await _take(client, offer, hold_s, outcome, username)
    finally:
        await client.close()


async def _take(
    client: SignalingClient, offer: Offer, hold_s: float, outcome: str, username: str
) -> None:
    session_id = offer.session_id
    call = Call(client, session_id, [SyntheticCamera(), SyntheticMicrophone()])
    call.start()
    try:
        await client.request({"type": "offer_accept", "session_id": session_id})
    except Exception as exc:  # the booth cancelled, or another expert was faster
        log.info("%s could not take %s: %s", username, session_id, exc)
        await call.close()
        return
    log.info("%s answered %s (%s/%s)", username, session_id, offer.agency, offer.service)
    ended = asyncio.create_task(
        client.wait_for(SessionEnded, lambda e: e.session_id == session_id, FOREVER_S)
    )
    try:
        done, _ = await asyncio.wait([ended], timeout=hold_s or None)
        if not done:
            await client.request(
                {"type": "session_end", "session_id": session_id, "outcome": outcome}
            )
    finally:
        ended.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ended
        await call.close()
    # A machine needs no wrap-up: ready for the next call at once.
    await client.request({"type": "set_availability", "status": "available"})
    log.info("%s finished %s", username, session_id)
