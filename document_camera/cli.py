"""The ``etapiste doccam`` command: find and straighten documents in image files."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .detect import detect_document
from .enhance import enhance
from .quality import assess
from .rectify import rectify
from .sources import CaptureSettings

NO_DOCUMENT_EXIT = 2
PROBE_FAILED_EXIT = 3


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``doccam`` command with its ``detect`` and ``rectify`` subcommands."""
    doccam = commands.add_parser("doccam", help="find and straighten documents in images")
    sub = doccam.add_subparsers(dest="doccam_command", required=True)
    detect = sub.add_parser("detect", help="print each image's document corners and quality")
    detect.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    detect.add_argument("--json", action="store_true", help="one JSON array on stdout")
    detect.set_defaults(func=_detect)
    rect = sub.add_parser("rectify", help="write the document as a flat, upright page")
    rect.add_argument("image", type=Path, metavar="IMAGE")
    rect.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")
    rect.add_argument("--bw", action="store_true", help="black and white, for faint print")
    rect.set_defaults(func=_rectify)
    sample = sub.add_parser("sample", help="write a generated page on a desk (a fake camera frame)")
    sample.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")
    sample.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT (1920x1080)")
    sample.add_argument("--seed", type=int, default=7)
    sample.set_defaults(func=_sample)
    check = sub.add_parser(
        "probe", help="open a document camera for a few seconds and say what it gives"
    )
    check.add_argument("device", nargs="?", default=None, help="/dev/videoN, a by-id link or N")
    check.add_argument("--width", type=int, default=0, help="ask for this size (0: the largest)")
    check.add_argument("--height", type=int, default=0)
    check.add_argument("--fake", type=Path, default=None, help="an image, folder or video")
    check.add_argument("--seconds", type=float, default=3.0)
    check.add_argument("--json", action="store_true", help="one JSON object on stdout")
    check.set_defaults(func=_probe)


class UnreadableImageError(OSError):
    """The file is missing or is not an image OpenCV can decode."""


def read_image(path: Path) -> np.ndarray:
    """Return the image at path as BGR, or raise UnreadableImageError."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise UnreadableImageError(f"cannot read an image from {str(path)!r}")
    return image


def detect_report(path: Path) -> dict[str, Any]:
    """Return one image's detect report: corners (or None), quality and time taken."""
    image = read_image(path)
    start = time.perf_counter()
    corners = detect_document(image)
    page = None if corners is None else rectify(image, corners)
    quality = assess(image.shape, corners, page)
    elapsed = (time.perf_counter() - start) * 1000
    return {
        "image": str(path),
        "corners": None if corners is None else np.round(corners, 1).tolist(),
        "quality": quality.to_json(),
        "time_ms": round(elapsed, 1),
    }


def _detect(args: argparse.Namespace) -> int:
    """Print every image's corners and quality; exit 2 if a file cannot be read."""
    reports = []
    status = 0
    for path in args.images:
        try:
            reports.append(detect_report(path))
        except UnreadableImageError as exc:
            print(f"etapiste doccam detect: {exc}", file=sys.stderr)
            status = NO_DOCUMENT_EXIT
    if args.json:
        print(json.dumps(reports))
    else:
        for report in reports:
            failed = ", ".join(report["quality"]["failed"]) or "good"
            print(f"{report['image']}: {report['corners']} ({failed}, {report['time_ms']} ms)")
    return status


def _rectify(args: argparse.Namespace) -> int:
    """Write the corrected page; exit 2 when there is no document or no readable image."""
    try:
        image = read_image(args.image)
    except UnreadableImageError as exc:
        print(f"etapiste doccam rectify: {exc}", file=sys.stderr)
        return NO_DOCUMENT_EXIT
    corners = detect_document(image)
    if corners is None:
        print(f"etapiste doccam rectify: no document found in {str(args.image)!r}", file=sys.stderr)
        return NO_DOCUMENT_EXIT
    page = enhance(rectify(image, corners), black_and_white=args.bw)
    if not cv2.imwrite(str(args.output), page):
        print(f"etapiste doccam rectify: cannot write {str(args.output)!r}", file=sys.stderr)
        return NO_DOCUMENT_EXIT
    return 0


def _sample(args: argparse.Namespace) -> int:
    """Write a generated frame: a page of text lying on a desk, as a document camera sees it."""
    from .synth import sample_frame

    try:
        width, height = (int(n) for n in args.size.lower().split("x"))
    except ValueError:
        print(
            f"etapiste doccam sample: --size must be WIDTHxHEIGHT, not {args.size!r}",
            file=sys.stderr,
        )
        return 2
    if not (320 <= width <= 8192 and 240 <= height <= 8192):
        print(
            "etapiste doccam sample: --size must be within 320x240 and 8192x8192", file=sys.stderr
        )
        return 2
    scene = sample_frame((width, height), seed=args.seed)
    if not cv2.imwrite(str(args.output), scene.image):
        print(f"etapiste doccam sample: cannot write {str(args.output)!r}", file=sys.stderr)
        return 2
    return 0


def _probe_settings(args: argparse.Namespace) -> CaptureSettings:
    """The settings to probe: the device (or fake) and size given."""
    device: int | str = 0
    if args.device is not None:
        device = int(args.device) if args.device.isdigit() else args.device
    return CaptureSettings(device=device, width=args.width, height=args.height, fake=args.fake)


def _probe(args: argparse.Namespace) -> int:
    """Print what the camera gave; exit 3 when it gave no frames (the code says why)."""
    from .probe import run_probe

    if args.device is None and args.fake is None:
        print("etapiste doccam probe: give a DEVICE or --fake", file=sys.stderr)
        return 2
    if not 0 < args.seconds <= 60:
        print("etapiste doccam probe: --seconds must be within 0 and 60", file=sys.stderr)
        return 2
    if (args.width == 0) != (args.height == 0) or min(args.width, args.height) < 0:
        print("etapiste doccam probe: give --width and --height together", file=sys.stderr)
        return 2
    settings = _probe_settings(args)
    report = run_probe(settings, args.seconds)
    if args.json:
        print(json.dumps(report))
    elif report["frames"]:
        source = report.get("source", {})
        refused = ", ".join(source.get("refused", [])) or "none"
        print(
            f"{source.get('description', settings.device)}: {report['frame_size'][0]}x"
            f"{report['frame_size'][1]}, {report['measured_fps']} fps measured "
            f"({report['frames']} frames); settings the driver refused: {refused}"
        )
    else:
        print(f"{report['code']}: {report['message']}", file=sys.stderr)
    return 0 if report["frames"] else PROBE_FAILED_EXIT
