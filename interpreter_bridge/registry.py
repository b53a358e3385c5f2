"""The interpreter registry: who could serve a need, from the directory alone."""

from __future__ import annotations

from datetime import UTC, datetime

from signaling.directory import Directory, StaffAccount
from signaling.protocol import Modality

STAFF_PREFIX = "staff:"


def subject_of(username: str) -> str:
    """Return the token subject of a staff username."""
    return f"{STAFF_PREFIX}{username}"


def username_of(subject: str) -> str | None:
    """Return the staff username of a subject, or None for a device."""
    return subject.removeprefix(STAFF_PREFIX) if subject.startswith(STAFF_PREFIX) else None


def qualifies(
    directory: Directory,
    account: StaffAccount,
    agency: str,
    session_language: str,
    language: str,
    modality: Modality,
) -> bool:
    """Tell whether an interpreter's skills and contract fit a need (not availability)."""
    role = account.interpreter
    if role is None or modality not in role.modalities:
        return False
    provider = directory.provider(role.provider)
    if provider is None or agency not in provider.agencies:
        return False
    # Interpreting goes between the citizen's language and the expert's; speech-to-text
    # writes the spoken language itself.
    return language in role.languages and session_language in role.languages


def qualified(
    directory: Directory, agency: str, session_language: str, language: str, modality: Modality
) -> list[StaffAccount]:
    """Return every interpreter account that could serve a need, in directory order."""
    return [
        account
        for account in directory.interpreters()
        if qualifies(directory, account, agency, session_language, language, modality)
    ]


def missing_field(
    directory: Directory, agency: str, session_language: str, language: str, modality: Modality
) -> str | None:
    """Name the field of a need nobody in the registry can serve ("language" or
    "modality"), or None when someone can."""
    if qualified(directory, agency, session_language, language, modality):
        return None
    for account in directory.interpreters():
        for other in ("spoken", "sign", "text"):
            if qualifies(directory, account, agency, session_language, language, other):
                return "modality"
    return "language"


def at_work(account: StaffAccount, now: float) -> bool:
    """Tell whether it is within the interpreter's working hours (none = any time)."""
    role = account.interpreter
    if role is None:
        return False
    if role.hours is None:
        return True
    return role.hours.is_open(datetime.fromtimestamp(now, UTC))
