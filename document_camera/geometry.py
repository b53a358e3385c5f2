"""Quadrilateral geometry: corner order, size and the corner error measure."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Corners = npt.NDArray[np.float64]
"""Four (x, y) points, shape (4, 2), clockwise from top-left in image pixels."""


def order_corners(points: npt.ArrayLike) -> Corners:
    """Return four points ordered clockwise (on screen) starting at the top-left one."""
    pts = np.asarray(points, dtype=np.float64).reshape(4, 2)
    center = pts.mean(axis=0)
    # y grows downwards, so increasing atan2 angle runs clockwise on screen.
    angles = np.arctan2(pts[:, 1] - center[1], pts[:, 0] - center[0])
    pts = pts[np.argsort(angles, kind="stable")]
    start = int(np.argmin(pts[:, 0] + pts[:, 1]))
    return np.roll(pts, -start, axis=0)


def signed_area(corners: Corners) -> float:
    """Return the shoelace area; positive when the corners run clockwise on screen."""
    x, y = corners[:, 0], corners[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def diagonal(corners: Corners) -> float:
    """Return the mean length of the quadrilateral's two diagonals."""
    d1 = np.linalg.norm(corners[2] - corners[0])
    d2 = np.linalg.norm(corners[3] - corners[1])
    return float((d1 + d2) / 2)


def side_lengths(corners: Corners) -> tuple[float, float]:
    """Return the longer of each pair of opposite sides: (width, height)."""
    top = np.linalg.norm(corners[1] - corners[0])
    bottom = np.linalg.norm(corners[2] - corners[3])
    left = np.linalg.norm(corners[3] - corners[0])
    right = np.linalg.norm(corners[2] - corners[1])
    return float(max(top, bottom)), float(max(left, right))


def interior_angles(corners: Corners) -> list[float]:
    """Return the four interior angles in degrees."""
    angles = []
    for i in range(4):
        a = corners[i - 1] - corners[i]
        b = corners[(i + 1) % 4] - corners[i]
        cos = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
        angles.append(math.degrees(math.acos(max(-1.0, min(1.0, cos)))))
    return angles


def corner_error(found: Corners, truth: Corners) -> float:
    """Return the mean corner distance as a percentage of the true page diagonal."""
    # The best cyclic shift: a page turned by ~45 degrees has no unique top-left.
    best = min(
        float(np.linalg.norm(np.roll(found, k, axis=0) - truth, axis=1).mean()) for k in range(4)
    )
    return 100.0 * best / diagonal(truth)
