"""Auto-capture: decide when a document has lain still and good long enough (clock injected)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

from .geometry import Corners, diagonal
from .quality import Quality


class Phase(StrEnum):
    """Where the auto-capture stands."""

    EMPTY = "empty"
    SETTLING = "settling"
    CAPTURED = "captured"


@dataclass(frozen=True)
class SteadyConfig:
    """How long and how still a document must be before it is captured."""

    dwell_s: float = 1.5
    max_motion: float = 0.01
    absent_grace_s: float = 0.5


@dataclass(frozen=True)
class SteadyState:
    """The machine's state: the phase, the anchor corners and the times that matter."""

    phase: Phase = Phase.EMPTY
    anchor: Corners | None = None
    since: float = 0.0
    last_seen: float = 0.0


def _moved(anchor: Corners, corners: Corners, config: SteadyConfig) -> bool:
    """Say whether any corner left the anchor by more than the motion threshold."""
    shift = float(np.linalg.norm(corners - anchor, axis=1).max())
    return shift > config.max_motion * diagonal(anchor)


def step(
    state: SteadyState,
    corners: Corners | None,
    quality: Quality | None,
    now: float,
    config: SteadyConfig = SteadyConfig(),
) -> tuple[SteadyState, bool]:
    """Feed one frame; return the next state and whether to capture now."""
    if corners is None:
        # A missed frame or two is not a removed page; a longer absence is.
        if state.phase is Phase.EMPTY or now - state.last_seen <= config.absent_grace_s:
            return state, False
        return SteadyState(), False
    good = quality is None or quality.ok
    if state.phase is Phase.CAPTURED:
        assert state.anchor is not None
        if not _moved(state.anchor, corners, config):
            return replace(state, last_seen=now), False
        return SteadyState(Phase.SETTLING, corners, now, now), False
    if not good:
        # The dwell counts from the first good frame, not from the last bad one.
        return SteadyState(Phase.SETTLING, None, now, now), False
    if state.anchor is None or _moved(state.anchor, corners, config):
        return SteadyState(Phase.SETTLING, corners, now, now), False
    if now - state.since >= config.dwell_s:
        return SteadyState(Phase.CAPTURED, state.anchor, state.since, now), True
    return replace(state, last_seen=now), False


class AutoCapture:
    """The state machine with its state kept: feed frames, get capture decisions."""

    def __init__(self, config: SteadyConfig = SteadyConfig()) -> None:
        self.config = config
        self.state = SteadyState()

    def feed(self, corners: Corners | None, quality: Quality | None, now: float) -> bool:
        """Feed one frame observed at time now (seconds); return True to capture it."""
        self.state, fire = step(self.state, corners, quality, now, self.config)
        return fire

    def progress(self, now: float) -> float:
        """Return how far the dwell has run (0-1), for the booth's countdown ring."""
        if self.state.phase is Phase.CAPTURED:
            return 1.0
        if self.state.phase is Phase.EMPTY:
            return 0.0
        return min(1.0, (now - self.state.since) / self.config.dwell_s)
