"""A booth camera's picture that costs VP8 well over 1 Mbit/s, for Chromium's fake camera.

Chromium's own fake camera (``--use-fake-device-for-media-stream``) draws a flat picture
that VP8 codes at 1280x720 in under 1 Mbit/s, so a 1 Mbit/s uplink never makes the encoder
step down. ``write_y4m`` writes a short clip for ``--use-file-for-fake-video-capture``
instead, as a fixed booth camera sees it: a wall with notices of small print behind a
person in a patterned sweater who sways and breathes, and a webcam's mild sensor noise.
Random noise per frame (tried before) was far harder, and made Chromium give up 720p even
without a cap; a slowly panning scene cost libvpx six times as much as this one at the
same quantizer.

Y4M (raw I420) rather than MJPEG: Chromium plays MJPEG files at a fixed 30 fps and a Y4M
file at the rate in its header, and need not decode it. Every motion is periodic in the
clip's length, so the loop has no seam. Made at test time, never committed: 100 frames
are 138 MB and take about 2 s.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

WIDTH, HEIGHT, FPS = 1280, 720, 25
SWAY_PX = 180.0  # how far the person sways, each way, over one loop
NOISE_SIGMA = 2.0  # the sensor's noise on the luma, in 8-bit levels

Image = npt.NDArray[np.uint8]


def _texture(rng: np.random.Generator, height: int, width: int) -> npt.NDArray[np.float32]:
    """Return a smooth colour texture with features of 20 to 64 pixels (about 0..255)."""
    out = np.zeros((height, width, 3), np.float32)
    for scale in (20, 64):
        small = rng.random((height // scale + 2, width // scale + 2, 3), dtype=np.float32)
        big = cv2.resize(small, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        out += 0.5 * big[:height, :width]
    return np.clip(out * 255, 0, 255)


def _notice_board(rng: np.random.Generator) -> Image:
    """Return the wall behind the person: notices of small print on faint plaster."""
    wall = 128 + (_texture(rng, HEIGHT, WIDTH) - 128) * 0.4
    scene = wall.astype(np.uint8)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz      "))
    for _ in range(14):
        w, h = int(rng.integers(180, 340)), int(rng.integers(140, 300))
        x, y = int(rng.integers(0, WIDTH - w)), int(rng.integers(0, HEIGHT - h))
        paper = tuple(int(c) for c in rng.integers(200, 256, 3))
        cv2.rectangle(scene, (x, y), (x + w, y + h), paper, thickness=-1)
        for line_y in range(y + 16, y + h - 6, 13):
            text = "".join(rng.choice(letters, size=w // 7))
            cv2.putText(
                scene,
                text,
                (x + 6, line_y),
                cv2.FONT_HERSHEY_PLAIN,
                0.8,
                (20, 20, 30),
                1,
                cv2.LINE_AA,
            )
    return scene


def _person(rng: np.random.Generator) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Return a head and shoulders in a striped sweater, and its soft-edged mask."""
    h, w = 560, 460
    shape = np.zeros((h, w), np.float32)
    cv2.ellipse(shape, (w // 2, 130), (85, 110), 0, 0, 360, 1.0, -1)  # head
    cv2.ellipse(shape, (w // 2, h), (225, 300), 0, 180, 360, 1.0, -1)  # shoulders
    mask = cv2.GaussianBlur(shape, (9, 9), 0).astype(np.float32)
    stripes = (np.arange(h)[:, None] // 5 % 2) * 60.0  # a knit's fine stripes
    sweater = _texture(rng, h, w) * np.array([0.5, 0.6, 1.0], np.float32) + stripes[..., None]
    sweater[:250] = np.array([140, 160, 205], np.float32) + _texture(rng, 250, w) * 0.15
    return np.clip(sweater, 0, 255).astype(np.float32), mask[..., None]


def frames(seconds: float = 4.0) -> list[Image]:
    """Return the clip's frames, 1280x720 BGR at 25 fps, looping without a seam."""
    rng = np.random.default_rng(8)  # the same clip every run
    scene = _notice_board(rng)
    person, alpha = _person(rng)
    h, w = alpha.shape[:2]
    count = round(seconds * FPS)
    out: list[Image] = []
    for i in range(count):
        phase = 2 * np.pi * i / count
        x = int(WIDTH / 2 - w / 2 + SWAY_PX * np.sin(phase))
        y = HEIGHT - h - int(5 * (1 - np.sin(3 * phase)))  # a breath's bob
        frame = scene.copy()
        behind = frame[y : y + h, x : x + w].astype(np.float32)
        frame[y : y + h, x : x + w] = (behind * (1 - alpha) + person * alpha).astype(np.uint8)
        out.append(frame)
    return out


def write_y4m(path: Path, seconds: float = 4.0) -> Path:
    """Write the clip with sensor noise as Y4M (I420) for Chromium to loop; return the path."""
    rng = np.random.default_rng(25)
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames(seconds):
            i420 = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420)
            noise = rng.normal(0, NOISE_SIGMA, (HEIGHT, WIDTH))
            i420[:HEIGHT] = np.clip(i420[:HEIGHT] + noise, 0, 255).astype(np.uint8)
            f.write(b"FRAME\n")
            f.write(i420.tobytes())
    return path
