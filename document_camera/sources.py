"""Where the document camera's frames come from: a UVC camera, or a fake for tests and demos.

A source is blocking and single-threaded: only the capture thread (capture.py) opens,
reads and closes it. A source that cannot give frames raises ``CaptureError`` with a
stable code; the capture thread turns that into the camera's status and retries.
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
"""A frame: height x width x 3, BGR, 8 bits (OpenCV's own layout)."""

ErrorCode = Literal["doccam_missing", "doccam_busy", "doccam_denied", "doccam_stalled"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
LARGEST = 10_000
"""The size asked for when none is configured: UVC drivers answer with their largest mode."""
V4L2_AUTO_EXPOSURE = {True: 3, False: 1}  # V4L2_EXPOSURE_APERTURE_PRIORITY, _MANUAL
OTHER_AUTO_EXPOSURE = {True: 0.75, False: 0.25}  # OpenCV's normalised values elsewhere


class CaptureError(Exception):
    """The source cannot give frames: the camera is missing, busy, refused or stalled."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message


@dataclass(frozen=True)
class CaptureSettings:
    """What to capture from and how; ``None`` leaves the camera's own setting alone."""

    device: int | str = 0
    """A camera index (/dev/videoN on Linux) or a device path such as /dev/v4l/by-id/…"""
    width: int = 0
    """0 with height 0: the largest picture the camera gives."""
    height: int = 0
    fps: float = 15.0
    autofocus: bool | None = None
    focus: int | None = None
    auto_exposure: bool | None = None
    exposure: float | None = None
    """In the driver's units (V4L2: 100 µs)."""
    fake: Path | None = None
    """An image, a folder of images or a video file instead of the camera."""


@dataclass(frozen=True)
class SourceInfo:
    """What a source turned out to give once opened."""

    description: str
    width: int
    height: int
    fps: float
    refused: tuple[str, ...] = ()
    """The settings the driver did not take (e.g. "focus", "mjpg", "size")."""


class FrameSource(Protocol):
    """A blocking source of frames; only the capture thread calls it."""

    interval: float | None
    """Seconds between frames when the capture thread must pace the source, else None."""

    def open(self) -> SourceInfo:
        """Open the source, or raise CaptureError."""
        ...

    def read(self) -> Image:
        """Return the next frame (blocking), or raise CaptureError."""
        ...

    def close(self) -> None:
        """Release the source; safe to call more than once."""
        ...


def source_for(settings: CaptureSettings) -> FrameSource:
    """Return the source the settings name: a fake when ``fake`` is set, else the camera."""
    fake = settings.fake
    if fake is None:
        return UvcCamera(settings)
    if fake.is_dir():
        return ImageFolder(fake, settings.fps)
    if fake.suffix.lower() in IMAGE_SUFFIXES:
        return StillImage(fake, settings.fps)
    return VideoFile(fake, settings.fps)


def _frozen(image: Image) -> Image:
    # Consumers share frames across threads; nobody may draw on one in place.
    image.flags.writeable = False
    return image


def _as_image(mat: object) -> Image:
    """Return OpenCV's result as a BGR 8-bit frame."""
    array = np.asarray(mat)
    if array.ndim == 2:
        array = np.asarray(cv2.cvtColor(array, cv2.COLOR_GRAY2BGR))
    elif array.shape[2] == 4:
        array = np.asarray(cv2.cvtColor(array, cv2.COLOR_BGRA2BGR))
    return array.astype(np.uint8, copy=False)


def _may_open(node: Path) -> bool:
    return os.access(node, os.R_OK | os.W_OK)


def holders(node: Path) -> list[str]:
    """Return the processes that hold ``node`` open, as "name (pid N)", where we may look."""
    found: list[str] = []
    target = os.path.realpath(node)
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            fds = list((proc / "fd").iterdir())
        except OSError:
            continue  # gone, or another user's process
        for fd in fds:
            try:
                if os.readlink(fd) == target:
                    name = (proc / "comm").read_text().strip()
                    found.append(f"{name} (pid {proc.name})")
                    break
            except OSError:
                continue
    return found


class UvcCamera:
    """A UVC camera through OpenCV (V4L2 on Linux) at the largest size it gives."""

    interval: float | None = None  # the camera paces itself

    def __init__(self, settings: CaptureSettings) -> None:
        self.settings = settings
        self._capture: cv2.VideoCapture | None = None
        self._first: Image | None = None
        self._node: Path | None = None

    def _target(self) -> tuple[int | str, Path | None, str]:
        """Return what to hand OpenCV, the /dev node to check, and a name for messages."""
        device = self.settings.device
        if isinstance(device, int):
            if sys.platform.startswith("linux"):
                return device, Path(f"/dev/video{device}"), f"/dev/video{device}"
            return device, None, f"camera {device}"
        path = Path(device)
        # Stable /dev/v4l/by-id/ links: open what they point to, name them as given.
        resolved = path.resolve() if path.exists() else path
        shown = device if resolved == path else f"{device} (-> {resolved})"
        return str(resolved), resolved, shown

    def open(self) -> SourceInfo:
        target, node, shown = self._target()
        self._node = node
        if node is not None:
            if not node.exists():
                raise CaptureError(
                    "doccam_missing",
                    f"no document camera at {shown}: is it plugged in? "
                    "(see the cameras with `v4l2-ctl --list-devices`)",
                )
            if not _may_open(node):
                raise CaptureError(
                    "doccam_denied",
                    f"{shown}: user {getpass.getuser()} may not open it "
                    "(add the booth user to the video group)",
                )
        api = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        capture = cv2.VideoCapture(target, api)
        if not capture.isOpened():
            capture.release()
            raise self._busy(shown, node)
        refused = self._configure(capture)
        ok, first = capture.read()
        if not ok or first is None:
            capture.release()
            raise self._busy(shown, node)
        self._capture, self._first = capture, _as_image(first)
        height, width = self._first.shape[:2]
        fps = float(capture.get(cv2.CAP_PROP_FPS) or self.settings.fps)
        wanted = (self.settings.width, self.settings.height)
        if wanted != (0, 0) and wanted != (width, height):
            refused.append("size")
        return SourceInfo(f"{shown} (UVC)", width, height, fps, tuple(refused))

    def _busy(self, shown: str, node: Path | None) -> CaptureError:
        users = holders(node) if node is not None else []
        if users:
            more = f" and {len(users) - 3} more" if len(users) > 3 else ""
            return CaptureError("doccam_busy", f"{shown} is in use by {', '.join(users[:3])}{more}")
        return CaptureError(
            "doccam_busy",
            f"{shown} could not be opened: another program may be using it, "
            "or it is not a camera's capture node",
        )

    def _configure(self, capture: cv2.VideoCapture) -> list[str]:
        """Apply the settings best-effort; return the names of those the driver refused."""
        s = self.settings
        refused: list[str] = []

        def want(name: str, prop: int, value: float) -> None:
            if not capture.set(prop, value):
                refused.append(name)

        # MJPG before the size: uncompressed YUYV gives 4K and more at a frame or two a
        # second over USB 2, or not at all.
        mjpg = cv2.VideoWriter.fourcc(*"MJPG")
        want("mjpg", cv2.CAP_PROP_FOURCC, mjpg)
        if "mjpg" not in refused and int(capture.get(cv2.CAP_PROP_FOURCC)) != mjpg:
            refused.append("mjpg")
        width, height = (s.width, s.height) if s.width and s.height else (LARGEST, LARGEST)
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        want("fps", cv2.CAP_PROP_FPS, s.fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not one queued earlier
        if s.autofocus is not None or s.focus is not None:
            # A focus value means manual focus: the camera's own autofocus would undo it.
            want("autofocus", cv2.CAP_PROP_AUTOFOCUS, 1 if s.autofocus else 0)
        if s.focus is not None:
            want("focus", cv2.CAP_PROP_FOCUS, s.focus)
        if s.auto_exposure is not None or s.exposure is not None:
            values = V4L2_AUTO_EXPOSURE if sys.platform.startswith("linux") else OTHER_AUTO_EXPOSURE
            want("auto_exposure", cv2.CAP_PROP_AUTO_EXPOSURE, values[bool(s.auto_exposure)])
        if s.exposure is not None:
            want("exposure", cv2.CAP_PROP_EXPOSURE, s.exposure)
        return refused

    def read(self) -> Image:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        if self._capture is None:
            raise CaptureError("doccam_stalled", "the document camera is not open")
        ok, frame = self._capture.read()
        if ok and frame is not None:
            return _as_image(frame)
        if self._node is not None and not self._node.exists():
            raise CaptureError("doccam_missing", f"the document camera {self._node} was unplugged")
        raise CaptureError("doccam_stalled", "the document camera stopped delivering frames")

    def close(self) -> None:
        capture, self._capture, self._first = self._capture, None, None
        if capture is not None:
            capture.release()


class StillImage:
    """One image file, delivered again and again at ``fps`` (a page lying still)."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.fps = fps
        self.interval: float | None = 1.0 / fps
        self._image: Image | None = None

    def open(self) -> SourceInfo:
        image = _read_image(self.path)
        self._image = _frozen(image)
        height, width = image.shape[:2]
        return SourceInfo(f"fake image {self.path}", width, height, self.fps)

    def read(self) -> Image:
        if self._image is None:
            raise CaptureError("doccam_stalled", f"fake image {self.path} is not open")
        return self._image

    def close(self) -> None:
        self._image = None


class ImageFolder:
    """The images of a folder in name order, one per frame at ``fps``, over and over."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.fps = fps
        self.interval: float | None = 1.0 / fps
        self._files: list[Path] = []
        self._next = 0

    def open(self) -> SourceInfo:
        if not self.path.is_dir():
            raise CaptureError("doccam_missing", f"fake image folder {self.path}: no such folder")
        self._files = sorted(
            p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
        )
        self._next = 0
        first = self.read()  # also proves that at least one image can be read
        self._next = 0
        height, width = first.shape[:2]
        return SourceInfo(
            f"fake image folder {self.path} ({len(self._files)} images)",
            width,
            height,
            self.fps,
        )

    def read(self) -> Image:
        # Decoded on every frame: a folder of 12 MP pages would not fit in memory decoded.
        for _ in range(len(self._files)):
            path = self._files[self._next]
            self._next = (self._next + 1) % len(self._files)
            try:
                return _read_image(path)
            except CaptureError:
                continue  # removed or unreadable: the next one
        raise CaptureError("doccam_missing", f"fake image folder {self.path}: no readable images")

    def close(self) -> None:
        self._files = []


class VideoFile:
    """A video file at its own size, looping, paced at ``fps``."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.fps = fps
        self.interval: float | None = 1.0 / fps
        self._capture: cv2.VideoCapture | None = None

    def _open_capture(self) -> cv2.VideoCapture:
        if not self.path.is_file():
            raise CaptureError("doccam_missing", f"fake video {self.path}: no such file")
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise CaptureError(
                "doccam_missing", f"fake video {self.path}: not a video OpenCV reads"
            )
        return capture

    def open(self) -> SourceInfo:
        self._capture = self._open_capture()
        ok, first = self._capture.read()
        if not ok or first is None:
            self.close()
            raise CaptureError("doccam_missing", f"fake video {self.path}: no frames")
        self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        height, width = first.shape[:2]
        return SourceInfo(f"fake video {self.path}", width, height, self.fps)

    def read(self) -> Image:
        if self._capture is None:
            raise CaptureError("doccam_stalled", f"fake video {self.path} is not open")
        ok, frame = self._capture.read()
        if not ok or frame is None:
            # The end: back to the start; a container that cannot seek is opened again.
            if not self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0):
                self._capture.release()
                self._capture = self._open_capture()
            ok, frame = self._capture.read()
        if not ok or frame is None:
            raise CaptureError("doccam_stalled", f"fake video {self.path}: no more frames")
        return _as_image(frame)

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()


def _read_image(path: Path) -> Image:
    if not path.is_file():
        raise CaptureError("doccam_missing", f"fake image {path}: no such file")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise CaptureError("doccam_missing", f"fake image {path}: not an image OpenCV reads")
    return _as_image(image)
