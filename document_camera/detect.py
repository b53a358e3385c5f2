"""Find a paper document's four corners in a camera frame."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from .geometry import Corners, interior_angles, order_corners, side_lengths, signed_area
from .refine import refine_corners

Image = np.ndarray


@dataclass(frozen=True)
class DetectConfig:
    """Tuning of the detector; the defaults suit 4K-13 MP document cameras."""

    work_side: int = 640
    min_area_share: float = 0.015
    min_angle_deg: float = 45.0
    # Papers are at most ~1.6:1 (ID-1); a longer shape is a stripe of desk texture.
    max_elongation: float = 2.5
    # Paper and ID cards are pale; wood and coloured cloth are not (HSV saturation, 0-255,
    # median inside after closing). Generated pages measure <= 63 where found (ID-1 cards
    # as drawn: mean 38, at most 71); patches of wood grain that pass every other test
    # 80-102.
    max_saturation: float = 80.0
    min_edge_support: float = 0.55
    # Found pages measure <= 0.2 (generated frames); glare spots on a desk 0.7 and more.
    max_ramp: float = 0.4
    # Found pages show at most 2 swings along any side; outlines through gingham 5-7.
    max_swings: int = 3
    # Found pages show at most one jump in all along their sides' inner bands (a card's
    # photo near its side at 1280x720); an outline that runs along a gingham's checks, or
    # a glare spot merged with them, 2-6.
    max_jumps: int = 1
    min_score: float = 0.1
    refine: bool = True


DEFAULT = DetectConfig()
# The least share of the frame that a page cut by the frame's edge must show.
CUT_MIN_AREA_SHARE = 0.03


def detect_document(image: Image, config: DetectConfig = DEFAULT) -> Corners | None:
    """Return the document's corners in original pixels (clockwise from top-left) or None."""
    scale = config.work_side / max(image.shape[:2])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    found = find_quad(small, config)
    if found is None:
        return None
    corners = (found + 0.5) / scale - 0.5
    if config.refine:
        corners = refine_corners(image, corners, search=6.0 / scale + 3)
    return order_corners(corners)


def find_quad(small: Image, config: DetectConfig = DEFAULT) -> Corners | None:
    """Return the best document quadrilateral in a small frame, or None."""
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    views = Views.of(small)
    best: tuple[float, Corners] | None = None
    seen: set[bytes] = set()
    snapped: set[bytes] = set()
    for coarse in _candidates(small, gray, config):
        # Many maps outline the same page: judge each outline (and each snapped one) once.
        if _seen(coarse, seen, 4) or not _plausible(coarse, gray.shape, config):
            continue
        # Snap the fitted outline onto the edges before judging it.
        quad = refine_corners(small, coarse, search=6.0, strict=True)
        if _seen(quad, snapped, 1):
            continue
        score = _score(quad, views, config)
        # The shape test is the dearest: run it only on a candidate that would win.
        if score is None or (best is not None and score <= best[0]):
            continue
        if _shape_is_paper(quad, views, config):
            best = (score, quad)
            continue
        # An outline that runs along desk print on one side may hold the page inside it.
        for inner in _inner_outlines(quad, views, config):
            inner = refine_corners(small, inner, search=6.0, strict=True)
            inner_score = _score(inner, views, config)
            if inner_score is None or (best is not None and inner_score <= best[0]):
                continue
            if _shape_is_paper(inner, views, config):
                best = (inner_score, inner)
    return None if best is None or best[0] < config.min_score else best[1]


@dataclass(frozen=True)
class Views:
    """The small frame's derived images that candidates are judged on, computed once."""

    grad: Image
    flat: Image
    flat_edges: Image
    saturation: Image

    @classmethod
    def of(cls, small: Image) -> Views:
        """Derive the views of a small frame."""
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (17, 17))
        # Closing erases print, so what is left inside a page is the paper itself.
        flat = cv2.medianBlur(cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel), 5)
        return cls(
            grad=_gradient(small),
            flat=flat,
            flat_edges=cv2.Canny(cv2.cvtColor(flat, cv2.COLOR_BGR2GRAY), 20, 60),
            saturation=cv2.cvtColor(flat, cv2.COLOR_BGR2HSV)[..., 1],
        )


def _seen(quad: Corners, seen: set[bytes], pixels: int) -> bool:
    """Say whether a quadrilateral within a few pixels of this one was judged; note it."""
    key = np.rint(quad / pixels).astype(np.int32).tobytes()
    if key in seen:
        return True
    seen.add(key)
    return False


def _gradient(small: Image) -> Image:
    """Return the colour gradient magnitude (max over channels), 1.0 for a strong edge."""
    blurred = cv2.GaussianBlur(small, (3, 3), 0).astype(np.float32)
    gx = cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.sqrt(gx * gx + gy * gy).max(axis=2)
    return np.asarray(mag / 200.0, np.float32)


def _masks(small: Image, gray: Image) -> Iterator[Image]:
    """Yield binary maps whose outlines may be the page: edges, regions, brightness."""
    # Closing erases dark print (and dark dots of a print), so the page is one bright shape.
    # The middle scale with firmer edges keeps a page's outline apart from a gingham's
    # light squares, which the other two merge with it.
    for size, low in ((7, 15), (11, 25), (17, 6)):
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
        closed = cv2.medianBlur(cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel), 5)
        closed_gray = cv2.cvtColor(closed, cv2.COLOR_BGR2GRAY)
        edges: Image = np.zeros_like(closed_gray)
        for channel in (closed_gray, *cv2.split(closed)):
            edges = cv2.bitwise_or(edges, cv2.Canny(channel, low, 3 * low))
        edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
        yield edges
        # The regions edges enclose: the page's inside stays clean when texture touches it.
        yield cv2.bitwise_not(edges)
        hsv = cv2.cvtColor(closed, cv2.COLOR_BGR2HSV)
        whiteness = cv2.subtract(hsv[..., 2], hsv[..., 1])
        for channel in (closed_gray, whiteness):
            _, mask = cv2.threshold(channel, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
            yield cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))


def _candidates(small: Image, gray: Image, config: DetectConfig) -> Iterator[Corners]:
    """Yield convex quadrilaterals fitted to the large outlines of every map."""
    min_area = config.min_area_share * gray.shape[0] * gray.shape[1]
    min_arm = L_CORNER_ARM * max(gray.shape)
    corners: list[LCorner] = []
    for index, mask in enumerate(_masks(small, gray)):
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            if index % MAPS_PER_SCALE == 0 and cv2.arcLength(contour, True) > 4 * min_arm:
                corners += _l_corners(contour, min_arm, gray.shape)
            if cv2.contourArea(contour) < min_area:
                continue
            box = order_corners(cv2.boxPoints(cv2.minAreaRect(contour)))
            for quad in (_fit_quad(cv2.convexHull(contour)), _fit_quad(contour), box):
                if quad is not None:
                    yield quad
    yield from _quads_of_corners(corners[:MAX_L_CORNERS])


# _masks yields this many maps per closing size, the edge map first.
MAPS_PER_SCALE = 4
# A page corner's sides, as fragments of an edge map, are at least this long (share of
# the long side), and at most this many corners are paired.
L_CORNER_ARM = 0.06
MAX_L_CORNERS = 40


@dataclass(frozen=True)
class LCorner:
    """A corner seen in an edge map: its apex and the unit directions of its two arms."""

    apex: np.ndarray
    arm1: np.ndarray
    arm2: np.ndarray


def _l_corners(contour: np.ndarray, min_arm: float, shape: tuple[int, ...]) -> list[LCorner]:
    """Return the near-square corners where two long straight runs of an edge fragment meet."""
    poly = cv2.approxPolyDP(contour, 2.0, True).reshape(-1, 2).astype(np.float64)
    n = len(poly)
    runs = [(poly[i], poly[(i + 1) % n]) for i in range(n)]
    long_runs = [run for run in runs if np.linalg.norm(run[1] - run[0]) >= min_arm]
    found = []
    for (p0, p1), (q0, q1) in zip(long_runs, long_runs[1:] + long_runs[:1], strict=True):
        # A corner may be cut off by a short chamfer (or a touching dot): allow a gap.
        if np.linalg.norm(q0 - p1) > min_arm / 3:
            continue
        u, v = (p0 - p1) / np.linalg.norm(p0 - p1), (q1 - q0) / np.linalg.norm(q1 - q0)
        if abs(float(np.dot(u, v))) >= 0.5:  # not 60-120 degrees
            continue
        apex = _meet(p1, u, q0, v)
        if apex is not None and not _at_border(apex, shape[1], shape[0]):
            found.append(LCorner(apex, u, v))
    return found


def _quads_of_corners(corners: list[LCorner]) -> Iterator[Corners]:
    """Yield the quadrilaterals that two opposite corners span (a page whose sides are broken)."""
    # A cast shadow across a page can break every outline of it, leaving two corners
    # whose arms still run along the page's four sides.
    for a, c in itertools.combinations(corners, 2):
        diag = c.apex - a.apex
        if np.linalg.norm(diag) < 1e-6:
            continue
        # Opposite corners: c lies between a's arms and a between c's, arms antiparallel.
        if not (_between(diag, a.arm1, a.arm2) and _between(-diag, c.arm1, c.arm2)):
            continue
        for c1, c2 in ((c.arm1, c.arm2), (c.arm2, c.arm1)):
            if np.dot(a.arm1, c1) < -0.97 and np.dot(a.arm2, c2) < -0.97:
                b = _meet(a.apex, a.arm1, c.apex, c2)
                d = _meet(a.apex, a.arm2, c.apex, c1)
                if b is not None and d is not None:
                    yield order_corners(np.array([a.apex, b, c.apex, d]))


def _between(d: np.ndarray, u: np.ndarray, v: np.ndarray) -> bool:
    """Say whether direction d points into the angle spanned by unit vectors u and v."""
    return bool(_cross(u, d) * _cross(u, v) > 0 and _cross(v, d) * _cross(v, u) > 0)


def _cross(p: np.ndarray, q: np.ndarray) -> float:
    """Return the z component of the cross product of two plane vectors."""
    return float(p[0] * q[1] - p[1] * q[0])


def _meet(p: np.ndarray, u: np.ndarray, q: np.ndarray, v: np.ndarray) -> np.ndarray | None:
    """Return where the lines p + s*u and q + t*v cross, or None if they are parallel."""
    matrix = np.array([u, -v]).T
    if abs(np.linalg.det(matrix)) < 1e-6:
        return None
    s = np.linalg.solve(matrix, q - p)
    return np.asarray(p + s[0] * u, np.float64)


def _fit_quad(contour: np.ndarray) -> Corners | None:
    """Return the four-vertex approximation of a closed outline, if it has one."""
    perimeter = cv2.arcLength(contour, True)
    for eps in (0.01, 0.02, 0.03, 0.05):
        approx = cv2.approxPolyDP(contour, eps * perimeter, True).reshape(-1, 2)
        if len(approx) < 4:
            return None
        if len(approx) == 4:
            return order_corners(approx.astype(np.float64))
        if len(approx) <= 8:
            return _largest_quad(approx.astype(np.float64))
    return None


def _largest_quad(points: np.ndarray) -> Corners:
    """Return the four of a polygon's vertices that span the largest area."""
    best, best_area = points[:4], -1.0
    for combo in itertools.combinations(range(len(points)), 4):
        quad = points[list(combo)]
        area = abs(signed_area(quad))
        if area > best_area:
            best, best_area = quad, area
    return order_corners(best)


@dataclass(frozen=True)
class SideEvidence:
    """What the image says about one side of a candidate quadrilateral."""

    support: float
    step: float
    sharpness: float


def _side_evidence(
    a: np.ndarray, b: np.ndarray, centre: np.ndarray, grad: Image, flat: Image
) -> SideEvidence:
    """Measure edge support, colour step and edge sharpness along side a-b."""
    h, w = grad.shape
    pts = a + np.outer(np.linspace(0.1, 0.9, 40), b - a)
    normal = np.array([a[1] - b[1], b[0] - a[0]]) / (np.linalg.norm(b - a) + 1e-9)
    if np.dot(centre - (a + b) / 2, normal) < 0:
        normal = -normal
    # The true edge may lie a pixel or two off the fitted side.
    peak = np.max([_sample(grad, pts + normal * off) for off in (-2, -1, 0, 1, 2)], axis=0)
    band = 0.012 * max(h, w)
    inside = _sample(flat, pts + normal * band)
    outside = _sample(flat, pts - normal * band)
    step = np.abs(inside - outside).max(axis=1) if inside.ndim == 2 else np.abs(inside - outside)
    median_step = float(np.median(step))
    return SideEvidence(
        support=float((peak > 0.1).mean()),
        step=median_step,
        sharpness=float(np.median(peak) * 200 / max(median_step, 1.0)),
    )


@dataclass(frozen=True)
class SideShape:
    """How the level runs across and along one side (measured only for sides that pass)."""

    # How much the level keeps changing past the edge, on both sides, per unit of step:
    # ~0 for paper (a step between two flats), ~1 and more for a glare spot's halo.
    ramp: float
    # How often the level just inside the side swings back and forth along it: paper is
    # even (0-2: a shadow, a photo), a band of gingham checks alternates.
    swings: int
    # How often the level jumps along that band (by more than JUMP_LEVELS within 4 px):
    # paper's level drifts with the light, a band of desk print changes at each check.
    jumps: int


def _side_shape(a: np.ndarray, b: np.ndarray, centre: np.ndarray, flat: Image) -> SideShape:
    """Measure the ramp across side a-b and the swings along its inner band."""
    h, w = flat.shape[:2]
    pts = a + np.outer(np.linspace(0.1, 0.9, 40), b - a)
    normal = np.array([a[1] - b[1], b[0] - a[0]]) / (np.linalg.norm(b - a) + 1e-9)
    if np.dot(centre - (a + b) / 2, normal) < 0:
        normal = -normal
    band = 0.012 * max(h, w)
    level = _inner_level(a, b, normal, band, flat)
    return SideShape(_ramp(pts, normal, band, flat), _swings(level), _jumps(level))


def _inner_level(
    a: np.ndarray, b: np.ndarray, normal: np.ndarray, band: float, flat: Image
) -> Image:
    """Return the level along the band just inside side a-b, sampled every 2 px."""
    count = max(40, int(np.linalg.norm(b - a) / 2))
    pts = a + np.outer(np.linspace(0.1, 0.9, count), b - a) + normal * band
    level = _sample(flat, pts)
    return level.mean(axis=1) if level.ndim == 2 else level


def _jumps(level: Image) -> int:
    """Count the places where the level along a band jumps by more than JUMP_LEVELS in 4 px."""
    jumping = np.abs(level[2:] - level[:-2]) > JUMP_LEVELS
    # A jump spans two or three samples: count each run once.
    return int(jumping[0]) + int(np.count_nonzero(jumping[1:] & ~jumping[:-1]))


# The level change (0-255) within 4 px that counts as a jump along a side's inner band.
JUMP_LEVELS = 25.0


def _swings(level: Image) -> int:
    """Count the swings of the level along a side's inner band."""
    middle = float(np.median(level))
    # Hysteresis: a swing is a change from clearly above the median to clearly below.
    state, swings = 0, 0
    for value in level:
        side = (
            1
            if value > middle + SWING_LEVELS / 2
            else -1
            if value < middle - SWING_LEVELS / 2
            else 0
        )
        if side and side != state:
            swings += state != 0
            state = side
    return swings


# The level change (0-255) that counts as a swing along a side.
SWING_LEVELS = 12.0


def _ramp(pts: np.ndarray, normal: np.ndarray, band: float, flat: Image) -> float:
    """Return how far the level goes on rising inward past a side, per unit of its step."""
    level = [_sample(flat, pts + normal * k * band).mean(axis=-1) for k in (-4, -1, 1, 4)]
    outer, out, inside, inner = (float(np.median(v)) for v in level)
    step = inside - out
    if step < 1.0:
        # Only a bright patch can be a glare spot; a page darker than its desk (a tinted
        # card on a white cloth, with a photo inside) may well darken inwards.
        return 0.0
    # A page's edge is a step between two flats; a glare spot's halo or a lit patch of
    # desk goes on brightening towards its middle and darkening away from it.
    return ((inner - inside) + (out - outer)) / step


def _sides(quad: Corners, grad: Image, flat: Image) -> tuple[list[SideEvidence], int]:
    """Return the evidence of each side inside the frame, and how many lie on its edge."""
    h, w = grad.shape
    centre = quad.mean(axis=0)
    found, on_border = [], 0
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        if _on_border(a, b, w, h):
            on_border += 1
        else:
            found.append(_side_evidence(a, b, centre, grad, flat))
    return found, on_border


def _on_border(a: Corners, b: Corners, w: int, h: int) -> bool:
    """Say whether a side runs along the frame's edge (the page is cut there)."""
    tol = 0.02 * max(w, h)
    return bool(
        (a[0] < tol and b[0] < tol)
        or (a[1] < tol and b[1] < tol)
        or (a[0] > w - 1 - tol and b[0] > w - 1 - tol)
        or (a[1] > h - 1 - tol and b[1] > h - 1 - tol)
    )


def _sample(img: Image, pts: np.ndarray) -> np.ndarray:
    """Return the pixel values at points (nearest, clamped to the frame)."""
    h, w = img.shape[:2]
    p = np.rint(pts).astype(int)
    return np.asarray(img[p[:, 1].clip(0, h - 1), p[:, 0].clip(0, w - 1)], np.float64)


def _texture(quad: Corners, edges: Image) -> float:
    """Return the share of the inside with edges left after closing: paper is smooth."""
    h, w = edges.shape
    inner: Image = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(inner, np.rint(quad).astype(np.int32), 255)
    inner = cv2.erode(inner, np.ones((9, 9), np.uint8))
    if not inner.any():
        return 1.0
    return float(cv2.countNonZero(cv2.bitwise_and(edges, inner))) / cv2.countNonZero(inner) * 10


def _opposite_sides_on_border(quad: Corners, w: int, h: int) -> bool:
    """Say whether two opposite sides of the quadrilateral both lie on the frame's edge."""
    on = [_on_border(quad[i], quad[(i + 1) % 4], w, h) for i in range(4)]
    return (on[0] and on[2]) or (on[1] and on[3])


def _side_is_edge(side: SideEvidence, config: DetectConfig, strong: bool = False) -> bool:
    """Say whether a side is a paper edge: a clear step, or a faint one that is crisp all along."""
    if side.support < config.min_edge_support or side.sharpness < 1.0:
        return False
    if strong:
        return side.step >= 12 and side.support >= 0.8
    # White paper on a light cloth differs little in level, but its edge is sharp and
    # unbroken; desk texture (wood grain, shading) is softer or patchy.
    faint_but_crisp = side.support >= 0.9 and side.sharpness >= 3.0
    return side.step >= 10 or (faint_but_crisp and side.step >= 6)


def _plausible(quad: Corners, shape: tuple[int, ...], config: DetectConfig) -> bool:
    """Say whether a quadrilateral is big enough and square enough to be a page."""
    if signed_area(quad) < config.min_area_share * shape[0] * shape[1]:
        return False
    width, height = side_lengths(quad)
    if max(width, height) > config.max_elongation * min(width, height):
        return False
    angles = interior_angles(quad)
    return min(angles) >= config.min_angle_deg and max(angles) <= 180 - config.min_angle_deg


def _saturation(quad: Corners, saturation: Image) -> float:
    """Return the median colour saturation inside the quadrilateral (0-255)."""
    h, w = saturation.shape[:2]
    inner: Image = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(inner, np.rint(quad).astype(np.int32), 255)
    return float(np.median(saturation[inner > 0])) if inner.any() else 255.0


def _shape_is_paper(quad: Corners, views: Views, config: DetectConfig) -> bool:
    """Say whether the level across and along the sides is a page's, not glare's or print's."""
    h, w = views.grad.shape
    centre = quad.mean(axis=0)
    shapes = [
        _side_shape(quad[i], quad[(i + 1) % 4], centre, views.flat)
        for i in range(4)
        if not _on_border(quad[i], quad[(i + 1) % 4], w, h)
    ]
    if sum(shape.jumps for shape in shapes) > config.max_jumps:
        # Desk print along the sides (a check at each jump), not paper lit unevenly.
        return False
    if any(shape.swings > config.max_swings for shape in shapes):
        # A side with a pattern just inside it runs through desk print (a gingham's
        # checks around the page), not along the page's edge.
        return False
    # Every side a ramp, not a step: a glare spot or a bright patch of desk.
    return not shapes or min(shape.ramp for shape in shapes) <= config.max_ramp


def _inner_outlines(quad: Corners, views: Views, config: DetectConfig) -> Iterator[Corners]:
    """Yield the outline with each jumping side moved inward onto the strongest edge there."""
    h, w = views.grad.shape
    centre = quad.mean(axis=0)
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        if _on_border(a, b, w, h) or _side_shape(a, b, centre, views.flat).jumps == 0:
            continue
        inner = _inner_side(quad, i, views.grad, config)
        if inner is not None:
            yield inner


def _inner_side(quad: Corners, i: int, grad: Image, config: DetectConfig) -> Corners | None:
    """Return the quadrilateral with side i moved inward onto the best-supported edge line."""
    a, b = quad[i], quad[(i + 1) % 4]
    # The side's ends slide inward along the neighbouring sides, each end on its own, so
    # the new side may turn a little against the old one.
    to_a, to_b = quad[i - 1] - a, quad[(i + 2) % 4] - b
    reach = 0.5 * min(np.linalg.norm(to_a), np.linalg.norm(to_b))
    to_a, to_b = to_a / np.linalg.norm(to_a), to_b / np.linalg.norm(to_b)
    # Start past the old edge's own blur.
    steps = np.arange(INNER_FIRST_STEP, reach, 1.0)
    sa, sb = (m.ravel() for m in np.meshgrid(steps, steps, indexing="ij"))
    turn = np.abs(sa - sb) <= INNER_MAX_TURN * np.linalg.norm(b - a)
    ends_a = a + sa[turn, None] * to_a
    ends_b = b + sb[turn, None] * to_b
    if not len(ends_a):
        return None
    t = np.linspace(0.1, 0.9, 40)[None, :, None]
    pts = ends_a[:, None, :] + t * (ends_b - ends_a)[:, None, :]
    level = _sample(grad, pts.reshape(-1, 2)).reshape(len(ends_a), -1)
    # The most complete edge; among equally complete ones, the strongest.
    support = (level > 0.1).mean(axis=1) + 0.01 * level.mean(axis=1)
    best = int(support.argmax())
    if support[best] < config.min_edge_support:
        return None
    moved = quad.copy()
    moved[i], moved[(i + 1) % 4] = ends_a[best], ends_b[best]
    return moved


# An inner side starts this many pixels (of the small copy) inside the old one, and its
# ends may differ in how far they moved by at most this share of its length.
INNER_FIRST_STEP = 5.0
INNER_MAX_TURN = 0.15


def _score(quad: Corners, views: Views, config: DetectConfig) -> float | None:
    """Return a candidate's score (bigger is better), or None when it cannot be a page."""
    h, w = views.grad.shape
    if not _plausible(quad, views.grad.shape, config):
        return None
    area = signed_area(quad)
    sides, on_border = _sides(quad, views.grad, views.flat)
    if on_border > 2 or (on_border == 2 and _opposite_sides_on_border(quad, w, h)):
        # A page cut on two opposite sides would be wider than the frame: desk texture.
        return None
    if not all(_side_is_edge(side, config, strong=on_border > 0) for side in sides):
        # A page cut by the frame shows fewer sides, so each must be unmistakable.
        return None
    if _saturation(quad, views.saturation) > config.max_saturation:
        return None
    texture = _texture(quad, views.flat_edges)
    if texture > 0.6:
        return None
    support = min(side.support for side in sides)
    step = min(1.0, min(side.step for side in sides) / 40)
    share = area / (h * w)
    return float(support * (1 - texture) * (share**0.25) * step**0.5 * (1 - 0.15 * on_border))


def page_cut_by_frame(image: Image, config: DetectConfig = DEFAULT) -> bool:
    """Say whether a page lies partly outside the frame: pale, smooth, edged, on its edge."""
    scale = config.work_side / max(image.shape[:2])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    views = Views.of(small)
    min_area = config.min_area_share * gray.shape[0] * gray.shape[1]
    for mask in _masks(small, gray):
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            if cv2.contourArea(contour) >= min_area and _is_cut_page(contour, views, config):
                return True
    return False


def _is_cut_page(contour: np.ndarray, views: Views, config: DetectConfig) -> bool:
    """Say whether an outline is a page whose missing part lies past the frame's edge."""
    hull = cv2.convexHull(contour)
    perimeter = cv2.arcLength(hull, True)
    # A coarse outline may cut across the page near the frame's corner: try a finer one too.
    for eps in (0.02, 0.01):
        poly = cv2.approxPolyDP(hull, eps * perimeter, True).reshape(-1, 2)
        if 4 <= len(poly) <= 8 and _cut_polygon_is_page(poly.astype(np.float64), views, config):
            return True
    return False


def _cut_polygon_is_page(poly: np.ndarray, views: Views, config: DetectConfig) -> bool:
    """Say whether a convex polygon on the frame's edge has paper edges, pale and smooth inside."""
    h, w = views.grad.shape
    # Less than this of a page is no use to the booth either way (the too_small gate).
    if abs(signed_area(poly)) < CUT_MIN_AREA_SHARE * h * w:
        return False
    centre = poly.mean(axis=0)
    shortest = 0.03 * max(h, w)
    n = len(poly)
    # Each side: None where the frame cuts the page, else whether it is long enough to judge.
    long_side: list[bool | None] = []
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        if _at_border(a, w, h) and _at_border(b, w, h):
            # The frame cuts the page here (along an edge, or across a frame corner).
            long_side.append(None)
        elif np.linalg.norm(b - a) < shortest:
            long_side.append(False)
        elif _side_is_edge(_side_evidence(a, b, centre, views.grad, views.flat), config, True):
            # What the frame shows of a cut page must be unmistakably paper edge.
            long_side.append(True)
        else:
            return False
    if None not in long_side or long_side.count(True) < 2:
        return False
    for i in range(n):
        # A visible corner between two judged sides is a page corner: near square in view.
        if long_side[i - 1] and long_side[i]:
            angle = _angle(poly[i - 1], poly[i], poly[(i + 1) % n])
            if not config.min_angle_deg <= angle <= 180 - config.min_angle_deg:
                return False
    if _saturation(poly, views.saturation) > config.max_saturation:
        return False
    if _texture(poly, views.flat_edges) > 0.6:
        return False
    # Paper is the palest thing on the desk; a darker patch is shade or grain.
    inside: Image = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(inside, np.rint(poly).astype(np.int32), 255)
    gray = cv2.cvtColor(views.flat, cv2.COLOR_BGR2GRAY)
    return bool(cv2.mean(gray, inside)[0] >= cv2.mean(gray, cv2.bitwise_not(inside))[0])


def _angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """Return the angle at b of the path a-b-c, in degrees."""
    u, v = a - b, c - b
    cos = np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-9)
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def _at_border(point: np.ndarray, w: int, h: int) -> bool:
    """Say whether a point lies on the frame's edge."""
    tol = 0.02 * max(w, h)
    x, y = point
    return bool(x < tol or y < tol or x > w - 1 - tol or y > h - 1 - tol)
