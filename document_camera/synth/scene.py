"""Compose ground-truth scenes: a page warped onto a desk, lit, blurred, noisy, JPEG'd."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np

from ..geometry import Corners, order_corners
from .backgrounds import Background, render_background, smooth_noise
from .page import PageKind, card_mask, render_a4, render_id_card

Image = np.ndarray

UHD_4K = (3840, 2160)
MP_12 = (4000, 3000)

T = TypeVar("T")


@dataclass(frozen=True)
class SceneSpec:
    """Choices for one scene; None means "draw at random from the seed"."""

    document: bool = True
    kind: PageKind | None = None
    background: Background | None = None
    page_fraction: float | None = None
    rotation_deg: float | None = None
    shadow: bool | None = None
    glare: bool | None = None
    blur_sigma: float | None = None
    noise_sigma: float | None = None
    jpeg_quality: int | None = None


@dataclass(frozen=True)
class Scene:
    """A generated camera frame and its ground truth."""

    seed: int
    image: Image
    corners: Corners | None
    page: Image | None
    kind: PageKind | None
    background: Background


def _pick(value: T | None, draw: T) -> T:
    """Return the spec's value, or the random draw when the spec leaves it open."""
    return draw if value is None else value


def _page_quad(
    rng: np.random.Generator, size: tuple[int, int], page_wh: tuple[float, float], rot: float
) -> Corners:
    """Return where the page's corners land in the frame: rotated, tilted, inside the frame."""
    width, height = size
    pw, ph = page_wh
    rect = np.array([[-pw / 2, -ph / 2], [pw / 2, -ph / 2], [pw / 2, ph / 2], [-pw / 2, ph / 2]])
    jitter = rng.uniform(-0.035, 0.035, size=(4, 2)) * np.array([pw, ph])
    c, s = math.cos(math.radians(rot)), math.sin(math.radians(rot))
    quad = (rect + jitter) @ np.array([[c, s], [-s, c]])
    margin = 0.02 * min(width, height)
    lo, hi = quad.min(axis=0), quad.max(axis=0)
    span = np.array([width, height]) - 2 * margin - (hi - lo)
    if (span < 0).any():
        quad *= float(np.min((np.array([width, height]) - 2 * margin) / (hi - lo)))
        lo, hi = quad.min(axis=0), quad.max(axis=0)
        span = np.maximum(np.array([width, height]) - 2 * margin - (hi - lo), 0)
    offset = margin - lo + rng.random(2) * span
    return np.asarray(quad + offset, np.float64)


def _place_page(
    rng: np.random.Generator, spec: SceneSpec, size: tuple[int, int]
) -> tuple[Image, Image, Corners, PageKind]:
    """Render a page and choose where it lies; return page, mask, quad and kind."""
    kind = _pick(spec.kind, PageKind.A4 if rng.random() < 0.7 else PageKind.ID_CARD)
    if kind is PageKind.A4:
        page = render_a4(rng)
        mask = np.full(page.shape[:2], 255, np.uint8)
        frac = _pick(spec.page_fraction, float(rng.uniform(0.55, 0.95)))
        ph = frac * size[1]
        wh = (ph * page.shape[1] / page.shape[0], ph)
    else:
        page = render_id_card(rng)
        mask = card_mask(*page.shape[:2])
        frac = _pick(spec.page_fraction, float(rng.uniform(0.35, 0.6)))
        pw = frac * size[1]
        wh = (pw, pw * page.shape[0] / page.shape[1])
    rot = _pick(spec.rotation_deg, float(rng.uniform(-20, 20)))
    return page, mask, _page_quad(rng, size, wh, rot), kind


def _lighting(
    rng: np.random.Generator, spec: SceneSpec, size: tuple[int, int], quad: Corners | None
) -> tuple[Image, Image]:
    """Return the gain (shading, shadows) and additive glare maps at quarter resolution."""
    w, h = size[0] // 4, size[1] // 4
    gain = 0.75 + 0.25 * smooth_noise(rng, h, w, 3)
    if _pick(spec.shadow, bool(rng.random() < 0.4)):
        pts = rng.random((5, 2)) * np.array([w, h])
        pts[:2] = np.array([[0, rng.random() * h], [0, rng.random() * h]])
        shade: Image = np.zeros((h, w), np.float32)
        cv2.fillPoly(shade, [cv2.convexHull(pts.astype(np.int32))], 1.0)
        shade = cv2.GaussianBlur(shade, (0, 0), rng.uniform(0.01, 0.05) * w)
        gain *= 1 - float(rng.uniform(0.25, 0.5)) * shade
    glare = np.zeros((h, w), np.float32)
    if _pick(spec.glare, bool(rng.random() < 0.3)):
        center = rng.random(2) * np.array([w, h])
        if quad is not None:
            inner = quad.mean(axis=0) + (quad - quad.mean(axis=0))[rng.integers(0, 4)] * 0.5
            center = inner / 4
        sigma = float(rng.uniform(0.02, 0.06) * w)
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((x - center[0]) ** 2 + (y - center[1]) ** 2 * rng.uniform(0.4, 1.0)) / sigma**2
        glare = float(rng.uniform(120, 260)) * np.exp(-r2 / 2).astype(np.float32)
    return gain.astype(np.float32), glare


def make_scene(seed: int, size: tuple[int, int] = UHD_4K, spec: SceneSpec | None = None) -> Scene:
    """Generate one scene, deterministically from its seed."""
    spec = spec or SceneSpec()
    rng = np.random.default_rng(seed)
    width, height = size
    bg_kind = _pick(spec.background, Background(rng.choice(list(Background))))
    half = render_background(bg_kind, rng, height // 2, width // 2)
    frame = cv2.resize(half, (width, height), interpolation=cv2.INTER_LINEAR)
    page = kind = truth = None
    if spec.document:
        page, mask, quad, kind = _place_page(rng, spec, size)
        ph, pw = page.shape[:2]
        src = np.array([[-0.5, -0.5], [pw - 0.5, -0.5], [pw - 0.5, ph - 0.5], [-0.5, ph - 0.5]])
        matrix = cv2.getPerspectiveTransform(src.astype(np.float32), quad.astype(np.float32))
        warped = cv2.warpPerspective(page, matrix, size, flags=cv2.INTER_LINEAR)
        alpha = cv2.warpPerspective(mask, matrix, size, flags=cv2.INTER_LINEAR)
        a = alpha.astype(np.float32)[..., None] / 255
        # The paper's own soft shadow on the desk, offset a little.
        drop = cv2.GaussianBlur(alpha, (0, 0), 0.004 * width).astype(np.float32) / 255
        drop = np.roll(drop, (int(0.003 * width), int(0.003 * width)), axis=(0, 1))
        frame = frame * (1 - 0.35 * drop[..., None])
        frame = frame * (1 - a) + warped.astype(np.float32) * a
        truth = order_corners(quad)
    gain, glare = _lighting(rng, spec, size, truth)
    gain = cv2.resize(gain, size, interpolation=cv2.INTER_LINEAR)
    frame = frame * gain[..., None]
    if glare.any():
        frame += cv2.resize(glare, size, interpolation=cv2.INTER_LINEAR)[..., None]
    sigma = _pick(spec.blur_sigma, float(rng.uniform(0.3, 2.0)) if rng.random() < 0.6 else 0.0)
    if sigma > 0:
        frame = cv2.GaussianBlur(frame, (0, 0), sigma)
    noise = _pick(spec.noise_sigma, float(rng.uniform(1.0, 6.0)))
    if noise > 0:
        frame += rng.standard_normal(frame.shape, dtype=np.float32) * noise
    image = np.clip(frame, 0, 255).astype(np.uint8)
    quality = _pick(spec.jpeg_quality, int(rng.integers(55, 96)))
    if quality < 100:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return Scene(seed, image, truth, page, kind, bg_kind)


def sample_frame(size: tuple[int, int] = UHD_4K, seed: int = 7) -> Scene:
    """Return the demo's fake document camera frame: the sample A4 page on a dark desk."""
    spec = SceneSpec(
        kind=PageKind.A4,
        background=Background.DARK_DESK,
        page_fraction=0.85,
        rotation_deg=4.0,
        shadow=False,
        glare=False,
        blur_sigma=0.0,
        noise_sigma=1.5,
        jpeg_quality=100,
    )
    return make_scene(seed, size, spec)
