"""A still of the document camera as it travels: the corrected page and the whole frame."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

from document_camera.pipeline import process

Trigger = Literal["expert", "auto"]
PAGE_JPEG_QUALITY = 90
# The whole frame is the reference beside the page, not the reading copy: a little more
# compression makes it a third smaller and the still arrives sooner.
ORIGINAL_JPEG_QUALITY = 85


@dataclass(frozen=True)
class Part:
    """One encoded image of a still."""

    name: Literal["page", "original"]
    mime: str
    data: bytes
    width: int
    height: int

    def describe(self) -> dict[str, Any]:
        """Return the part as the `still` message lists it."""
        return {
            "name": self.name,
            "mime": self.mime,
            "bytes": len(self.data),
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "width": self.width,
            "height": self.height,
        }


@dataclass(frozen=True)
class DoccamStill:
    """A processed still, ready to send; it lives in memory only."""

    still_id: str
    trigger: Trigger
    request_id: str | None
    captured_at: float
    width: int
    height: int
    corners: list[list[float]] | None
    quality: dict[str, Any]
    parts: tuple[Part, ...]

    def announcement(self) -> dict[str, Any]:
        """Return the `still` message that goes before the bytes."""
        return {
            "type": "still",
            "still_id": self.still_id,
            "trigger": self.trigger,
            "request_id": self.request_id,
            "captured_at": self.captured_at,
            "width": self.width,
            "height": self.height,
            "corners": self.corners,
            "quality": self.quality,
            "parts": [part.describe() for part in self.parts],
        }


def _encode(
    name: Literal["page", "original"], image: np.ndarray, quality: int, png: bool = False
) -> Part:
    """Encode an image as JPEG (or PNG, for black-and-white pages)."""
    if png:
        ok, buffer = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        mime = "image/png"
    else:
        ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        mime = "image/jpeg"
    if not ok:
        raise ValueError(f"could not encode the {name}")
    height, width = image.shape[:2]
    return Part(name, mime, buffer.tobytes(), width, height)


def make_still(
    frame: np.ndarray,
    trigger: Trigger,
    request_id: str | None = None,
    black_and_white: bool = False,
    captured_at: float | None = None,
) -> DoccamStill:
    """Detect, correct and encode a full-resolution frame (CPU-bound: run it in a thread)."""
    result = process(frame, black_and_white)
    parts: list[Part] = []
    if result.page is not None:
        # The page goes first: it is what the expert reads. A black-and-white page is
        # nearly two colours: PNG keeps it exact and small.
        parts.append(_encode("page", result.page, PAGE_JPEG_QUALITY, png=black_and_white))
    parts.append(_encode("original", frame, ORIGINAL_JPEG_QUALITY))
    height, width = frame.shape[:2]
    corners = None
    if result.corners is not None:
        corners = [[round(float(x), 1), round(float(y), 1)] for x, y in result.corners]
    return DoccamStill(
        still_id="st-" + secrets.token_hex(6),
        trigger=trigger,
        request_id=request_id,
        captured_at=captured_at if captured_at is not None else time.time(),
        width=width,
        height=height,
        corners=corners,
        quality=result.quality.to_json(),
        parts=tuple(parts),
    )
