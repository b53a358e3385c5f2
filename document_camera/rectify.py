"""Perspective correction: the found quadrilateral becomes a flat, upright page."""

from __future__ import annotations

import math

import cv2
import numpy as np

from .geometry import Corners, side_lengths

Image = np.ndarray

A4_RATIO = math.sqrt(2)
ID1_RATIO = 85.6 / 54.0
# How close a measured long/short ratio must be to a known paper shape to snap to it.
SNAP_TOLERANCE = 0.06


def page_ratio(measured: float) -> float:
    """Return the known paper ratio (A4, ID-1) the measured long/short ratio is near, or it."""
    for known in (A4_RATIO, ID1_RATIO):
        if abs(measured - known) / known <= SNAP_TOLERANCE:
            return known
    return measured


def page_size(corners: Corners, max_side: int | None = None) -> tuple[int, int]:
    """Return the (width, height) that keeps the source's detail at the page's true ratio."""
    width, height = side_lengths(corners)
    long_side, short_side = max(width, height), min(width, height)
    ratio = page_ratio(long_side / max(short_side, 1.0))
    if max_side is not None:
        long_side = min(long_side, float(max_side))
    long_px, short_px = round(long_side), max(1, round(long_side / ratio))
    return (long_px, short_px) if width >= height else (short_px, long_px)


def rectify(image: Image, corners: Corners, max_side: int | None = None) -> Image:
    """Warp the quadrilateral at corners (clockwise from top-left) to an upright page."""
    width, height = page_size(corners, max_side)
    # Corners are the page's outer outline; map them to the outer edges of the output pixels.
    dst = np.array(
        [[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5], [-0.5, height - 0.5]],
        np.float32,
    )
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), dst)
    return cv2.warpPerspective(
        image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
