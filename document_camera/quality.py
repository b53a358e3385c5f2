"""Quality gates of a still, with stable codes the booth turns into plain words."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import cv2
import numpy as np

from .geometry import Corners, signed_area

Image = np.ndarray

# Figures are measured on the page scaled to this long side, so they do not depend on
# the camera's resolution or the paper's size in the frame.
MEASURE_SIDE = 1000


class QualityCode(StrEnum):
    """Why a still is not good enough; the booth maps each code to a sentence."""

    NO_DOCUMENT = "no_document"
    BLUR = "blur"
    GLARE = "glare"
    NOT_IN_VIEW = "not_in_view"
    TOO_SMALL = "too_small"


@dataclass(frozen=True)
class QualityConfig:
    """The gates' thresholds."""

    min_sharpness: float = 60.0
    max_glare_share: float = 0.01
    edge_margin: float = 0.01
    min_area_share: float = 0.03


@dataclass(frozen=True)
class Quality:
    """A still's quality figures and the gates it failed (empty when good)."""

    sharpness: float | None = None
    glare_share: float | None = None
    area_share: float | None = None
    edge_gap: float | None = None
    failed: tuple[QualityCode, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """Say whether the still passed every gate."""
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        """Return the figures and failed codes as plain JSON values."""
        data = asdict(self)
        data["failed"] = [str(code) for code in self.failed]
        for key in ("sharpness", "glare_share", "area_share", "edge_gap"):
            if data[key] is not None:
                data[key] = round(data[key], 4)
        return data


DEFAULT_GATES = QualityConfig()
NO_DOCUMENT = Quality(failed=(QualityCode.NO_DOCUMENT,))


def _measure_gray(page: Image) -> Image:
    """Return the page in gray at the measuring size."""
    gray = page if page.ndim == 2 else cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    scale = MEASURE_SIDE / max(gray.shape[:2])
    if scale < 1:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return gray


def sharpness(page: Image) -> float:
    """Return the variance of the Laplacian of the page: low means blurred."""
    return float(cv2.Laplacian(_measure_gray(page), cv2.CV_32F).var())


def glare_share(page: Image) -> float:
    """Return the share of the page that is blown out to white (specular glare)."""
    gray = cv2.medianBlur(_measure_gray(page), 3)
    return float(np.count_nonzero(gray >= 250)) / gray.size


def edge_gap(corners: Corners, frame_shape: tuple[int, ...]) -> float:
    """Return the nearest corner's distance to the frame's edge, as a share of its short side."""
    h, w = frame_shape[:2]
    x, y = corners[:, 0], corners[:, 1]
    gaps = np.concatenate([x, y, w - 1 - x, h - 1 - y])
    return float(gaps.min()) / min(h, w)


def assess(
    frame_shape: tuple[int, ...],
    corners: Corners | None,
    page: Image | None,
    config: QualityConfig = DEFAULT_GATES,
) -> Quality:
    """Return the quality of a still: the rectified page and where it lay in the frame."""
    if corners is None or page is None:
        return NO_DOCUMENT
    h, w = frame_shape[:2]
    figures = {
        "sharpness": sharpness(page),
        "glare_share": glare_share(page),
        "area_share": abs(signed_area(corners)) / (h * w),
        "edge_gap": edge_gap(corners, frame_shape),
    }
    failed = []
    if figures["sharpness"] < config.min_sharpness:
        failed.append(QualityCode.BLUR)
    if figures["glare_share"] > config.max_glare_share:
        failed.append(QualityCode.GLARE)
    if figures["edge_gap"] < config.edge_margin:
        failed.append(QualityCode.NOT_IN_VIEW)
    if figures["area_share"] < config.min_area_share:
        failed.append(QualityCode.TOO_SMALL)
    return Quality(failed=tuple(failed), **figures)
