"""The audit log: who signed in (or failed to) and who joined and left which session when.

Unlike the statistics events, audit entries name staff (username, address): they answer
"who saw this citizen's call", so they are kept apart, in their own durable log, and
never in the statistics. Citizens are never named here either.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

from .store import Store

log = logging.getLogger("etapiste.audit")

AuditAction = Literal["login", "login_failed", "logout", "session_joined", "session_left"]


async def audit(store: Store, action: AuditAction, *, at: float, node: str, **fields: Any) -> None:
    """Append an entry to the audit log and write it to the audit logger."""
    entry = {"action": action, "at": at, "node": node} | {
        key: value for key, value in fields.items() if value is not None
    }
    log.info("%s", json.dumps(entry, ensure_ascii=False))
    await store.append_event(entry, log="audit")
