"""Try a document camera for a few seconds and say what it gave: for installers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .capture import DocumentCamera
from .sources import CaptureSettings


async def probe(settings: CaptureSettings, seconds: float = 3.0) -> dict[str, Any]:
    """Open the camera, count frames for ``seconds``, and report status, size and rate."""
    started = time.monotonic()
    async with DocumentCamera(settings) as camera:
        opened_s = time.monotonic() - started
        frames, first, last = 0, 0, 0
        deadline = time.monotonic() + seconds
        while camera.status.state == "running" and time.monotonic() < deadline:
            try:
                frame = await camera.next_frame(last, timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            first = first or frame.seq
            last = frame.seq
            frames += 1
            shape = frame.image.shape
        elapsed = max(1e-6, time.monotonic() - deadline + seconds)
        report = camera.status.as_dict()
        report["opened_in_s"] = round(opened_s, 2)
        report["frames"] = frames
        report["measured_fps"] = round(frames / elapsed, 1)
        report["frame_size"] = [shape[1], shape[0]] if frames else None
    return report


def run_probe(settings: CaptureSettings, seconds: float) -> dict[str, Any]:
    """Run probe() in a fresh event loop (for the command line)."""
    return asyncio.run(probe(settings, seconds))
