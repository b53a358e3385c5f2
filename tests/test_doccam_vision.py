"""The document camera's vision stages on generated frames with known answers."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from document_camera.detect import detect_document
from document_camera.enhance import contrast, enhance
from document_camera.geometry import corner_error, order_corners, signed_area
from document_camera.pipeline import process
from document_camera.quality import QualityCode, assess
from document_camera.rectify import A4_RATIO, ID1_RATIO, page_size, rectify
from document_camera.synth import (
    MP_12,
    Background,
    PageKind,
    SceneSpec,
    make_scene,
    sample_frame,
    sample_page,
)

SIZE = (1280, 720)
CLEAN = {"glare": False, "shadow": False, "blur_sigma": 0.0, "noise_sigma": 2.0}


def clean_scene(seed: int, **spec: object) -> tuple[np.ndarray, np.ndarray]:
    """Return a frame without glare, shadow or blur, and its true corners."""
    scene = make_scene(seed, SIZE, SceneSpec(**{**CLEAN, **spec}))  # type: ignore[arg-type]
    assert scene.corners is not None
    return scene.image, scene.corners


@pytest.mark.parametrize("background", list(Background))
@pytest.mark.parametrize("kind", list(PageKind))
def test_detect_finds_the_page_on_every_background(background: Background, kind: PageKind) -> None:
    scene = make_scene(11, SIZE, SceneSpec(kind=kind, background=background))
    assert scene.corners is not None
    found = detect_document(scene.image)
    assert found is not None
    # One frame, with whatever blur and glare the seed drew: the aim (mean <= 1 %) is over
    # the benchmark's set; a single hard frame (a blurred card on a print) may reach 2 %.
    assert corner_error(found, scene.corners) < 2.0


@pytest.mark.parametrize("seed", range(3))
def test_detect_copes_with_blur_noise_glare_and_jpeg(seed: int) -> None:
    spec = SceneSpec(glare=True, shadow=True, blur_sigma=1.5, noise_sigma=6, jpeg_quality=60)
    scene = make_scene(200 + seed, SIZE, spec)
    assert scene.corners is not None
    found = detect_document(scene.image)
    assert found is not None and corner_error(found, scene.corners) < 1.0


@pytest.mark.parametrize("background", list(Background))
@pytest.mark.parametrize("seed", range(2))
def test_no_detection_on_an_empty_desk(background: Background, seed: int) -> None:
    scene = make_scene(300 + seed, SIZE, SceneSpec(document=False, background=background))
    assert detect_document(scene.image) is None


# Empty desks at the live look's size (1280x720) on which the detector once took a glare
# spot on cloth, wood or a tablecloth, or a patch of wood grain, for a page (seeds from
# 540-739, where it returned corners on 16 of 200 at abfaa78).
FALSE_PAGE_SEEDS = (545, 551, 559, 581, 613, 631, 644, 670)


@pytest.mark.parametrize("seed", FALSE_PAGE_SEEDS)
def test_no_page_on_an_empty_desk_at_live_size(seed: int) -> None:
    scene = make_scene(seed, SIZE, SceneSpec(document=False))
    assert detect_document(scene.image) is None


def test_detect_finds_a_page_whose_outline_a_cast_shadow_breaks() -> None:
    # White paper on a light dotted print, a shadow across it: no map outlines the whole
    # page, but two of its corners (two sides each) are seen and span it.
    scene = make_scene(100_009, MP_12)
    assert scene.corners is not None and scene.background is Background.TABLECLOTH
    found = detect_document(scene.image)
    assert found is not None and corner_error(found, scene.corners) < 0.5


def test_detect_takes_the_page_not_the_gingham_around_it() -> None:
    # A page on a gingham, where an outline along the checks around the page passes the
    # side tests with stronger steps than the page's own: the checks inside it give it away.
    scene = make_scene(2008)
    assert scene.corners is not None and scene.background is Background.TABLECLOTH
    found = detect_document(scene.image)
    assert found is not None and corner_error(found, scene.corners) < 0.5


def test_detect_takes_the_card_not_the_check_its_outline_merges_with() -> None:
    # A card on a light gingham under glare: every map runs its top side along a check
    # boundary above it. The level along that side's inner band jumps at the checks, so
    # the side is moved inward onto the card's own top edge. Its right side still runs
    # along a check (one jump is allowed), ~3 % of the diagonal off: within the bench's 5 %.
    scene = make_scene(46)
    assert scene.corners is not None and scene.background is Background.TABLECLOTH
    assert scene.kind is PageKind.ID_CARD
    found = detect_document(scene.image)
    assert found is not None and corner_error(found, scene.corners) < 5.0


# Empty tablecloths at live size on which a glare spot merged with light checks (or a
# block of checks) passed for a page at e29a7f9: its sides' inner bands jump at the checks.
CHECKED_FALSE_PAGES = (((1280, 720), 633), ((1920, 1080), 633), ((1920, 1080), 596))


@pytest.mark.parametrize(("size", "seed"), CHECKED_FALSE_PAGES)
def test_no_page_on_glare_merged_with_tablecloth_checks(size: tuple[int, int], seed: int) -> None:
    scene = make_scene(seed, size, SceneSpec(document=False))
    assert scene.background is Background.TABLECLOTH
    assert detect_document(scene.image) is None


@pytest.mark.parametrize("seed", [572, 633])
def test_detect_finds_a_card_with_one_jump_along_a_side_at_live_size(seed: int) -> None:
    # Cards on a tablecloth at 1280x720 whose photo, near a side, makes the level along
    # that side's inner band jump once: they were lost when no jump at all was allowed.
    scene = make_scene(seed, SIZE)
    assert scene.corners is not None and scene.kind is PageKind.ID_CARD
    found = detect_document(scene.image)
    assert found is not None and corner_error(found, scene.corners) < 2.0


def test_detect_works_on_a_4k_frame_at_full_resolution() -> None:
    scene = make_scene(5, spec=SceneSpec(kind=PageKind.A4))
    assert scene.corners is not None
    found = detect_document(scene.image)
    assert found is not None
    # Refinement at full resolution: well under a pixel per thousand of the diagonal.
    assert corner_error(found, scene.corners) < 0.2


@given(
    angle=st.floats(-180, 180),
    cx=st.floats(200, 800),
    cy=st.floats(200, 800),
    w=st.floats(20, 300),
    h=st.floats(20, 300),
    shift=st.integers(0, 3),
)
def test_corners_are_clockwise_from_top_left_for_any_rotation(
    angle: float, cx: float, cy: float, w: float, h: float, shift: int
) -> None:
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    rect = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2 @ np.array([[c, s], [-s, c]])
    points = np.roll(rect + [cx, cy], shift, axis=0)[::-1]
    ordered = order_corners(points)
    assert signed_area(ordered) > 0  # clockwise on screen (y down)
    assert np.argmin(ordered.sum(axis=1)) == 0 or np.isclose(
        ordered[0].sum(), ordered.sum(axis=1).min()
    )
    assert sorted(map(tuple, ordered.round(6))) == sorted(map(tuple, points.round(6)))


@pytest.mark.parametrize(
    ("kind", "ratio"), [(PageKind.A4, A4_RATIO), (PageKind.ID_CARD, ID1_RATIO)]
)
def test_rectify_gives_the_paper_its_true_shape(kind: PageKind, ratio: float) -> None:
    image, corners = clean_scene(21, kind=kind, rotation_deg=12.0)
    width, height = page_size(corners)
    assert max(width, height) / min(width, height) == pytest.approx(ratio, rel=0.01)
    assert (height > width) == (kind is PageKind.A4)
    page = rectify(image, corners)
    assert page.shape[:2] == (height, width)


def test_rectified_page_matches_the_ground_truth_page() -> None:
    scene = make_scene(31, SIZE, SceneSpec(kind=PageKind.A4, **CLEAN))  # type: ignore[arg-type]
    assert scene.corners is not None and scene.page is not None
    found = detect_document(scene.image)
    assert found is not None
    page = rectify(scene.image, found)
    truth = cv2.resize(scene.page, (page.shape[1], page.shape[0]), interpolation=cv2.INTER_AREA)
    a = cv2.GaussianBlur(cv2.cvtColor(page, cv2.COLOR_BGR2GRAY), (0, 0), 2).astype(float)
    b = cv2.GaussianBlur(cv2.cvtColor(truth, cv2.COLOR_BGR2GRAY), (0, 0), 2).astype(float)
    # Lighting scales the levels; the content must line up (normalised correlation).
    correlation = np.corrcoef(a.ravel(), b.ravel())[0, 1]
    assert correlation > 0.85


def test_enhance_raises_contrast_and_evens_out_a_shadow() -> None:
    scene = make_scene(41, SIZE, SceneSpec(kind=PageKind.A4, shadow=True, glare=False))
    assert scene.corners is not None
    flat = rectify(scene.image, scene.corners)
    better = enhance(flat)
    assert better.shape == flat.shape
    assert contrast(better) > contrast(flat)
    # The paper (the bright half) comes out near one even white.
    gray = cv2.cvtColor(better, cv2.COLOR_BGR2GRAY)
    paper = gray[gray > np.median(gray)]
    assert paper.mean() > 230


def test_black_and_white_mode_gives_a_two_level_page() -> None:
    image, corners = clean_scene(42, kind=PageKind.A4)
    bw = enhance(rectify(image, corners), black_and_white=True)
    assert bw.ndim == 2 and set(np.unique(bw)) <= {0, 255}
    assert 0.6 < (bw == 255).mean() < 0.99


def test_quality_of_a_good_still_passes_every_gate() -> None:
    image, corners = clean_scene(51, kind=PageKind.A4, page_fraction=0.8)
    quality = assess(image.shape, corners, rectify(image, corners))
    assert quality.ok, quality


def test_quality_flags_blur() -> None:
    scene = make_scene(51, SIZE, SceneSpec(kind=PageKind.A4, page_fraction=0.8, blur_sigma=4.0))
    assert scene.corners is not None
    quality = assess(scene.image.shape, scene.corners, rectify(scene.image, scene.corners))
    assert QualityCode.BLUR in quality.failed


def test_quality_flags_glare() -> None:
    spec = SceneSpec(kind=PageKind.A4, page_fraction=0.8, glare=True, blur_sigma=0.0)
    scene = make_scene(53, SIZE, spec)
    assert scene.corners is not None
    quality = assess(scene.image.shape, scene.corners, rectify(scene.image, scene.corners))
    assert quality.failed == (QualityCode.GLARE,)


def test_quality_flags_a_page_cut_by_the_frame_edge() -> None:
    image, corners = clean_scene(51, kind=PageKind.A4, page_fraction=0.8)
    right = int(corners[:, 0].max()) - 40
    cut = np.ascontiguousarray(image[:, :right])
    moved = corners.copy()
    moved[:, 0] = np.minimum(moved[:, 0], right - 1)
    quality = assess(cut.shape, moved, rectify(cut, moved))
    assert QualityCode.NOT_IN_VIEW in quality.failed


@pytest.mark.parametrize("background", list(Background))
def test_a_page_with_a_corner_outside_the_frame_is_not_in_view(background: Background) -> None:
    image, corners = clean_scene(53, kind=PageKind.A4, page_fraction=0.6, background=background)
    # Crop so that the bottom-right corner falls outside: the page shows five sides.
    x, y = corners[np.argmax(corners.sum(axis=1))]
    cut = np.ascontiguousarray(image[: int(y) - 40, : int(x) - 40])
    assert process(cut).quality.failed == (QualityCode.NOT_IN_VIEW,)


@pytest.mark.parametrize("background", list(Background))
def test_an_empty_desk_is_no_document_not_a_cut_page(background: Background) -> None:
    scene = make_scene(300, SIZE, SceneSpec(document=False, background=background))
    assert process(scene.image).quality.failed == (QualityCode.NO_DOCUMENT,)


def test_quality_flags_a_page_too_small_in_the_frame() -> None:
    image, corners = clean_scene(55, kind=PageKind.ID_CARD, page_fraction=0.15)
    quality = assess(image.shape, corners, rectify(image, corners))
    assert QualityCode.TOO_SMALL in quality.failed
    assert QualityCode.NOT_IN_VIEW not in quality.failed


def test_quality_without_a_document_says_so() -> None:
    quality = assess(SIZE[::-1], None, None)
    assert quality.failed == (QualityCode.NO_DOCUMENT,)
    assert quality.to_json()["failed"] == ["no_document"]


def test_generator_is_deterministic_and_the_sample_page_is_a4() -> None:
    a = make_scene(7, (640, 360))
    b = make_scene(7, (640, 360))
    assert np.array_equal(a.image, b.image)
    assert a.corners is not None and np.array_equal(a.corners, b.corners)
    page = sample_page()
    assert page.shape[0] / page.shape[1] == pytest.approx(A4_RATIO, rel=0.01)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_true_corners_are_ordered_and_inside_the_frame(seed: int) -> None:
    scene = make_scene(seed, (320, 180))
    assert scene.corners is not None
    assert np.array_equal(scene.corners, order_corners(scene.corners))
    assert (scene.corners >= 0).all()
    assert (scene.corners[:, 0] < 320).all() and (scene.corners[:, 1] < 180).all()


def test_the_demo_sample_frame_is_a_good_still() -> None:
    scene = sample_frame((1920, 1080))
    assert scene.corners is not None and scene.image.shape == (1080, 1920, 3)
    found = detect_document(scene.image)
    assert found is not None and corner_error(found, scene.corners) < 0.5
    quality = assess(scene.image.shape, found, rectify(scene.image, found))
    assert quality.ok, quality
