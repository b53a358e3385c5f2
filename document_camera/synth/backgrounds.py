"""Synthetic desk surfaces under a document camera: wood, cloth, tablecloth, dark desk."""

from __future__ import annotations

from enum import StrEnum

import cv2
import numpy as np

Image = np.ndarray


class Background(StrEnum):
    """The surfaces the generator draws."""

    WOOD = "wood"
    CLOTH = "cloth"
    TABLECLOTH = "tablecloth"
    DARK_DESK = "dark_desk"


def smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> Image:
    """Return low-frequency noise in [0, 1] (random grid upsampled bicubically)."""
    grid = rng.random((cells, max(2, cells * width // height))).astype(np.float32)
    return np.clip(cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC), 0, 1)


def _mix(a: Image, b: Image, t: Image) -> Image:
    """Blend two colours per pixel by t in [0, 1]."""
    return np.asarray(a * (1 - t[..., None]) + b * t[..., None], np.float32)


def wood(rng: np.random.Generator, height: int, width: int) -> Image:
    """Return a wood-grain surface (float32 BGR 0-255)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phi = rng.uniform(0, np.pi)
    t = x * np.cos(phi) + y * np.sin(phi)
    warp = smooth_noise(rng, height, width, 6) * 8 + smooth_noise(rng, height, width, 30) * 1.5
    period = rng.uniform(0.02, 0.06) * width
    rings = (np.sin(2 * np.pi * t / period + warp) + 1) / 2
    light = np.array([rng.uniform(60, 140), rng.uniform(110, 180), rng.uniform(160, 230)])
    dark = light * rng.uniform(0.45, 0.75)
    grain = rng.random((height, 1 + width // 8)).astype(np.float32)
    grain = cv2.resize(grain, (width, height), interpolation=cv2.INTER_LINEAR) * 0.15
    return _mix(light.astype(np.float32), dark.astype(np.float32), rings**1.5 * 0.85 + grain)


def cloth(rng: np.random.Generator, height: int, width: int) -> Image:
    """Return a woven cloth surface: a fine weave with slow colour drift."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    period = rng.uniform(3, 7)
    weave = (np.sin(2 * np.pi * x / period) * np.sin(2 * np.pi * y / period) + 1) / 2
    base = rng.uniform(40, 200, size=3).astype(np.float32)
    drift = smooth_noise(rng, height, width, 4) * 0.3 + 0.85
    return np.asarray(base * drift[..., None] * (0.8 + 0.25 * weave[..., None]), np.float32)


def tablecloth(rng: np.random.Generator, height: int, width: int) -> Image:
    """Return a patterned tablecloth: gingham checks or a dotted print on a light ground."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    colour = rng.uniform(30, 200, size=3).astype(np.float32)
    ground = rng.uniform(200, 245, size=3).astype(np.float32)
    period = rng.uniform(0.03, 0.08) * width
    if rng.random() < 0.6:
        sx = ((x // (period / 2)) % 2).astype(np.float32)
        sy = ((y // (period / 2)) % 2).astype(np.float32)
        t = (sx + sy) / 2
        return _mix(ground, colour, t)
    img = np.empty((height, width, 3), np.float32)
    img[:] = ground
    r = max(2, int(period / 5))
    for cy in np.arange(0, height + period, period):
        for cx in np.arange(0, width + period, period):
            off = period / 2 if int(cy // period) % 2 else 0
            cv2.circle(img, (int(cx + off), int(cy)), r, colour.tolist(), -1, cv2.LINE_AA)
    return img


def dark_desk(rng: np.random.Generator, height: int, width: int) -> Image:
    """Return a dark laminate desk with faint scratches."""
    level = rng.uniform(15, 60)
    tint = rng.uniform(0.85, 1.15, size=3).astype(np.float32)
    img = (level * tint * (0.8 + 0.4 * smooth_noise(rng, height, width, 5))[..., None]).astype(
        np.float32
    )
    for _ in range(int(rng.integers(5, 30))):
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (p1[0] + int(rng.integers(-width // 4, width // 4)), p1[1] + int(rng.integers(-9, 9)))
        cv2.line(img, p1, p2, (level * 1.4,) * 3, 1, cv2.LINE_AA)
    return img


def render_background(kind: Background, rng: np.random.Generator, height: int, width: int) -> Image:
    """Return a surface of the given kind (float32 BGR 0-255)."""
    makers = {
        Background.WOOD: wood,
        Background.CLOTH: cloth,
        Background.TABLECLOTH: tablecloth,
        Background.DARK_DESK: dark_desk,
    }
    return makers[kind](rng, height, width)
