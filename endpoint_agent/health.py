"""The booth's health as the agent sees it: devices, network to the server, machine."""

from __future__ import annotations

import os
import shutil
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .config import DeviceSettings

DeviceState = Literal["ok", "missing", "error"]
V4L_SYSFS = Path("/sys/class/video4linux")
ASOUND_PCM = Path("/proc/asound/pcm")
PROC_STAT = Path("/proc/stat")
PING_WINDOW = 20


def video_devices(sysfs: Path = V4L_SYSFS) -> list[Path]:
    """Return the booth's cameras: one /dev node per physical camera, in order."""
    cameras = []
    for entry in sorted(sysfs.glob("video*"), key=lambda p: int(p.name[5:] or 0)):
        # A UVC camera exposes a capture node (index 0) and a metadata node (index 1).
        try:
            index = (entry / "index").read_text().strip()
        except OSError:
            index = "0"
        if index == "0":
            cameras.append(Path("/dev") / entry.name)
    return cameras


def _node_state(path: Path | None) -> DeviceState:
    if path is None or not path.exists():
        return "missing"
    return "ok" if os.access(path, os.R_OK | os.W_OK) else "error"


def camera_paths(settings: DeviceSettings, found: list[Path]) -> tuple[Path | None, Path | None]:
    """Return the face camera's and the document camera's device nodes (None: none)."""
    camera = found[0] if found else None
    if settings.camera != "auto":
        # Stable /dev/v4l/by-id/ links are welcome: /dev/videoN numbers move between boots.
        camera = Path(settings.camera).resolve()
    document: Path | None
    if settings.document_camera == "none":
        document = None
    elif settings.document_camera == "auto":
        document = next((p for p in found if p != camera), None)
    else:
        document = Path(settings.document_camera).resolve()
    return camera, document


def camera_states(settings: DeviceSettings, found: list[Path]) -> tuple[DeviceState, DeviceState]:
    """Return the state of the face camera and of the document camera."""
    camera, document = camera_paths(settings, found)
    return _node_state(camera), _node_state(document)


def audio_states(pcm: Path = ASOUND_PCM) -> tuple[DeviceState, DeviceState]:
    """Return the state of the microphone (capture) and the speaker (playback)."""
    try:
        lines = pcm.read_text().splitlines()
    except OSError:
        return "missing", "missing"
    capture = any("capture" in line for line in lines)
    playback = any("playback" in line for line in lines)
    return ("ok" if capture else "missing"), ("ok" if playback else "missing")


def disk_free_pct(path: str = "/") -> float:
    """Return the free share of the disk holding ``path``, in percent."""
    usage = shutil.disk_usage(path)
    return round(100.0 * usage.free / usage.total, 1) if usage.total else 0.0


@dataclass
class CpuMeter:
    """CPU use between two readings of /proc/stat."""

    stat: Path = PROC_STAT
    _last: tuple[int, int] | None = None

    def _read(self) -> tuple[int, int]:
        fields = [int(v) for v in self.stat.read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    def percent(self) -> float:
        """Return the CPU use since the previous call (0 on the first)."""
        try:
            total, idle = self._read()
        except (OSError, ValueError, IndexError):
            return 0.0
        previous, self._last = self._last, (total, idle)
        if previous is None or total <= previous[0]:
            return 0.0
        busy = 1.0 - (idle - previous[1]) / (total - previous[0])
        return round(min(100.0, max(0.0, 100.0 * busy)), 1)


@dataclass
class NetworkMeter:
    """Round trip and loss of the agent's pings to the server over a sliding window."""

    window: int = PING_WINDOW
    _results: deque[float | None] = field(default_factory=deque)

    def record(self, rtt_ms: float | None) -> None:
        """Record one ping: its round trip, or None when no answer came in time."""
        self._results.append(rtt_ms)
        while len(self._results) > self.window:
            self._results.popleft()

    @property
    def rtt_ms(self) -> float | None:
        """The latest answered round trip, or None."""
        return next((r for r in reversed(self._results) if r is not None), None)

    @property
    def loss_pct(self) -> float | None:
        """The share of unanswered pings in the window, or None before the first."""
        if not self._results:
            return None
        lost = sum(1 for r in self._results if r is None)
        return round(100.0 * lost / len(self._results), 1)
