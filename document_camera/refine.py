"""Refine coarse corners at full resolution: fit a line to each side's edge, intersect."""

from __future__ import annotations

import cv2
import numpy as np

from .geometry import Corners

Image = np.ndarray

SAMPLES_PER_SIDE = 48


def refine_corners(image: Image, corners: Corners, search: float, strict: bool = False) -> Corners:
    """Return corners moved onto the sides' true edges; keep the coarse ones if unsure.

    When a side shows no clear edge, strict refinement gives up (the coarse corners come
    back); otherwise that side keeps its coarse line and the others are still refined.
    """
    lines = []
    for i in range(4):
        a, b = corners[i], corners[(i + 1) % 4]
        # A side without a clear edge (glare, a cut) keeps its coarse line.
        line = _fit_side(image, a, b, search)
        if line is None and strict:
            return corners
        lines.append(line if line is not None else (a, (b - a) / (np.linalg.norm(b - a) + 1e-12)))
    refined = np.array([_intersect(lines[i - 1], lines[i]) for i in range(4)])
    if not np.isfinite(refined).all():
        return corners
    if np.linalg.norm(refined - corners, axis=1).max() > 3 * search:
        return corners
    return refined


def _fit_side(
    image: Image, a: np.ndarray, b: np.ndarray, search: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """Return (point, direction) of the line best fitting the edge near side a-b."""
    length = float(np.linalg.norm(b - a))
    if length < 4:
        return None
    direction = (b - a) / length
    normal = np.array([-direction[1], direction[0]])
    # Stay clear of the corners: rounded card corners and neighbouring sides bend the edge.
    t = np.linspace(0.08, 0.92, SAMPLES_PER_SIDE)
    offsets = np.arange(-search, search + 1.0, 1.0)
    centres = a + np.outer(t, b - a)
    coords = centres[:, None, :] + offsets[None, :, None] * normal
    map_x = coords[..., 0].astype(np.float32)
    map_y = coords[..., 1].astype(np.float32)
    strip = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if strip.ndim == 3:
        strip = strip.astype(np.float32).mean(axis=2)
    strip = cv2.GaussianBlur(strip.astype(np.float32), (0, 0), sigmaX=1.2, sigmaY=0.01)
    deriv = np.abs(np.diff(strip, axis=1))
    # Prefer the edge closest to the coarse side: a window against print and desk texture.
    window = np.exp(-0.5 * (((offsets[:-1] + 0.5) / (0.7 * search)) ** 2))
    weighted = deriv * window
    peak = weighted.argmax(axis=1)
    strength = deriv[np.arange(len(peak)), peak]
    keep = (peak > 0) & (peak < deriv.shape[1] - 1) & (strength > 0.5 * np.median(strength))
    if keep.sum() < SAMPLES_PER_SIDE // 3:
        return None
    rows = np.nonzero(keep)[0]
    p = peak[rows]
    left, mid, right = deriv[rows, p - 1], deriv[rows, p], deriv[rows, p + 1]
    denom = left - 2 * mid + right
    sub = np.where(np.abs(denom) > 1e-6, 0.5 * (left - right) / np.where(denom == 0, 1, denom), 0)
    where = offsets[p] + 0.5 + np.clip(sub, -0.5, 0.5)
    points = centres[rows] + where[:, None] * normal
    vx, vy, x0, y0 = cv2.fitLine(points.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
    return np.array([x0, y0], np.float64), np.array([vx, vy], np.float64)


def _intersect(l1: tuple[np.ndarray, np.ndarray], l2: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Return the intersection of two lines given as (point, direction)."""
    (p1, d1), (p2, d2) = l1, l2
    matrix = np.array([d1, -d2]).T
    if abs(np.linalg.det(matrix)) < 1e-9:
        return np.array([np.nan, np.nan])
    s = np.linalg.solve(matrix, p2 - p1)
    return np.asarray(p1 + s[0] * d1, np.float64)
