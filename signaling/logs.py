"""Logging for the processes: readable lines in a terminal, one JSON object per line in
production (docs/operations.md "Logs").

A record's extras that name what it is about — the session, the site, the event — go into
the JSON as fields of their own, so that a log search can follow one session across nodes.
Nothing personal is logged on purpose: sessions are named by id, booths by site, staff not
at all (the audit log, etapiste.audit, is the one place that names who signed in).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
# Extras copied into the JSON object when a record carries them.
FIELDS = ("session_id", "site", "event", "node", "state", "reason")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON: time, level, logger, message and the extras."""

    def __init__(self, node: str | None = None) -> None:
        super().__init__()
        self.node = node

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.node is not None:
            entry["node"] = self.node
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(
    fmt: LogFormat = "text", level: int = logging.INFO, node: str | None = None
) -> None:
    """Send the process's logs to stderr in the chosen format (replacing any handler)."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter(node))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def public_name(subject: str) -> str:
    """A subject as the logs may name it: a booth by its site, staff and guests by kind
    only (nothing personal)."""
    kind, _, name = subject.partition(":")
    return f"{kind} {name}" if kind in ("site", "agent", "doccam") else kind
