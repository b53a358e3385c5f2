"""A still, start to finish: detect, rectify, enhance, judge."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .detect import DEFAULT, DetectConfig, detect_document, page_cut_by_frame
from .enhance import enhance
from .geometry import Corners
from .quality import DEFAULT_GATES, Quality, QualityCode, QualityConfig, assess
from .rectify import rectify

Image = np.ndarray


@dataclass(frozen=True)
class Still:
    """A processed still: where the page was, the corrected page, and its quality."""

    corners: Corners | None
    page: Image | None
    quality: Quality


def process(
    frame: Image,
    black_and_white: bool = False,
    detect_config: DetectConfig = DEFAULT,
    quality_config: QualityConfig = DEFAULT_GATES,
) -> Still:
    """Detect, rectify, enhance and judge the document in a full-resolution frame."""
    corners = detect_document(frame, detect_config)
    if corners is None:
        if page_cut_by_frame(frame, detect_config):
            # The page is there but its outline runs off the frame (five sides, say).
            return Still(None, None, Quality(failed=(QualityCode.NOT_IN_VIEW,)))
        return Still(None, None, assess(frame.shape, None, None, quality_config))
    flat = rectify(frame, corners)
    quality = assess(frame.shape, corners, flat, quality_config)
    return Still(corners, enhance(flat, black_and_white), quality)
