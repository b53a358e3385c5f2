"""etapiste doccam sample: the demo's fake camera frame, and its bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2

from document_camera.detect import detect_document

REPO = Path(__file__).resolve().parent.parent


def sample(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etapiste", "doccam", "sample", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_sample_writes_a_frame_with_a_findable_page(tmp_path: Path) -> None:
    out = tmp_path / "page.png"
    done = sample("-o", str(out), "--size", "1280x720")
    assert done.returncode == 0, done.stderr
    image = cv2.imread(str(out))
    assert image is not None and image.shape == (720, 1280, 3)
    assert detect_document(image) is not None


def test_sample_refuses_a_bad_size_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "page.png"
    for size in ("big", "10x10", "1280"):
        done = sample("-o", str(out), "--size", size)
        assert done.returncode == 2 and "--size" in done.stderr
    assert not out.exists()
