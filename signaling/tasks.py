"""Owning asyncio tasks: stop them in bounded time, and notice a swallowed cancel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

STOP_WAIT_S = 2.0


def cancel_requested() -> bool:
    """Tell whether the current task was asked to stop, even if a library ate the cancel."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], timeout: float = STOP_WAIT_S) -> None:
    """Cancel tasks and wait for them at most ``timeout`` seconds, logging any that linger."""
    pending = list(tasks)
    for task in pending:
        task.cancel()
    if not pending:
        return
    _, lingering = await asyncio.wait(pending, timeout=timeout)
    for task in lingering:
        log.warning("task %s did not stop within %s s", task.get_name(), timeout)
