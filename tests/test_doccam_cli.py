"""``etapiste doccam detect`` and ``rectify`` on image files."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from document_camera.synth import PageKind, SceneSpec, make_scene
from etapiste.cli import main

SIZE = (1280, 720)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Write a frame with a page, one of an empty desk, and a file that is no image."""
    folder = tmp_path_factory.mktemp("doccam")
    page = make_scene(3, SIZE, SceneSpec(kind=PageKind.A4, glare=False, blur_sigma=0.0))
    empty = make_scene(4, SIZE, SceneSpec(document=False))
    paths = {"page": folder / "page.png", "empty": folder / "empty.jpg", "bad": folder / "bad.jpg"}
    cv2.imwrite(str(paths["page"]), page.image)
    cv2.imwrite(str(paths["empty"]), empty.image)
    paths["bad"].write_text("not an image")
    return paths


def test_detect_json_gives_corners_quality_and_time(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doccam", "detect", str(images["page"]), str(images["empty"]), "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert [r["image"] for r in reports] == [str(images["page"]), str(images["empty"])]
    found, empty = reports
    assert len(found["corners"]) == 4 and all(len(p) == 2 for p in found["corners"])
    assert found["quality"]["failed"] == []
    assert set(found["quality"]) == {"sharpness", "glare_share", "area_share", "edge_gap", "failed"}
    assert found["time_ms"] > 0
    assert empty["corners"] is None
    assert empty["quality"]["failed"] == ["no_document"]


def test_detect_reports_an_unreadable_file_and_exits_2(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doccam", "detect", str(images["bad"]), str(images["page"]), "--json"]) == 2
    out = capsys.readouterr()
    assert len(json.loads(out.out)) == 1
    assert "cannot read an image" in out.err and "bad.jpg" in out.err


@pytest.mark.parametrize("bw", [False, True])
def test_rectify_writes_the_corrected_page(
    images: dict[str, Path], tmp_path: Path, bw: bool
) -> None:
    out = tmp_path / "page.png"
    assert (
        main(["doccam", "rectify", str(images["page"]), "-o", str(out), *(["--bw"] if bw else [])])
        == 0
    )
    page = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert page is not None
    height, width = page.shape[:2]
    assert height / width == pytest.approx(2**0.5, rel=0.01)
    assert (page.ndim == 2) == bw


def test_rectify_without_a_document_exits_2_with_a_clear_message(
    images: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "page.png"
    assert main(["doccam", "rectify", str(images["empty"]), "-o", str(out)]) == 2
    assert "no document found" in capsys.readouterr().err
    assert not out.exists()
    assert main(["doccam", "rectify", str(tmp_path / "missing.jpg"), "-o", str(out)]) == 2
    assert "cannot read an image" in capsys.readouterr().err
