"""Make a rectified page easy to read: even white, deep black, optional black and white."""

from __future__ import annotations

import cv2
import numpy as np

Image = np.ndarray

# The size the paper's illumination is estimated at: shading varies slowly across a page.
LIGHT_SIDE = 160
PAPER_WHITE = 245.0


def paper_white(page: Image) -> Image:
    """Return the page's local paper colour (print closed away), at the page's size."""
    scale = LIGHT_SIDE / max(page.shape[:2])
    small = cv2.resize(page, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    # Dilation takes each neighbourhood's brightest value: the paper around the print.
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    white = cv2.GaussianBlur(cv2.dilate(small, kernel), (0, 0), 3)
    white = np.maximum(white, 1)
    return cv2.resize(white, (page.shape[1], page.shape[0]), interpolation=cv2.INTER_LINEAR)


def black_point(gray: Image, percentile: float = 1.0) -> float:
    """Return the darkest print level (a low percentile of a sample of the page)."""
    step = max(1, int(np.sqrt(gray.size / 40000)))
    return float(np.percentile(gray[::step, ::step], percentile))


def enhance(page: Image, black_and_white: bool = False) -> Image:
    """Return the page with white balance, shading and contrast corrected (BGR, or gray if bw)."""
    # Dividing by the local paper colour balances white and removes shadows in one step.
    balanced = cv2.divide(page, paper_white(page), scale=PAPER_WHITE)
    gray = cv2.cvtColor(balanced, cv2.COLOR_BGR2GRAY)
    if black_and_white:
        block = max(15, (min(page.shape[:2]) // 40) | 1)
        return cv2.adaptiveThreshold(
            gray, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, block, 12
        )
    low = min(black_point(gray), PAPER_WHITE - 60)
    return cv2.LUT(balanced, contrast_lut(low, PAPER_WHITE))


def contrast_lut(low: float, high: float) -> Image:
    """Return the 256-entry table stretching [low, high] to [0, 255] with a gentle gamma."""
    x = np.clip((np.arange(256, dtype=np.float32) - low) / max(high - low, 1.0), 0, 1)
    return np.asarray(np.rint(255 * x**1.2), np.uint8)


def contrast(image: Image) -> float:
    """Return the RMS contrast of an image's gray levels (0-1)."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return float(gray.std() / 255.0)
