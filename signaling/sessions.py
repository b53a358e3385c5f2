"""The session state machine: which transitions are allowed."""

from __future__ import annotations

from .protocol import SessionState

TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    "requested": frozenset({"queued", "failed", "abandoned"}),
    "queued": frozenset({"offered", "abandoned", "failed"}),
    "offered": frozenset({"queued", "connecting", "abandoned", "failed"}),
    "connecting": frozenset({"active", "queued", "ended", "abandoned", "failed"}),
    "active": frozenset({"queued", "ended", "abandoned", "failed"}),
    "ended": frozenset(),
    "abandoned": frozenset(),
    "failed": frozenset(),
}
FINAL_STATES: frozenset[SessionState] = frozenset({"ended", "abandoned", "failed"})


class InvalidStateError(RuntimeError):
    """A session transition was asked for from a state that does not allow it."""

    def __init__(self, session_id: str, state: SessionState, target: SessionState) -> None:
        super().__init__(f'Cannot move session {session_id} from "{state}" to "{target}"')
        self.state = state
        self.target = target


def check_transition(session_id: str, state: SessionState, target: SessionState) -> None:
    """Raise InvalidStateError unless ``state`` may move to ``target``."""
    if target not in TRANSITIONS[state]:
        raise InvalidStateError(session_id, state, target)
