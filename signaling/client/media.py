"""Synthetic camera and microphone for headless clients, tests and demos."""

from __future__ import annotations

import asyncio
import fractions
import math
import time

import numpy as np
from aiortc import MediaStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

AUDIO_RATE = 48_000
AUDIO_PTIME = 0.02


class SyntheticCamera(VideoStreamTrack):
    """A moving colour bar pattern, so receivers can see frames advance.

    Frames come in yuv420p, the encoder's own format: when one camera feeds several peer
    connections (a three-way call), no two encoder threads then convert the same frame,
    which can hang PyAV's reformat (the threads stay in the VP8 encoder's encode and the
    event loop never closes).
    """

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self._count = 0
        ramp = np.linspace(0, 255, width, dtype=np.uint8)
        self._base = np.stack([np.tile(ramp, (height, 1))] * 3, axis=-1)

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        self._count += 1
        image = np.roll(self._base, self._count * 4, axis=1)
        image[:, :, 1] = (self._count * 3) % 256
        frame = VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        frame.pts = pts
        frame.time_base = time_base
        return frame


class SyntheticMicrophone(MediaStreamTrack):
    """A steady 440 Hz tone in 20 ms frames, so receivers can tell audio from silence."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0) -> None:
        super().__init__()
        self.frequency = frequency
        self._samples = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        samples = int(AUDIO_RATE * AUDIO_PTIME)
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._samples += samples
            wait = self._start + self._samples / AUDIO_RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        t = (np.arange(samples) + self._samples) / AUDIO_RATE
        tone = (0.3 * 32767 * np.sin(2 * math.pi * self.frequency * t)).astype(np.int16)
        frame = AudioFrame.from_ndarray(tone.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame
