"""Auto-capture fires once a page has lain still and good for the dwell, never while it moves."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from document_camera.quality import Quality, QualityCode
from document_camera.steady import AutoCapture, Phase, SteadyConfig

PAGE = np.array([[100.0, 100.0], [700.0, 100.0], [700.0, 950.0], [100.0, 950.0]])
GOOD = Quality(sharpness=500.0, glare_share=0.0, area_share=0.3, edge_gap=0.05)
BLURRED = Quality(sharpness=5.0, failed=(QualityCode.BLUR,))
FPS = 10


def feed(
    capture: AutoCapture, start: float, seconds: float, corners: np.ndarray | None, quality=GOOD
) -> list[float]:
    """Feed frames at FPS for a while; return the times at which it fired."""
    fired = []
    for i in range(round(seconds * FPS)):
        now = start + i / FPS
        if capture.feed(corners, quality, now):
            fired.append(now)
    return fired


def test_fires_once_after_the_dwell_on_a_still_page() -> None:
    capture = AutoCapture(SteadyConfig(dwell_s=1.5))
    fired = feed(capture, 0.0, 5.0, PAGE)
    assert fired == [1.5]
    assert capture.state.phase is Phase.CAPTURED
    assert capture.progress(5.0) == 1.0


def test_small_jitter_does_not_stop_it() -> None:
    capture = AutoCapture(SteadyConfig(dwell_s=1.0))
    rng = np.random.default_rng(0)
    fired = [
        t
        for i in range(30)
        if capture.feed(PAGE + rng.normal(0, 1.0, PAGE.shape), GOOD, t := i / FPS)
    ]
    assert len(fired) == 1 and 1.0 <= fired[0] <= 1.2


def test_never_fires_while_the_page_moves() -> None:
    capture = AutoCapture(SteadyConfig(dwell_s=1.0))
    fired = [capture.feed(PAGE + [i * 3.0, 0], GOOD, i / FPS) for i in range(100)]
    assert not any(fired)
    # Once it stops, the dwell starts again from the stop.
    assert feed(capture, 10.0, 3.0, PAGE + [300.0, 0]) == [11.0]


def test_slow_drift_beyond_the_threshold_restarts_the_dwell() -> None:
    capture = AutoCapture(SteadyConfig(dwell_s=1.0, max_motion=0.01))
    # 1.2 px a frame is under the threshold frame to frame, but adds up past it.
    fired = [capture.feed(PAGE + [i * 1.2, 0], GOOD, i / FPS) for i in range(40)]
    assert not any(fired)


def test_a_bad_still_is_not_captured_until_it_is_good() -> None:
    capture = AutoCapture(SteadyConfig(dwell_s=1.0))
    assert feed(capture, 0.0, 3.0, PAGE, BLURRED) == []
    assert feed(capture, 3.0, 3.0, PAGE) == [4.0]


def test_fires_again_only_after_the_page_is_removed_or_moved() -> None:
    capture = AutoCapture(SteadyConfig(dwell_s=1.0, absent_grace_s=0.5))
    assert feed(capture, 0.0, 2.0, PAGE) == [1.0]
    # A single missed detection is not a removal.
    assert not capture.feed(None, None, 2.0)
    assert feed(capture, 2.1, 2.0, PAGE) == []
    # Taken away for a second, then a page laid down again: one more capture.
    assert feed(capture, 4.1, 1.0, None) == []
    assert capture.state.phase is Phase.EMPTY
    assert feed(capture, 5.1, 2.0, PAGE) == [6.1]
    # Moved to a new place on the desk: one more capture there.
    assert feed(capture, 7.1, 2.0, PAGE + [200.0, 0]) == [8.1]


@given(dwell=st.floats(0.5, 2.0), fps=st.sampled_from([5, 10, 15, 30]))
def test_fires_exactly_once_within_one_frame_of_the_dwell(dwell: float, fps: int) -> None:
    capture = AutoCapture(SteadyConfig(dwell_s=dwell))
    fired = [t for i in range(int(4 * fps)) if capture.feed(PAGE, GOOD, t := i / fps)]
    assert len(fired) == 1
    assert dwell <= fired[0] < dwell + 1 / fps + 1e-9
