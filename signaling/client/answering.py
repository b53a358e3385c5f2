"""Headless staff for the demo and for trying a booth alone: an expert who answers every
call, and an interpreter who accepts every request (a speech-to-text one also writes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..protocol import InterpreterOffer, Offer, SessionEnded
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
    client = await _available(base_url, username, password)
    try:
        while True:
            offer = await client.wait_for(Offer, timeout=FOREVER_S)
            await _take(client, offer, hold_s, outcome, username)
    finally:
        await client.close()


async def _available(base_url: str, username: str, password: str) -> SignalingClient:
    """Log in, connect and go available (an expert for calls, an interpreter for rings)."""
    token = await login(base_url, username, password)
    client = SignalingClient(base_url.replace("http", "ws", 1) + "/ws", token)
    await client.connect()
    await client.request({"type": "set_availability", "status": "available"})
    log.info("%s is available", username)
    return client


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


# What the demo's speech-to-text interpreter "writes", one line every few seconds.
DEMO_CAPTIONS = (
    "Tämä on esittelyn kirjoitustulkki.",
    "Tekstitys näkyy asiakkaan ruudulla ja asiantuntijan näkymässä.",
    "Tekstiä ei tallenneta mihinkään.",
)
CAPTION_EVERY_S = 4.0


async def answer_interpreter_requests(
    base_url: str, username: str, password: str, *, hold_s: float
) -> None:
    """Log in as an interpreter, go available, and join each call that rings for
    ``hold_s`` seconds (0 = until the call ends), with a synthetic camera and microphone."""
    client = await _available(base_url, username, password)
    try:
        while True:
            ring = await client.wait_for(InterpreterOffer, timeout=FOREVER_S)
            await _interpret(client, ring, hold_s, username)
    finally:
        await client.close()


async def _interpret(
    client: SignalingClient, ring: InterpreterOffer, hold_s: float, username: str
) -> None:
    session_id = ring.session_id
    call = Call(client, session_id, [SyntheticCamera(), SyntheticMicrophone()])
    call.start()
    try:
        await client.request({"type": "interpreter_accept", "request_id": ring.request_id})
    except Exception as exc:  # withdrawn, or another interpreter was faster
        log.info("%s could not take %s: %s", username, ring.request_id, exc)
        await call.close()
        return
    log.info("%s joined %s (%s, %s)", username, session_id, ring.language, ring.modality)
    ended = asyncio.create_task(
        client.wait_for(SessionEnded, lambda e: e.session_id == session_id, FOREVER_S)
    )
    writing = (
        asyncio.create_task(_write_captions(client, session_id))
        if ring.modality == "text"
        else None
    )
    try:
        done, _ = await asyncio.wait([ended], timeout=hold_s or None)
        if not done:
            await client.request({"type": "session_leave", "session_id": session_id})
    finally:
        for task in (ended, writing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await call.close()
    log.info("%s left %s", username, session_id)


async def _write_captions(client: SignalingClient, session_id: str) -> None:
    """Send the demo's caption lines, typed out and then finished, until cancelled."""
    line = 0
    while True:
        text = DEMO_CAPTIONS[line % len(DEMO_CAPTIONS)]
        half = text[: len(text) // 2]
        for part, final in ((half, False), (text, True)):
            await client.send(
                {"type": "caption", "session_id": session_id, "text": part, "final": final}
            )
            await asyncio.sleep(CAPTION_EVERY_S / 2)
        line += 1
